"""Exact arithmetic for pricing: the decimal context the engine runs in, and unit conversions.

Nothing inside the engine is rounded to money. Multiplications and sums of Decimals are exact;
the only inexact steps are divisions (seconds → hours, interpolation), carried to 60
significant digits and, where a result becomes a new boundary, snapped to a fixed grid so that
later sums stay exact (docs/pricing.md, "Rounding").
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, localcontext

__all__ = [
    "ENERGY_QUANTUM",
    "INSTANT_QUANTUM",
    "SECONDS_PER_HOUR",
    "WH_PER_KWH",
    "exact",
    "hours",
    "round_up_to_step",
    "seconds",
    "to_timedelta",
]

PRECISION = 60
_CONTEXT = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)

INSTANT_QUANTUM = Decimal("1e-20")
"""Grid (in seconds) of interpolated instants, e.g. the moment a kWh threshold is crossed."""

ENERGY_QUANTUM = Decimal("1e-24")
"""Grid (in kWh) of energy shares interpolated when a period is cut at a time boundary."""

SECONDS_PER_HOUR = Decimal(3600)
WH_PER_KWH = Decimal(1000)
_MICROS = Decimal(1_000_000)


def exact() -> AbstractContextManager[Context]:
    """The decimal context every pricing computation runs in, whatever the caller's context."""
    return localcontext(_CONTEXT)


def seconds(delta: timedelta) -> Decimal:
    """A timedelta as exact Decimal seconds (microsecond resolution, no float on the way)."""
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros).scaleb(-6)


def to_timedelta(value: Decimal) -> timedelta:
    """Decimal seconds as a timedelta, floored to the microsecond."""
    return timedelta(microseconds=int((value * _MICROS).to_integral_value(rounding=ROUND_FLOOR)))


def hours(value: Decimal) -> Decimal:
    """Seconds → hours, the spec's unit for TIME, PARKING_TIME and RESERVATION_TIME."""
    return value / SECONDS_PER_HOUR


def round_up_to_step(quantity: Decimal, step: Decimal) -> Decimal:
    """Smallest multiple of `step` that is >= `quantity` (spec PriceComponent.step_size).

    A step of 0 means no rounding (the spec's own free-of-charge example uses step_size 0).
    """
    if step <= 0:
        return quantity
    return (quantity / step).to_integral_value(rounding=ROUND_CEILING) * step
