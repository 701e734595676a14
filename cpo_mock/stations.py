"""What happens at the CPO's stations: EVSE status changes, sessions starting and ending,
reservations cancelled. Each step changes the state, persists it, then announces it (EVSE
status broadcast, Session PUT/PATCH, CDR). Functions over `CpoState`, lock held.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from decimal import Decimal

from cpo_mock import charging, meter, sessions
from cpo_mock.deliveries import queue_result, schedule_deliveries, send_session
from cpo_mock.evse import EvseEvent, next_status
from cpo_mock.model import ChargeSnapshot, EvseSim, SessionSim
from cpo_mock.state import CpoState, cdr_token_of, parse_party, same_token, session_tariff_id
from cpo_mock.store import CdrEntry
from ocpi.headers import PartyRef
from ocpi.pricing import UsageState
from ocpi.v221.cdrs import AuthMethod, CdrToken
from ocpi.v221.commands import CommandResultType
from ocpi.v221.locations import Status
from ocpi.v221.sessions import Session, SessionStatus
from ocpi.v221.tokens import Token
from ocpi.v221.types import format_datetime
from ocpi.v221.versions import ModuleID

PATCHED = ("status", "start_date_time", "end_date_time", "kwh", "total_cost", "last_updated")
"""The Session fields a PATCH carries (besides the new charging periods)."""


async def set_status(state: CpoState, evse: EvseSim, event: EvseEvent, at: datetime) -> Status:
    """Apply an event to the EVSE, persist, and broadcast the status if it changed."""
    state.require_lock()
    status = next_status(evse.status, event, evse.plug is not None)
    if status is evse.status:
        await state.save_evses(evse)
        return status
    evse.status = status
    location = state.locations[evse.location_id]
    evses = [
        e.model_copy(update={"status": status, "last_updated": at}) if e.uid == evse.evse_uid else e
        for e in location.evses or []
    ]
    # Spec mod_locations: a change of an EVSE updates the Location's last_updated too.
    location = location.model_copy(update={"evses": evses, "last_updated": at})
    state.locations[location.id] = location
    # Queued, not waited for: the PATCH goes once it is stored, the operation answers once it
    # is (simulation.caught_up), and a burst of changes shares a few writes (state.py).
    # Marked as not pushed in the same write: if the process dies before the hub answers, the
    # next start PUTs the location (deliveries.push_unpushed).
    version = state.next_push_version()
    written = state.save_status(evse, location, version)
    body = {"status": status.value, "last_updated": format_datetime(at)}
    segments = (*state.own, evse.location_id, evse.evse_uid)
    answered = functools.partial(state.pushed, "locations", location.id, version)
    lost = functools.partial(state.push_lost, "locations", location.id, version)
    state.link.broadcast("PATCH", ModuleID.LOCATIONS, segments, body, written, answered, lost)
    return status


async def force_status(state: CpoState, evse: EvseSim, event: EvseEvent, at: datetime) -> None:
    """FAULT/DISABLE, also from CHARGING (the session was ended just before)."""
    if evse.status is Status.CHARGING:
        evse.status = Status.BLOCKED if evse.plug is not None else Status.AVAILABLE
    await set_status(state, evse, event, at)


async def push_session(state: CpoState, sim: SessionSim, at: datetime) -> None:
    """Bring the Session up to date and send it: PATCH with the new periods, or PUT in full
    when the eMSP may have missed something (spec mod_sessions: PATCH appends periods)."""
    state.require_lock()
    session = sim.session
    tariff_id = session_tariff_id(sim)
    new = [sessions.session_period(p, tariff_id) for p in sim.periods[sim.sent_periods :]]
    sim.session = session.model_copy(
        update={
            "kwh": meter.meter(sim, at),
            "charging_periods": [*(session.charging_periods or []), *new] or None,
            "total_cost": sessions.running_cost(sim, sim.periods),
            "last_updated": at,
        }
    )
    sim.sent_periods = len(sim.periods)
    full = sim.session.to_json()
    if sim.needs_put:
        body, method = full, "PUT"
        sim.needs_put = False
    else:
        # Spec mod_sessions PATCH: the changed fields plus last_updated; charging_periods
        # are appended by the receiver, so only the new ones are sent.
        body, method = {key: full[key] for key in PATCHED if key in full}, "PATCH"
        if new:
            body["charging_periods"] = [p.to_json() for p in new]
    await state.save_session(sim)
    send_session(state, sim.session.id, method, body, PartyRef.parse(sim.emsp))


async def start_session(
    state: CpoState,
    evse: EvseSim,
    token: Token | CdrToken,
    auth_method: AuthMethod,
    authorization_reference: str | None,
    at: datetime,
) -> SessionSim:
    """A car is plugged in and authorized: charging begins (or a reservation turns into
    charging)."""
    state.require_lock()
    plug = evse.plug
    assert plug is not None
    location = state.locations[evse.location_id]
    evse_obj = state.find_evse(location, evse.evse_uid)
    assert evse_obj is not None
    connector = state.find_connector(evse_obj, plug.connector_id) or evse_obj.connectors[0]
    reservation = evse.reservation
    sim: SessionSim | None = None
    if reservation is not None and same_token(reservation.token, token):
        sim = state.sessions.get(reservation.session_id)
        evse.reservation = None
    vehicle = plug.vehicle.model_copy(update={"soc": plug.soc})
    limit = charging.connector_kw(connector)
    charge = charging.begin(
        vehicle, plug.soc, limit, connector.power_type, at, state.sim.meter_step
    )
    cdr_token = cdr_token_of(token)
    if sim is not None:
        meter.close_period(sim, at, reopen=UsageState.CHARGING)
        tariff = sessions.choose_tariff(connector, state.tariffs, sim.cdr_start) or sim.tariff
        sim.tariff = tariff
        sim.cdr_location = sessions.cdr_location(location, evse_obj, connector)
        sim.session = sim.session.model_copy(
            update={
                "status": SessionStatus.ACTIVE,
                "start_date_time": at,
                "connector_id": connector.id,
                "auth_method": auth_method,
                "authorization_reference": authorization_reference
                or sim.session.authorization_reference,
            }
        )
    else:
        tariff = sessions.choose_tariff(connector, state.tariffs, at)
        session = Session(
            country_code=state.party.country_code,
            party_id=state.party.party_id,
            id=state.new_session_id(),
            start_date_time=at,
            kwh=Decimal(0),
            cdr_token=cdr_token,
            auth_method=auth_method,
            authorization_reference=authorization_reference,
            location_id=location.id,
            evse_uid=evse_obj.uid,
            connector_id=connector.id,
            meter_id=evse_obj.evse_id,
            currency=tariff.currency if tariff else state.settings.currency,
            status=SessionStatus.ACTIVE,
            last_updated=at,
        )
        sim = SessionSim(
            session=session,
            emsp=f"{cdr_token.country_code.upper()}/{cdr_token.party_id.upper()}",
            cdr_location=sessions.cdr_location(location, evse_obj, connector),
            time_zone=location.time_zone,
            tariff=tariff,
            cdr_start=at,
            open_state=UsageState.CHARGING,
            open_start=at,
        )
        state.session_seq[session.id] = len(state.session_seq)
        state.sessions[session.id] = sim
    sim.vehicle = vehicle
    sim.limit_kw = limit
    sim.voltage = int(connector.max_voltage)
    sim.charge = ChargeSnapshot.of(charge)
    sim.open_meter = Decimal(0)
    sim.next_update = at + timedelta(seconds=state.sim.session_update_interval)
    evse.pending = None
    evse.session_id = sim.session.id
    await set_status(state, evse, EvseEvent.START, at)
    await push_session(state, sim, at)
    return sim


async def finish(state: CpoState, sim: SessionSim, at: datetime, reason: str) -> None:
    """End a session at `at`: final Session update, then the priced CDR."""
    state.require_lock()
    if sim.open_state is UsageState.CHARGING:
        meter.advance_charge(sim, at)
    meter.close_period(sim, at, reopen=None)
    sim.next_update = None
    sim.stop_reason = reason
    sim.session = sim.session.model_copy(
        update={"status": SessionStatus.COMPLETED, "end_date_time": at}
    )
    await push_session(state, sim, at)
    evse = state.evses.get((sim.session.location_id, sim.session.evse_uid))
    if evse is not None and evse.session_id == sim.session.id:
        evse.session_id = None
        charge = meter.charge_of(sim)
        if evse.plug is not None and charge is not None and sim.vehicle is not None:
            evse.plug.soc = min(charge.soc_at(at, sim.vehicle), 1.0)
    charged = any(p.state is not UsageState.RESERVATION for p in sim.periods)
    cdr = sessions.build_cdr(sim, "C" + sim.session.id.removeprefix("S"), at)
    if not charged and cdr.total_cost.excl_vat == 0:
        # A reservation that cost nothing and led to no charging is not billed.
        await state.save_session(sim)
        return
    entry = CdrEntry(cdr=cdr, emsp=sim.emsp, next_attempt_at=at)
    state.cdrs[cdr.id] = entry
    await state.save_cdr(entry)


async def stop_session(
    state: CpoState, sim: SessionSim, at: datetime, reason: str, unplug: bool
) -> None:
    """Stop a running session; the car stays plugged in unless `unplug`."""
    await finish(state, sim, at, reason)
    evse = state.evses[(sim.session.location_id, sim.session.evse_uid)]
    if unplug:
        evse.plug = None
        await set_status(state, evse, EvseEvent.UNPLUG, at)
    else:
        await set_status(state, evse, EvseEvent.STOP, at)
    schedule_deliveries(state, at)


async def cancel_reservation(
    state: CpoState, evse: EvseSim, at: datetime, result: CommandResultType | None
) -> None:
    """Drop the EVSE's reservation (its RESERVATION session ends); `result` goes to the
    eMSP that reserved (CANCELED_RESERVATION when the CPO cancelled it)."""
    state.require_lock()
    reservation = evse.reservation
    assert reservation is not None
    evse.reservation = None
    sim = state.sessions.get(reservation.session_id)
    if sim is not None and sim.session.status is SessionStatus.RESERVATION:
        await finish(state, sim, at, "reservation cancelled")
    if result is not None:
        await queue_result(
            state,
            "RESERVE_NOW",
            reservation.response_url,
            parse_party(reservation.requester),
            result,
            f"reservation {reservation.reservation_id} was cancelled by the CPO",
        )
