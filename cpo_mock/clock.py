"""The one clock of a mock CPO: real time, accelerated (×N) or stepped by a scenario.

Every timestamp the CPO produces (session periods, CDRs, last_updated, retry times) comes
from here, so a scenario that steps the clock gets the same results on every run. Times are
UTC and kept at millisecond precision, the finest an OCPI DateTime carries, so that what is
stored equals what is sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class ClockMode(StrEnum):
    REAL = "real"
    ACCELERATED = "accelerated"
    STEPPED = "stepped"


def to_millis(moment: datetime) -> datetime:
    """`moment` in UTC, cut to whole milliseconds."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class Clock:
    """Simulated time. `now()` never goes backwards."""

    mode: ClockMode

    def now(self) -> datetime:
        raise NotImplementedError

    def advance(self, delta: timedelta) -> datetime:
        """Move a stepped clock forward; other clocks refuse (they run by themselves)."""
        raise ValueError(f"a {self.mode.value} clock runs by itself and cannot be stepped")


class RealClock(Clock):
    mode = ClockMode.REAL

    def __init__(self, source: Callable[[], datetime] | None = None) -> None:
        self._source = source or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return to_millis(self._source())


class AcceleratedClock(Clock):
    """Runs `speed` times faster than the wall clock from `start` (e.g. ×60: a minute a second).

    `monotonic` is injectable so that tests can drive it without sleeping.
    """

    mode = ClockMode.ACCELERATED

    def __init__(
        self,
        start: datetime,
        speed: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("an accelerated clock needs a speed above 0")
        self.start = to_millis(start)
        self.speed = speed
        self._monotonic = monotonic
        self._origin = monotonic()

    def now(self) -> datetime:
        elapsed = (self._monotonic() - self._origin) * self.speed
        return to_millis(self.start + timedelta(seconds=elapsed))


class SteppedClock(Clock):
    """Stands still until a scenario (or a test) moves it with `advance`."""

    mode = ClockMode.STEPPED

    def __init__(self, start: datetime) -> None:
        self._now = to_millis(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time does not run backwards: the step must not be negative")
        self._now = to_millis(self._now + delta)
        return self._now


def make_clock(mode: ClockMode, start: datetime | None, speed: float) -> Clock:
    """The clock a configuration asks for. `start` is where simulated time begins (or
    resumes, after a restart); a real clock ignores it."""
    if mode is ClockMode.REAL:
        return RealClock()
    begin = start or datetime.now(UTC)
    if mode is ClockMode.ACCELERATED:
        return AcceleratedClock(begin, speed)
    return SteppedClock(begin)
