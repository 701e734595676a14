"""Database tables of the mock eMSP (SQLModel). Tables never leave the store as API models.

They live in a registry of their own (`EmspTable.metadata`), so a process running a hub and
members side by side never creates one service's tables in another's database. OCPI objects
are kept as JSON text exactly as received.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Column, Field, SQLModel

emsp_registry = registry()


class EmspTable(SQLModel, registry=emsp_registry):
    """Base of the eMSP's tables."""


class EmspStateRecord(EmspTable, table=True):
    """Small facts: the hub connection, the last complete pull."""

    __tablename__ = "emsp_state"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))


class ObjectRecord(EmspTable, table=True):
    """A Location, Tariff, Session (CPO-owned, keyed by the CPO's party) or one of our Tokens."""

    __tablename__ = "emsp_object"

    kind: str = Field(primary_key=True, max_length=16)
    country_code: str = Field(primary_key=True, max_length=2)
    party_id: str = Field(primary_key=True, max_length=3)
    id: str = Field(primary_key=True, max_length=64)
    """Object id; for tokens "{uid}|{type}" ((uid, type) is unique per eMSP)."""
    body: str = Field(sa_column=Column(Text, nullable=False))
    last_updated: datetime


class CdrRecord(EmspTable, table=True):
    """A received CDR: written with its invoice in one transaction, never twice."""

    __tablename__ = "emsp_cdr"

    country_code: str = Field(primary_key=True, max_length=2)
    party_id: str = Field(primary_key=True, max_length=3)
    id: str = Field(primary_key=True, max_length=39)
    body: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime


class InvoiceRecord(EmspTable, table=True):
    """The driver's invoice for one CDR (status INVOICED or REVIEW)."""

    __tablename__ = "emsp_invoice"
    __table_args__ = (UniqueConstraint("cdr_country_code", "cdr_party_id", "cdr_id"),)

    id: int | None = Field(default=None, primary_key=True)
    cdr_country_code: str = Field(max_length=2)
    cdr_party_id: str = Field(max_length=3)
    cdr_id: str = Field(max_length=39)
    driver_id: str = Field(default="", max_length=64, index=True)
    session_id: str = Field(default="", max_length=36)
    status: str = Field(max_length=16)
    body: str = Field(sa_column=Column(Text, nullable=False))
    """InvoiceDraft JSON: currency, total, expected, tariff, lines, reason."""
    created_at: datetime


class CommandRecord(EmspTable, table=True):
    """A command this eMSP sent and what became of it."""

    __tablename__ = "emsp_command"

    id: str = Field(primary_key=True, max_length=36)
    command: str = Field(max_length=24)
    driver_id: str = Field(max_length=64, index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    """The app's view: target, state, result, message, timestamps (JSON)."""
    state: str = Field(max_length=24)
    deadline: datetime | None = None


class ClientInfoRecord(EmspTable, table=True):
    """What the hub said about another party (spec mod_hub_client_info Receiver)."""

    __tablename__ = "emsp_client_info"

    country_code: str = Field(primary_key=True, max_length=2)
    party_id: str = Field(primary_key=True, max_length=3)
    role: str = Field(primary_key=True, max_length=8)
    body: str = Field(sa_column=Column(Text, nullable=False))
