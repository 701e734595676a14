"""OCPI 2.3.0 Locations module objects (spec mod_locations): what changed from 2.2.1.

New: Parking places (Location.parking_places, EVSE.parking), Location.help_phone,
EVSE.accepted_service_providers, Connector.capabilities, and several enums became OpenEnums
(unknown values are kept as strings). Unchanged classes and enums are 2.2.1's, re-exported.
Length limits follow 2.2.1's errata as in `ocpi.v221.locations` (the 2.3.0 text still has the
d2 lengths, `address` 45 and `state` 20).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from ocpi.v221.locations import (
    AdditionalGeoLocation,
    Capability,
    ConnectorFormat,
    EnergySource,
    EnergySourceCategory,
    EnvironmentalImpactCategory,
    ExceptionalPeriod,
    Facility,
    GeoLocation,
    Hours,
    ImageCategory,
    ParkingType,
    PowerType,
    RegularHours,
    Status,
    StatusSchedule,
)
from ocpi.v221.types import (
    CI_STRING_PATTERN,
    URL,
    CiString2,
    CiString3,
    CiString4,
    CiString25,
    CiString36,
    CiString48,
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
    String100,
    String255,
)
from ocpi.v230.types import OpenEnum, String12, String50

__all__ = [
    "EVSE",
    "AdditionalGeoLocation",
    "BusinessDetails",
    "Capability",
    "Connector",
    "ConnectorCapability",
    "ConnectorFormat",
    "ConnectorType",
    "EVSEParking",
    "EVSEPosition",
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
    "Parking",
    "ParkingDirection",
    "ParkingRestriction",
    "ParkingType",
    "PowerType",
    "PublishTokenType",
    "RegularHours",
    "Status",
    "StatusSchedule",
    "TokenType",
    "VehicleType",
]

# --- enums that changed -------------------------------------------------------------------


class ConnectorType(StrEnum):
    """OpenEnum; 2.3.0 adds MCS and SAE_J3400 to 2.2.1's values."""

    CHADEMO = "CHADEMO"
    CHAOJI = "CHAOJI"
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
    DOMESTIC_M = "DOMESTIC_M"
    DOMESTIC_N = "DOMESTIC_N"
    DOMESTIC_O = "DOMESTIC_O"
    GBT_AC = "GBT_AC"
    GBT_DC = "GBT_DC"
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
    MCS = "MCS"
    NEMA_5_20 = "NEMA_5_20"
    NEMA_6_30 = "NEMA_6_30"
    NEMA_6_50 = "NEMA_6_50"
    NEMA_10_30 = "NEMA_10_30"
    NEMA_10_50 = "NEMA_10_50"
    NEMA_14_30 = "NEMA_14_30"
    NEMA_14_50 = "NEMA_14_50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP"
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN"
    SAE_J3400 = "SAE_J3400"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


class ParkingRestriction(StrEnum):
    """OpenEnum; 2.3.0 adds EMPLOYEES, TAXIS and TENANTS."""

    CUSTOMERS = "CUSTOMERS"
    DISABLED = "DISABLED"
    EMPLOYEES = "EMPLOYEES"
    EV_ONLY = "EV_ONLY"
    MOTORCYCLES = "MOTORCYCLES"
    PLUGGED = "PLUGGED"
    TAXIS = "TAXIS"
    TENANTS = "TENANTS"


class TokenType(StrEnum):
    """Tokens module OpenEnum (defined here because PublishTokenType needs it); 2.3.0 adds EMAID."""

    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    EMAID = "EMAID"
    OTHER = "OTHER"
    RFID = "RFID"


# --- new enums ----------------------------------------------------------------------------


class ConnectorCapability(StrEnum):
    """OpenEnum (new in 2.3.0): what a Driver can use at a Connector."""

    ISO_15118_2_PLUG_AND_CHARGE = "ISO_15118_2_PLUG_AND_CHARGE"
    ISO_15118_20_PLUG_AND_CHARGE = "ISO_15118_20_PLUG_AND_CHARGE"


class VehicleType(StrEnum):
    """OpenEnum (new in 2.3.0): the vehicles a Parking is designed for."""

    MOTORCYCLE = "MOTORCYCLE"
    PERSONAL_VEHICLE = "PERSONAL_VEHICLE"
    PERSONAL_VEHICLE_WITH_TRAILER = "PERSONAL_VEHICLE_WITH_TRAILER"
    VAN = "VAN"
    SEMI_TRACTOR = "SEMI_TRACTOR"
    RIGID = "RIGID"
    TRUCK_WITH_TRAILER = "TRUCK_WITH_TRAILER"
    BUS = "BUS"
    DISABLED = "DISABLED"


class ParkingDirection(StrEnum):
    """enum (new in 2.3.0, closed)."""

    PARALLEL = "PARALLEL"
    PERPENDICULAR = "PERPENDICULAR"
    ANGLE = "ANGLE"


class EVSEPosition(StrEnum):
    """enum (new in 2.3.0, closed): where the EVSE is relative to its parking space."""

    LEFT = "LEFT"
    RIGHT = "RIGHT"
    CENTER = "CENTER"


# --- helper classes that changed (they hold an OpenEnum) ----------------------------------


class Image(OcpiModel):
    url: URL
    thumbnail: URL | None = None
    category: OpenEnum[ImageCategory]
    type: CiString4
    width: Annotated[int, Field(strict=True, ge=0, le=99999)] | None = None
    height: Annotated[int, Field(strict=True, ge=0, le=99999)] | None = None


