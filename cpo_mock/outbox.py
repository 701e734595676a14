"""Outbound work of the CPO: pushes to the hub, command results, CDR deliveries.

A job is queued with a key or without one. Jobs with the same key (one location, one tariff)
run one after the other in the order queued, so an EVSE status PATCH never overtakes its
Location's PUT and one EVSE's status changes arrive in the order they happened; jobs with
different keys may run side by side, up to `concurrency` at once (the initial publish of a
network does not wait for one round trip per object). A job without a key is a barrier: it
runs alone, after everything queued before it and before anything queued after it (sessions,
CDRs and command results keep the strict order of the old single worker). Jobs never run
under the simulation lock: a slow hub delays messages, not the chargers. What must survive a
restart (CDRs, command results) is persisted by the service before it is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger("cpo_mock.outbox")

Job = Callable[[], Awaitable[None]]

CONCURRENCY = 16
"""Keyed jobs in flight at once: enough to keep a hub that commits in groups busy."""


class Outbox:
    def __init__(self, concurrency: int = CONCURRENCY) -> None:
        self._queue: asyncio.Queue[tuple[str, Job, Hashable | None]] = asyncio.Queue()
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self._last: dict[Hashable, asyncio.Task[None]] = {}
        """The last job started per key: the next one with that key waits for it."""
        self._worker: asyncio.Task[None] | None = None
        self.done = 0
        self.failed = 0

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="cpo-outbox")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def put(self, name: str, job: Job, key: Hashable | None = None) -> None:
        """Queue `job`: after the earlier jobs with the same `key`, or (no key) after every
        earlier job and before every later one."""
        self._queue.put_nowait((name, job, key))

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return self._queue.qsize() + len(self._running)

    async def drain(self) -> None:
        """Wait until every queued job (and every job those queued) has run."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            name, job, key = await self._queue.get()
            if key is None:
                if self._running:
                    await asyncio.wait(list(self._running))
                await self._one(name, job)
                continue
            await self._slots.acquire()
            task = asyncio.create_task(self._keyed(name, job, self._last.get(key)), name=name)
            self._last[key] = task
            self._running.add(task)
            task.add_done_callback(functools.partial(self._finished, key=key))

    def _finished(self, task: asyncio.Task[None], *, key: Hashable) -> None:
        self._running.discard(task)
        self._slots.release()
        if self._last.get(key) is task:
            del self._last[key]

    async def _keyed(self, name: str, job: Job, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        await self._one(name, job)

    async def _one(self, name: str, job: Job) -> None:
        try:
            await job()
            self.done += 1
        except asyncio.CancelledError:
            raise
        except Exception:
            self.failed += 1
            log.exception("outbound job %s failed", name)
        finally:
            self._queue.task_done()
