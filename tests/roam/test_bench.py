"""`roam hub bench` (roam/bench/hub.py): the helpers, the members, the seeded hub, and short
real runs (SQLite; PostgreSQL when ROAM_TEST_POSTGRES_URL is set). No timing assertions: the
numbers depend on the machine; only their presence is checked, and that every broadcast the hub
accepted reached the eMSP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner
from typer.testing import Result as CliResult

from hub.app import create_app
from hub.db import make_engine
from hub.service import Hub
from hub.settings import HubSettings
from hub.store import Store
from ocpi.headers import PartyRef, encode_authorization
from ocpi.v221.locations import Location
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole, ModuleID
from roam.bench import hub as bench
from roam.bench.hub import (
    BenchError,
    BenchOptions,
    BenchReport,
    ClosedRun,
    PacedRun,
    Target,
    Tokens,
    format_report,
    late_count,
    location_bodies,
    member_app,
    percentile,
    seed_hub,
    timetable,
)
from roam.cli import app
from tests.network import Network


# --- helpers --------------------------------------------------------------------------------
def test_percentile_interpolates_between_closest_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 25) == pytest.approx(1.75)
    assert percentile([7.0], 99) == 7.0
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 99) == pytest.approx(99.01)


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="0-100"):
        percentile([1.0], 101)


def test_timetable_spaces_sends_evenly() -> None:
    assert timetable(200, 4) == pytest.approx([0.0, 0.005, 0.010, 0.015])
    assert timetable(1, 0) == []
    with pytest.raises(ValueError, match="positive"):
        timetable(0, 3)


def test_late_count_counts_sends_beyond_the_threshold() -> None:
    assert late_count([-0.0004, 0.0, 0.0009, 0.0011, 0.05]) == 2
    assert late_count([0.002, 0.003], threshold=0.0025) == 1


# --- the members ---------------------------------------------------------------------------
def test_location_bodies_are_valid_2_2_1_locations_of_about_2_kb() -> None:
    bodies = location_bodies()
    assert len(bodies) == bench.N_LOCATIONS
    assert bodies == location_bodies()  # the same bytes in every process
    envelope = json.loads(bodies["LOC7"])
    assert envelope["status_code"] == 1000
    location = Location.model_validate(envelope["data"])
    assert location.id == "LOC7"
    assert len(location.evses or []) == 2
    assert 1800 < len(bodies["LOC1"]) < 2600


async def test_cpo_member_checks_the_token_and_reverses_the_routing_headers() -> None:
    member = member_app(Role.CPO, frozenset({"right"}), "http://cpo.test")
    routing = {
        "OCPI-to-country-code": "NL",
        "OCPI-to-party-id": "SPK",
        "OCPI-from-country-code": "DE",
        "OCPI-from-party-id": "MSP",
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=member), base_url="http://cpo.test"
    ) as client:
        url = "/ocpi/cpo/2.2.1/locations/LOC3"
        ok = await client.get(
            url, headers={"Authorization": encode_authorization("right"), **routing}
        )
        assert ok.status_code == 200
        assert ok.content == location_bodies()["LOC3"]
        assert ok.headers["OCPI-to-country-code"] == "DE"
        assert ok.headers["OCPI-to-party-id"] == "MSP"
        assert ok.headers["OCPI-from-country-code"] == "NL"
        assert ok.headers["OCPI-from-party-id"] == "SPK"
        wrong = await client.get(url, headers={"Authorization": encode_authorization("wrong")})
        assert wrong.status_code == 401
        missing = await client.get(
            "/ocpi/cpo/2.2.1/locations/NOPE",
            headers={"Authorization": encode_authorization("right")},
        )
        assert missing.json()["status_code"] == 2003


async def test_seeded_hub_routes_the_bench_request(tmp_path: Path) -> None:
    """The seeded registrations are what a handshake would leave: the hub routes with them."""
    tokens = Tokens.generate()
    database_url = f"sqlite:///{tmp_path / 'hub.db'}"
    seed_hub(database_url, "http://cpo.test", "http://emsp.test", tokens)

    store = Store(make_engine(database_url))
    platforms = {p.name: p for p in store.load_platforms()}
    store.engine.dispose()
    cpo = platforms["bench CPO"]
    assert cpo.endpoint(ModuleID.LOCATIONS, InterfaceRole.SENDER) == (
        "http://cpo.test/ocpi/cpo/2.2.1/locations"
    )
    assert [(p.role, p.ref) for p in cpo.parties] == [(Role.CPO, PartyRef("NL", "SPK"))]
    assert platforms["bench eMSP"].token_to_member == tokens.hub_to_emsp

    network = Network()
    network.add("cpo.test", member_app(Role.CPO, frozenset({tokens.hub_to_cpo}), "http://cpo.test"))
    async with network.client() as http:
        hub_app = create_app(
            HubSettings(database_url=database_url, admin_token="admin", base_url="http://hub.test"),
            http,
        )
        hub: Hub = hub_app.state.hub
        await hub.start()
        try:
            routed = Target(
                "routed",
                "http://hub.test/ocpi/2.2.1/sender/locations",
                encode_authorization(tokens.emsp_to_hub),
            )
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=hub_app)) as client:
                answer = await client.get(routed.url(0), headers=routed.headers())
        finally:
            await hub.stop()
    assert answer.status_code == 200
    assert answer.content == location_bodies()["LOC1"]
    assert answer.headers["OCPI-from-party-id"] == "SPK"


async def test_emsp_member_counts_the_puts_it_takes_by_sender() -> None:
    """The bench knows every broadcast was delivered from the eMSP's own count."""
    member = member_app(Role.EMSP, frozenset({"right"}), "http://emsp.test")
    body = json.dumps(bench.location(1)).encode()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=member), base_url="http://emsp.test"
    ) as client:
        assert (await client.get(bench.RECEIVED)).json() == {}
        for sender, times in ((("EU", "HUB"), 2), (("NL", "SPK"), 1)):
            headers = {
                "Authorization": encode_authorization("right"),
                "OCPI-from-country-code": sender[0],
                "OCPI-from-party-id": sender[1],
            }
            for _ in range(times):
                url = "/ocpi/emsp/2.2.1/locations/NL/SPK/LOC1"
                answer = await client.put(url, content=body, headers=headers)
                assert answer.json()["status_code"] == 1000
        refused = await client.put(
            "/ocpi/emsp/2.2.1/locations/NL/SPK/LOC1",
            content=body,
            headers={"Authorization": encode_authorization("wrong")},
        )
        assert refused.status_code == 401
        assert (await client.get(bench.RECEIVED)).json() == {"EU/HUB": 2, "NL/SPK": 1}


