"""OCPI 2.1.1 Commands module objects (spec 2.1.1 mod_commands): command bodies and CommandResponse.

In 2.1.1 the CPO answers a command with a bare CommandResponseType and later POSTs a
CommandResponse (`result` only) to the response_url; 2.2.1 split these into CommandResponse
(with `timeout`) and CommandResult.
"""

from __future__ import annotations

from enum import StrEnum

from ocpi.v211.tokens import Token
from ocpi.v211.types import String36, String39
from ocpi.v221.types import URL, DateTime, Int, OcpiModel

__all__ = [
    "CommandResponse",
    "CommandResponseType",
    "CommandType",
    "ReserveNow",
    "StartSession",
    "StopSession",
    "UnlockConnector",
]


class CommandType(StrEnum):
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class CommandResponseType(StrEnum):
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResponse(OcpiModel):
    result: CommandResponseType


class ReserveNow(OcpiModel):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: Int  # 2.2.1: CiString(36)
    location_id: String39
    evse_uid: String39 | None = None


class StartSession(OcpiModel):
    response_url: URL
    token: Token
    location_id: String39
    evse_uid: String39 | None = None


class StopSession(OcpiModel):
    response_url: URL
    session_id: String36


class UnlockConnector(OcpiModel):
    response_url: URL
    location_id: String39
    evse_uid: String39
    connector_id: String36
