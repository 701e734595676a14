"""A quote: what a planned session on a connector will cost, told to the driver beforehand.

The plan (start, energy, charging time, parking time, optional reservation before it) becomes
a SessionUsage delivered at constant power, and is priced by the same engine that prices
the CDR — so a session delivered as planned costs exactly what was quoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from ocpi.pricing.engine import price_session
from ocpi.pricing.errors import QuoteError
from ocpi.pricing.money import Amount
from ocpi.pricing.numbers import SECONDS_PER_HOUR, exact, seconds
from ocpi.pricing.result import CostCategory, CostLine, PricedSession, PriceLimit
from ocpi.pricing.usage import SessionUsage, UsagePeriod, UsageState
from ocpi.v221.locations import Connector, PowerType
from ocpi.v221.tariffs import Tariff, TariffDimensionType
from ocpi.v221.types import Number, Price

__all__ = [
    "PlannedSession",
    "Quote",
    "QuoteItem",
    "connector_max_power",
    "planned_usage",
    "quote",
]

_PHASES = {PowerType.AC_3_PHASE: 3, PowerType.AC_2_PHASE: 2, PowerType.AC_2_PHASE_SPLIT: 2}


class PlannedSession(BaseModel):
    """What the driver intends: when, how much energy, how long plugged in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_date_time: AwareDatetime
    """When charging starts (a reservation, if any, ends here)."""
    energy: Number
    """kWh to charge."""
    charging_duration: timedelta
    parking_duration: timedelta = timedelta(0)
    """Plugged in after charging ends."""
    reservation_duration: timedelta = timedelta(0)
    """Reserved before start_date_time."""


def connector_max_power(connector: Connector) -> Decimal | None:
    """kW the connector can deliver: max_electric_power, else phases × voltage × amperage.

    Spec mod_locations Connector: max_voltage is line to neutral for AC_3_PHASE, and
    max_electric_power is set when lower than what voltage and amperage give.
    """
    if connector.max_electric_power:
        return Decimal(connector.max_electric_power) / 1000
    watts = _PHASES.get(connector.power_type, 1) * connector.max_voltage * connector.max_amperage
    return Decimal(watts) / 1000 if watts > 0 else None


def _check_plan(plan: PlannedSession) -> None:
    if not plan.energy.is_finite() or plan.energy < 0:
        raise QuoteError(f"energy {plan.energy} must be a non-negative number of kWh")
    for name in ("charging_duration", "parking_duration", "reservation_duration"):
        if getattr(plan, name) < timedelta(0):
            raise QuoteError(f"{name} is negative")
    if plan.energy > 0 and plan.charging_duration == timedelta(0):
        raise QuoteError("energy is planned but charging_duration is zero")


def planned_usage(plan: PlannedSession, connector: Connector, time_zone: str) -> SessionUsage:
    """The plan as usage periods: reservation, charging at constant power, parking.

    Power is energy / charging time; current (summed over phases) is power / max_voltage,
    since max_voltage is line-to-neutral. Refused (QuoteError) when the connector cannot
    deliver that power.
    """
    _check_plan(plan)
    with exact():
        charging = seconds(plan.charging_duration)
        power = plan.energy * SECONDS_PER_HOUR / charging if charging else Decimal(0)
        limit = connector_max_power(connector)
        if limit is not None and power > limit:
            raise QuoteError(
                f"connector {connector.id} delivers at most {limit} kW; "
                f"{plan.energy} kWh in {plan.charging_duration} needs {power.normalize():f} kW"
            )
        current = power * 1000 / connector.max_voltage if connector.max_voltage > 0 else None
    periods: list[UsagePeriod] = []
    start = plan.start_date_time
    if plan.reservation_duration:
        periods.append(
            UsagePeriod(
                state=UsageState.RESERVATION,
                start_date_time=start - plan.reservation_duration,
                duration=plan.reservation_duration,
            )
        )
    periods.append(
        UsagePeriod(
            state=UsageState.CHARGING,
            start_date_time=None if periods else start,
            duration=plan.charging_duration,
            energy=plan.energy,
            power=power,
            current=current,
        )
    )
    if plan.parking_duration:
        periods.append(UsagePeriod(state=UsageState.PARKING, duration=plan.parking_duration))
    return SessionUsage(time_zone=time_zone, periods=periods)


