"""Price a session against a Tariff: the OCPI 2.2.1 algorithm, exactly (docs/pricing.md).

1. Cut the session into pieces inside which no restriction changes (timeline module).
2. Per piece and per dimension, the first element whose restrictions all hold and that has a
   component of that dimension prices it (spec mod_tariffs, Tariff object); no such element,
   no cost for that dimension there.
3. step_size (spec mod_cdrs, "step_size"): once per session on total ENERGY, once on the time
   dimensions, with the step_size of the component of the last priced piece and the extra
   billed at that piece's price. When charging is followed by parking only the parking total
   is rounded; the reservation's time is rounded on its own.
4. FLAT: once for the reservation and once for the session, from the first piece that has
   a FLAT winner.
5. VAT per component; then min_price/max_price clamp the excl. and the incl. total each.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from ocpi.pricing.errors import TariffError, UsageError
from ocpi.pricing.money import Amount
from ocpi.pricing.numbers import SECONDS_PER_HOUR, WH_PER_KWH, exact, round_up_to_step
from ocpi.pricing.restrictions import Moment, holds
from ocpi.pricing.result import CostCategory, CostLine, PricedPeriod, PricedSession, PriceLimit
from ocpi.pricing.timeline import Piece, Timeline, cut_timeline
from ocpi.pricing.usage import Segment, SessionUsage, UsageState, load_zone, resolve_usage
from ocpi.pricing.validation import CompiledElement, CompiledTariff, Rate, compile_tariff
from ocpi.v221.tariffs import ReservationRestrictionType, Tariff, TariffDimensionType
from ocpi.v221.types import Price, format_datetime

__all__ = ["price_session"]

Dim = TariffDimensionType

# The dimension a piece consumes in each state, and the CDR cost field it adds to.
_CONSUMED: dict[UsageState, tuple[tuple[Dim, CostCategory], ...]] = {
    UsageState.CHARGING: ((Dim.ENERGY, CostCategory.ENERGY), (Dim.TIME, CostCategory.TIME)),
    UsageState.PARKING: ((Dim.PARKING_TIME, CostCategory.PARKING),),
    UsageState.RESERVATION: ((Dim.TIME, CostCategory.RESERVATION),),
}
_FLAT_CATEGORY = {
    UsageState.CHARGING: CostCategory.FIXED,
    UsageState.PARKING: CostCategory.PARKING,
    UsageState.RESERVATION: CostCategory.RESERVATION,
}
_DIMENSION_ORDER = {Dim.FLAT: 0, Dim.ENERGY: 1, Dim.TIME: 2, Dim.PARKING_TIME: 3}


@dataclass(frozen=True, slots=True)
class _Charge:
    """One dimension of one piece, priced by one rate; `billed` includes step rounding."""

    piece: int
    category: CostCategory
    rate: Rate
    used: Decimal
    billed: Decimal


def _check_validity(tariff: Tariff, start: datetime) -> None:
    """Spec Tariff.start_date_time/end_date_time: the tariff valid at session start applies."""
    if tariff.start_date_time is not None and start < tariff.start_date_time:
        raise TariffError(
            f"the tariff is not yet valid when the session starts ({format_datetime(start)}); "
            f"it starts at {format_datetime(tariff.start_date_time)}"
        )
    if tariff.end_date_time is not None and start > tariff.end_date_time:
        raise TariffError(
            f"the tariff is no longer valid when the session starts ({format_datetime(start)}); "
            f"it ended at {format_datetime(tariff.end_date_time)}"
        )


def _check_current(compiled: CompiledTariff, segments: list[Segment]) -> None:
    if not compiled.uses_current:
        return
    for segment in segments:
        if segment.state is UsageState.CHARGING and segment.current is None:
            raise UsageError(
                f"periods[{segment.index}] has no current, but the tariff has "
                "min_current/max_current restrictions"
            )


def _candidates(compiled: CompiledTariff, moment: Moment) -> list[CompiledElement]:
    """Elements in the order they are tried.

    Spec ReservationRestrictionType note: for an expired reservation the RESERVATION_EXPIRES
    element prices the time even where a RESERVATION element comes first in the list.
    """
    elements = list(compiled.elements)
    if moment.state is UsageState.RESERVATION and moment.reservation_expired:
        expires = ReservationRestrictionType.RESERVATION_EXPIRES
        elements.sort(key=lambda element: element.restrictions.reservation is not expires)
    return elements


def _choose(compiled: CompiledTariff, moment: Moment) -> dict[Dim, Rate]:
    """Per dimension, the rate of the first element whose restrictions all hold."""
    chosen: dict[Dim, Rate] = {}
    for element in _candidates(compiled, moment):
        missing = [dim for dim in element.rates if dim not in chosen]
        if missing and holds(element.restrictions, moment):
            for dim in missing:
                chosen[dim] = element.rates[dim]
    return chosen


def _moments(timeline: Timeline, expired: bool) -> list[Moment]:
    moments: list[Moment] = []
    energy = Decimal(0)
    for piece in timeline.pieces:
        moments.append(
            Moment(
                local=timeline.local(piece.start),
                state=piece.state,
                energy=energy,
                elapsed=timeline.elapsed(piece),
                power=piece.power,
                current=piece.current if piece.current is not None else Decimal(0),
                reservation_expired=expired,
            )
        )
        energy += piece.energy
    return moments


def _quantity(piece: Piece, dim: Dim) -> Decimal:
    return piece.energy if dim is Dim.ENERGY else piece.seconds


def _consumption_charges(
    pieces: tuple[Piece, ...], choices: list[dict[Dim, Rate]]
) -> list[_Charge]:
    charges: list[_Charge] = []
    for index, (piece, chosen) in enumerate(zip(pieces, choices, strict=True)):
        for dim, category in _CONSUMED[piece.state]:
            rate = chosen.get(dim)
            quantity = _quantity(piece, dim)
            if rate is not None and quantity > 0:
                charges.append(_Charge(index, category, rate, quantity, quantity))
    return charges


def _round_total(
    charges: list[_Charge], members: frozenset[CostCategory], step_unit: Decimal
) -> list[_Charge]:
    """Apply step_size once to a total (spec mod_cdrs "step_size").

    The last priced charge among `members` decides: its category's total is rounded up to
    a multiple of its component's step_size, and the extra is billed on that charge. Other
    categories in `members` stay exact (charging followed by parking: only parking rounds).
    """
    group = [i for i, charge in enumerate(charges) if charge.category in members]
    if not group:
        return charges
    last = charges[group[-1]]
    total = sum(
        (charges[i].used for i in group if charges[i].category is last.category), Decimal(0)
    )
    extra = round_up_to_step(total, last.rate.step_size * step_unit) - total
    result = list(charges)
    result[group[-1]] = replace(last, billed=last.billed + extra)
    return result


def _flat_charges(pieces: tuple[Piece, ...], choices: list[dict[Dim, Rate]]) -> list[_Charge]:
    """FLAT is billed once per phase: reservation, and session (charging and parking).

    The winner is taken in the first piece of the phase that has one; its category follows
    that piece's state (a fee first due while parking is a parking cost, spec CDR
    total_parking_cost "including fixed price components").
    """
    charges: list[_Charge] = []
    for reservation in (True, False):
        for index, (piece, chosen) in enumerate(zip(pieces, choices, strict=True)):
            if (piece.state is UsageState.RESERVATION) is not reservation:
                continue
            rate = chosen.get(Dim.FLAT)
            if rate is not None:
                category = _FLAT_CATEGORY[piece.state]
                charges.append(_Charge(index, category, rate, Decimal(1), Decimal(1)))
                break
    return charges


def _line_cost(dim: Dim, rate: Rate, billed: Decimal) -> Amount:
    if dim is Dim.ENERGY or dim is Dim.FLAT:
        excl = billed * rate.price
    else:
        excl = billed * rate.price / SECONDS_PER_HOUR
    return Amount.with_vat(excl, rate.vat)


def _lines(charges: list[_Charge]) -> list[CostLine]:
    """Group charges by (category, component), in order of first use, as the spec's tables."""
    ordered = sorted(
        charges,
        key=lambda c: (c.piece, _DIMENSION_ORDER[c.rate.price_component.type]),
    )
    groups: dict[tuple[CostCategory, int, int], list[_Charge]] = {}
    for charge in ordered:
        key = (charge.category, charge.rate.element, charge.rate.component)
        groups.setdefault(key, []).append(charge)
    lines: list[CostLine] = []
    for (category, element, component), members in groups.items():
        rate = members[0].rate
        dim = rate.price_component.type
        used = sum((c.used for c in members), Decimal(0))
        billed = sum((c.billed for c in members), Decimal(0))
        lines.append(
            CostLine(
                category=category,
                dimension=dim,
                element=element,
                component=component,
                price=rate.price,
                vat=rate.vat,
                used=used,
                billed=billed,
                cost=_line_cost(dim, rate, billed),
            )
        )
    return lines


