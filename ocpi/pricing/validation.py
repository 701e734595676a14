"""Whether a tariff can be priced at all, and its elements compiled for the engine.

Refusals name the field (`elements[2].price_components[0].price -1 is negative`). Rules:
spec mod_tariffs — Tariff.elements is `+`; PriceComponent.price is a price, step_size a
block size, vat a percentage (none negative); TariffRestrictions.reservation allows only FLAT
and TIME components; min_price/max_price bound the total (so min must not exceed max);
start_date_time/end_date_time delimit validity (so end must not precede start).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from ocpi.pricing.errors import TariffError
from ocpi.pricing.restrictions import Restrictions, compile_restrictions
from ocpi.v221.tariffs import PriceComponent, Tariff, TariffDimensionType
from ocpi.v221.types import Price

__all__ = ["CompiledElement", "CompiledTariff", "Rate", "compile_tariff"]

_RESERVATION_DIMENSIONS = frozenset({TariffDimensionType.FLAT, TariffDimensionType.TIME})


@dataclass(frozen=True, slots=True)
class Rate:
    """A price component together with where it sits in the tariff."""

    element: int
    component: int
    price_component: PriceComponent

    @property
    def price(self) -> Decimal:
        return self.price_component.price

    @property
    def vat(self) -> Decimal | None:
        return self.price_component.vat

    @property
    def step_size(self) -> int:
        return self.price_component.step_size


@dataclass(frozen=True, slots=True)
class CompiledElement:
    index: int
    restrictions: Restrictions
    rates: Mapping[TariffDimensionType, Rate]


@dataclass(frozen=True, slots=True)
class CompiledTariff:
    tariff: Tariff
    elements: tuple[CompiledElement, ...]

    @property
    def uses_current(self) -> bool:
        return any(element.restrictions.uses_current for element in self.elements)

    def times_of_day(self) -> frozenset[int]:
        """Every start_time/end_time, in seconds after local midnight (midnight included)."""
        times = {0}
        for element in self.elements:
            r = element.restrictions
            times.update(t % 86_400 for t in (r.start_time, r.end_time) if t is not None)
        return frozenset(times)

    def kwh_thresholds(self) -> frozenset[Decimal]:
        found: set[Decimal] = set()
        for element in self.elements:
            r = element.restrictions
            found.update(v for v in (r.min_kwh, r.max_kwh) if v is not None)
        return frozenset(found)

    def durations(self) -> frozenset[int]:
        found: set[int] = set()
        for element in self.elements:
            r = element.restrictions
            found.update(v for v in (r.min_duration, r.max_duration) if v is not None)
        return frozenset(found)


def _check_number(value: Decimal | None, where: str) -> None:
    if value is None:
        return
    if not value.is_finite():
        raise TariffError(f"{where} is not a finite number")
    if value < 0:
        raise TariffError(f"{where} {value} is negative")


def _check_limits(min_price: Price | None, max_price: Price | None) -> None:
    for name, limit in (("min_price", min_price), ("max_price", max_price)):
        if limit is not None:
            _check_number(limit.excl_vat, f"{name}.excl_vat")
            _check_number(limit.incl_vat, f"{name}.incl_vat")
    if min_price is None or max_price is None:
        return
    if min_price.excl_vat > max_price.excl_vat:
        raise TariffError(
            f"min_price.excl_vat {min_price.excl_vat} exceeds max_price.excl_vat "
            f"{max_price.excl_vat}"
        )
    if (
        min_price.incl_vat is not None
        and max_price.incl_vat is not None
        and min_price.incl_vat > max_price.incl_vat
    ):
        raise TariffError(
            f"min_price.incl_vat {min_price.incl_vat} exceeds max_price.incl_vat "
            f"{max_price.incl_vat}"
        )


def _compile_element(
    index: int, element_rates: list[PriceComponent], r: Restrictions
) -> dict[TariffDimensionType, Rate]:
    rates: dict[TariffDimensionType, Rate] = {}
    for number, component in enumerate(element_rates):
        where = f"elements[{index}].price_components[{number}]"
        _check_number(component.price, f"{where}.price")
        _check_number(component.vat, f"{where}.vat")
        if component.step_size < 0:
            raise TariffError(f"{where}.step_size {component.step_size} is negative")
        if component.type in rates:
            raise TariffError(
                f"{where}: elements[{index}] has more than one {component.type.value} "
                "component, so its price is ambiguous"
            )
        if r.reservation is not None and component.type not in _RESERVATION_DIMENSIONS:
            raise TariffError(
                f"{where}: a {component.type.value} component under a {r.reservation.value} "
                "restriction (a reservation is priced by FLAT and TIME only)"
            )
        rates[component.type] = Rate(index, number, component)
    return rates


def compile_tariff(tariff: Tariff) -> CompiledTariff:
    """Check that the tariff can be priced and compile it, or raise TariffError."""
    currency = tariff.currency
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise TariffError(f"currency {currency!r} is not an ISO 4217 code")
    if not tariff.elements:
        raise TariffError("the tariff has no elements, so there is nothing to price")
    if (
        tariff.start_date_time is not None
        and tariff.end_date_time is not None
        and tariff.end_date_time < tariff.start_date_time
    ):
        raise TariffError("end_date_time is before start_date_time")
    _check_limits(tariff.min_price, tariff.max_price)
    elements: list[CompiledElement] = []
    for index, element in enumerate(tariff.elements):
        if not element.price_components:
            raise TariffError(f"elements[{index}] has no price_components")
        restrictions = compile_restrictions(element.restrictions, f"elements[{index}].restrictions")
        rates = _compile_element(index, element.price_components, restrictions)
        elements.append(CompiledElement(index, restrictions, rates))
    return CompiledTariff(tariff, tuple(elements))
