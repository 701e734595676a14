"""Group commit of the objects the eMSP receives (locations, tariffs, sessions, tokens).

A receiver changes the eMSP's memory under the state's lock and queues the rows here; once
the lock is released it waits for `commit()`, and answers only after that: what it answered
1000 for is in the database. Callers waiting at the same time share one transaction — the
first to get the write lock writes everything queued so far, the others find their rows
written — so a burst of deliveries costs a few commits, not one each, and the state's lock is
never held across a database write (the hub's delivery lanes send several objects at once).

On SQLite the write runs on the event loop itself, as the mock CPO's (cpo_mock/writer.py):
an EVSE PATCH's write is one small upsert and a WAL commit without fsync, far cheaper than
the hand-over to a worker thread and back that it cost before (issue 13's status storm). On
PostgreSQL (a network round trip per transaction) it runs in a worker thread.
"""

from __future__ import annotations

import asyncio

from emsp_mock.store import ObjectChange, Store


class ObjectWriter:
    def __init__(self, store: Store, *, inline: bool | None = None) -> None:
        self.store = store
        self.inline = store.engine.dialect.name == "sqlite" if inline is None else inline
        """Write on the event loop, not in a worker thread (SQLite)."""
        self._queued: list[ObjectChange] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._writing = asyncio.Lock()

    def queue(self, change: ObjectChange) -> None:
        """Rows to write with the next commit, in the order they were queued."""
        self._queued.append(change)

    async def commit(self) -> None:
        """Return once everything queued so far is in the database; the database's error
        otherwise (the rows stay queued and go with the next commit). A caller that stops
        waiting (cancelled) does not stop the write it started: the others waiting on it
        are answered, and the next write waits for it (writes stay in order)."""
        mine = asyncio.get_running_loop().create_future()
        mine.add_done_callback(_retrieved)
        self._waiting.append(mine)
        await asyncio.shield(self._write_for(mine))
        await mine

    async def _write_for(self, mine: asyncio.Future[None]) -> None:
        async with self._writing:
            if mine.done():
                return  # written by a caller before
            batch, self._queued = self._queued, []
            waiting, self._waiting = self._waiting, []
            try:
                if batch and self.inline:
                    self.store.save_batch(batch)
                elif batch:
                    await asyncio.to_thread(self.store.save_batch, batch)
            except Exception as exc:
                self._queued[:0] = batch
                for future in waiting:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for future in waiting:
                    if not future.done():
                        future.set_result(None)


def _retrieved(future: asyncio.Future[None]) -> None:
    """Mark a waiter's error as seen: its caller may have stopped waiting."""
    if not future.cancelled():
        future.exception()
