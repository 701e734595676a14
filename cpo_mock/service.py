"""The mock CPO: its state, its chargers' simulation, and everything it sends to the hub.

`Cpo` is created by `create_app`; `start()`/`stop()` run in the app's lifespan (tests call
them directly). All state changes happen under one asyncio lock and are persisted before
anything is announced; network calls run in the outbox worker, outside the lock.

Simulated time advances only through `advance_to(t)`: it handles, in time order, every
event due until `t` (a car reaching its target, a periodic Session update, a pending start
or a reservation running out), so the same steps always give the same sessions and CDRs.
The real and accelerated clocks call it every `clock.tick` seconds; a stepped clock when a
scenario says so (control API `POST /control/clock/advance`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from cpo_mock import charging, sessions
from cpo_mock.authorization import Decision, allows, offline_fallback, whitelist_decision
from cpo_mock.clock import Clock, ClockMode, make_clock
from cpo_mock.evse import EvseEvent, TransitionError, next_status
from cpo_mock.model import (
    ChargeSnapshot,
    EvseSim,
    FaultKind,
    MeterPeriod,
    PendingStart,
    Plug,
    SessionSim,
)
from cpo_mock.network import ALLIANCE_COUNTRIES, Network, generate_network
from cpo_mock.outbox import Outbox
from cpo_mock.settings import ConfigError, CpoSettings
from cpo_mock.store import CdrEntry, KnownParty, PendingResult, Store, make_engine
from cpo_mock.vehicle import Vehicle, vehicle_from
from ocpi.client import OcpiClient
from ocpi.errors import (
    ClientError,
    ConnectionProblem,
    ForwardTimeout,
    OcpiError,
    PeerError,
    PeerTimeout,
    PeerUnreachable,
    UnknownReceiver,
    UnknownToken,
)
from ocpi.headers import PartyRef
from ocpi.platform import OperationError, PeerState, TablePeerStore, member_registration
from ocpi.pricing import PricingError, UsageState, compile_tariff
from ocpi.v221.cdrs import AuthMethod, CdrToken
from ocpi.v221.commands import CommandResult, CommandResultType
from ocpi.v221.hubclientinfo import ClientInfo, ConnectionStatus
from ocpi.v221.locations import EVSE, Connector, Location, PowerType, Status
from ocpi.v221.sessions import Session, SessionStatus
from ocpi.v221.tariffs import Tariff
from ocpi.v221.tokens import AuthorizationInfo, LocationReferences, Token, TokenType
from ocpi.v221.types import DisplayText, Role, format_datetime, parse_datetime
from ocpi.v221.versions import InterfaceRole, ModuleID

log = logging.getLogger("cpo_mock")

BROADCAST_ATTEMPTS = 3
BROADCAST_RETRY_DELAY = 0.5
"""Real seconds before the second try of a broadcast (x4 before the third)."""

TokenKey = tuple[str, str, str, str]
"""(country_code, party_id, uid, type) of a stored Token: (uid, type) is unique per eMSP."""

_OPEN = (SessionStatus.ACTIVE, SessionStatus.PENDING, SessionStatus.RESERVATION)
_PATCHED = ("status", "start_date_time", "end_date_time", "kwh", "total_cost", "last_updated")
_RECEIVING_ROLES = frozenset({Role.EMSP, Role.NSP, Role.OTHER, Role.SCSP, Role.NAP})


ControlError = OperationError
"""A control-API request that cannot be carried out (the kit's error of member operations)."""


def token_key(country_code: str, party_id: str, uid: str, type: TokenType | str) -> TokenKey:
    return (country_code.upper(), party_id.upper(), uid, TokenType(type).value)


def party_text(party: PartyRef | None) -> str:
    return str(party) if party is not None else ""


def parse_party(text: str) -> PartyRef | None:
    return PartyRef.parse(text) if text else None


@dataclass
class SwipeOutcome:
    result: str
    """ALLOWED, BLOCKED, STOPPED."""
    reason: str
    auth_method: AuthMethod | None = None
    authorization_reference: str | None = None
    session_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "reason": self.reason,
            "auth_method": self.auth_method.value if self.auth_method else None,
            "authorization_reference": self.authorization_reference,
            "session_id": self.session_id,
        }


