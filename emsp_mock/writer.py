"""Group commit of the objects the eMSP receives (locations, tariffs, sessions, tokens).

A receiver changes the eMSP's memory under the state's lock and queues the rows here; once
the lock is released it waits for `commit()`, and answers only after that: what it answered
1000 for is in the database. Callers waiting at the same time share one transaction — the
first to get the write lock writes everything queued so far, the others find their rows
written — so a burst of deliveries costs a few commits, not one each, and the state's lock is
never held across a database write (the hub's delivery lanes send several objects at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

from emsp_mock.store import ObjectChange, Store

IDLE_S = 1.0
"""The writer's thread ends after this long without a transaction to run (and starts again
with the next one)."""

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class WriterThread:
    """One thread that runs the transactions, one at a time, for the event loop.

    `asyncio.to_thread` per transaction goes through `ThreadPoolExecutor.submit` (a lock, a
    semaphore built on a condition variable, a work item and a concurrent future, then the
    chaining to an asyncio future): profiled on a mock eMSP receiving EVSE PATCHes (issue 13),
    8 % of its CPU, as much as the rest of the commit. Here a job is a queue put and, when
    it is done, one `call_soon_threadsafe`. The thread is a daemon: a transaction it has not
    finished was answered to nobody."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = False

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """`function(*args)` in the thread; its result or its exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((loop, future, function, args))
        with self._lock:
            if not self._running:
                self._running = True
                threading.Thread(target=self._work, name=self.name, daemon=True).start()
        return await future

    def _work(self) -> None:
        while True:
            try:
                loop, future, function, args = self._jobs.get(timeout=IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._running = False
                        return
                continue
            error: BaseException | None = None
            result: Any = None
            try:
                result = function(*args)
            except BaseException as exc:  # handed to the waiting caller
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(_settle, future, result, error)


class ObjectWriter:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._queued: list[ObjectChange] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._writing = asyncio.Lock()
        self._thread = WriterThread("emsp-object-writer")

    def queue(self, change: ObjectChange) -> None:
        """Rows to write with the next commit, in the order they were queued."""
        self._queued.append(change)

    async def commit(self) -> None:
        """Return once everything queued so far is in the database; the database's error
        otherwise (the rows stay queued and go with the next commit)."""
        mine = asyncio.get_running_loop().create_future()
        self._waiting.append(mine)
        async with self._writing:
            if not mine.done():
                batch, self._queued = self._queued, []
                waiting, self._waiting = self._waiting, []
                try:
                    if batch:
                        await self._thread.run(self.store.save_batch, batch)
                except Exception as exc:
                    self._queued[:0] = batch
                    for future in waiting:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for future in waiting:
                        if not future.done():
                            future.set_result(None)
        await mine