def test_targets_spread_requests_over_hub_instances() -> None:
    target = Target("routed@2", "http://a/x", "auth", more=("http://b/x",))
    assert [target.url(i) for i in range(4)] == [
        "http://a/x/LOC1",
        "http://b/x/LOC2",
        "http://a/x/LOC3",
        "http://b/x/LOC4",
    ]
    # A closed-loop worker k sends k, k + C, k + 2C…: with C even it keeps to one instance.
    assert {target.url(k).split("/")[2] for k in range(1, 64, 16)} == {"b"}
    broadcast = Target("broadcast", "http://a/r", "auth", push=True, broadcast=True)
    assert broadcast.url(0) == "http://a/r/NL/SPK/LOC1"
    assert broadcast.headers()["OCPI-to-party-id"] == "HUB"
    assert broadcast.headers()["OCPI-from-party-id"] == "SPK"


# --- the report -----------------------------------------------------------------------------
def _paced(path: str, rep: int, p50: float, p99: float) -> PacedRun:
    return PacedRun(path, rep, 200, 4, 800, 0, 0, 0.2, p50, p99, p99 + 1, p99 + 2, 4.0)


def _closed(path: str, rep: int, rate: float, cpu_s: float) -> ClosedRun:
    """A 4 s run; the server spends 80 % of `cpu_s` during it, the rest catching up."""
    own = "cpo" if path == "direct" else "hub"
    during = {"hub": 0.0, "cpo": 0.0, "emsp": 0.0, "loadgen": 1.0, own: cpu_s * 0.8}
    return ClosedRun(
        path=path,
        rep=rep,
        connections=16,
        requests=int(rate * 4),
        errors=0,
        seconds=4.0,
        req_per_s=rate,
        p50_ms=2.0,
        p99_ms=5.0,
        cpu_s=during,
        catch_up_s=0.5,
        log_lines=None if path == "direct" else int(rate * 8),
        log_pending=None if path == "direct" else int(rate * 2),
        cpu_settled_s={**during, own: cpu_s},
        machine_busy=0.9,
        machine_steal=0.0,
        machine_others=0.02,
    )


