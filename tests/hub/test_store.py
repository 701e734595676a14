"""The hub's store on SQLite and on PostgreSQL: the same behaviour through either URL.

PostgreSQL tests read the server URL from ROAM_TEST_POSTGRES_URL (CI sets it) and create and
drop a database of their own; without the variable they skip, saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.copies import Copy
from hub.db import make_engine, normalise_url
from hub.directory import Party, Platform, hash_token
from hub.store import LOG_CHUNKS, Callback, LogLine, MessageFilter, OutboxRow, Store
from hub.store import _insert_log_lines as insert_log_lines
from ocpi.headers import PartyRef
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole, ModuleID

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _platform(token: str = "token-c") -> Platform:
    return Platform(
        id=0,
        name="Charge Co",
        versions_url="http://cpo/versions",
        token_to_member="token-b",
        token_hash=hash_token(token),
        endpoints={("locations", InterfaceRole.SENDER): "http://cpo/locations"},
        parties=[Party(Role.CPO, PartyRef("DE", "CPB"), ConnectionStatus.CONNECTED, T0)],
    )


def _line(**values: object) -> LogLine:
    line: LogLine = {"hop": "inbound", "method": "GET", "path": "/", "note": ""}
    line.update(values)
    return line


def test_url_normalisation_picks_psycopg() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_everything_written_comes_back_after_reopening(database_url: str) -> None:
    store = Store(make_engine(database_url))
    invitation = store.add_invitation(hash_token("token-a"), [(Role.EMSP, PartyRef("NL", "EMA"))])
    platform = store.register_platform(_platform(), invitation_hash=invitation.token_hash)
    copy = Copy(
        ModuleID.CDRS,
        PartyRef("DE", "CPB"),
        "CDR1",
        {"id": "CDR1", "x": [1]},
        T0,
        PartyRef("NL", "EMA"),
    )
    callback = Callback(
        "cb1",
        "commands",
        "http://emsp/cb/1",
        platform.id,
        PartyRef("NL", "EMA"),
        PartyRef("DE", "CPB"),
        T0,
    )
    message = _line(
        timestamp=T0,
        correlation_id="corr-1",
        hop="inbound",
        method="PUT",
        path="/x",
        from_party="DE/CPB",
        to_party="NL/EMA",
        module="sessions",
        ocpi_status=1000,
        http_status=200,
    )
    store.write_batch([message], [copy], [callback])
    store.engine.dispose()

    reopened = Store(make_engine(database_url))
    [loaded] = reopened.load_platforms()
    assert loaded.name == "Charge Co"
    assert loaded.token_hash == hash_token("token-c")
    assert loaded.endpoint("locations", InterfaceRole.SENDER) == "http://cpo/locations"
    assert [p.ref for p in loaded.parties] == [PartyRef("DE", "CPB")]
    assert reopened.open_invitation(hash_token("token-a")) is None  # used up
    [planned] = reopened.load_unhosted_parties()
    assert (planned.ref, planned.status) == (PartyRef("NL", "EMA"), ConnectionStatus.PLANNED)
    [copy_back] = reopened.load_copies()
    assert copy_back.body == {"id": "CDR1", "x": [1]}
    assert copy_back.last_updated == T0
    assert copy_back.receiver == PartyRef("NL", "EMA")
    assert reopened.load_callbacks() == [callback]
    [logged] = reopened.messages(MessageFilter(correlation_id="corr-1"))
    assert (logged.module, logged.ocpi_status, logged.timestamp) == ("sessions", 1000, T0)
    reopened.engine.dispose()


def test_copies_are_upserted_not_duplicated(database_url: str) -> None:
    store = Store(make_engine(database_url))
    owner = PartyRef("DE", "CPB")
    store.write_batch([], [Copy(ModuleID.LOCATIONS, owner, "L1", {"v": 1}, T0)], [])
    store.write_batch([], [Copy(ModuleID.LOCATIONS, owner, "L1", {"v": 2}, T0 + timedelta(1))], [])
    [copy] = store.load_copies()
    assert copy.body == {"v": 2}
    store.engine.dispose()


def test_outbox_pending_reads_in_id_order_past_the_rows_a_lane_holds(database_url: str) -> None:
    """The lanes read what they don't hold yet: the oldest `limit` rows of one receiver in
    acceptance order, leaving out the `skip` ids wherever they lie (a row accepted late can
    sit between held ones), whether or not a skipped id is still stored."""
    store = Store(make_engine(database_url))
    first = store.register_platform(_platform())
    second = store.register_platform(_platform("token-d"))
    assert first.id is not None and second.id is not None
    rows = [
        OutboxRow(
            platform_id=first.id if n % 3 else second.id,
            party=PartyRef("NL", "EMA"),
            module="locations",
            method="PATCH",
            path=f"/DE/CPB/L{n}/E1",
            object_key=f"L{n}",
            body='{"status":"AVAILABLE"}',
            correlation_id=f"c{n}",
            request_id=f"r{n}",
            created_at=T0 + timedelta(seconds=n),
        )
        for n in range(30)
    ]
    store.write_batch([], [], [], outbox=rows)
    mine = [row.id for row in store.outbox_pending(first.id, 100) if row.id is not None]
    assert len(mine) == 20 and mine == sorted(mine)
    assert {row.path for row in store.outbox_pending(second.id, 100)} == {
        f"/DE/CPB/L{n}/E1" for n in range(0, 30, 3)
    }
    [oldest] = store.outbox_pending(first.id, 1)
    assert (oldest.path, oldest.party, oldest.request_id) == (
        "/DE/CPB/L1/E1",
        PartyRef("NL", "EMA"),
        "r1",
    )
    assert oldest.created_at == T0 + timedelta(seconds=1)

    held = {mine[0], mine[1], mine[2], mine[7], mine[9], 10_000_000}  # the last: not stored
    got = [row.id for row in store.outbox_pending(first.id, 5, held)]
    assert got == [mine[3], mine[4], mine[5], mine[6], mine[8]]
    got = [row.id for row in store.outbox_pending(first.id, 100, held)]
    assert got == [row_id for row_id in mine if row_id not in held]
    assert store.outbox_pending(first.id, 5, set(mine)) == []
    store.engine.dispose()


def test_log_flushes_of_every_size_keep_every_line_on_a_few_statements(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flushes of any number of lines store each line once, in order, with its values; the
    INSERTs use a fixed set of statements (`LOG_CHUNKS`), not one per flush size, which the
    driver would prepare and cache anew (SQLite held 75 MB of them at ten alliances)."""
    store = Store(make_engine(database_url))
    statements: set[str] = set()

    class Recording:
        """The driver's cursor, remembering the SQL it is given (the batch writes on the
        driver's cursor itself, below SQLAlchemy's events)."""

        def __init__(self, cursor: Any) -> None:
            self.cursor = cursor

        def execute(self, sql: str, params: Any) -> None:
            statements.add(sql)
            self.cursor.execute(sql, params)

        def executemany(self, sql: str, rows: Any) -> None:
            statements.add(sql)
            self.cursor.executemany(sql, rows)

    def recorded(cursor: Any, dialect: Any, lines: Sequence[LogLine]) -> None:
        insert_log_lines(Recording(cursor), dialect, lines)

    monkeypatch.setattr("hub.store._insert_log_lines", recorded)
    sizes = [1, 7, 8, 9, 63, 64, 65, 71, 100, 511, 512, 513, 1300]
    written = 0
    for size in sizes:
        store.write_batch(
            [
                _line(
                    timestamp=T0 + timedelta(seconds=written + n),
                    correlation_id=f"c{written + n}",
                    path=f"/p/{written + n}",
                    latency_ms=1.5,
                    module="locations",
                )
                for n in range(size)
            ],
            [],
            [],
        )
        written += size
    lines = store.messages(MessageFilter(after_id=0, limit=written + 1))
    assert [line.path for line in lines] == [f"/p/{n}" for n in range(written)]
    assert [line.correlation_id for line in lines[-3:]] == [f"c{written - n}" for n in (3, 2, 1)]
    assert {(line.latency_ms, line.module) for line in lines} == {(1.5, "locations")}
    assert lines[100].timestamp == T0 + timedelta(seconds=100)
    assert all(sql.startswith("INSERT INTO message ") for sql in statements)
    assert 0 < len(statements) <= len(LOG_CHUNKS) + 1, sorted(len(s) for s in statements)
    store.engine.dispose()


def test_message_filters(database_url: str) -> None:
    store = Store(make_engine(database_url))
    rows = [
        _line(
            timestamp=T0 + timedelta(minutes=i),
            correlation_id=f"c{i % 2}",
            hop="inbound",
            method="GET",
            path="/",
            from_party="NL/EMA" if i < 2 else "FR/ELC",
            to_party="DE/CPB",
            module="locations" if i else "tokens",
        )
        for i in range(4)
    ]
    store.write_batch(rows, [], [])
    assert len(store.messages(MessageFilter(correlation_id="c1"))) == 2
    assert len(store.messages(MessageFilter(party=PartyRef("NL", "EMA")))) == 2
    assert len(store.messages(MessageFilter(party=PartyRef("DE", "CPB")))) == 4
    assert len(store.messages(MessageFilter(module="tokens"))) == 1
    window = MessageFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert [m.timestamp for m in store.messages(window)] == [
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=2),
    ]
    store.engine.dispose()
