"""The fault matrix's machinery: the hub and the recording platforms as OS processes (kill -9,
SIGTERM with a stopwatch, restart on the same port and database), a sender that pushes
broadcasts or CDRs straight to the hub, the receivers' records turned into loss, order and
duplicate counts, and a TCP proxy that can cut the hub off its PostgreSQL server.

A federation may run several hub instances on one PostgreSQL database (docs/hub.md "Several
instances"): each `roam hub serve` on its own port with its own base URL, the members
registered through the instance the test names, and a sender that spreads its messages over
the instances (round robin, attempt by attempt) until it is told to use only some of them.
Each instance connects with its own PostgreSQL `application_name` (roam-hub-A, roam-hub-B;
the same database), so that `LockWatch` can tell from `pg_locks` which instance holds which
receiver's delivery lane (hub/cluster.py's advisory locks).

Nothing here asks the hub whether it delivered: delivery is what the platforms recorded
(platform.py). The hub is asked only what the issue makes it responsible for reporting (its
settlement and message log, case c) and for GET-all (cases e and h); which instance holds a
lane is read from PostgreSQL, not from the hub.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import psycopg

from hub.cluster import LANE_LOCKS, LEADER_LOCK
from ocpi.headers import PartyRef
from tests.doubles import factories

ROOT = Path(__file__).resolve().parents[3]
HOST = "127.0.0.1"
ADMIN_TOKEN = "fault-matrix-admin-token"
HUB_PARTY = "EU/HUB"
CPO_PARTY = "NL/CPO"
OCPI = "/ocpi/2.2.1"
SEQ_IN_NAME = re.compile(r"#(\d+)$")
T0 = datetime(2026, 1, 1, tzinfo=UTC)

BOUND = 60.0
"""Seconds a hub gets to deliver what it accepted, at most."""
QUIET = float(os.environ.get("ROAM_FAULT_MATRIX_QUIET", "12"))
"""...and it is given up on sooner when no request at all reached any receiver for this long
(longer than the pause between two delivery attempts of a retrying hub: 10 s at most in the
issue's design)."""

Key = tuple[str, int]
"""(object id, sequence number): one version of one object (a CDR has sequence 0)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def authorization(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


def routing(from_party: str, to_party: str) -> dict[str, str]:
    fc, fp = from_party.split("/")
    tc, tp = to_party.split("/")
    return {
        "OCPI-from-country-code": fc,
        "OCPI-from-party-id": fp,
        "OCPI-to-country-code": tc,
        "OCPI-to-party-id": tp,
    }


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROAM_HUB_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def wait_until(check: Callable[[], bool], within: float, pause: float = 0.05) -> bool:
    deadline = time.monotonic() + within
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)


def rss_kb(pid: int) -> int:
    """VmRSS of a process, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


class Service:
    """One OS process (python -m ...), its output in a log file; kill -9, SIGTERM, restart."""

    def __init__(self, name: str, args: Sequence[str], workdir: Path, ready_url: str) -> None:
        self.name = name
        self.args = list(args)
        self.workdir = workdir
        self.ready_url = ready_url
        self.log_path = workdir / f"{name.replace('/', '-')}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._http: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        """One client per service, kept open (a new httpx client costs ~20 ms: its SSL
        context); closed by `close()`."""
        if self._http is None:
            self._http = httpx.Client(timeout=30, trust_env=False)
        return self._http

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> None:
        assert not self.alive, f"{self.name} is already running"
        self._close_log()
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", *self.args],
            cwd=self.workdir,
            env=_env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, within: float = 30.0) -> None:
        def answers() -> bool:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            try:
                self.http.get(self.ready_url, timeout=1)
            except httpx.TransportError:
                return False
            return True

        if not wait_until(answers, within):
            raise RuntimeError(f"{self.name} did not answer within {within} s:\n{self.log_tail()}")

    def start(self, within: float = 30.0) -> None:
        self.spawn()
        self.wait_ready(within)

    def kill(self) -> None:
        """kill -9, and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._close_log()

    def terminate(self, within: float = 30.0) -> tuple[float, bool]:
        """SIGTERM; (seconds until it exited, whether it exited by itself within `within`:
        if not, it is killed)."""
        if self.process is None or self.process.poll() is not None:
            self._close_log()
            return 0.0, True
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=within)
            clean = True
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            clean = False
        self._close_log()
        return time.monotonic() - began, clean

    def close(self) -> None:
        """Stop it whatever state it is in (SIGTERM, then kill after 5 s)."""
        self.terminate(within=5.0)
        if self._http is not None:
            self._http.close()
            self._http = None

    def log_tail(self, lines: int = 30) -> str:
        if self._log is not None:
            self._log.flush()
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class HubProcess(Service):
    """`python -m roam hub serve` on a fixed port and database, with the admin token known.

    `instance` names one of several instances on one PostgreSQL database ("A", "B"): its log
    is hub-A.log, its base URL its own address (`--base-url`), and it connects to the
    database as `application_name` roam-hub-A (`instance_url`)."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        *,
        port: int | None = None,
        forward_timeout: float = 2.0,
        still_alive_interval: float = 300.0,
        instance: str = "",
        options: Sequence[str] = (),
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.instance = instance
        self.database_url = instance_url(database_url, instance) if instance else database_url
        args = [
            "roam",
            "hub",
            "serve",
            "--port",
            str(self.port),
            "--database-url",
            self.database_url,
            "--admin-token",
            ADMIN_TOKEN,
            "--forward-timeout",
            str(forward_timeout),
            "--still-alive-interval",
            str(still_alive_interval),
        ]
        if instance:
            args += ["--base-url", self.url]
        args += list(options)
        name = f"hub-{instance}" if instance else "hub"
        super().__init__(name, args, workdir, f"{self.url}/ocpi/versions")

    @property
    def versions_url(self) -> str:
        return f"{self.url}/ocpi/versions"

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        """An admin API call; its `data` (fails the test on anything but status 1000)."""
        answer = self.http.request(
            method,
            f"{self.url}/admin/{path}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            **kwargs,
        )
        body = answer.json()
        assert body.get("status_code") == 1000, f"admin {path}: HTTP {answer.status_code} {body}"
        return body.get("data")

    def invite(self, role: str, party: str) -> str:
        country_code, party_id = party.split("/")
        data = self.admin(
            "POST",
            "invitations",
            json={"parties": [{"role": role, "country_code": country_code, "party_id": party_id}]},
        )
        token: str = data["token"]
        return token

    def rss_kb(self) -> int:
        return rss_kb(self.pid)

    @property
    def credentials_url(self) -> str:
        return f"{self.url}{OCPI}/credentials"


INSTANCE_APPLICATION = "roam-hub-"
"""Prefix of the `application_name` of an instance's database connections."""


