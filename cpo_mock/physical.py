"""The physical world at the CPO's chargers, as the control API and scenarios drive it: a car
plugged in or out, an EVSE broken, repaired or retired, an RFID card at a reader.

Functions over `CpoState`: each catches the simulation up to now under the lock
(`caught_up`), refuses with `OperationError` what cannot happen, then changes the state.
An RFID swipe asks the eMSP through the hub outside the lock (a driver waits, chargers don't).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx

from cpo_mock.authorization import Decision, allows, offline_fallback, whitelist_decision
from cpo_mock.deliveries import schedule_deliveries
from cpo_mock.evse import EvseEvent, TransitionError, next_status
from cpo_mock.model import EvseSim, FaultKind, PendingStart, Plug
from cpo_mock.simulation import caught_up
from cpo_mock.state import CpoState, same_token
from cpo_mock.stations import (
    cancel_reservation,
    finish,
    force_status,
    set_status,
    start_session,
    stop_session,
)
from cpo_mock.vehicle import Vehicle, vehicle_from
from ocpi.errors import (
    ConnectionProblem,
    ForwardTimeout,
    OcpiError,
    PeerError,
    UnknownReceiver,
    UnknownToken,
)
from ocpi.headers import PartyRef
from ocpi.platform import OperationError
from ocpi.v221.cdrs import AuthMethod, CdrToken
from ocpi.v221.commands import CommandResultType
from ocpi.v221.locations import Status
from ocpi.v221.sessions import SessionStatus
from ocpi.v221.tokens import Token, TokenType


class SwipeResult(StrEnum):
    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    STOPPED = "STOPPED"


@dataclass
class SwipeOutcome:
    """What the charger's display says after a card was held to its reader."""

    result: SwipeResult
    reason: str
    auth_method: AuthMethod | None = None
    authorization_reference: str | None = None
    session_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "result": self.result.value,
            "reason": self.reason,
            "auth_method": self.auth_method.value if self.auth_method else None,
            "authorization_reference": self.authorization_reference,
            "session_id": self.session_id,
        }


def _blocked(reason: str) -> SwipeOutcome:
    return SwipeOutcome(SwipeResult.BLOCKED, reason)


async def plug(
    state: CpoState,
    location_id: str,
    evse_uid: str,
    connector_id: str | None = None,
    vehicle: dict[str, Any] | None = None,
) -> EvseSim:
    """A car is plugged in; a start waiting for it (command or RFID) begins charging."""
    async with caught_up(state) as at:
        _location, evse_obj, evse = state.evse_parts(location_id, evse_uid)
        if evse.plug is not None:
            raise OperationError(f"a car is already plugged in at {location_id}/{evse_uid}")
        connector_id = connector_id or evse_obj.connectors[0].id
        if state.find_connector(evse_obj, connector_id) is None:
            raise OperationError(f"EVSE {evse_uid} has no connector {connector_id}", 404)
        try:
            car = vehicle_from(vehicle or {"preset": state.sim.default_vehicle})
        except ValueError as exc:
            raise OperationError(f"vehicle: {exc}", 400) from None
        try:
            next_status(evse.status, EvseEvent.PLUG, True)
        except TransitionError as exc:
            raise OperationError(f"cannot plug in at {location_id}/{evse_uid}: {exc}") from None
        await _attach(state, evse, connector_id, car, at)
        pending = evse.pending
        if pending is not None and (pending.connector_id in (None, connector_id)):
            await start_session(
                state, evse, pending.token, pending.auth_method,
                pending.authorization_reference, at,
            )  # fmt: skip
        return evse


async def _attach(
    state: CpoState, evse: EvseSim, connector_id: str, car: Vehicle, at: datetime
) -> None:
    evse.plug = Plug(connector_id=connector_id, vehicle=car, soc=car.soc, plugged_at=at)
    await set_status(state, evse, EvseEvent.PLUG, at)


async def plug_virtual_car(
    state: CpoState, evse: EvseSim, connector_id: str | None, at: datetime
) -> None:
    """`simulation.auto_plug`: the default car is plugged in where a remote start was
    accepted, so that a contract test (roam conformance) needs no driver. Lock held."""
    state.require_lock()
    location = state.locations[evse.location_id]
    evse_obj = state.find_evse(location, evse.evse_uid)
    if evse_obj is None or evse.plug is not None:
        return
    try:
        next_status(evse.status, EvseEvent.PLUG, True)
    except TransitionError:
        return
    car = vehicle_from({"preset": state.sim.default_vehicle})
    await _attach(state, evse, connector_id or evse_obj.connectors[0].id, car, at)


async def unplug(state: CpoState, location_id: str, evse_uid: str) -> EvseSim:
    """The car is unplugged; a running session ends with it."""
    async with caught_up(state) as at:
        _, _, evse = state.evse_parts(location_id, evse_uid)
        if evse.plug is None:
            raise OperationError(f"no car is plugged in at {location_id}/{evse_uid}")
        sim = state.sessions.get(evse.session_id or "")
        if sim is not None and sim.session.status is SessionStatus.ACTIVE:
            await stop_session(state, sim, at, "car unplugged", unplug=True)
        else:
            evse.plug = None
            await set_status(state, evse, EvseEvent.UNPLUG, at)
        return evse


