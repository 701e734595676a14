"""From meter periods to OCPI: Session charging periods, the priced usage and the CDR (pure).

A session is a list of closed meter periods (RESERVATION, then CHARGING and PARKING, spec
mod_sessions/mod_cdrs), each with the watt-hour-exact energy the meter read. The same periods
are the `SessionUsage` the shared tariff engine prices (ocpi.pricing), so a running session's
`total_cost` and the CDR's totals are exactly what `price_session` says for that usage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from cpo_mock.model import MeterPeriod, SessionSim
from ocpi.pricing import (
    PricedSession,
    PricingError,
    SessionUsage,
    UsagePeriod,
    UsageState,
    price_session,
)
from ocpi.v221.cdrs import CDR, CdrDimension, CdrDimensionType, CdrLocation, ChargingPeriod
from ocpi.v221.locations import EVSE, Connector, Location
from ocpi.v221.tariffs import PriceComponent, Tariff, TariffDimensionType, TariffElement
from ocpi.v221.types import Price

NOT_APPLICABLE = "#NA"
HOURS = Decimal("0.0001")
FREE_TARIFF_ID = "FREE"


def hours(start: datetime, end: datetime) -> Decimal:
    millis = Decimal(round((end - start).total_seconds() * 1000))
    return (millis / Decimal(3_600_000)).quantize(HOURS)


def cdr_location(location: Location, evse: EVSE, connector: Connector | None) -> CdrLocation:
    """The location as the CDR reports it; for a reservation without a connector the
    connector fields are `#NA` / the EVSE's first connector (spec: to be ignored)."""
    shown = connector or evse.connectors[0]
    return CdrLocation(
        id=location.id,
        name=location.name,
        address=location.address,
        city=location.city,
        postal_code=location.postal_code,
        state=location.state,
        country=location.country,
        coordinates=location.coordinates,
        evse_uid=evse.uid,
        evse_id=evse.evse_id or evse.uid,
        connector_id=connector.id if connector is not None else NOT_APPLICABLE,
        connector_standard=shown.standard,
        connector_format=shown.format,
        connector_power_type=shown.power_type,
    )


def free_tariff(country_code: str, party_id: str, currency: str, at: datetime) -> Tariff:
    """Spec mod_tariffs: "free of charge" is one element with one FLAT component of 0.00."""
    return Tariff(
        country_code=country_code,
        party_id=party_id,
        id=FREE_TARIFF_ID,
        currency=currency,
        elements=[
            TariffElement(
                price_components=[
                    PriceComponent(type=TariffDimensionType.FLAT, price=Decimal(0), step_size=0)
                ]
            )
        ],
        last_updated=at,
    )


def choose_tariff(
    connector: Connector | None, tariffs: dict[str, Tariff], at: datetime
) -> Tariff | None:
    """The connector's tariff in force at `at` (spec: tariff_ids, at most one active per
    type; REGULAR or untyped preferred, as for RFID and app sessions without preferences)."""
    if connector is None:
        return None
    candidates = [tariffs[t] for t in connector.tariff_ids or [] if t in tariffs]
    valid = [
        t
        for t in candidates
        if (t.start_date_time is None or t.start_date_time <= at)
        and (t.end_date_time is None or at < t.end_date_time)
    ]
    regular = [t for t in valid if t.type is None or t.type.value == "REGULAR"]
    chosen = regular or valid
    return chosen[0] if chosen else None


def session_period(period: MeterPeriod, tariff_id: str | None) -> ChargingPeriod:
    """A Session ChargingPeriod; sessions may carry the session-only dimensions too."""
    duration = hours(period.start, period.end)
    dims: list[CdrDimension] = []
    if period.state is UsageState.CHARGING:
        dims.append(CdrDimension(type=CdrDimensionType.ENERGY, volume=period.energy))
        dims.append(CdrDimension(type=CdrDimensionType.TIME, volume=duration))
        seconds = Decimal(round((period.end - period.start).total_seconds() * 1000)) / 1000
        if seconds > 0:
            power = (period.energy * 3600 / seconds).quantize(Decimal("0.001"))
            dims.append(CdrDimension(type=CdrDimensionType.POWER, volume=power))
        if period.current is not None:
            dims.append(CdrDimension(type=CdrDimensionType.CURRENT, volume=period.current))
    elif period.state is UsageState.PARKING:
        dims.append(CdrDimension(type=CdrDimensionType.PARKING_TIME, volume=duration))
    else:
        dims.append(CdrDimension(type=CdrDimensionType.RESERVATION_TIME, volume=duration))
    if period.soc is not None and period.state is not UsageState.RESERVATION:
        soc = Decimal(str(round(period.soc * 100, 1)))
        dims.append(CdrDimension(type=CdrDimensionType.STATE_OF_CHARGE, volume=soc))
    return ChargingPeriod(start_date_time=period.start, dimensions=dims, tariff_id=tariff_id)