def instance_url(database_url: str, instance: str) -> str:
    """`database_url` (PostgreSQL) with `application_name=roam-hub-<instance>`: the same
    database, connections that say which instance opened them (`pg_stat_activity`)."""
    parts = urlsplit(database_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "application_name"]
    query.append(("application_name", INSTANCE_APPLICATION + instance))
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass(frozen=True)
class Faults:
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    delay: float = 0.0
    delay_rate: float = 1.0


class PlatformProcess(Service):
    """A recording platform (platform.py); its records are read through `/_received`."""

    def __init__(
        self,
        workdir: Path,
        role: str,
        party: str,
        faults: Faults = Faults(),
        seed: int = 14,
        *,
        register_later: bool = False,
    ) -> None:
        self.register_later = register_later
        """Started without a token A: it registers when `register()` says so."""
        self.role = role
        self.party = party
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.state_file = workdir / f"{party.replace('/', '-')}.state.json"
        self.faults = faults
        self.seed = seed
        self.records: list[dict[str, Any]] = []
        self.last_request_at = 0.0
        """When a functional request last reached it (time.time()), stored or not."""
        self.hub_versions = ""
        self.token_a = ""
        super().__init__(party, [], workdir, f"{self.url}/_state")

    def spawn(self) -> None:
        self.args = [
            "tests.hub.fault_matrix.platform",
            "--role",
            self.role,
            "--party",
            self.party,
            "--port",
            str(self.port),
            "--state",
            str(self.state_file),
            "--fail-rate",
            str(self.faults.fail_rate),
            "--drop-rate",
            str(self.faults.drop_rate),
            "--delay",
            str(self.faults.delay),
            "--delay-rate",
            str(self.faults.delay_rate),
            "--seed",
            str(self.seed),
        ]
        if self.token_a:
            # `=`: a token may start with "-" (token_urlsafe), which argparse takes for an option.
            self.args += [f"--hub-versions={self.hub_versions}", f"--token-a={self.token_a}"]
        elif self.register_later:
            self.args.append("--register-later")
        super().spawn()

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.http.get(f"{self.url}/_state", timeout=5).json()
        return state

    @property
    def token_c(self) -> str:
        token: str = self.state()["token_c"]
        return token

    def wait_registered(self, within: float = 30.0) -> None:
        if not wait_until(lambda: bool(self.state()["registered"]), within, 0.1):
            raise RuntimeError(f"{self.party} did not register: {self.state()}")

    def refresh(self) -> int:
        """Fetch the records not yet seen; how many were new (0 when it is down)."""
        if not self.alive:
            return 0
        try:
            answer = self.http.get(f"{self.url}/_received", params={"after": len(self.records)})
        except httpx.TransportError:
            return 0
        body = answer.json()
        new: list[dict[str, Any]] = body["records"]
        self.records.extend(new)
        self.last_request_at = max(self.last_request_at, float(body["last_request_at"]))
        return len(new)

    def set_faults(self, **values: float) -> None:
        self.http.post(f"{self.url}/_faults", json=values, timeout=5)

    def register(self, hub: HubProcess) -> dict[str, Any]:
        """Register now through `hub` (member-initiated, a token A invited there); returns
        once the hub has answered: its state, with `registered_at` (time.time())."""
        self.hub_versions = hub.versions_url
        self.token_a = hub.invite(self.role, self.party)
        answer = self.http.post(
            f"{self.url}/_register",
            json={"hub_versions": self.hub_versions, "token_a": self.token_a},
            timeout=40,
        )
        state: dict[str, Any] = answer.json()
        assert answer.status_code == 200 and state["registered"], f"registration: {state}"
        return state

    def rotate(self, hub: HubProcess) -> dict[str, Any]:
        """Rotate its credentials through `hub` (PUT /credentials, a new token B); the
        platform's answer: old_token_c, token_c, token_b, answered_at (time.time())."""
        answer = self.http.post(
            f"{self.url}/_rotate", json={"credentials_url": hub.credentials_url}, timeout=30
        )
        rotated: dict[str, Any] = answer.json()
        assert answer.status_code == 200, f"rotation: {rotated}"
        return rotated


