"""OCPI 2.1.1 Tariffs module objects (spec 2.1.1 mod_tariffs): Tariff, TariffElement and parts.

A 2.1.1 Tariff names no owner (no country_code/party_id), no tariff type, no VAT, no price
caps and no validity period; TariffDimensionType and DayOfWeek are 2.2.1's.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ocpi.v211.locations import EnergyMix, LocalTime
from ocpi.v211.types import String36
from ocpi.v221.tariffs import DayOfWeek, RestrictionDate, TariffDimensionType
from ocpi.v221.types import URL, DateTime, DisplayText, Int, Number, OcpiModel, String3

__all__ = [
    "DayOfWeek",
    "PriceComponent",
    "Tariff",
    "TariffDimensionType",
    "TariffElement",
    "TariffRestrictions",
]


class PriceComponent(OcpiModel):
    type: TariffDimensionType
    price: Number  # per unit, excl. VAT
    step_size: Int


class TariffRestrictions(OcpiModel):
    start_time: LocalTime | None = None
    end_time: LocalTime | None = None
    start_date: RestrictionDate | None = None
    end_date: RestrictionDate | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: Int | None = None
    max_duration: Int | None = None
    day_of_week: list[DayOfWeek] | None = None


class TariffElement(OcpiModel):
    price_components: Annotated[list[PriceComponent], Field(min_length=1)]
    restrictions: TariffRestrictions | None = None


class Tariff(OcpiModel):
    id: String36
    currency: String3
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
