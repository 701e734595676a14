"""`roam hub bench`: what the hub adds to a request, measured on loopback.

Three server processes and a load generator, all on 127.0.0.1:

* a CPO member answering `GET {base}/ocpi/cpo/2.2.1/locations/{id}` (Sender interface) with a
  pre-serialised ~2 KB Location envelope, after checking the Authorization token;
* an eMSP member (registered at the hub, idle during the bench: the load generator speaks for it);
* the hub (`create_app`) on a fresh SQLite database into which both members were written before
  it started, so the bench measures forwarding, not onboarding.

The load generator (this process, aiohttp over uvloop) sends the GET an eMSP sends, either
straight to the CPO ("direct") or to the hub's `/ocpi/2.2.1/sender/locations/{id}` with
OCPI-to = the CPO ("routed"), and measures

The same is done for a push: the CPO's PUT of a whole Location, straight to the eMSP
("direct-push") or to the hub's `/ocpi/2.2.1/receiver/locations/{cc}/{pid}/{id}` with OCPI-to =
the eMSP ("routed-push"), which the hub checks (valid Location, the sender's own) before it
forwards it (hub/pushes.py). For both kinds it measures

1. latency at a paced rate (requests on a fixed timetable; sends that miss their slot by more
   than 1 ms are counted as late): p50 and p99 per path, and their differences;
2. throughput in a closed loop of C connections: req/s per path, and the CPU time the hub
   process spent per routed request (utime + stime from /proc), counted until the hub is idle
   again after the run, and how far its batched message log was behind when the run ended.

Runs alternate direct/routed and are repeated; the report shows medians. The servers run as
`python -m roam.bench member|hub …` (internal), each one uvicorn worker with uvloop and
httptools and no access log, and stop with the bench, or on their own if the bench dies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import platform
import secrets
import select
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import aiohttp
import uvloop
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.database import MESSAGE_TABLE, hub_database
from hub.settings import HubSettings
from ocpi.envelope import encode_envelope
from ocpi.errors import Unauthorized, UnknownLocation
from ocpi.headers import (
    AUTHORIZATION,
    OCPI_FROM_COUNTRY_CODE,
    OCPI_FROM_PARTY_ID,
    OCPI_TO_COUNTRY_CODE,
    OCPI_TO_PARTY_ID,
    X_CORRELATION_ID,
    X_REQUEST_ID,
    AuthorizationError,
    PartyRef,
    RoutingHeaders,
    encode_authorization,
    token_candidates,
)
from ocpi.server import ocpi_app
from ocpi.v221.locations import Location
from ocpi.v221.types import Role, parse_datetime
from ocpi.v221.versions import InterfaceRole, ModuleID
from roam.serving import HOST, LoopbackServer, free_port

__all__ = [
    "BenchError",
    "BenchOptions",
    "BenchReport",
    "format_report",
    "percentile",
    "run_bench",
    "timetable",
]

CPO = PartyRef("NL", "SPK")
EMSP = PartyRef("DE", "MSP")
N_LOCATIONS = 100  # LOC1 … LOC100, requested in turn
TIMESTAMP = "2026-11-20T09:30:00Z"
CPO_LOCATIONS = "/ocpi/cpo/2.2.1/locations"
EMSP_LOCATIONS = "/ocpi/emsp/2.2.1/locations"
HUB_LOCATIONS = "/ocpi/2.2.1/sender/locations"
HUB_RECEIVER_LOCATIONS = "/ocpi/2.2.1/receiver/locations"
LATE_S = 0.001
"""A paced send more than this behind its slot is late (wrk2's coordinated-omission concern)."""
TIMER_SLACK_S = 0.0005
"""The event loop's timers have 1 ms resolution: wake this much early, so sends scatter around
their slot instead of all landing up to a millisecond behind it."""
TARGETS = {"p50_ms": 2.0, "p99_ms": 10.0, "req_per_s": 1000.0}
"""The issue's targets: added p50 <= 2 ms, added p99 <= 10 ms, routed req/s >= 1,000."""


class BenchError(Exception):
    """The bench could not run (a server did not start, a path answered wrongly…)."""


# --- pure helpers ---------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks (numpy's default method)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not within 0-100")
    data = sorted(values)
    position = (len(data) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


def timetable(rate: float, count: int) -> list[float]:
    """Send times (seconds from the start) of `count` requests at `rate` per second."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    return [i / rate for i in range(count)]


def late_count(lateness: Sequence[float], threshold: float = LATE_S) -> int:
    """How many sends left more than `threshold` seconds after their slot."""
    return sum(1 for delay in lateness if delay > threshold)


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


# --- the member's payload -----------------------------------------------------------------
def _connector(cid: str, standard: str, tariff: str) -> dict[str, Any]:
    dc = standard == "IEC_62196_T2_COMBO" or standard == "CHADEMO"
    return {
        "id": cid,
        "standard": standard,
        "format": "CABLE",
        "power_type": "DC" if dc else "AC_3_PHASE",
        "max_voltage": 920 if dc else 400,
        "max_amperage": 500 if dc else 32,
        "max_electric_power": 300000 if dc else 22000,
        "tariff_ids": [tariff],
        "last_updated": TIMESTAMP,
    }


def _evse(number: int, n: int) -> dict[str, Any]:
    return {
        "uid": f"{number:04d}-{n}",
        "evse_id": f"{CPO.country_code}*{CPO.party_id}*E{number:05d}{n}",
        "status": "AVAILABLE" if n == 1 else "CHARGING",
        "capabilities": ["CHARGING_PROFILE_CAPABLE", "REMOTE_START_STOP_CAPABLE", "RFID_READER"],
        "connectors": [
            _connector("1", "IEC_62196_T2_COMBO", "HPC-1"),
            _connector("2", "CHADEMO", "HPC-2"),
        ],
        "physical_reference": str(n),
        "floor_level": "0",
        "parking_restrictions": ["EV_ONLY"],
        "coordinates": {"latitude": "52.370216", "longitude": "4.895168"},
        "last_updated": TIMESTAMP,
    }


def location(number: int) -> dict[str, Any]:
    """Location LOC{number} of the bench CPO: 2 EVSEs with 2 connectors each."""
    return {
        "country_code": CPO.country_code,
        "party_id": CPO.party_id,
        "id": f"LOC{number}",
        "publish": True,
        "name": f"Spark Hub A{number} Amsterdam-Noord",
        "address": "Papaverweg 46",
        "city": "Amsterdam",
        "postal_code": "1032 KJ",
        "country": "NLD",
        "coordinates": {"latitude": "52.390216", "longitude": "4.905168"},
        "parking_type": "ALONG_MOTORWAY",
        "evses": [_evse(number, 1), _evse(number, 2)],
        "operator": {"name": "Spark Charging B.V.", "website": "https://example.com/spark"},
        "facilities": ["RESTAURANT", "WIFI", "CAFE"],
        "time_zone": "Europe/Amsterdam",
        "opening_times": {"twentyfourseven": True},
        "charging_when_closed": True,
        "energy_mix": {"is_green_energy": True, "supplier_name": "Example Groen"},
        "last_updated": TIMESTAMP,
    }


def location_bodies() -> dict[str, bytes]:
    """The envelopes the CPO answers with, by location id (the same bytes in every process).

    Each Location is validated against the 2.2.1 wire model once, so the payload is one a
    real CPO could send.
    """
    stamp = parse_datetime(TIMESTAMP)
    bodies = {}
    for number in range(1, N_LOCATIONS + 1):
        data = location(number)
        Location.model_validate(data)
        bodies[data["id"]] = encode_envelope(data, status_message="Success", timestamp=stamp)
    return bodies


# --- the member and hub processes ---------------------------------------------------------
def member_app(role: Role, tokens: frozenset[str], base_url: str) -> FastAPI:
    """A bench member: the CPO serves Locations (Sender), the eMSP accepts them (Receiver).

    Plain Starlette routes (no dependency injection) and pre-serialised bodies: the member is
    in both paths, so its cost is not what is measured, but it should not be the bottleneck.
    """
    bodies = location_bodies()
    party = CPO if role == Role.CPO else EMSP
    module_path = CPO_LOCATIONS if role == Role.CPO else EMSP_LOCATIONS
    versions = encode_envelope(
        [{"version": "2.2.1", "url": f"{base_url}{module_path.rsplit('/', 1)[0]}"}]
    )

    def authorize(request: Request) -> None:
        try:
            candidates = token_candidates(request.headers.get(AUTHORIZATION))
        except AuthorizationError as exc:
            raise Unauthorized(str(exc)) from None
        if not any(token in tokens for token in candidates):
            raise Unauthorized("the credentials token is not known here")

    def answer_headers(request: Request) -> dict[str, str]:
        # The routing headers of the answer are the request's, reversed.
        headers = request.headers
        out: dict[str, str] = {}
        for to_name, from_name in (
            (OCPI_TO_COUNTRY_CODE, OCPI_FROM_COUNTRY_CODE),
            (OCPI_TO_PARTY_ID, OCPI_FROM_PARTY_ID),
        ):
            sender = headers.get(from_name)
            if sender is not None:
                out[to_name] = sender
            receiver = headers.get(to_name)
            if receiver is not None:
                out[from_name] = receiver
        return out

    async def get_versions(request: Request) -> Response:
        authorize(request)
        return Response(versions, media_type="application/json")

    async def get_location(request: Request) -> Response:
        authorize(request)
        body = bodies.get(request.path_params["location_id"])
        if body is None:
            raise UnknownLocation(f"no location {request.path_params['location_id']}")
        return Response(body, media_type="application/json", headers=answer_headers(request))

    async def put_location(request: Request) -> Response:
        authorize(request)
        await request.body()
        return Response(encode_envelope(), media_type="application/json")

    app = ocpi_app(f"bench {role.value} {party}", openapi_url=None, docs_url=None, redoc_url=None)
    app.router.routes.append(Route("/ocpi/versions", get_versions, methods=["GET"]))
    if role == Role.CPO:
        app.router.routes.append(
            Route(CPO_LOCATIONS + "/{location_id}", get_location, methods=["GET"])
        )
    else:
        app.router.routes.append(
            Route(EMSP_LOCATIONS + "/{rest:path}", put_location, methods=["PUT", "PATCH"])
        )
    return app


def _serve(app: Any, port: int) -> None:
    """Run `app` on `port`; print `READY <port>` once it listens; stop if the parent dies."""
    served = LoopbackServer(
        app, port, signals=True, loop="uvloop", http="httptools", timeout_graceful_shutdown=5
    )
    parent = os.getppid()

    async def run() -> None:
        await served.start(within=math.inf)
        print(f"READY {port}", flush=True)
        while not await served.wait_stopped(within=0.5):
            if os.getppid() != parent:  # the bench died without stopping us
                served.request_stop()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run())


def _child_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m roam.bench", description="One server process of `roam hub bench`."
    )
    kinds = parser.add_subparsers(dest="kind", required=True)
    member = kinds.add_parser("member")
    member.add_argument("--role", choices=[Role.CPO.value, Role.EMSP.value], required=True)
    member.add_argument("--token", action="append", required=True, help="an accepted token")
    hub = kinds.add_parser("hub")
    hub.add_argument("--database-url", required=True)
    hub.add_argument("--admin-token", required=True)
    return parser


def member_args(role: Role, tokens: Sequence[str]) -> list[str]:
    # `--token=VALUE`: a token may start with "-" (token_urlsafe), which argparse would
    # otherwise take for an option.
    return ["member", f"--role={role.value}", *(f"--token={token}" for token in tokens)]


def hub_args(database_url: str, admin_token: str) -> list[str]:
    return ["hub", f"--database-url={database_url}", f"--admin-token={admin_token}"]


def child_main(argv: Sequence[str] | None = None) -> None:
    """`python -m roam.bench member|hub …`: one server process of the bench (internal)."""
    args = _child_parser().parse_args(argv)

    port = free_port()
    app: Any
    if args.kind == "member":
        app = member_app(Role(args.role), frozenset(args.token), f"http://{HOST}:{port}")
        # The members are the yardstick, in both paths: keep full collections out of them.
        # The hub is left as it is: its pauses are part of what is measured.
        gc.collect()
        gc.freeze()
    else:
        from hub.app import create_app  # only the hub process needs the whole hub

        settings = HubSettings(
            host=HOST, port=port, database_url=args.database_url, admin_token=args.admin_token
        )
        app = create_app(settings)
    _serve(app, port)


@dataclass
class Child:
    """A server process of the bench."""

    name: str
    process: subprocess.Popen[str]
    log: IO[str]
    log_path: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
        self.log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _start_child(name: str, args: Sequence[str], workdir: Path) -> Child:
    log_path = workdir / f"{name}.log"
    log = log_path.open("w")
    # No proxy for loopback, whatever the environment says.
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "roam.bench", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
            # Its own session: Ctrl-C reaches only the bench, which then stops it in order.
            start_new_session=True,
        )
    except BaseException:
        log.close()
        raise
    return Child(name, process, log, log_path)


def _wait_ready(child: Child, within: float = 60.0) -> None:
    stdout = child.process.stdout
    assert stdout is not None
    deadline = time.monotonic() + within
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BenchError(f"the {child.name} did not start within {within:g} s")
        readable, _, _ = select.select([stdout], [], [], remaining)
        if not readable:
            continue
        line = stdout.readline()
        if not line:  # EOF: it exited
            child.process.wait()
            raise BenchError(
                f"the {child.name} exited with status {child.process.returncode} before it "
                f"was ready:\n{child.log_tail()}"
            )
        if line.startswith("READY "):
            child.port = int(line.split()[1])
            return


def _stop_children(children: Sequence[Child]) -> None:
    """SIGTERM (uvicorn shuts down gracefully; the hub flushes its log), then SIGKILL."""
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
        if child.process.stdout is not None:
            child.process.stdout.close()
        child.log.close()


@dataclass(frozen=True)
class Tokens:
    """The credentials of the bench federation, fresh for each run."""

    cpo_to_hub: str
    hub_to_cpo: str
    emsp_to_hub: str
    hub_to_emsp: str
    emsp_to_cpo: str
    """The token the CPO gave the eMSP for talking to it directly (bilateral connection)."""
    cpo_to_emsp: str
    """The token the eMSP gave the CPO for pushing to it directly (bilateral connection)."""

    @classmethod
    def generate(cls) -> Tokens:
        return cls(*(secrets.token_urlsafe(24) for _ in range(6)))


def seed_hub(database_url: str, cpo_url: str, emsp_url: str, tokens: Tokens) -> None:
    """Write both members into the hub's database as a completed handshake would."""
    with hub_database(database_url) as database:
        for name, role, ref, url, to_member, from_member, endpoints in (
            (
                "bench CPO",
                Role.CPO,
                CPO,
                cpo_url,
                tokens.hub_to_cpo,
                tokens.cpo_to_hub,
                {(ModuleID.LOCATIONS.value, InterfaceRole.SENDER): cpo_url + CPO_LOCATIONS},
            ),
            (
                "bench eMSP",
                Role.EMSP,
                EMSP,
                emsp_url,
                tokens.hub_to_emsp,
                tokens.emsp_to_hub,
                {(ModuleID.LOCATIONS.value, InterfaceRole.RECEIVER): emsp_url + EMSP_LOCATIONS},
            ),
        ):
            database.add_registered_platform(
                name,
                f"{url}/ocpi/versions",
                token_to_member=to_member,
                token_from_member=from_member,
                endpoints=endpoints,
                parties=[(role, ref)],
            )


# --- /proc readings -----------------------------------------------------------------------
CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_ticks() -> tuple[int, int, int]:
    """(busy, steal, total) clock ticks of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    steal = values[7] if len(values) > 7 else 0
    total = sum(values[:8])
    return total - idle - steal, steal, total


def log_line_counter(database_path: Path) -> Callable[[], int]:
    """Counts the lines of the hub's message log, read-only (SQLite WAL lets us read along)."""

    def count() -> int:
        with contextlib.closing(
            sqlite3.connect(f"file:{database_path}?mode=ro", uri=True, timeout=5)
        ) as db:
            (lines,) = db.execute(f"SELECT count(*) FROM {MESSAGE_TABLE}").fetchone()
        return int(lines)

    return count


# --- the load generator ---------------------------------------------------------------------
ROUTING = RoutingHeaders(to=CPO, from_=EMSP).to_headers()
PUSH_ROUTING = RoutingHeaders(to=EMSP, from_=CPO).to_headers()


@dataclass(frozen=True)
class Target:
    """One way to GET a Location as the eMSP (straight to the CPO, or through the hub), or,
    with `push`, to PUT one as the CPO (straight to the eMSP, or through the hub)."""

    name: str
    base: str
    authorization: str
    push: bool = False

    def url(self, i: int) -> str:
        number = i % N_LOCATIONS + 1
        if self.push:
            return f"{self.base}/{CPO.country_code}/{CPO.party_id}/LOC{number}"
        return f"{self.base}/LOC{number}"

    def headers(self) -> dict[str, str]:
        request_id = str(uuid.uuid4())
        return {
            AUTHORIZATION: self.authorization,
            X_REQUEST_ID: request_id,
            X_CORRELATION_ID: request_id,
            **(PUSH_ROUTING if self.push else ROUTING),
            **({"Content-Type": "application/json"} if self.push else {}),
        }


def push_bodies() -> dict[str, bytes]:
    """The Locations the CPO pushes, by id (plain objects, no envelope)."""
    return {
        f"LOC{number}": json.dumps(location(number), separators=(",", ":")).encode()
        for number in range(1, N_LOCATIONS + 1)
    }


_PUSH_BODIES: dict[str, bytes] = {}


def _expected(i: int, bodies: Mapping[str, bytes]) -> bytes:
    return bodies[f"LOC{i % N_LOCATIONS + 1}"]


def _session(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, ttl_dns_cache=None),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def _request(
    session: aiohttp.ClientSession, target: Target, i: int, bodies: Mapping[str, bytes]
) -> tuple[float, bool]:
    """One GET (or PUT): (seconds from send to the whole answer, whether it was the expected
    answer: the Location's bytes for a GET, status 1000 for a push)."""
    if target.push and not _PUSH_BODIES:
        _PUSH_BODIES.update(push_bodies())
    started = time.perf_counter()
    try:
        if target.push:
            data = _PUSH_BODIES[f"LOC{i % N_LOCATIONS + 1}"]
            async with session.put(target.url(i), data=data, headers=target.headers()) as answer:
                body = await answer.read()
                ok = answer.status == 200 and b'"status_code":1000' in body
        else:
            async with session.get(target.url(i), headers=target.headers()) as response:
                body = await response.read()
                ok = response.status == 200 and body == _expected(i, bodies)
    except (aiohttp.ClientError, TimeoutError):
        ok = False
    return time.perf_counter() - started, ok


async def _prime(
    session: aiohttp.ClientSession, target: Target, connections: int, bodies: Mapping[str, bytes]
) -> None:
    """Open the session's connections before a timed run."""
    await asyncio.gather(*(_request(session, target, i, bodies) for i in range(connections)))


async def verify(direct: Target, routed: Target, bodies: Mapping[str, bytes]) -> None:
    """Both paths answer HTTP 200, status 1000 and the same Location; the hub relays routing."""
    async with _session(1) as session:
        for i in (0, 1, N_LOCATIONS - 1):
            data: dict[str, Any] = {}
            for target in (direct, routed):
                async with session.get(target.url(i), headers=target.headers()) as response:
                    raw = await response.read()
                    status, headers = response.status, response.headers
                try:
                    envelope = json.loads(raw)
                except ValueError:
                    envelope = {}
                if status != 200 or envelope.get("status_code") != 1000:
                    raise BenchError(
                        f"{target.name} GET {target.url(i)} answered HTTP {status}, "
                        f"status {envelope.get('status_code')}: "
                        f"{envelope.get('status_message') or raw[:200]!r}"
                    )
                if raw != _expected(i, bodies):
                    raise BenchError(f"{target.name} GET {target.url(i)} answered other bytes")
                if target is routed:
                    relayed = RoutingHeaders.parse(headers)
                    if relayed != RoutingHeaders(to=EMSP, from_=CPO):
                        raise BenchError(f"the hub relayed routing headers {relayed}")
                data[target.name] = envelope.get("data")
            if data[direct.name] != data[routed.name]:
                raise BenchError(f"direct and routed answers differ for {direct.url(i)}")


async def verify_push(direct: Target, routed: Target) -> None:
    """Both push paths answer HTTP 200 and status 1000 (the hub's checks pass the Location)."""
    async with _session(1) as session:
        for target in (direct, routed):
            _, ok = await _request(session, target, 0, {})
            if not ok:
                async with session.put(
                    target.url(0), data=push_bodies()["LOC1"], headers=target.headers()
                ) as response:
                    raw = await response.read()
                raise BenchError(
                    f"{target.name} PUT {target.url(0)} answered HTTP {response.status}: "
                    f"{raw[:300]!r}"
                )


def push_check_us(repeat: int = 2000) -> float:
    """In-process cost of the hub's push checks (hub/pushes.py) on the bench Location, in us."""
    from hub.pushes import check_push
    from hub.routing import Message

    body = location(1)
    message = Message(
        ModuleID.LOCATIONS,
        InterfaceRole.RECEIVER,
        "PUT",
        (CPO.country_code, CPO.party_id, "LOC1"),
        {},
        EMSP,
        CPO,
        body,
    )
    check_push(message, CPO)
    started = time.perf_counter()
    for _ in range(repeat):
        check_push(message, CPO)
    return (time.perf_counter() - started) / repeat * 1e6


Run = TypeVar("Run", "PacedRun", "ClosedRun")


@dataclass
class PacedRun:
    path: str
    rep: int
    rate: float
    connections: int
    requests: int
    errors: int
    late: int
    max_late_ms: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    seconds: float


@dataclass
class ClosedRun:
    path: str
    rep: int
    connections: int
    requests: int
    errors: int
    seconds: float
    req_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_s: dict[str, float]
    """CPU seconds during the run: hub, cpo, emsp, load generator."""
    catch_up_s: float
    """How long the servers kept working after the last answer (the hub's message-log backlog)."""
    log_lines: int | None
    """Message-log lines the hub wrote for this run (routed runs; None for direct ones)."""
    log_pending: int | None
    """Of those, how many were not yet in the database when the last answer arrived."""
    cpu_settled_s: dict[str, float]
    """CPU seconds from the start of the run until the servers were idle again."""
    machine_busy: float
    machine_steal: float
    machine_others: float
    """Share of the machine busy outside the bench's processes (other work, kernel threads)."""

    def cpu_us_per_request(self, process: str, *, settled: bool = True) -> float:
        """CPU per answered request; `settled` includes the work done after the run."""
        cpu = (self.cpu_settled_s if settled else self.cpu_s)[process]
        return cpu / self.requests * 1e6 if self.requests else math.nan


SETTLE_WINDOW_S = 0.2
SETTLE_IDLE_CPU_S = 0.02
"""A server that used at most this much CPU in one window (10 % of a core) is idle."""


async def settle(pids: Mapping[str, int], within: float = 30.0) -> float:
    """Wait until every server is idle; the seconds they were still busy (0 if at once)."""
    start = time.perf_counter()
    last = {name: process_cpu(pid) for name, pid in pids.items()}
    while True:
        await asyncio.sleep(SETTLE_WINDOW_S)
        now = {name: process_cpu(pid) for name, pid in pids.items()}
        busy = time.perf_counter() - start - SETTLE_WINDOW_S
        if all(now[name] - last[name] <= SETTLE_IDLE_CPU_S for name in now) or busy > within:
            return max(0.0, busy)
        last = now


async def paced_run(
    target: Target,
    rep: int,
    rate: float,
    duration: float,
    connections: int,
    bodies: Mapping[str, bytes],
) -> PacedRun:
    """Requests on a fixed timetable at `rate`, over at most `connections` connections."""
    count = max(1, round(rate * duration))
    slots = timetable(rate, count)
    latencies = [0.0] * count
    oks = [False] * count
    lateness = [0.0] * count
    async with _session(connections) as session:
        await _prime(session, target, connections, bodies)

        async def one(i: int) -> None:
            latencies[i], oks[i] = await _request(session, target, i, bodies)

        tasks = []
        start = time.perf_counter() + 0.005
        for i, offset in enumerate(slots):
            slot = start + offset
            delay = slot - time.perf_counter() - TIMER_SLACK_S
            if delay > 0:
                await asyncio.sleep(delay)
            lateness[i] = time.perf_counter() - slot
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    good = [latency for latency, ok in zip(latencies, oks, strict=True) if ok] or [math.nan]
    return PacedRun(
        path=target.name,
        rep=rep,
        rate=rate,
        connections=connections,
        requests=count,
        errors=count - sum(oks),
        late=late_count(lateness),
        max_late_ms=max(lateness) * 1000,
        p50_ms=percentile(good, 50) * 1000,
        p99_ms=percentile(good, 99) * 1000,
        p999_ms=percentile(good, 99.9) * 1000,
        max_ms=max(good) * 1000,
        seconds=elapsed,
    )


async def closed_run(
    target: Target,
    rep: int,
    duration: float,
    connections: int,
    bodies: Mapping[str, bytes],
    pids: Mapping[str, int],
    servers: Mapping[str, int],
    log_lines: Callable[[], int] | None = None,
) -> ClosedRun:
    """`connections` workers, each sending its next request as soon as the last is answered.

    CPU is read from `pids` at the start, at the end, and once the `servers` are idle again.
    """
    latencies: list[float] = []
    errors = 0
    async with _session(connections) as session:
        await _prime(session, target, connections, bodies)

        async def worker(first: int) -> None:
            nonlocal errors
            i = first
            while time.perf_counter() < end:
                latency, ok = await _request(session, target, i, bodies)
                latencies.append(latency)
                errors += not ok
                i += connections

        lines_before = log_lines() if log_lines else 0
        cpu_before = {name: process_cpu(pid) for name, pid in pids.items()}
        busy_before, steal_before, total_before = machine_ticks()
        start = time.perf_counter()
        end = start + duration
        await asyncio.gather(*(worker(k) for k in range(connections)))
        elapsed = time.perf_counter() - start
        busy_after, steal_after, total_after = machine_ticks()
        cpu = {name: process_cpu(pid) - cpu_before[name] for name, pid in pids.items()}
        lines_at_end = log_lines() if log_lines else 0
        catch_up = await settle(servers)
        settled = {name: process_cpu(pid) - cpu_before[name] for name, pid in pids.items()}
        lines_after = log_lines() if log_lines else 0
    total = max(1, total_after - total_before)
    ours = sum(cpu.values()) * CLK_TCK
    return ClosedRun(
        path=target.name,
        rep=rep,
        connections=connections,
        requests=len(latencies),
        errors=errors,
        seconds=elapsed,
        req_per_s=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 50) * 1000 if latencies else math.nan,
        p99_ms=percentile(latencies, 99) * 1000 if latencies else math.nan,
        cpu_s=cpu,
        catch_up_s=catch_up,
        log_lines=lines_after - lines_before if log_lines else None,
        log_pending=lines_after - lines_at_end if log_lines else None,
        cpu_settled_s=settled,
        machine_busy=(busy_after - busy_before) / total,
        machine_steal=(steal_after - steal_before) / total,
        machine_others=max(0.0, busy_after - busy_before - ours) / total,
    )


# --- the whole bench ------------------------------------------------------------------------
def _paired(runs: Sequence[Run], direct_path: str, routed_path: str) -> list[tuple[Run, Run]]:
    """The (direct, routed) runs of one repetition: differences are taken within a pair."""
    return [
        (direct, routed)
        for direct in runs
        for routed in runs
        if direct.path == direct_path and routed.path == routed_path and direct.rep == routed.rep
    ]


OWN_CPU = {"direct": "cpo", "routed": "hub", "direct-push": "emsp", "routed-push": "hub"}
"""Whose CPU each path's requests are charged to: the process that answers them."""
PAIRS = (("direct", "routed", "added"), ("direct-push", "routed-push", "added_push"))


@dataclass(frozen=True)
class BenchOptions:
    duration: float = 4.0
    """Seconds of each measured run (a latency and a throughput run per path and repetition)."""
    rate: float = 200.0
    """Requests per second of the paced latency runs."""
    connections: int = 16
    """Connections of the closed-loop throughput runs."""
    reps: int = 3
    paced_connections: int = 4
    """Connections the paced runs may use (a few; at 200 req/s about one is busy)."""
    warmup: float = 1.0
    """Seconds of closed-loop traffic per path before measuring (not reported)."""
    push: bool = True
    """Also measure the push path (a Location PUT, direct vs routed through the hub's checks)."""


@dataclass
class BenchReport:
    options: BenchOptions
    environment: dict[str, Any]
    processes: dict[str, int]
    payload_bytes: int
    paced: list[PacedRun] = field(default_factory=list)
    closed: list[ClosedRun] = field(default_factory=list)
    push_check_us: float | None = None
    """In-process cost of the hub's push checks on the pushed Location (hub/pushes.py)."""

    def summary(self) -> dict[str, Any]:
        """Medians over the repetitions; differences and ratios paired within a repetition."""
        out: dict[str, Any] = {}
        measured = {run.path for run in self.paced} | {run.path for run in self.closed}
        for path, own in OWN_CPU.items():
            if path not in measured:
                continue
            paced = [run for run in self.paced if run.path == path]
            closed = [run for run in self.closed if run.path == path]
            out[path] = {
                "p50_ms": _median([run.p50_ms for run in paced]),
                "p99_ms": _median([run.p99_ms for run in paced]),
                "p999_ms": _median([run.p999_ms for run in paced]),
                "late": sum(run.late for run in paced),
                "paced_requests": sum(run.requests for run in paced),
                "req_per_s": _median([run.req_per_s for run in closed]),
                "saturated_p50_ms": _median([run.p50_ms for run in closed]),
                "saturated_p99_ms": _median([run.p99_ms for run in closed]),
                "errors": sum(run.errors for run in paced) + sum(run.errors for run in closed),
                "cpu_process": own,
                "cpu_us_per_request": _median([run.cpu_us_per_request(own) for run in closed]),
                "cpu_us_per_request_during_run": _median(
                    [run.cpu_us_per_request(own, settled=False) for run in closed]
                ),
                "catch_up_s": _median([run.catch_up_s for run in closed]),
                "log_pending_share": _median(
                    [
                        run.log_pending / run.log_lines
                        for run in closed
                        if run.log_pending is not None and run.log_lines
                    ]
                ),
                "loadgen_cpu_us_per_request": _median(
                    [run.cpu_us_per_request("loadgen", settled=False) for run in closed]
                ),
                "machine_busy": _median([run.machine_busy for run in closed]),
                "machine_steal": max((run.machine_steal for run in closed), default=math.nan),
                "machine_others": max((run.machine_others for run in closed), default=math.nan),
            }
        for direct_path, routed_path, key in PAIRS:
            if direct_path not in out or routed_path not in out:
                continue
            pairs = _paired(self.paced, direct_path, routed_path)
            throughput = _paired(self.closed, direct_path, routed_path)
            hub_us = out[routed_path]["cpu_us_per_request"]
            out[key] = {
                "p50_ms": _median([r.p50_ms - d.p50_ms for d, r in pairs]),
                "p99_ms": _median([r.p99_ms - d.p99_ms for d, r in pairs]),
                "throughput_ratio": _median([r.req_per_s / d.req_per_s for d, r in throughput]),
                "hub_cpu_us_per_request": hub_us,
                "hub_one_core_req_per_s": 1e6 / hub_us if hub_us > 0 else math.nan,
            }
        if self.push_check_us is not None:
            out.setdefault("added_push", {})["push_check_us"] = self.push_check_us
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "options": asdict(self.options),
            "environment": self.environment,
            "processes": self.processes,
            "payload_bytes": self.payload_bytes,
            "targets": TARGETS,
            "summary": self.summary(),
            "paced_runs": [asdict(run) for run in self.paced],
            "closed_runs": [asdict(run) for run in self.closed],
        }


