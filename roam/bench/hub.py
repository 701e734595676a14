"""`roam hub bench`: what the hub adds to a request, measured on loopback.

Three server processes and a load generator, all on 127.0.0.1:

* a CPO member answering `GET {base}/ocpi/cpo/2.2.1/locations/{id}` (Sender interface) with a
  pre-serialised ~2 KB Location envelope, after checking the Authorization token;
* an eMSP member (registered at the hub), which takes Location PUTs and counts them by sender
  (`GET /bench/received`), so the bench knows when the hub delivered every broadcast;
* the hub (`create_app`) on a fresh database into which both members were written before it
  started, so the bench measures forwarding, not onboarding: a SQLite file (the default), or a
  PostgreSQL database the bench creates on the server `--database-url` names and drops at the
  end.

The load generator (this process, aiohttp over uvloop) sends the GET an eMSP sends, either
straight to the CPO ("direct") or to the hub's `/ocpi/2.2.1/sender/locations/{id}` with
OCPI-to = the CPO ("routed").

The same is done for a push: the CPO's PUT of a whole Location, straight to the eMSP
("direct-push") or to the hub's `/ocpi/2.2.1/receiver/locations/{cc}/{pid}/{id}` with OCPI-to =
the eMSP ("routed-push"), which the hub checks (valid Location, the sender's own) before it
forwards it (hub/pushes.py), and commits nothing before it answers. And as a broadcast
("broadcast"): the same PUT with OCPI-to = the hub, which the hub checks, stores (its copy and
one outbox row per receiver, committed before it answers) and then delivers to the eMSP from
its outbox. For every kind it measures

1. latency at a paced rate (requests on a fixed timetable; sends that miss their slot by more
   than 1 ms are counted as late): p50 and p99 per path, and their differences (broadcast
   minus routed-push is the cost of durable acceptance);
2. throughput in a closed loop of C connections: req/s per path, and the CPU time the hub
   process spent per routed request (utime + stime from /proc), counted until the hub is idle
   again after the run, and how far its batched message log was behind when the run ended;
   for broadcasts also how long until the eMSP had received every accepted one (deliveries/s).

With `instances` > 1 (PostgreSQL only) further hub processes are started on the same database
after each repetition's one-instance runs, the routed GET and the broadcast are measured again
with the load alternating between the instances, and the further processes are stopped.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import aiohttp
import uvloop
from fastapi import FastAPI
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
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
from ocpi.persistence import normalise_url
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
HUB = PartyRef(HubSettings().country_code, HubSettings().party_id)
N_LOCATIONS = 100  # LOC1 … LOC100, requested in turn
TIMESTAMP = "2026-11-20T09:30:00Z"
CPO_LOCATIONS = "/ocpi/cpo/2.2.1/locations"
EMSP_LOCATIONS = "/ocpi/emsp/2.2.1/locations"
HUB_LOCATIONS = "/ocpi/2.2.1/sender/locations"
HUB_RECEIVER_LOCATIONS = "/ocpi/2.2.1/receiver/locations"
RECEIVED = "/bench/received"
"""The eMSP member's count of the Location PUTs it took, by sender ("CC/PID": n)."""
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
    """A bench member: the CPO serves Locations (Sender), the eMSP accepts them (Receiver)
    and counts them by sender (`RECEIVED`).

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

    received: dict[str, int] = {}

    async def put_location(request: Request) -> Response:
        authorize(request)
        await request.body()
        sender = (
            f"{request.headers.get(OCPI_FROM_COUNTRY_CODE)}/"
            f"{request.headers.get(OCPI_FROM_PARTY_ID)}"
        )
        received[sender] = received.get(sender, 0) + 1
        return Response(encode_envelope(), media_type="application/json")

    async def get_received(_: Request) -> Response:
        # Loopback only, no token: the bench's own instrument, not an OCPI interface.
        return Response(json.dumps(received), media_type="application/json")

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
        app.router.routes.append(Route(RECEIVED, get_received, methods=["GET"]))
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
BROADCAST_ROUTING = RoutingHeaders(to=HUB, from_=CPO).to_headers()


@dataclass
class Tally:
    """Broadcasts the hub accepted (answered 1000) during the whole bench."""

    accepted: int = 0


@dataclass(frozen=True)
class Target:
    """One way to GET a Location as the eMSP (straight to the CPO, or through the hub), or,
    with `push`, to PUT one as the CPO (straight to the eMSP, or through the hub); with
    `broadcast` too, to PUT it to the hub itself (OCPI-to = the hub) for every receiver."""

    name: str
    base: str
    authorization: str
    push: bool = False
    broadcast: bool = False
    more: tuple[str, ...] = ()
    """The same base at further hub instances: request i goes to the (i mod n)th, so a
    closed-loop connection keeps to one instance and the connections alternate."""
    tally: Tally | None = field(default=None, compare=False)
    """Counts the broadcasts accepted through this target."""

    def url(self, i: int) -> str:
        number = i % N_LOCATIONS + 1
        base = self.base if not self.more else (self.base, *self.more)[i % (len(self.more) + 1)]
        if self.push:
            return f"{base}/{CPO.country_code}/{CPO.party_id}/LOC{number}"
        return f"{base}/LOC{number}"

    def headers(self) -> dict[str, str]:
        request_id = str(uuid.uuid4())
        routing = BROADCAST_ROUTING if self.broadcast else PUSH_ROUTING if self.push else ROUTING
        return {
            AUTHORIZATION: self.authorization,
            X_REQUEST_ID: request_id,
            X_CORRELATION_ID: request_id,
            **routing,
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
    answer: the Location's bytes for a GET, status 1000 for a push, HTTP 200 or 201 (a new
    object) and status 1000 for a broadcast)."""
    if target.push and not _PUSH_BODIES:
        _PUSH_BODIES.update(push_bodies())
    started = time.perf_counter()
    try:
        if target.push:
            data = _PUSH_BODIES[f"LOC{i % N_LOCATIONS + 1}"]
            async with session.put(target.url(i), data=data, headers=target.headers()) as answer:
                body = await answer.read()
                accepted = answer.status == 200 or (target.broadcast and answer.status == 201)
                ok = accepted and b'"status_code":1000' in body
            if ok and target.tally is not None:
                target.tally.accepted += 1
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


