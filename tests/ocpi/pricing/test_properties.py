"""Properties that must hold for every tariff and session, not just the spec's examples.

- Under a restriction-free tariff the price never decreases as energy or time grows (with
  the one exception the spec itself creates, stated on the test).
- min_price and max_price always hold, on both totals.
- A quote equals the CDR price of the same session delivered as planned.
- The price does not depend on the process's own time zone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ocpi.pricing import Amount, PlannedSession, PricedSession, price_session, quote
from ocpi.v221.locations import Connector
from ocpi.v221.tariffs import Tariff
from tests.ocpi.pricing.factories import make_tariff, usage

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = ["Europe/Amsterdam", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC"]

prices = st.decimals(min_value=0, max_value=20, places=2)
vats = st.one_of(st.none(), st.decimals(min_value=0, max_value=27, places=1))
steps = st.sampled_from([0, 1, 60, 300, 900, 1800, 3600])
energy_steps = st.sampled_from([0, 1, 100, 500, 1000])


@st.composite
def price_components(draw: st.DrawFn) -> list[dict[str, Any]]:
    dimensions = draw(
        st.lists(
            st.sampled_from(["FLAT", "ENERGY", "TIME", "PARKING_TIME"]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    return [
        {
            "type": dim,
            "price": draw(prices),
            "vat": draw(vats),
            "step_size": draw(energy_steps if dim == "ENERGY" else steps),
        }
        for dim in dimensions
    ]


@st.composite
def limits(draw: st.DrawFn) -> dict[str, Any]:
    found: dict[str, Any] = {}
    low = draw(st.one_of(st.none(), st.decimals(min_value=0, max_value=30, places=2)))
    high = draw(st.one_of(st.none(), st.decimals(min_value=0, max_value=60, places=2)))
    if low is not None and high is not None and low > high:
        low, high = high, low
    for name, bound in (("min_price", low), ("max_price", high)):
        if bound is not None:
            incl = draw(st.one_of(st.none(), st.just(bound * Decimal("1.2"))))
            found[name] = {"excl_vat": bound} | ({"incl_vat": incl} if incl is not None else {})
    return found


@st.composite
def plain_tariffs(draw: st.DrawFn, with_limits: bool = False) -> Tariff:
    """A tariff whose elements carry no restrictions."""
    elements = [
        {"price_components": draw(price_components())} for _ in range(draw(st.integers(1, 3)))
    ]
    return make_tariff(*elements, **(draw(limits()) if with_limits else {}))


@st.composite
def restrictions(draw: st.DrawFn) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if draw(st.booleans()):
        start, end = draw(st.lists(st.integers(0, 23), min_size=2, max_size=2, unique=True))
        options |= {"start_time": f"{start:02d}:00", "end_time": f"{end:02d}:30"}
    if draw(st.booleans()):
        options["day_of_week"] = draw(
            st.lists(
                st.sampled_from(["MONDAY", "WEDNESDAY", "SATURDAY", "SUNDAY"]),
                min_size=1,
                unique=True,
            )
        )
    if draw(st.booleans()):
        options["min_kwh"] = draw(st.decimals(min_value=0, max_value=40, places=1))
    if draw(st.booleans()):
        options["max_duration"] = draw(st.integers(60, 4 * 3600))
    if draw(st.booleans()):
        options["max_power"] = draw(st.decimals(min_value=1, max_value=50, places=1))
    return options


@st.composite
def any_tariffs(draw: st.DrawFn) -> Tariff:
    elements = [
        {"price_components": draw(price_components()), "restrictions": draw(restrictions())}
        for _ in range(draw(st.integers(1, 4)))
    ]
    elements.append({"price_components": draw(price_components())})
    return make_tariff(*elements, **draw(limits()))


starts = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))
kwh = st.decimals(min_value=0, max_value=80, places=3)
charge_seconds = st.integers(min_value=1, max_value=8 * 3600)
park_seconds = st.integers(min_value=0, max_value=3 * 3600)


def session(
    tariff: Tariff, start: datetime, energy: Decimal, charging: int, parking: int, zone: str = "UTC"
) -> PricedSession:
    periods: list[dict[str, Any]] = [
        {"start_date_time": start.isoformat(), "duration": charging, "energy": energy}
    ]
    if parking:
        periods.append({"state": "PARKING", "duration": parking})
    return price_session(tariff, usage(*periods, time_zone=zone))


def at_most(a: Amount, b: Amount) -> bool:
    return a.excl_vat <= b.excl_vat and a.incl_vat <= b.incl_vat


@SETTINGS
@given(plain_tariffs(with_limits=True), starts, kwh, kwh, charge_seconds, park_seconds)
def test_price_never_decreases_as_energy_grows(
    tariff: Tariff, start: datetime, energy: Decimal, more: Decimal, charging: int, parking: int
) -> None:
    less_priced = session(tariff, start, energy, charging, parking)
    more_priced = session(tariff, start, energy + more, charging, parking)
    assert at_most(less_priced.total, more_priced.total)


@SETTINGS
@given(plain_tariffs(with_limits=True), starts, kwh, charge_seconds, charge_seconds, park_seconds)
def test_price_never_decreases_as_charging_time_grows(
    tariff: Tariff, start: datetime, energy: Decimal, charging: int, more: int, parking: int
) -> None:
    shorter = session(tariff, start, energy, charging, parking)
    longer = session(tariff, start, energy, charging + more, parking)
    assert at_most(shorter.total, longer.total)


@SETTINGS
@given(plain_tariffs(with_limits=True), starts, kwh, charge_seconds, park_seconds, park_seconds)
def test_price_never_decreases_as_parking_time_grows(
    tariff: Tariff, start: datetime, energy: Decimal, charging: int, parking: int, more: int
) -> None:
    # Parking must already have begun: going from no parking to some parking can lower the
    # price, because the spec then stops rounding the charging time (mod_cdrs "step_size":
    # charging followed by parking is billed exactly) — 21 min charging at step 30 min bills
    # 30 min, 21 min + 1 s parking bills 21 min + one parking step.
    assume(parking > 0)
    shorter = session(tariff, start, energy, charging, parking)
    longer = session(tariff, start, energy, charging, parking + more)
    assert at_most(shorter.total, longer.total)


@SETTINGS
@given(any_tariffs(), starts, kwh, charge_seconds, park_seconds, st.sampled_from(ZONES))
def test_min_and_max_price_always_hold_on_both_totals(
    tariff: Tariff, start: datetime, energy: Decimal, charging: int, parking: int, zone: str
) -> None:
    priced = session(tariff, start, energy, charging, parking, zone)
    total, low, high = priced.total, tariff.min_price, tariff.max_price
    shown = total.rounded(tariff.currency)
    for bound, is_low in ((low, True), (high, False)):
        if bound is None:
            continue
        pairs = [(total.excl_vat, bound.excl_vat), (shown.excl_vat, bound.excl_vat)]
        if bound.incl_vat is not None:
            pairs += [(total.incl_vat, bound.incl_vat)]
        for value, limit in pairs:
            assert value >= limit if is_low else value <= limit


def _connector() -> Connector:
    return Connector.model_validate(
        {
            "id": "1",
            "standard": "IEC_62196_T2_COMBO",
            "format": "CABLE",
            "power_type": "DC",
            "max_voltage": 1000,
            "max_amperage": 500,
            "last_updated": "2024-01-01T00:00:00Z",
        }
    )


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[int, Decimal, list[int]]:
    """Charging time, a kWh-per-second rate, and where the meter cut it into periods."""
    seconds = draw(st.integers(min_value=60, max_value=6 * 3600))
    rate = draw(st.decimals(min_value=0, max_value=Decimal("0.0125"), places=5))
    cuts = draw(st.lists(st.integers(1, seconds - 1), max_size=4, unique=True))
    return seconds, rate, sorted(cuts)


def _close(a: Amount, b: Amount) -> bool:
    tolerance = Decimal("1e-15")
    return abs(a.excl_vat - b.excl_vat) < tolerance and abs(a.incl_vat - b.incl_vat) < tolerance


@SETTINGS
@given(any_tariffs(), starts, deliveries(), park_seconds, st.sampled_from(ZONES))
def test_quote_equals_the_cdr_price_of_the_session_delivered_as_planned(
    tariff: Tariff,
    start: datetime,
    delivery: tuple[int, Decimal, list[int]],
    parking: int,
    zone: str,
) -> None:
    seconds, rate, cuts = delivery
    power = rate * 3600
    planned = PlannedSession(
        start_date_time=start,
        energy=rate * seconds,
        charging_duration=timedelta(seconds=seconds),
        parking_duration=timedelta(seconds=parking),
    )
    quoted = quote(tariff, _connector(), planned, zone)
    # The CPO's meter cut the same constant-power delivery into several periods.
    bounds = [0, *cuts, seconds]
    periods: list[dict[str, Any]] = [
        {"duration": b - a, "energy": rate * (b - a), "power": power, "current": power}
        for a, b in pairwise(bounds)
    ]
    periods[0]["start_date_time"] = start.isoformat()
    if parking:
        periods.append({"state": "PARKING", "duration": parking})
    delivered = price_session(tariff, usage(*periods, time_zone=zone))
    # Exact up to the 1e-20 s grid of interpolated kWh crossings; equal once rounded.
    assert _close(quoted.priced.total, delivered.total)
    assert quoted.price == delivered.total.rounded(tariff.currency) or _near_a_tie(delivered.total)


def _near_a_tie(amount: Amount) -> bool:
    """Within 1e-15 of a half cent, where a 1e-20 difference may round either way."""
    return any(
        abs((value * 100) % 1 - Decimal("0.5")) < Decimal("1e-13")
        for value in (amount.excl_vat, amount.incl_vat)
    )


@contextmanager
def process_time_zone(name: str) -> Iterator[None]:
    """Run with the process's own TZ set to `name`, then restore it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@settings(max_examples=40, deadline=None)
@given(any_tariffs(), starts, kwh, charge_seconds, park_seconds, st.sampled_from(ZONES))
def test_the_price_does_not_depend_on_the_process_time_zone(
    tariff: Tariff,
    start: datetime,
    energy: Decimal,
    charging: int,
    parking: int,
    zone: str,
) -> None:
    results = []
    for process in ("UTC", "Pacific/Kiritimati", "America/St_Johns", "Asia/Kolkata"):
        with process_time_zone(process):
            now = datetime.now(UTC)
            assert now.astimezone().utcoffset() == now.astimezone(ZoneInfo(process)).utcoffset()
            priced = session(tariff, start, energy, charging, parking, zone)
            results.append((priced.total, priced.cdr_fields().to_json()))
    assert all(result == results[0] for result in results)
