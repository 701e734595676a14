"""cpo_mock/writer.py and how the CPO uses it: writes in the order the state changed, batched
per worker hop (PostgreSQL) or at once (SQLite); an EVSE status change answered and pushed
only once it is stored; the simulated clock written only when it moved; the link's client
made again when the connection to the hub changes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from cpo_mock.model import EvseSim
from cpo_mock.store import StatusRow, Store, make_engine
from cpo_mock.writer import Writer
from ocpi.v221 import Status
from tests.cpo_mock.conftest import Federation, location


class RecordingStore(Store):
    """The real store, noting every status write (which rows went in one transaction)."""

    def __init__(self, path: Path) -> None:
        super().__init__(make_engine(f"sqlite:///{path / 'cpo.db'}"))
        self.events: list[Any] = []
        self.add_locations([location("A"), location("B")], 0)

    def save_status_rows(self, rows: Sequence[StatusRow]) -> None:
        super().save_status_rows(rows)
        self.events.append([f"{r.location_id}/{r.evse_uid}:{r.sim}" for r in rows])


def _row(location_id: str, status: Status) -> StatusRow:
    """DC1 of a location changing to `status`."""
    where = location(location_id)
    evses = [
        e.model_copy(update={"status": status}) if e.uid == "DC1" else e for e in where.evses or []
    ]
    sim = EvseSim(location_id=location_id, evse_uid="DC1", status=status)
    return StatusRow.of(sim, where.model_copy(update={"evses": evses}), version=1)


def _short(sim_json: str) -> str:
    return "OUTOFORDER" if "OUTOFORDER" in sim_json else "AVAILABLE"


async def test_writes_queued_during_a_write_go_together_next_in_order(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    writer = Writer(store, inline=False)
    release = threading.Event()

    def slow() -> None:
        release.wait(5)
        store.events.append("slow")

    first = writer.queue(slow)
    await asyncio.sleep(0.05)  # the first batch is being written (waits for `release`)
    second = writer.queue(_row("A", Status.OUTOFORDER))
    assert writer.queue(_row("B", Status.OUTOFORDER)) is second
    assert writer.queue(lambda: store.events.append("between")) is second
    writer.queue(_row("A", Status.AVAILABLE))
    assert not first.done() and writer.pending == 4
    release.set()
    await writer.commit()
    assert second.done() and writer.pending == 0
    shown = [
        e if isinstance(e, str) else [x.split(":")[0] + ":" + _short(x) for x in e]
        for e in store.events
    ]
    assert shown == [
        "slow",
        ["A/DC1:OUTOFORDER", "B/DC1:OUTOFORDER"],  # consecutive status rows: one transaction
        "between",
        ["A/DC1:AVAILABLE"],
    ]
    store.engine.dispose()


async def test_a_failed_write_is_raised_by_its_batch_and_the_others_are_kept(
    tmp_path: Path,
) -> None:
    store = RecordingStore(tmp_path)
    writer = Writer(store, inline=False)

    def broken() -> None:
        raise RuntimeError("disk on fire")

    writer.queue(broken)
    done = writer.queue(_row("A", Status.OUTOFORDER))
    writer.queue(_row("NOWHERE", Status.OUTOFORDER))  # no such location: KeyError
    writer.queue(_row("B", Status.OUTOFORDER))
    with pytest.raises(RuntimeError, match="disk on fire"):
        await writer.commit()
    assert isinstance(done.exception(), RuntimeError)
    # The rows next to the bad one were written one by one after their transaction failed.
    held = {x.id: (x.evses or [])[0].status for x in Store(store.engine).load_locations()}
    assert held == {"A": Status.OUTOFORDER, "B": Status.OUTOFORDER}
    await writer.commit()  # nothing queued since: nothing to raise
    store.engine.dispose()


async def test_on_sqlite_a_write_is_done_when_queued_and_fails_there(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    writer = Writer(store)
    assert writer.inline  # SQLite: no worker hop (its cost: writer.py)
    done = writer.queue(_row("A", Status.OUTOFORDER))
    assert done.done() and store.events
    with pytest.raises(KeyError):
        writer.queue(_row("NOWHERE", Status.OUTOFORDER))
    store.engine.dispose()


# --- the CPO: answered and pushed once stored ------------------------------------------------
def _slow_status_writes(fed: Federation, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Status writes in a worker thread (as on PostgreSQL), each taking 0.2 s; the list
    notes when each is stored."""
    cpo = fed.cpo
    cpo.writer.inline = False
    stored: list[str] = []
    write = cpo.store.save_status_rows

    def slow(rows: Sequence[StatusRow]) -> None:
        threading.Event().wait(0.2)
        write(rows)
        stored.extend(f"{r.location_id}/{r.evse_uid}" for r in rows)

    monkeypatch.setattr(cpo.store, "save_status_rows", slow)
    return stored