class Cpo:
    def __init__(self, settings: CpoSettings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.sim = settings.simulation
        self.party = settings.party
        self.store = Store(make_engine(settings.database_url))
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(timeout=30.0, trust_env=False)
        self.registration = member_registration(
            self.http, TablePeerStore(self.store), settings, Role.CPO
        )
        self.clock: Clock = make_clock(ClockMode.STEPPED, settings.clock.start, 1.0)
        self.lock = asyncio.Lock()
        self.outbox = Outbox()
        self.locations: dict[str, Location] = {}
        self.tariffs: dict[str, Tariff] = {}
        self.tokens: dict[TokenKey, Token] = {}
        self.evses: dict[tuple[str, str], EvseSim] = {}
        self.sessions: dict[str, SessionSim] = {}
        self.session_seq: dict[str, int] = {}
        self.cdrs: dict[str, CdrEntry] = {}
        self.cdr_seq: dict[str, int] = {}
        self.results: dict[str, PendingResult] = {}
        self.parties: dict[tuple[str, str, str], KnownParty] = {}
        self.simulated_until = self.clock.now()
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.started = False

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self, *, register_now: bool = True) -> None:
        """Load the state, import the network, register with the hub if needed, tick.

        `register_now=False` registers in the background instead: under a server the hub
        can only call back (GET our versions with token B) once the socket listens, which
        is after the lifespan start-up returns.
        """
        stored_now = await asyncio.to_thread(self.store.get_state, "clock")
        resume = parse_datetime(stored_now) if stored_now else self.settings.clock.start
        clock = self.settings.clock
        self.clock = make_clock(clock.mode, resume, clock.speed)
        self.simulated_until = self.clock.now()
        await self._load()
        await self.registration.load()
        self.outbox.start()
        self.started = True
        async with self.lock:
            # Catch up (a real clock ran on while we were down) and send what is due: CDRs
            # not yet delivered, command results not yet posted.
            await self.advance_to(self.clock.now())
        if self.registration.peer is None and self.settings.hub and self.settings.hub.token_a:
            if register_now:
                try:
                    await self.register()
                except (OcpiError, ValueError) as exc:
                    log.warning("registration with the hub failed (%s); retrying", exc)
                    self.spawn(self._register_later(), "register")
            else:
                self.spawn(self._register_later(first=0.0), "register")
        if clock.mode is not ClockMode.STEPPED:
            self._ticker = asyncio.create_task(self._tick(), name="cpo-clock")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
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
        if self._own_http:
            await self.http.aclose()
        self.store.engine.dispose()
        self.started = False

    def spawn(self, work: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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

    async def _register_later(self, first: float = 1.0) -> None:
        """Retry registration (real seconds: the hub's availability is not simulated)."""
        delay = first
        while self.registration.peer is None:
            await asyncio.sleep(delay)
            try:
                await self.register()
            except (OcpiError, ValueError) as exc:
                log.warning("registration with the hub failed: %s; retrying", exc)
                delay = min(max(delay * 2, 0.25), 60.0)

    async def register(self) -> PeerState:
        """Member-initiated handshake with the configured hub, then publish everything."""
        hub = self.settings.hub
        if hub is None or not hub.token_a:
            raise ValueError("no hub configured (hub.versions_url and hub.token_a)")
        state = await self.registration.register(hub.versions_url, hub.token_a)
        if self.settings.push_on_register:
            self.publish_all()
        return state

    # --- loading ------------------------------------------------------------------------------
    def _configured_network(self, known: set[str], known_tariffs: set[str]) -> Network:
        """The configured objects the database does not hold yet (validated only those)."""
        source = self.settings.network
        if source.file is not None:
            try:
                network = Network.read(source.file, skip=known, skip_tariffs=known_tariffs)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"network file {source.file}: {exc}") from None
        elif source.stations and not known:
            # Generated once, into an empty database; later starts keep what was generated.
            network = generate_network(
                self.party.country_code,
                self.party.party_id,
                self.settings.name,
                stations=source.stations,
                seed=source.seed,
                profile=source.profile,
                countries=tuple(source.countries) or ALLIANCE_COUNTRIES,
            )
        else:
            network = Network([], [])
        stamp = self.clock.now()
        own = {"country_code": self.party.country_code, "party_id": self.party.party_id}
        extra_locations = [
            Location.model_validate({**own, "last_updated": stamp, **raw})
            for raw in self.settings.locations
            if raw.get("id") not in known
        ]
        extra_tariffs = [
            Tariff.model_validate({**own, "last_updated": stamp, **raw})
            for raw in self.settings.tariffs
            if raw.get("id") not in known_tariffs
        ]
        return Network(network.locations + extra_locations, network.tariffs + extra_tariffs)

    async def _load(self) -> None:
        store = self.store
        self.locations = {x.id: x for x in await asyncio.to_thread(store.load_locations)}
        self.tariffs = {x.id: x for x in await asyncio.to_thread(store.load_tariffs)}
        network = self._configured_network(set(self.locations), set(self.tariffs))
        # The data file is imported into the database once; afterwards the database (with the
        # EVSEs' live statuses) is authoritative. Objects new in the file are added.
        new_tariffs = [t for t in network.tariffs if t.id not in self.tariffs]
        new_locations = [x for x in network.locations if x.id not in self.locations]
        for tariff in new_tariffs:
            self._check_owned(tariff.country_code, tariff.party_id, f"tariff {tariff.id}")
            try:
                compile_tariff(tariff)
            except PricingError as exc:
                raise ConfigError(f"tariff {tariff.id} cannot be priced: {exc}") from None
        for location in new_locations:
            self._check_owned(location.country_code, location.party_id, f"location {location.id}")
        if new_tariffs:
            await asyncio.to_thread(store.add_tariffs, new_tariffs, len(self.tariffs))
            self.tariffs.update((t.id, t) for t in new_tariffs)
        if new_locations:
            await asyncio.to_thread(store.add_locations, new_locations, len(self.locations))
            self.locations.update((x.id, x) for x in new_locations)
        self.evses = {}
        for location in self.locations.values():
            for evse in location.evses or []:
                self.evses[(location.id, evse.uid)] = EvseSim(
                    location_id=location.id, evse_uid=evse.uid, status=evse.status
                )
        for sim in await asyncio.to_thread(store.load_evses):
            self.evses[sim.key] = sim
        self.tokens = {
            token_key(t.country_code, t.party_id, t.uid, t.type): t
            for t in await asyncio.to_thread(store.load_tokens)
        }
        for seq, session in await asyncio.to_thread(store.load_sessions):
            self.sessions[session.session.id] = session
            self.session_seq[session.session.id] = seq
        for number, entry in enumerate(await asyncio.to_thread(store.load_cdrs)):
            self.cdrs[entry.cdr.id] = entry
            self.cdr_seq[entry.cdr.id] = number
        self.results = {r.id: r for r in await asyncio.to_thread(store.load_results)}
        for party in await asyncio.to_thread(store.load_parties):
            info = party.info
            key = (info.country_code.upper(), info.party_id.upper(), info.role.value)
            self.parties[key] = party

    def _check_owned(self, country_code: str, party_id: str, what: str) -> None:
        if PartyRef(country_code, party_id) != self.party:
            raise ConfigError(
                f"{what} belongs to {country_code}/{party_id}, not to this CPO {self.party}"
            )

    # --- lookups ------------------------------------------------------------------------------
    def now(self) -> datetime:
        return max(self.clock.now(), self.simulated_until)

    def location(self, location_id: str) -> Location | None:
        return self.locations.get(location_id)

    @staticmethod
    def find_evse(location: Location, evse_uid: str) -> EVSE | None:
        return next((e for e in location.evses or [] if e.uid == evse_uid), None)

    @staticmethod
    def find_connector(evse: EVSE, connector_id: str) -> Connector | None:
        return next((c for c in evse.connectors if c.id == connector_id), None)

    def evse_parts(self, location_id: str, evse_uid: str) -> tuple[Location, EVSE, EvseSim]:
        """The location, its EVSE and the EVSE's simulation; ControlError 404 naming the
        missing one."""
        location = self.locations.get(location_id)
        if location is None:
            raise ControlError(f"location {location_id} is not known here", 404)
        evse = self.find_evse(location, evse_uid)
        if evse is None:
            raise ControlError(f"location {location_id} has no EVSE {evse_uid}", 404)
        return location, evse, self.evses[(location_id, evse_uid)]

    def open_sessions(self) -> list[SessionSim]:
        return [s for s in self.sessions.values() if s.session.status in _OPEN]

    def find_tokens(self, uid: str, type: TokenType) -> list[Token]:
        found = [t for key, t in self.tokens.items() if key[2] == uid and key[3] == type.value]
        return sorted(found, key=lambda t: not t.valid)

    def reachable(self, party: PartyRef) -> bool:
        """False when the hub said this party is not CONNECTED (digest §2.6: send nothing)."""
        known = [
            p
            for (cc, pid, role), p in self.parties.items()
            if (cc, pid) == (party.country_code, party.party_id) and Role(role) in _RECEIVING_ROLES
        ]
        return not known or any(p.info.status is ConnectionStatus.CONNECTED for p in known)

    # --- persistence helpers ------------------------------------------------------------------
    async def save_session(self, sim: SessionSim) -> None:
        seq = self.session_seq.setdefault(sim.session.id, len(self.session_seq))
        await asyncio.to_thread(self.store.save_session, seq, sim)

    async def save_evses(self, *evses: EvseSim) -> None:
        await asyncio.to_thread(self.store.save_evses, list(evses))

    async def save_cdr(self, entry: CdrEntry) -> None:
        seq = self.cdr_seq.setdefault(entry.cdr.id, len(self.cdr_seq))
        await asyncio.to_thread(self.store.save_cdr, seq, entry)

    # --- time ---------------------------------------------------------------------------------
    async def advance(self) -> datetime:
        """Simulate up to the clock's now (the ticker and every API call do this first)."""
        async with self.lock:
            await self.advance_to(self.clock.now())
            return self.simulated_until

    async def step(self, seconds: float) -> datetime:
        """Move a stepped clock forward and simulate what happens meanwhile."""
        if seconds < 0:
            raise ControlError("the clock cannot go back", 400)
        try:
            self.clock.advance(timedelta(seconds=seconds))
        except ValueError as exc:
            raise ControlError(str(exc), 409) from None
        return await self.advance()

    async def advance_to(self, until: datetime) -> None:
        until = max(until, self.simulated_until)
        while True:
            event = self._next_event(until)
            if event is None:
                break
            when, _, kind, key = event
            self.simulated_until = max(self.simulated_until, when)
            await self._handle(kind, key, when)
        self.simulated_until = until
        self.schedule_deliveries(until)
        if self.clock.mode is not ClockMode.REAL:
            await asyncio.to_thread(self.store.set_state, "clock", format_datetime(until))

    def _charge_of(self, sim: SessionSim) -> charging.ChargeState | None:
        return sim.charge.state() if sim.charge is not None else None

    def _power_type(self, sim: SessionSim) -> PowerType:
        return sim.cdr_location.connector_power_type

    def _advance_charge(self, sim: SessionSim, until: datetime) -> charging.ChargeState | None:
        state = self._charge_of(sim)
        if state is None or sim.vehicle is None:
            return state
        state = charging.advance(state, sim.vehicle, sim.limit_kw, self._power_type(sim), until)
        sim.charge = ChargeSnapshot.of(state)
        return state

    def _next_event(self, until: datetime) -> tuple[datetime, int, str, str] | None:
        found: list[tuple[datetime, int, str, str]] = []
        for sim in self.open_sessions():
            sid = sim.session.id
            state = self._charge_of(sim)
            if sim.open_state is UsageState.CHARGING and state is not None and sim.vehicle:
                # A car that is full already (even from the start) yields its event at once.
                horizon = until if sim.next_update is None else min(until, sim.next_update)
                probe = charging.advance(
                    state, sim.vehicle, sim.limit_kw, self._power_type(sim), horizon
                )
                if probe.full_at is not None and probe.full_at <= until:
                    found.append((probe.full_at, 0, "full", sid))
            if sim.next_update is not None and sim.next_update <= until:
                found.append((sim.next_update, 1, "update", sid))
        for evse in self.evses.values():
            key = f"{evse.location_id}\x00{evse.evse_uid}"
            if evse.pending is not None and evse.pending.until <= until:
                found.append((evse.pending.until, 2, "pending", key))
            if evse.reservation is not None and evse.reservation.expiry <= until:
                found.append((evse.reservation.expiry, 3, "reservation", key))
        return min(found) if found else None

    async def _handle(self, kind: str, key: str, when: datetime) -> None:
        if kind == "full":
            sim = self.sessions[key]
            self._advance_charge(sim, when)
            self._close_period(sim, when, reopen=UsageState.PARKING)
            await self.push_session(sim, when)
        elif kind == "update":
            sim = self.sessions[key]
            self._advance_charge(sim, when)
            assert sim.open_state is not None
            self._close_period(sim, when, reopen=sim.open_state)
            sim.next_update = when + timedelta(seconds=self.sim.session_update_interval)
            await self.push_session(sim, when)
        elif kind == "pending":
            location_id, evse_uid = key.split("\x00")
            evse = self.evses[(location_id, evse_uid)]
            log.info("no car was plugged in at %s/%s in time: start dropped", *evse.key)
            evse.pending = None
            await self.save_evses(evse)
        elif kind == "reservation":
            location_id, evse_uid = key.split("\x00")
            evse = self.evses[(location_id, evse_uid)]
            reservation = evse.reservation
            assert reservation is not None
            evse.reservation = None
            held = self.sessions.get(reservation.session_id)
            if held is not None and held.session.status is SessionStatus.RESERVATION:
                held.reservation_expired = True
                await self._finish(held, when, "reservation expired")
            await self.set_status(evse, EvseEvent.RELEASE, when)

    # --- meter periods ------------------------------------------------------------------------
    def _meter(self, sim: SessionSim, at: datetime) -> Decimal:
        state = self._charge_of(sim)
        if state is None:
            return sim.open_meter
        return charging.meter_kwh(state.energy_at(at))

    def _close_period(self, sim: SessionSim, at: datetime, reopen: UsageState | None) -> None:
        """End the open meter period at `at` (kept if it lasted) and open `reopen` there."""
        if sim.open_state is not None and sim.open_start is not None and at > sim.open_start:
            meter = self._meter(sim, at)
            energy = meter - sim.open_meter if sim.open_state is UsageState.CHARGING else Decimal(0)
            current = None
            soc = None
            state = self._charge_of(sim)
            if state is not None and sim.vehicle is not None:
                soc = min(state.soc_at(at, sim.vehicle), 1.0)
            if sim.open_state is UsageState.CHARGING:
                seconds = (at - sim.open_start).total_seconds()
                average_kw = float(energy) * 3600 / seconds if seconds > 0 else 0.0
                amps = charging.current_amperes(
                    average_kw, self._power_type(sim), sim.voltage, sim.vehicle or Vehicle()
                )
                current = Decimal(str(round(amps, 2)))
            sim.periods.append(
                MeterPeriod(
                    state=sim.open_state,
                    start=sim.open_start,
                    end=at,
                    energy=energy,
                    current=current,
                    soc=soc,
                )
            )
            sim.open_meter = meter
        elif sim.open_state is not None:
            sim.open_meter = self._meter(sim, at)
        sim.open_state = reopen
        sim.open_start = at if reopen is not None else None

    # --- pushes -------------------------------------------------------------------------------
    def _client(self) -> OcpiClient | None:
        if self.registration.peer is None:
            return None
        return self.registration.client(self.party)

    def _hub_url(self, module: ModuleID, role: InterfaceRole, *segments: str) -> str | None:
        peer = self.registration.peer
        if peer is None:
            return None
        base = peer.endpoint(module, role)
        if base is None:
            return None
        return "/".join([base.rstrip("/"), *(quote(s, safe="") for s in segments)])

    @property
    def hub_party(self) -> PartyRef | None:
        peer = self.registration.peer
        return peer.hub_party if peer is not None else None

    def _broadcast(
        self, method: str, module: ModuleID, segments: tuple[str, ...], body: Any
    ) -> None:
        """PUT/PATCH to the hub with TO = the hub (a broadcast, digest §2.3b)."""

        async def job() -> None:
            client = self._client()
            url = self._hub_url(module, InterfaceRole.RECEIVER, *segments)
            if client is None or url is None:
                log.debug("not connected to a hub: %s %s not pushed", method, module.value)
                return
            for attempt in range(BROADCAST_ATTEMPTS):
                try:
                    await client.request(method, url, json_body=body, to=self.hub_party)
                    return
                except (PeerUnreachable, PeerTimeout) as exc:
                    # PUT and PATCH are idempotent: a dropped connection or a timeout (a hub
                    # busy with a large sync) is worth another try; an OCPI error is not.
                    if attempt + 1 == BROADCAST_ATTEMPTS:
                        log.warning("%s %s %s failed: %s", method, module.value, segments, exc)
                        return
                    await asyncio.sleep(BROADCAST_RETRY_DELAY * 4**attempt)
                except (OcpiError, httpx.HTTPError) as exc:
                    log.warning("%s %s %s failed: %s", method, module.value, segments, exc)
                    return

        self.outbox.put(f"{method} {module.value}", job)

    def _direct(
        self, method: str, module: ModuleID, segments: tuple[str, ...], body: Any, to: PartyRef
    ) -> None:
        """PUT to one party through the hub (TO = that party): re-sync after an outage."""

        async def job() -> None:
            client = self._client()
            url = self._hub_url(module, InterfaceRole.RECEIVER, *segments)
            if client is None or url is None or not self.reachable(to):
                return
            try:
                await client.request(method, url, json_body=body, to=to)
            except (OcpiError, httpx.HTTPError) as exc:
                log.warning("re-sync %s %s to %s failed: %s", method, module.value, to, exc)

        self.outbox.put(f"{method} {module.value} to {to}", job)

    def publish_all(self) -> None:
        """Broadcast every tariff, then every location (after registration)."""
        own = (self.party.country_code, self.party.party_id)
        for tariff in list(self.tariffs.values()):
            self._broadcast("PUT", ModuleID.TARIFFS, (*own, tariff.id), tariff.to_json())
        for location in list(self.locations.values()):
            self._broadcast("PUT", ModuleID.LOCATIONS, (*own, location.id), location.to_json())

    async def set_status(self, evse: EvseSim, event: EvseEvent, at: datetime) -> Status:
        """Apply an event to the EVSE, persist, and broadcast the status if it changed."""
        plugged = evse.plug is not None
        status = next_status(evse.status, event, plugged)
        await self.save_evses(evse)
        if status is evse.status:
            return status
        evse.status = status
        location = self.locations[evse.location_id]
        evses = [
            e.model_copy(update={"status": status, "last_updated": at})
            if e.uid == evse.evse_uid
            else e
            for e in location.evses or []
        ]
        # Spec mod_locations: a change of an EVSE updates the Location's last_updated too.
        location = location.model_copy(update={"evses": evses, "last_updated": at})
        self.locations[location.id] = location
        await self.save_evses(evse)
        await asyncio.to_thread(self.store.save_location, location)
        body = {"status": status.value, "last_updated": format_datetime(at)}
        own = (self.party.country_code, self.party.party_id)
        self._broadcast("PATCH", ModuleID.LOCATIONS, (*own, evse.location_id, evse.evse_uid), body)
        return status

    async def push_session(self, sim: SessionSim, at: datetime) -> None:
        """Bring the Session up to date and send it: PATCH with the new periods, or PUT in full
        when the eMSP may have missed something (spec mod_sessions: PATCH appends periods)."""
        session = sim.session
        new = [
            sessions.session_period(p, session_tariff_id(sim))
            for p in sim.periods[sim.sent_periods :]
        ]
        kwh = self._meter(sim, at)
        cost = sessions.running_cost(sim, sim.periods)
        sim.session = session.model_copy(
            update={
                "kwh": kwh,
                "charging_periods": [*(session.charging_periods or []), *new] or None,
                "total_cost": cost,
                "last_updated": at,
            }
        )
        sim.sent_periods = len(sim.periods)
        if sim.needs_put:
            body = sim.session.to_json()
            method = "PUT"
            sim.needs_put = False
        else:
            method = "PATCH"
            # Spec mod_sessions PATCH: the changed fields plus last_updated; charging_periods
            # are appended by the receiver, so only the new ones are sent.
            full = sim.session.to_json()
            body = {key: full[key] for key in _PATCHED if key in full}
            if new:
                body["charging_periods"] = [p.to_json() for p in new]
        await self.save_session(sim)
        self._send_session(sim.session.id, method, body, PartyRef.parse(sim.emsp))

    def _send_session(self, session_id: str, method: str, body: Any, to: PartyRef) -> None:
        async def job() -> None:
            client = self._client()
            url = self._hub_url(
                ModuleID.SESSIONS,
                InterfaceRole.RECEIVER,
                self.party.country_code,
                self.party.party_id,
                session_id,
            )
            error = ""
            if client is None or url is None:
                error = "not connected to a hub"
            elif not self.reachable(to):
                error = f"{to} is not CONNECTED"
            else:
                try:
                    await client.request(method, url, json_body=body, to=to)
                except (OcpiError, httpx.HTTPError) as exc:
                    error = str(exc)
            if error:
                log.info(
                    "session %s %s not delivered (%s): next push is a PUT",
                    method,
                    session_id,
                    error,
                )
                async with self.lock:
                    sim = self.sessions[session_id]
                    sim.needs_put = True
                    await self.save_session(sim)

        self.outbox.put(f"{method} session {session_id}", job)

    # --- sessions -----------------------------------------------------------------------------
    def new_session_id(self) -> str:
        return f"S{len(self.session_seq) + 1:06d}"

    async def start_session(
        self,
        evse: EvseSim,
        token: Token | CdrToken,
        auth_method: AuthMethod,
        authorization_reference: str | None,
        at: datetime,
    ) -> SessionSim:
        """A car is plugged in and authorized: charging begins (or a reservation turns into
        charging). Caller holds the lock."""
        plug = evse.plug
        assert plug is not None
        location = self.locations[evse.location_id]
        evse_obj = self.find_evse(location, evse.evse_uid)
        assert evse_obj is not None
        connector = self.find_connector(evse_obj, plug.connector_id) or evse_obj.connectors[0]
        reservation = evse.reservation
        sim: SessionSim | None = None
        if reservation is not None and same_token(reservation.token, token):
            sim = self.sessions.get(reservation.session_id)
            evse.reservation = None
        vehicle = plug.vehicle.model_copy(update={"soc": plug.soc})
        limit = charging.connector_kw(connector)
        state = charging.begin(
            vehicle, plug.soc, limit, connector.power_type, at, self.sim.meter_step
        )
        cdr_token = cdr_token_of(token)
        if sim is not None:
            self._close_period(sim, at, reopen=UsageState.CHARGING)
            tariff = sessions.choose_tariff(connector, self.tariffs, sim.cdr_start) or sim.tariff
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
            tariff = sessions.choose_tariff(connector, self.tariffs, at)
            session = Session(
                country_code=self.party.country_code,
                party_id=self.party.party_id,
                id=self.new_session_id(),
                start_date_time=at,
                kwh=Decimal(0),
                cdr_token=cdr_token,
                auth_method=auth_method,
                authorization_reference=authorization_reference,
                location_id=location.id,
                evse_uid=evse_obj.uid,
                connector_id=connector.id,
                meter_id=evse_obj.evse_id,
                currency=tariff.currency if tariff else self.settings.currency,
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
            self.session_seq[session.id] = len(self.session_seq)
            self.sessions[session.id] = sim
        sim.vehicle = vehicle
        sim.limit_kw = limit
        sim.voltage = int(connector.max_voltage)
        sim.charge = ChargeSnapshot.of(state)
        sim.open_meter = Decimal(0)
        sim.next_update = at + timedelta(seconds=self.sim.session_update_interval)
        evse.pending = None
        evse.session_id = sim.session.id
        await self.set_status(evse, EvseEvent.START, at)
        await self.push_session(sim, at)
        return sim

    async def _finish(self, sim: SessionSim, at: datetime, reason: str) -> None:
        """End a session at `at`: final Session update, then the priced CDR. Lock held."""
        if sim.open_state is UsageState.CHARGING:
            self._advance_charge(sim, at)
        self._close_period(sim, at, reopen=None)
        sim.next_update = None
        sim.stop_reason = reason
        sim.session = sim.session.model_copy(
            update={"status": SessionStatus.COMPLETED, "end_date_time": at}
        )
        await self.push_session(sim, at)
        key = (sim.session.location_id, sim.session.evse_uid)
        evse = self.evses.get(key)
        if evse is not None and evse.session_id == sim.session.id:
            evse.session_id = None
            state = self._charge_of(sim)
            if evse.plug is not None and state is not None and sim.vehicle is not None:
                evse.plug.soc = min(state.soc_at(at, sim.vehicle), 1.0)
        charged = any(p.state is not UsageState.RESERVATION for p in sim.periods)
        cdr = sessions.build_cdr(sim, "C" + sim.session.id.removeprefix("S"), at)
        if not charged and cdr.total_cost.excl_vat == 0:
            # A reservation that cost nothing and led to no charging is not billed.
            await self.save_session(sim)
            return
        entry = CdrEntry(cdr=cdr, emsp=sim.emsp, next_attempt_at=at)
        self.cdrs[cdr.id] = entry
        await self.save_cdr(entry)

    async def stop_session(self, sim: SessionSim, at: datetime, reason: str, unplug: bool) -> None:
        """Stop a running session; the car stays plugged in unless `unplug`. Lock held."""
        await self._finish(sim, at, reason)
        evse = self.evses[(sim.session.location_id, sim.session.evse_uid)]
        if unplug:
            evse.plug = None
            await self.set_status(evse, EvseEvent.UNPLUG, at)
        else:
            await self.set_status(evse, EvseEvent.STOP, at)
        self.schedule_deliveries(at)

    # --- CDR delivery and command results -----------------------------------------------------
    def schedule_deliveries(self, now: datetime) -> None:
        for entry in self.cdrs.values():
            cdr_id = entry.cdr.id
            due = entry.next_attempt_at
            ready = entry.delivery == "pending" and due is not None and due <= now
            if ready and cdr_id not in self._in_flight:
                self._in_flight.add(cdr_id)
                self.outbox.put(f"POST cdr {cdr_id}", self._deliver_cdr_job(cdr_id))
        for item in self.results.values():
            if item.state == "due" and item.due_at <= now and item.id not in self._in_flight:
                self._in_flight.add(item.id)
                self.outbox.put(f"POST result {item.id}", self._post_result_job(item.id))

    def _backoff(self, attempts: int) -> timedelta:
        seconds = min(self.sim.retry_initial * 2 ** max(attempts - 1, 0), self.sim.retry_max)
        return timedelta(seconds=seconds)

    def _deliver_cdr_job(self, cdr_id: str) -> Any:
        async def job() -> None:
            entry = self.cdrs[cdr_id]
            to = PartyRef.parse(entry.emsp)
            client = self._client()
            url = self._hub_url(ModuleID.CDRS, InterfaceRole.RECEIVER)
            outcome: str | None = None
            location_url = ""
            if client is None or url is None:
                error = "not connected to a hub"
            elif not self.reachable(to):
                error = f"{to} is not CONNECTED (it is retried when it is back)"
            else:
                try:
                    answer = await client.post(url, entry.cdr, to=to)
                    outcome, error = "delivered", ""
                    location_url = answer.headers.get("Location", "")
                except ClientError as exc:
                    # 2xxx: the eMSP read the CDR and refused it. A CDR is immutable (spec
                    # mod_cdrs), so sending it again cannot help: an operator must credit it.
                    outcome, error = "rejected", str(exc)
                except (OcpiError, httpx.HTTPError) as exc:
                    error = str(exc)
            async with self.lock:
                self._in_flight.discard(cdr_id)
                entry.last_error = error
                if outcome is not None:
                    entry.delivery = outcome
                    entry.next_attempt_at = None
                    entry.location_url = location_url
                    if outcome == "delivered":
                        entry.attempts += 1
                else:
                    entry.attempts += 1
                    entry.next_attempt_at = self.now() + self._backoff(entry.attempts)
                    log.info(
                        "CDR %s not delivered (%s); next attempt %s",
                        cdr_id,
                        error,
                        entry.next_attempt_at,
                    )
                await self.save_cdr(entry)

        return job

    def _post_result_job(self, result_id: str) -> Any:
        async def job() -> None:
            item = self.results[result_id]
            client = self._client()
            note = ""
            if client is None:
                note = "not connected to a hub"
            else:
                try:
                    await client.post(
                        item.response_url, item.result, to=parse_party(item.requester)
                    )
                except (OcpiError, httpx.HTTPError) as exc:
                    note = str(exc)
            async with self.lock:
                self._in_flight.discard(result_id)
                item.state = "failed" if note else "sent"
                item.note = note
                await asyncio.to_thread(self.store.save_result, item)
                self.results.pop(result_id, None)
            if note:
                log.warning("CommandResult to %s failed: %s", item.response_url, note)

        return job

    async def queue_result(
        self,
        command: str,
        response_url: str,
        requester: PartyRef | None,
        result: CommandResultType,
        message: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Persist a CommandResult and send it at once (or after `delay` simulated seconds,
        for a charger that does not answer). Lock held."""
        at = self.now()
        body = CommandResult(
            result=result,
            message=[DisplayText(language="en", text=message)] if message else None,
        )
        item = PendingResult(
            id=uuid.uuid4().hex,
            command=command,
            response_url=response_url,
            requester=party_text(requester),
            result=body.to_json(),
            due_at=at + timedelta(seconds=delay),
        )
        self.results[item.id] = item
        await asyncio.to_thread(self.store.save_result, item)
        self.schedule_deliveries(at)

    # --- tokens (Receiver) --------------------------------------------------------------------
    async def put_token(self, token: Token) -> bool:
        """Store a pushed token; True when it is new."""
        async with self.lock:
            key = token_key(token.country_code, token.party_id, token.uid, token.type)
            created = key not in self.tokens
            await asyncio.to_thread(self.store.save_token, token)
            self.tokens[key] = token
            return created

    # --- HubClientInfo (Receiver) -------------------------------------------------------------
    async def put_client_info(self, info: ClientInfo) -> bool:
        """Keep what the hub says about a party; re-sync it when it comes back."""
        async with self.lock:
            await self.advance_to(self.clock.now())
            key = (info.country_code.upper(), info.party_id.upper(), info.role.value)
            previous = self.parties.get(key)
            connected = info.status is ConnectionStatus.CONNECTED
            was_connected = (
                previous is not None and previous.info.status is ConnectionStatus.CONNECTED
            )
            offline_since = None
            if not connected:
                offline_since = (previous.offline_since if previous else None) or self.now()
            party = KnownParty(info, offline_since)
            self.parties[key] = party
            await asyncio.to_thread(self.store.save_party, party)
            if connected and previous is not None and not was_connected:
                self._resync(
                    PartyRef(info.country_code, info.party_id), info.role, previous.offline_since
                )
            return previous is None

    def _resync(self, party: PartyRef, role: Role, since: datetime | None) -> None:
        """A party is CONNECTED again: send it what it missed (sessions in full, pending CDRs
        at once, locations and tariffs changed while it was away)."""
        now = self.now()
        text = str(party)
        for sim in self.sessions.values():
            if sim.emsp == text and (
                sim.needs_put or (since and sim.session.last_updated >= since)
            ):
                sim.needs_put = False
                self._send_session(sim.session.id, "PUT", sim.session.to_json(), party)
        for entry in self.cdrs.values():
            if entry.emsp == text and entry.delivery == "pending":
                entry.next_attempt_at = now
        if role in _RECEIVING_ROLES and since is not None:
            own = (self.party.country_code, self.party.party_id)
            for tariff in self.tariffs.values():
                if tariff.last_updated >= since:
                    self._direct(
                        "PUT", ModuleID.TARIFFS, (*own, tariff.id), tariff.to_json(), party
                    )
            for location in self.locations.values():
                if location.last_updated >= since:
                    self._direct(
                        "PUT", ModuleID.LOCATIONS, (*own, location.id), location.to_json(), party
                    )
        self.schedule_deliveries(now)

    # --- control: the physical world ----------------------------------------------------------
    async def plug(
        self,
        location_id: str,
        evse_uid: str,
        connector_id: str | None = None,
        vehicle: dict[str, Any] | None = None,
    ) -> EvseSim:
        async with self.lock:
            await self.advance_to(self.clock.now())
            at = self.now()
            _location, evse_obj, evse = self.evse_parts(location_id, evse_uid)
            if evse.plug is not None:
                raise ControlError(f"a car is already plugged in at {location_id}/{evse_uid}")
            connector_id = connector_id or evse_obj.connectors[0].id
            if self.find_connector(evse_obj, connector_id) is None:
                raise ControlError(f"EVSE {evse_uid} has no connector {connector_id}", 404)
            try:
                car = vehicle_from(vehicle or {"preset": self.sim.default_vehicle})
            except ValueError as exc:
                raise ControlError(f"vehicle: {exc}", 400) from None
            try:
                next_status(evse.status, EvseEvent.PLUG, True)
            except TransitionError as exc:
                raise ControlError(f"cannot plug in at {location_id}/{evse_uid}: {exc}") from None
            await self._attach(evse, connector_id, car, at)
            pending = evse.pending
            if pending is not None and (pending.connector_id in (None, connector_id)):
                await self.start_session(
                    evse, pending.token, pending.auth_method, pending.authorization_reference, at
                )
            return evse

    async def _attach(self, evse: EvseSim, connector_id: str, car: Vehicle, at: datetime) -> None:
        evse.plug = Plug(connector_id=connector_id, vehicle=car, soc=car.soc, plugged_at=at)
        await self.set_status(evse, EvseEvent.PLUG, at)

    async def plug_virtual_car(self, evse: EvseSim, connector_id: str | None, at: datetime) -> None:
        """`simulation.auto_plug`: the default car is plugged in where a remote start was
        accepted, so that a contract test (roam conformance) needs no driver. Lock held."""
        location = self.locations[evse.location_id]
        evse_obj = self.find_evse(location, evse.evse_uid)
        if evse_obj is None or evse.plug is not None:
            return
        try:
            next_status(evse.status, EvseEvent.PLUG, True)
        except TransitionError:
            return
        car = vehicle_from({"preset": self.sim.default_vehicle})
        await self._attach(evse, connector_id or evse_obj.connectors[0].id, car, at)

    async def unplug(self, location_id: str, evse_uid: str) -> EvseSim:
        async with self.lock:
            await self.advance_to(self.clock.now())
            at = self.now()
            _, _, evse = self.evse_parts(location_id, evse_uid)
            if evse.plug is None:
                raise ControlError(f"no car is plugged in at {location_id}/{evse_uid}")
            sim = self.sessions.get(evse.session_id or "")
            if sim is not None and sim.session.status is SessionStatus.ACTIVE:
                await self.stop_session(sim, at, "car unplugged", unplug=True)
            else:
                evse.plug = None
                await self.set_status(evse, EvseEvent.UNPLUG, at)
            return evse

    async def fault(self, location_id: str, evse_uid: str, kind: FaultKind) -> EvseSim:
        """Break an EVSE. OUTOFORDER/INOPERATIVE end its session and cancel its reservation
        (CANCELED_RESERVATION to the eMSP, spec mod_commands); the other kinds only change
        how its charger answers commands."""
        async with self.lock:
            await self.advance_to(self.clock.now())
            at = self.now()
            _, _, evse = self.evse_parts(location_id, evse_uid)
            if evse.status is Status.REMOVED:
                raise ControlError(f"{location_id}/{evse_uid} is REMOVED")
            evse.fault = kind
            if kind in (FaultKind.OUTOFORDER, FaultKind.INOPERATIVE):
                sim = self.sessions.get(evse.session_id or "")
                if sim is not None and sim.session.status is SessionStatus.ACTIVE:
                    await self._finish(sim, at, f"EVSE {kind.value}")
                if evse.reservation is not None:
                    await self.cancel_reservation(evse, at, CommandResultType.CANCELED_RESERVATION)
                event = EvseEvent.FAULT if kind is FaultKind.OUTOFORDER else EvseEvent.DISABLE
                evse.session_id = None
                await self.force_status(evse, event, at)
            else:
                await self.save_evses(evse)
            self.schedule_deliveries(at)
            return evse

    async def force_status(self, evse: EvseSim, event: EvseEvent, at: datetime) -> None:
        # FAULT/DISABLE from CHARGING: the session was ended just before.
        if evse.status is Status.CHARGING:
            evse.status = Status.BLOCKED if evse.plug is not None else Status.AVAILABLE
        await self.set_status(evse, event, at)

    async def repair(self, location_id: str, evse_uid: str) -> EvseSim:
        async with self.lock:
            await self.advance_to(self.clock.now())
            at = self.now()
            _, _, evse = self.evse_parts(location_id, evse_uid)
            if evse.fault is None and evse.status not in (Status.OUTOFORDER, Status.INOPERATIVE):
                raise ControlError(f"{location_id}/{evse_uid} is not faulty")
            evse.fault = None
            if evse.status in (Status.OUTOFORDER, Status.INOPERATIVE):
                await self.set_status(evse, EvseEvent.REPAIR, at)
            else:
                await self.save_evses(evse)
            return evse

    async def remove(self, location_id: str, evse_uid: str) -> EvseSim:
        """Retire an EVSE for good (spec mod_locations: EVSEs are never deleted, they become
        REMOVED). A running session must end first; a reservation is cancelled."""
        async with self.lock:
            await self.advance_to(self.clock.now())
            at = self.now()
            _, _, evse = self.evse_parts(location_id, evse_uid)
            try:
                next_status(evse.status, EvseEvent.REMOVE, evse.plug is not None)
            except TransitionError as exc:
                raise ControlError(f"cannot remove {location_id}/{evse_uid}: {exc}") from None
            if evse.reservation is not None:
                await self.cancel_reservation(evse, at, CommandResultType.CANCELED_RESERVATION)
            evse.pending = None
            await self.set_status(evse, EvseEvent.REMOVE, at)
            self.schedule_deliveries(at)
            return evse

    async def cancel_reservation(
        self, evse: EvseSim, at: datetime, result: CommandResultType | None
    ) -> None:
        reservation = evse.reservation
        assert reservation is not None
        evse.reservation = None
        sim = self.sessions.get(reservation.session_id)
        if sim is not None and sim.session.status is SessionStatus.RESERVATION:
            await self._finish(sim, at, "reservation cancelled")
        if result is not None:
            await self.queue_result(
                "RESERVE_NOW",
                reservation.response_url,
                parse_party(reservation.requester),
                result,
                f"reservation {reservation.reservation_id} was cancelled by the CPO",
            )

    async def swipe(
        self, location_id: str, evse_uid: str, uid: str, type: TokenType = TokenType.RFID
    ) -> SwipeOutcome:
        """An RFID card at an EVSE's reader: stop own session, or authorize and start."""
        async with self.lock:
            await self.advance_to(self.clock.now())
            at = self.now()
            _, _, evse = self.evse_parts(location_id, evse_uid)
            sim = self.sessions.get(evse.session_id or "")
            if sim is not None and sim.session.status is SessionStatus.ACTIVE:
                if sim.session.cdr_token.uid == uid:
                    await self.stop_session(sim, at, "card swiped", unplug=False)
                    return SwipeOutcome(
                        "STOPPED", "the card that started it", session_id=sim.session.id
                    )
                return SwipeOutcome("BLOCKED", "the EVSE is in use by another driver")
            if evse.status in (Status.OUTOFORDER, Status.INOPERATIVE, Status.REMOVED):
                return SwipeOutcome("BLOCKED", f"the EVSE is {evse.status.value}")
            known = self.find_tokens(uid, type)
            cached = known[0] if known else None
            decision = whitelist_decision(cached)
        if decision is Decision.BLOCK_LOCALLY:
            return SwipeOutcome("BLOCKED", "the token is not valid (whitelist ALWAYS)")
        token: Token | CdrToken | None = cached
        reference = None
        method = AuthMethod.WHITELIST
        if decision is Decision.ASK_EMSP:
            owner = PartyRef(cached.country_code, cached.party_id) if cached else None
            try:
                info = await self.authorize(uid, type, owner, location_id, evse_uid)
            except (UnknownToken, UnknownReceiver) as exc:
                return SwipeOutcome("BLOCKED", f"the token is not known: {exc.message}")
            except (ConnectionProblem, ForwardTimeout, PeerError, httpx.HTTPError) as exc:
                if not offline_fallback(cached):
                    return SwipeOutcome("BLOCKED", f"the eMSP cannot be reached: {exc}")
            except OcpiError as exc:
                return SwipeOutcome("BLOCKED", f"authorization failed: {exc}")
            else:
                if not allows(info, location_id, evse_uid):
                    return SwipeOutcome("BLOCKED", f"the eMSP answered {info.allowed.value}")
                token, reference, method = (
                    info.token,
                    info.authorization_reference,
                    AuthMethod.AUTH_REQUEST,
                )
        assert token is not None
        async with self.lock:
            await self.advance_to(self.clock.now())
            at = self.now()
            _, _, evse = self.evse_parts(location_id, evse_uid)
            if evse.reservation is not None and not same_token(evse.reservation.token, token):
                return SwipeOutcome("BLOCKED", "the EVSE is reserved for another driver")
            if evse.session_id is not None:
                return SwipeOutcome("BLOCKED", "the EVSE is in use by another driver")
            full = token if isinstance(token, Token) else None
            if evse.plug is not None:
                started = await self.start_session(evse, token, method, reference, at)
                return SwipeOutcome("ALLOWED", "charging", method, reference, started.session.id)
            if full is None:
                return SwipeOutcome("BLOCKED", "the token is not known")
            evse.pending = PendingStart(
                token=full,
                auth_method=method,
                authorization_reference=reference,
                requester=f"{full.country_code.upper()}/{full.party_id.upper()}",
                until=at + timedelta(seconds=self.sim.connection_timeout),
            )
            await self.save_evses(evse)
            return SwipeOutcome("ALLOWED", "plug in the car to start", method, reference)

    async def authorize(
        self, uid: str, type: TokenType, owner: PartyRef | None, location_id: str, evse_uid: str
    ) -> AuthorizationInfo:
        """Real-time authorization through the hub (spec mod_tokens `authorize`); TO = the
        token's eMSP when known, else open routing (the hub finds the issuer of the uid)."""
        client = self._client()
        url = self._hub_url(ModuleID.TOKENS, InterfaceRole.SENDER, uid, "authorize")
        if client is None or url is None:
            raise ConnectionProblem("not connected to a hub")
        references = LocationReferences(location_id=location_id, evse_uids=[evse_uid])
        answer = await client.post(url, references, to=owner, params={"type": type.value})
        return answer.parse(AuthorizationInfo)

    # --- views --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        peer = self.registration.peer
        return {
            "party": str(self.party),
            "name": self.settings.name,
            "registered": peer is not None,
            "hub_party": str(peer.hub_party) if peer and peer.hub_party else None,
            "clock": {"mode": self.clock.mode.value, "now": format_datetime(self.now())},
            "locations": len(self.locations),
            "evses": len(self.evses),
            "tariffs": len(self.tariffs),
            "tokens": len(self.tokens),
            "sessions": len(self.sessions),
            "open_sessions": len(self.open_sessions()),
            "cdrs": len(self.cdrs),
            "cdrs_pending": sum(1 for e in self.cdrs.values() if e.delivery == "pending"),
            "outbox": self.outbox.pending,
        }


def session_tariff_id(sim: SessionSim) -> str:
    return sessions.tariff_of(sim).id


def cdr_token_of(token: Token | CdrToken) -> CdrToken:
    return CdrToken(
        country_code=token.country_code,
        party_id=token.party_id,
        uid=token.uid,
        type=token.type,
        contract_id=token.contract_id,
    )


def same_token(a: Token | CdrToken, b: Token | CdrToken) -> bool:
    return (a.country_code.upper(), a.party_id.upper(), a.uid, a.type) == (
        b.country_code.upper(),
        b.party_id.upper(),
        b.uid,
        b.type,
    )
