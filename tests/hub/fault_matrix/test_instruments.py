"""The fault matrix's instruments, checked on their own: a harness that miscounted would make
its verdicts on the hub worthless.

* the recording platform: wrong tokens refused, `--fail-rate` answers 500 and records
  nothing, `--drop-rate` records and then breaks the answer (the client sees an incomplete
  response), `--delay` records on arrival and answers late, and the records survive a restart;
  after a rotation the previous token B is still accepted, but counted and marked
  (`stale_token`);
* the analysis: loss, out of order (and replays), duplicates and objects left stale, on
  records made up for it;
* a control run: the same hub and platforms with no fault lose nothing, so a loss the matrix
  reports is not the harness's own;
* the PostgreSQL proxy: a cut breaks open connections and refuses new ones, a restore lets
  them in again;
* the lock watch: an advisory lock of the lane class is put down to the party of its platform
  and to the instance named by the holding connection's application_name, and is gone when
  that connection ends.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from hub.cluster import LANE_LOCKS, LEADER_LOCK
from tests.databases import postgres_database
from tests.hub.fault_matrix.harness import (
    CPO_PARTY,
    HUB_PARTY,
    LockWatch,
    PgProxy,
    PlatformProcess,
    Sender,
    analyse,
    authorization,
    await_delivery,
    federation,
    instance_url,
    location_body,
    location_lanes,
    postgres_target,
    report,
    routing,
    wait_until,
)


def _put(platform: PlatformProcess, token: str, object_id: str, seq: int) -> httpx.Response:
    return httpx.put(
        f"{platform.url}/ocpi/2.2.1/locations/NL/CPO/{object_id}",
        json=location_body(object_id, seq),
        headers={
            "Authorization": authorization(token),
            "X-Request-ID": f"r-{object_id}-{seq}",
            "X-Correlation-ID": f"c-{object_id}-{seq}",
            **routing(HUB_PARTY, "NL/EMA"),
        },
        timeout=10,
    )


def test_the_recording_platform_records_what_it_stored(tmp_path: Path) -> None:
    platform = PlatformProcess(tmp_path, "EMSP", "NL/EMA")
    # Registered already (as after a first start): no hub needed.
    platform.state_file.write_text(json.dumps({"token_b": "token-b", "token_c": "token-c"}))
    try:
        platform.start()
        assert platform.state()["registered"] is True

        refused = _put(platform, "someone-else", "L1", 1)
        assert refused.status_code == 401

        platform.set_faults(fail_rate=1)
        failed = _put(platform, "token-b", "L1", 1)
        assert failed.status_code == 500
        assert failed.json()["status_code"] == 3000

        platform.set_faults(fail_rate=0, drop_rate=1)
        with pytest.raises(httpx.RemoteProtocolError):
            _put(platform, "token-b", "L1", 2)

        platform.set_faults(drop_rate=0, delay=0.5)
        began = time.time()
        late = _put(platform, "token-b", "L1", 3)
        answered = time.time()
        assert late.status_code == 200 and late.json()["status_code"] == 1000
        assert answered - began >= 0.5

        platform.refresh()
        got = [(r["body"]["name"], r["correlation_id"]) for r in platform.records]
        assert got == [("Fault matrix L1 #2", "c-L1-2"), ("Fault matrix L1 #3", "c-L1-3")]
        assert platform.records[1]["received_at"] <= answered - 0.4  # recorded on arrival
        state = platform.state()
        assert (state["failed"], state["dropped"], state["delayed"], state["refused"]) == (
            1,
            1,
            1,
            1,
        )

        platform.terminate()
        platform.start()
        kept: dict[str, Any] = platform.http.get(f"{platform.url}/_received").json()
        assert kept["total"] == 2
        assert [r["n"] for r in kept["records"]] == [0, 1]
        assert platform.state()["token_c"] == "token-c"
    finally:
        platform.close()


def test_the_recording_platform_counts_a_rotated_out_token(tmp_path: Path) -> None:
    platform = PlatformProcess(tmp_path, "EMSP", "NL/EMA")
    # As after a rotation: a new token B, the previous one still accepted.
    platform.state_file.write_text(
        json.dumps({"token_b": "new-b", "previous_token_b": "old-b", "token_c": "token-c"})
    )
    try:
        platform.start()
        assert _put(platform, "new-b", "L1", 1).status_code == 200
        assert _put(platform, "old-b", "L1", 2).status_code == 200
        assert _put(platform, "older-b", "L1", 3).status_code == 401
        platform.refresh()
        assert [r["stale_token"] for r in platform.records] == [False, True]
        state = platform.state()
        assert (state["stale_token"], state["refused"]) == (1, 1)
    finally:
        platform.close()


def _records(*versions: tuple[str, int]) -> list[dict[str, Any]]:
    return [
        {"n": n, "module": "locations", "method": "PUT", "body": location_body(i, s)}
        for n, (i, s) in enumerate(versions)
    ]


def test_the_analysis_counts_loss_order_and_duplicates() -> None:
    records = _records(("A", 1), ("A", 2), ("A", 2), ("A", 1), ("B", 2), ("B", 1), ("C", 9))
    accepted = {("A", 1), ("A", 2), ("A", 3), ("B", 1), ("B", 2)}
    result = analyse("R", records, accepted)
    assert result.lost == [("A", 3)]
    assert (result.out_of_order, result.replays, result.duplicates) == (2, 1, 1)
    assert result.unaccepted == 1  # C#9
    assert result.stale == 2  # A ends on 1 (3 accepted), B ends on 1 (2 accepted)
    clean = analyse("R", _records(("A", 1), ("A", 1), ("A", 2)), {("A", 1), ("A", 2)})
    assert (clean.lost, clean.out_of_order, clean.duplicates, clean.stale) == ([], 0, 1, 0)


def test_control_without_faults_the_harness_counts_no_loss(tmp_path: Path) -> None:
    with federation(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}") as fed:
        ids = [f"CTL{i:02d}" for i in range(20)]
        sender = Sender(fed.hub.url, fed.cpo.token_c, location_lanes(ids, range(1, 4))).run()
        deliveries = await_delivery(fed.emsps, sender.accepted)
    figures = report(deliveries, sender)
    assert len(sender.accepted) == 60, figures
    for delivery in deliveries.values():
        assert (len(delivery.lost), delivery.out_of_order, delivery.stale) == (0, 0, 0), figures
        receiver = fed.emsps[0]
    # What the receiver recorded of the routing: a broadcast comes FROM the hub, TO it.
    pushes = [r for r in receiver.records if r["module"] == "locations"]
    assert {(r["from"], r["to"]) for r in pushes} == {(HUB_PARTY, receiver.party)}, pushes[:1]
    assert all(r["rest"].startswith(CPO_PARTY + "/") for r in pushes), pushes[:1]


@pytest.mark.postgres
def test_the_postgres_proxy_cuts_and_restores() -> None:
    with contextlib.contextmanager(postgres_database)() as url:
        proxy = PgProxy(*postgres_target(url)).start()
        try:
            through = proxy.url_for(url)
            with psycopg.connect(through, autocommit=True) as before:
                assert before.execute("SELECT 1").fetchone() == (1,)
                proxy.cut()
                with pytest.raises(psycopg.OperationalError):
                    before.execute("SELECT 1")
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(through, connect_timeout=2).close()
            proxy.restore()
            with psycopg.connect(through, autocommit=True) as after:
                assert after.execute("SELECT 1").fetchone() == (1,)
        finally:
            proxy.close()


@pytest.mark.postgres
def test_the_lock_watch_says_which_instance_holds_a_lane() -> None:
    with contextlib.contextmanager(postgres_database)() as url:
        with psycopg.connect(url, autocommit=True) as setup:
            setup.execute("CREATE TABLE party (platform_id int, country_code text, party_id text)")
            setup.execute("INSERT INTO party VALUES (7, 'NL', 'EMA'), (NULL, 'NL', 'EMX')")
        with LockWatch(url) as locks:
            assert locks.holders() == {}
            with psycopg.connect(instance_url(url, "B"), autocommit=True) as holder:
                holder.execute("SELECT pg_advisory_lock(%s, %s)", (LANE_LOCKS, 7))
                holder.execute("SELECT pg_advisory_lock(%s, %s)", LEADER_LOCK)
                assert locks.holders() == {"NL/EMA": "B", "leader": "B"}
                assert locks.wait_held(["NL/EMA"], "B", within=1) is not None
                assert locks.wait_held(["NL/EMA"], "A", within=0.1) is None
            assert wait_until(lambda: locks.holders() == {}, 5)
