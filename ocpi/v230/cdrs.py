"""OCPI 2.3.0 CDRs module objects (spec mod_cdrs): what changed from 2.2.1.

The CDR text is 2.2.1's, but the types it uses changed: every cost is a 2.3.0 Price (before
taxes plus a list of taxes), `tariffs` are 2.3.0 Tariffs, CdrToken.type and
CdrLocation.connector_standard are OpenEnums. ChargingPeriod, CdrDimension and SignedData are
2.2.1's.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from ocpi.v221.cdrs import (
    SESSION_ONLY_DIMENSIONS,
    AuthMethod,
    CdrDimension,
    CdrDimensionType,
    ChargingPeriod,
    SignedData,
    SignedValue,
)
from ocpi.v221.locations import ConnectorFormat, GeoLocation, PowerType
from ocpi.v221.types import (
    CiString2,
    CiString3,
    CiString36,
    CiString39,
    CiString48,
    DateTime,
    Number,
    OcpiModel,
    StrictBool,
    String3,
    String10,
    String45,
    String255,
)
from ocpi.v230.locations import ConnectorType, TokenType
from ocpi.v230.tariffs import Tariff
from ocpi.v230.types import OpenEnum, Price

__all__ = [
    "CDR",
    "AuthMethod",
    "CdrDimension",
    "CdrDimensionType",
    "CdrLocation",
    "CdrToken",
    "ChargingPeriod",
    "SignedData",
    "SignedValue",
]


class CdrToken(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    uid: CiString36
    type: OpenEnum[TokenType]
    contract_id: CiString36


class CdrLocation(OcpiModel):
    id: CiString36
    name: String255 | None = None
    address: String255  # errata of 2.2.1: 255 (text: 45)
    city: String45
    postal_code: String10 | None = None
    state: String45 | None = None  # errata of 2.2.1: 45 (text: 20)
    country: String3
    coordinates: GeoLocation
    evse_uid: CiString36
    evse_id: CiString48
    connector_id: CiString36
    connector_standard: OpenEnum[ConnectorType]
    connector_format: ConnectorFormat
    connector_power_type: PowerType


class CDR(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    id: CiString39
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: CiString36 | None = None
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString36 | None = None
    cdr_location: CdrLocation
    meter_id: String255 | None = None
    currency: String3
    tariffs: list[Tariff] | None = None
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    signed_data: SignedData | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number
    total_energy_cost: Price | None = None
    total_time: Number
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: String255 | None = None
    invoice_reference_id: CiString39 | None = None
    credit: StrictBool | None = None
    credit_reference_id: CiString39 | None = None
    home_charging_compensation: StrictBool | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _cdr_rules(self) -> CDR:
        # Same rules as 2.2.1 (spec mod_cdrs CDR object, unchanged in 2.3.0).
        if self.credit and self.credit_reference_id is None:
            raise ValueError("credit_reference_id is required when credit is true")
        if not self.credit and len(self.id) > 36:
            raise ValueError("id may be longer than 36 characters only for a credit CDR")
        for index, period in enumerate(self.charging_periods):
            for dimension in period.dimensions:
                if dimension.type in SESSION_ONLY_DIMENSIONS:
                    raise ValueError(
                        f"charging_periods[{index}] has dimension {dimension.type.value}, "
                        "which the spec allows in Sessions only"
                    )
        return self