DELIVERY_POLL_S = 0.02
"""How often the bench asks the eMSP how many broadcasts it has received."""
DELIVERY_STALL_S = 30.0
"""No new delivery for this long while some are missing: the bench stops waiting for them."""


@dataclass
class Deliveries:
    """What the eMSP received from the hub (its PUT counter) against what the hub accepted."""

    url: str
    """The eMSP member's counter (RECEIVED)."""
    tally: Tally

    async def received(self, session: aiohttp.ClientSession) -> int:
        async with session.get(self.url) as answer:
            counts = json.loads(await answer.read())
        return int(counts.get(str(HUB), 0))

    async def wait(
        self, session: aiohttp.ClientSession, stall: float = DELIVERY_STALL_S
    ) -> tuple[float, int]:
        """Until the eMSP has received every broadcast accepted so far: (the perf_counter
        time it had them, how many are still missing: 0 unless deliveries stopped for
        `stall` seconds)."""
        last, changed = -1, time.perf_counter()
        while True:
            count = await self.received(session)
            now = time.perf_counter()
            missing = self.tally.accepted - count
            if missing <= 0:
                return now, 0
            if count != last:
                last, changed = count, now
            elif now - changed > stall:
                return now, missing
            await asyncio.sleep(DELIVERY_POLL_S)

    async def all_delivered(self) -> int:
        """Wait for every accepted broadcast to reach the eMSP; how many did not."""
        async with _session(1) as session:
            _, missing = await self.wait(session)
        return missing