def test_summary_pairs_runs_within_a_repetition_and_takes_medians() -> None:
    report = BenchReport(BenchOptions(), {"python": "3.11", "cpus": 2}, {}, 2193)
    for rep, (d50, r50, d99, r99) in enumerate(
        [(0.4, 1.4, 0.9, 2.9), (0.6, 1.2, 1.0, 12.5), (0.5, 3.5, 1.1, 3.1)]
    ):
        report.paced += [_paced("direct", rep, d50, d99), _paced("routed", rep, r50, r99)]
        report.closed += [_closed("direct", rep, 10000, 4.0), _closed("routed", rep, 1500, 3.0)]
    summary = report.summary()
    assert summary["direct"]["p50_ms"] == 0.5
    assert summary["routed"]["p50_ms"] == 1.4
    assert summary["added"]["p50_ms"] == pytest.approx(1.0)  # median of 1.0, 0.6, 3.0
    assert summary["added"]["p99_ms"] == pytest.approx(2.0)  # median of 2.0, 11.5, 2.0
    assert summary["routed"]["cpu_us_per_request"] == pytest.approx(500)  # 3 s / 6000
    assert summary["routed"]["cpu_us_per_request_during_run"] == pytest.approx(400)
    assert summary["routed"]["catch_up_s"] == 0.5
    assert summary["routed"]["log_pending_share"] == 0.25
    assert summary["added"]["hub_one_core_req_per_s"] == pytest.approx(2000)
    assert summary["added"]["throughput_ratio"] == pytest.approx(0.15)

    text = format_report(report)
    assert re.search(r"^direct\s+0\.50\s", text, re.MULTILINE)
    assert re.search(r"^routed\s+1\.40\s", text, re.MULTILINE)
    assert "added p50 1.00 ms (target <= 2 ms): met" in text
    assert "added p99 2.00 ms (target <= 10 ms): met" in text
    assert "routed throughput 1,500 req/s" in text and "): met" in text
    assert "not onboarding" in text
    assert "other work took CPU" not in text

    report.closed = [_closed("direct", 0, 10000, 4.0), _closed("routed", 0, 900, 3.0)]
    assert "(target >= 1,000 req/s): NOT met" in format_report(report)


def _instances_run(path: str, rate: float, hub_s: float, hub2_s: float) -> ClosedRun:
    """A 4 s closed-loop run through hub instances; a broadcast run delivered everything."""
    cpu = {"hub": hub_s, "cpo": 0.5, "emsp": 0.5, "loadgen": 1.0, "others": 0.1}
    if hub2_s:
        cpu |= {"hub2": hub2_s, "hubs": hub_s + hub2_s}
    broadcast = path.startswith("broadcast")
    requests = int(rate * 4)
    run = _closed("routed", 0, rate, 1.0)
    run.path, run.cpu_s, run.cpu_settled_s, run.machine_busy = path, cpu, cpu, 0.97
    if broadcast:
        run.accepted, run.delivered, run.delivery_s, run.undelivered = requests, requests, 5.0, 0
    return run


