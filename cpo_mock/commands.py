"""The Commands Receiver (spec mod_commands): the synchronous CommandResponse and the
CommandResult the charger's outcome produces, POSTed later to the eMSP's response_url.

Synchronous answers (the CPO can tell at once):

* body not valid for the command            2001, the field named
* unknown command                           2001 + NOT_SUPPORTED
* unknown location, EVSE or connector       2003 + REJECTED, naming which
* a token of another eMSP                   2001 + REJECTED (spec: an eMSP may only use its own)
* EVSE without the capability               1000 + NOT_SUPPORTED
* STOP_SESSION of a session the eMSP
  does not own or the CPO does not know     1000 + UNKNOWN_SESSION
* otherwise                                 1000 + ACCEPTED, `timeout` = command_timeout

Asynchronous results (what the charger did): ACCEPTED; EVSE_INOPERATIVE (OUTOFORDER or
INOPERATIVE); EVSE_OCCUPIED (a car or session is there); REJECTED (reserved for another
driver, session already over); UNKNOWN_RESERVATION; FAILED (a FAILING charger); TIMEOUT (an
UNRESPONSIVE charger, after `charger_timeout` simulated seconds).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from cpo_mock import sessions
from cpo_mock.evse import EvseEvent
from cpo_mock.model import EvseSim, FaultKind, PendingStart, Reservation, SessionSim
from cpo_mock.service import Cpo, cdr_token_of, same_token
from ocpi.errors import InvalidParameters, UnknownLocation
from ocpi.headers import PartyRef
from ocpi.pricing import UsageState
from ocpi.server.errors import describe_errors
from ocpi.v221.cdrs import AuthMethod
from ocpi.v221.commands import (
    CancelReservation,
    CommandResponse,
    CommandResponseType,
    CommandResultType,
    CommandType,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from ocpi.v221.locations import EVSE, Capability, Location, Status
from ocpi.v221.sessions import Session, SessionStatus
from ocpi.v221.tokens import Token
from ocpi.v221.types import DisplayText, OcpiModel

_BODIES: dict[CommandType, type[OcpiModel]] = {
    CommandType.START_SESSION: StartSession,
    CommandType.STOP_SESSION: StopSession,
    CommandType.RESERVE_NOW: ReserveNow,
    CommandType.CANCEL_RESERVATION: CancelReservation,
    CommandType.UNLOCK_CONNECTOR: UnlockConnector,
}
_DOWN = (Status.OUTOFORDER, Status.INOPERATIVE, Status.PLANNED, Status.UNKNOWN, Status.REMOVED)


class _Handler:
    """One command being handled (under the CPO's lock)."""

    def __init__(self, cpo: Cpo, command: CommandType, requester: PartyRef | None) -> None:
        self.cpo = cpo
        self.command = command
        self.requester = requester
        self.at: datetime = cpo.now()

    def response(self, result: CommandResponseType, message: str | None = None) -> CommandResponse:
        return CommandResponse(
            result=result,
            timeout=self.cpo.sim.command_timeout,
            message=[DisplayText(language="en", text=message[:512])] if message else None,
        )

    def fail(self, error: type[InvalidParameters | UnknownLocation], message: str) -> Exception:
        """An OCPI error whose envelope still carries a REJECTED CommandResponse (spec
        example: unknown location is 2003 with result REJECTED)."""
        data = self.response(CommandResponseType.REJECTED, message).to_json()
        return error(message, data=data)

    async def result(
        self, response_url: str, result: CommandResultType, message: str | None = None
    ) -> None:
        await self.cpo.queue_result(
            self.command.value, response_url, self.requester, result, message
        )

    async def charger_outcome(self, evse: EvseSim, response_url: str) -> bool:
        """Queue TIMEOUT/FAILED for a faulty charger; True when the charger took the command."""
        if evse.fault is FaultKind.UNRESPONSIVE:
            await self.cpo.queue_result(
                self.command.value,
                response_url,
                self.requester,
                CommandResultType.TIMEOUT,
                "the charger did not answer",
                delay=self.cpo.sim.charger_timeout,
            )
            return False
        if evse.fault is FaultKind.FAILING:
            await self.result(response_url, CommandResultType.FAILED, "the charger failed")
            return False
        return True

    def own_token(self, token: Token) -> None:
        owner = PartyRef(token.country_code, token.party_id)
        if self.requester is not None and owner != self.requester:
            raise self.fail(
                InvalidParameters,
                f"the token belongs to {owner}, not to the requesting eMSP {self.requester} "
                "(spec: an eMSP may only use its own tokens)",
            )

    def location(self, location_id: str) -> Location:
        found = self.cpo.location(location_id)
        if found is None:
            raise self.fail(UnknownLocation, f"location {location_id} is not known here")
        return found

    def evse(self, location: Location, evse_uid: str) -> EVSE:
        found = self.cpo.find_evse(location, evse_uid)
        if found is None:
            raise self.fail(UnknownLocation, f"location {location.id} has no EVSE {evse_uid}")
        return found

    def sim(self, location: Location, evse: EVSE) -> EvseSim:
        return self.cpo.evses[(location.id, evse.uid)]

    def requester_text(self, token: Token) -> str:
        party = self.requester or PartyRef(token.country_code, token.party_id)
        return str(party)

    # --- START_SESSION ------------------------------------------------------------------------
    async def start(self, body: StartSession) -> CommandResponse:
        self.own_token(body.token)
        location = self.location(body.location_id)
        evse = (
            self.evse(location, body.evse_uid)
            if body.evse_uid is not None
            else self._pick_evse_for_start(location, body.token)
        )
        if evse is None:
            await self.result(
                body.response_url,
                CommandResultType.EVSE_OCCUPIED,
                f"no EVSE of location {location.id} is free",
            )
            return self.response(CommandResponseType.ACCEPTED)
        if (
            body.connector_id is not None
            and self.cpo.find_connector(evse, body.connector_id) is None
        ):
            raise self.fail(
                UnknownLocation, f"EVSE {evse.uid} has no connector {body.connector_id}"
            )
        capabilities = evse.capabilities or []
        if Capability.START_SESSION_CONNECTOR_REQUIRED in capabilities and not body.connector_id:
            raise self.fail(
                InvalidParameters,
                f"EVSE {evse.uid} has START_SESSION_CONNECTOR_REQUIRED: connector_id is required",
            )
        if Capability.REMOTE_START_STOP_CAPABLE not in capabilities:
            return self.response(
                CommandResponseType.NOT_SUPPORTED, f"EVSE {evse.uid} cannot be started remotely"
            )
        sim = self.sim(location, evse)
        if await self.charger_outcome(sim, body.response_url):
            refusal = self._refuse_start(sim, body.token)
            if refusal is not None:
                await self.result(body.response_url, *refusal)
            else:
                await self.result(body.response_url, CommandResultType.ACCEPTED)
                await self._begin(sim, body)
        return self.response(CommandResponseType.ACCEPTED)

    def _pick_evse_for_start(self, location: Location, token: Token) -> EVSE | None:
        """Without evse_uid: the EVSE reserved for this token, else one where a car waits,
        else the first free one."""
        candidates = [e for e in location.evses or [] if e.status is not Status.REMOVED]
        sims = [(e, self.sim(location, e)) for e in candidates]
        for evse, sim in sims:
            if sim.reservation is not None and same_token(sim.reservation.token, token):
                return evse
        for evse, sim in sims:
            if sim.status is Status.BLOCKED and sim.session_id is None and sim.pending is None:
                return evse
        for evse, sim in sims:
            if sim.status is Status.AVAILABLE and sim.pending is None:
                return evse
        return None

    def _refuse_start(self, sim: EvseSim, token: Token) -> tuple[CommandResultType, str] | None:
        if sim.status in _DOWN:
            return CommandResultType.EVSE_INOPERATIVE, f"the EVSE is {sim.status.value}"
        if sim.session_id is not None or sim.status is Status.CHARGING:
            return CommandResultType.EVSE_OCCUPIED, "a session is running at the EVSE"
        if sim.reservation is not None and not same_token(sim.reservation.token, token):
            return CommandResultType.REJECTED, "the EVSE is reserved for another driver"
        if sim.pending is not None and not same_token(sim.pending.token, token):
            return CommandResultType.EVSE_OCCUPIED, "another driver is about to start here"
        return None

    async def _begin(self, sim: EvseSim, body: StartSession) -> None:
        method = AuthMethod.COMMAND
        if self.cpo.sim.auto_plug:
            await self.cpo.plug_virtual_car(sim, body.connector_id, self.at)
        if sim.plug is not None and body.connector_id in (None, sim.plug.connector_id):
            await self.cpo.start_session(
                sim, body.token, method, body.authorization_reference, self.at
            )
            return
        # Accepted by the charger; the session appears when the car is plugged in (spec: it
        # may never come, e.g. not plugged in before the timeout).
        sim.pending = PendingStart(
            token=body.token,
            auth_method=method,
            authorization_reference=body.authorization_reference,
            requester=self.requester_text(body.token),
            connector_id=body.connector_id,
            until=self.at + timedelta(seconds=self.cpo.sim.connection_timeout),
        )
        await self.cpo.save_evses(sim)

    # --- STOP_SESSION --------------------------------------------------------------------------
    async def stop(self, body: StopSession) -> CommandResponse:
        found = self.cpo.sessions.get(body.session_id)
        if found is None or (self.requester is not None and found.emsp != str(self.requester)):
            return self.response(
                CommandResponseType.UNKNOWN_SESSION, f"session {body.session_id} is not known here"
            )
        evse = self.cpo.evses.get((found.session.location_id, found.session.evse_uid))
        status = found.session.status
        if status is not SessionStatus.ACTIVE or evse is None:
            why = (
                "it is a reservation: use CANCEL_RESERVATION"
                if status is SessionStatus.RESERVATION
                else f"it is already {status.value}"
            )
            await self.result(
                body.response_url,
                CommandResultType.REJECTED,
                f"session {body.session_id} cannot be stopped: {why}",
            )
            return self.response(CommandResponseType.ACCEPTED)
        if await self.charger_outcome(evse, body.response_url):
            await self.result(body.response_url, CommandResultType.ACCEPTED)
            await self.cpo.stop_session(found, self.at, "STOP_SESSION", unplug=False)
        return self.response(CommandResponseType.ACCEPTED)

    # --- RESERVE_NOW ---------------------------------------------------------------------------
    async def reserve(self, body: ReserveNow) -> CommandResponse:
        self.own_token(body.token)
        location = self.location(body.location_id)
        chosen = self.evse(location, body.evse_uid) if body.evse_uid is not None else None
        if body.expiry_date <= self.at:
            raise self.fail(
                InvalidParameters,
                f"expiry_date {body.expiry_date.isoformat()} is not in the future",
            )
        requester = self.requester_text(body.token)
        existing = self._reservation(requester, body.reservation_id, location.id)
        if existing is not None and chosen in (None, self._evse_of(location, existing)):
            # Spec mod_commands: the same reservation_id at the same location replaces it.
            reservation = existing.reservation
            assert reservation is not None
            existing.reservation = reservation.model_copy(
                update={
                    "token": body.token,
                    "expiry": body.expiry_date,
                    "response_url": body.response_url,
                    "authorization_reference": body.authorization_reference,
                }
            )
            await self.cpo.save_evses(existing)
            await self.result(body.response_url, CommandResultType.ACCEPTED)
            return self.response(CommandResponseType.ACCEPTED)
        if chosen is None:
            chosen = next(
                (
                    e
                    for e in location.evses or []
                    if Capability.RESERVABLE in (e.capabilities or [])
                    and self.sim(location, e).status is Status.AVAILABLE
                    and self.sim(location, e).pending is None
                ),
                None,
            )
            if chosen is None:
                await self.result(
                    body.response_url,
                    CommandResultType.EVSE_OCCUPIED,
                    f"no EVSE of location {location.id} can be reserved now",
                )
                return self.response(CommandResponseType.ACCEPTED)
        if Capability.RESERVABLE not in (chosen.capabilities or []):
            return self.response(
                CommandResponseType.NOT_SUPPORTED, f"EVSE {chosen.uid} cannot be reserved"
            )
        sim = self.sim(location, chosen)
        if not await self.charger_outcome(sim, body.response_url):
            return self.response(CommandResponseType.ACCEPTED)
        refusal = self._refuse_reservation(sim)
        if refusal is not None:
            await self.result(body.response_url, *refusal)
            return self.response(CommandResponseType.ACCEPTED)
        if existing is not None:  # moved to another EVSE: the old one is free again
            old = existing.reservation
            assert old is not None
            await self.cpo.cancel_reservation(existing, self.at, None)
            await self.cpo.set_status(existing, EvseEvent.RELEASE, self.at)
        await self.result(body.response_url, CommandResultType.ACCEPTED)
        await self._hold(location, chosen, sim, body, requester)
        return self.response(CommandResponseType.ACCEPTED)

    def _reservation(self, requester: str, reservation_id: str, location_id: str) -> EvseSim | None:
        # reservation_id is the eMSP's: it is unique per (eMSP, id), not across eMSPs.
        for sim in self.cpo.evses.values():
            held = sim.reservation
            if (
                held is not None
                and held.reservation_id == reservation_id
                and (held.requester == requester or not requester)
                and (not location_id or sim.location_id == location_id)
            ):
                return sim
        return None

    def _evse_of(self, location: Location, sim: EvseSim) -> EVSE | None:
        return self.cpo.find_evse(location, sim.evse_uid)

    @staticmethod
    def _refuse_reservation(sim: EvseSim) -> tuple[CommandResultType, str] | None:
        if sim.status in _DOWN:
            return CommandResultType.EVSE_INOPERATIVE, f"the EVSE is {sim.status.value}"
        if sim.status is Status.RESERVED:
            return CommandResultType.REJECTED, "the EVSE is reserved for another driver"
        if sim.plug is not None or sim.session_id is not None or sim.pending is not None:
            return CommandResultType.EVSE_OCCUPIED, "the EVSE is in use"
        return None

    async def _hold(
        self, location: Location, evse: EVSE, sim: EvseSim, body: ReserveNow, requester: str
    ) -> None:
        """A successful reservation creates a Session in status RESERVATION (spec)."""
        cpo = self.cpo
        connector = evse.connectors[0] if len(evse.connectors) == 1 else None
        tariff = sessions.choose_tariff(evse.connectors[0], cpo.tariffs, self.at)
        token = cdr_token_of(body.token)
        session = Session(
            country_code=cpo.party.country_code,
            party_id=cpo.party.party_id,
            id=cpo.new_session_id(),
            start_date_time=self.at,
            kwh=Decimal(0),
            cdr_token=token,
            auth_method=AuthMethod.COMMAND,
            authorization_reference=body.authorization_reference,
            location_id=location.id,
            evse_uid=evse.uid,
            connector_id=connector.id if connector else sessions.NOT_APPLICABLE,
            meter_id=evse.evse_id,
            currency=tariff.currency if tariff else cpo.settings.currency,
            status=SessionStatus.RESERVATION,
            last_updated=self.at,
        )
        reserved = SessionSim(
            session=session,
            emsp=f"{token.country_code.upper()}/{token.party_id.upper()}",
            cdr_location=sessions.cdr_location(location, evse, connector),
            time_zone=location.time_zone,
            tariff=tariff,
            cdr_start=self.at,
            open_state=UsageState.RESERVATION,
            open_start=self.at,
            reservation_id=body.reservation_id,
        )
        cpo.session_seq[session.id] = len(cpo.session_seq)
        cpo.sessions[session.id] = reserved
        sim.reservation = Reservation(
            reservation_id=body.reservation_id,
            requester=requester,
            token=body.token,
            expiry=body.expiry_date,
            response_url=body.response_url,
            session_id=session.id,
            authorization_reference=body.authorization_reference,
        )
        await cpo.set_status(sim, EvseEvent.RESERVE, self.at)
        await cpo.push_session(reserved, self.at)

    # --- CANCEL_RESERVATION --------------------------------------------------------------------
    async def cancel(self, body: CancelReservation) -> CommandResponse:
        requester = str(self.requester) if self.requester is not None else ""
        sim = self._reservation(requester, body.reservation_id, "")
        if sim is None:
            await self.result(
                body.response_url,
                CommandResultType.UNKNOWN_RESERVATION,
                f"reservation {body.reservation_id} is not known here",
            )
            return self.response(CommandResponseType.ACCEPTED)
        if await self.charger_outcome(sim, body.response_url):
            await self.result(body.response_url, CommandResultType.ACCEPTED)
            await self.cpo.cancel_reservation(sim, self.at, None)
            await self.cpo.set_status(sim, EvseEvent.RELEASE, self.at)
        return self.response(CommandResponseType.ACCEPTED)

    # --- UNLOCK_CONNECTOR ----------------------------------------------------------------------
    async def unlock(self, body: UnlockConnector) -> CommandResponse:
        location = self.location(body.location_id)
        evse = self.evse(location, body.evse_uid)
        if self.cpo.find_connector(evse, body.connector_id) is None:
            raise self.fail(
                UnknownLocation, f"EVSE {evse.uid} has no connector {body.connector_id}"
            )
        if Capability.UNLOCK_CAPABLE not in (evse.capabilities or []):
            return self.response(
                CommandResponseType.NOT_SUPPORTED, f"EVSE {evse.uid} cannot unlock its connectors"
            )
        sim = self.sim(location, evse)
        if not await self.charger_outcome(sim, body.response_url):
            return self.response(CommandResponseType.ACCEPTED)
        if sim.status in _DOWN:
            await self.result(
                body.response_url,
                CommandResultType.EVSE_INOPERATIVE,
                f"the EVSE is {sim.status.value}",
            )
            return self.response(CommandResponseType.ACCEPTED)
        await self.result(body.response_url, CommandResultType.ACCEPTED)
        running = self.cpo.sessions.get(sim.session_id or "")
        if running is not None and running.session.status is SessionStatus.ACTIVE:
            # Unlocking ends the transaction and releases the cable (as OCPP's UnlockConnector).
            await self.cpo.stop_session(running, self.at, "UNLOCK_CONNECTOR", unplug=True)
        elif sim.plug is not None and sim.plug.connector_id == body.connector_id:
            sim.plug = None
            await self.cpo.set_status(sim, EvseEvent.UNPLUG, self.at)
        return self.response(CommandResponseType.ACCEPTED)


def parse_command(command: str, body: Any) -> tuple[CommandType, OcpiModel]:
    """The command type and its validated body; 2001 naming the problem otherwise."""
    try:
        kind = CommandType(command)
    except ValueError:
        known = ", ".join(c.value for c in CommandType)
        raise InvalidParameters(
            f"unknown command {command!r} (known: {known})",
            data=CommandResponse(result=CommandResponseType.NOT_SUPPORTED, timeout=0).to_json(),
        ) from None
    try:
        return kind, _BODIES[kind].model_validate(body)
    except ValidationError as exc:
        raise InvalidParameters(
            f"Invalid or missing parameters in {kind.value}: " + describe_errors(exc.errors())
        ) from None


async def handle_command(
    cpo: Cpo, command: str, body: Any, requester: PartyRef | None
) -> CommandResponse:
    """Handle one command POST; raises the OcpiError the eMSP must get."""
    kind, parsed = parse_command(command, body)
    async with cpo.lock:
        await cpo.advance_to(cpo.clock.now())
        handler = _Handler(cpo, kind, requester)
        if isinstance(parsed, StartSession):
            response = await handler.start(parsed)
        elif isinstance(parsed, StopSession):
            response = await handler.stop(parsed)
        elif isinstance(parsed, ReserveNow):
            response = await handler.reserve(parsed)
        elif isinstance(parsed, CancelReservation):
            response = await handler.cancel(parsed)
        else:
            assert isinstance(parsed, UnlockConnector)
            response = await handler.unlock(parsed)
        cpo.schedule_deliveries(cpo.now())
        return response
