"""OCPI 2.3.0 Sessions module objects (spec mod_sessions): the Session with 2.3.0 types.

The module text is unchanged from 2.2.1; Session is redefined because its `total_cost` is a
2.3.0 Price and its `cdr_token` a 2.3.0 CdrToken. ChargingPreferences are 2.2.1's.
"""

from __future__ import annotations

from ocpi.v221.cdrs import AuthMethod, ChargingPeriod
from ocpi.v221.sessions import (
    ChargingPreferences,
    ChargingPreferencesResponse,
    ProfileType,
    SessionStatus,
)
from ocpi.v221.types import (
    CiString2,
    CiString3,
    CiString36,
    DateTime,
    Number,
    OcpiModel,
    String3,
    String255,
)
from ocpi.v230.cdrs import CdrToken
from ocpi.v230.types import Price

__all__ = [
    "ChargingPreferences",
    "ChargingPreferencesResponse",
    "ProfileType",
    "Session",
    "SessionStatus",
]


class Session(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: Number
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString36 | None = None
    location_id: CiString36
    evse_uid: CiString36  # "#NA" allowed for a reservation without an EVSE
    connector_id: CiString36  # "#NA" likewise
    meter_id: String255 | None = None
    currency: String3
    charging_periods: list[ChargingPeriod] | None = None  # may hold session-only dimensions
    total_cost: Price | None = None  # absent is "unknown", not "free"
    status: SessionStatus
    last_updated: DateTime