def usage(sim: SessionSim, periods: Sequence[MeterPeriod]) -> SessionUsage:
    """The priced usage: one UsagePeriod per meter period (at least one, maybe empty)."""
    items = [
        UsagePeriod(
            state=p.state,
            start_date_time=p.start,
            end_date_time=p.end,
            energy=p.energy,
            current=p.current if p.state is UsageState.CHARGING else None,
        )
        for p in periods
    ]
    if not items:
        at = sim.session.start_date_time
        items = [UsagePeriod(state=UsageState.CHARGING, start_date_time=at, end_date_time=at)]
    expired = sim.reservation_expired and all(p.state is UsageState.RESERVATION for p in periods)
    return SessionUsage(time_zone=sim.time_zone, periods=items, reservation_expired=expired)


def tariff_of(sim: SessionSim) -> Tariff:
    session = sim.session
    return sim.tariff or free_tariff(
        session.country_code, session.party_id, session.currency, sim.cdr_start
    )


def price(sim: SessionSim, periods: Sequence[MeterPeriod]) -> PricedSession:
    """Price the periods with the session's tariff (PricingError when it cannot)."""
    return price_session(tariff_of(sim), usage(sim, periods))


def running_cost(sim: SessionSim, periods: Sequence[MeterPeriod]) -> Price | None:
    """The Session's total_cost so far; None ("unknown") when the tariff cannot price it."""
    try:
        return price(sim, periods).total.rounded(sim.session.currency)
    except PricingError:
        return None


def build_cdr(sim: SessionSim, cdr_id: str, now: datetime) -> CDR:
    """The CDR of a finished session, priced by the shared engine (spec mod_cdrs)."""
    session = sim.session
    tariff = tariff_of(sim)
    remark = None
    try:
        priced = price_session(tariff, usage(sim, sim.periods))
    except PricingError as exc:
        # A tariff the engine refuses cannot be billed: the session is free, and says why.
        remark = f"tariff {tariff.id} could not be applied: {exc}"[:255]
        tariff = free_tariff(session.country_code, session.party_id, session.currency, now)
        priced = price_session(tariff, usage(sim, sim.periods))
    fields = priced.cdr_fields()
    return CDR(
        country_code=session.country_code,
        party_id=session.party_id,
        id=cdr_id,
        start_date_time=fields.start_date_time,
        end_date_time=fields.end_date_time,
        session_id=session.id,
        cdr_token=session.cdr_token,
        auth_method=session.auth_method,
        authorization_reference=session.authorization_reference,
        cdr_location=sim.cdr_location,
        meter_id=session.meter_id,
        currency=fields.currency,
        tariffs=[tariff],
        charging_periods=fields.charging_periods,
        total_cost=fields.total_cost,
        total_fixed_cost=fields.total_fixed_cost,
        total_energy=fields.total_energy,
        total_energy_cost=fields.total_energy_cost,
        total_time=fields.total_time,
        total_time_cost=fields.total_time_cost,
        total_parking_time=fields.total_parking_time,
        total_parking_cost=fields.total_parking_cost,
        total_reservation_cost=fields.total_reservation_cost,
        remark=remark,
        last_updated=now,
    )


CREDIT_SUFFIX = "-C"


def credit_cdr(original: CDR, now: datetime) -> CDR:
    """The credit CDR of a CDR already sent (spec mod_cdrs "Credit CDRs"): all the data of
    the original, a new id (the original's + "-C"), `credit` true, `credit_reference_id` the
    original's id, and only `total_cost` negated."""
    total = original.total_cost
    negated = Price(
        excl_vat=-total.excl_vat,
        incl_vat=None if total.incl_vat is None else -total.incl_vat,
    )
    return CDR.model_validate(
        {
            **original.model_dump(),
            "id": original.id + CREDIT_SUFFIX,
            "credit": True,
            "credit_reference_id": original.id,
            "total_cost": negated.model_dump(),
            "last_updated": now,
        }
    )