def _clamp(
    value: Decimal, low: Decimal | None, high: Decimal | None
) -> tuple[Decimal, PriceLimit | None]:
    if low is not None and value < low:
        return low, PriceLimit.MIN_PRICE
    if high is not None and value > high:
        return high, PriceLimit.MAX_PRICE
    return value, None


def _limits(
    subtotal: Amount, min_price: Price | None, max_price: Price | None
) -> tuple[Amount, PriceLimit | None, PriceLimit | None]:
    """Spec Tariff min_price/max_price notes: "they both apply", excl. and incl. separately."""
    excl, excl_limit = _clamp(
        subtotal.excl_vat,
        min_price.excl_vat if min_price else None,
        max_price.excl_vat if max_price else None,
    )
    incl, incl_limit = _clamp(
        subtotal.incl_vat,
        min_price.incl_vat if min_price else None,
        max_price.incl_vat if max_price else None,
    )
    return Amount(excl, incl), excl_limit, incl_limit


def _periods(timeline: Timeline, choices: list[dict[Dim, Rate]]) -> tuple[PricedPeriod, ...]:
    periods: list[PricedPeriod] = []
    for piece, chosen in zip(timeline.pieces, choices, strict=True):
        elements = {dim: chosen[dim].element for dim, _ in _CONSUMED[piece.state] if dim in chosen}
        periods.append(
            PricedPeriod(
                source=piece.source,
                state=piece.state,
                start_date_time=timeline.instant(piece.start),
                end_date_time=timeline.instant(piece.end),
                energy=piece.energy,
                seconds=piece.seconds,
                elements=elements,
            )
        )
    return tuple(periods)


