"""A small real federation for the dashboard's browser tests: `roam hub serve`, and per member
`roam cpo run` and `roam emsp run`, each its own OS process on a free loopback port.

Only the command line and the public HTTP APIs are used (hub admin API, control API, app
API), the same interfaces the dashboard reads, so moving modules inside the services does
not break these tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "dashboard-test-admin"


@dataclass(frozen=True)
class MemberSpec:
    name: str
    country_code: str
    cpo_party_id: str
    emsp_party_id: str
    stations: int
    seed: int
    profile: str = "hpc"


@dataclass
class RunningMember:
    spec: MemberSpec
    control_url: str
    app_url: str
    configs: dict[str, Path] = field(default_factory=dict)
    """`cpo` / `emsp`: the TOML config each platform was started with."""


@dataclass
class RunningFederation:
    hub_url: str
    admin_token: str
    members: list[RunningMember]
    folder: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    by_platform: dict[tuple[str, str], subprocess.Popen[bytes]] = field(default_factory=dict)
    """(`cpo` | `emsp`, member name) -> its current process."""

    def stop(self, kind: str, member: RunningMember) -> None:
        """Stop one platform's process (the platform goes away as in an outage)."""
        process = self.by_platform[(kind, member.spec.name)]
        process.terminate()
        process.wait(timeout=10)

    def start(self, kind: str, member: RunningMember) -> None:
        """Start a stopped platform again on its config and database (a warm start: no new
        handshake); returns once its API answers."""
        log = self.folder / f"{kind}-{member.spec.name}.log"
        process = _start([kind, "run", "--config", str(member.configs[kind])], log, append=True)
        self.processes.append(process)
        self.by_platform[(kind, member.spec.name)] = process
        ready = f"{member.app_url}/app/state"
        if kind == "cpo":
            ready = f"{member.control_url}/control/state"
        _wait(ready, process, log, 60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(args: list[str], log: Path, *, append: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab" if append else "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "roam", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer:\n{log.read_text()}") from None
            time.sleep(0.1)


def _cpo_config(spec: MemberSpec, port: int, folder: Path, hub: str, token_a: str) -> str:
    return f"""
[cpo]
country_code = "{spec.country_code}"
party_id = "{spec.cpo_party_id}"
name = "{spec.name}"
port = {port}
database_url = "sqlite:///{folder / f"cpo-{spec.cpo_party_id}.db"}"
shutdown_grace = 1.0

[hub]
versions_url = "{hub}/ocpi/versions"
token_a = "{token_a}"

[clock]
mode = "real"

[network]
stations = {spec.stations}
seed = {spec.seed}
profile = "{spec.profile}"
"""


def _emsp_config(spec: MemberSpec, port: int, folder: Path, hub: str, token_a: str) -> str:
    cc, pid = spec.country_code, spec.emsp_party_id
    return f"""
[emsp]
country_code = "{cc}"
party_id = "{pid}"
name = "{spec.name} app"
port = {port}
database_url = "sqlite:///{folder / f"emsp-{pid}.db"}"
command_timeout = 20

[hub]
versions_url = "{hub}/ocpi/versions"
token_a = "{token_a}"

[[drivers]]
id = "driver"
name = "{spec.name} driver"
tokens = [{{uid = "APP-{pid}-1", type = "APP_USER", contract_id = "{cc}-{pid}-C1"}}]
"""


def _invite(hub: str, role: str, cc: str, pid: str) -> str:
    answer = httpx.post(
        f"{hub}/admin/invitations",
        json={"parties": [{"role": role, "country_code": cc, "party_id": pid}]},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    answer.raise_for_status()
    token: str = answer.json()["data"]["token"]
    return token


def _wait_synced(members: list[RunningMember], stations: int, within: float) -> None:
    deadline = time.monotonic() + within
    for member in members:
        while True:
            state = httpx.get(f"{member.app_url}/app/state", timeout=5).json()
            if state.get("locations") == stations:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{member.spec.name}'s app holds {state}, not {stations}")
            time.sleep(0.1)


@contextmanager
def federation(members: list[MemberSpec], folder: Path) -> Iterator[RunningFederation]:
    """Hub and members up, registered, every eMSP holding every station; stopped after."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        hub_port = free_port()
        hub = f"http://127.0.0.1:{hub_port}"
        hub_log = folder / "hub.log"
        process = _start(
            [
                "hub",
                "serve",
                "--port",
                str(hub_port),
                "--database-url",
                f"sqlite:///{folder / 'hub.db'}",
                "--admin-token",
                ADMIN_TOKEN,
                # An OFFLINE platform is retried every second: back to CONNECTED quickly.
                "--still-alive-interval",
                "1",
            ],
            hub_log,
        )
        processes.append(process)
        _wait(f"{hub}/ocpi/versions", process, hub_log, 30)
        urls: dict[tuple[str, str], str] = {}
        configs: dict[tuple[str, str], Path] = {}
        by_platform: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        started: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        # eMSPs first, so that they are connected when the CPOs broadcast their networks.
        for kind in ("emsp", "cpo"):
            for spec in members:
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                urls[(kind, spec.name)] = base
                if kind == "emsp":
                    token = _invite(hub, "EMSP", spec.country_code, spec.emsp_party_id)
                    text = _emsp_config(spec, port, folder, hub, token)
                    ready = f"{base}/app/state"
                else:
                    token = _invite(hub, "CPO", spec.country_code, spec.cpo_party_id)
                    text = _cpo_config(spec, port, folder, hub, token)
                    ready = f"{base}/control/state"
                config = folder / f"{kind}-{spec.name}.toml"
                config.write_text(text, encoding="utf-8")
                configs[(kind, spec.name)] = config
                log = folder / f"{kind}-{spec.name}.log"
                process = _start([kind, "run", "--config", str(config)], log)
                processes.append(process)
                by_platform[(kind, spec.name)] = process
                started.append((ready, process, log))
            for ready, process, log in started:
                _wait(ready, process, log, 60)
            started.clear()
        running = [
            RunningMember(
                spec,
                urls[("cpo", spec.name)],
                urls[("emsp", spec.name)],
                {kind: configs[(kind, spec.name)] for kind in ("cpo", "emsp")},
            )
            for spec in members
        ]
        _wait_synced(running, sum(spec.stations for spec in members), within=60)
        yield RunningFederation(hub, ADMIN_TOKEN, running, folder, processes, by_platform)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