def _environment() -> dict[str, Any]:
    from importlib.metadata import version

    packages = ("uvicorn", "fastapi", "starlette", "aiohttp", "uvloop", "httptools", "sqlalchemy")
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "packages": {name: version(name) for name in packages},
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


async def _measure(
    report: BenchReport,
    pairs: Sequence[tuple[Target, Target]],
    bodies: Mapping[str, bytes],
    log_lines: Callable[[], int],
    progress: Callable[[str], None],
) -> None:
    options = report.options
    servers = report.processes
    pids = {**servers, "loadgen": os.getpid()}
    for direct, routed in pairs:
        if direct.push:
            await verify_push(direct, routed)
            progress("both push paths answer HTTP 200, status 1000")
        else:
            await verify(direct, routed, bodies)
            progress("both paths answer HTTP 200, status 1000, the same Location; warming up")
    for target in [target for pair in pairs for target in pair]:
        warmup = min(options.warmup, options.duration)
        await closed_run(target, -1, warmup, options.connections, bodies, pids, servers)
    for rep in range(options.reps):
        for direct, routed in pairs:
            await _measure_pair(report, rep, direct, routed, bodies, log_lines, progress)


async def _measure_pair(
    report: BenchReport,
    rep: int,
    direct: Target,
    routed: Target,
    bodies: Mapping[str, bytes],
    log_lines: Callable[[], int],
    progress: Callable[[str], None],
) -> None:
    options = report.options
    servers = report.processes
    pids = {**servers, "loadgen": os.getpid()}
    lines = {direct.name: None, routed.name: log_lines}
    order = (direct, routed) if rep % 2 == 0 else (routed, direct)
    for target in order:
        # Every run starts with idle servers: no backlog of an earlier run is measured.
        await settle(servers)
        run = await paced_run(
            target, rep, options.rate, options.duration, options.paced_connections, bodies
        )
        report.paced.append(run)
        progress(
            f"rep {rep + 1}/{options.reps} {target.name:11} paced {options.rate:g} req/s: "
            f"p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, late {run.late}, "
            f"errors {run.errors}"
        )
    for target in order:
        await settle(servers)
        closed = await closed_run(
            target,
            rep,
            options.duration,
            options.connections,
            bodies,
            pids,
            servers,
            lines[target.name],
        )
        report.closed.append(closed)
        own = OWN_CPU[target.name]
        backlog = (
            f", {closed.log_pending:,} of {closed.log_lines:,} log lines unwritten at the end"
            if closed.log_lines is not None
            else ""
        )
        progress(
            f"rep {rep + 1}/{options.reps} {target.name:11} closed loop c{options.connections}: "
            f"{closed.req_per_s:,.0f} req/s, {own} CPU "
            f"{closed.cpu_us_per_request(own):,.0f} us/req (busy {closed.catch_up_s:.1f} s "
            f"after the run{backlog}), errors {closed.errors}"
        )


