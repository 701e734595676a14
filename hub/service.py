"""The hub's state and lifecycle: directory, copies, callbacks, store, outbound clients.

`Hub` is created by `create_app`; its `start()`/`stop()` run in the app's lifespan. The
request-handling logic lives in registration.py, relay.py and clientinfo.py, which take a
`Hub` as their first argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from hub.clientinfo import still_alive_loop
from hub.copies import Copies
from hub.db import make_engine
from hub.directory import Directory, Platform, hash_token
from hub.forwarding import AiohttpEngine, Engine, HttpxEngine
from hub.settings import HubSettings
from hub.store import PUBLIC_URL_STATE, BatchWriter, Callback, Store, utcnow
from ocpi.client import OcpiClient
from ocpi.headers import PartyRef
from ocpi.v221.locations import BusinessDetails
from ocpi.v221.types import Role

log = logging.getLogger("hub")


@dataclass(frozen=True)
class Invitee:
    """A caller authenticated with a credentials token A (may only use versions/credentials)."""

    token: str
    token_hash: str
    allowed: tuple[tuple[Role, PartyRef], ...]


Principal = Platform | Invitee


class Hub:
    def __init__(self, settings: HubSettings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.ref = PartyRef(settings.country_code, settings.party_id)
        self.business_details = BusinessDetails(name=settings.name)
        self.store = Store(make_engine(settings.database_url))
        self.directory = Directory()
        self.copies = Copies()
        self.callbacks: dict[str, Callback] = {}
        self.writer = BatchWriter(self.store, settings.log_flush_interval)
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(timeout=settings.forward_timeout, trust_env=False)
        self.engine: Engine = HttpxEngine(http) if http is not None else AiohttpEngine()
        self.admin_token = settings.admin_token or ""
        self.background: set[asyncio.Task[None]] = set()
        self._lanes: dict[int, asyncio.Lock] = {}
        self.hops_sent = 0
        """Messages the hub sent on to a member (forwarded, fanned out, ClientInfo pushes)."""
        self.pending: dict[str, Invitee] = {}
        """Tokens the hub handed a member during a hub-initiated handshake, by hash."""
        self._alive_task: asyncio.Task[None] | None = None
        self.on_client_info_change: list[Callable[[], Awaitable[None]]] = []

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        platforms = await asyncio.to_thread(self.store.load_platforms)
        for platform in platforms:
            self.directory.add_platform(platform)
        for party in await asyncio.to_thread(self.store.load_unhosted_parties):
            self.directory.add_party(party)
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
        self.writer.start()
        self._alive_task = asyncio.create_task(still_alive_loop(self), name="hub-still-alive")

    async def stop(self) -> None:
        if self._alive_task is not None:
            self._alive_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._alive_task
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.writer.stop()
        await self.engine.aclose()
        if self._own_http:
            await self.http.aclose()
        self.store.engine.dispose()

    def lane(self, platform_id: int) -> asyncio.Lock:
        """The lock that keeps broadcast deliveries to one platform in order."""
        lock = self._lanes.get(platform_id)
        if lock is None:
            lock = self._lanes[platform_id] = asyncio.Lock()
        return lock

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
        """Wait for background work (tests and graceful shutdown use this)."""
        while self.background:
            await asyncio.gather(*list(self.background), return_exceptions=True)
        await self.writer.flush()

    # --- authentication ------------------------------------------------------------------
    async def authenticate(self, token: str) -> Principal | None:
        platform = self.directory.by_token(token)
        if platform is not None:
            platform.last_seen = time.monotonic()
            return platform
        token_hash = hash_token(token)
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
        """An OCPI client that calls `platform` with its token B."""
        return OcpiClient(self.http, platform.token_to_member)

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
    ) -> None:
        if hop == "outbound":
            self.hops_sent += 1
        self.writer.log(
            {
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
        )

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
