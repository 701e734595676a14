"""What was (or will be) consumed: the session a tariff is priced against.

A session is a contiguous list of usage periods, each CHARGING, PARKING (plugged in, not
requesting power) or RESERVATION (EVSE held before the session), with the kWh delivered and
optionally the average power and current. Times are absolute (RFC 3339 with `Z` or an
offset); the Location's IANA `time_zone` says how restrictions read them (spec mod_tariffs,
TariffRestrictions: "local time, the time zone is defined in the time_zone field of the
Location"). The file format of `roam tariff price` is this model as JSON (docs/pricing.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ocpi.pricing.errors import UsageError
from ocpi.pricing.numbers import SECONDS_PER_HOUR, seconds
from ocpi.v221.types import Number

__all__ = [
    "Segment",
    "SessionUsage",
    "UsagePeriod",
    "UsageState",
    "load_zone",
    "resolve_usage",
]


class UsageState(StrEnum):
    """What the EVSE is doing for this customer during a period."""

    CHARGING = "CHARGING"
    PARKING = "PARKING"
    RESERVATION = "RESERVATION"


class _InputModel(BaseModel):
    # A hand-written session file with a misspelt field must fail, not be priced without it.
    model_config = ConfigDict(extra="forbid", frozen=True)


class UsagePeriod(_InputModel):
    """One stretch of the session with one state and (roughly) constant power.

    Give `end_date_time` or `duration`; `start_date_time` is needed on the first period only
    (later periods start where the previous one ended). Restrictions on power and current are
    judged on this period's `power` and `current`; when `power` is left out for a CHARGING
    period it is the average, energy / duration.
    """

    state: UsageState = UsageState.CHARGING
    start_date_time: AwareDatetime | None = None
    end_date_time: AwareDatetime | None = None
    duration: timedelta | None = None
    energy: Number = Decimal(0)
    """kWh delivered in this period (0 unless CHARGING)."""
    power: Number | None = None
    """kW, average over the period."""
    current: Number | None = None
    """A, summed over the phases (spec TariffRestrictions.min_current)."""


class SessionUsage(_InputModel):
    """A whole session: the optional reservation first, then charging and parking."""

    time_zone: str
    """IANA zone of the Location (Location.time_zone), e.g. "Europe/Amsterdam"."""
    periods: Annotated[list[UsagePeriod], Field(min_length=1)]
    reservation_expired: bool = False
    """The reservation ran out without a charging session (prices RESERVATION_EXPIRES)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A validated usage period with absolute UTC start and end."""

    index: int
    state: UsageState
    start: datetime
    end: datetime
    energy: Decimal
    power: Decimal | None
    current: Decimal | None
    written_offset: tzinfo = UTC
    """The UTC offset the user wrote for this period's end (else its start, else the period
    before's), so that messages show times as the user wrote them, not converted to UTC."""

    @property
    def seconds(self) -> Decimal:
        return seconds(self.end - self.start)

    @property
    def written_end(self) -> datetime:
        return self.end.astimezone(self.written_offset)

    def average_power(self) -> Decimal:
        """kW for power restrictions: the given power, else energy / duration (0 if no time)."""
        if self.power is not None:
            return self.power
        duration = self.seconds
        if duration == 0:
            return Decimal(0)
        return self.energy * SECONDS_PER_HOUR / duration


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone, or UsageError naming it (never a silent fall-back to UTC)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {name!r} (expected an IANA name)") from None


def _check_number(value: Decimal | None, where: str) -> None:
    if value is None:
        return
    if not value.is_finite():
        raise UsageError(f"{where} is not a finite number")
    if value < 0:
        raise UsageError(f"{where} {value} is negative")


def _end(period: UsagePeriod, start: datetime, where: str) -> datetime:
    if period.end_date_time is not None and period.duration is not None:
        raise UsageError(f"{where} gives both end_date_time and duration; give one")
    if period.end_date_time is not None:
        end = period.end_date_time.astimezone(UTC)
    elif period.duration is not None:
        end = start + period.duration
    else:
        raise UsageError(f"{where} needs an end_date_time or a duration")
    if end < start:
        raise UsageError(f"{where} ends before it starts")
    return end


def _span(delta: timedelta) -> str:
    """A gap or overlap for a message: "15 minutes", "1 hour 30 minutes", "0.5 seconds"."""
    whole = delta.days * 86_400 + delta.seconds
    hours_, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours_, "hour"), (minutes, "minute")]
    shown = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    if delta.microseconds:
        fraction = format(seconds(timedelta(seconds=secs, microseconds=delta.microseconds)), "f")
        shown.append(f"{fraction.rstrip('0')} seconds")
    elif secs or not shown:
        shown.append(f"{secs} second{'s' if secs != 1 else ''}")
    return " ".join(shown)


def _check_follows(where: str, written: datetime, before: Segment) -> None:
    """Refuse a gap or overlap, showing both times in the offsets the user wrote them in."""
    start = written.astimezone(UTC)
    if start == before.end:
        return
    if start > before.end:
        kind, size = "a gap", start - before.end
    else:
        kind, size = "an overlap", before.end - start
    raise UsageError(
        f"{where} starts at {written.isoformat()} but the period before ends at "
        f"{before.written_end.isoformat()}, {kind} of {_span(size)}; periods must follow "
        "each other without gaps or overlaps"
    )


def _written_offset(period: UsagePeriod, before: Segment | None) -> tzinfo:
    for written in (period.end_date_time, period.start_date_time):
        if written is not None and written.tzinfo is not None:
            return written.tzinfo
    return UTC if before is None else before.written_offset


def _segment(index: int, period: UsagePeriod, before: Segment | None) -> Segment:
    where = f"periods[{index}]"
    if period.start_date_time is not None:
        start = period.start_date_time.astimezone(UTC)
        if before is not None:
            _check_follows(where, period.start_date_time, before)
    elif before is not None:
        start = before.end
    else:
        raise UsageError(f"{where} needs a start_date_time (the first period does)")
    end = _end(period, start, where)
    _check_number(period.energy, f"{where}.energy")
    _check_number(period.power, f"{where}.power")
    _check_number(period.current, f"{where}.current")
    if period.energy > 0 and period.state is not UsageState.CHARGING:
        raise UsageError(f"{where} is {period.state.value} but delivers energy")
    if period.energy > 0 and end == start:
        raise UsageError(f"{where} delivers energy in no time")
    if (
        period.state is UsageState.RESERVATION
        and before is not None
        and before.state is not UsageState.RESERVATION
    ):
        raise UsageError(f"{where} is a reservation after the session began")
    return Segment(
        index,
        period.state,
        start,
        end,
        period.energy,
        period.power,
        period.current,
        _written_offset(period, before),
    )


def resolve_usage(usage: SessionUsage) -> list[Segment]:
    """Check the periods and pin each one to absolute UTC start and end times.

    Refused: a first period without start, a period with neither or both of end and
    duration, one that ends before it starts, gaps or overlaps between periods, negative
    energy/power/current, energy outside CHARGING, a reservation after the session began,
    and `reservation_expired` on anything but a reservation alone.
    """
    segments: list[Segment] = []
    for index, period in enumerate(usage.periods):
        segments.append(_segment(index, period, segments[-1] if segments else None))
    if usage.reservation_expired and any(
        segment.state is not UsageState.RESERVATION for segment in segments
    ):
        raise UsageError(
            "reservation_expired is true but the session has CHARGING or PARKING periods "
            "(an expired reservation is one not followed by a charging session)"
        )
    return segments
