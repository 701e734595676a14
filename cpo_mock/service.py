"""The mock CPO: its state and lock (`CpoState`), started, stopped and driven as one object.

`Cpo` is created by `create_app`; `start()`/`stop()` run in the app's lifespan (tests call
them directly). It is the state plus what runs around it: the member runtime (HTTP client,
background registration), the outbox worker and the clock's ticker. Its parts:

* `state.py`       the state, its lock and the rule (`require_lock`), loading, persistence
* `link.py`        the link to the hub: every message sent, its retries and its failures
* `simulation.py`  simulated time, one typed event per kind (`advance_to`, `caught_up`)
* `stations.py`    EVSE statuses and sessions starting and ending (lock held)
* `deliveries.py`  Session pushes, CDRs, CommandResults, re-sync of a party that is back
* `physical.py`    the control API's physical world: plug, unplug, fault, swipe...
* `commands.py`    the Commands receiver

The methods below keep the names the control API, the commands receiver, the demo and the
scenarios call; each is one of those functions applied to this state.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from cpo_mock import deliveries, flapping, physical, sessions, simulation, stations
from cpo_mock.clock import ClockMode, make_clock
from cpo_mock.evse import EvseEvent
from cpo_mock.link import HubLink
from cpo_mock.model import EvseSim, FaultKind, SessionSim
from cpo_mock.outbox import Outbox
from cpo_mock.physical import SwipeOutcome, SwipeResult
from cpo_mock.settings import CpoSettings
from cpo_mock.state import (
    RECEIVING_ROLES,
    CpoState,
    TokenKey,
    cdr_token_of,
    parse_party,
    party_text,
    same_token,
    session_tariff_id,
    token_key,
)
from cpo_mock.store import CdrDelivery, CdrEntry, KnownParty, Store, make_engine
from ocpi.errors import OcpiError
from ocpi.headers import PartyRef
from ocpi.pagination import PageRequest
from ocpi.platform import (
    ClientInfoReceiver,
    MemberRuntime,
    OperationError,
    PartyKey,
    PeerState,
    TablePeerStore,
    V211Context,
    came_back,
    member_registration,
)
from ocpi.v221.cdrs import AuthMethod, CdrToken
from ocpi.v221.commands import CommandResultType
from ocpi.v221.hubclientinfo import ClientInfo
from ocpi.v221.locations import Status
from ocpi.v221.tokens import AuthorizationInfo, Token, TokenType
from ocpi.v221.types import Role, format_datetime, parse_datetime
from ocpi.v221.versions import InterfaceRole, ModuleID

__all__ = [
    "ControlError",
    "Cpo",
    "SwipeOutcome",
    "SwipeResult",
    "TokenKey",
    "cdr_token_of",
    "parse_party",
    "party_text",
    "same_token",
    "session_tariff_id",
    "token_key",
]

log = logging.getLogger("cpo_mock")

ControlError = OperationError
"""A control-API request that cannot be carried out (the kit's error of member operations)."""


class Cpo(CpoState):
    def __init__(self, settings: CpoSettings, http: httpx.AsyncClient | None = None) -> None:
        store = Store(make_engine(settings.database_url))
        self.runtime = MemberRuntime(http, log)
        self.http = self.runtime.http
        # For 2.1.1, which embeds Locations in Sessions and CDRs: read from this CPO's state.
        context = V211Context(
            location=lambda _country, _party, location_id: self.locations.get(location_id),
            tariffs=lambda _country, _party: self.tariffs,
            token=self._known_token,
            now=lambda: self.now(),
        )
        self.registration = member_registration(
            self.http, TablePeerStore(store), settings, Role.CPO, context
        )
        self.outbox = Outbox()
        link = HubLink(self.registration, settings.party, self.outbox, self.reachable)
        clock = make_clock(ClockMode.STEPPED, settings.clock.start, 1.0)
        super().__init__(settings, store, clock, link)
        self.clients = ClientInfoReceiver(
            self.lock,
            now=self.now,
            save=self._save_party,
            on_change=self._party_changed,
            prepare=self._catch_up,
        )
        self._ticker: asyncio.Task[None] | None = None
        self._pusher: asyncio.Task[None] | None = None
        self.started = False
        self.flap: flapping.Flap | None = None
        """The last flap started (`POST /control/flap`), running or ended."""

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self, *, register_now: bool = True) -> None:
        """Load the state, import the network, register with the hub if needed, tick.

        `register_now=False` registers in the background instead: under a server the hub
        can only call back (GET our versions with token B) once the socket listens, which
        is after the lifespan start-up returns.
        """
        stored_now = await asyncio.to_thread(self.store.get_state, "clock")
        self.clock_written = stored_now
        resume = parse_datetime(stored_now) if stored_now else self.settings.clock.start
        clock = self.settings.clock
        self.clock = make_clock(clock.mode, resume, clock.speed)
        self.simulated_until = self.clock.now()
        await self.load()
        self.clients.load(await asyncio.to_thread(self.store.load_parties))
        await self.registration.load()
        self.outbox.start()
        self.started = True
        if self.registration.peer is not None:
            # Before the catch-up: what it changes is sent after these PUTs.
            deliveries.push_unpushed(self)
        # Catch up (a real clock ran on while we were down) and send what is due: CDRs not
        # yet delivered, command results not yet posted.
        await self.advance()
        if self.registration.peer is None and self.settings.hub and self.settings.hub.token_a:
            if not register_now:
                self.runtime.register_later(self.register, self.registration)
            else:
                try:
                    await self.register()
                except (OcpiError, ValueError) as exc:
                    log.warning("registration with the hub failed (%s); retrying", exc)
                    self.runtime.register_later(self.register, self.registration, first=1.0)
        if clock.mode is not ClockMode.STEPPED:
            self._ticker = asyncio.create_task(self._tick(), name="cpo-clock")
        self._pusher = asyncio.create_task(self._push_again(), name="cpo-push-again")

    async def stop(self) -> None:
        for task in (self._ticker, self._pusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._ticker = self._pusher = None
        await self.runtime.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.outbox.drain(), self.settings.shutdown_grace)
        if self.outbox.pending:
            # Pushes that never went out: the eMSPs get those sessions in full next time.
            # (CDRs and command results are in the database and are sent after a restart.)
            async with self.lock:
                for sim in self.open_sessions():
                    sim.needs_put = True
                    await self.save_session(sim)
        await self.outbox.stop()
        self.write_acknowledged()
        with contextlib.suppress(Exception):  # a write that failed was logged (writer.py)
            await self.writer.commit()
        await self.runtime.close()
        self.store.engine.dispose()
        self.started = False

    async def drain(self) -> None:
        """Wait until everything queued has been sent (tests and graceful shutdown)."""
        for _ in range(5):
            await self.outbox.drain()
            await asyncio.sleep(0)
            if self.outbox.pending == 0:
                return

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.settings.clock.tick)
            try:
                await self.advance()
            except Exception:
                log.exception("simulation step failed")

    async def _push_again(self) -> None:
        """While broadcasts go unanswered (the hub was away): PUT those objects again, every
        `PUSH_AGAIN_FIRST_S` seconds, twice as long after each round, up to a minute."""
        pause = deliveries.PUSH_AGAIN_FIRST_S
        while True:
            await asyncio.sleep(pause)
            if not self.push_failed:
                pause = deliveries.PUSH_AGAIN_FIRST_S
                continue
            if self.registration.peer is None:
                continue
            try:
                async with self.lock:
                    deliveries.push_again(self)
            except Exception:
                log.exception("sending unanswered changes again failed")
            pause = min(pause * 2, deliveries.PUSH_AGAIN_MAX_S)

    async def register(self, hub: tuple[str, str] | None = None) -> PeerState:
        """Member-initiated handshake with the configured hub, then publish everything."""
        versions_url, token_a = hub or self.settings.configured_hub()
        state = await self.registration.register(versions_url, token_a)
        if self.settings.push_on_register:
            self.publish_all()
        return state

    # --- time ---------------------------------------------------------------------------------
    async def advance(self) -> datetime:
        """Simulate up to the clock's now (the ticker and every API call do this first)."""
        async with simulation.caught_up(self):
            return self.simulated_until

    async def step(self, seconds: float) -> datetime:
        """Move a stepped clock forward and simulate what happens meanwhile."""
        if seconds < 0:
            raise OperationError("the clock cannot go back", 400)
        try:
            self.clock.advance(timedelta(seconds=seconds))
        except ValueError as exc:
            raise OperationError(str(exc), 409) from None
        return await self.advance()

    async def advance_to(self, until: datetime) -> None:
        await simulation.advance_to(self, until)

    async def _catch_up(self) -> None:
        await simulation.advance_to(self, self.clock.now())

    def _known_token(self, uid: str, token_type: str | None) -> Token | None:
        """The token a 2.1.1 authorization answers for (2.1.1 does not echo it); with no type,
        the one token with that uid (2.1.1 Token URLs name no type), else the RFID one."""
        held = [t for t in self.tokens.values() if t.uid == uid]
        if token_type is None and len(held) == 1:
            return held[0]
        wanted = token_type or TokenType.RFID.value
        return next((t for t in held if t.type.value == wanted), None)

    # --- the hub and the parties behind it ----------------------------------------------------
    @property
    def hub_party(self) -> PartyRef | None:
        return self.link.hub_party

    @property
    def parties(self) -> dict[PartyKey, KnownParty]:
        """What the hub said about each party (HubClientInfo), by (cc, party_id, role)."""
        return self.clients.parties

    def reachable(self, party: PartyRef) -> bool:
        """False when the hub said this party is not CONNECTED (digest §2.6: send nothing)."""
        return self.clients.reachable(party, RECEIVING_ROLES)

    async def put_client_info(self, info: ClientInfo) -> bool:
        """Keep what the hub says about a party; re-sync it when it comes back."""
        return await self.clients.receive(info)

    async def _save_party(self, party: KnownParty) -> None:
        await self.writer.write(functools.partial(self.store.save_party, party))

    def _party_changed(self, party: KnownParty, previous: KnownParty | None) -> None:
        if came_back(party, previous) and previous is not None:
            info = party.info
            who = PartyRef(info.country_code, info.party_id)
            deliveries.resync(self, who, info.role, previous.offline_since)
            if info.role in RECEIVING_ROLES:
                self.runtime.spawn(self._pull_tokens(who), "pull tokens")

    async def _pull_tokens(self, party: PartyRef) -> None:
        """An eMSP is CONNECTED again: the Token pushes it made meanwhile never reached us
        (digest §2.6: nothing is queued), so pull its tokens changed since the newest we hold
        of it (its own `last_updated`, not our clock: the two need not agree)."""
        client = self.link.client()
        url = self.link.url(ModuleID.TOKENS, InterfaceRole.SENDER)
        if client is None or url is None:
            return
        held = [
            t.last_updated
            for t in self.tokens.values()
            if PartyRef(t.country_code, t.party_id) == party
        ]
        try:
            pulled = await client.get_all(
                url, Token, PageRequest(date_from=max(held, default=None)), to=party
            )
        except (OcpiError, httpx.HTTPError) as exc:
            log.warning("pulling the tokens of %s failed: %s", party, exc)
            return
        for token in pulled:
            # A push may have overtaken the pull (the eMSP blocked a token meanwhile): the
            # pulled version replaces only an older one.
            await self.put_token(token, only_newer=True)

    def publish_all(self) -> None:
        deliveries.publish_all(self)

    async def authorize(
        self, uid: str, type: TokenType, owner: PartyRef | None, location_id: str, evse_uid: str
    ) -> AuthorizationInfo:
        return await self.link.authorize(uid, type, owner, location_id, evse_uid)

    # --- tokens (Receiver) --------------------------------------------------------------------
    async def put_token(self, token: Token, *, only_newer: bool = False) -> bool:
        """Store a pushed token; True when it is new. `only_newer`: keep the one held unless
        this one is strictly newer."""
        async with self.lock:
            key = token_key(token.country_code, token.party_id, token.uid, token.type)
            known = self.tokens.get(key)
            if only_newer and known is not None and token.last_updated <= known.last_updated:
                return False
            created = known is None
            await self.writer.write(functools.partial(self.store.save_token, token))
            self.tokens[key] = token
            return created

    # --- stations, sessions, deliveries (lock held: see state.py) -----------------------------
    async def set_status(self, evse: EvseSim, event: EvseEvent, at: datetime) -> Status:
        return await stations.set_status(self, evse, event, at)

    async def push_session(self, sim: SessionSim, at: datetime) -> None:
        await stations.push_session(self, sim, at)

    async def start_session(
        self,
        evse: EvseSim,
        token: Token | CdrToken,
        auth_method: AuthMethod,
        authorization_reference: str | None,
        at: datetime,
    ) -> SessionSim:
        return await stations.start_session(
            self, evse, token, auth_method, authorization_reference, at
        )

    async def stop_session(self, sim: SessionSim, at: datetime, reason: str, unplug: bool) -> None:
        await stations.stop_session(self, sim, at, reason, unplug)

    async def cancel_reservation(
        self, evse: EvseSim, at: datetime, result: CommandResultType | None
    ) -> None:
        await stations.cancel_reservation(self, evse, at, result)

    async def queue_result(
        self,
        command: str,
        response_url: str,
        requester: PartyRef | None,
        result: CommandResultType,
        message: str | None = None,
        delay: float = 0.0,
    ) -> None:
        await deliveries.queue_result(
            self, command, response_url, requester, result, message, delay
        )

    def schedule_deliveries(self, now: datetime) -> None:
        deliveries.schedule_deliveries(self, now)

    # --- control: the physical world ----------------------------------------------------------
    async def plug(
        self,
        location_id: str,
        evse_uid: str,
        connector_id: str | None = None,
        vehicle: dict[str, Any] | None = None,
    ) -> EvseSim:
        return await physical.plug(self, location_id, evse_uid, connector_id, vehicle)

    async def plug_virtual_car(self, evse: EvseSim, connector_id: str | None, at: datetime) -> None:
        await physical.plug_virtual_car(self, evse, connector_id, at)

    async def unplug(self, location_id: str, evse_uid: str) -> EvseSim:
        return await physical.unplug(self, location_id, evse_uid)

    async def fault(self, location_id: str, evse_uid: str, kind: FaultKind) -> EvseSim:
        return await physical.fault(self, location_id, evse_uid, kind)

    async def repair(self, location_id: str, evse_uid: str) -> EvseSim:
        return await physical.repair(self, location_id, evse_uid)

    async def remove(self, location_id: str, evse_uid: str) -> EvseSim:
        return await physical.remove(self, location_id, evse_uid)

    def start_flap(self, args: dict[str, Any]) -> flapping.Flap:
        """Start flapping EVSEs (cpo_mock/flapping.py); OperationError if the body is wrong
        or a flap still runs."""
        if self.flap is not None and self.flap.running:
            raise OperationError("a flap is still running", 409)
        flap = flapping.plan(self, args, time.time())
        self.flap = flap
        self.runtime.spawn(flapping.run(self, flap), "flap")
        return flap

    async def swipe(
        self, location_id: str, evse_uid: str, uid: str, type: TokenType = TokenType.RFID
    ) -> SwipeOutcome:
        return await physical.swipe(self, location_id, evse_uid, uid, type)

    # --- control: the back office -------------------------------------------------------------
    async def credit_cdr(self, cdr_id: str) -> CdrEntry:
        """An operator credits a CDR (spec mod_cdrs "Credit CDRs": a CDR is never changed or
        deleted once sent): the credit CDR goes to the same eMSP like any CDR."""
        async with simulation.caught_up(self) as at:
            entry = self.cdrs.get(cdr_id)
            if entry is None:
                raise ControlError(f"CDR {cdr_id} is not known here", 404)
            if entry.cdr.credit:
                raise ControlError(f"CDR {cdr_id} is a credit CDR: it cannot be credited", 409)
            credit = sessions.credit_cdr(entry.cdr, at)
            if credit.id in self.cdrs:
                raise ControlError(f"CDR {cdr_id} was credited already ({credit.id})", 409)
            if len(credit.id) > 39:
                raise ControlError(f"CDR {cdr_id} is too long an id to append -C to", 409)
            added = CdrEntry(cdr=credit, emsp=entry.emsp, next_attempt_at=at)
            self.cdrs[credit.id] = added
            await self.save_cdr(added)
            self.schedule_deliveries(at)
            return added

    # --- views --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        peer = self.registration.peer
        pending = sum(1 for e in self.cdrs.values() if e.delivery is CdrDelivery.PENDING)
        return {
            "party": str(self.party),
            "name": self.settings.name,
            "registered": peer is not None,
            "hub_party": str(peer.hub_party) if peer and peer.hub_party else None,
            "clock": {"mode": self.clock.mode.value, "now": format_datetime(self.now())},
            "locations": len(self.locations),
            "evses": len(self.evses),
            "countries": sorted({loc.country for loc in self.locations.values()}),
            "tariffs": len(self.tariffs),
            "tokens": len(self.tokens),
            "sessions": len(self.sessions),
            "open_sessions": len(self.open_sessions()),
            "cdrs": len(self.cdrs),
            "cdrs_pending": pending,
            "outbox": self.outbox.pending,
            "unpushed": len(self.unpushed),
            "unanswered": len(self.push_failed),
        }
