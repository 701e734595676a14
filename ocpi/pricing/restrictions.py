"""TariffRestrictions: compiled once from the wire model, then judged at one moment of a session.

Spec mod_tariffs, TariffRestrictions class: all set restrictions are ANDed; they switch an
element on and off *during* a session, they do not qualify the whole session. Each test below
names its row of that table. The moment is the start of a piece of the session that the
timeline module has already cut at every instant a restriction could change, so judging the
start of the piece judges all of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ocpi.pricing.errors import TariffError
from ocpi.pricing.usage import UsageState
from ocpi.v221.tariffs import DayOfWeek, ReservationRestrictionType, TariffRestrictions

__all__ = ["Moment", "Restrictions", "compile_restrictions", "holds"]

DAY_SECONDS = 86_400
_TIME_RE = re.compile(r"^([0-1][0-9]|2[0-3]):([0-5][0-9])$")
_WEEKDAYS = {day: number for number, day in enumerate(DayOfWeek)}  # MONDAY = 0, as date.weekday


@dataclass(frozen=True, slots=True)
class Restrictions:
    """One element's restrictions, parsed: times of day in seconds, dates as dates."""

    start_time: int | None = None
    end_time: int | None = None
    """Seconds after local midnight; "00:00" as end_time is 86400, the end of the day."""
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    days: frozenset[int] | None = None
    reservation: ReservationRestrictionType | None = None

    @property
    def uses_current(self) -> bool:
        return self.min_current is not None or self.max_current is not None


@dataclass(frozen=True, slots=True)
class Moment:
    """The facts restrictions are judged on, at the start of a piece of the session."""

    local: datetime
    """Wall-clock time at the Location (aware, in the Location's time zone)."""
    state: UsageState
    energy: Decimal
    """kWh delivered in the session before this moment."""
    elapsed: Decimal
    """Seconds since the start of the session (of the reservation, for reservation pieces)."""
    power: Decimal
    current: Decimal
    reservation_expired: bool


def _time_of_day(text: str, where: str, *, is_end: bool) -> int:
    match = _TIME_RE.match(text)
    if match is None:
        raise TariffError(f"{where} {text!r} is not a time of day HH:MM")
    value = int(match[1]) * 3600 + int(match[2]) * 60
    # Spec end_time: "To stop at end of the day use: 00:00."
    return DAY_SECONDS if is_end and value == 0 else value


def _date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise TariffError(f"{where} {text!r} is not a real date YYYY-MM-DD") from None


def _bound(value: Decimal | None, where: str) -> Decimal | None:
    if value is not None and not value.is_finite():
        raise TariffError(f"{where} is not a finite number")
    if value is not None and value < 0:
        raise TariffError(f"{where} {value} is negative")
    return value


def _check_range(
    low: Decimal | int | None, high: Decimal | int | None, name: str, where: str
) -> None:
    if low is not None and high is not None and low >= high:
        raise TariffError(
            f"{where}: min_{name} {low} is not below max_{name} {high}, "
            "so the element could never apply"
        )


