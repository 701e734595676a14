"""The hub's state and lifecycle: directory, copies, callbacks, store, outbound clients.

`Hub` is created by `create_app`; its `start()`/`stop()` run in the app's lifespan. The
request-handling logic lives in registration.py, relay.py and clientinfo.py, which take a
`Hub` as their first argument (they import this module; this module imports none of them).

What a program embedding the hub may use (docs/hub.md, "Embedding the hub"): `settings`,
`ref`, `invite`, `messages`, `settlement`, `platform_parties`, `reconfigure`, `hops_sent`,
`drain`, `start`/`stop`. Everything else is the hub's own business.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from hub.copies import Copies
from hub.db import make_engine
from hub.directory import Directory, Party, Platform, hash_token
from hub.forwarding import Engine, Http1Engine, HttpxEngine
from hub.invitations import Invitation, create_invitation
from hub.messages import SUBJECT_MODULES, LoggedMessage, MessageFilter
from hub.settings import LIVE_SETTINGS, HubSettings
from hub.settlement import SettlementLine, settle
from hub.store import PUBLIC_URL_STATE, BatchWriter, Callback, LogLine, Store, utcnow
from ocpi.aio import wait_set
from ocpi.client import OcpiClient, http_client
from ocpi.headers import PartyRef
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.locations import BusinessDetails
from ocpi.v221.types import Role
from ocpi.v221.versions import ModuleID

log = logging.getLogger("hub")


@dataclass(frozen=True)
class Invitee:
    """A caller authenticated with a credentials token A (may only use versions/credentials)."""

    token: str
    token_hash: str
    allowed: tuple[tuple[Role, PartyRef], ...]


Principal = Platform | Invitee

Job = Callable[["Hub"], Awaitable[None]]
"""Periodic work on the hub (the still-alive round), registered with `Hub.every`."""


@dataclass
class Lane:
    """What the hub knows of one receiver's delivery lane (hub/deliveries.py works it)."""

    signal: asyncio.Event
    """Set when there may be new work, or the receiver may be back."""
    changed: asyncio.Event
    """The hub's: set whenever a lane becomes idle or paused (for `drain`)."""
    busy: bool = True
    """Rows may be waiting (cleared by the worker when it finds none)."""
    held: bool = True
    """This instance delivers to the receiver (always, but for several instances on one
    PostgreSQL database: then the one holding the lane's lock, hub/cluster.py)."""
    paused: bool = False
    """The receiver is OFFLINE: rows wait for it in the outbox, nobody retries them."""

    def settle(self, *, busy: bool, paused: bool) -> None:
        self.busy, self.paused = busy, paused
        self.changed.set()

    @property
    def settled(self) -> bool:
        """Nothing it could deliver now is waiting."""
        return not self.busy or self.paused


Worker = Callable[["Hub"], Coroutine[Any, Any, None]]
"""Work that runs as long as the hub (the delivery lanes), registered with `Hub.worker`."""


async def _nothing_to_wait_for() -> None:
    return None


DIRECTORY_READ_GAP = 0.1
"""Seconds: the least time between two reads of the directory a refusal forces."""


