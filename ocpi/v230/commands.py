"""OCPI 2.3.0 Commands module objects (spec mod_commands): what changed from 2.2.1.

ReserveNow and StartSession carry a 2.3.0 Token. CommandType became an OpenEnum; it is only
ever a URL path segment, so the 2.2.1 enum is kept for the known commands. The other bodies,
CommandResponse and CommandResult are 2.2.1's.
"""

from __future__ import annotations

from pydantic import model_validator

from ocpi.v221.commands import (
    CancelReservation,
    CommandResponse,
    CommandResponseType,
    CommandResult,
    CommandResultType,
    CommandType,
    StopSession,
    UnlockConnector,
)
from ocpi.v221.types import URL, CiString36, DateTime, OcpiModel
from ocpi.v230.tokens import Token

__all__ = [
    "CancelReservation",
    "CommandResponse",
    "CommandResponseType",
    "CommandResult",
    "CommandResultType",
    "CommandType",
    "ReserveNow",
    "StartSession",
    "StopSession",
    "UnlockConnector",
]


class ReserveNow(OcpiModel):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: CiString36
    location_id: CiString36
    evse_uid: CiString36 | None = None
    authorization_reference: CiString36 | None = None


class StartSession(OcpiModel):
    response_url: URL
    token: Token
    location_id: CiString36
    evse_uid: CiString36 | None = None
    connector_id: CiString36 | None = None
    authorization_reference: CiString36 | None = None

    @model_validator(mode="after")
    def _connector_needs_evse(self) -> StartSession:
        # Spec mod_commands StartSession (unchanged): evse_uid is "Required when connector_id
        # is set".
        if self.connector_id is not None and self.evse_uid is None:
            raise ValueError("connector_id is given, so evse_uid is required")
        return self