def price_session(tariff: Tariff, usage: SessionUsage) -> PricedSession:
    """Price `usage` against `tariff` (module docstring); raise PricingError if impossible.

    The result is exact; its output methods round (docs/pricing.md, "Rounding").
    """
    with exact():
        compiled = compile_tariff(tariff)
        zone = load_zone(usage.time_zone)
        segments = resolve_usage(usage)
        _check_validity(tariff, segments[0].start)
        _check_current(compiled, segments)
        timeline = cut_timeline(
            segments,
            zone,
            compiled.times_of_day(),
            compiled.kwh_thresholds(),
            compiled.durations(),
        )
        choices = [
            _choose(compiled, moment) for moment in _moments(timeline, usage.reservation_expired)
        ]
        charges = _consumption_charges(timeline.pieces, choices)
        charges = _round_total(charges, frozenset({CostCategory.ENERGY}), 1 / WH_PER_KWH)
        charges = _round_total(
            charges, frozenset({CostCategory.TIME, CostCategory.PARKING}), Decimal(1)
        )
        charges = _round_total(charges, frozenset({CostCategory.RESERVATION}), Decimal(1))
        lines = _lines(charges + _flat_charges(timeline.pieces, choices))
        subtotal = Amount.zero()
        for line in lines:
            subtotal += line.cost
        total, excl_limit, incl_limit = _limits(subtotal, tariff.min_price, tariff.max_price)
        return PricedSession(
            tariff_id=tariff.id,
            currency=tariff.currency,
            time_zone=usage.time_zone,
            start_date_time=segments[0].start,
            end_date_time=segments[-1].end,
            periods=_periods(timeline, choices),
            lines=tuple(lines),
            subtotal=subtotal,
            total=total,
            excl_vat_limit=excl_limit,
            incl_vat_limit=incl_limit,
        )
