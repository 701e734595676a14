"""What the mock CPO knows, and the one lock that guards it.

`CpoState` holds the locations, tariffs, tokens, EVSE simulations, sessions, CDRs and pending
command results, the clock and the link to the hub. The locking rule: every change of the
state happens with `lock` held, and is persisted before it is announced; a function that
changes state calls `require_lock()` first, so that breaking the rule fails at once instead
of racing. Network calls never run under the lock (the link queues them in the outbox).

Writes go through one `Writer` (cpo_mock/writer.py), in the order the state changed. Most
are waited for with the lock held, as before; an EVSE status change and the simulated clock
are only queued, so that a burst of them shares a few writes: the status PATCH waits in the
outbox for its write, and the operation waits for it after releasing the lock, before it
answers (`simulation.caught_up`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime

from cpo_mock import sessions
from cpo_mock.clock import Clock
from cpo_mock.link import HubLink
from cpo_mock.model import EvseSim, SessionSim
from cpo_mock.network import ALLIANCE_COUNTRIES, Network, generate_network
from cpo_mock.settings import ConfigError, CpoSettings
from cpo_mock.store import CdrEntry, PendingResult, StatusRow, Store, Unpushed
from cpo_mock.writer import Writer
from ocpi.headers import PartyRef
from ocpi.platform import OperationError
from ocpi.pricing import PricingError, compile_tariff
from ocpi.v221.cdrs import CdrToken
from ocpi.v221.locations import EVSE, Connector, Location
from ocpi.v221.sessions import SessionStatus
from ocpi.v221.tariffs import Tariff
from ocpi.v221.tokens import Token, TokenType
from ocpi.v221.types import Role, format_datetime

log = logging.getLogger("cpo_mock")

TokenKey = tuple[str, str, str, str]
"""(country_code, party_id, uid, type) of a stored Token: (uid, type) is unique per eMSP."""

OPEN = (SessionStatus.ACTIVE, SessionStatus.PENDING, SessionStatus.RESERVATION)
ACKNOWLEDGED_WRITE_S = 1.0
"""Real seconds between two removals of acknowledged marks (`CpoState.pushed`)."""
RECEIVING_ROLES = frozenset({Role.EMSP, Role.NSP, Role.OTHER, Role.SCSP, Role.NAP})
"""Roles that receive what the CPO sends (a party is reachable if one of them is)."""


class CpoState:
    """The CPO's state plus its lock (see the module docstring for the rule)."""

    def __init__(self, settings: CpoSettings, store: Store, clock: Clock, link: HubLink) -> None:
        self.settings = settings
        self.sim = settings.simulation
        self.party = settings.party
        self.store = store
        self.clock = clock
        self.link = link
        self.lock = asyncio.Lock()
        self.locations: dict[str, Location] = {}
        self.tariffs: dict[str, Tariff] = {}
        self.tokens: dict[TokenKey, Token] = {}
        self.evses: dict[tuple[str, str], EvseSim] = {}
        self.sessions: dict[str, SessionSim] = {}
        self.session_seq: dict[str, int] = {}
        self.cdrs: dict[str, CdrEntry] = {}
        self.cdr_seq: dict[str, int] = {}
        self.results: dict[str, PendingResult] = {}
        self.simulated_until = clock.now()
        self.in_flight: set[str] = set()
        """CDR and result ids whose delivery is queued or under way (queued once)."""
        self.writer = Writer(store)
        self.clock_written: str | None = None
        """The simulated time last stored (not written again while the clock stands)."""
        self.push_version = 0
        """The last version given to a broadcast of a location or tariff (`UnpushedRecord`)."""
        self.unpushed: dict[tuple[str, str], int] = {}
        """(module, object id) -> version of the objects whose last change the hub has not
        acknowledged yet: as stored, give or take the acknowledgements not yet written."""
        self.push_failed: dict[tuple[str, str], int] = {}
        """(module, object id) -> version of the objects whose broadcast of `version` was not
        answered (the hub away): PUT again as a whole while running (`deliveries.push_again`);
        until then no PATCH of another part of the object clears its mark."""
        self.pushing_again: set[tuple[str, str]] = set()
        """The objects of `push_failed` whose new PUT is on its way."""
        self._acknowledged: list[Unpushed] = []
        """Acknowledged versions whose marks are still in the database (written in batches:
        a mark left by a kill costs a PUT the hub already has, not a lost change)."""
        self._flush: asyncio.TimerHandle | None = None

    def require_lock(self) -> None:
        """Every state change calls this first: the lock must be held (by the caller)."""
        assert self.lock.locked(), "CPO state changed without holding its lock"

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
        """The location, its EVSE and the EVSE's simulation; OperationError 404 naming the
        missing one."""
        location = self.locations.get(location_id)
        if location is None:
            raise OperationError(f"location {location_id} is not known here", 404)
        evse = self.find_evse(location, evse_uid)
        if evse is None:
            raise OperationError(f"location {location_id} has no EVSE {evse_uid}", 404)
        return location, evse, self.evses[(location_id, evse_uid)]

    def open_sessions(self) -> list[SessionSim]:
        return [s for s in self.sessions.values() if s.session.status in OPEN]

    def find_tokens(self, uid: str, type: TokenType) -> list[Token]:
        found = [t for key, t in self.tokens.items() if key[2] == uid and key[3] == type.value]
        return sorted(found, key=lambda t: not t.valid)

    def new_session_id(self) -> str:
        return f"S{len(self.session_seq) + 1:06d}"

    @property
    def own(self) -> tuple[str, str]:
        """(country_code, party_id): the first URL segments of every object the CPO owns."""
        return (self.party.country_code, self.party.party_id)

    # --- persistence (the store is synchronous: the writer runs it in a worker thread) --------
    async def save_session(self, sim: SessionSim) -> None:
        seq = self.session_seq.setdefault(sim.session.id, len(self.session_seq))
        await self.writer.write(functools.partial(self.store.save_session, seq, sim))

    async def save_evses(self, *evses: EvseSim) -> None:
        await self.writer.write(functools.partial(self.store.save_evses, list(evses)))

    def save_status(self, evse: EvseSim, location: Location, version: int) -> asyncio.Future[None]:
        """Queue a status change's write, its location marked as not pushed at `version` (not
        waited for: see the module docstring); the future is done once it is stored.
        Serialised now: the objects may change before."""
        self.require_lock()
        self.unpushed[("locations", location.id)] = version
        return self.writer.queue(StatusRow.of(evse, location, version))

    # --- broadcasts the hub has not acknowledged yet ------------------------------------------
    def next_push_version(self) -> int:
        self.push_version += 1
        return self.push_version

    def mark_unpushed(self, marks: list[Unpushed]) -> asyncio.Future[None]:
        """Queue the write of these objects' marks (the initial publish): done once stored."""
        for module, object_id, version in marks:
            self.unpushed[(module, object_id)] = version
        return self.writer.queue(functools.partial(self.store.mark_unpushed, marks))

    def pushed(self, module: str, object_id: str, version: int, whole: bool = False) -> None:
        """The hub answered the broadcast of `version` (accepted or refused: sending it again
        cannot help): the mark goes, unless a later change set a larger version, or an
        earlier broadcast of the object was not answered and this one is not the whole
        object (a PATCH of EVSE 2 does not bring the hub EVSE 1's lost status)."""
        key = (module, object_id)
        if whole:
            self.pushing_again.discard(key)
        failed = self.push_failed.get(key)
        if failed is not None:
            if not whole:
                return
            if failed <= version:
                del self.push_failed[key]
        if self.unpushed.get(key, 0) <= version:
            self.unpushed.pop(key, None)
        self._acknowledged.append((module, object_id, version))
        if self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_later(ACKNOWLEDGED_WRITE_S, self.write_acknowledged)

    def push_lost(self, module: str, object_id: str, version: int) -> None:
        """The broadcast of `version` went unanswered (the hub unreachable, or no hub): the
        object is owed a whole PUT (`deliveries.push_again`, or the next start)."""
        key = (module, object_id)
        self.pushing_again.discard(key)
        self.push_failed[key] = max(version, self.push_failed.get(key, 0))

    def write_acknowledged(self) -> None:
        """Queue the removal of the acknowledged marks (every `ACKNOWLEDGED_WRITE_S`, and at
        stop)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._acknowledged:
            done, self._acknowledged = self._acknowledged, []
            try:
                self.writer.queue(functools.partial(self.store.clear_pushed, done))
            except Exception:  # marks left behind cost a PUT at the next start, nothing more
                log.exception("removing the marks of acknowledged pushes failed")

    def save_clock(self, now: datetime) -> None:
        """Queue the simulated time's write, when it moved since the last one."""
        stamp = format_datetime(now)
        if stamp != self.clock_written:
            self.clock_written = stamp
            self.writer.queue(functools.partial(self.store.set_state, "clock", stamp))

    async def save_location(self, location: Location) -> None:
        await self.writer.write(functools.partial(self.store.save_location, location))

    async def save_cdr(self, entry: CdrEntry) -> None:
        seq = self.cdr_seq.setdefault(entry.cdr.id, len(self.cdr_seq))
        await self.writer.write(functools.partial(self.store.save_cdr, seq, entry))

    async def save_result(self, item: PendingResult) -> None:
        await self.writer.write(functools.partial(self.store.save_result, item))

    # --- loading ------------------------------------------------------------------------------
    async def load(self) -> None:
        """Read the database, then add what the configuration has and the database has not."""
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
        marks = await asyncio.to_thread(store.load_unpushed)
        self.unpushed = {(module, object_id): version for module, object_id, version in marks}
        self.push_version = max(self.unpushed.values(), default=0)

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

    def _check_owned(self, country_code: str, party_id: str, what: str) -> None:
        if PartyRef(country_code, party_id) != self.party:
            raise ConfigError(
                f"{what} belongs to {country_code}/{party_id}, not to this CPO {self.party}"
            )


def token_key(country_code: str, party_id: str, uid: str, type: TokenType | str) -> TokenKey:
    return (country_code.upper(), party_id.upper(), uid, TokenType(type).value)


def party_text(party: PartyRef | None) -> str:
    return str(party) if party is not None else ""


def parse_party(text: str) -> PartyRef | None:
    return PartyRef.parse(text) if text else None


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