def test_report_sets_one_and_two_hub_instances_side_by_side_and_says_when_nothing_scaled() -> None:
    report = BenchReport(BenchOptions(instances=2), {"python": "3.11", "cpus": 2}, {}, 2193)
    report.database = {"kind": "postgresql", "server": "127.0.0.1:5432", "database": "x"}
    for path in ("direct", "routed", "broadcast", "routed@2", "broadcast@2"):
        report.paced.append(_paced(path, 0, 1.0, 3.0))
    report.closed += [
        _closed("direct", 0, 10000, 4.0),
        _instances_run("routed", 2000, 4.0, 0),
        _instances_run("broadcast", 500, 4.0, 0),
        _instances_run("routed@2", 1900, 2.4, 2.0),
        _instances_run("broadcast@2", 480, 3.0, 1.0),
    ]
    summary = report.summary()
    assert summary["routed@2"]["cpu_process"] == "hubs"
    assert summary["routed@2"]["cpu_us_per_request"] == pytest.approx(4.4 / 7600 * 1e6)
    assert summary["routed@2"]["hub_cpu_shares"] == {
        "hub": pytest.approx(2.4 / 4.4),
        "hub2": pytest.approx(2.0 / 4.4),
    }
    assert summary["broadcast@2"]["deliveries_per_s"] == pytest.approx(1920 / 5.0)

    text = format_report(report)
    assert "Hub instances on one PostgreSQL database: 1 against 2" in text
    assert re.search(r"^routed GET req/s \(closed loop\)\s+2,000\s+1,900\s+0\.95$", text, re.M)
    assert re.search(r"^broadcasts accepted/s\s+500\s+480\s+0\.96$", text, re.M)
    assert re.search(r"^deliveries/s to the eMSP\s+400\s+384\s+0\.96$", text, re.M)
    assert "Hub CPU split between the instances (routed GET): hub 55%, hub2 45%." in text
    assert "The 2 instances did not add routed throughput here (x0.95)" in text
    assert "(2 CPUs) was 97% busy" in text

    report.closed[3] = _instances_run("routed@2", 3000, 2.4, 2.0)
    assert "The 2 instances served x1.50 the routed GETs of one" in format_report(report)


# --- processes ------------------------------------------------------------------------------
def _children_of_this_process() -> list[int]:
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2 :].split()[1] == me:
            found.append(int(entry))
    return found


