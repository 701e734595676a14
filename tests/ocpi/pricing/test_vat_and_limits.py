"""VAT per component and min_price/max_price on both totals (spec mod_tariffs, Tariff notes)."""

from __future__ import annotations

from decimal import Decimal

from ocpi.pricing import CostCategory, PriceLimit
from tests.ocpi.pricing.factories import charging, component, element, local, make_tariff, price

START = local("2024-03-04T09:00")


def test_each_component_carries_its_own_vat() -> None:
    tariff = make_tariff(element(component("FLAT", 1, vat=21), component("ENERGY", "0.5", vat=9)))
    priced = price(tariff, charging(60, 10, start=START))
    assert priced.total.excl_vat == Decimal("6")
    assert priced.total.incl_vat == Decimal("1.21") + Decimal("5.45")


def test_absent_vat_means_none_applies_so_incl_equals_excl() -> None:
    tariff = make_tariff(element(component("ENERGY", "0.5")))
    priced = price(tariff, charging(60, 10, start=START))
    assert priced.total.incl_vat == priced.total.excl_vat == Decimal(5)
    (line,) = priced.lines
    assert line.vat is None


def test_min_price_raises_each_total_to_its_own_bound() -> None:
    # 0.25 €/kWh + 10 %; 1 kWh → 0.25 / 0.275, lifted to 0.50 / 0.55 separately.
    tariff = make_tariff(
        element(component("ENERGY", "0.25", vat=10)),
        min_price={"excl_vat": 0.5, "incl_vat": 0.55},
    )
    priced = price(tariff, charging(10, 1, start=START))
    assert (priced.total.excl_vat, priced.total.incl_vat) == (Decimal("0.5"), Decimal("0.55"))
    assert priced.excl_vat_limit is priced.incl_vat_limit is PriceLimit.MIN_PRICE


def test_min_price_incl_vat_can_bind_while_excl_vat_does_not() -> None:
    # The spec's note: with VAT built from parts, one bound can be reached before the other.
    tariff = make_tariff(
        element(component("ENERGY", "0.12", vat=10)),
        min_price={"excl_vat": 1.0, "incl_vat": 1.5},
    )
    priced = price(tariff, charging(60, 10, start=START))  # 1.20 / 1.32
    assert priced.total.excl_vat == Decimal("1.20")
    assert priced.total.incl_vat == Decimal("1.5")
    assert (priced.excl_vat_limit, priced.incl_vat_limit) == (None, PriceLimit.MIN_PRICE)


def test_max_price_excl_vat_can_bind_while_incl_vat_does_not() -> None:
    tariff = make_tariff(
        element(component("ENERGY", "1"), component("FLAT", 5, vat=100)),
        max_price={"excl_vat": 10, "incl_vat": 20},
    )
    priced = price(tariff, charging(60, 8, start=START))  # 13 excl / 18 incl
    assert (priced.total.excl_vat, priced.total.incl_vat) == (Decimal(10), Decimal(18))
    assert (priced.excl_vat_limit, priced.incl_vat_limit) == (PriceLimit.MAX_PRICE, None)


def test_a_bound_without_incl_vat_leaves_the_incl_total_alone() -> None:
    tariff = make_tariff(element(component("ENERGY", "1", vat=20)), max_price={"excl_vat": 5})
    priced = price(tariff, charging(60, 8, start=START))
    assert (priced.total.excl_vat, priced.total.incl_vat) == (Decimal(5), Decimal("9.6"))


def test_limits_clamp_the_total_but_not_the_cost_fields() -> None:
    tariff = make_tariff(element(component("ENERGY", "1")), max_price={"excl_vat": 5})
    priced = price(tariff, charging(60, 8, start=START))
    energy = priced.cost(CostCategory.ENERGY)
    assert energy is not None
    assert energy.excl_vat == Decimal(8)
    assert priced.subtotal.excl_vat == Decimal(8)
    assert priced.total.excl_vat == Decimal(5)