async def verify_broadcast(target: Target, deliveries: Deliveries) -> None:
    """The hub accepts a broadcast (HTTP 200 or 201, status 1000) and delivers it."""
    async with _session(1) as session:
        for i in range(len(target.more) + 1):  # once at each hub instance
            _, ok = await _request(session, target, i, {})
            if not ok:
                async with session.put(
                    target.url(i), data=push_bodies()["LOC1"], headers=target.headers()
                ) as response:
                    raw = await response.read()
                raise BenchError(
                    f"{target.name} PUT {target.url(i)} answered HTTP {response.status}: "
                    f"{raw[:300]!r}"
                )
            _, missing = await deliveries.wait(session, stall=15)
            if missing:
                raise BenchError(
                    f"the hub accepted a broadcast but the eMSP did not receive it within 15 s "
                    f"({target.name}, {target.url(i)})"
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
    """Share of the machine busy outside the bench's processes (other work, kernel threads,
    and the PostgreSQL server when the hub uses one)."""
    accepted: int | None = None
    """Broadcast runs: requests the hub answered with 1000 (the rest are `errors`)."""
    delivered: int | None = None
    """Broadcast runs: PUTs the eMSP received from the hub from the start of the run until it
    had every broadcast accepted so far."""
    delivery_s: float | None = None
    """Broadcast runs: seconds from the start of the run until the eMSP had them all."""
    undelivered: int | None = None
    """Broadcast runs: accepted broadcasts the eMSP had not received when deliveries stopped
    (0: every one arrived)."""

    def cpu_us_per_request(self, process: str, *, settled: bool = True) -> float:
        """CPU per answered request; `settled` includes the work done after the run.
        `process` may be "hubs" (every hub instance) or "others" (outside the bench's
        processes: PostgreSQL, other work)."""
        cpu = (self.cpu_settled_s if settled else self.cpu_s).get(process, math.nan)
        return cpu / self.requests * 1e6 if self.requests else math.nan

    @property
    def accepted_per_s(self) -> float:
        return (self.accepted or 0) / self.seconds if self.seconds else math.nan

    @property
    def deliveries_per_s(self) -> float:
        """Deliveries per second, from the start of the run until the eMSP had them all."""
        if not self.delivered or not self.delivery_s:
            return math.nan
        return self.delivered / self.delivery_s


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


def _with_totals(cpu: dict[str, float], others_s: float) -> dict[str, float]:
    """Add "hubs" (every hub instance, when there are several) and "others" (CPU outside the
    bench's processes)."""
    hubs = [value for name, value in cpu.items() if name.startswith("hub")]
    out = {**cpu, "others": max(0.0, others_s)}
    if len(hubs) > 1:
        out["hubs"] = sum(hubs)
    return out


async def closed_run(
    target: Target,
    rep: int,
    duration: float,
    connections: int,
    bodies: Mapping[str, bytes],
    pids: Mapping[str, int],
    servers: Mapping[str, int],
    log_lines: Callable[[], int] | None = None,
    deliveries: Deliveries | None = None,
    server_cpu: ServerCpu | None = None,
) -> ClosedRun:
    """`connections` workers, each sending its next request as soon as the last is answered.

    CPU is read from `pids` at the start, at the end, and once the `servers` are idle again.
    With `deliveries` (a broadcast run) the bench waits, before the run, until the eMSP has
    every broadcast accepted so far, and after it until the eMSP has the run's too. With
    `server_cpu` the local PostgreSQL server's CPU is counted too ("postgres").
    """
    latencies: list[float] = []
    errors = 0
    delivered_at, undelivered, received_before, received_after = math.nan, 0, 0, 0
    async with _session(connections) as session, _session(1) as probe:
        await _prime(session, target, connections, bodies)
        if deliveries is not None:
            await deliveries.wait(probe)  # the primer's broadcasts are not this run's
            received_before = await deliveries.received(probe)

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
        server_before = server_cpu.snapshot() if server_cpu is not None else {}
        busy_before, steal_before, total_before = machine_ticks()
        start = time.perf_counter()
        end = start + duration
        await asyncio.gather(*(worker(k) for k in range(connections)))
        elapsed = time.perf_counter() - start
        busy_after, steal_after, total_after = machine_ticks()
        cpu = {name: process_cpu(pid) - cpu_before[name] for name, pid in pids.items()}
        if server_cpu is not None:
            cpu["postgres"] = server_cpu.since(server_before)
        lines_at_end = log_lines() if log_lines else 0
        if deliveries is not None:
            delivered_at, undelivered = await deliveries.wait(probe)
            received_after = await deliveries.received(probe)
        catch_up = await settle(servers)
        busy_settled, _, _ = machine_ticks()
        settled = {name: process_cpu(pid) - cpu_before[name] for name, pid in pids.items()}
        if server_cpu is not None:
            settled["postgres"] = server_cpu.since(server_before)
        lines_after = log_lines() if log_lines else 0
    total = max(1, total_after - total_before)
    ours = sum(cpu.values()) * CLK_TCK
    others_s = (busy_after - busy_before) / CLK_TCK - sum(cpu.values())
    others_settled_s = (busy_settled - busy_before) / CLK_TCK - sum(settled.values())
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
        cpu_s=_with_totals(cpu, others_s),
        catch_up_s=catch_up,
        log_lines=lines_after - lines_before if log_lines else None,
        log_pending=lines_after - lines_at_end if log_lines else None,
        cpu_settled_s=_with_totals(settled, others_settled_s),
        machine_busy=(busy_after - busy_before) / total,
        machine_steal=(steal_after - steal_before) / total,
        machine_others=max(0.0, busy_after - busy_before - ours) / total,
        accepted=len(latencies) - errors if deliveries is not None else None,
        delivered=received_after - received_before if deliveries is not None else None,
        delivery_s=delivered_at - start if deliveries is not None else None,
        undelivered=undelivered if deliveries is not None else None,
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


OWN_CPU = {
    "direct": "cpo",
    "routed": "hub",
    "direct-push": "emsp",
    "routed-push": "hub",
    "broadcast": "hub",
}
"""Whose CPU each path's requests are charged to: the process that answers them (a path
through several hub instances, `routed@2`, is charged to all of them: "hubs")."""
PAIRS = (
    ("direct", "routed", "added"),
    ("direct-push", "routed-push", "added_push"),
    ("routed-push", "broadcast", "durable"),
)
"""(baseline, path, key): the summary's paired differences; `durable` is what accepting a
push durably (stored, then delivered) costs against forwarding it unstored."""
MAX_INSTANCES = 4


def own_cpu(path: str) -> str:
    return OWN_CPU.get(path, "hubs")


def via_hub(target: Target) -> bool:
    return not target.name.startswith("direct")


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
    """Connections the paced runs may use (a few; at 200 req/s about one is busy); broadcasts
    may use `connections` (`paced_connections`)."""
    warmup: float = 1.0
    """Seconds of closed-loop traffic per path before measuring (not reported)."""
    push: bool = True
    """Also measure the push path (a Location PUT, direct vs routed through the hub's checks)."""
    broadcast: bool = True
    """With `push`: also the broadcast (the PUT to the hub, stored, answered, then delivered)."""
    database_url: str | None = None
    """A PostgreSQL server, `postgresql://user@host:port/db`: the hub's database is a new one
    the bench creates on that server (the URL's own database is only connected to) and drops
    at the end. None: a fresh SQLite file."""
    instances: int = 1
    """Hub processes on the same database (more than one needs PostgreSQL): measured after
    the one-instance runs, with the load alternating between them."""


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
    database: dict[str, Any] = field(default_factory=lambda: {"kind": "sqlite"})
    """What the hub's database was (kind, server version, commit settings)."""
    broadcasts: dict[str, int] = field(default_factory=dict)
    """At the end: broadcasts the hub "accepted" in the whole bench (warm-ups included), the
    eMSP "received" from the hub, and how many never arrived ("undelivered")."""

    def summary(self) -> dict[str, Any]:
        """Medians over the repetitions; differences and ratios paired within a repetition."""
        out: dict[str, Any] = {}
        measured = {run.path for run in self.paced} | {run.path for run in self.closed}
        paths = [path for path in OWN_CPU if path in measured]
        paths += sorted(measured - set(OWN_CPU))
        for path in paths:
            own = own_cpu(path)
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
                "others_cpu_us_per_request": _median(
                    [run.cpu_us_per_request("others") for run in closed]
                ),
                "postgres_cpu_us_per_request": _median(
                    [run.cpu_us_per_request("postgres") for run in closed]
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
            delivering = [run for run in closed if run.accepted is not None]
            if delivering:
                out[path].update(
                    {
                        "accepted_per_s": _median([run.accepted_per_s for run in delivering]),
                        "deliveries_per_s": _median([run.deliveries_per_s for run in delivering]),
                        "delivery_lag_s": _median(
                            [(run.delivery_s or 0.0) - run.seconds for run in delivering]
                        ),
                        "undelivered": sum(run.undelivered or 0 for run in delivering),
                    }
                )
            if own == "hubs":
                names = sorted({name for run in closed for name in run.cpu_settled_s})
                out[path]["hub_cpu_shares"] = {
                    name: _median(
                        [
                            run.cpu_settled_s[name] / run.cpu_settled_s["hubs"]
                            for run in closed
                            if run.cpu_settled_s.get("hubs")
                        ]
                    )
                    for name in names
                    if name.startswith("hub") and name != "hubs"
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
            "database": self.database,
            "processes": self.processes,
            "payload_bytes": self.payload_bytes,
            "targets": TARGETS,
            "summary": self.summary(),
            "broadcasts": self.broadcasts,
            "paced_runs": [asdict(run) for run in self.paced],
            "closed_runs": [asdict(run) for run in self.closed],
        }


def _environment() -> dict[str, Any]:
    from importlib.metadata import version

    packages = (
        "uvicorn",
        "fastapi",
        "starlette",
        "aiohttp",
        "uvloop",
        "httptools",
        "sqlalchemy",
        "psycopg",
    )
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "packages": {name: version(name) for name in packages},
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average_before": list(os.getloadavg()),
    }


# --- the hub's database ---------------------------------------------------------------------
def _server_url(server_url: str) -> URL:
    try:
        url = make_url(normalise_url(server_url))
    except ArgumentError as exc:
        raise BenchError(f"--database-url {server_url!r} is not a database URL ({exc})") from None
    if url.get_backend_name() != "postgresql":
        raise BenchError(
            f"--database-url must name a PostgreSQL server (postgresql://user@host:port/db), "
            f"not {url.get_backend_name()}: without it the bench uses a fresh SQLite file"
        )
    return url.set(drivername="postgresql")


@contextlib.contextmanager
def fresh_postgres(
    server_url: str, progress: Callable[[str], None] = lambda _: None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A new, empty database on the PostgreSQL server `server_url` names (its database is only
    connected to: nothing is written there), dropped when the block ends: (its URL, facts
    about the server). The user needs the CREATEDB privilege."""
    import psycopg
    from psycopg import sql

    url = _server_url(server_url)
    admin = url.render_as_string(hide_password=False)
    shown = f"{url.host or 'localhost'}:{url.port or 5432}"
    name = f"roam_bench_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as db:
            facts: dict[str, Any] = {"kind": "postgresql", "server": shown, "database": name}
            for setting in ("server_version", "synchronous_commit", "fsync", "max_connections"):
                row = db.execute(sql.SQL("SHOW {}").format(sql.Identifier(setting))).fetchone()
                facts[setting] = row[0] if row else None
            db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise BenchError(f"could not create a database on {shown}: {exc}") from None
    progress(f"created database {name} on {shown} (dropped when the bench ends)")
    try:
        yield url.set(database=name).render_as_string(hide_password=False), facts
    finally:
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=10) as db:
                db.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        except psycopg.Error as exc:
            progress(f"warning: could not drop the bench's database {name} on {shown}: {exc}")


COMMIT_PROBE = "roam_bench_commit_probe"


def commit_ms(database_url: str, workdir: Path, count: int = 50) -> float:
    """Median milliseconds of one commit of a one-row INSERT from this process, on the hub's
    database server (a scratch table, dropped) or on a SQLite file beside the hub's with the
    hub's settings: the least a durable acceptance waits for, as a fact about the machine."""
    times: list[float] = []
    if not database_url.startswith("postgresql"):
        path = workdir / "commit-probe.db"
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as lite:
            lite.execute("PRAGMA journal_mode=WAL")
            lite.execute("PRAGMA synchronous=NORMAL")
            lite.execute(f"CREATE TABLE {COMMIT_PROBE} (x INTEGER)")
            for i in range(count):
                started = time.perf_counter()
                lite.execute("BEGIN")
                lite.execute(f"INSERT INTO {COMMIT_PROBE} VALUES (?)", (i,))
                lite.execute("COMMIT")
                times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000
    import psycopg

    conninfo = _server_url(database_url).render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as db:
        db.execute(f"CREATE TABLE {COMMIT_PROBE} (x integer)")
        try:
            for i in range(count):
                started = time.perf_counter()
                db.execute(f"INSERT INTO {COMMIT_PROBE} VALUES (%s)", (i,))  # its own commit
                times.append(time.perf_counter() - started)
        finally:
            db.execute(f"DROP TABLE {COMMIT_PROBE}")
    return statistics.median(times) * 1000


class ServerCpu:
    """CPU of the PostgreSQL server's processes that serve the bench's database, and of its
    background processes (WAL writer, checkpointer…), read from /proc: for a server on this
    machine. A backend that ends during a run takes its CPU with it (the hub keeps its pool's
    connections, so that is rare)."""

    def __init__(self, connection: Any, database: str) -> None:
        self._connection = connection
        self._database = database

    @classmethod
    def local(cls, database_url: str) -> ServerCpu | None:
        """For the server of `database_url` if it runs on this machine (else None)."""
        import psycopg

        connection = psycopg.connect(
            _server_url(database_url).render_as_string(hide_password=False), autocommit=True
        )
        probe = cls(connection, str(make_url(normalise_url(database_url)).database))
        try:
            pids = probe._pids()
            local = bool(pids) and all(_is_postgres(pid) for pid in pids)
        except BaseException:
            connection.close()
            raise
        if not local:
            connection.close()
            return None
        return probe

    def _pids(self) -> list[int]:
        rows = self._connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE (datname = %s OR datname IS NULL) "
            "AND pid <> pg_backend_pid()",
            (self._database,),
        ).fetchall()
        return [int(row[0]) for row in rows]

    def snapshot(self) -> dict[int, float]:
        out = {}
        for pid in self._pids():
            with contextlib.suppress(OSError, ValueError, IndexError):
                out[pid] = process_cpu(pid)
        return out

    def since(self, before: Mapping[int, float]) -> float:
        """CPU seconds since `before` (a process born since counts whole)."""
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in self.snapshot().items())

    def close(self) -> None:
        self._connection.close()


