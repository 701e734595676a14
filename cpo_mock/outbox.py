"""Outbound work of the CPO, in order: pushes to the hub, command results, CDR deliveries.

One worker runs the jobs one after the other, so a Session PUT always reaches the hub before
the PATCHes that follow it and EVSE status changes arrive in the order they happened. Jobs
never run under the simulation lock: a slow hub delays messages, not the chargers. What must
survive a restart (CDRs, command results) is persisted by the service before it is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("cpo_mock.outbox")

Job = Callable[[], Awaitable[None]]


class Outbox:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[str, Job]] = asyncio.Queue()
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

    def put(self, name: str, job: Job) -> None:
        self._queue.put_nowait((name, job))

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def drain(self) -> None:
        """Wait until every queued job (and every job those queued) has run."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            name, job = await self._queue.get()
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
