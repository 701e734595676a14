"""OCPI 2.1.1 Sessions module objects (spec 2.1.1 mod_sessions): Session and SessionStatus.

Note the field names `start_datetime`/`end_datetime` (2.2.1: `start_date_time`/`end_date_time`).
"""

from __future__ import annotations

from enum import StrEnum

from ocpi.v211.cdrs import AuthMethod, ChargingPeriod
from ocpi.v211.locations import Location
from ocpi.v211.types import String36
from ocpi.v221.types import DateTime, Number, OcpiModel, String3, String255

__all__ = ["Session", "SessionStatus"]


class SessionStatus(StrEnum):
    """Spec 2.1.1 §4.1: no RESERVATION."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"


class Session(OcpiModel):
    id: String36
    start_datetime: DateTime
    end_datetime: DateTime | None = None
    kwh: Number
    auth_id: String36
    auth_method: AuthMethod
    location: Location  # "including only the relevant EVSE and connector"
    meter_id: String255 | None = None
    currency: String3
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Number | None = None  # excl. VAT; absent is "unknown", not "free"
    status: SessionStatus
    last_updated: DateTime