class BusinessDetails(OcpiModel):
    name: String100
    website: URL | None = None
    logo: Image | None = None


class PublishTokenType(OcpiModel):
    uid: CiString36 | None = None
    type: OpenEnum[TokenType] | None = None
    visual_number: String64 | None = None
    issuer: String64 | None = None
    group_id: CiString36 | None = None

    @model_validator(mode="after")
    def _identifies_someone(self) -> PublishTokenType:
        # Spec mod_locations PublishTokenType (unchanged in 2.3.0): at least one of uid,
        # visual_number, group_id; uid requires type; visual_number requires issuer.
        if self.uid is None and self.visual_number is None and self.group_id is None:
            raise ValueError("needs at least one of uid, visual_number or group_id")
        if self.uid is not None and self.type is None:
            raise ValueError("uid is given, so type is required")
        if self.visual_number is not None and self.issuer is None:
            raise ValueError("visual_number is given, so issuer is required")
        return self


class EnvironmentalImpact(OcpiModel):
    category: OpenEnum[EnvironmentalImpactCategory]
    amount: Annotated[Number, Field(ge=0)]


class EnergyMix(OcpiModel):
    is_green_energy: StrictBool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


# --- new classes --------------------------------------------------------------------------
ApdsReference = Annotated[str, StringConstraints(max_length=255, pattern=CI_STRING_PATTERN)]
"""Spec: CiString with no length given; 255 is this package's choice."""


class Parking(OcpiModel):
    """Spec mod_locations Parking object (new in 2.3.0, for the EU AFIR reporting to NAPs).

    Sizes are in centimetres, weight in kilograms, `time_limit` in minutes.
    """

    id: CiString36
    physical_reference: String12 | None = None
    vehicle_types: Annotated[list[OpenEnum[VehicleType]], Field(min_length=1)]
    max_vehicle_weight: Number | None = None
    max_vehicle_height: Number | None = None
    max_vehicle_length: Number | None = None
    max_vehicle_width: Number | None = None
    parking_space_length: Number | None = None
    parking_space_width: Number | None = None
    dangerous_goods_allowed: StrictBool | None = None
    direction: ParkingDirection | None = None
    drive_through: StrictBool | None = None
    restricted_to_type: StrictBool
    reservation_required: StrictBool
    time_limit: Number | None = None
    roofed: StrictBool | None = None
    images: list[Image] | None = None
    lighting: StrictBool | None = None
    refrigeration_outlet: StrictBool | None = None
    standards: list[CiString36] | None = None
    apds_reference: ApdsReference | None = None


class EVSEParking(OcpiModel):
    """Spec mod_locations EVSEParking class: a link from an EVSE to one of its Location's
    `parking_places` (by `id`)."""

    parking_id: CiString36
    evse_position: EVSEPosition | None = None


# --- the object tree ----------------------------------------------------------------------
class Connector(OcpiModel):
    id: CiString36
    standard: OpenEnum[ConnectorType]
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: Int
    max_amperage: Int
    max_electric_power: Int | None = None
    tariff_ids: list[CiString36] | None = None
    terms_and_conditions: URL | None = None
    capabilities: list[OpenEnum[ConnectorCapability]] | None = None  # new in 2.3.0
    last_updated: DateTime


class EVSE(OcpiModel):
    uid: CiString36
    evse_id: CiString48 | None = None
    status: Status
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[OpenEnum[Capability]] | None = None
    connectors: Annotated[list[Connector], Field(min_length=1)]
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[OpenEnum[ParkingRestriction]] | None = None
    parking: list[EVSEParking] | None = None  # new in 2.3.0
    images: list[Image] | None = None
    accepted_service_providers: list[String50] | None = None  # new in 2.3.0
    last_updated: DateTime


class Location(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    publish: StrictBool
    publish_allowed_to: list[PublishTokenType] | None = None
    name: String255 | None = None
    address: String255  # errata of 2.2.1: 255 (2.3.0 text: 45)
    city: String45
    postal_code: String10 | None = None
    state: String45 | None = None  # errata of 2.2.1: 45 (2.3.0 text: 20)
    country: String3
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: OpenEnum[ParkingType] | None = None
    evses: list[EVSE] | None = None
    parking_places: list[Parking] | None = None  # new in 2.3.0
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[OpenEnum[Facility]] | None = None
    time_zone: String255
    opening_times: Hours | None = None
    charging_when_closed: StrictBool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    help_phone: CiString25 | None = None  # new in 2.3.0
    last_updated: DateTime

    @model_validator(mode="after")
    def _parking_references_resolve(self) -> Location:
        # Spec mod_locations Parking.id: "MUST be unique among all Parking objects in the same
        # Location"; EVSEParking.parking_id "refers to a Parking object from the containing
        # Location's parking_places field by its id" (CiStrings: compared case-insensitively).
        ids: set[str] = set()
        for index, parking in enumerate(self.parking_places or ()):
            key = parking.id.upper()
            if key in ids:
                raise ValueError(f"parking_places[{index}] repeats id {parking.id}")
            ids.add(key)
        for e_index, evse in enumerate(self.evses or ()):
            for p_index, link in enumerate(evse.parking or ()):
                if link.parking_id.upper() not in ids:
                    raise ValueError(
                        f"evses[{e_index}].parking[{p_index}] names parking_id "
                        f"{link.parking_id}, which is not in this Location's parking_places"
                    )
        return self