def compile_restrictions(restrictions: TariffRestrictions | None, where: str) -> Restrictions:
    """Parse and check one element's restrictions; `where` prefixes error messages.

    Refused (TariffError): malformed times and impossible dates, negative bounds, and empty
    ranges (min >= max, end_date not after start_date, start_time == end_time other than the
    whole day 00:00–00:00) — an element that can never apply is a mistake in the tariff.
    """
    if restrictions is None:
        return Restrictions()
    r = restrictions
    start_time = (
        _time_of_day(r.start_time, f"{where}.start_time", is_end=False) if r.start_time else None
    )
    end_time = _time_of_day(r.end_time, f"{where}.end_time", is_end=True) if r.end_time else None
    if start_time is not None and end_time is not None and start_time == end_time:
        raise TariffError(
            f"{where}: start_time and end_time are both {r.start_time}, "
            "so the element could never apply (use 00:00 to 00:00 for the whole day)"
        )
    start_date = _date(r.start_date, f"{where}.start_date") if r.start_date else None
    end_date = _date(r.end_date, f"{where}.end_date") if r.end_date else None
    if start_date is not None and end_date is not None and end_date <= start_date:
        raise TariffError(
            f"{where}: end_date {end_date} is not after start_date {start_date} "
            "(end_date is exclusive)"
        )
    compiled = Restrictions(
        start_time=start_time,
        end_time=end_time,
        start_date=start_date,
        end_date=end_date,
        min_kwh=_bound(r.min_kwh, f"{where}.min_kwh"),
        max_kwh=_bound(r.max_kwh, f"{where}.max_kwh"),
        min_current=_bound(r.min_current, f"{where}.min_current"),
        max_current=_bound(r.max_current, f"{where}.max_current"),
        min_power=_bound(r.min_power, f"{where}.min_power"),
        max_power=_bound(r.max_power, f"{where}.max_power"),
        min_duration=_int_bound(r.min_duration, f"{where}.min_duration"),
        max_duration=_int_bound(r.max_duration, f"{where}.max_duration"),
        days=frozenset(_WEEKDAYS[day] for day in r.day_of_week) if r.day_of_week else None,
        reservation=r.reservation,
    )
    c = compiled
    _check_range(c.min_kwh, c.max_kwh, "kwh", where)
    _check_range(c.min_current, c.max_current, "current", where)
    _check_range(c.min_power, c.max_power, "power", where)
    _check_range(c.min_duration, c.max_duration, "duration", where)
    return compiled


def _int_bound(value: int | None, where: str) -> int | None:
    if value is not None and value < 0:
        raise TariffError(f"{where} {value} is negative")
    return value


def _in_time_window(start: int | None, end: int | None, local: datetime) -> bool:
    """start_time / end_time: [start, end) in local time; end < start wraps past midnight."""
    if start is None and end is None:
        return True
    micros = (local.hour * 3600 + local.minute * 60 + local.second) * 1_000_000
    now = micros + local.microsecond
    after_start = start is None or now >= start * 1_000_000
    before_end = end is None or now < end * 1_000_000
    if start is not None and end is not None and end < start:
        return after_start or before_end
    return after_start and before_end


def _reservation_matches(kind: ReservationRestrictionType | None, moment: Moment) -> bool:
    """Spec `reservation`: such an element prices the reservation and nothing else.

    Elements without it never price reservation time (else tariff_15's start fee would be
    billed twice); RESERVATION_EXPIRES elements apply only to a reservation that expired.
    """
    if moment.state is not UsageState.RESERVATION:
        return kind is None
    if kind is ReservationRestrictionType.RESERVATION:
        return True
    if kind is ReservationRestrictionType.RESERVATION_EXPIRES:
        return moment.reservation_expired
    return False


def _in_range(value: Decimal, low: Decimal | int | None, high: Decimal | int | None) -> bool:
    """min_* inclusive, max_* exclusive: the spec's wording for kWh, current, power, duration."""
    return (low is None or value >= low) and (high is None or value < high)


def holds(r: Restrictions, moment: Moment) -> bool:
    """True when every restriction that is set holds at this moment (logical AND)."""
    local = moment.local
    return (
        _reservation_matches(r.reservation, moment)
        and (r.days is None or local.weekday() in r.days)
        and (r.start_date is None or local.date() >= r.start_date)
        and (r.end_date is None or local.date() < r.end_date)
        and _in_time_window(r.start_time, r.end_time, local)
        and _in_range(moment.energy, r.min_kwh, r.max_kwh)
        and _in_range(moment.current, r.min_current, r.max_current)
        and _in_range(moment.power, r.min_power, r.max_power)
        and _in_range(moment.elapsed, r.min_duration, r.max_duration)
    )
