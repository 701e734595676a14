"""The hub's batch writer on SQLite and PostgreSQL: one bad item never holds a batch hostage.

Issue 12 item 7: a lone surrogate in one log line (or callback URL) made every later flush
fail, so nothing routed afterwards was ever saved. The writer now halves a failing batch until
the bad item stands alone, stores a log line escaped (noting it) and leaves out a callback it
cannot store (noting that); an unreachable database still keeps the whole batch for a retry.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from hub.db import make_engine
from hub.store import BatchWriter, Callback, LogLine, MessageFilter, StorageUnavailable, Store
from ocpi.headers import PartyRef
from tests.hub.test_store import _platform

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _line(i: int, **values: Any) -> LogLine:
    line: LogLine = {
        "timestamp": T0,
        "hop": "inbound",
        "method": "POST",
        "path": f"/ocpi/2.2.1/receiver/cdrs#{i}",
        "module": "cdrs",
        "correlation_id": f"c{i}",
        "note": "",
    }
    line.update(values)
    return line


def _callback(uid: str, url: str, platform_id: int) -> Callback:
    return Callback(
        uid, "commands", url, platform_id, PartyRef("NL", "EMA"), PartyRef("DE", "CPB"), T0
    )


async def test_one_unstorable_item_does_not_hold_the_batch_hostage(database_url: str) -> None:
    store = Store(make_engine(database_url))
    platform = store.register_platform(_platform(), invitation_hash=None)
    writer = BatchWriter(store, interval=0.01)
    for i in range(20):
        writer.log(_line(i))
    writer.log(_line(100, path="/ocpi/2.2.1/receiver/cdrs/\ud800", note="lone \udfff"))
    writer.log(_line(101, note="a NUL \x00 byte"))  # PostgreSQL text refuses NUL
    writer.callback(_callback("good", "http://emsp/cb/1", platform.id))
    writer.callback(_callback("bad", "http://emsp/cb/\ud800", platform.id))

    await writer.flush()  # must not raise: nothing here is the database's fault

    rows = store.messages(MessageFilter(limit=1000))
    by_correlation = {row.correlation_id: row for row in rows}
    assert {f"c{i}" for i in range(20)} <= set(by_correlation)
    escaped = by_correlation["c100"]
    assert escaped.path == "/ocpi/2.2.1/receiver/cdrs/\\ud800"
    assert "stored escaped" in escaped.note
    assert "c101" in by_correlation  # stored as is, or escaped where NUL is refused
    assert "\x00" not in by_correlation["c101"].note or database_url.startswith("sqlite")
    assert [cb.uid for cb in store.load_callbacks()] == ["good"]
    assert any("callback" in row.note and "could not be stored" in row.note for row in rows)
    assert writer.unstorable >= 2

    # The writer is not stuck: the next batch is written like any other.
    writer.log(_line(200))
    await writer.flush()
    assert store.messages(MessageFilter(correlation_id="c200", limit=10))
    store.engine.dispose()


async def test_an_unreachable_database_keeps_the_whole_batch_for_a_retry(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(make_engine(database_url))
    writer = BatchWriter(store, interval=0.01)
    real = store.write_batch
    failures = [OperationalError("INSERT", {}, Exception("database is locked"))]

    def flaky(*args: Any) -> None:
        if failures:
            raise failures.pop()
        real(*args)

    monkeypatch.setattr(store, "write_batch", flaky)
    for i in range(5):
        writer.log(_line(i))
    with pytest.raises(OperationalError):
        await writer.flush()
    assert store.messages(MessageFilter(limit=100)) == []
    writer.log(_line(5))
    await writer.flush()
    stored = [row.correlation_id for row in store.messages(MessageFilter(limit=100))]
    assert sorted(stored) == [f"c{i}" for i in range(6)]
    assert writer.unstorable == 0
    store.engine.dispose()


async def test_commit_waits_for_the_database_and_says_when_it_is_unavailable(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(make_engine(database_url))
    writer = BatchWriter(store, interval=60)  # the timer never fires within the test
    writer.start()
    try:
        writer.log(_line(1))
        await writer.commit()  # returns only once the line is stored
        assert [row.correlation_id for row in store.messages(MessageFilter())] == ["c1"]

        def down(*args: Any, **kwargs: Any) -> None:
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))

        real = store.write_batch
        monkeypatch.setattr(store, "write_batch", down)
        writer.log(_line(2))
        with pytest.raises(StorageUnavailable, match="database is unavailable"):
            await writer.commit()
        # The line is kept and written when the database is back (the writer retries).
        monkeypatch.setattr(store, "write_batch", real)
        writer.log(_line(3))
        await writer.commit()
        stored = [row.correlation_id for row in store.messages(MessageFilter())]
        assert stored == ["c1", "c2", "c3"]
    finally:
        await writer.stop()
        store.engine.dispose()


async def test_a_commit_with_no_writer_running_still_reports_an_unavailable_database(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(make_engine(f"sqlite:///{tmp_path / 'hub.db'}"))

    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(store, "write_batch", down)
    writer = BatchWriter(store, interval=0.01)  # never started (a hub stopping)
    writer.log(_line(1))
    with pytest.raises(StorageUnavailable):
        await writer.commit()
    store.engine.dispose()


async def test_a_locked_database_is_unavailable_not_an_unstorable_item(tmp_path: Any) -> None:
    """The batch is written on the driver's cursor (hub/store.py `_driver_cursor`): the
    driver's own error for a database another process holds locked must still reach the
    writer as SQLAlchemy's OperationalError, so the batch is kept for a retry, not taken
    apart item by item and dropped as unstorable."""
    path = tmp_path / "hub.db"
    store = Store(make_engine(f"sqlite:///{path}"))
    event.listen(store.engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA busy_timeout=50"))
    store.engine.dispose()  # the connections from now on wait 50 ms for a lock, not 5 s
    writer = BatchWriter(store, interval=60)
    writer.start()
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # another process writing, for as long as it likes
        writer.log(_line(1))
        with pytest.raises(StorageUnavailable, match="database is unavailable"):
            await writer.commit()
        locker.execute("ROLLBACK")
        writer.log(_line(2))
        await writer.commit()
        stored = [row.correlation_id for row in store.messages(MessageFilter())]
        assert stored == ["c1", "c2"]
        assert writer.unstorable == 0
    finally:
        locker.close()
        await writer.stop()
        store.engine.dispose()
