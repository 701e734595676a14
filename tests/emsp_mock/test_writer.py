"""The eMSP's group commit of received objects (emsp_mock/writer.py): an answer waits for its
rows to be stored, concurrent changes share a transaction, a database failure reaches the
waiting callers and the rows go with the next commit."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from emsp_mock.store import ObjectChange, Store, StoredObject, make_engine
from emsp_mock.writer import ObjectWriter

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _row(i: int) -> StoredObject:
    return StoredObject(("DE", "CPB", f"LOC{i}"), f'{{"id": "LOC{i}"}}', T0)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = Store(make_engine(f"sqlite:///{tmp_path / 'emsp.db'}"))
    yield store
    store.engine.dispose()


@pytest.fixture(params=[True, False], ids=["on the loop", "in a worker thread"])
def inline(request: pytest.FixtureRequest) -> bool:
    """Both ways of writing: on the event loop (SQLite's default) and in a worker thread
    (PostgreSQL's)."""
    value: bool = request.param
    return value


async def test_concurrent_commits_share_transactions_and_all_rows_are_stored(
    store: Store, inline: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = ObjectWriter(store, inline=inline)
    batches: list[int] = []
    real = store.save_batch

    def counting(batch: list[ObjectChange]) -> None:
        batches.append(len(batch))
        real(batch)

    monkeypatch.setattr(store, "save_batch", counting)

    async def receive(i: int) -> None:
        writer.queue(("location", [_row(i)], []))
        await writer.commit()
        # Answered only now: the row is in the database.
        assert ("DE", "CPB", f"LOC{i}") in {o.key for o in store.load_objects("location")}

    await asyncio.gather(*(receive(i) for i in range(40)))
    assert len(store.load_objects("location")) == 40
    assert sum(batches) == 40 and len(batches) < 40  # shared transactions


async def test_a_database_failure_reaches_the_caller_and_the_rows_go_with_the_next_commit(
    store: Store, inline: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = ObjectWriter(store, inline=inline)
    real = store.save_batch

    def down(batch: list[ObjectChange]) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(store, "save_batch", down)
    writer.queue(("location", [_row(1)], []))
    with pytest.raises(OperationalError):
        await writer.commit()
    monkeypatch.setattr(store, "save_batch", real)
    writer.queue(("location", [_row(2)], []))
    await writer.commit()
    assert {o.key[2] for o in store.load_objects("location")} == {"LOC1", "LOC2"}


async def test_the_last_version_of_an_object_wins_within_and_across_commits(
    store: Store, inline: bool
) -> None:
    writer = ObjectWriter(store, inline=inline)
    first = StoredObject(("DE", "CPB", "LOC1"), '{"v": 1}', T0)
    second = StoredObject(("DE", "CPB", "LOC1"), '{"v": 2}', T0)
    writer.queue(("location", [first], []))
    writer.queue(("location", [second], []))
    await writer.commit()
    [stored] = store.load_objects("location")
    assert stored.body == '{"v": 2}'
    writer.queue(("location", [], [("DE", "CPB", "LOC1")]))
    await writer.commit()
    assert store.load_objects("location") == []


async def test_a_caller_that_stops_waiting_leaves_the_writer_working(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a worker thread (on the loop a write cannot be left half-way): its transaction
    still runs to its end, the next write waits for it (else a later write could commit
    first, and an older copy of an object overwrite a newer), and its end, with nobody
    waiting, is no error."""
    reported: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: reported.append(context))
    save = store.save_batch
    calls: list[int] = []

    def slow_save(batch: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.3)  # a slow disk: the first write still runs when its caller leaves
        save(batch)

    monkeypatch.setattr(store, "save_batch", slow_save)
    writer = ObjectWriter(store, inline=False)
    writer.queue(("location", [_row(1)], []))
    waiting = asyncio.create_task(writer.commit())
    await asyncio.sleep(0.05)  # the write has begun
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    writer.queue(("location", [_row(2)], []))
    await writer.commit()
    assert {o.key[2] for o in store.load_objects("location")} == {"LOC1", "LOC2"}
    assert reported == []