# --- the federation -------------------------------------------------------------------------
@dataclass(frozen=True)
class EmspSpec:
    party: str
    faults: Faults = Faults()


DEFAULT_EMSPS = (EmspSpec("NL/EMA"), EmspSpec("NL/EMB"))


@dataclass
class Federation:
    hub: HubProcess
    """The (first) hub instance."""
    cpo: PlatformProcess
    emsps: list[PlatformProcess]
    hubs: list[HubProcess] = field(default_factory=list)
    """Every instance (several on one PostgreSQL database), the first being `hub`."""
    through: dict[str, HubProcess] = field(default_factory=dict)
    """Party -> the instance it registered through."""
    extra: list[Service] = field(default_factory=list)
    """Processes a test started itself (`add_platform`): stopped with the federation."""

    @property
    def platforms(self) -> list[PlatformProcess]:
        return [self.cpo, *self.emsps]

    def emsp(self, party: str) -> PlatformProcess:
        return next(p for p in self.emsps if p.party == party)

    def add_platform(self, role: str, party: str, faults: Faults = Faults()) -> PlatformProcess:
        """A platform started now, not yet registered (`PlatformProcess.register`)."""
        platform = PlatformProcess(self.hub.workdir, role, party, faults, register_later=True)
        self.extra.append(platform)
        platform.start()
        return platform


