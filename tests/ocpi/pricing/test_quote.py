"""The quote: what a planned session costs on a connector, with a breakdown a UI can show."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ocpi.pricing import PlannedSession, QuoteError, price_session, quote
from ocpi.pricing.quote import connector_max_power, planned_usage
from ocpi.v221.locations import Connector
from tests.ocpi.pricing.factories import (
    AMSTERDAM,
    charging,
    component,
    element,
    example_tariff,
    make_tariff,
    parking,
    usage,
)


def connector(**fields: Any) -> Connector:
    data: dict[str, Any] = {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 16,
        "last_updated": "2024-01-01T00:00:00Z",
    }
    data.update(fields)
    return Connector.model_validate(data)


def plan(start: str, kwh: str, charge: timedelta, park: timedelta = timedelta(0)) -> PlannedSession:
    return PlannedSession(
        start_date_time=datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(AMSTERDAM)),
        energy=Decimal(kwh),
        charging_duration=charge,
        parking_duration=park,
    )


def test_quote_for_the_tariff_4_monday_session_is_9_00_and_10_30(examples_dir: Path) -> None:
    # 11 kWh in 165 min is 4 kW: 4000 W / 230 V = 17.4 A summed over the phases, below the
    # 32 A of elements 2 and 3, so the low-current rate (element 1) applies.
    tariff = example_tariff(examples_dir, "tariff_4_complex")
    slow = connector(power_type="AC_1_PHASE", max_amperage=32, tariff_ids=["14"])
    found = quote(
        tariff,
        slow,
        plan("2024-03-04T09:30", "11", timedelta(minutes=165), timedelta(minutes=42)),
        AMSTERDAM,
    )
    assert (found.price.excl_vat, found.price.incl_vat) == (Decimal("9.00"), Decimal("10.30"))
    assert [(item.label, item.quantity, item.unit) for item in found.items] == [
        ("Start fee", 1, "fee"),
        ("Charging time", Decimal("2.75"), "h"),
        ("Parking time", Decimal("0.75"), "h"),
    ]
    assert found.items[2].cost.incl_vat == Decimal("4.13")
    assert found.to_json()["price"] == {"excl_vat": 9.0, "incl_vat": 10.3}


def test_quote_derives_current_from_power_and_voltage(examples_dir: Path) -> None:
    tariff = example_tariff(examples_dir, "tariff_4_complex")
    fast = connector(max_amperage=32)  # 22 kW, 3 phases
    found = quote(tariff, fast, plan("2024-03-04T09:30", "11", timedelta(hours=1)), AMSTERDAM)
    charging_line = next(i for i in found.items if i.label == "Charging time")
    assert charging_line.unit_price == Decimal(2)  # ≥ 32 A on a weekday


def test_quote_shows_the_price_limit_as_its_own_line(examples_dir: Path) -> None:
    tariff = example_tariff(examples_dir, "tariff_6_025kwh_start_max_price")
    found = quote(
        tariff,
        connector(max_amperage=32),
        plan("2019-06-03T09:00", "50", timedelta(hours=3)),
        AMSTERDAM,
    )
    assert found.price.excl_vat == Decimal(10)
    assert found.items[-1].label == "Maximum price"
    assert found.items[-1].cost.excl_vat == Decimal("-3.00")


def test_quote_refuses_more_power_than_the_connector_delivers() -> None:
    tariff = make_tariff(element(component("ENERGY", "0.3")))
    with pytest.raises(QuoteError, match=r"delivers at most 11.04 kW"):
        quote(tariff, connector(), plan("2024-03-04T09:00", "30", timedelta(hours=1)), AMSTERDAM)


def test_quote_refuses_a_tariff_the_connector_does_not_use() -> None:
    tariff = make_tariff(element(component("ENERGY", "0.3")))
    with pytest.raises(QuoteError, match="does not use tariff T1"):
        quote(
            tariff,
            connector(tariff_ids=["OTHER"]),
            plan("2024-03-04T09:00", "5", timedelta(hours=1)),
            AMSTERDAM,
        )


def test_quote_refuses_energy_without_charging_time() -> None:
    tariff = make_tariff(element(component("ENERGY", "0.3")))
    with pytest.raises(QuoteError, match="charging_duration is zero"):
        quote(tariff, connector(), plan("2024-03-04T09:00", "5", timedelta(0)), AMSTERDAM)


def test_connector_power_is_max_electric_power_else_phases_volts_amps() -> None:
    assert connector_max_power(connector()) == Decimal("11.04")
    assert connector_max_power(connector(max_electric_power=7400)) == Decimal("7.4")
    assert connector_max_power(connector(power_type="DC", max_voltage=400, max_amperage=125)) == 50


def test_quote_equals_the_price_of_the_session_delivered_as_planned() -> None:
    tariff = make_tariff(
        element(component("ENERGY", "0.2", vat=21), max_kwh=10),
        element(component("ENERGY", "0.35", vat=21)),
        element(component("PARKING_TIME", 3, vat=21, step_size=300), start_time="08:00"),
        element(component("FLAT", "0.5", vat=21)),
    )
    planned = plan("2024-03-04T07:10", "20", timedelta(minutes=120), timedelta(minutes=50))
    found = quote(tariff, connector(), planned, AMSTERDAM)
    start = planned.start_date_time.isoformat()
    delivered = price_session(
        tariff,
        usage(charging(30, 5, start=start, power=10), charging(90, 15, power=10), parking(50)),
    )
    assert found.priced.total == delivered.total
    assert found.price == delivered.total.rounded("EUR")


def test_planned_usage_starts_with_the_reservation_when_there_is_one() -> None:
    planned = PlannedSession(
        start_date_time=datetime(2024, 3, 4, 9, tzinfo=ZoneInfo(AMSTERDAM)),
        energy=Decimal(5),
        charging_duration=timedelta(hours=1),
        reservation_duration=timedelta(minutes=15),
    )
    periods = planned_usage(planned, connector(), AMSTERDAM).periods
    assert [p.state.value for p in periods] == ["RESERVATION", "CHARGING"]
    assert periods[0].start_date_time == planned.start_date_time - timedelta(minutes=15)
