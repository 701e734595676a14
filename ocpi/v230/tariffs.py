"""OCPI 2.3.0 Tariffs module objects (spec mod_tariffs): what changed from 2.2.1.

New: Tariff.tax_included (required: whether PriceComponent prices include taxes), min/max_price
as PriceLimit (before/after taxes), Tariff.preauthorize_amount (for the Payments module).
TariffElement, PriceComponent and TariffRestrictions are 2.2.1's; only the meaning of
PriceComponent.price moved: it includes taxes or not as `tax_included` says.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ocpi.v221.tariffs import (
    DayOfWeek,
    PriceComponent,
    ReservationRestrictionType,
    TariffDimensionType,
    TariffElement,
    TariffRestrictions,
    TariffType,
)
from ocpi.v221.types import (
    URL,
    CiString2,
    CiString3,
    CiString36,
    DateTime,
    DisplayText,
    Number,
    OcpiModel,
    String3,
)
from ocpi.v230.locations import EnergyMix

__all__ = [
    "DayOfWeek",
    "PriceComponent",
    "PriceLimit",
    "ReservationRestrictionType",
    "Tariff",
    "TariffDimensionType",
    "TariffElement",
    "TariffRestrictions",
    "TariffType",
    "TaxIncluded",
]


class TaxIncluded(StrEnum):
    """Spec mod_tariffs TaxIncluded enum (new in 2.3.0)."""

    YES = "YES"  # taxes are included in the prices
    NO = "NO"  # taxes are not included and will be added on top
    N_A = "N/A"  # no taxes are applicable


class PriceLimit(OcpiModel):
    """Spec mod_tariffs PriceLimit class (2.3.0): a Tariff's min_price or max_price."""

    before_taxes: Number
    after_taxes: Number | None = None


class Tariff(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    currency: String3
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    min_price: PriceLimit | None = None
    max_price: PriceLimit | None = None
    preauthorize_amount: Number | None = None  # new in 2.3.0
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    tax_included: TaxIncluded  # new in 2.3.0, required
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
