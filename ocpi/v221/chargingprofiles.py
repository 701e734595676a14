"""OCPI 2.2.1 ChargingProfiles module objects (spec mod_charging_profiles): smart charging."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ocpi.v221.types import URL, DateTime, Int, Number, OcpiModel

ChargingRate = Annotated[Number, Field(decimal_places=1)]
"""A rate in W or A: spec "Accepts at most one digit fraction (e.g. 8.1)"."""


class ChargingRateUnit(StrEnum):
    W = "W"
    A = "A"


class ChargingProfileResponseType(StrEnum):
    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TOO_OFTEN = "TOO_OFTEN"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class ChargingProfileResultType(StrEnum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


class ChargingProfilePeriod(OcpiModel):
    start_period: Int  # seconds from the start of the profile
    limit: ChargingRate


class ChargingProfile(OcpiModel):
    start_date_time: DateTime | None = None  # absent: relative to the start of charging
    duration: Int | None = None  # seconds; absent: the last period runs on
    charging_rate_unit: ChargingRateUnit
    min_charging_rate: ChargingRate | None = None
    charging_profile_period: list[ChargingProfilePeriod] | None = None


class ActiveChargingProfile(OcpiModel):
    start_date_time: DateTime
    charging_profile: ChargingProfile


class SetChargingProfile(OcpiModel):
    charging_profile: ChargingProfile
    response_url: URL


class ChargingProfileResponse(OcpiModel):
    result: ChargingProfileResponseType
    timeout: Int  # seconds the sender waits for the asynchronous result


class ActiveChargingProfileResult(OcpiModel):
    result: ChargingProfileResultType
    profile: ActiveChargingProfile | None = None  # present when result is ACCEPTED


class ChargingProfileResult(OcpiModel):
    result: ChargingProfileResultType


class ClearProfileResult(OcpiModel):
    result: ChargingProfileResultType
