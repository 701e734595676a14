"""OCPI 2.1.1 Locations module objects (spec 2.1.1 mod_locations): Location, EVSE, Connector.

Classes and enums that 2.1.1 and 2.2.1 define identically are imported from ocpi.v221; the ones
defined here differ from 2.2.1 in a field, a value list or a format rule (docs/versions.md).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from ocpi.v211.types import String36, String39, String48
from ocpi.v221.locations import (
    AdditionalGeoLocation,
    BusinessDetails,
    ConnectorFormat,
    EnergySource,
    EnergySourceCategory,
    EnvironmentalImpactCategory,
    ExceptionalPeriod,
    GeoLocation,
    Image,
    ImageCategory,
    ParkingRestriction,
    Status,
    StatusSchedule,
)
from ocpi.v221.types import (
    URL,
    DateTime,
    DisplayText,
    Int,
    Number,
    OcpiModel,
    StrictBool,
    String3,
    String4,
    String10,
    String16,
    String45,
    String64,
    String255,
)

__all__ = [
    "EVSE",
    "AdditionalGeoLocation",
    "BusinessDetails",
    "Capability",
    "Connector",
    "ConnectorFormat",
    "ConnectorType",
    "EnergyMix",
    "EnergySource",
    "EnergySourceCategory",
    "EnvironmentalImpact",
    "EnvironmentalImpactCategory",
    "ExceptionalPeriod",
    "Facility",
    "GeoLocation",
    "Hours",
    "Image",
    "ImageCategory",
    "Location",
    "LocationType",
    "ParkingRestriction",
    "PowerType",
    "RegularHours",
    "Status",
    "StatusSchedule",
]


# --- enums that differ from 2.2.1 ----------------------------------------------------------
class Capability(StrEnum):
    """Spec 2.1.1 §4.2: six of the thirteen 2.2.1 values."""

    CHARGING_PROFILE_CAPABLE = "CHARGING_PROFILE_CAPABLE"
    CREDIT_CARD_PAYABLE = "CREDIT_CARD_PAYABLE"
    REMOTE_START_STOP_CAPABLE = "REMOTE_START_STOP_CAPABLE"
    RESERVABLE = "RESERVABLE"
    RFID_READER = "RFID_READER"
    UNLOCK_CAPABLE = "UNLOCK_CAPABLE"


class ConnectorType(StrEnum):
    """Spec 2.1.1 §4.4: no DOMESTIC_M..O, CHAOJI, GBT, NEMA or PANTOGRAPH values."""

    CHADEMO = "CHADEMO"
    DOMESTIC_A = "DOMESTIC_A"
    DOMESTIC_B = "DOMESTIC_B"
    DOMESTIC_C = "DOMESTIC_C"
    DOMESTIC_D = "DOMESTIC_D"
    DOMESTIC_E = "DOMESTIC_E"
    DOMESTIC_F = "DOMESTIC_F"
    DOMESTIC_G = "DOMESTIC_G"
    DOMESTIC_H = "DOMESTIC_H"
    DOMESTIC_I = "DOMESTIC_I"
    DOMESTIC_J = "DOMESTIC_J"
    DOMESTIC_K = "DOMESTIC_K"
    DOMESTIC_L = "DOMESTIC_L"
    IEC_60309_2_single_16 = "IEC_60309_2_single_16"
    IEC_60309_2_three_16 = "IEC_60309_2_three_16"
    IEC_60309_2_three_32 = "IEC_60309_2_three_32"
    IEC_60309_2_three_64 = "IEC_60309_2_three_64"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    IEC_62196_T3A = "IEC_62196_T3A"
    IEC_62196_T3C = "IEC_62196_T3C"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


class Facility(StrEnum):
    """Spec 2.1.1 §4.11: no BIKE_SHARING, TRAM_STOP, METRO_STATION or PARKING_LOT."""

    HOTEL = "HOTEL"
    RESTAURANT = "RESTAURANT"
    CAFE = "CAFE"
    MALL = "MALL"
    SUPERMARKET = "SUPERMARKET"
    SPORT = "SPORT"
    RECREATION_AREA = "RECREATION_AREA"
    NATURE = "NATURE"
    MUSEUM = "MUSEUM"
    BUS_STOP = "BUS_STOP"
    TAXI_STAND = "TAXI_STAND"
    TRAIN_STATION = "TRAIN_STATION"
    AIRPORT = "AIRPORT"
    CARPOOL_PARKING = "CARPOOL_PARKING"
    FUEL_STATION = "FUEL_STATION"
    WIFI = "WIFI"


class LocationType(StrEnum):
    """Spec 2.1.1 §4.16 (2.2.1 replaced it by the optional ParkingType)."""

    ON_STREET = "ON_STREET"
    PARKING_GARAGE = "PARKING_GARAGE"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


class PowerType(StrEnum):
    """Spec 2.1.1 §4.18: no AC_2_PHASE or AC_2_PHASE_SPLIT."""

    AC_1_PHASE = "AC_1_PHASE"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


# --- helper classes -----------------------------------------------------------------------
# Spec 2.1.1 §4.12 gives exactly six decimals for coordinates (`-?[0-9]{1,2}\.[0-9]{6}`), yet
# every example in the 2.1.1 text has five; 2.2 widened the rule to 5-7 decimals, so 2.1.1
# coordinates are read with 2.2.1's GeoLocation (docs/versions.md).
# Spec 2.1.1 §4.19 regex `[0-2][0-9]:[0-5][0-9]` (2.2.1 stops the hour at 23).
LocalTime = Annotated[str, StringConstraints(max_length=5, pattern=r"^[0-2][0-9]:[0-5][0-9]$")]
Weekday = Annotated[int, Field(strict=True, ge=1, le=7)]


class RegularHours(OcpiModel):
    weekday: Weekday
    period_begin: LocalTime
    period_end: LocalTime


class Hours(OcpiModel):
    """Spec 2.1.1 §4.13: "Choice: one of two" of regular_hours and twentyfourseven.

    The spec's own example sends both (regular hours with `"twentyfourseven": false`), so what
    is refused is neither, or regular hours with twentyfourseven true.
    """

    regular_hours: list[RegularHours] | None = None
    twentyfourseven: StrictBool | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None

    @model_validator(mode="after")
    def _one_of_two(self) -> Hours:
        if self.twentyfourseven is None and self.regular_hours is None:
            raise ValueError("needs regular_hours or twentyfourseven (choice: one of two)")
        if self.twentyfourseven and self.regular_hours:
            raise ValueError("regular_hours and twentyfourseven true are two choices, not both")
        return self


class EnvironmentalImpact(OcpiModel):
    """Spec 2.1.1 §4.8: the category field is called `source` (2.2.1: `category`)."""

    source: EnvironmentalImpactCategory
    amount: Annotated[Number, Field(ge=0)]


class EnergyMix(OcpiModel):
    is_green_energy: StrictBool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


# --- the object tree ----------------------------------------------------------------------
class Connector(OcpiModel):
    id: String36
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    voltage: Int
    amperage: Int
    tariff_id: String36 | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class EVSE(OcpiModel):
    uid: String39
    evse_id: String48 | None = None
    status: Status
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[Capability] | None = None
    connectors: Annotated[list[Connector], Field(min_length=1)]
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[ParkingRestriction] | None = None
    images: list[Image] | None = None
    last_updated: DateTime


class Location(OcpiModel):
    id: String39
    type: LocationType
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10
    country: String3
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    evses: list[EVSE] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] | None = None
    time_zone: String255 | None = None
    opening_times: Hours | None = None
    charging_when_closed: StrictBool | None = None  # absent means true
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