_LABELS = {
    (CostCategory.FIXED, TariffDimensionType.FLAT): "Start fee",
    (CostCategory.PARKING, TariffDimensionType.FLAT): "Parking fee",
    (CostCategory.RESERVATION, TariffDimensionType.FLAT): "Reservation fee",
    (CostCategory.ENERGY, TariffDimensionType.ENERGY): "Energy",
    (CostCategory.TIME, TariffDimensionType.TIME): "Charging time",
    (CostCategory.PARKING, TariffDimensionType.PARKING_TIME): "Parking time",
    (CostCategory.RESERVATION, TariffDimensionType.TIME): "Reservation time",
}


@dataclass(frozen=True, slots=True)
class QuoteItem:
    """One row a UI shows: "Parking time · 0.75 h × 5.00 /h · VAT 10 % · 3.75 / 4.13"."""

    label: str
    cost: Price
    """Rounded to the currency's minor unit; rows may not add up to the total by a cent."""
    category: CostCategory | None = None
    dimension: TariffDimensionType | None = None
    quantity: Decimal | None = None
    """Billed quantity (step_size included) in `unit`."""
    unit: str | None = None
    unit_price: Decimal | None = None
    vat: Decimal | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "category": None if self.category is None else self.category.value,
            "dimension": None if self.dimension is None else self.dimension.value,
            "quantity": None if self.quantity is None else float(self.quantity),
            "unit": self.unit,
            "unit_price": None if self.unit_price is None else float(self.unit_price),
            "vat": None if self.vat is None else float(self.vat),
            "cost": self.cost.to_json(),
        }


@dataclass(frozen=True, slots=True)
class Quote:
    """The price the driver will pay, its breakdown, and the exact priced session behind it."""

    tariff_id: str
    currency: str
    price: Price
    items: tuple[QuoteItem, ...]
    priced: PricedSession

    def to_json(self) -> dict[str, Any]:
        return {
            "tariff_id": self.tariff_id,
            "currency": self.currency,
            "price": self.price.to_json(),
            "items": [item.to_json() for item in self.items],
        }


def _item(line: CostLine, currency: str) -> QuoteItem:
    quantity = line.in_unit(line.billed).quantize(Decimal("0.0001"))
    return QuoteItem(
        label=_LABELS[(line.category, line.dimension)],
        cost=line.cost.rounded(currency),
        category=line.category,
        dimension=line.dimension,
        quantity=quantity,
        unit=line.unit,
        unit_price=line.price,
        vat=line.vat,
    )


def _adjustment(priced: PricedSession) -> QuoteItem | None:
    limits = {priced.excl_vat_limit, priced.incl_vat_limit} - {None}
    if not limits:
        return None
    label = (
        ("Minimum price" if limits == {PriceLimit.MIN_PRICE} else "Maximum price")
        if len(limits) == 1
        else "Price limits"
    )
    difference: Amount = priced.total - priced.subtotal
    return QuoteItem(label=label, cost=difference.rounded(priced.currency))


def quote(tariff: Tariff, connector: Connector, plan: PlannedSession, time_zone: str) -> Quote:
    """What `plan` will cost with `tariff` on `connector` at a Location in `time_zone`.

    Refused (QuoteError) when the connector does not list the tariff in its tariff_ids or
    cannot deliver the planned power; the tariff and the plan are checked as for any session.
    """
    if connector.tariff_ids and tariff.id not in connector.tariff_ids:
        raise QuoteError(
            f"connector {connector.id} does not use tariff {tariff.id} "
            f"(its tariff_ids: {', '.join(connector.tariff_ids)})"
        )
    priced = price_session(tariff, planned_usage(plan, connector, time_zone))
    items = [_item(line, priced.currency) for line in priced.lines]
    adjustment = _adjustment(priced)
    if adjustment is not None:
        items.append(adjustment)
    return Quote(
        tariff_id=tariff.id,
        currency=priced.currency,
        price=priced.total.rounded(priced.currency),
        items=tuple(items),
        priced=priced,
    )
