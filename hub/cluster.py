"""Several hub instances on one PostgreSQL database (docs/hub.md "Several instances").

On SQLite a hub is one process and nothing here does anything. On PostgreSQL any number of
`roam hub serve` processes may share the database behind one public URL (a load balancer):
any instance takes any member's request, and they stay one hub through what PostgreSQL
already has — no broker:

* **Notices.** A write that changes what the instances hold in memory announces itself in
  its own transaction (`NOTIFY`, hub/store.py `_notice`), so the others hear of it exactly
  when it is committed: `directory` (a registration, a token rotation, a party's state),
  `copies` (the keys of changed copies: GET-all and open routing), `outbox` (receivers with
  new rows to deliver). `run` listens on a connection of its own and brings this instance's
  memory up to date within milliseconds; after a lost connection it reloads everything it
  may have missed. What a notice may not have reached yet is looked up in the database: an
  unknown token (hub/service.py `authenticate`), a handed-out URL (`Hub.callback`), the copy
  a PATCH merges into (`Hub.refresh_copy`).
* **Claims.** Advisory locks held on another connection of its own: one instance delivers
  to a receiver at a time (`claim(platform_id)`: per-object order holds across instances),
  and one instance, the leader, runs the still-alive round. A lock lives as long as the
  connection: when an instance dies its lanes are claimed by another within a second. The
  connection is checked every second; when it is lost, every claim is dropped at once and
  the lanes stop before their next row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from sqlalchemy.engine import make_url

from hub.service import Hub, Job
from hub.store import NOTICE_CHANNEL, NOTICE_SEPARATOR

log = logging.getLogger("hub.cluster")

LANE_LOCKS = 0x0C91
"""Advisory lock class of delivery lanes (object id = the receiver's platform id)."""
LEADER_LOCK = (0x0C92, 1)
"""The advisory lock the leader holds (it runs the still-alive round)."""
CHECK_EVERY = 1.0
"""Seconds between checks of the claims connection."""
BARRIER_WAIT = 2.0
"""Seconds a GET-all waits at most to hear its own barrier notice back (Cluster.barrier)."""


class Cluster:
    """This instance's part in a hub of several instances (inactive on SQLite)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.enabled = hub.store.shared
        self._url = _psycopg_url(hub.settings.database_url) if self.enabled else ""
        self._claims: Any = None  # psycopg.AsyncConnection, opened on first use
        self._claims_lock = asyncio.Lock()
        self._held: set[tuple[int, int]] = set()
        self.listening = asyncio.Event()
        """Set once this instance hears the others' notices (tests wait for it)."""
        self._barriers: dict[str, asyncio.Future[None]] = {}
        if self.enabled:
            hub.notices_applied = self.barrier

    # --- claims --------------------------------------------------------------------------
    def holds(self, platform_id: int) -> bool:
        """Does this instance deliver to this receiver now? (Always, on SQLite.)"""
        return not self.enabled or (LANE_LOCKS, platform_id) in self._held

    async def claim(self, platform_id: int) -> bool:
        """Take the lane of a receiver if no other instance has it."""
        return not self.enabled or await self._try_lock((LANE_LOCKS, platform_id))

    async def lead(self) -> bool:
        """Is this instance the one that runs the cluster-wide rounds? (Always, on SQLite.)"""
        return not self.enabled or await self._try_lock(LEADER_LOCK)

    async def _try_lock(self, key: tuple[int, int]) -> bool:
        if key in self._held:
            return True
        async with self._claims_lock:
            try:
                connection = await self._claims_connection()
                cursor = await connection.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
                row = await cursor.fetchone()
            except Exception as exc:
                await self._lost(exc)
                return False
            if row is not None and row[0]:
                self._held.add(key)
                return True
            return False

    async def _claims_connection(self) -> Any:
        import psycopg

        if self._claims is None or self._claims.closed:
            self._claims = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=5
            )
        return self._claims

    async def _lost(self, exc: BaseException) -> None:
        """The claims connection failed: its locks are gone with it."""
        if self._held:
            log.warning("lost the claims connection (%s): dropping %d claims", exc, len(self._held))
        self._held.clear()
        if self._claims is not None:
            with contextlib.suppress(Exception):
                await self._claims.close()
        self._claims = None

    async def _check_claims(self) -> None:
        async with self._claims_lock:
            if self._claims is None:
                return
            try:
                await self._claims.execute("SELECT 1")
            except Exception as exc:
                await self._lost(exc)

    # --- notices -------------------------------------------------------------------------
    async def run(self, hub: Hub) -> None:
        """The hub worker: hear the other instances' notices; keep the claims checked."""
        if not self.enabled:
            return
        watchdog = asyncio.create_task(self._watch(), name="hub-cluster-claims")
        try:
            await self._listen()
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            async with self._claims_lock:
                if self._claims is not None:
                    with contextlib.suppress(Exception):
                        await self._claims.close()
                self._claims = None
                self._held.clear()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            await self._check_claims()

    async def _listen(self) -> None:
        import psycopg

        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, connect_timeout=5
                ) as connection:
                    await connection.execute(f"LISTEN {NOTICE_CHANNEL}")
                    if not first:
                        await self._catch_up()  # notices sent while we were not listening
                    first = False
                    self.listening.set()
                    async for notice in connection.notifies():
                        await self._apply(notice.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning("lost the notice connection (%s); reconnecting", exc)
                await asyncio.sleep(1)

    async def barrier(self) -> None:
        """Return once every notice committed before this call has been applied here: send a
        notice of our own and wait to hear it back (notices come in commit order, and are
        applied one after the other). A GET-all answered from this instance's copies then
        holds every copy the other instances had written (a member that re-syncs right after
        a push must not be told the pushed object is gone). Gives up, logging, after
        BARRIER_WAIT seconds (the notice connection away): the answer is then as before."""
        if not self.listening.is_set():
            return
        token = secrets.token_hex(8)
        heard = asyncio.get_running_loop().create_future()
        self._barriers[token] = heard
        try:
            await asyncio.to_thread(self.hub.store.send_barrier, token)
            await asyncio.wait_for(heard, BARRIER_WAIT)
        except Exception as exc:
            log.warning("could not wait for the other instances' notices: %r", exc)
        finally:
            self._barriers.pop(token, None)

    async def _apply(self, payload: str) -> None:
        instance, _, rest = payload.partition(" ")
        kind, _, data = rest.partition(" ")
        if kind == "barrier":
            heard = self._barriers.get(data) if instance == self.hub.store.instance else None
            if heard is not None and not heard.done():
                heard.set_result(None)
            return
        if instance == self.hub.store.instance and kind == "outbox":
            return  # our own rows: the relay woke our lanes already
        # Our own directory and copy changes are read back too: a notice of another
        # instance may have reloaded our memory between our change and its commit.
        items = [item for item in data.split(NOTICE_SEPARATOR) if item]
        try:
            if kind == "directory":
                await self.hub.reload_directory()
            elif kind == "copies":
                await self.hub.reload_copies(items)
            elif kind == "outbox":
                for item in items:
                    self.hub.wake_lane(int(item))
        except Exception:
            log.exception("applying a notice (%s) failed; reloading everything", kind)
            await self._catch_up()

    async def _catch_up(self) -> None:
        await self.hub.reload_directory()
        await self.hub.reload_copies(None)
        for platform_id in await asyncio.to_thread(self.hub.store.outbox_sizes):
            self.hub.wake_lane(platform_id)

    # --- helpers for the hub's jobs ------------------------------------------------------
    def leader_only(self, job: Job) -> Job:
        """`job`, run only on the leader instance (the still-alive round)."""

        async def run(hub: Hub) -> None:
            if await self.lead():
                await job(hub)

        return run


def _psycopg_url(database_url: str) -> str:
    """The database URL as psycopg takes it (without SQLAlchemy's driver name)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