INSTANCE_NAMES = "ABCDEFGH"


@contextlib.contextmanager
def federation(
    workdir: Path,
    database_url: str,
    emsps: Sequence[EmspSpec] = DEFAULT_EMSPS,
    *,
    forward_timeout: float = 2.0,
    still_alive_interval: float = 300.0,
    instances: int = 1,
    through: Mapping[str, int] | None = None,
    hub_options: Sequence[str] = (),
) -> Iterator[Federation]:
    """A hub process and one CPO + the eMSPs as platform processes, all registered (invited
    through the admin API, member-initiated handshakes). Everything is stopped afterwards.

    `instances` > 1 (PostgreSQL): that many hub processes on the database, started one after
    the other (A first: it creates the tables), and each member invited by and registered
    through instance `through[party]` (an index; 0, i.e. A, by default). It is ready when
    every instance lists every member as CONNECTED. `hub_options` go to `roam hub serve`."""
    names = INSTANCE_NAMES[:instances] if instances > 1 else [""]
    hubs = [
        HubProcess(
            workdir,
            database_url,
            forward_timeout=forward_timeout,
            still_alive_interval=still_alive_interval,
            instance=name,
            options=hub_options,
        )
        for name in names
    ]
    cpo = PlatformProcess(workdir, "CPO", CPO_PARTY)
    receivers = [
        PlatformProcess(workdir, "EMSP", s.party, s.faults, seed=i) for i, s in enumerate(emsps)
    ]
    platforms = [cpo, *receivers]
    placed = {p.party: hubs[(through or {}).get(p.party, 0)] for p in platforms}
    fed = Federation(hubs[0], cpo, receivers, hubs, placed)
    try:
        for hub in hubs:
            hub.start()
        for platform in platforms:
            hub = placed[platform.party]
            platform.hub_versions = hub.versions_url
            platform.token_a = hub.invite(platform.role, platform.party)
            platform.spawn()
        for platform in platforms:
            platform.wait_ready()
        for platform in platforms:
            platform.wait_registered()

        def all_connected() -> bool:
            for hub in hubs:
                parties: list[dict[str, Any]] = hub.admin("GET", "parties")
                connected = [p for p in parties if p["status"] == "CONNECTED"]
                if len(connected) != len(platforms):
                    return False
            return True

        assert wait_until(all_connected, 10, 0.1), [h.admin("GET", "parties") for h in hubs]
        yield fed
    finally:
        for service in (*fed.extra, *platforms, *hubs):
            service.close()


# --- sending ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    key: Key
    method: str
    path: str
    """Below the hub's base URL, e.g. /ocpi/2.2.1/receiver/locations/NL/CPO/LOC1."""
    body: dict[str, Any]
    to: str = HUB_PARTY


@dataclass
class Attempt:
    key: Key
    number: int
    correlation_id: str
    sent_at: float
    answered_at: float
    http_status: int | None
    ocpi_status: int | None
    message: str
    hub: str = ""
    """The hub URL it was sent to."""

    @property
    def accepted(self) -> bool:
        return (
            self.http_status is not None
            and 200 <= self.http_status < 300
            and self.ocpi_status == 1000
        )

    @property
    def outcome(self) -> str:
        if self.http_status is None:
            return self.message.split(":")[0]
        return f"HTTP {self.http_status}/{self.ocpi_status}"


def location_body(object_id: str, seq: int, party: str = CPO_PARTY) -> dict[str, Any]:
    """A valid 2.2.1 Location whose name ends in `#seq` (and last_updated grows with seq)."""
    cc, pid = party.split("/")
    body = factories.location(
        object_id, party=PartyRef(cc, pid), last_updated=T0 + timedelta(seconds=seq)
    ).to_json()
    body["name"] = f"Fault matrix {object_id} #{seq}"
    return body