def run_bench(
    options: BenchOptions, progress: Callable[[str], None] = lambda _: None
) -> BenchReport:
    """Start the members and the hub, measure, stop everything (also on errors and Ctrl-C)."""
    if options.duration <= 0 or options.rate <= 0 or options.connections < 1 or options.reps < 1:
        raise BenchError("duration and rate must be positive, connections and reps at least 1")
    workdir = Path(tempfile.mkdtemp(prefix="roam-bench-"))
    children: list[Child] = []
    try:
        tokens = Tokens.generate()
        progress("starting the CPO and eMSP members and the hub on 127.0.0.1")
        cpo_tokens = [tokens.hub_to_cpo, tokens.emsp_to_cpo]
        cpo = _start_child("cpo", member_args(Role.CPO, cpo_tokens), workdir)
        children.append(cpo)
        emsp_tokens = [tokens.hub_to_emsp, tokens.cpo_to_emsp]
        emsp = _start_child("emsp", member_args(Role.EMSP, emsp_tokens), workdir)
        children.append(emsp)
        bodies = location_bodies()
        _wait_ready(cpo)
        _wait_ready(emsp)
        database_url = f"sqlite:///{workdir / 'hub.db'}"
        seed_hub(database_url, cpo.url, emsp.url, tokens)
        hub = _start_child("hub", hub_args(database_url, secrets.token_urlsafe(24)), workdir)
        children.append(hub)
        _wait_ready(hub)
        report = BenchReport(
            options=options,
            environment=_environment(),
            processes={child.name: child.pid for child in children},
            payload_bytes=len(bodies["LOC1"]),
        )
        direct = Target("direct", cpo.url + CPO_LOCATIONS, encode_authorization(tokens.emsp_to_cpo))
        routed = Target("routed", hub.url + HUB_LOCATIONS, encode_authorization(tokens.emsp_to_hub))
        pairs = [(direct, routed)]
        if options.push:
            cpo_auth = encode_authorization(tokens.cpo_to_emsp)
            hub_auth = encode_authorization(tokens.cpo_to_hub)
            pairs.append(
                (
                    Target("direct-push", emsp.url + EMSP_LOCATIONS, cpo_auth, push=True),
                    Target("routed-push", hub.url + HUB_RECEIVER_LOCATIONS, hub_auth, push=True),
                )
            )
            report.push_check_us = push_check_us()
        # The measuring instrument must not pause: this process imported the whole hub, and a
        # full collection over those objects took tens of ms. Frozen objects are never scanned.
        gc.collect()
        gc.freeze()
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                log_lines = log_line_counter(workdir / "hub.db")
                runner.run(_measure(report, pairs, bodies, log_lines, progress))
        finally:
            gc.unfreeze()
        for child in children:
            if child.process.poll() is not None:
                raise BenchError(f"the {child.name} stopped during the bench:\n{child.log_tail()}")
        return report
    finally:
        _stop_children(children)
        shutil.rmtree(workdir, ignore_errors=True)