def _is_postgres(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return "postgres" in stat[stat.index("(") + 1 : stat.rindex(")")]


class LogLines:
    """Counts the lines of the hub's message log from outside, read-only."""

    def __init__(self, database_url: str) -> None:
        self._count: Callable[[], int]
        self._close: Callable[[], None] = lambda: None
        if database_url.startswith("sqlite:///"):
            self._count = log_line_counter(Path(database_url.removeprefix("sqlite:///")))
            return
        import psycopg

        connection = psycopg.connect(
            _server_url(database_url).render_as_string(hide_password=False), autocommit=True
        )
        query = f'SELECT count(*) FROM "{MESSAGE_TABLE}"'

        def count() -> int:
            row = connection.execute(query).fetchone()
            return int(row[0]) if row else 0

        self._count = count
        self._close = connection.close

    def __call__(self) -> int:
        return self._count()

    def close(self) -> None:
        self._close()


# --- measuring ------------------------------------------------------------------------------
@dataclass
class Rig:
    """What the measuring needs: the report it fills, and its instruments."""

    report: BenchReport
    bodies: Mapping[str, bytes]
    log_lines: Callable[[], int]
    progress: Callable[[str], None]
    deliveries: Deliveries | None = None
    server_cpu: ServerCpu | None = None
    servers: dict[str, int] = field(default_factory=dict)
    """The server processes running now, by name (further hub instances come and go)."""

    async def quiesce(self) -> None:
        """Before a run: every accepted broadcast delivered, every server idle, so no backlog
        of an earlier run is measured."""
        if self.deliveries is not None and self.deliveries.tally.accepted:
            await self.deliveries.all_delivered()
        await settle(self.servers)


async def _verify(rig: Rig, group: Sequence[Target], direct_get: Target) -> None:
    for target in group:
        if target.broadcast:
            assert rig.deliveries is not None
            await verify_broadcast(target, rig.deliveries)
            rig.progress(f"{target.name}: the hub accepts the PUT (status 1000), the eMSP gets it")
        elif target.push and via_hub(target):
            direct = next(t for t in group if t.push and not via_hub(t))
            await verify_push(direct, target)
            rig.progress(f"{direct.name} and {target.name} answer HTTP 200, status 1000")
        elif not target.push and via_hub(target):
            await verify(direct_get, target, rig.bodies)
            rig.progress(
                f"{direct_get.name} and {target.name} answer HTTP 200, status 1000, the same "
                "Location"
            )


async def _prepare(rig: Rig, groups: Sequence[Sequence[Target]], direct_get: Target) -> None:
    """Verify every path, then warm each up."""
    options = rig.report.options
    servers = rig.servers
    pids = {**servers, "loadgen": os.getpid()}
    for group in groups:
        await _verify(rig, group, direct_get)
    rig.progress("warming up")
    for target in [target for group in groups for target in group]:
        await rig.quiesce()
        warmup = min(options.warmup, options.duration)
        await closed_run(target, -1, warmup, options.connections, rig.bodies, pids, servers)


async def _measure_rep(rig: Rig, rep: int, groups: Sequence[Sequence[Target]]) -> None:
    for group in groups:
        await _measure_group(rig, rep, group)


async def _measure_group(rig: Rig, rep: int, group: Sequence[Target]) -> None:
    """One repetition of a group's paced runs, then its closed-loop runs, the group's order
    reversed every other repetition."""
    report, options = rig.report, rig.report.options
    servers = rig.servers
    pids = {**servers, "loadgen": os.getpid()}
    order = list(group) if rep % 2 == 0 else list(reversed(group))
    for target in order:
        # Every run starts with idle servers: no backlog of an earlier run is measured.
        await rig.quiesce()
        run = await paced_run(
            target,
            rep,
            options.rate,
            options.duration,
            paced_connections(options, target),
            rig.bodies,
        )
        report.paced.append(run)
        rig.progress(
            f"rep {rep + 1}/{options.reps} {target.name:11} paced {options.rate:g} req/s: "
            f"p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, late {run.late}, "
            f"errors {run.errors}"
        )
    for target in order:
        await rig.quiesce()
        closed = await closed_run(
            target,
            rep,
            options.duration,
            options.connections,
            rig.bodies,
            pids,
            servers,
            rig.log_lines if via_hub(target) else None,
            rig.deliveries if target.broadcast else None,
            rig.server_cpu,
        )
        report.closed.append(closed)
        own = own_cpu(target.name)
        backlog = (
            f", {closed.log_pending:,} of {closed.log_lines:,} log lines unwritten at the end"
            if closed.log_lines is not None
            else ""
        )
        delivery = (
            f"; the eMSP had all {closed.accepted:,} after {closed.delivery_s or 0:.1f} s "
            f"({closed.deliveries_per_s:,.0f} deliveries/s), undelivered {closed.undelivered}"
            if closed.accepted is not None
            else ""
        )
        rig.progress(
            f"rep {rep + 1}/{options.reps} {target.name:11} closed loop c{options.connections}: "
            f"{closed.req_per_s:,.0f} req/s, {own} CPU "
            f"{closed.cpu_us_per_request(own):,.0f} us/req (busy {closed.catch_up_s:.1f} s "
            f"after the run{backlog}), errors {closed.errors}{delivery}"
        )


def paced_connections(options: BenchOptions, target: Target) -> int:
    """Connections a paced run may use: a few, except for broadcasts, whose answers wait for a
    commit: with 4, one slow group commit held every connection and the next sends waited in
    the load generator's pool, so the latency measured that pool (p50 490 ms at 200/s on
    PostgreSQL, 38 ms with 16 connections in the same conditions)."""
    return (
        max(options.paced_connections, options.connections)
        if target.broadcast
        else (options.paced_connections)
    )


def _check_options(options: BenchOptions) -> None:
    if options.duration <= 0 or options.rate <= 0 or options.connections < 1 or options.reps < 1:
        raise BenchError("duration and rate must be positive, connections and reps at least 1")
    if not 1 <= options.instances <= MAX_INSTANCES:
        raise BenchError(f"instances must be 1 to {MAX_INSTANCES}")
    if options.instances > 1 and options.database_url is None:
        raise BenchError(
            f"--instances {options.instances} needs --database-url postgresql://…: hub "
            "instances share one PostgreSQL database (a SQLite file belongs to one process)"
        )
    if options.database_url is not None:
        _server_url(options.database_url)


def run_bench(
    options: BenchOptions, progress: Callable[[str], None] = lambda _: None
) -> BenchReport:
    """Start the members and the hub, measure, stop everything (also on errors and Ctrl-C)."""
    _check_options(options)
    workdir = Path(tempfile.mkdtemp(prefix="roam-bench-"))
    children: list[Child] = []
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        database: dict[str, Any] = {"kind": "sqlite", "file": "a fresh file (WAL)"}
        if options.database_url is not None:
            database_url, database = cleanup.enter_context(
                fresh_postgres(options.database_url, progress)
            )
        else:
            database_url = f"sqlite:///{workdir / 'hub.db'}"
        database["commit_ms"] = commit_ms(database_url, workdir)
        cleanup.callback(_stop_children, children)  # before the database is dropped
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
        seed_hub(database_url, cpo.url, emsp.url, tokens)
        admin_token = secrets.token_urlsafe(24)
        hub = _start_child("hub", hub_args(database_url, admin_token), workdir)
        children.append(hub)
        _wait_ready(hub)
        report = BenchReport(
            options=options,
            environment=_environment(),
            processes={child.name: child.pid for child in children},
            payload_bytes=len(bodies["LOC1"]),
            database=database,
        )
        emsp_auth = encode_authorization(tokens.emsp_to_hub)
        cpo_auth = encode_authorization(tokens.cpo_to_hub)
        direct = Target("direct", cpo.url + CPO_LOCATIONS, encode_authorization(tokens.emsp_to_cpo))
        groups: list[list[Target]] = [
            [direct, Target("routed", hub.url + HUB_LOCATIONS, emsp_auth)]
        ]
        tally = Tally()
        deliveries = Deliveries(emsp.url + RECEIVED, tally)
        if options.push:
            to_emsp = encode_authorization(tokens.cpo_to_emsp)
            push = [
                Target("direct-push", emsp.url + EMSP_LOCATIONS, to_emsp, push=True),
                Target("routed-push", hub.url + HUB_RECEIVER_LOCATIONS, cpo_auth, push=True),
            ]
            if options.broadcast:
                push.append(
                    Target(
                        "broadcast",
                        hub.url + HUB_RECEIVER_LOCATIONS,
                        cpo_auth,
                        push=True,
                        broadcast=True,
                        tally=tally,
                    )
                )
            groups.append(push)
            report.push_check_us = push_check_us()
        log_lines = LogLines(database_url)
        cleanup.callback(log_lines.close)
        server_cpu = ServerCpu.local(database_url) if options.database_url else None
        if server_cpu is not None:
            cleanup.callback(server_cpu.close)
        report.database["cpu_measured"] = server_cpu is not None
        rig = Rig(report, bodies, log_lines, progress, deliveries, server_cpu)
        rig.servers.update(report.processes)
        # The measuring instrument must not pause: this process imported the whole hub, and a
        # full collection over those objects took tens of ms. Frozen objects are never scanned.
        gc.collect()
        gc.freeze()
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(_prepare(rig, groups, direct))
                for rep in range(options.reps):
                    runner.run(_measure_rep(rig, rep, groups))
                    if options.instances > 1:
                        instances = Instances(hub, database_url, admin_token, workdir, tokens)
                        instances.measure(runner, rig, rep, direct)
                report.broadcasts = runner.run(_broadcast_tally(deliveries))
        finally:
            gc.unfreeze()
        for child in children:
            if child.process.poll() is not None:
                raise BenchError(f"the {child.name} stopped during the bench:\n{child.log_tail()}")
        report.environment["load_average_after"] = list(os.getloadavg())
        return report


@dataclass(frozen=True)
class Instances:
    """Hub instances 2…n on the first one's database, for the n-instance runs of a repetition:
    started after its one-instance runs and stopped after its n-instance runs, so that each
    repetition compares one against n at nearly the same time, and the one-instance runs have
    the database to themselves."""

    first: Child
    database_url: str
    admin_token: str
    workdir: Path
    tokens: Tokens

    def measure(self, runner: asyncio.Runner, rig: Rig, rep: int, direct_get: Target) -> None:
        n = rig.report.options.instances
        started: list[Child] = []
        try:
            for number in range(2, n + 1):
                args = hub_args(self.database_url, self.admin_token)
                started.append(_start_child(f"hub{number}", args, self.workdir))
            for child in started:
                _wait_ready(child)
                rig.servers[child.name] = rig.report.processes[child.name] = child.pid
            rig.progress(
                f"rep {rep + 1}: {n} hub instances on one database, the load alternating "
                "between them"
            )
            group = self.targets(n, [child.url for child in started], rig)
            runner.run(_prepare(rig, [group], direct_get))
            runner.run(_measure_rep(rig, rep, [group]))
            for child in started:
                if child.process.poll() is not None:
                    raise BenchError(
                        f"the {child.name} stopped during the bench:\n{child.log_tail()}"
                    )
        finally:
            for child in started:
                rig.servers.pop(child.name, None)
            _stop_children(started)

    def targets(self, n: int, urls: Sequence[str], rig: Rig) -> list[Target]:
        emsp_auth = encode_authorization(self.tokens.emsp_to_hub)
        cpo_auth = encode_authorization(self.tokens.cpo_to_hub)
        assert rig.deliveries is not None
        routed = Target(
            f"routed@{n}",
            self.first.url + HUB_LOCATIONS,
            emsp_auth,
            more=tuple(url + HUB_LOCATIONS for url in urls),
        )
        options = rig.report.options
        if not (options.push and options.broadcast):
            return [routed]
        return [
            routed,
            Target(
                f"broadcast@{n}",
                self.first.url + HUB_RECEIVER_LOCATIONS,
                cpo_auth,
                push=True,
                broadcast=True,
                more=tuple(url + HUB_RECEIVER_LOCATIONS for url in urls),
                tally=rig.deliveries.tally,
            ),
        ]


async def _broadcast_tally(deliveries: Deliveries) -> dict[str, int]:
    """Every broadcast the hub accepted in the whole bench, and what reached the eMSP."""
    if not deliveries.tally.accepted:
        return {}
    missing = await deliveries.all_delivered()
    async with _session(1) as session:
        received = await deliveries.received(session)
    return {
        "accepted": deliveries.tally.accepted,
        "received": received,
        "undelivered": max(0, missing),
    }


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
        lines.append(_row(name, summary[name]))
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


def _row(name: str, row: Mapping[str, Any]) -> str:
    late = f"{row['late']}/{row['paced_requests']}"
    cpu = f"{row['cpu_process']} {row['cpu_us_per_request']:,.0f}"
    return (
        f"{name:11} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} {row['p999_ms']:9.2f} "
        f"{late:>10} {row['req_per_s']:8,.0f} {row['saturated_p50_ms']:11.2f} "
        f"{cpu:>15} {row['errors']:7d}"
    )


def _database_line(database: Mapping[str, Any]) -> str:
    commit = database.get("commit_ms")
    probe = (
        f" A one-row INSERT and commit from the bench takes {commit:.2f} ms (median)."
        if commit is not None
        else ""
    )
    if database.get("kind") != "postgresql":
        return f"Database: SQLite, a fresh file (WAL, synchronous=NORMAL).{probe}"
    return (
        f"Database: PostgreSQL {database.get('server_version')} at {database.get('server')}, "
        f"a fresh database {database.get('database')} (created and dropped by the bench); "
        f"synchronous_commit {database.get('synchronous_commit')}, fsync "
        f"{database.get('fsync')}.{probe}"
    )


def _broadcast_lines(report: BenchReport, summary: Mapping[str, Any]) -> list[str]:
    """The broadcast row against the routed push, its CPU, and its delivery to the eMSP."""
    if "broadcast" not in summary or "routed-push" not in summary:
        return []
    row, push, durable = summary["broadcast"], summary["routed-push"], summary["durable"]
    options = report.options
    database = "PostgreSQL" if report.database.get("kind") == "postgresql" else "SQLite"
    lines = [
        "",
        f"Broadcast: the same PUT with OCPI-to {HUB} (the hub): checked, then its copy and one "
        f"outbox row per receiver are committed to {database}",
        "  before the hub answers (201 new, 200 otherwise); the hub then delivers it to the eMSP "
        "from its outbox. The routed push commits nothing before it answers.",
        _row("routed-push", push),
        _row("broadcast", row),
        f"{'durable':11} {durable['p50_ms']:+8.2f} {durable['p99_ms']:+8.2f} {'':9} {'':10} "
        f"{'x' + format(durable['throughput_ratio'], '.2f'):>8}"
        "   (broadcast minus routed-push: the cost of durable acceptance)",
        f"Accepted: {row['accepted_per_s']:,.0f} broadcasts/s in the closed loop "
        f"(c{options.connections}); hub CPU per accepted broadcast "
        f"{row['cpu_us_per_request']:,.0f} us, delivering it included (routed push: "
        f"{push['cpu_us_per_request']:,.0f} us).",
    ]
    if report.database.get("cpu_measured"):
        lines.append(
            f"  PostgreSQL's CPU: {row['postgres_cpu_us_per_request']:,.0f} us per broadcast "
            f"({push['postgres_cpu_us_per_request']:,.0f} us per routed push, whose log it "
            "writes)."
        )
    lines.append(
        f"Delivered: the eMSP had every broadcast of a throughput run "
        f"{row['delivery_lag_s']:.1f} s after its last answer, "
        f"{row['deliveries_per_s']:,.0f} deliveries/s from the run's start (median)."
    )
    load = options.rate / row["accepted_per_s"] if row["accepted_per_s"] else math.nan
    if load > 0.5:
        lines.append(
            f"  note: the paced rate ({options.rate:g}/s) is {load:.0%} of the broadcasts/s the "
            "hub accepted in the closed loop, and it delivers each one too: the paced latency "
            "includes queueing; a lower --rate shows the accept latency of a hub with room."
        )
    tally = report.broadcasts
    if tally:
        verdict = (
            "every one reached the eMSP"
            if not tally["undelivered"]
            else f"{tally['undelivered']:,} did NOT reach the eMSP"
        )
        lines.append(
            f"  In the whole bench the hub accepted {tally['accepted']:,} broadcasts and the eMSP "
            f"received {tally['received']:,} from it: {verdict}."
        )
    return lines


def _instance_lines(report: BenchReport, summary: Mapping[str, Any]) -> list[str]:
    """One instance against n instances on the same database, side by side."""
    n = report.options.instances
    routed_n, broadcast_n = f"routed@{n}", f"broadcast@{n}"
    if n < 2 or routed_n not in summary or "routed" not in summary:
        return []
    one_r, many_r = summary["routed"], summary[routed_n]
    one_b, many_b = summary.get("broadcast"), summary.get(broadcast_n)
    rows: list[tuple[str, float, float, str]] = [
        ("routed GET req/s (closed loop)", one_r["req_per_s"], many_r["req_per_s"], ",.0f"),
        (
            "hub CPU us per routed GET (all instances)",
            one_r["cpu_us_per_request"],
            many_r["cpu_us_per_request"],
            ",.0f",
        ),
        ("routed GET p50 ms (paced)", one_r["p50_ms"], many_r["p50_ms"], ".2f"),
    ]
    if one_b is not None and many_b is not None:
        rows += [
            ("broadcasts accepted/s", one_b["accepted_per_s"], many_b["accepted_per_s"], ",.0f"),
            (
                "hub CPU us per broadcast (all instances)",
                one_b["cpu_us_per_request"],
                many_b["cpu_us_per_request"],
                ",.0f",
            ),
            (
                "deliveries/s to the eMSP",
                one_b["deliveries_per_s"],
                many_b["deliveries_per_s"],
                ",.0f",
            ),
            *(
                [
                    (
                        "PostgreSQL CPU us per broadcast",
                        one_b["postgres_cpu_us_per_request"],
                        many_b["postgres_cpu_us_per_request"],
                        ",.0f",
                    )
                ]
                if report.database.get("cpu_measured")
                else []
            ),
            ("broadcast accept p50 ms (paced)", one_b["p50_ms"], many_b["p50_ms"], ".2f"),
        ]
    lines = [
        "",
        f"Hub instances on one PostgreSQL database: 1 against {n}, the load alternating between "
        "them. In each repetition the",
        "  other instance(s) started after the one-instance runs and stopped after their own "
        "runs; medians over the repetitions.",
        f"{'':44} {'1 instance':>12} {str(n) + ' instances':>12} {'ratio':>7}",
    ]
    for label, one, many, spec in rows:
        ratio = many / one if one and not math.isnan(one) else math.nan
        lines.append(f"{label:44} {format(one, spec):>12} {format(many, spec):>12} {ratio:7.2f}")
    shares = ", ".join(
        f"{name} {share:.0%}" for name, share in many_r.get("hub_cpu_shares", {}).items()
    )
    if shares:
        lines.append(f"Hub CPU split between the instances (routed GET): {shares}.")
    if many_b is not None and many_b.get("hub_cpu_shares"):
        split = ", ".join(f"{name} {share:.0%}" for name, share in many_b["hub_cpu_shares"].items())
        lines.append(f"Hub CPU split between the instances (broadcast): {split}.")
    gain = many_r["req_per_s"] / one_r["req_per_s"] if one_r["req_per_s"] else math.nan
    cpus = report.environment.get("cpus")
    busy = many_r["machine_busy"]
    if gain >= 1.1:
        lines.append(
            f"The {n} instances served x{gain:.2f} the routed GETs of one on this machine "
            f"({cpus} CPUs, {busy:.0%} busy)."
        )
    else:
        lines.append(
            f"The {n} instances did not add routed throughput here (x{gain:.2f}): the machine "
            f"({cpus} CPUs) was {busy:.0%} busy with the hubs, both members, the load generator "
            "and PostgreSQL on the same cores; instances add throughput when each has a core "
            "of its own."
        )
    return lines


def report_paths(report: BenchReport) -> set[str]:
    return {run.path for run in report.paced} | {run.path for run in report.closed}


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def format_report(report: BenchReport) -> str:
    """The table and one verdict line per target (information: never an exit status)."""
    options, summary = report.options, report.summary()
    direct, routed, added = summary["direct"], summary["routed"], summary["added"]
    env = report.environment
    others = max(direct["machine_others"], routed["machine_others"])
    steal = max(direct["machine_steal"], routed["machine_steal"])
    database = "PostgreSQL" if report.database.get("kind") == "postgresql" else "SQLite"
    load = env.get("load_average_before")
    lines = [
        f"roam hub bench: hub and two members on 127.0.0.1 "
        f"(Python {env['python']}, {env['cpus']} CPUs shared by all processes)",
        _database_line(report.database),
        "Both members were written into the hub's database before it started: this measures "
        "forwarding, not onboarding.",
        f"Request: GET Location ({report.payload_bytes:,}-byte envelope) as the eMSP {EMSP}; "
        f"direct: {CPO_LOCATIONS}/{{id}} at the CPO;",
        f"  routed: {HUB_LOCATIONS}/{{id}} at the hub, OCPI-to {CPO} (the hub logs every "
        f"message to {database}, as in production).",
        f"Latency: paced {options.rate:g} req/s over {options.paced_connections} connections"
        + (
            f" ({max(options.paced_connections, options.connections)} for broadcasts)"
            if options.push and options.broadcast
            else ""
        )
        + "; "
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
        *(
            [
                f"PostgreSQL: {routed['postgres_cpu_us_per_request']:,.0f} us CPU per routed "
                "request (the server's processes for this database and its background "
                "processes, from /proc; not in the hub's figure)."
            ]
            if report.database.get("cpu_measured")
            else []
        ),
        *(
            [
                "Load average (1, 5, 15 min) before the bench: "
                + " ".join(f"{value:.2f}" for value in load)
                + (
                    "; after: " + " ".join(f"{v:.2f}" for v in env["load_average_after"])
                    if env.get("load_average_after")
                    else ""
                )
                + "."
            ]
            if load
            else []
        ),
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
    lines += _broadcast_lines(report, summary)
    lines += _instance_lines(report, summary)
    errors = sum(row["errors"] for path, row in summary.items() if path in report_paths(report))
    if errors:
        lines.append(f"  note: {errors} requests failed or answered unexpected bytes.")
    return "\n".join(lines)