def location_lanes(
    ids: Sequence[str], seqs: Sequence[int], party: str = CPO_PARTY
) -> list[list[Message]]:
    """One lane per object: its updates `seqs`, in order (PUT of the whole Location)."""
    cc, pid = party.split("/")
    return [
        [
            Message(
                (object_id, seq),
                "PUT",
                f"{OCPI}/receiver/locations/{cc}/{pid}/{object_id}",
                location_body(object_id, seq, party),
            )
            for seq in seqs
        ]
        for object_id in ids
    ]


def cdr_body(index: int, emsp: str, party: str = CPO_PARTY) -> dict[str, Any]:
    """A valid CDR `FM-CDR-<index>` for 20 kWh (5.00 EUR excl. VAT) ending at a time of its
    own (T0 + index + 1 hours), so that a settlement window can single it out."""
    cc, pid = party.split("/")
    ec, ep = emsp.split("/")
    return factories.cdr(
        f"FM-CDR-{index:04d}",
        party=PartyRef(cc, pid),
        of_token=factories.token(party=PartyRef(ec, ep)),
        session_id=f"FM-S-{index:04d}",
        start=T0 + timedelta(hours=index),
    ).to_json()


def cdr_end(index: int) -> datetime:
    return T0 + timedelta(hours=index + 1)


def cdr_lanes(count: int, emsp: str) -> list[list[Message]]:
    return [
        [Message((f"FM-CDR-{i:04d}", 0), "POST", f"{OCPI}/receiver/cdrs", cdr_body(i, emsp), emsp)]
        for i in range(count)
    ]


