"""Bad input is refused with an error naming the problem — never priced silently (issue 4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ocpi.pricing import PricingError, TariffError, UsageError, price_session
from ocpi.v221.tariffs import Tariff
from tests.ocpi.pricing.factories import (
    charging,
    component,
    element,
    local,
    make_tariff,
    parking,
    price,
    usage,
)
from tests.ocpi.pricing.factories import reservation as reserved

START = local("2024-03-04T09:00")
SIMPLE = element(component("ENERGY", "0.25"))


def refused(tariff: Tariff, *periods: dict[str, Any], **options: Any) -> str:
    with pytest.raises(PricingError) as caught:
        price(tariff, *(periods or (charging(60, 10, start=START),)), **options)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_tariff_without_elements_is_refused() -> None:
    empty = make_tariff(SIMPLE).model_copy(update={"elements": []})
    assert "no elements" in refused(empty)


@pytest.mark.parametrize(
    ("kind", "dimension"), [("RESERVATION", "ENERGY"), ("RESERVATION_EXPIRES", "PARKING_TIME")]
)
def test_a_reservation_element_may_price_only_flat_and_time(kind: str, dimension: str) -> None:
    tariff = make_tariff(element(component(dimension, 1), reservation=kind), SIMPLE)
    message = refused(tariff)
    assert f"{dimension} component under a {kind} restriction" in message
    assert message.startswith("elements[0].price_components[0]")


@pytest.mark.parametrize(("field", "bad"), [("price", -0.25), ("vat", -5), ("step_size", -1)])
def test_negative_price_vat_or_step_size_is_refused(field: str, bad: float) -> None:
    priced_component = component("ENERGY", "0.25", vat=10)
    priced_component[field] = bad
    message = refused(make_tariff(element(priced_component)))
    assert f"elements[0].price_components[0].{field} {bad:g}" in message
    assert "negative" in message


def test_a_price_that_is_not_a_number_is_refused_even_past_the_wire_model() -> None:
    # The wire model refuses NaN already; a model built without validation still is refused.
    tariff = make_tariff(SIMPLE)
    infinite = (
        tariff.elements[0].price_components[0].model_copy(update={"price": Decimal("Infinity")})
    )
    bad = tariff.model_copy(
        update={
            "elements": [tariff.elements[0].model_copy(update={"price_components": [infinite]})]
        }
    )
    assert "price is not a finite number" in refused(bad)


def test_an_unknown_time_zone_is_refused_not_read_as_utc() -> None:
    assert "unknown time zone 'Mars/Olympus_Mons'" in refused(
        make_tariff(SIMPLE), charging(60, 10, start=START), time_zone="Mars/Olympus_Mons"
    )


def test_a_period_ending_before_it_starts_is_refused() -> None:
    period = {"start_date_time": "2024-03-04T10:00:00Z", "end_date_time": "2024-03-04T09:00:00Z"}
    assert "periods[0] ends before it starts" in refused(make_tariff(SIMPLE), period)


def test_a_tariff_ending_before_it_starts_is_refused() -> None:
    tariff = make_tariff(
        SIMPLE, start_date_time="2024-02-01T00:00:00Z", end_date_time="2024-01-01T00:00:00Z"
    )
    assert "end_date_time is before start_date_time" in refused(tariff)


def test_a_session_after_the_tariff_ended_is_refused() -> None:
    tariff = make_tariff(SIMPLE, end_date_time="2019-06-30T23:59:59Z")
    assert "no longer valid" in refused(tariff)


def test_a_session_before_the_tariff_starts_is_refused() -> None:
    tariff = make_tariff(SIMPLE, start_date_time="2030-01-01T00:00:00Z")
    assert "not yet valid" in refused(tariff)


@pytest.mark.parametrize(
    ("restrictions", "expected"),
    [
        (
            {"start_date": "2024-03-05", "end_date": "2024-03-05"},
            "end_date 2024-03-05 is not after",
        ),
        ({"start_date": "2023-02-31"}, "'2023-02-31' is not a real date"),
        ({"min_kwh": 20, "max_kwh": 10}, "min_kwh 20 is not below max_kwh 10"),
        ({"min_duration": 600, "max_duration": 600}, "min_duration 600 is not below"),
        ({"start_time": "10:00", "end_time": "10:00"}, "both 10:00"),
        ({"min_power": -1}, "min_power -1 is negative"),
    ],
)
def test_restrictions_that_can_never_hold_are_refused(
    restrictions: dict[str, Any], expected: str
) -> None:
    message = refused(make_tariff(element(component("TIME", 1), **restrictions), SIMPLE))
    assert message.startswith("elements[0].restrictions")
    assert expected in message


def test_whole_day_00_00_to_00_00_is_allowed() -> None:
    tariff = make_tariff(element(component("TIME", 6), start_time="00:00", end_time="00:00"))
    assert price(tariff, charging(10, start=START)).total.excl_vat == 1


def test_min_price_above_max_price_is_refused() -> None:
    tariff = make_tariff(SIMPLE, min_price={"excl_vat": 5}, max_price={"excl_vat": 4})
    assert "min_price.excl_vat 5 exceeds max_price.excl_vat 4" in refused(tariff)


def test_two_components_of_one_dimension_in_an_element_are_refused() -> None:
    tariff = make_tariff(element(component("ENERGY", 1), component("ENERGY", 2)))
    assert "more than one ENERGY component" in refused(tariff)


def test_a_currency_that_is_not_iso_4217_is_refused() -> None:
    assert "currency 'E1'" in refused(make_tariff(SIMPLE, currency="E1"))


def test_current_restrictions_need_the_current_of_each_charging_period() -> None:
    tariff = make_tariff(element(component("TIME", 1), max_current=32), SIMPLE)
    assert "periods[0] has no current" in refused(tariff)


@pytest.mark.parametrize(
    ("periods", "expected"),
    [
        ([charging(10, 1)], "periods[0] needs a start_date_time"),
        (
            [charging(10, 1, start=START), charging(10, 1, start=local("2024-03-04T09:20"))],
            "without gaps",
        ),
        (
            [charging(10, 1, start=START), {"state": "PARKING", "duration": 60, "energy": 1}],
            "PARKING but delivers energy",
        ),
        (
            [charging(10, 1, start=START), reserved(5, start=local("2024-03-04T09:10"))],
            "reservation after the session began",
        ),
        ([charging(10, -1, start=START)], "periods[0].energy -1 is negative"),
        ([{"start_date_time": START}], "needs an end_date_time or a duration"),
        (
            [{"start_date_time": START, "duration": 60, "end_date_time": START}],
            "both end_date_time and duration",
        ),
        ([charging(0, 1, start=START)], "delivers energy in no time"),
    ],
)
def test_usage_that_does_not_describe_a_session_is_refused(
    periods: list[dict[str, Any]], expected: str
) -> None:
    with pytest.raises(UsageError) as caught:
        price(make_tariff(SIMPLE), *periods)
    assert expected in str(caught.value)


def test_expired_reservation_followed_by_charging_is_refused() -> None:
    with pytest.raises(UsageError, match="reservation_expired is true"):
        price(make_tariff(SIMPLE), reserved(5, start=START), charging(10, 1), expired=True)


def test_pricing_errors_are_value_errors_with_a_kind() -> None:
    assert issubclass(TariffError, PricingError)
    assert issubclass(UsageError, PricingError)
    assert issubclass(PricingError, ValueError)


def test_a_session_file_with_an_unknown_field_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="enrgy"):
        usage({"start_date_time": START, "duration": 60, "enrgy": 5})


def test_refusal_happens_even_when_the_bad_element_would_never_be_reached() -> None:
    tariff = make_tariff(SIMPLE, element(component("TIME", -1)))
    with pytest.raises(TariffError, match=r"elements\[1\]"):
        price_session(tariff, usage(charging(60, 10, start=START), parking(5)))
