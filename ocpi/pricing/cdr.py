"""A CDR read back as a priced session: its usage periods and the tariff it names (pure).

Whoever checks a CDR (the eMSP before invoicing, `roam conformance` before trusting a CPO)
prices the session the CDR describes with the same engine the CPO should have used: one
usage period per charging period, against the tariff the periods name (spec mod_cdrs,
ChargingPeriod and CDR `tariffs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from ocpi.pricing.errors import PricingError
from ocpi.pricing.usage import SessionUsage, UsagePeriod, UsageState
from ocpi.v221.cdrs import CDR, CdrDimensionType, ChargingPeriod
from ocpi.v221.tariffs import Tariff

__all__ = ["cdr_tariff", "usage_from_cdr", "usage_from_periods"]


def usage_from_cdr(cdr: CDR, time_zone: str) -> SessionUsage:
    """The delivered session: one usage period per CDR charging period.

    A period runs from its start_date_time to the next one's (the last to the CDR's
    end_date_time); ENERGY or TIME makes it CHARGING, PARKING_TIME PARKING, RESERVATION_TIME
    RESERVATION. The CDR carries no current, so `min_current`/`max_current` restrictions
    are judged on nothing (the engine raises PricingError for them).
    """
    return usage_from_periods(cdr.charging_periods, cdr.end_date_time, time_zone)


def usage_from_periods(
    charging_periods: Sequence[ChargingPeriod], end: datetime, time_zone: str
) -> SessionUsage:
    """Charging periods (a CDR's, or a Session's so far) as usage, the last one ending at
    `end`. Session-only dimensions (CURRENT, POWER, STATE_OF_CHARGE...) are not priced."""
    periods = sorted(charging_periods, key=lambda p: p.start_date_time)
    items: list[UsagePeriod] = []
    for index, period in enumerate(periods):
        until = periods[index + 1].start_date_time if index + 1 < len(periods) else end
        dims: dict[CdrDimensionType, Decimal] = {}
        for dimension in period.dimensions:
            dims[dimension.type] = dims.get(dimension.type, Decimal(0)) + dimension.volume
        if CdrDimensionType.RESERVATION_TIME in dims:
            state = UsageState.RESERVATION
        elif CdrDimensionType.PARKING_TIME in dims and not (
            CdrDimensionType.ENERGY in dims or CdrDimensionType.TIME in dims
        ):
            state = UsageState.PARKING
        else:
            state = UsageState.CHARGING
        energy = dims.get(CdrDimensionType.ENERGY, Decimal(0))
        items.append(
            UsagePeriod(
                state=state,
                start_date_time=period.start_date_time,
                end_date_time=until,
                energy=energy if state is UsageState.CHARGING else Decimal(0),
            )
        )
    return SessionUsage(time_zone=time_zone, periods=items)


def cdr_tariff(cdr: CDR, stored: Mapping[str, Tariff]) -> Tariff:
    """The tariff the CDR was priced with: the one its periods name, from the CDR's own
    `tariffs` (spec: the tariffs as at session start) or else from the stored ones."""
    named = {p.tariff_id for p in cdr.charging_periods if p.tariff_id}
    if len(named) > 1:
        raise PricingError(
            f"the charging periods use {len(named)} tariffs ({', '.join(sorted(named))}); "
            "a session switching tariffs is checked by hand"
        )
    own = {t.id: t for t in cdr.tariffs or []}
    if named:
        (tariff_id,) = named
        found = own.get(tariff_id) or stored.get(tariff_id)
        if found is None:
            raise PricingError(f"tariff {tariff_id} is neither in the CDR nor known here")
        return found
    if len(own) == 1:
        return next(iter(own.values()))
    raise PricingError("the CDR names no tariff (no tariff_id in its periods, no single tariff)")