class Sender:
    """Sends lanes of messages to the hub as the CPO, from a thread of its own: the messages
    of one lane one after the other (an object's updates in order), up to `concurrency`
    lanes at a time. A message that is not accepted (no answer, or anything but a 2xx with
    status 1000) is sent again after `retry_pause` for up to `retry_for` seconds (0: never),
    as a CPO would; every attempt is recorded.

    Given several hub URLs (instances of one hub), it sends each attempt to the next of them
    in turn (a retry, too, goes to the next); `retarget` narrows them down, as a load
    balancer does when an instance has gone."""

    def __init__(
        self,
        hub_url: str | Sequence[str],
        token: str,
        lanes: Sequence[Sequence[Message]],
        *,
        concurrency: int = 16,
        retry_for: float = 0.0,
        retry_pause: float = 0.2,
        pace: float = 0.0,
        timeout: float = 5.0,
        from_party: str = CPO_PARTY,
    ) -> None:
        self.targets: list[str] = [hub_url] if isinstance(hub_url, str) else list(hub_url)
        self._turn = itertools.count()
        self.token = token
        self.lanes = [list(lane) for lane in lanes]
        self.concurrency = concurrency
        self.retry_for = retry_for
        self.retry_pause = retry_pause
        self.pace = pace
        self.timeout = timeout
        self.from_party = from_party
        self.attempts: list[Attempt] = []
        self.accepted: set[Key] = set()
        self.stopping = threading.Event()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.started_at = 0.0
        self.finished_at = 0.0

    @property
    def sent(self) -> int:
        return sum(len(lane) for lane in self.lanes)

    def retarget(self, hub_urls: Sequence[str]) -> None:
        """From the next attempt on, send only to these."""
        self.targets = list(hub_urls)

    def accepted_by(self) -> Counter[str]:
        """Accepted attempts per hub URL."""
        return Counter(a.hub for a in self.attempts if a.accepted)

    def start(self) -> Sender:
        self._thread = threading.Thread(target=self._main, name="fault-matrix-sender")
        self.started_at = time.monotonic()
        self._thread.start()
        return self

    def run(self, within: float = 120.0) -> Sender:
        """Start and wait until every lane is done."""
        return self.start().join(within)

    def join(self, within: float = 120.0) -> Sender:
        assert self._thread is not None
        self._thread.join(within)
        if self._thread.is_alive():
            self.stopping.set()
            self._thread.join(30)
            raise AssertionError(f"the sender did not finish within {within} s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(30)

    def wait_accepted(self, count: int, within: float = 60.0) -> bool:
        deadline = time.monotonic() + within
        with self._changed:
            while len(self.accepted) < count:
                left = deadline - time.monotonic()
                if left <= 0 or not (self._thread and self._thread.is_alive()):
                    return len(self.accepted) >= count
                self._changed.wait(min(left, 0.1))
        return True

    def statuses(self, attempts: Sequence[Attempt] | None = None) -> Counter[str]:
        return Counter(a.outcome for a in (self.attempts if attempts is None else attempts))

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # surfaced by join()
            self._error = exc
        finally:
            self.finished_at = time.monotonic()

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(
            limits=limits, timeout=self.timeout, trust_env=False
        ) as client:
            gate = asyncio.Semaphore(self.concurrency)

            async def lane(messages: list[Message]) -> None:
                async with gate:
                    for index, message in enumerate(messages):
                        if self.stopping.is_set():
                            return
                        if index and self.pace:
                            await asyncio.sleep(self.pace)
                        await self._deliver(client, message)

            await asyncio.gather(*(lane(messages) for messages in self.lanes))

    async def _deliver(self, client: httpx.AsyncClient, message: Message) -> None:
        first = time.monotonic()
        number = 0
        while not self.stopping.is_set():
            number += 1
            attempt = await self._send(client, message, number)
            with self._changed:
                self.attempts.append(attempt)
                if attempt.accepted:
                    self.accepted.add(message.key)
                self._changed.notify_all()
            if attempt.accepted or time.monotonic() - first >= self.retry_for:
                return
            await asyncio.sleep(self.retry_pause)

    async def _send(self, client: httpx.AsyncClient, message: Message, number: int) -> Attempt:
        correlation_id = f"fm-{message.key[0]}-{message.key[1]}-a{number}-{uuid.uuid4().hex[:6]}"
        headers = {
            "Authorization": authorization(self.token),
            "X-Request-ID": uuid.uuid4().hex,
            "X-Correlation-ID": correlation_id,
            **routing(self.from_party, message.to),
        }
        targets = self.targets
        hub = targets[next(self._turn) % len(targets)]
        sent = time.monotonic()
        http_status: int | None = None
        ocpi_status: int | None = None
        text = ""
        try:
            answer = await client.request(
                message.method, hub + message.path, json=message.body, headers=headers
            )
            http_status = answer.status_code
            try:
                body = answer.json()
                ocpi_status = body.get("status_code")
                text = str(body.get("status_message") or "")
            except ValueError:
                text = answer.text[:200]
        except httpx.TimeoutException as exc:
            text = f"timeout: {type(exc).__name__}"
        except httpx.TransportError as exc:
            text = f"no answer: {type(exc).__name__} {exc}"
        return Attempt(
            message.key,
            number,
            correlation_id,
            sent,
            time.monotonic(),
            http_status,
            ocpi_status,
            text,
            hub,
        )


# --- what the receivers got -------------------------------------------------------------------
def location_versions(records: Sequence[dict[str, Any]]) -> list[Key]:
    """The Location versions (id, seq) a receiver recorded, in the order they arrived."""
    found: list[Key] = []
    for record in sorted(records, key=lambda r: int(r["n"])):
        body = record.get("body")
        if record["module"] != "locations" or record["method"] != "PUT":
            continue
        if not isinstance(body, dict):
            continue
        match = SEQ_IN_NAME.search(str(body.get("name", "")))
        if match is not None:
            found.append((str(body.get("id")), int(match.group(1))))
    return found


@dataclass
class Delivery:
    """What one receiver got of the accepted versions."""

    receiver: str
    accepted: int
    got: int
    lost: list[Key] = field(default_factory=list)
    out_of_order: int = 0
    """A lower version of an object after a higher one (whether first seen or a replay)."""
    replays: int = 0
    """Of those, versions the receiver had already had (an older version pushed again)."""
    duplicates: int = 0
    """The same version again, not after a higher one (allowed)."""
    unaccepted: int = 0
    """Versions received that the sender never got 1000 for (allowed: see the docstring)."""
    stale: int = 0
    """Objects whose last version received is older than the newest accepted one."""

    def line(self) -> str:
        shown = ", ".join(f"{i}#{s}" for i, s in self.lost[:6])
        return (
            f"{self.receiver}: accepted {self.accepted}, received {self.got}, "
            f"lost {len(self.lost)}{f' (e.g. {shown})' if shown else ''}, "
            f"out of order {self.out_of_order} (replays {self.replays}), "
            f"duplicates {self.duplicates}, received but never accepted {self.unaccepted}, "
            f"objects left on an older version {self.stale}"
        )


def analyse(
    receiver: str,
    records: Sequence[dict[str, Any]],
    accepted: set[Key],
    earlier: frozenset[Key] = frozenset(),
) -> Delivery:
    """`accepted`: the versions this delivery is about; `earlier`: versions accepted before
    (in an earlier burst), neither lost nor 'never accepted' here."""
    arrived = location_versions(records)
    highest: dict[str, int] = {}
    last: dict[str, int] = {}
    seen: set[Key] = set()
    result = Delivery(receiver, len(accepted), 0)
    for key in arrived:
        object_id, seq = key
        last[object_id] = seq
        top = highest.get(object_id)
        if top is not None and seq < top:
            result.out_of_order += 1
            result.replays += key in seen
        elif key in seen:
            result.duplicates += 1
        highest[object_id] = max(seq, top if top is not None else seq)
        seen.add(key)
    result.got = len(accepted & seen)
    result.lost = sorted(accepted - seen)
    result.unaccepted = len(seen - accepted - earlier)
    newest: dict[str, int] = {}
    for object_id, seq in accepted:
        newest[object_id] = max(seq, newest.get(object_id, seq))
    result.stale = sum(last.get(i, -1) < seq for i, seq in newest.items())
    return result


def await_delivery(
    receivers: Sequence[PlatformProcess],
    accepted: set[Key],
    *,
    bound: float = BOUND,
    quiet: float = QUIET,
    earlier: frozenset[Key] = frozenset(),
) -> dict[str, Delivery]:
    """Poll the receivers until each has every accepted version, or no request at all (stored,
    failed or cut off: a retrying hub's attempts count) reached any of them for `quiet`
    seconds, or `bound` seconds passed; then half a second more for late repeats. Returns
    each receiver's Delivery."""
    began = time.time()

    def missing() -> int:
        return sum(
            len(accepted - set(location_versions(receiver.records))) for receiver in receivers
        )

    while True:
        for receiver in receivers:
            receiver.refresh()
        if missing() == 0:
            break
        now = time.time()
        active = max([began, *(receiver.last_request_at for receiver in receivers)])
        if now - active > quiet or now - began > bound:
            break
        time.sleep(0.2)
    time.sleep(0.5)
    for receiver in receivers:
        receiver.refresh()
    return {r.party: analyse(r.party, r.records, accepted, earlier) for r in receivers}


def report(deliveries: dict[str, Delivery], sender: Sender | None = None) -> str:
    lines = [d.line() for d in deliveries.values()]
    if sender is not None:
        lines.insert(
            0,
            f"sent {sender.sent} messages, {len(sender.attempts)} attempts, "
            f"accepted {len(sender.accepted)}; statuses {dict(sender.statuses())}",
        )
    return "\n".join(lines)


def hub_get_all(hub_url: str, token: str, party: str, module: str = "locations") -> list[Any]:
    """GET-all via the hub (TO = the hub), following the Link header's pages."""
    items: list[Any] = []
    url: str | None = f"{hub_url}{OCPI}/sender/{module}?limit=100"
    headers = {"Authorization": authorization(token), **routing(party, HUB_PARTY)}
    with httpx.Client(timeout=30, trust_env=False) as client:
        while url:
            answer = client.get(
                url, headers={**headers, "X-Request-ID": uuid.uuid4().hex}, timeout=30
            )
            body = answer.json()
            assert body.get("status_code") == 1000, f"GET-all: HTTP {answer.status_code} {body}"
            items.extend(body["data"])
            link = answer.headers.get("link", "")
            match = re.search(r'<([^>]+)>;\s*rel="?next"?', link)
            url = match.group(1) if match else None
    return items


def seq_of(location: dict[str, Any]) -> int | None:
    match = SEQ_IN_NAME.search(str(location.get("name", "")))
    return int(match.group(1)) if match else None


# --- who holds the delivery lanes (several instances) ---------------------------------------
class LockWatch:
    """Reads PostgreSQL's `pg_locks` on a connection of its own: which instance holds the
    advisory lock of each receiver's delivery lane (hub/cluster.py `LANE_LOCKS`, object id =
    the receiver's platform id) and the leader lock, by the `application_name` of the
    connection holding it (`instance_url`). Only what the database says: a lock held by a
    process that is gone is released by PostgreSQL when it notices the connection ended."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._connection: psycopg.Connection[Any] | None = None

    def __enter__(self) -> LockWatch:
        self._connection = psycopg.connect(
            self.database_url, autocommit=True, application_name="fault-matrix-watch"
        )
        return self

    def __exit__(self, *_: object) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def holders(self) -> dict[str, str]:
        """Receiver party -> the instance ("A", "B") holding its lane; "leader" -> the one
        holding the leader lock. Receivers whose lane nobody holds are left out."""
        assert self._connection is not None, "use LockWatch in a with block"
        rows = self._connection.execute(
            """
            SELECT l.classid::bigint, l.objid::bigint, a.application_name
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """
        ).fetchall()
        parties: dict[int, list[str]] = {}
        for platform_id, party in self._connection.execute(
            "SELECT platform_id, country_code || '/' || party_id FROM party "
            "WHERE platform_id IS NOT NULL"
        ).fetchall():
            parties.setdefault(int(platform_id), []).append(str(party))
        found: dict[str, str] = {}
        for key_class, key_object, application in rows:
            holder = str(application).removeprefix(INSTANCE_APPLICATION)
            if (key_class, key_object) == LEADER_LOCK:
                found["leader"] = holder
            elif key_class == LANE_LOCKS:
                for party in parties.get(int(key_object), [f"platform {key_object}"]):
                    found[party] = holder
        return found

    def wait_held(self, parties: Sequence[str], by: str, within: float) -> float | None:
        """Seconds until every lane of `parties` is held by instance `by` (polled every
        10 ms), or None if not within `within`."""
        began = time.monotonic()

        def held() -> bool:
            holders = self.holders()
            return all(holders.get(party) == by for party in parties)

        if wait_until(held, within, 0.01):
            return time.monotonic() - began
        return None


# --- PostgreSQL that can be "restarted" -----------------------------------------------------
class PgProxy:
    """A TCP proxy between the hub and PostgreSQL, on a loop in a thread of its own.

    `cut()` closes every connection through it (RST) and stops listening, so new connections
    are refused, as while a PostgreSQL server restarts; `restore()` listens again on the same
    port. The shared server itself is never touched."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.cuts = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-matrix-pg")
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def url_for(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by the proxy's."""
        parts = urlsplit(database_url)
        user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{user}{HOST}:{self.port}"))

    def start(self) -> PgProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def cut(self) -> None:
        self.cuts += 1
        self._call(self._cut())

    def restore(self) -> None:
        self._call(self._listen())

    def close(self) -> None:
        if self._thread.is_alive():
            self._call(self._cut())
            self._call(self._drain())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    def _call(self, coro: Any) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, HOST, self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._drain()

    async def _drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()
                self._writers.discard(sink)

        for task in (
            asyncio.create_task(pipe(reader, up_writer)),
            asyncio.create_task(pipe(up_reader, writer)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


def postgres_target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or HOST, parts.port or 5432


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def dump(value: Any) -> str:
    return json.dumps(value, default=str)[:2000]
