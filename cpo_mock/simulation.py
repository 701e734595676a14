"""Simulated time: what happens at the chargers between two calls, one typed event per kind.

`advance_to(state, t)` handles, in time order, every event due until `t`: a car reaching its
target (`CarFull`), a periodic Session update (`SessionUpdateDue`), a start nobody plugged a
car in for (`StartExpired`) or a reservation running out (`ReservationExpired`); so the same
steps always give the same sessions and CDRs. Events at the same instant run in that order.
`caught_up(state)` takes the lock with the simulation brought up to now: every operation of
the control API and the OCPI receivers starts with it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from cpo_mock import charging, meter
from cpo_mock.clock import ClockMode
from cpo_mock.deliveries import schedule_deliveries
from cpo_mock.evse import EvseEvent
from cpo_mock.model import timed_evses
from cpo_mock.state import CpoState
from cpo_mock.stations import finish, push_session, set_status
from ocpi.pricing import UsageState
from ocpi.v221.sessions import SessionStatus

log = logging.getLogger("cpo_mock")


@dataclass(frozen=True)
class CarFull:
    """The car of a session reached its target: charging turns into parking."""

    at: datetime
    session_id: str
    rank = 0


@dataclass(frozen=True)
class SessionUpdateDue:
    """Time for a session's periodic PATCH (`simulation.session_update_interval`)."""

    at: datetime
    session_id: str
    rank = 1


@dataclass(frozen=True)
class StartExpired:
    """An authorized start waited `connection_timeout` for a car in vain."""

    at: datetime
    evse: tuple[str, str]
    rank = 2


@dataclass(frozen=True)
class ReservationExpired:
    """A reservation reached its expiry_date without the driver."""

    at: datetime
    evse: tuple[str, str]
    rank = 3


Event = CarFull | SessionUpdateDue | StartExpired | ReservationExpired


def _order(event: Event) -> tuple[datetime, int, tuple[str, ...]]:
    key = (event.session_id,) if isinstance(event, CarFull | SessionUpdateDue) else event.evse
    return (event.at, event.rank, key)


def next_event(state: CpoState, until: datetime) -> Event | None:
    """The first event due at or before `until` (None: nothing happens until then)."""
    found: list[Event] = []
    for sim in state.open_sessions():
        sid = sim.session.id
        charge = meter.charge_of(sim)
        if sim.open_state is UsageState.CHARGING and charge is not None and sim.vehicle:
            # A car that is full already (even from the start) yields its event at once.
            horizon = until if sim.next_update is None else min(until, sim.next_update)
            power_type = sim.cdr_location.connector_power_type
            probe = charging.advance(charge, sim.vehicle, sim.limit_kw, power_type, horizon)
            if probe.full_at is not None and probe.full_at <= until:
                found.append(CarFull(probe.full_at, sid))
        if sim.next_update is not None and sim.next_update <= until:
            found.append(SessionUpdateDue(sim.next_update, sid))
    for evse in timed_evses():
        if state.evses.get(evse.key) is not evse:
            continue  # another CPO's in this process, or an EVSE this state replaced
        if evse.pending is not None and evse.pending.until <= until:
            found.append(StartExpired(evse.pending.until, evse.key))
        if evse.reservation is not None and evse.reservation.expiry <= until:
            found.append(ReservationExpired(evse.reservation.expiry, evse.key))
    return min(found, key=_order) if found else None


async def handle(state: CpoState, event: Event) -> None:
    state.require_lock()
    when = event.at
    match event:
        case CarFull(session_id=session_id):
            sim = state.sessions[session_id]
            meter.advance_charge(sim, when)
            meter.close_period(sim, when, reopen=UsageState.PARKING)
            await push_session(state, sim, when)
        case SessionUpdateDue(session_id=session_id):
            sim = state.sessions[session_id]
            meter.advance_charge(sim, when)
            assert sim.open_state is not None
            meter.close_period(sim, when, reopen=sim.open_state)
            sim.next_update = when + timedelta(seconds=state.sim.session_update_interval)
            await push_session(state, sim, when)
        case StartExpired(evse=key):
            evse = state.evses[key]
            log.info("no car was plugged in at %s/%s in time: start dropped", *evse.key)
            evse.pending = None
            await state.save_evses(evse)
        case ReservationExpired(evse=key):
            evse = state.evses[key]
            reservation = evse.reservation
            assert reservation is not None
            evse.reservation = None
            held = state.sessions.get(reservation.session_id)
            if held is not None and held.session.status is SessionStatus.RESERVATION:
                held.reservation_expired = True
                await finish(state, held, when, "reservation expired")
            await set_status(state, evse, EvseEvent.RELEASE, when)


async def advance_to(state: CpoState, until: datetime) -> None:
    """Handle every event due until `until`, then send what became due (lock held)."""
    state.require_lock()
    until = max(until, state.simulated_until)
    while (event := next_event(state, until)) is not None:
        state.simulated_until = max(state.simulated_until, event.at)
        await handle(state, event)
    state.simulated_until = until
    schedule_deliveries(state, until)
    if state.clock.mode is not ClockMode.REAL:
        state.save_clock(until)


@asynccontextmanager
async def caught_up(state: CpoState) -> AsyncIterator[datetime]:
    """Hold the state lock with the simulation brought up to the clock's now; yields now.
    On the way out, after the lock is released, wait until what was queued for the database
    is written (an EVSE status, the clock: state.py): what the caller answers is stored."""
    async with state.lock:
        await advance_to(state, state.clock.now())
        yield state.now()
    await state.writer.commit()