def _gone(pid: int) -> bool:
    """Exited (a zombie waiting for init to reap it counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def test_server_arguments_survive_tokens_that_look_like_options() -> None:
    parser = bench._child_parser()
    tokens = ["-dash", "--double", "plain"]
    member = parser.parse_args(bench.member_args(Role.CPO, tokens))
    assert (member.kind, member.role, member.token) == ("member", "CPO", tokens)
    hub = parser.parse_args(bench.hub_args("sqlite:///x.db", "-admin"))
    assert (hub.kind, hub.database_url, hub.admin_token) == ("hub", "sqlite:///x.db", "-admin")


def test_a_server_that_cannot_start_is_reported_and_reaped(tmp_path: Path) -> None:
    child = bench._start_child("cpo", ["member", "--role", "NOBODY", "--token", "t"], tmp_path)
    try:
        with pytest.raises(BenchError, match=r"(?s)cpo exited with status 2 .*invalid choice"):
            bench._wait_ready(child, within=30)
    finally:
        bench._stop_children([child])
    assert _gone(child.pid)


@dataclass
class SmokeRun:
    result: CliResult
    data: dict[str, Any]
    children_before: set[int]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> SmokeRun:
    """One short real run of every path on SQLite, shared by the tests that read it."""
    before = set(_children_of_this_process())
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    args = ["hub", "bench", "--duration", "0.5", "--rate", "50", "--reps", "1"]
    args += ["--connections", "4", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return SmokeRun(result, json.loads(out.read_text()), before)


NUMBER = r"[+-]?[\d,]+\.?\d*"


def test_bench_smoke_run_prints_every_path_and_leaves_no_process(smoke_run: SmokeRun) -> None:
    result, data, before = smoke_run.result, smoke_run.data, smoke_run.children_before
    number = NUMBER
    assert re.search(rf"^direct\s+{number}\s+{number}\s", result.stdout, re.MULTILINE)
    assert re.search(rf"^routed\s+{number}\s+{number}\s", result.stdout, re.MULTILINE)
    assert re.search(rf"^added\s+{number}\s+{number}\s", result.stdout, re.MULTILINE)
    assert re.search(rf"added p50 {number} ms \(target <= 2 ms\): (met|NOT met)", result.stdout)
    assert "routed throughput" in result.stdout
    assert "hub CPU" in result.stdout.replace("Hub CPU", "hub CPU")
    assert "Database: SQLite" in result.stdout
    assert re.search(r"Load average \(1, 5, 15 min\) before the bench: [\d.]+", result.stdout)

    assert data["summary"]["routed"]["errors"] == 0
    assert data["summary"]["direct"]["errors"] == 0
    paths = {"direct", "routed", "direct-push", "routed-push", "broadcast"}
    assert {run["path"] for run in data["paced_runs"]} == paths
    assert re.search(rf"^routed-push\s+{number}\s+{number}\s", result.stdout, re.MULTILINE)
    assert re.search(rf"push checks .* take {number} us", result.stdout)
    assert data["summary"]["routed-push"]["errors"] == 0  # the hub's checks pass the Location
    assert data["summary"]["added_push"]["push_check_us"] > 0
    assert all(run["requests"] > 0 for run in data["closed_runs"])
    routed = [run for run in data["closed_runs"] if run["path"] == "routed"]
    assert routed[0]["log_lines"] >= 2 * routed[0]["requests"]  # inbound + outbound hop
    pids = data["processes"]
    assert set(pids) == {"cpo", "emsp", "hub"}
    assert all(_gone(pid) for pid in pids.values())
    assert set(_children_of_this_process()) <= before


def test_bench_broadcast_path_is_measured_and_every_accepted_broadcast_delivered(
    smoke_run: SmokeRun,
) -> None:
    result, data = smoke_run.result, smoke_run.data
    number = NUMBER
    assert re.search(rf"^broadcast\s+{number}\s+{number}\s", result.stdout, re.MULTILINE)
    assert re.search(rf"^durable\s+{number}\s+{number}\s", result.stdout, re.MULTILINE)
    assert "the cost of durable acceptance" in result.stdout
    assert re.search(rf"Accepted: {number} broadcasts/s", result.stdout)
    assert re.search(rf"hub CPU per accepted broadcast {number} us", result.stdout)
    assert re.search(rf"{number} deliveries/s", result.stdout)
    assert "every one reached the eMSP" in result.stdout

    row = data["summary"]["broadcast"]
    assert row["errors"] == 0
    assert row["accepted_per_s"] > 0 and row["deliveries_per_s"] > 0
    assert row["cpu_us_per_request"] > 0
    assert row["undelivered"] == 0
    assert "durable" in data["summary"]
    closed = [run for run in data["closed_runs"] if run["path"] == "broadcast"]
    assert closed and all(run["accepted"] == run["requests"] > 0 for run in closed)
    assert all(run["delivered"] >= run["accepted"] for run in closed)
    assert all(run["undelivered"] == 0 for run in closed)
    tally = data["broadcasts"]  # the whole bench: warm-up, checks and paced runs included
    assert tally["accepted"] > sum(run["accepted"] for run in closed)
    assert tally["received"] >= tally["accepted"]
    assert tally["undelivered"] == 0


def test_bench_refuses_two_instances_on_sqlite_and_a_database_url_that_is_not_postgresql() -> None:
    with pytest.raises(BenchError, match=r"--instances 2 needs --database-url postgresql"):
        bench.run_bench(BenchOptions(instances=2))
    with pytest.raises(BenchError, match="must name a PostgreSQL server"):
        bench.run_bench(BenchOptions(database_url="sqlite:///x.db"))
    result = CliRunner().invoke(app, ["hub", "bench", "--instances", "2"])
    assert result.exit_code == 1
    assert "bench failed: --instances 2 needs --database-url postgresql" in result.output
    assert "SQLite" in result.output


def _bench_databases(server: str) -> set[str]:
    import psycopg

    with psycopg.connect(server, autocommit=True) as db:
        rows = db.execute("SELECT datname FROM pg_database").fetchall()
    return {row[0] for row in rows if row[0].startswith("roam_bench_")}


@pytest.fixture
def postgres_server() -> str:
    server = os.environ.get("ROAM_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("ROAM_TEST_POSTGRES_URL is not set: the PostgreSQL bench is skipped")
    return server


@pytest.mark.postgres
def test_bench_on_postgresql_creates_and_drops_its_own_database(postgres_server: str) -> None:
    before = _bench_databases(postgres_server)
    options = BenchOptions(
        duration=0.3, rate=50, connections=4, reps=1, warmup=0.2, database_url=postgres_server
    )
    report = bench.run_bench(options)
    text = format_report(report)
    assert report.database["kind"] == "postgresql"
    name = report.database["database"]
    assert name.startswith("roam_bench_") and name not in before
    assert f"a fresh database {name} (created and dropped by the bench)" in text
    assert re.search(r"synchronous_commit \w+, fsync \w+\. A one-row INSERT", text)
    assert "the hub logs every message to PostgreSQL" in text
    assert re.search(rf"^broadcast\s+{NUMBER}\s", text, re.MULTILINE)
    if report.database["cpu_measured"]:  # a server on this machine
        assert re.search(rf"PostgreSQL's CPU: {NUMBER} us per broadcast", text)
    assert report.broadcasts["undelivered"] == 0
    assert report.broadcasts["received"] >= report.broadcasts["accepted"] > 0
    assert _bench_databases(postgres_server) == before  # dropped


@pytest.mark.postgres
def test_bench_with_two_hub_instances_sets_them_side_by_side(postgres_server: str) -> None:
    before = _bench_databases(postgres_server)
    options = BenchOptions(
        duration=0.3,
        rate=50,
        connections=4,
        reps=1,
        warmup=0.2,
        database_url=postgres_server,
        instances=2,
    )
    report = bench.run_bench(options)
    text = format_report(report)
    summary = report.summary()
    for path in ("routed@2", "broadcast@2"):
        assert summary[path]["errors"] == 0
        assert summary[path]["cpu_process"] == "hubs"
        assert set(summary[path]["hub_cpu_shares"]) == {"hub", "hub2"}
    # Both instances took requests: each answered some (its CPU share is not nothing).
    assert all(share > 0 for share in summary["routed@2"]["hub_cpu_shares"].values())
    assert summary["broadcast@2"]["undelivered"] == 0
    assert "Hub instances on one PostgreSQL database: 1 against 2" in text
    assert re.search(rf"^routed GET req/s \(closed loop\)\s+{NUMBER}\s+{NUMBER}", text, re.M)
    assert re.search(rf"^deliveries/s to the eMSP\s+{NUMBER}\s+{NUMBER}", text, re.M)
    assert re.search(r"The 2 instances (served x|did not add routed throughput)", text)
    assert report.broadcasts["undelivered"] == 0
    assert set(report.processes) == {"cpo", "emsp", "hub", "hub2"}
    assert all(_gone(pid) for pid in report.processes.values())
    assert _bench_databases(postgres_server) == before


def test_bench_refuses_options_it_cannot_run() -> None:
    with pytest.raises(BenchError, match="positive"):
        bench.run_bench(BenchOptions(duration=0))


def test_children_stop_on_their_own_when_the_bench_dies(tmp_path: Path) -> None:
    """A member whose parent is gone shuts down (no orphans even if the bench is killed)."""
    # An intermediate process starts a member and dies at once without stopping it.
    script = (
        "import sys, pathlib; from roam.bench import hub as bench; "
        "c = bench._start_child('cpo', ['member', '--role=CPO', '--token=t'], "
        "pathlib.Path(sys.argv[1])); bench._wait_ready(c); print(c.pid, flush=True); "
        "import os; os._exit(0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    orphan = int(done.stdout.split()[0])
    deadline = time.monotonic() + 15
    while not _gone(orphan) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not _gone(orphan):
        os.kill(orphan, signal.SIGKILL)
        pytest.fail("the orphaned member did not stop on its own")
