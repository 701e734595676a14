"""The priced session: exact costs, a breakdown a person can check, and the CDR's fields.

Everything here is exact until an output method is called; `cdr_fields()`,
`charging_periods()` and `to_json()` are the edges where money is rounded to the currency's
minor unit (half-up) and volumes to the spec's 4 decimals (types.asciidoc, number).
`to_dict()` keeps numbers as Decimals (what `roam tariff price` prints, every digit); `to_json()`
is the same with floats, ready for `json.dumps` (services storing an invoice). Exact amounts
are decimal strings at EXACT_DECIMALS places in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from ocpi.pricing.money import Amount, minor_units
from ocpi.pricing.numbers import PRECISION, exact, hours
from ocpi.pricing.usage import UsageState
from ocpi.v221.cdrs import CdrDimension, CdrDimensionType, ChargingPeriod
from ocpi.v221.tariffs import TariffDimensionType
from ocpi.v221.types import DateTime, Number, OcpiModel, Price, String3, format_datetime

__all__ = [
    "EXACT_DECIMALS",
    "CdrPricing",
    "CostCategory",
    "CostLine",
    "PriceLimit",
    "PricedPeriod",
    "PricedSession",
    "exact_precision",
    "exact_text",
]

_VOLUME = Decimal("0.0001")

EXACT_DECIMALS = 20
"""Decimal places at which `to_json()` shows exact (unrounded) amounts.

Money needs absolute precision, so a fixed number of places rather than significant digits.
20 places hold every product of OCPI numbers (4 decimals each: price × quantity × VAT factor
needs at most 14) exactly, lie far below any currency's minor unit, and keep a value that no
number of places holds (20 minutes at 1.00 an hour: 1/3) to a readable length.
"""
_EXACT_QUANTUM = Decimal(1).scaleb(-EXACT_DECIMALS)
_WIDE = Context(prec=PRECISION)


def _volume(value: Decimal) -> Decimal:
    """A CDR quantity: spec numbers carry 4 decimals."""
    return value.quantize(_VOLUME, rounding=ROUND_HALF_UP)


class CostCategory(StrEnum):
    """Which CDR cost field a line adds to (spec mod_cdrs, CDR object)."""

    FIXED = "FIXED"
    """total_fixed_cost: fixed fees except those of parking and reservation."""
    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING = "PARKING"
    """total_parking_cost: parking time and fixed fees first due while parking."""
    RESERVATION = "RESERVATION"
    """total_reservation_cost: reservation time and the reservation (or expiry) fee."""


_CDR_COST_FIELDS = {
    CostCategory.FIXED: "total_fixed_cost",
    CostCategory.ENERGY: "total_energy_cost",
    CostCategory.TIME: "total_time_cost",
    CostCategory.PARKING: "total_parking_cost",
    CostCategory.RESERVATION: "total_reservation_cost",
}


class PriceLimit(StrEnum):
    """Which Tariff bound replaced a total (spec mod_tariffs, Tariff.min_price/max_price)."""

    MIN_PRICE = "min_price"
    MAX_PRICE = "max_price"


@dataclass(frozen=True, slots=True)
class CostLine:
    """One price component's share of the session, as in the spec's breakdown tables.

    `used` and `billed` are in kWh for ENERGY, seconds for TIME and PARKING_TIME, and 1 for
    FLAT; `billed` includes the step_size rounding that fell on this line.
    """

    category: CostCategory
    dimension: TariffDimensionType
    element: int
    component: int
    price: Decimal
    vat: Decimal | None
    used: Decimal
    billed: Decimal
    cost: Amount

    @property
    def unit(self) -> str:
        if self.dimension is TariffDimensionType.ENERGY:
            return "kWh"
        if self.dimension is TariffDimensionType.FLAT:
            return "fee"
        return "h"

    def in_unit(self, quantity: Decimal) -> Decimal:
        """`used` or `billed` in the line's unit (hours for time, as prices are per hour)."""
        if self.unit == "h":
            with exact():
                return hours(quantity)
        return quantity

    def to_json(self, currency: str) -> dict[str, Any]:
        """The breakdown line, JSON-ready: `to_dict()` with numbers as floats."""
        line: dict[str, Any] = _floats(self.to_dict(currency))
        return line

    def to_dict(self, currency: str) -> dict[str, Any]:
        """The breakdown line with its numbers as Decimals (a float would lose digits)."""
        line: dict[str, Any] = {
            "category": self.category.value,
            "dimension": self.dimension.value,
            "element": self.element,
            "component": self.component,
            "unit": self.unit,
            "price": self.price,
            "vat": self.vat,
            "used": _volume(self.in_unit(self.used)),
            "billed": _volume(self.in_unit(self.billed)),
            "cost": _rounded_json(self.cost, currency),
            "exact_cost": _exact_json(self.cost, currency),
        }
        if self.unit == "h":
            line["used_seconds"] = _plain(self.used)
            line["billed_seconds"] = _plain(self.billed)
        return line