class Hub:
    def __init__(self, settings: HubSettings, http: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self.ref = PartyRef(settings.country_code, settings.party_id)
        self.business_details = BusinessDetails(name=settings.name)
        self.store = Store(make_engine(settings.database_url), instance=secrets.token_hex(6))
        self.directory = Directory()
        self.directory_read_at = -1.0
        """perf_counter() when the directory was last read from the database began."""
        self._directory_reading = asyncio.Lock()
        self.copies = Copies()
        self.callbacks: dict[str, Callback] = {}
        self.writer = BatchWriter(self.store, settings.log_flush_interval)
        self._own_http = http is None
        self.http = http or http_client(settings.forward_timeout)
        self.engine: Engine = HttpxEngine(http) if http is not None else Http1Engine()
        self.admin_token = settings.admin_token or ""
        self.background: set[asyncio.Task[None]] = set()
        self.lanes: dict[int, Lane] = {}
        self.lanes_changed = asyncio.Event()
        self.notices_applied: Callable[[], Awaitable[None]] = _nothing_to_wait_for
        """Returns once every change other instances committed before the call is applied
        here (hub/cluster.py `Cluster.barrier`; at once with one instance)."""
        self._workers: list[tuple[str, Worker]] = []
        self._lane_settled = asyncio.Event()
        self._worker_tasks: list[asyncio.Task[None]] = []
        self.revive: Callable[[Platform], None] | None = None
        """Installed by create_app: a request from an OFFLINE platform marks it CONNECTED."""
        self.hops_sent = 0
        """Messages the hub sent on to a member (forwarded, fanned out, ClientInfo pushes)."""
        self.pending: dict[str, Invitee] = {}
        """Tokens the hub handed a member during a hub-initiated handshake, by hash."""
        self._jobs: list[tuple[str, Callable[[HubSettings], float], Job]] = []
        self._job_tasks: list[asyncio.Task[None]] = []
        self._reconfigured = asyncio.Event()
        self.on_client_info_change: list[Callable[[], Awaitable[None]]] = []

    # --- settings ------------------------------------------------------------------------
    @property
    def settings(self) -> HubSettings:
        """The hub's settings: fixed when it is built, except through `reconfigure`."""
        return self._settings

    def reconfigure(self, **changes: Any) -> HubSettings:
        """Change settings of a running hub; only those in `LIVE_SETTINGS` (timeouts,
        still-alive timing, page size, log flush interval). Each takes effect at once, for
        everything that reads it: the forward timeout also for handshake and ClientInfo
        calls, a new still-alive interval also for the pause in progress. Raises ValueError
        (naming them) for unknown settings, settings fixed at construction and bad values."""
        fixed = sorted(set(changes) - LIVE_SETTINGS)
        if fixed:
            unknown = [name for name in fixed if name not in HubSettings.model_fields]
            if unknown:
                raise ValueError(f"unknown hub settings: {', '.join(unknown)}")
            raise ValueError(
                f"fixed when the hub is built: {', '.join(fixed)} "
                f"(a running hub changes only {', '.join(sorted(LIVE_SETTINGS))})"
            )
        updated = HubSettings.model_validate({**self._settings.model_dump(), **changes})
        self._settings = updated
        self.writer.interval = updated.log_flush_interval
        if self._own_http:
            self.http.timeout = httpx.Timeout(updated.forward_timeout)
        # Wake the periodic jobs' pauses, which then count against the new interval.
        self._reconfigured.set()
        self._reconfigured = asyncio.Event()
        return updated

    # --- lifecycle -----------------------------------------------------------------------
    def every(self, name: str, interval: Callable[[HubSettings], float], job: Job) -> None:
        """Run `job(hub)` every `interval(settings)` seconds while the hub runs (register
        before `start`); a failing round is logged and the next one runs."""
        self._jobs.append((name, interval, job))

    def worker(self, name: str, job: Worker) -> None:
        """Run `job(hub)` for as long as the hub runs (register before `start`); it is
        cancelled by `stop` after the delivery lanes had `drain_timeout` to finish."""
        self._workers.append((name, job))

    async def _repeat(self, name: str, interval: Callable[[HubSettings], float], job: Job) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            while (left := interval(self._settings) - (loop.time() - began)) > 0:
                await wait_set(self._reconfigured, left)
            try:
                await job(self)
            except Exception:
                log.exception("%s failed", name)

    async def start(self) -> None:
        await self.reload_directory()
        self.copies.load(await asyncio.to_thread(self.store.load_copies))
        self.callbacks = {cb.uid: cb for cb in await asyncio.to_thread(self.store.load_callbacks)}
        if not self.admin_token:
            stored = await asyncio.to_thread(self.store.get_state, "admin_token")
            if stored is None:
                stored = secrets.token_urlsafe(24)
                await asyncio.to_thread(self.store.set_state, "admin_token", stored)
            self.admin_token = stored
        # Where members reach this hub, for `roam hub invite` run against the same database.
        await asyncio.to_thread(self.store.set_state, PUBLIC_URL_STATE, self.settings.public_url)
        # Broadcasts accepted before a stop or crash and not yet delivered: their lanes start
        # busy, so that they are delivered (and `drain` waits for them) from the first moment.
        for platform_id in await asyncio.to_thread(self.store.outbox_sizes):
            self.wake_lane(platform_id)
        self.writer.start()
        self._job_tasks = [
            asyncio.create_task(self._repeat(name, interval, job), name=name)
            for name, interval, job in self._jobs
        ]
        self._worker_tasks = [
            asyncio.create_task(job(self), name=name) for name, job in self._workers
        ]

    async def stop(self) -> None:
        for task in self._job_tasks:
            task.cancel()
        await asyncio.gather(*self._job_tasks, return_exceptions=True)
        self._job_tasks = []
        # A stop (a deploy, SIGTERM) first lets the lanes deliver what they hold; what is
        # left stays in the outbox and is delivered by the next start.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._lanes_settled(), self._settings.drain_timeout)
        for task in self._worker_tasks:
            task.cancel()
        await asyncio.gather(*self._worker_tasks, return_exceptions=True)
        self._worker_tasks = []
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.writer.stop()
        await self.engine.aclose()
        if self._own_http:
            await self.http.aclose()
        self.store.engine.dispose()

    # --- what other instances changed (hub/cluster.py) ------------------------------------
    async def reload_directory(self) -> None:
        """Platforms, tokens, endpoints and parties as the database has them (at start, and
        when another instance on the same database changed them)."""
        self.directory_read_at = time.perf_counter()
        platforms = await asyncio.to_thread(self.store.load_platforms)
        unhosted = await asyncio.to_thread(self.store.load_unhosted_parties)
        directory = Directory()
        for platform in platforms:
            known = self.directory.platforms.get(platform.id)
            if known is not None:
                platform.last_seen = known.last_seen
            directory.add_platform(platform)
        for party in unhosted:
            directory.add_party(party)
        self.directory = directory

    async def directory_since(self, asked: float) -> bool:
        """Several instances: make sure the directory was read from the database after
        `asked` (a perf_counter() time), so that a party another instance has just registered
        or connected is seen before a request to it is refused; its notice may still be on
        its way. False when there is nothing to read (one instance). Reads come at least
        `DIRECTORY_READ_GAP` apart (a request waits for the next one), so that requests
        naming unknown parties cannot make the hub read its directory over and over; every
        request that waited meanwhile is answered by that one read."""
        if not self.store.shared:
            return False
        async with self._directory_reading:
            if self.directory_read_at >= asked:
                return True
            wait = DIRECTORY_READ_GAP - (time.perf_counter() - self.directory_read_at)
            if wait > 0:
                await asyncio.sleep(wait)
            await self.reload_directory()
            return True

    async def reload_copies(self, keys: Sequence[str] | None) -> None:
        """Copies another instance changed (`keys` as in its notice), or all of them."""
        if keys is None:
            fresh = Copies()
            fresh.load(await asyncio.to_thread(self.store.load_copies))
            self.copies = fresh
            return
        for item in await asyncio.to_thread(self.store.load_copies_by_key, keys):
            self.copies.put(item)

    async def refresh_copy(self, module: ModuleID, owner: PartyRef, object_id: str) -> None:
        """Before merging a PATCH into a copy: take the stored one, which another instance
        sharing the database may have changed a moment ago (nothing to do on SQLite)."""
        if not self.store.shared:
            return
        stored = await asyncio.to_thread(self.store.load_copy, module, owner, object_id)
        if stored is not None:
            self.copies.put(stored)

    async def callback(self, uid: str) -> Callback | None:
        """A URL the hub handed out, by id (also one another instance handed out)."""
        found = self.callbacks.get(uid)
        if found is None and self.store.shared:
            found = await asyncio.to_thread(self.store.load_callback, uid)
            if found is not None:
                self.callbacks[uid] = found
        return found

    def lane(self, platform_id: int) -> Lane:
        """The delivery lane of a receiver platform (created on first use)."""
        lane = self.lanes.get(platform_id)
        if lane is None:
            lane = self.lanes[platform_id] = Lane(asyncio.Event(), self._lane_settled)
            self.lanes_changed.set()
        return lane

    def wake_lane(self, platform_id: int) -> None:
        """There is new work for a receiver, or it may be reachable again."""
        lane = self.lane(platform_id)
        # Unsettled until its worker has looked (and paused it again if the receiver is
        # still OFFLINE): `drain` must not take a lane about to deliver for a paused one.
        lane.busy, lane.paused = True, False
        lane.signal.set()

    async def _lanes_settled(self) -> None:
        """Until every lane has delivered what it holds (or waits for an OFFLINE receiver)."""
        while not all(lane.settled for lane in self.lanes.values()):
            self._lane_settled.clear()
            await self._lane_settled.wait()

    def spawn(self, coro: Awaitable[None], name: str) -> None:
        """Run work after the answer has gone out (broadcast fan-out, ClientInfo pushes)."""

        async def runner() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s failed", name)

        task = asyncio.create_task(runner(), name=name)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def drain(self) -> None:
        """Wait for background work and for the delivery lanes to have delivered what they
        hold to every receiver that is not OFFLINE (tests and graceful shutdown use this)."""
        while True:
            while self.background:
                await asyncio.gather(*list(self.background), return_exceptions=True)
            await self._lanes_settled()
            await self.writer.flush()
            if not self.background and all(lane.settled for lane in self.lanes.values()):
                return

    # --- what the embedding program asks ------------------------------------------------
    async def invite(
        self, parties: Sequence[tuple[Role, PartyRef]] = (), note: str = ""
    ) -> Invitation:
        """A one-time token A with this hub's versions URL (what `POST /admin/invitations`
        answers); the named parties appear as PLANNED until they register."""
        invitation = await asyncio.to_thread(
            create_invitation, self.store, self._settings.versions_url, parties, note
        )
        self._plan(invitation.parties)
        return invitation

    def invite_blocking(
        self, parties: Sequence[tuple[Role, PartyRef]] = (), note: str = ""
    ) -> Invitation:
        """`invite` for synchronous callers (it blocks on one database write)."""
        invitation = create_invitation(self.store, self._settings.versions_url, parties, note)
        self._plan(invitation.parties)
        return invitation

    def _plan(self, parties: Sequence[tuple[Role, PartyRef]]) -> None:
        for role, ref in parties:
            if (role, ref) not in self.directory.parties:
                self.directory.add_party(Party(role, ref, ConnectionStatus.PLANNED, utcnow()))

    async def messages(
        self, where: MessageFilter | None = None, bodies: bool = False
    ) -> list[LoggedMessage]:
        """The message log (oldest first), after writing what is pending: a caller sees
        every message the hub has answered. A line of a charging session's message carries
        its session id and authorization_reference, and with `bodies` its request and
        response bodies."""
        await self.writer.flush()
        rows = await asyncio.to_thread(self.store.messages, where or MessageFilter())
        wanted = [row.request_id for row in rows if row.module in SUBJECT_MODULES]
        subjects = await asyncio.to_thread(self.store.subjects, wanted) if wanted else {}
        return [
            LoggedMessage.of(row, subjects.get((row.request_id, row.hop)), bodies) for row in rows
        ]

    def settlement(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[SettlementLine]:
        """What each eMSP owes each CPO, from the CDRs the hub routed."""
        return settle(self.copies.listing(ModuleID.CDRS), since, until)

    async def deliveries(self) -> list[dict[str, Any]]:
        """Per receiver platform: broadcasts accepted and still to deliver (its outbox rows),
        and its lane's state here: "idle", "delivering", "waiting" (the receiver is OFFLINE)
        or "elsewhere" (another instance on the same database holds the lane)."""
        sizes = await asyncio.to_thread(self.store.outbox_sizes)
        rows = []
        for platform in sorted(self.directory.platforms.values(), key=lambda p: p.name):
            lane = self.lanes.get(platform.id)
            state = "idle"
            if lane is not None and not lane.held:
                state = "elsewhere"  # another instance on the same database delivers
            elif lane is not None and lane.busy:
                state = "waiting" if lane.paused else "delivering"
            rows.append(
                {
                    "platform": platform.name,
                    "parties": [str(party.ref) for party in platform.parties],
                    "waiting": sizes.get(platform.id, 0),
                    "lane": state,
                }
            )
        return rows

    def platform_parties(self, platform_id: int) -> tuple[PartyRef, ...]:
        """The parties a registered platform hosts (empty for an unknown id)."""
        platform = self.directory.platforms.get(platform_id)
        return tuple(party.ref for party in platform.parties) if platform is not None else ()

    # --- authentication ------------------------------------------------------------------
    async def authenticate(self, token: str) -> Principal | None:
        platform = self.directory.by_token(token)
        if platform is not None:
            platform.last_seen = time.monotonic()
            if self.revive is not None and any(
                party.status == ConnectionStatus.OFFLINE for party in platform.parties
            ):
                self.revive(platform)  # it spoke to us: it is reachable again
            return platform
        token_hash = hash_token(token)
        if self.store.shared and await asyncio.to_thread(
            self.store.has_registered_token, token_hash
        ):
            # Registered (or rotated) on another instance a moment ago: its notice is on
            # its way; read the directory now rather than refuse a valid token.
            await self.reload_directory()
            platform = self.directory.by_token(token)
            if platform is not None:
                platform.last_seen = time.monotonic()
                return platform
        if token_hash in self.pending:
            return self.pending[token_hash]
        invitation = await asyncio.to_thread(self.store.open_invitation, token_hash)
        if invitation is None:
            return None
        return Invitee(token, token_hash, tuple(Store.allowed_parties(invitation)))

    def is_admin(self, token: str) -> bool:
        return bool(self.admin_token) and hmac.compare_digest(
            token.encode(), self.admin_token.encode()
        )

    def client_for(self, platform: Platform) -> OcpiClient:
        """An OCPI client that calls `platform` with its token B (unencoded to a 2.1.1 member,
        as 2.1.1 sends it)."""
        return OcpiClient(
            self.http, platform.token_to_member, raw_token=platform.version == "2.1.1"
        )

    # --- message log ---------------------------------------------------------------------
    def log_message(
        self,
        *,
        hop: str,
        method: str,
        path: str,
        module: str = "",
        correlation_id: str = "",
        request_id: str = "",
        parent_request_id: str = "",
        from_party: PartyRef | None = None,
        to_party: PartyRef | None = None,
        platform_id: int | None = None,
        ocpi_status: int | None = None,
        http_status: int | None = None,
        latency_ms: float | None = None,
        note: str = "",
        timestamp: datetime | None = None,
    ) -> LogLine:
        """Queue one line of the message log; the line is returned so that a caller who
        learns more before it is written (a failed commit) can correct it."""
        if hop == "outbound":
            self.hops_sent += 1
        line: LogLine = {
            "timestamp": timestamp or utcnow(),
            "correlation_id": correlation_id[:100],
            "request_id": request_id[:100],
            "parent_request_id": parent_request_id[:100],
            "hop": hop,
            "from_party": str(from_party) if from_party else "",
            "to_party": str(to_party) if to_party else "",
            "platform_id": platform_id,
            "module": module[:24],
            "method": method[:8],
            "path": path,
            "ocpi_status": ocpi_status,
            "http_status": http_status,
            "latency_ms": round(latency_ms, 3) if latency_ms is not None else None,
            "note": note,
        }
        self.writer.log(line)
        return line

    # --- callbacks -----------------------------------------------------------------------
    def add_callback(
        self,
        kind: str,
        original_url: str,
        target: Platform,
        target_party: PartyRef,
        caller_party: PartyRef,
    ) -> Callback:
        callback = Callback(
            uid=secrets.token_hex(12),
            kind=kind,
            original_url=original_url,
            target_platform_id=target.id,
            target_party=target_party,
            caller_party=caller_party,
            created_at=utcnow(),
        )
        self.callbacks[callback.uid] = callback
        self.writer.callback(callback)
        return callback