# --- the report ---------------------------------------------------------------------------
def _push_lines(report: BenchReport, summary: Mapping[str, Any]) -> list[str]:
    """The push rows: a Location PUT direct to the eMSP and through the hub's push checks."""
    if "direct-push" not in summary or "routed-push" not in summary:
        return []
    added = summary["added_push"]
    lines = [
        "",
        f"Push: PUT Location ({len(push_bodies()['LOC1']):,} bytes) as the CPO {CPO}; "
        f"direct: {EMSP_LOCATIONS}/{{cc}}/{{pid}}/{{id}} at the eMSP;",
        f"  routed: {HUB_RECEIVER_LOCATIONS}/{{cc}}/{{pid}}/{{id}} at the hub, OCPI-to {EMSP}, "
        "checked (a valid Location, the sender's own) before it is forwarded.",
    ]
    for name in ("direct-push", "routed-push"):
        row = summary[name]
        late = f"{row['late']}/{row['paced_requests']}"
        cpu = f"{row['cpu_process']} {row['cpu_us_per_request']:,.0f}"
        lines.append(
            f"{name:11} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} {row['p999_ms']:9.2f} "
            f"{late:>10} {row['req_per_s']:8,.0f} {row['saturated_p50_ms']:11.2f} "
            f"{cpu:>15} {row['errors']:7d}"
        )
    lines.append(
        f"{'added':11} {added['p50_ms']:+8.2f} {added['p99_ms']:+8.2f} {'':9} {'':10} "
        f"{'x' + format(added['throughput_ratio'], '.2f'):>8}"
    )
    check = added.get("push_check_us")
    lines.append(
        f"Hub CPU per routed push: {added['hub_cpu_us_per_request']:,.0f} us"
        + (
            f"; of it the push checks (parse into the Location model, owner and id) take "
            f"{check:,.0f} us (in-process, this Location)."
            if check is not None
            else "."
        )
    )
    return lines


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def format_report(report: BenchReport) -> str:
    """The table and one verdict line per target (information: never an exit status)."""
    options, summary = report.options, report.summary()
    direct, routed, added = summary["direct"], summary["routed"], summary["added"]
    env = report.environment
    others = max(direct["machine_others"], routed["machine_others"])
    steal = max(direct["machine_steal"], routed["machine_steal"])
    lines = [
        f"roam hub bench: hub and two members on 127.0.0.1 "
        f"(Python {env['python']}, {env['cpus']} CPUs shared by all processes)",
        "Both members were written into the hub's database before it started: this measures "
        "forwarding, not onboarding.",
        f"Request: GET Location ({report.payload_bytes:,}-byte envelope) as the eMSP {EMSP}; "
        f"direct: {CPO_LOCATIONS}/{{id}} at the CPO;",
        f"  routed: {HUB_LOCATIONS}/{{id}} at the hub, OCPI-to {CPO} (the hub logs every "
        "message to SQLite, as in production).",
        f"Latency: paced {options.rate:g} req/s over {options.paced_connections} connections; "
        f"throughput: closed loop, {options.connections} connections; "
        f"{options.duration:g} s per run,",
        f"  {options.reps} repetition(s), direct and routed alternating; medians over the "
        "repetitions, differences paired within one.",
        "",
        f"{'path':8} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'late':>10} "
        f"{'req/s':>8} {'c' + str(options.connections) + ' p50 ms':>11} "
        f"{'CPU us/req':>15} {'errors':>7}",
    ]
    for name, row in (("direct", direct), ("routed", routed)):
        late = f"{row['late']}/{row['paced_requests']}"
        cpu = f"{row['cpu_process']} {row['cpu_us_per_request']:,.0f}"
        lines.append(
            f"{name:8} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} {row['p999_ms']:9.2f} "
            f"{late:>10} {row['req_per_s']:8,.0f} {row['saturated_p50_ms']:11.2f} "
            f"{cpu:>15} {row['errors']:7d}"
        )
    lines.append(
        f"{'added':8} {added['p50_ms']:+8.2f} {added['p99_ms']:+8.2f} {'':9} {'':10} "
        f"{'x' + format(added['throughput_ratio'], '.2f'):>8}"
    )
    lines += [
        "",
        f"Hub CPU per routed request: {added['hub_cpu_us_per_request']:,.0f} us, so about "
        f"{added['hub_one_core_req_per_s']:,.0f} req/s with a core of its own "
        "(the members and the load generator elsewhere).",
        f"  It counts the work the hub did after each throughput run until it was idle "
        f"(median {routed['catch_up_s']:.1f} s); during the runs alone: "
        f"{routed['cpu_us_per_request_during_run']:,.0f} us.",
        f"  Message log: {routed['log_pending_share']:.0%} of a throughput run's log lines "
        "were still unwritten when its last answer arrived (median).",
        f"Machine during the throughput runs: busy {routed['machine_busy']:.0%} (routed); "
        f"outside the bench's processes at most {others:.0%}, steal at most {steal:.1%}.",
        f"Load generator: {routed['loadgen_cpu_us_per_request']:,.0f} us CPU per routed request.",
        "",
        "Targets (information, not pass/fail):",
        f"  added p50 {added['p50_ms']:.2f} ms (target <= {TARGETS['p50_ms']:g} ms): "
        + _verdict(added["p50_ms"] <= TARGETS["p50_ms"]),
        f"  added p99 {added['p99_ms']:.2f} ms (target <= {TARGETS['p99_ms']:g} ms): "
        + _verdict(added["p99_ms"] <= TARGETS["p99_ms"]),
        f"  routed throughput {routed['req_per_s']:,.0f} req/s on this shared machine "
        f"(target >= {TARGETS['req_per_s']:,.0f} req/s): "
        + _verdict(routed["req_per_s"] >= TARGETS["req_per_s"]),
    ]
    late = direct["late"] + routed["late"]
    paced = direct["paced_requests"] + routed["paced_requests"]
    if late > paced // 100:
        lines.append(
            f"  note: {late} of {paced} paced sends left more than {LATE_S * 1000:g} ms late; "
            "the load generator was short of CPU, so the percentiles may be optimistic."
        )
    if others > 0.1 or steal > 0.05:
        lines.append(
            "  note: other work took CPU from this machine during the bench: compare within "
            "this run only, or rerun when the machine is quiet."
        )
    lines += _push_lines(report, summary)
    errors = direct["errors"] + routed["errors"]
    errors += sum(
        summary[path]["errors"] for path in ("direct-push", "routed-push") if path in summary
    )
    if errors:
        lines.append(f"  note: {errors} requests failed or answered unexpected bytes.")
    return "\n".join(lines)
