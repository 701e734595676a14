"""OCPI 2.1.1 CDRs module objects (spec 2.1.1 mod_cdrs): CDR, ChargingPeriod, CdrDimension.

A 2.1.1 CDR embeds the whole Location (with only the EVSE and Connector used), names the
driver by `auth_id` only, and gives its costs as bare numbers excluding VAT.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ocpi.v211.locations import Location
from ocpi.v211.tariffs import Tariff
from ocpi.v211.types import String36
from ocpi.v221.types import CiString36, DateTime, Number, OcpiModel, String3, String255

__all__ = ["CDR", "AuthMethod", "CdrDimension", "CdrDimensionType", "ChargingPeriod"]


class AuthMethod(StrEnum):
    """Spec 2.1.1 §4.1: no COMMAND (2.2.1 added it for sessions started by a command)."""

    AUTH_REQUEST = "AUTH_REQUEST"
    WHITELIST = "WHITELIST"


class CdrDimensionType(StrEnum):
    """Spec 2.1.1 §4.3: FLAT exists only here; 2.2.1 added eight other types."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class CdrDimension(OcpiModel):
    type: CdrDimensionType
    volume: Number


class ChargingPeriod(OcpiModel):
    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Field(min_length=1)]


class CDR(OcpiModel):
    id: CiString36
    start_date_time: DateTime
    stop_date_time: DateTime
    auth_id: String36
    auth_method: AuthMethod
    location: Location
    meter_id: String255 | None = None
    currency: String3
    tariffs: list[Tariff] | None = None
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    total_cost: Number  # excl. VAT
    total_energy: Number  # kWh
    total_time: Number  # hours
    total_parking_time: Number | None = None  # hours
    remark: String255 | None = None
    last_updated: DateTime
