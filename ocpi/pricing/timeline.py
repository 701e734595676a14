"""The session cut into pieces inside which no restriction can change.

Spec mod_cdrs, ChargingPeriod: a new period starts "every moment … another Price Component
becomes active". The pieces are cut at every instant that could be such a moment: the usage
periods' own boundaries, every start_time/end_time and every local midnight (day_of_week,
start_date/end_date) in the Location's time zone, every UTC-offset change of that zone, every
min/max_duration instant and every min/max_kwh crossing. Extra cuts cost nothing: prices are
linear within a piece and step_size works on session totals.

Positions are exact Decimal seconds after the session's first instant. A cut inside a period
shares its energy linearly by time; a kWh crossing is placed by linear interpolation, with the
energy on each side exactly the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from ocpi.pricing.numbers import ENERGY_QUANTUM, INSTANT_QUANTUM, seconds, to_timedelta
from ocpi.pricing.usage import Segment, UsageState

__all__ = ["Piece", "Timeline", "cut_timeline"]


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of one usage period during which every restriction keeps its value."""

    source: int
    """Index of the usage period it comes from."""
    state: UsageState
    start: Decimal
    end: Decimal
    """Seconds after the session's first instant."""
    energy: Decimal
    power: Decimal
    current: Decimal | None

    @property
    def seconds(self) -> Decimal:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Timeline:
    origin: datetime
    zone: ZoneInfo
    pieces: tuple[Piece, ...]
    reservation_start: Decimal | None
    session_start: Decimal | None

    def instant(self, offset: Decimal) -> datetime:
        """The UTC instant `offset` seconds after the origin (floored to the microsecond)."""
        return self.origin + to_timedelta(offset)

    def local(self, offset: Decimal) -> datetime:
        return self.instant(offset).astimezone(self.zone)

    def elapsed(self, piece: Piece) -> Decimal:
        """Seconds since the start of the piece's phase (reservation or session)."""
        if piece.state is UsageState.RESERVATION:
            start = self.reservation_start
        else:
            start = self.session_start
        assert start is not None
        return piece.start - start


def _local_time_cuts(
    origin: datetime, total: Decimal, zone: ZoneInfo, times: frozenset[int]
) -> set[Decimal]:
    """Instants at which the local wall clock reads one of `times` (seconds after midnight).

    Both folds are taken, so a time that occurs twice when clocks go back is cut twice; a
    time that does not occur when clocks go forward is covered by the offset-change cut.
    """
    cuts: set[Decimal] = set()
    end = origin + to_timedelta(total)
    day = origin.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        midnight = datetime.combine(day, time())
        for second in times:
            naive = midnight + timedelta(seconds=second)
            for fold in (0, 1):
                instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
                offset = seconds(instant - origin)
                if 0 < offset < total:
                    cuts.add(offset)
        day += timedelta(days=1)
    return cuts


def _utc_offset(instant: datetime, zone: ZoneInfo) -> timedelta | None:
    return instant.astimezone(zone).utcoffset()


def _offset_changes(origin: datetime, zone: ZoneInfo, points: list[Decimal]) -> set[Decimal]:
    """Instants (to the microsecond) where the zone's UTC offset changes between the points."""
    found: set[Decimal] = set()
    for a, b in pairwise(points):
        low, high = origin + to_timedelta(a), origin + to_timedelta(b)
        while _utc_offset(low, zone) != _utc_offset(high, zone):
            before, after = low, high
            while after - before > timedelta(microseconds=1):
                middle = before + (after - before) // 2
                if _utc_offset(middle, zone) == _utc_offset(low, zone):
                    before = middle
                else:
                    after = middle
            found.add(seconds(after - origin))
            low = after
    return found


def _split_at(piece: Piece, cuts: list[Decimal]) -> list[Piece]:
    """Cut a piece at the given instants, sharing its energy in proportion to time."""
    inside = [cut for cut in cuts if piece.start < cut < piece.end]
    if not inside:
        return [piece]
    parts: list[Piece] = []
    start, delivered = piece.start, Decimal(0)
    for cut in [*inside, piece.end]:
        if cut == piece.end:
            share = piece.energy
        else:
            share = (piece.energy * (cut - piece.start) / piece.seconds).quantize(ENERGY_QUANTUM)
        parts.append(
            Piece(
                piece.source,
                piece.state,
                start,
                cut,
                share - delivered,
                piece.power,
                piece.current,
            )
        )
        start, delivered = cut, share
    return parts


def _split_at_kwh(pieces: list[Piece], thresholds: frozenset[Decimal]) -> list[Piece]:
    """Cut charging pieces where the session's energy crosses a min_kwh/max_kwh value."""
    result: list[Piece] = []
    energy = Decimal(0)
    for piece in pieces:
        crossed = sorted(k for k in thresholds if energy < k < energy + piece.energy)
        start, before = piece.start, energy
        for threshold in crossed:
            fraction = (threshold - energy) / piece.energy
            cut = (piece.start + piece.seconds * fraction).quantize(INSTANT_QUANTUM)
            result.append(
                Piece(
                    piece.source,
                    piece.state,
                    start,
                    cut,
                    threshold - before,
                    piece.power,
                    piece.current,
                )
            )
            start, before = cut, threshold
        energy += piece.energy
        result.append(
            Piece(
                piece.source,
                piece.state,
                start,
                piece.end,
                energy - before,
                piece.power,
                piece.current,
            )
        )
    return result


def cut_timeline(
    segments: list[Segment],
    zone: ZoneInfo,
    times_of_day: frozenset[int],
    kwh_thresholds: frozenset[Decimal],
    durations: frozenset[int],
) -> Timeline:
    """Cut the usage periods at every instant a restriction could change (module docstring)."""
    origin = segments[0].start
    base = [
        Piece(
            segment.index,
            segment.state,
            seconds(segment.start - origin),
            seconds(segment.end - origin),
            segment.energy,
            segment.average_power(),
            segment.current,
        )
        for segment in segments
    ]
    total = base[-1].end
    reservation_start = next((p.start for p in base if p.state is UsageState.RESERVATION), None)
    session_start = next((p.start for p in base if p.state is not UsageState.RESERVATION), None)

    cuts = _local_time_cuts(origin, total, zone, times_of_day)
    for phase_start in (reservation_start, session_start):
        if phase_start is not None:
            cuts.update(phase_start + d for d in durations if 0 < phase_start + d < total)
    points = sorted({Decimal(0), total, *cuts, *(p.start for p in base)})
    cuts.update(_offset_changes(origin, zone, points))
    ordered = sorted(cuts)

    pieces = [part for piece in base for part in _split_at(piece, ordered)]
    pieces = _split_at_kwh(pieces, kwh_thresholds)
    return Timeline(origin, zone, tuple(pieces), reservation_start, session_start)
