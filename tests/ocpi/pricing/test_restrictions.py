"""Every TariffRestrictions field (spec mod_tariffs, TariffRestrictions class), in local time."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ocpi.pricing import PricedSession
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

# Restricted element at 6 €/h (0.10 per minute), fallback at 60 €/h (1.00 per minute): the
# total in euros reads as "minutes at the fallback + minutes restricted / 10".
RESTRICTED = "6"
FALLBACK = "60"


def time_tariff(**restrictions: object) -> list[dict[str, object]]:
    return [
        element(component("TIME", RESTRICTED), **restrictions),
        element(component("TIME", FALLBACK)),
    ]


def minutes(priced: PricedSession) -> dict[int, Decimal]:
    """Billed minutes per element, in order of first use."""
    return {line.element: line.billed / 60 for line in priced.lines}


def test_start_and_end_time_switch_the_element_on_and_off() -> None:
    tariff = make_tariff(*time_tariff(start_time="08:00", end_time="18:00"))
    priced = price(tariff, charging(60, start=local("2024-03-04T17:30")))
    assert minutes(priced) == {0: 30, 1: 30}


def test_end_time_before_start_time_wraps_past_midnight() -> None:
    tariff = make_tariff(*time_tariff(start_time="22:00", end_time="06:00"))
    evening = price(tariff, charging(120, start=local("2024-03-04T21:00")))
    morning = price(tariff, charging(120, start=local("2024-03-05T05:00")))
    assert minutes(evening) == {1: 60, 0: 60}
    assert minutes(morning) == {0: 60, 1: 60}


def test_end_time_00_00_means_the_end_of_the_day() -> None:
    tariff = make_tariff(*time_tariff(start_time="18:00", end_time="00:00"))
    priced = price(tariff, charging(60, start=local("2024-03-04T23:30")))
    assert minutes(priced) == {0: 30, 1: 30}


def test_start_time_alone_holds_until_midnight_and_end_time_alone_from_midnight() -> None:
    from_20 = make_tariff(*time_tariff(start_time="20:00"))
    until_07 = make_tariff(*time_tariff(end_time="07:00"))
    assert minutes(price(from_20, charging(60, start=local("2024-03-04T23:30")))) == {0: 30, 1: 30}
    assert minutes(price(until_07, charging(60, start=local("2024-03-05T06:30")))) == {0: 30, 1: 30}


def test_time_of_day_is_local_time_of_the_location_not_utc() -> None:
    tariff = make_tariff(*time_tariff(start_time="08:00", end_time="18:00"))
    # 16:00 UTC is 17:00 in Amsterdam (CET) and 11:00 in New York (EST).
    amsterdam = price(tariff, charging(120, start="2024-03-04T16:00:00Z"))
    new_york = price(
        tariff, charging(120, start="2024-03-04T16:00:00Z"), time_zone="America/New_York"
    )
    assert minutes(amsterdam) == {0: 60, 1: 60}
    assert minutes(new_york) == {0: 120}


def test_a_zone_with_a_45_minute_offset_cuts_at_its_own_local_time() -> None:
    tariff = make_tariff(*time_tariff(start_time="18:00"))
    # Kathmandu is UTC+05:45: 18:00 local is 12:15 UTC.
    priced = price(tariff, charging(60, start="2024-03-04T12:00:00Z"), time_zone="Asia/Kathmandu")
    assert minutes(priced) == {1: 15, 0: 45}


def test_start_date_inclusive_end_date_exclusive_at_local_midnight() -> None:
    tariff = make_tariff(*time_tariff(start_date="2024-03-05", end_date="2024-03-06"))
    zone = "America/New_York"
    across_start = price(
        tariff, charging(60, start=local("2024-03-04T23:30", zone)), time_zone=zone
    )
    across_end = price(tariff, charging(60, start=local("2024-03-05T23:30", zone)), time_zone=zone)
    assert minutes(across_start) == {1: 30, 0: 30}
    assert minutes(across_end) == {0: 30, 1: 30}


def test_day_of_week_is_the_local_day() -> None:
    tariff = make_tariff(*time_tariff(day_of_week=["MONDAY"]))
    # Sunday 23:30 → Monday 00:30 in Amsterdam; in UTC the whole hour is on Sunday.
    priced = price(tariff, charging(60, start=local("2024-03-03T23:30")))
    assert minutes(priced) == {1: 30, 0: 30}


def test_min_kwh_from_the_threshold_inclusive_interpolating_the_moment() -> None:
    # 10 kWh evenly over an hour: 5 kWh are reached after 30 minutes.
    tariff = make_tariff(*time_tariff(min_kwh=5))
    priced = price(tariff, charging(60, 10, start=local("2024-03-04T09:00")))
    assert minutes(priced) == {1: 30, 0: 30}


def test_max_kwh_until_the_threshold_exclusive_splitting_energy_exactly() -> None:
    tariff = make_tariff(
        element(component("ENERGY", 0.20), max_kwh=4), element(component("ENERGY", 0.30))
    )
    priced = price(tariff, charging(60, 10, start=local("2024-03-04T09:00")))
    assert [(line.element, line.billed) for line in priced.lines] == [
        (0, Decimal(4)),
        (1, Decimal(6)),
    ]
    assert priced.total.excl_vat == Decimal("2.60")


def test_kwh_thresholds_count_the_whole_session_across_periods() -> None:
    tariff = make_tariff(*time_tariff(min_kwh=5))
    priced = price(tariff, charging(30, 3, start=local("2024-03-04T09:00")), charging(40, 4))
    # 3 kWh in the first period; 2 more after 20 of the next 40 minutes.
    assert minutes(priced) == {1: 50, 0: 20}


@pytest.mark.parametrize(("current", "element_index"), [(31, 1), (32, 0), (40, 0)])
def test_min_current_is_inclusive(current: int, element_index: int) -> None:
    tariff = make_tariff(*time_tariff(min_current=32))
    priced = price(tariff, charging(60, 10, start=local("2024-03-04T09:00"), current=current))
    assert set(minutes(priced)) == {element_index}


@pytest.mark.parametrize(("current", "element_index"), [(31, 0), (32, 1)])
def test_max_current_is_exclusive(current: int, element_index: int) -> None:
    tariff = make_tariff(*time_tariff(max_current=32))
    priced = price(tariff, charging(60, 10, start=local("2024-03-04T09:00"), current=current))
    assert set(minutes(priced)) == {element_index}


@pytest.mark.parametrize(("kwh", "element_index"), [("10.999", 0), (11, 1), (12, 1)])
def test_power_is_the_average_when_not_given_and_max_power_is_exclusive(
    kwh: str | int, element_index: int
) -> None:
    tariff = make_tariff(*time_tariff(max_power=11))
    priced = price(tariff, charging(60, kwh, start=local("2024-03-04T09:00")))
    assert set(minutes(priced)) == {element_index}


def test_min_power_uses_the_given_power() -> None:
    tariff = make_tariff(*time_tariff(min_power=50))
    priced = price(tariff, charging(60, 10, start=local("2024-03-04T09:00"), power=50))
    assert set(minutes(priced)) == {0}


def test_min_duration_inclusive_and_max_duration_exclusive() -> None:
    tariff = make_tariff(
        element(component("TIME", RESTRICTED), min_duration=1800, max_duration=3600),
        element(component("TIME", FALLBACK)),
    )
    priced = price(tariff, charging(90, start=local("2024-03-04T09:00")))
    assert [(p.elements[Dim.TIME], p.seconds / 60) for p in priced.periods] == [
        (1, Decimal(30)),
        (0, Decimal(30)),
        (1, Decimal(30)),
    ]


def test_duration_counts_from_the_session_start_including_parking() -> None:
    tariff = make_tariff(
        element(component("PARKING_TIME", RESTRICTED), max_duration=3600),
        element(component("PARKING_TIME", FALLBACK)),
    )
    priced = price(tariff, charging(45, start=local("2024-03-04T09:00")), parking(30))
    assert minutes(priced) == {0: 15, 1: 15}


def test_reservation_elements_price_only_the_reservation() -> None:
    tariff = make_tariff(
        element(component("TIME", 3), reservation="RESERVATION"),
        element(component("TIME", 6)),
    )
    priced = price(tariff, reserved(10, start=local("2024-03-04T09:00")), charging(20))
    assert [(line.element, line.billed / 60) for line in priced.lines] == [
        (0, Decimal(10)),
        (1, Decimal(20)),
    ]


def test_elements_without_reservation_never_price_reservation_time() -> None:
    tariff = make_tariff(element(component("TIME", 6), component("FLAT", 1)))
    priced = price(tariff, reserved(30, start=local("2024-03-04T09:00")), charging(10))
    assert priced.total.excl_vat == Decimal("2.00")  # 1.00 fee + 10 min at 6 €/h


def test_expires_element_applies_only_when_the_reservation_expired() -> None:
    tariff = make_tariff(
        element(component("FLAT", 4), reservation="RESERVATION_EXPIRES"),
        element(component("TIME", 2), reservation="RESERVATION"),
    )
    used = price(tariff, reserved(30, start=local("2024-03-04T09:00")), charging(10))
    expired = price(tariff, reserved(30, start=local("2024-03-04T09:00")), expired=True)
    assert used.total.excl_vat == Decimal("1.00")
    assert expired.total.excl_vat == Decimal("5.00")


def test_expired_reservation_time_uses_the_expires_element_even_when_listed_second() -> None:
    # Spec ReservationRestrictionType note: with TIME under both, an expired reservation's
    # time is priced by the RESERVATION_EXPIRES element — whatever the list order.
    tariff = make_tariff(
        element(component("TIME", 3, step_size=600), reservation="RESERVATION"),
        element(component("TIME", 6, step_size=600), reservation="RESERVATION_EXPIRES"),
    )
    priced = price(tariff, reserved(90, start=local("2024-03-04T09:00")), expired=True)
    assert priced.total.excl_vat == Decimal("9.00")


def test_restrictions_are_anded() -> None:
    tariff = make_tariff(
        *time_tariff(start_time="08:00", end_time="18:00", day_of_week=["TUESDAY"])
    )
    monday = price(tariff, charging(60, start=local("2024-03-04T09:00")))
    tuesday = price(tariff, charging(60, start=local("2024-03-05T09:00")))
    tuesday_night = price(tariff, charging(60, start=local("2024-03-05T20:00")))
    assert set(minutes(monday)) == {1}
    assert set(minutes(tuesday)) == {0}
    assert set(minutes(tuesday_night)) == {1}


def test_each_dimension_takes_its_own_first_matching_element() -> None:
    # Spec TariffElement: dimensions are looked up separately, so ENERGY may come from a
    # later element than TIME.
    tariff = make_tariff(
        element(component("TIME", 1), start_time="08:00", end_time="18:00"),
        element(component("ENERGY", "0.3"), component("TIME", 9)),
    )
    priced = price(tariff, charging(60, 10, start=local("2024-03-04T09:00")))
    assert [(line.dimension.value, line.element) for line in priced.lines] == [
        ("ENERGY", 1),
        ("TIME", 0),
    ]


def test_no_matching_element_means_no_cost_for_that_dimension() -> None:
    tariff = make_tariff(element(component("TIME", 6), start_time="08:00", end_time="09:00"))
    priced = price(tariff, charging(120, start=local("2024-03-04T08:30")))
    assert priced.total.excl_vat == Decimal("3.00")


def test_clocks_going_forward_switch_an_element_at_the_jump() -> None:
    # Amsterdam, 2024-03-31: 02:00 CET jumps to 03:00 CEST at 01:00 UTC; 02:30 never occurs,
    # so an element from 02:30 to 04:00 runs from the jump (01:00 UTC) to 04:00 CEST.
    tariff = make_tariff(*time_tariff(start_time="02:30", end_time="04:00"))
    priced = price(tariff, charging(120, start="2024-03-31T00:30:00Z"))
    assert minutes(priced) == {1: 60, 0: 60}


def test_clocks_going_back_make_a_local_hour_happen_twice() -> None:
    # Amsterdam, 2024-10-27: 03:00 CEST goes back to 02:00 CET at 01:00 UTC, so 02:00–02:30
    # local happens at 00:00–00:30 UTC and again at 01:00–01:30 UTC.
    tariff = make_tariff(*time_tariff(start_time="02:00", end_time="02:30"))
    priced = price(tariff, charging(150, start="2024-10-26T23:30:00Z"))
    assert minutes(priced) == {1: 90, 0: 60}
