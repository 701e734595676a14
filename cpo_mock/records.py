"""Database tables of the mock CPO (SQLModel). Tables never leave the store as API models.

They live in a registry of their own, so that a process running a hub and CPOs side by side
never creates one service's tables in the other's database. OCPI objects are kept as JSON
text exactly as the CPO serves them; simulation state as JSON too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Column, Field, SQLModel

cpo_registry = registry()


class CpoTable(SQLModel, registry=cpo_registry):
    """Base of the CPO's tables (their own MetaData: `CpoTable.metadata`)."""


class CpoStateRecord(CpoTable, table=True):
    """Small facts: the hub connection, the simulated time, counters."""

    __tablename__ = "cpo_state"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))


class LocationRecord(CpoTable, table=True):
    """One Location with its EVSEs (their live status included)."""

    __tablename__ = "cpo_location"

    id: str = Field(primary_key=True, max_length=36)
    seq: int = Field(index=True)
    """Creation order: the stable order of the paginated list."""
    body: str = Field(sa_column=Column(Text, nullable=False))
    last_updated: datetime


class UnpushedRecord(CpoTable, table=True):
    """A Location or Tariff changed (or published) and not yet acknowledged by the hub: written
    in the transaction of the change, removed (later, in batches) once the hub answered the
    broadcast that carried `version` or a later one. At start-up the CPO PUTs each object still
    listed, so a change it acknowledged is not lost when the process dies first."""

    __tablename__ = "cpo_unpushed"

    module: str = Field(primary_key=True, max_length=16)
    """"locations" or "tariffs"."""
    object_id: str = Field(primary_key=True, max_length=36)
    version: int
    """The CPO's push counter at the change (a later change has a larger one)."""


class TariffRecord(CpoTable, table=True):
    __tablename__ = "cpo_tariff"

    id: str = Field(primary_key=True, max_length=36)
    seq: int = Field(index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    last_updated: datetime


class TokenRecord(CpoTable, table=True):
    """A Token an eMSP pushed (spec mod_tokens Receiver interface)."""

    __tablename__ = "cpo_token"
    __table_args__ = (UniqueConstraint("country_code", "party_id", "uid", "type"),)

    id: int | None = Field(default=None, primary_key=True)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    uid: str = Field(max_length=36, index=True)
    type: str = Field(max_length=16)
    body: str = Field(sa_column=Column(Text, nullable=False))
    last_updated: datetime


class EvseRecord(CpoTable, table=True):
    """Simulation state of one EVSE: the car plugged in, a pending start, a reservation."""

    __tablename__ = "cpo_evse"

    location_id: str = Field(primary_key=True, max_length=36)
    evse_uid: str = Field(primary_key=True, max_length=36)
    sim: str = Field(sa_column=Column(Text, nullable=False))


class SessionRecord(CpoTable, table=True):
    """A Session as served on the Sender interface, and how far its simulation got."""

    __tablename__ = "cpo_session"
    __table_args__ = (Index("ix_cpo_session_updated", "last_updated"),)

    id: str = Field(primary_key=True, max_length=36)
    seq: int = Field(index=True)
    emsp: str = Field(max_length=8)
    status: str = Field(max_length=16)
    body: str = Field(sa_column=Column(Text, nullable=False))
    sim: str = Field(sa_column=Column(Text, nullable=False))
    last_updated: datetime


class CdrRecord(CpoTable, table=True):
    """A CDR and its delivery: pending (retried with backoff), delivered or rejected."""

    __tablename__ = "cpo_cdr"

    id: str = Field(primary_key=True, max_length=39)
    seq: int = Field(index=True)
    emsp: str = Field(max_length=8)
    body: str = Field(sa_column=Column(Text, nullable=False))
    last_updated: datetime
    delivery: str = Field(max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False))
    location_url: str = Field(default="", sa_column=Column(Text, nullable=False))


class CommandRecord(CpoTable, table=True):
    """A CommandResult still to be POSTed to the eMSP's response_url."""

    __tablename__ = "cpo_command"

    id: str = Field(primary_key=True, max_length=64)
    command: str = Field(max_length=24)
    response_url: str = Field(sa_column=Column(Text, nullable=False))
    requester: str = Field(default="", max_length=8)
    result: str = Field(sa_column=Column(Text, nullable=False))
    """The CommandResult JSON."""
    due_at: datetime
    state: str = Field(max_length=16)
    """"due", "sent", "failed" (the eMSP did not take it)."""
    note: str = Field(default="", sa_column=Column(Text, nullable=False))


class ClientInfoRecord(CpoTable, table=True):
    """What the hub said about another party (spec mod_hub_client_info Receiver)."""

    __tablename__ = "cpo_client_info"

    country_code: str = Field(primary_key=True, max_length=2)
    party_id: str = Field(primary_key=True, max_length=3)
    role: str = Field(primary_key=True, max_length=8)
    body: str = Field(sa_column=Column(Text, nullable=False))
    offline_since: datetime | None = None
    """When it stopped being CONNECTED (what it missed is pushed when it comes back)."""
