"""Database tables of the hub (SQLModel). Tables never leave the store as API models.

Names end in `Record` so that a table is never mistaken for a wire model. JSON payloads are
kept as text exactly as received, so the hub never rewrites a member's object.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel


class HubStateRecord(SQLModel, table=True):
    """Small key/value facts about the hub itself (e.g. its admin token)."""

    __tablename__ = "hub_state"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))


class PlatformRecord(SQLModel, table=True):
    """A member platform connected to the hub (one credentials token pair per platform)."""

    __tablename__ = "platform"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    versions_url: str = Field(max_length=255)
    version: str = Field(default="2.2.1", max_length=10)
    token_to_member: str = Field(max_length=64)
    """The member's token (B): what the hub sends when it calls the member."""
    token_from_member_hash: str = Field(index=True, unique=True, max_length=64)
    """SHA-256 of the hub's token (C): what the member sends when it calls the hub."""
    registered: bool = True
    created_at: datetime
    updated_at: datetime


class PartyRecord(SQLModel, table=True):
    """A role hosted by a platform, or a party that is only PLANNED (invited, not connected)."""

    __tablename__ = "party"
    __table_args__ = (UniqueConstraint("role", "country_code", "party_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int | None = Field(default=None, foreign_key="platform.id", index=True)
    role: str = Field(max_length=8)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    business_details: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=16)
    last_updated: datetime


class EndpointRecord(SQLModel, table=True):
    """One module endpoint a platform advertised in its version details."""

    __tablename__ = "endpoint"

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="platform.id", index=True)
    identifier: str = Field(max_length=36)
    role: str = Field(max_length=8)
    url: str = Field(max_length=255)


class InvitationRecord(SQLModel, table=True):
    """A one-time CREDENTIALS_TOKEN_A, optionally limited to certain parties."""

    __tablename__ = "invitation"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    allowed_parties: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    """JSON list of {"role", "country_code", "party_id"}; empty = any."""
    note: str = Field(default="", max_length=255)
    created_at: datetime
    used_at: datetime | None = None
    platform_id: int | None = Field(default=None, foreign_key="platform.id")


class ObjectRecord(SQLModel, table=True):
    """The hub's copy of an object: broadcast locations/tariffs/tokens, routed sessions/CDRs."""

    __tablename__ = "object_copy"
    __table_args__ = (
        UniqueConstraint("module", "country_code", "party_id", "object_id"),
        Index("ix_object_module_updated", "module", "last_updated"),
    )

    id: int | None = Field(default=None, primary_key=True)
    module: str = Field(max_length=16)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    object_id: str = Field(max_length=80)
    body: str = Field(sa_column=Column(Text, nullable=False))
    last_updated: datetime
    receiver: str = Field(default="", max_length=8)
    """For sessions and CDRs: the party they were routed to ("NL/EMA")."""
    deleted: bool = False


class CallbackRecord(SQLModel, table=True):
    """A URL the hub handed out in place of a member's own (response_url, CDR Location, Link)."""

    __tablename__ = "callback"

    uid: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=24)
    original_url: str = Field(sa_column=Column(Text, nullable=False))
    target_platform_id: int = Field(foreign_key="platform.id")
    """The platform that owns `original_url` (the hub forwards calls there)."""
    target_party: str = Field(max_length=8)
    caller_party: str = Field(max_length=8)
    """The party expected to call the hub's URL (it must be the caller)."""
    created_at: datetime


class MessageRecord(SQLModel, table=True):
    """One message the hub saw: routed, answered by itself, or refused."""

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_time", "timestamp"),)

    id: int | None = Field(default=None, primary_key=True)
    timestamp: datetime
    correlation_id: str = Field(default="", index=True, max_length=100)
    request_id: str = Field(default="", max_length=100)
    """X-Request-ID of the hop described (incoming for the requester's hop)."""
    parent_request_id: str = Field(default="", max_length=100)
    """For a forwarded hop: the X-Request-ID of the request that caused it."""
    hop: str = Field(max_length=16)
    """"inbound" (member -> hub) or "outbound" (hub -> member)."""
    from_party: str = Field(default="", index=True, max_length=8)
    to_party: str = Field(default="", index=True, max_length=8)
    platform_id: int | None = None
    module: str = Field(default="", index=True, max_length=24)
    method: str = Field(max_length=8)
    path: str = Field(sa_column=Column(Text, nullable=False))
    ocpi_status: int | None = None
    http_status: int | None = None
    latency_ms: float | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False))


class MessageSubjectRecord(SQLModel, table=True):
    """What one log line of a charging session's message was about, and its bodies.

    Written for the modules commands, sessions and cdrs only: each of a session's messages
    travels under an X-Correlation-ID of its own, so these keys are what joins them
    (`GET /admin/messages?session=`). A table of its own, not columns of `message`, so that a
    database written before it existed opens unchanged (tables are created, never altered).
    """

    __tablename__ = "message_subject"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, max_length=100)
    """The log line's `request_id` (with `hop`, which line this is about)."""
    hop: str = Field(max_length=16)
    session_id: str = Field(default="", index=True, max_length=36)
    authorization_reference: str = Field(default="", index=True, max_length=36)
    command: str = Field(default="", index=True, max_length=64)
    """The hub's callback id of a command: the command and its CommandResult share it."""
    request_body: str = Field(default="", sa_column=Column(Text, nullable=False))
    response_body: str = Field(default="", sa_column=Column(Text, nullable=False))


class OutboxRecord(SQLModel, table=True):
    """One accepted broadcast still to be delivered to one receiver platform.

    Written in the same transaction as the hub's copy, before the hub answers the sender;
    deleted when the receiver has answered (or refused it, or delivery was given up). The
    delivery workers read a platform's rows in `id` order (hub/deliveries.py)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_platform", "platform_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="platform.id")
    """The receiver platform."""
    party: str = Field(max_length=8)
    """The receiving party ("NL/EMA"): the TO of the push."""
    module: str = Field(max_length=24)
    method: str = Field(max_length=8)
    path: str = Field(sa_column=Column(Text, nullable=False))
    """Below the receiver's module endpoint: "/NL/CPO/LOC1/EVSE1" plus "?query" if any."""
    object_key: str = Field(sa_column=Column(Text, nullable=False))
    """Updates with the same key are delivered one after the other, in id order."""
    body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    correlation_id: str = Field(default="", max_length=100)
    request_id: str = Field(default="", max_length=100)
    """X-Request-ID of the sender's request (the outbound hops' parent)."""
    created_at: datetime