@dataclass(frozen=True, slots=True)
class PricedPeriod:
    """A piece of the session and the element that priced each of its dimensions."""

    source: int
    """Index of the usage period it was cut from."""
    state: UsageState
    start_date_time: datetime
    end_date_time: datetime
    energy: Decimal
    seconds: Decimal
    elements: Mapping[TariffDimensionType, int]
    """Winning element per dimension consumed in this piece (no entry: not priced)."""


class CdrPricing(OcpiModel):
    """The CDR fields pricing decides: `CDR(**dict(pricing), country_code=…, …)`."""

    currency: String3
    start_date_time: DateTime
    end_date_time: DateTime
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number
    total_energy_cost: Price | None = None
    total_time: Number
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None


def _plain(value: Decimal) -> Decimal:
    """An exact quantity without trailing zeros: 3600.000000 s → 3600, 0.500 → 0.5."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1), context=_WIDE)
    return value.normalize(_WIDE)


def exact_text(value: Decimal, currency: str) -> str:
    """An exact amount as text, at EXACT_DECIMALS places, rounded half-up.

    Trailing zeros are left out down to the currency's minor unit and kept up to it, so a
    total of exactly nine euros reads "9.00", 5.625 reads "5.625" and 1/3 reads
    "0.33333333333333333333".
    """
    wide = Context(prec=max(PRECISION, value.adjusted() + EXACT_DECIMALS + 2))
    shown = value.quantize(_EXACT_QUANTUM, rounding=ROUND_HALF_UP, context=wide)
    whole, _, fraction = format(shown, "f").partition(".")
    fraction = fraction.rstrip("0").ljust(minor_units(currency), "0")
    return f"{whole}.{fraction}" if fraction else whole


def exact_precision(currency: str) -> str:
    """The sentence `to_json()` states the precision of its exact values with."""
    places = minor_units(currency)
    return (
        f"exact values are shown to {EXACT_DECIMALS} decimal places (rounded half-up), "
        f"trailing zeros left out down to the currency's {places} decimal"
        f"{'' if places == 1 else 's'}"
    )


def _exact_json(amount: Amount, currency: str) -> dict[str, str]:
    return {
        "excl_vat": exact_text(amount.excl_vat, currency),
        "incl_vat": exact_text(amount.incl_vat, currency),
    }


def _rounded_json(amount: Amount, currency: str) -> dict[str, Decimal | None]:
    rounded = amount.rounded(currency)
    return {"excl_vat": rounded.excl_vat, "incl_vat": rounded.incl_vat}


def _floats(value: Any) -> Any:
    """A `to_dict()` tree made JSON-ready: Decimal numbers become floats."""
    if isinstance(value, dict):
        return {key: _floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_floats(item) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


def _decimal_tree(value: Any) -> Any:
    """A model dump (python mode) as JSON values, numbers kept Decimal: the wire models'
    JSON mode turns `Number` into float."""
    if isinstance(value, dict):
        return {key: _decimal_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decimal_tree(item) for item in value]
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, StrEnum):
        return value.value
    return value


def _dimensions(state: UsageState, energy: Decimal, seconds: Decimal) -> list[CdrDimension]:
    with exact():
        volume = _volume(hours(seconds))
    if state is UsageState.CHARGING:
        return [
            CdrDimension(type=CdrDimensionType.ENERGY, volume=_volume(energy)),
            CdrDimension(type=CdrDimensionType.TIME, volume=volume),
        ]
    if state is UsageState.PARKING:
        return [CdrDimension(type=CdrDimensionType.PARKING_TIME, volume=volume)]
    return [CdrDimension(type=CdrDimensionType.RESERVATION_TIME, volume=volume)]


@dataclass(frozen=True, slots=True)
class PricedSession:
    """A session priced against one tariff: exact amounts, breakdown and pieces."""

    tariff_id: str
    currency: str
    time_zone: str
    start_date_time: datetime
    end_date_time: datetime
    periods: tuple[PricedPeriod, ...]
    lines: tuple[CostLine, ...]
    subtotal: Amount
    """Sum of all lines, before min_price/max_price."""
    total: Amount
    """What the session costs: the subtotal with each of its two totals clamped."""
    excl_vat_limit: PriceLimit | None
    incl_vat_limit: PriceLimit | None

    def cost(self, category: CostCategory) -> Amount | None:
        """Exact cost of one CDR cost field, None when no component of it was priced."""
        found = [line.cost for line in self.lines if line.category is category]
        if not found:
            return None
        total = Amount.zero()
        for amount in found:
            total += amount
        return total

    def _seconds(self, state: UsageState) -> Decimal:
        return sum((p.seconds for p in self.periods if p.state is state), Decimal(0))

    @property
    def total_energy(self) -> Decimal:
        """kWh delivered (as measured, not as rounded by step_size)."""
        return sum((p.energy for p in self.periods), Decimal(0))

    @property
    def charging_seconds(self) -> Decimal:
        return self._seconds(UsageState.CHARGING)

    @property
    def parking_seconds(self) -> Decimal:
        return self._seconds(UsageState.PARKING)

    @property
    def reservation_seconds(self) -> Decimal:
        return self._seconds(UsageState.RESERVATION)

    def charging_periods(self) -> list[ChargingPeriod]:
        """CDR ChargingPeriods: a new one wherever the state or a priced element changes.

        Only CDR dimensions are used (ENERGY, TIME, PARKING_TIME, RESERVATION_TIME; never the
        session-only ones); each carries this tariff's id.
        """
        merged: list[PricedPeriod] = []
        for period in self.periods:
            if period.seconds == 0 and period.energy == 0 and len(self.periods) > 1:
                continue
            last = merged[-1] if merged else None
            if last and last.state is period.state and last.elements == period.elements:
                merged[-1] = PricedPeriod(
                    last.source,
                    last.state,
                    last.start_date_time,
                    period.end_date_time,
                    last.energy + period.energy,
                    last.seconds + period.seconds,
                    last.elements,
                )
            else:
                merged.append(period)
        return [
            ChargingPeriod(
                start_date_time=period.start_date_time,
                dimensions=_dimensions(period.state, period.energy, period.seconds),
                tariff_id=self.tariff_id,
            )
            for period in merged
        ]

    def cdr_fields(self) -> CdrPricing:
        """The CDR's cost, volume and period fields, rounded for the wire."""
        costs = {
            field: (None if amount is None else amount.rounded(self.currency))
            for category, field in _CDR_COST_FIELDS.items()
            for amount in [self.cost(category)]
        }
        with exact():
            session_seconds = self.charging_seconds + self.parking_seconds
            total_time = _volume(hours(session_seconds))
            parking = self.parking_seconds
            total_parking_time = _volume(hours(parking)) if parking else None
        return CdrPricing(
            currency=self.currency,
            start_date_time=self.start_date_time,
            end_date_time=self.end_date_time,
            charging_periods=self.charging_periods(),
            total_cost=self.total.rounded(self.currency),
            total_fixed_cost=costs["total_fixed_cost"],
            total_energy=_volume(self.total_energy),
            total_energy_cost=costs["total_energy_cost"],
            total_time=total_time,
            total_time_cost=costs["total_time_cost"],
            total_parking_time=total_parking_time,
            total_parking_cost=costs["total_parking_cost"],
            total_reservation_cost=costs["total_reservation_cost"],
        )

    def to_json(self) -> dict[str, Any]:
        """`to_dict()` made JSON-ready for `json.dumps`: numbers as floats (which keep 15 to
        17 significant digits; the exact amounts are strings and keep theirs)."""
        found: dict[str, Any] = _floats(self.to_dict())
        return found

    def to_dict(self) -> dict[str, Any]:
        """The priced result as `roam tariff price` prints it (docs/pricing.md).

        Numbers are Decimals, not floats, so that no digit is lost: write them with a
        Decimal-aware JSON writer (`roam.tariff_cmd.dumps`); exact amounts are strings at
        EXACT_DECIMALS places (`exact_text`), and `exact_precision` says so.
        """
        exact_costs: dict[str, Any] = {
            "total_cost": _exact_json(self.total, self.currency),
            "before_price_limits": _exact_json(self.subtotal, self.currency),
        }
        for category, field in _CDR_COST_FIELDS.items():
            amount = self.cost(category)
            if amount is not None:
                exact_costs[field] = _exact_json(amount, self.currency)
        return {
            "tariff_id": self.tariff_id,
            "currency": self.currency,
            "time_zone": self.time_zone,
            "cdr": _decimal_tree(self.cdr_fields().model_dump(exclude_none=True)),
            "breakdown": [line.to_dict(self.currency) for line in self.lines],
            "price_limit": {
                "excl_vat": None if self.excl_vat_limit is None else self.excl_vat_limit.value,
                "incl_vat": None if self.incl_vat_limit is None else self.incl_vat_limit.value,
            },
            "exact": exact_costs,
            "exact_precision": exact_precision(self.currency),
            "periods": [
                {
                    "usage_period": p.source,
                    "state": p.state.value,
                    "start_date_time": format_datetime(p.start_date_time),
                    "end_date_time": format_datetime(p.end_date_time),
                    "energy": _volume(p.energy),
                    "seconds": _plain(p.seconds),
                    "elements": {dim.value: index for dim, index in p.elements.items()},
                }
                for p in self.periods
            ],
        }