def _status_in_database(fed: Federation, location_id: str, evse_uid: str) -> Status:
    for held in Store(fed.cpo.store.engine).load_locations():
        if held.id == location_id:
            return next(e.status for e in held.evses or [] if e.uid == evse_uid)
    raise AssertionError(location_id)


async def test_a_status_change_is_answered_only_once_it_is_stored(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = _slow_status_writes(fed, monkeypatch)
    answer = await fed.control("POST", "/evses/LOC1/DC1/fault", {"kind": "OUTOFORDER"})
    assert answer.status_code == 200 and answer.json()["status"] == "OUTOFORDER"
    assert stored == ["LOC1/DC1"]
    assert _status_in_database(fed, "LOC1", "DC1") is Status.OUTOFORDER


async def test_the_status_patch_leaves_after_the_write_and_not_at_all_if_it_failed(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = _slow_status_writes(fed, monkeypatch)
    seen_stored: list[list[str]] = []
    send = fed.cpo.link.send

    async def spy(message: Any) -> Any:
        seen_stored.append(list(stored))
        return await send(message)

    monkeypatch.setattr(fed.cpo.link, "send", spy)
    await fed.control("POST", "/evses/LOC1/DC1/fault", {"kind": "OUTOFORDER"})
    await fed.settle()
    assert seen_stored == [["LOC1/DC1"]]
    patches = [r for r in fed.emsp.received if r.method == "PATCH"]
    assert [r.body["status"] for r in patches] == ["OUTOFORDER"]

    def broken(rows: Sequence[StatusRow]) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(fed.cpo.store, "save_status_rows", broken)
    answer = await fed.control("POST", "/evses/LOC1/DC1/repair")
    assert answer.status_code == 500
    await fed.settle()
    assert len(seen_stored) == 1  # the repair was not stored: it is not announced either
    assert len([r for r in fed.emsp.received if r.method == "PATCH"]) == 1


async def test_the_stepped_clock_is_written_only_when_it_moves(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[tuple[str, str | None]] = []
    set_state = fed.cpo.store.set_state

    def spy(key: str, value: str | None) -> None:
        written.append((key, value))
        set_state(key, value)

    monkeypatch.setattr(fed.cpo.store, "set_state", spy)
    for _ in range(3):
        assert (await fed.control("GET", "/clock")).status_code == 200
    await fed.control("POST", "/evses/LOC1/DC1/fault", {"kind": "OUTOFORDER"})
    assert written == []
    await fed.step(90)
    assert written == [("clock", "2025-03-03T08:01:30Z")]
    assert fed.cpo.store.get_state("clock") == "2025-03-03T08:01:30Z"


async def test_pushes_after_a_credentials_rotation_use_the_new_token(fed: Federation) -> None:
    await fed.control("POST", "/evses/LOC1/DC1/fault", {"kind": "OUTOFORDER"})
    assert (await fed.control("POST", "/credentials/rotate")).status_code == 200
    await fed.control("POST", "/evses/LOC1/DC1/repair")
    await fed.settle()
    patches = [r.body["status"] for r in fed.emsp.received if r.method == "PATCH"]
    assert patches == ["OUTOFORDER", "AVAILABLE"]  # the hub took both (the link's client
    # is made again for the new connection, cpo_mock/link.py)
