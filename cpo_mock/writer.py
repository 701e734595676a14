"""The CPO's writes to its database, in the order the state changed.

A state change hands its write to `queue` with the state's lock held; `commit()` returns once
everything queued so far is written. How it is written depends on the database:

* SQLite (`inline`): at once, on the event loop. A status change's write is two small
  statements and a WAL commit without fsync (about 0.03 ms); handing it to a worker thread
  cost far more than that on this project's 2-core machine — about 0.5-1 ms of CPU per hop in
  GIL hand-overs while the loop is busy (issue 13's status storm). The price: the loop stands
  still while SQLite writes, now and then for a checkpoint (a few ms every ~1,000 WAL pages).
* Otherwise (PostgreSQL: a network round trip per transaction) in a worker thread, a batch
  per hop: what is queued while a batch is being written goes with the next one, in order,
  so a burst of status changes costs a few hops instead of one each.

Each write is its own transaction, as when it was called directly, except that status rows
queued one after the other are written in one (`Store.save_status_rows`); one that fails does
not stop the others of its batch, and its error is raised by the `commit()` (and the futures
`queue` returned) of that batch, or at once by `queue` when inline. A queued write must not
read state that may change before it runs: the callers hand it what to write already
serialised (`StatusRow`), or wait for it with the lock held (`write`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from cpo_mock.store import StatusRow, Store

log = logging.getLogger("cpo_mock.writer")

Write = Callable[[], object] | StatusRow


class Writer:
    def __init__(self, store: Store, *, inline: bool | None = None) -> None:
        self.store = store
        self.inline = store.engine.dialect.name == "sqlite" if inline is None else inline
        """Write at once on the event loop, not in batches in a worker thread (SQLite)."""
        self._queued: list[Write] = []
        self._next: asyncio.Future[None] | None = None
        """Done once the queued writes are written (created with the first of them)."""
        self._current: asyncio.Future[None] | None = None
        """The batch being written."""
        self._task: asyncio.Task[None] | None = None

    def queue(self, write: Write) -> asyncio.Future[None]:
        """Write later (a function of the store, or a status row), after everything queued
        before; the future is done once written (its batch's first error if a write of the
        batch failed)."""
        if self.inline:
            errors = self._write_all([write])
            if errors:
                raise errors[0]
            done = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            # Nobody may wait for it (a status write whose PATCH is not sent): an error is
            # logged here, not left to the garbage collector's "never retrieved".
            self._next.add_done_callback(_retrieve)
        self._queued.append(write)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="cpo-writer")
        return self._next

    async def write(self, write: Write) -> None:
        """Queue `write` and wait until it is written."""
        await _settled(self.queue(write))

    async def commit(self) -> None:
        """Return once everything queued so far is written (the error of the last batch
        holding some of it, if one of its writes failed)."""
        latest = self._next or self._current
        if latest is not None:
            await _settled(latest)

    @property
    def pending(self) -> int:
        """Writes queued and not being written yet."""
        return len(self._queued)

    async def _run(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                done, self._next = self._next, None
                assert done is not None
                self._current = done
                try:
                    errors = await asyncio.to_thread(self._write_all, batch)
                except Exception as exc:  # not a write's own failure: tell the waiters
                    errors = [exc]
                if errors:
                    done.set_exception(errors[0])
                else:
                    done.set_result(None)
                self._current = None
        finally:
            # Cancelled (the loop is closing): whoever waits learns it, nobody hangs.
            for left in (self._current, self._next):
                if left is not None and not left.done():
                    left.cancel()
            self._current = self._next = None
            self._queued = []
            self._task = None

    def _write_all(self, batch: list[Write]) -> list[Exception]:
        errors: list[Exception] = []
        rows: list[StatusRow] = []
        for write in [*batch, None]:
            if isinstance(write, StatusRow):
                rows.append(write)
                continue
            if rows:
                errors += self._write_rows(rows)
                rows = []
            if write is not None:
                try:
                    write()
                except Exception as exc:
                    errors.append(exc)
        return errors

    def _write_rows(self, rows: list[StatusRow]) -> list[Exception]:
        try:
            self.store.save_status_rows(rows)
            return []
        except Exception as exc:
            if len(rows) == 1:
                return [exc]
        # One of them cannot be written: the others still are, each alone.
        errors: list[Exception] = []
        for row in rows:
            try:
                self.store.save_status_rows([row])
            except Exception as exc:
                errors.append(exc)
        return errors


async def _settled(future: asyncio.Future[None]) -> None:
    """Wait for a batch shared by several callers: cancelling one caller must not cancel it."""
    await asyncio.wait([future])
    future.result()


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        log.error("writing to the database failed: %r", error)
