"""OCPI 2.2.1 Sessions module objects (spec mod_sessions): Session and ChargingPreferences."""

from __future__ import annotations

from enum import StrEnum

from ocpi.v221.cdrs import AuthMethod, CdrToken, ChargingPeriod
from ocpi.v221.types import (
    CiString2,
    CiString3,
    CiString36,
    DateTime,
    Number,
    OcpiModel,
    Price,
    StrictBool,
    String3,
    String255,
)


class SessionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"  # spec quirk: the prose calls this state "RESERVED"


class ProfileType(StrEnum):
    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class ChargingPreferencesResponse(StrEnum):
    ACCEPTED = "ACCEPTED"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
    NOT_POSSIBLE = "NOT_POSSIBLE"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"


class ChargingPreferences(OcpiModel):
    profile_type: ProfileType
    departure_time: DateTime | None = None
    energy_need: Number | None = None  # kWh
    discharge_allowed: StrictBool | None = None  # absent means false


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
    # Unlike a CDR's, a Session's periods may carry the session-only dimensions (CURRENT, POWER,
    # STATE_OF_CHARGE, ENERGY_IMPORT/EXPORT), so ChargingPeriod itself does not forbid them.
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None  # absent is "unknown", not "free"
    status: SessionStatus
    last_updated: DateTime
