"""step_size: spec mod_cdrs "step_size" and mod_tariffs PriceComponent (their own examples)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ocpi.pricing import CostCategory
from ocpi.v221.tariffs import TariffDimensionType as Dim
from tests.ocpi.pricing.factories import (
    charging,
    component,
    element,
    local,
    make_tariff,
    parking,
    price,
)
from tests.ocpi.pricing.factories import reservation as reserved

BEFORE_17 = {"start_time": "00:00", "end_time": "17:00"}
AFTER_17 = {"start_time": "17:00", "end_time": "00:00"}


@pytest.mark.parametrize(
    ("step_size", "billed_wh", "cost"),
    [(1, 116, "0.029"), (25, 125, "0.03125"), (500, 500, "0.125")],
)
def test_energy_is_billed_in_blocks_of_step_size_wh(
    step_size: int, billed_wh: int, cost: str
) -> None:
    # mod_tariffs PriceComponent note: 115.2 Wh at 0.25 €/kWh.
    tariff = make_tariff(element(component("ENERGY", 0.25, step_size=step_size)))
    priced = price(tariff, charging(1, "0.1152", start=local("2024-03-04T09:00")))
    (line,) = priced.lines
    assert line.billed == Decimal(billed_wh) / 1000
    assert priced.total.excl_vat == Decimal(cost)


def test_energy_step_rounds_the_session_total_not_the_last_period() -> None:
    # mod_cdrs: 4.3 kWh at 0.20 before 17:00 + 1.1 kWh at 0.27 after, step 500 Wh:
    # 5.4 → 5.5 kWh, the extra 0.1 kWh at 0.27 (not 1.1 → 1.5).
    tariff = make_tariff(
        element(component("ENERGY", 0.20, step_size=500), **BEFORE_17),
        element(component("ENERGY", 0.27, step_size=500), **AFTER_17),
    )
    priced = price(
        tariff, charging(60, "4.3", start=local("2024-03-04T16:00")), charging(60, "1.1")
    )
    assert [line.billed for line in priced.lines] == [Decimal("4.3"), Decimal("1.2")]
    assert priced.total.excl_vat == Decimal("0.86") + Decimal("0.324")


def test_time_step_rounds_the_session_total_at_the_last_price() -> None:
    # mod_cdrs: 6 min at 5 €/h + 22 min at 7 €/h, step 10 min: 28 → 30 min, 24 min at 7.
    tariff = make_tariff(
        element(component("TIME", 5, step_size=600), **BEFORE_17),
        element(component("TIME", 7, step_size=600), **AFTER_17),
    )
    priced = price(tariff, charging(28, start=local("2024-03-04T16:54")))
    assert [line.billed for line in priced.lines] == [6 * 60, 24 * 60]
    assert priced.total.excl_vat == Decimal("0.5") + Decimal("2.8")


@pytest.mark.parametrize(("parked", "billed"), [(7, 10), (16, 20)])
def test_charging_followed_by_parking_rounds_only_parking(parked: int, billed: int) -> None:
    # mod_cdrs: both step 5 or 10 min; 21 min charging stays 21, parking is rounded.
    tariff = make_tariff(
        element(
            component("TIME", 1, step_size=300 if parked == 7 else 600),
            component("PARKING_TIME", 2, step_size=300 if parked == 7 else 600),
        )
    )
    priced = price(tariff, charging(21, start=local("2024-03-04T09:00")), parking(parked))
    assert [(line.dimension, line.billed) for line in priced.lines] == [
        (Dim.TIME, Decimal(21 * 60)),
        (Dim.PARKING_TIME, Decimal(billed * 60)),
    ]


def test_charging_alone_is_rounded_by_its_step() -> None:
    tariff = make_tariff(element(component("TIME", 1, step_size=300), component("PARKING_TIME", 2)))
    priced = price(tariff, charging(21, start=local("2024-03-04T09:00")))
    assert [line.billed for line in priced.lines] == [25 * 60]


def test_step_size_of_the_last_element_used_decides_not_the_first() -> None:
    # Before 17:00 step 30 min; after, 15 min: 16:35 + 35 min → 45 min total (tariff_14 #2).
    tariff = make_tariff(
        element(component("TIME", 1.2, step_size=1800), **BEFORE_17),
        element(component("TIME", 2.4, step_size=900), **AFTER_17),
    )
    priced = price(tariff, charging(35, start=local("2024-03-04T16:35")))
    assert sum(line.billed for line in priced.lines) == 45 * 60


def test_step_size_zero_means_no_rounding() -> None:
    tariff = make_tariff(element(component("TIME", 6, step_size=0)))
    priced = price(tariff, charging(0.5, start=local("2024-03-04T09:00")))
    assert priced.total.excl_vat == Decimal("0.05")


def test_reservation_time_is_rounded_on_its_own_even_before_charging_time() -> None:
    # A reservation is not "followed by another time based period" in the parking sense:
    # tariff_16 rounds 13 min to 15 although a session follows. Here the session has TIME.
    tariff = make_tariff(
        element(component("TIME", 5, step_size=300), reservation="RESERVATION"),
        element(component("TIME", 1, step_size=3600)),
    )
    priced = price(tariff, reserved(13, start=local("2024-03-04T09:00")), charging(30, 5))
    assert [(line.category, line.billed) for line in priced.lines] == [
        (CostCategory.RESERVATION, Decimal(15 * 60)),
        (CostCategory.TIME, Decimal(60 * 60)),
    ]


def test_flat_step_size_is_ignored() -> None:
    tariff = make_tariff(element(component("FLAT", 3, step_size=1000)))
    priced = price(tariff, charging(30, 5, start=local("2024-03-04T09:00")))
    assert priced.total.excl_vat == Decimal(3)