async def fault(state: CpoState, location_id: str, evse_uid: str, kind: FaultKind) -> EvseSim:
    """Break an EVSE. OUTOFORDER/INOPERATIVE end its session and cancel its reservation
    (CANCELED_RESERVATION to the eMSP, spec mod_commands); the other kinds only change
    how its charger answers commands."""
    async with caught_up(state) as at:
        _, _, evse = state.evse_parts(location_id, evse_uid)
        if evse.status is Status.REMOVED:
            raise OperationError(f"{location_id}/{evse_uid} is REMOVED")
        evse.fault = kind
        if kind in (FaultKind.OUTOFORDER, FaultKind.INOPERATIVE):
            sim = state.sessions.get(evse.session_id or "")
            if sim is not None and sim.session.status is SessionStatus.ACTIVE:
                await finish(state, sim, at, f"EVSE {kind.value}")
            if evse.reservation is not None:
                await cancel_reservation(state, evse, at, CommandResultType.CANCELED_RESERVATION)
            event = EvseEvent.FAULT if kind is FaultKind.OUTOFORDER else EvseEvent.DISABLE
            evse.session_id = None
            await force_status(state, evse, event, at)
        else:
            await state.save_evses(evse)
        schedule_deliveries(state, at)
        return evse


async def repair(state: CpoState, location_id: str, evse_uid: str) -> EvseSim:
    async with caught_up(state) as at:
        _, _, evse = state.evse_parts(location_id, evse_uid)
        if evse.fault is None and evse.status not in (Status.OUTOFORDER, Status.INOPERATIVE):
            raise OperationError(f"{location_id}/{evse_uid} is not faulty")
        evse.fault = None
        if evse.status in (Status.OUTOFORDER, Status.INOPERATIVE):
            await set_status(state, evse, EvseEvent.REPAIR, at)
        else:
            await state.save_evses(evse)
        return evse


async def remove(state: CpoState, location_id: str, evse_uid: str) -> EvseSim:
    """Retire an EVSE for good (spec mod_locations: EVSEs are never deleted, they become
    REMOVED). A running session must end first; a reservation is cancelled."""
    async with caught_up(state) as at:
        _, _, evse = state.evse_parts(location_id, evse_uid)
        try:
            next_status(evse.status, EvseEvent.REMOVE, evse.plug is not None)
        except TransitionError as exc:
            raise OperationError(f"cannot remove {location_id}/{evse_uid}: {exc}") from None
        if evse.reservation is not None:
            await cancel_reservation(state, evse, at, CommandResultType.CANCELED_RESERVATION)
        evse.pending = None
        await set_status(state, evse, EvseEvent.REMOVE, at)
        schedule_deliveries(state, at)
        return evse


async def swipe(
    state: CpoState, location_id: str, evse_uid: str, uid: str, type: TokenType = TokenType.RFID
) -> SwipeOutcome:
    """An RFID card at an EVSE's reader: stop own session, or authorize and start."""
    async with caught_up(state) as at:
        _, _, evse = state.evse_parts(location_id, evse_uid)
        sim = state.sessions.get(evse.session_id or "")
        if sim is not None and sim.session.status is SessionStatus.ACTIVE:
            if sim.session.cdr_token.uid == uid:
                await stop_session(state, sim, at, "card swiped", unplug=False)
                return SwipeOutcome(
                    SwipeResult.STOPPED, "the card that started it", session_id=sim.session.id
                )
            return _blocked("the EVSE is in use by another driver")
        if evse.status in (Status.OUTOFORDER, Status.INOPERATIVE, Status.REMOVED):
            return _blocked(f"the EVSE is {evse.status.value}")
        known = state.find_tokens(uid, type)
        cached = known[0] if known else None
        decision = whitelist_decision(cached)
    if decision is Decision.BLOCK_LOCALLY:
        return _blocked("the token is not valid (whitelist ALWAYS)")
    token: Token | CdrToken | None = cached
    reference = None
    method = AuthMethod.WHITELIST
    if decision is Decision.ASK_EMSP:
        owner = PartyRef(cached.country_code, cached.party_id) if cached else None
        try:
            info = await state.link.authorize(uid, type, owner, location_id, evse_uid)
        except (UnknownToken, UnknownReceiver) as exc:
            return _blocked(f"the token is not known: {exc.message}")
        except (ConnectionProblem, ForwardTimeout, PeerError, httpx.HTTPError) as exc:
            if not offline_fallback(cached):
                return _blocked(f"the eMSP cannot be reached: {exc}")
        except OcpiError as exc:
            return _blocked(f"authorization failed: {exc}")
        else:
            if not allows(info, location_id, evse_uid):
                return _blocked(f"the eMSP answered {info.allowed.value}")
            token, reference, method = (
                info.token,
                info.authorization_reference,
                AuthMethod.AUTH_REQUEST,
            )
    assert token is not None
    async with caught_up(state) as at:
        _, _, evse = state.evse_parts(location_id, evse_uid)
        if evse.reservation is not None and not same_token(evse.reservation.token, token):
            return _blocked("the EVSE is reserved for another driver")
        if evse.session_id is not None:
            return _blocked("the EVSE is in use by another driver")
        full = token if isinstance(token, Token) else None
        if evse.plug is not None:
            started = await start_session(state, evse, token, method, reference, at)
            return SwipeOutcome(
                SwipeResult.ALLOWED, "charging", method, reference, started.session.id
            )
        if full is None:
            return _blocked("the token is not known")
        evse.pending = PendingStart(
            token=full,
            auth_method=method,
            authorization_reference=reference,
            requester=f"{full.country_code.upper()}/{full.party_id.upper()}",
            until=at + timedelta(seconds=state.sim.connection_timeout),
        )
        await state.save_evses(evse)
        return SwipeOutcome(SwipeResult.ALLOWED, "plug in the car to start", method, reference)
