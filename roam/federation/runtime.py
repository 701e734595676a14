"""The running federation of `roam demo` and `roam scenario run` (docs/demo.md).

The hub and every member's CPO and eMSP run each as a process of its own under a Supervisor
(`processes=True`, what the commands do) or all under uvicorn in this process (the tests),
each on its own 127.0.0.1 port, so every OCPI message is real HTTP. The federation is driven
only through the platforms' own APIs (roam/federation/clients.py): the story and the
scenarios play the same in both modes, stepping the CPOs' simulated clocks (deterministic:
the same story gives the same prices).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from cpo_mock.app import create_app as create_cpo
from cpo_mock.service import Cpo
from cpo_mock.settings import CpoSettings
from emsp_mock.app import create_app as create_emsp
from emsp_mock.service import Emsp
from emsp_mock.settings import EmspSettings
from hub.app import create_app as create_hub
from hub.service import Hub
from hub.settings import HubSettings
from hub.settlement import SettlementLine
from ocpi.client import http_client
from ocpi.v221.types import Role, parse_datetime
from roam.federation.child import FAULTS_PATH, FAULTS_TOKEN_ENV
from roam.federation.clients import CpoControl, EmspApp, HubAdmin
from roam.federation.faults import Faults
from roam.federation.processes import ChildFailed, ChildSpec, Supervisor
from roam.federation.spec import FederationSpec, MemberSpec
from roam.serving import LoopbackServer, ServeError, free_port, release_port

Echo = Callable[[str], None]


class DemoError(RuntimeError):
    """The federation could not be brought up; the message says why."""


FaultAnswer = tuple[int, int, str]


class Served:
    """A platform's app served on its loopback port in this event loop, behind a Faults
    switch (the in-process mode: tests and `roam scenario run`)."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self.app = app
        self.port = port
        self.faults = Faults(app)
        self.server = LoopbackServer(self.faults, port, log_level="error")

    @property
    def running(self) -> bool:
        return self.server.running

    @property
    def fault_state(self) -> tuple[float, bool]:
        """(delay in seconds, whether a failure answer is injected)."""
        return self.faults.delay, self.faults.answer is not None

    @property
    def fault_answer(self) -> FaultAnswer | None:
        """The failure answer injected, if any."""
        return self.faults.answer

    async def switch(self, delay: float, answer: FaultAnswer | None) -> None:
        self.faults.delay, self.faults.answer = delay, answer

    async def start(self, within: float = 120.0) -> None:
        try:
            await self.server.start(within)
        except ServeError as exc:
            raise DemoError(str(exc)) from None

    async def stop(self) -> None:
        await self.server.stop()


class Child:
    """A platform run as a process of its own (`python -m roam.federation.child`), under the
    federation's Supervisor; its fault switches are set over HTTP (`POST /_faults`)."""

    def __init__(
        self,
        supervisor: Supervisor,
        http: httpx.AsyncClient,
        name: str,
        kind: str,
        config: Path,
        port: int,
        log: Path,
    ) -> None:
        self.supervisor = supervisor
        self.http = http
        self.name = name
        self.port = port
        self.token = secrets.token_urlsafe(16)
        self.spec = ChildSpec(
            name=name,
            argv=[sys.executable, "-m", "roam.federation.child", kind, str(config)],
            ready_url=f"http://127.0.0.1:{port}/ocpi/versions",
            log=log,
            env={FAULTS_TOKEN_ENV: self.token},
        )
        self._delay = 0.0
        self._answer: FaultAnswer | None = None

    @property
    def running(self) -> bool:
        return self.supervisor.running(self.name)

    @property
    def fault_state(self) -> tuple[float, bool]:
        return self._delay, self._answer is not None

    @property
    def fault_answer(self) -> FaultAnswer | None:
        return self._answer

    async def switch(self, delay: float, answer: FaultAnswer | None) -> None:
        self._delay, self._answer = delay, answer
        if self.running:
            await self._send_switches()

    async def _send_switches(self) -> None:
        body = {"delay": self._delay, "answer": list(self._answer) if self._answer else None}
        response = await self.http.post(
            f"http://127.0.0.1:{self.port}{FAULTS_PATH}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        if response.status_code != 200:
            raise DemoError(f"{self.name}: fault switches refused: {response.text}")

    async def start(self, within: float = 120.0) -> None:
        """Start the process (again: the same database and port, a warm start), faults kept."""
        release_port(self.port)
        try:
            await self.supervisor.start(self.spec, within)
        except ChildFailed as exc:
            raise DemoError(str(exc)) from None
        if self._delay or self._answer:
            await self._send_switches()

    async def stop(self) -> None:
        """Stop the process if there is one (a platform never started, say because another
        failed first while the federation came up, has nothing to stop)."""
        if self.supervisor.pid(self.name) is not None:
            await self.supervisor.stop(self.name)


Platform = Served | Child


def _renewed(served: Platform, build: Callable[[], FastAPI]) -> Platform:
    """The server to start: `served` the first time (or a process: it is started again), a
    fresh app on its port after a stop."""
    if isinstance(served, Child) or served.running or not served.server.started:
        return served
    fresh = Served(build(), served.port)
    fresh.faults.delay, fresh.faults.answer = served.faults.delay, served.faults.answer
    return fresh


@dataclass
class Member:
    spec: MemberSpec
    cpo_settings: CpoSettings
    emsp_settings: EmspSettings
    cpo_served: Platform
    emsp_served: Platform
    control: CpoControl
    """The CPO's control API (the physical world and its clock)."""
    app: EmspApp
    """The eMSP's app API (what its drivers do and see)."""

    @property
    def online(self) -> bool:
        """Whether the member's CPO platform is up."""
        return self.cpo_served.running

    @property
    def cpo(self) -> Cpo:
        """The CPO service object (in-process mode only)."""
        served = self.cpo_served
        if not isinstance(served, Served):
            raise DemoError(f"{self.spec.name} CPO runs as a process: use its control API")
        cpo: Cpo = served.app.state.cpo
        return cpo

    @property
    def emsp(self) -> Emsp:
        """The eMSP service object (in-process mode only)."""
        served = self.emsp_served
        if not isinstance(served, Served):
            raise DemoError(f"{self.spec.name} eMSP runs as a process: use its app API")
        emsp: Emsp = served.app.state.emsp
        return emsp

    async def start_cpo(self, within: float = 120.0) -> None:
        """Start the CPO platform; a second time it is a new instance on the same database
        and port (a warm start: no new handshake), faults kept."""
        self.cpo_served = _renewed(self.cpo_served, lambda: create_cpo(self.cpo_settings))
        await self.cpo_served.start(within)

    async def start_emsp(self, within: float = 120.0) -> None:
        self.emsp_served = _renewed(self.emsp_served, lambda: create_emsp(self.emsp_settings))
        await self.emsp_served.start(within)

    async def restart_cpo(self) -> None:
        await self.start_cpo()

    async def registered(self) -> tuple[bool, bool]:
        """Whether its (CPO, eMSP) platforms have registered with the hub; a platform that is
        not running counts as not registered."""
        cpo = self.cpo_served.running and bool((await self.control.state())["registered"])
        emsp = self.emsp_served.running and bool((await self.app.state())["registered"])
        return cpo, emsp


@dataclass
class Federation:
    spec: FederationSpec
    scale: float
    folder: Path
    hub_served: Platform
    members: list[Member]
    http: httpx.AsyncClient
    """The client the story and the federation's own calls use (owned here)."""
    admins: list[HubAdmin]
    """The admin API of every hub instance."""
    launcher: Launcher
    """Where new platforms run (a member joining mid-run)."""
    more_hubs: list[Platform] = field(default_factory=list)
    """Further instances of the hub on the same PostgreSQL database (docs/hub.md "Several
    instances"); members are spread over all of them."""
    supervisor: Supervisor | None = None
    """With platforms as processes: their supervisor (None in the in-process mode)."""
    hub_url: str = ""
    """The first instance's public URL."""

    @property
    def admin(self) -> HubAdmin:
        return self.admins[0]

    @property
    def hub(self) -> Hub:
        """The first instance's service object (in-process mode only): the hub's settlement,
        log and invitations are the same on every instance (one database)."""
        if not isinstance(self.hub_served, Served):
            raise DemoError("the hub runs as a process: use its admin API")
        hub: Hub = self.hub_served.app.state.hub
        return hub

    @property
    def hubs(self) -> list[Hub]:
        """Every instance's service object (in-process mode only)."""
        found = []
        for served in (self.hub_served, *self.more_hubs):
            if not isinstance(served, Served):
                raise DemoError("the hub runs as a process: use its admin API")
            found.append(served.app.state.hub)
        return found

    async def hops_sent(self) -> int:
        """Messages the hub sent on to members, all instances together."""
        return sum(await asyncio.gather(*(admin.hops_sent() for admin in self.admins)))

    async def versions(self) -> dict[str, str]:
        """The OCPI version each registered party's platform speaks, as the hub has it (its
        admin API, every instance): party ("NL/FNA") -> version."""
        found: dict[str, str] = {}
        for rows in await asyncio.gather(*(admin.parties() for admin in self.admins)):
            for row in rows:
                if row.get("version"):
                    found[f"{row['country_code']}/{row['party_id']}"] = str(row["version"])
        return found

    async def reconfigure_hub(self, **changes: Any) -> None:
        """Change live hub settings (hub/settings.py LIVE_SETTINGS) on every instance, through
        its admin API (`PATCH /admin/settings`)."""
        await asyncio.gather(*(admin.reconfigure(**changes) for admin in self.admins))

    async def settle(self, rounds: int = 3) -> None:
        """Let queued pushes, results and fan-out finish: every running platform is asked to
        drain (the hub's admin API, the CPOs' control and the eMSPs' app APIs)."""
        for round_ in range(rounds):
            if round_:
                await asyncio.sleep(0.02)  # what the last round's answers set off
            jobs = [admin.drain() for admin in self.admins]
            for member in self.members:
                if member.cpo_served.running:
                    jobs.append(member.control.drain())
                if member.emsp_served.running:
                    jobs.append(member.app.drain())
            await asyncio.gather(*jobs)

    async def step(self, seconds: float) -> None:
        """Move every running CPO's simulated clock on by `seconds`."""
        await asyncio.gather(*(m.control.step(seconds) for m in self.members if m.online))
        await self.settle(2)

    async def _holdings(self) -> tuple[int, int, list[tuple[Member, int, int]]]:
        """(locations, tariffs) the running CPOs publish, and (eMSP member, locations,
        tariffs held) of each running eMSP."""
        cpos = [m for m in self.members if m.online]
        emsps = [m for m in self.members if m.emsp_served.running]
        published = await asyncio.gather(*(m.control.state() for m in cpos))
        holding = await asyncio.gather(*(m.app.state() for m in emsps))
        return (
            sum(int(s["locations"]) for s in published),
            sum(int(s["tariffs"]) for s in published),
            [
                (m, int(h["locations"]), int(h["tariffs"]))
                for m, h in zip(emsps, holding, strict=True)
            ],
        )

    async def held(self) -> tuple[int, int, int, int]:
        """(locations, tariffs) the running CPOs publish times the running eMSPs, and what
        those eMSPs hold: (wanted locations, held, wanted tariffs, held)."""
        locations, tariffs, holding = await self._holdings()
        return (
            locations * len(holding),
            sum(min(held, locations) for _, held, _ in holding),
            tariffs * len(holding),
            sum(min(held, tariffs) for _, _, held in holding),
        )

    async def missing(self) -> str:
        """Which running eMSPs lack locations or tariffs, in words."""
        locations, tariffs, holding = await self._holdings()
        short = [
            f"{m.spec.emsp} holds {held}/{locations} locations, {held_t}/{tariffs} tariffs"
            for m, held, held_t in holding
            if held < locations or held_t < tariffs
        ]
        return "; ".join(short) or "every eMSP holds everything now"

    async def wait_synced(
        self,
        began: float,
        echo: Echo,
        within: float = 900,
        progress: bool = False,
        stalled: float = 60,
    ) -> None:
        """Until every running eMSP holds every running CPO's locations and tariffs (the
        eMSPs hold only what the federation's CPOs publish: counts are compared). Progress
        is a line every 2 s, or with `progress` a bar on the terminal (rich) with the
        deliveries per second and the time left. DemoError, naming which eMSP lacks what,
        after `within` seconds, or once nothing more arrived for `stalled` seconds."""
        bar = SyncBar() if progress else None
        last = moved = time.perf_counter()
        seen = (-1, -1)
        try:
            while True:
                want, got, want_tariffs, got_tariffs = await self.held()
                now = time.perf_counter()
                if bar is not None:
                    bar.show(got + got_tariffs, want + want_tariffs, now - began)
                if got >= want and got_tariffs >= want_tariffs:
                    break
                if (got, got_tariffs) != seen:
                    seen, moved = (got, got_tariffs), now
                if now - began > within or now - moved > stalled:
                    why = (
                        f"after {within:.0f} s"
                        if now - began > within
                        else (f"no progress for {stalled:g} s")
                    )
                    raise DemoError(
                        f"sync: {got}/{want} locations, {got_tariffs}/{want_tariffs} tariffs "
                        f"{why}; {await self.missing()}"
                    )
                if bar is None and time.perf_counter() - last >= 2:
                    last = time.perf_counter()
                    echo(
                        f"  sync {last - began:5.1f} s: locations at the eMSPs {got:,}/{want:,}, "
                        f"tariffs {got_tariffs}/{want_tariffs}, routed {await self.hops_sent():,}"
                    )
                await asyncio.sleep(0.2)
        finally:
            if bar is not None:
                bar.close()
        await self.settle()

    async def join(self, spec: MemberSpec, echo: Echo) -> Member:
        """A new member mid-run: invited at the hub, both platforms registered through the
        handshake, its eMSP pulls what the hub holds (GET-all, as a new member does), its CPO
        publishes its network; returns once every eMSP holds everything. Through the
        platforms' HTTP APIs only (in this process or as processes of their own)."""
        if any(p in (m.spec.cpo, m.spec.emsp) for m in self.members for p in (spec.cpo, spec.emsp)):
            raise DemoError(f"{spec.name}: a party of it is in the federation already")
        began = time.perf_counter()
        member = await _build_member(self.launcher, self.admin, self.hub_url, spec)
        self.members.append(member)
        await member.start_emsp()

        async def registered(which: int) -> bool:
            return (await member.registered())[which]

        await _wait_for(lambda: registered(1), 60, "eMSP registration")
        await member.start_cpo()
        await _wait_for(lambda: registered(0), 60, "CPO registration")
        # The new CPO's clock joins the others' (stepped clocks all read the same time).
        others = [m for m in self.members if m.online and m is not member]
        clocks = await asyncio.gather(*(m.control.now() for m in others))
        if clocks:
            behind = max(map(parse_datetime, clocks)) - parse_datetime(await member.control.now())
            if behind.total_seconds() > 0:
                await member.control.step(behind.total_seconds())
        await self.settle()
        await member.app.resync()
        await self.wait_synced(began, echo, within=120)
        published, pulled = await asyncio.gather(member.control.state(), member.app.state())
        echo(
            f"  {spec.name} joined: CPO {spec.cpo} and eMSP {spec.emsp} registered, "
            f"{published['locations']} stations published, "
            f"{pulled['locations']} locations pulled ({time.perf_counter() - began:.1f} s)"
        )
        return member

    async def active_sessions(self) -> int:
        states = await asyncio.gather(*(m.control.state() for m in self.members if m.online))
        return sum(int(s["open_sessions"]) for s in states)

    def settlement(self) -> list[SettlementLine]:
        """The hub's settlement (in-process mode only; `settlement_lines` over HTTP)."""
        return self.hub.settlement()

    async def live_line(self) -> str:
        lines = await self.admin.settlement()
        money: dict[str, Decimal] = {}
        for line in lines:
            cur = str(line["currency"])
            money[cur] = money.get(cur, Decimal(0)) + Decimal(str(line["incl_vat"]))
        owed = ", ".join(f"{amount} {cur}" for cur, amount in sorted(money.items())) or "nothing"
        cdrs = sum(int(line["cdr_count"]) for line in lines)
        online = sum(1 for m in self.members if m.online)
        return (
            f"live: routed {await self.hops_sent():,} messages | active sessions "
            f"{await self.active_sessions()} | CPOs online {online}/{len(self.members)} | "
            f"owed between members: {owed} ({cdrs} CDRs)"
        )

    async def stop(self) -> None:
        await asyncio.gather(*(m.cpo_served.stop() for m in self.members))
        await asyncio.gather(*(m.emsp_served.stop() for m in self.members))
        await asyncio.gather(*(served.stop() for served in self.more_hubs))
        await self.hub_served.stop()
        if self.supervisor is not None:
            await self.supervisor.stop_all()
        await self.http.aclose()


async def _wait_for(condition: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise DemoError(f"{what}: not done within {within:.0f} s")
        await asyncio.sleep(0.1)


class SyncBar:
    """The sync's progress on a terminal: deliveries done of all, per second, time left."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("  sync"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("deliveries, {task.fields[rate]} per s"),
            TimeRemainingColumn(),
            transient=True,
        )
        self.task = self.progress.add_task("sync", total=None, rate="-")
        self.progress.start()

    def show(self, done: int, total: int, elapsed: float) -> None:
        rate = f"{done / elapsed:,.0f}" if elapsed > 0 else "-"
        self.progress.update(self.task, completed=done, total=total, rate=rate)

    def close(self) -> None:
        self.progress.stop()


class Launcher:
    """Where the federation's platforms run: in this process (`supervisor` None) or each as
    a process of its own under `supervisor`, its log in `folder`/logs."""

    def __init__(
        self,
        folder: Path,
        http: httpx.AsyncClient,
        supervisor: Supervisor | None,
        scale: float,
        start: datetime,
    ) -> None:
        self.folder = folder
        self.http = http
        self.supervisor = supervisor
        self.scale = scale
        self.start = start

    def platform(
        self, name: str, kind: str, settings: HubSettings | CpoSettings | EmspSettings
    ) -> Platform:
        if self.supervisor is None:
            if isinstance(settings, HubSettings):
                return Served(create_hub(settings), settings.port)
            if isinstance(settings, CpoSettings):
                return Served(create_cpo(settings), settings.port)
            return Served(create_emsp(settings), settings.port)
        slug = name.lower().replace(" ", "-")
        config = self.folder / f"{slug}.json"
        config.write_text(json.dumps(settings.model_dump(mode="json"), indent=1))
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        return Child(
            self.supervisor, self.http, name, kind, config, settings.port, logs / f"{slug}.log"
        )


def _hub_settings(folder: Path, overrides: dict[str, Any]) -> HubSettings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{folder / 'hub.db'}",
        "admin_token": secrets.token_urlsafe(16),
        "still_alive_interval": 0.5,
        **overrides,
        "port": free_port(),
    }
    return HubSettings.model_validate(values)


async def _build_member(
    launcher: Launcher, admin: HubAdmin, hub_url: str, spec: MemberSpec
) -> Member:
    """Invite the member's two parties at the hub and build (not start) its platforms."""
    folder, scale, start = launcher.folder, launcher.scale, launcher.start
    invites = {}
    for role, party in ((Role.CPO, spec.cpo), (Role.EMSP, spec.emsp)):
        invites[role] = await admin.invite(role, party)
    cc = spec.country_code
    versions_url = f"{hub_url}/ocpi/versions"
    network: dict[str, Any] = {
        "stations": spec.stations_at(scale),
        "seed": spec.seed,
        "profile": spec.profile,
    }
    if spec.countries:
        network["countries"] = spec.countries
    cpo_settings = CpoSettings.model_validate(
        {
            "country_code": cc,
            "party_id": spec.cpo_party_id,
            "name": spec.name,
            "port": free_port(),
            "database_url": f"sqlite:///{folder / f'cpo-{cc}-{spec.cpo_party_id}.db'}",
            "hub": {"versions_url": versions_url, "token_a": invites[Role.CPO]},
            "clock": {"mode": "stepped", "start": start},
            "network": network,
            "tariffs": spec.tariffs,
            "locations": spec.locations,
            "shutdown_grace": 2.0,
            "control_token": secrets.token_urlsafe(12),
            "version": spec.cpo_ocpi_version,
        }
    )
    emsp_settings = EmspSettings.model_validate(
        {
            "country_code": cc,
            "party_id": spec.emsp_party_id,
            "name": f"{spec.name} app",
            "port": free_port(),
            "database_url": f"sqlite:///{folder / f'emsp-{cc}-{spec.emsp_party_id}.db'}",
            "hub": {"versions_url": versions_url, "token_a": invites[Role.EMSP]},
            "command_timeout": 30,
            "drivers": spec.drivers(),
            "app_token": secrets.token_urlsafe(12),
            "version": spec.emsp_ocpi_version,
        }
    )
    http = launcher.http
    return Member(
        spec,
        cpo_settings,
        emsp_settings,
        launcher.platform(f"{spec.name} CPO", "cpo", cpo_settings),
        launcher.platform(f"{spec.name} eMSP", "emsp", emsp_settings),
        CpoControl(http, cpo_settings.public_url, cpo_settings.control_token),
        EmspApp(http, emsp_settings.public_url, emsp_settings.app_token),
    )


async def start_federation(
    spec: FederationSpec,
    scale: float,
    folder: Path,
    echo: Echo,
    hub_overrides: dict[str, Any] | None = None,
    on_members: Callable[[Federation], Awaitable[None]] | None = None,
    hub_instances: int = 1,
    processes: bool = False,
    on_registered: Callable[[Federation], None] | None = None,
    progress: bool = False,
) -> tuple[Federation, float]:
    """Bring up hub and members; register them all; sync. Returns the sync time in seconds.

    With `processes`, the hub and every member's CPO and eMSP run as processes of their own
    (roam/federation/child.py) under a Supervisor, each logging to `folder`/logs; otherwise
    all in this process.
    `hub_overrides` are HubSettings values (scenarios shorten `forward_timeout`, say);
    `hub_instances` > 1 runs that many instances of the hub on one PostgreSQL database (a
    `database_url` in `hub_overrides`), members spread over them;
    `on_members` runs once every member's URLs are known, before any registers (the demo
    starts its dashboard there, so that its URL is among the first lines printed);
    `on_registered` the moment every platform has registered, where the sync time starts
    (`roam bench sync` reads the processes' CPU there); `progress` shows the sync as a
    progress bar (a terminal) instead of a line every 2 s.
    """
    overrides = dict(hub_overrides or {})
    if hub_instances > 1:
        database_url = str(overrides.get("database_url", ""))
        if not database_url.startswith(("postgresql", "postgres:")):
            raise DemoError(
                f"{hub_instances} hub instances need a PostgreSQL database_url (instances share "
                "one database; SQLite is one process)"
            )
    overrides.setdefault("admin_token", secrets.token_urlsafe(16))
    http = http_client(60.0)
    supervisor = Supervisor() if processes else None
    launcher = Launcher(folder, http, supervisor, scale, spec.start)
    hub_settings = [_hub_settings(folder, overrides) for _ in range(hub_instances)]
    servers = [
        launcher.platform("hub" if i == 0 else f"hub {i + 1}", "hub", s)
        for i, s in enumerate(hub_settings)
    ]
    admins = [HubAdmin(http, s.public_url, s.admin_token) for s in hub_settings]
    federation = Federation(
        spec,
        scale,
        folder,
        servers[0],
        [],
        http,
        admins,
        launcher,
        servers[1:],
        supervisor,
        hub_settings[0].public_url,
    )
    try:
        await servers[0].start()
        echo(f"hub EU/HUB at {hub_settings[0].versions_url}")
        for server, settings in zip(servers[1:], hub_settings[1:], strict=True):
            await server.start()
            echo(f"  another instance at {settings.versions_url}")
        # Members are spread over the instances: member i registers with instance i mod n.
        for i, member_spec in enumerate(spec.members):
            at = i % hub_instances
            federation.members.append(
                await _build_member(launcher, admins[at], hub_settings[at].public_url, member_spec)
            )
        members = federation.members
        if on_members is not None:
            await on_members(federation)

        # eMSPs first: they are connected when the CPOs broadcast their networks.
        await asyncio.gather(*(m.start_emsp() for m in members))

        async def emsps_registered() -> bool:
            return all(done[1] for done in await asyncio.gather(*(m.registered() for m in members)))

        await _wait_for(emsps_registered, 60, "eMSP registrations")
        versions = await federation.versions()
        for m in members:
            echo(
                f"  {m.spec.name:<10} eMSP {m.spec.emsp} registered "
                f"(OCPI {versions.get(str(m.spec.emsp), '?')}, credentials handshake)"
            )

        await asyncio.gather(*(m.start_cpo(within=600) for m in members))

        async def cpos_registered() -> bool:
            return all(done[0] for done in await asyncio.gather(*(m.registered() for m in members)))

        await _wait_for(cpos_registered, 120, "CPO registrations")
        # The sync is timed from here: every platform registered (each CPO began publishing
        # the moment it had registered).
        began = time.perf_counter()
        if on_registered is not None:
            on_registered(federation)
        states = await asyncio.gather(*(m.control.state() for m in members))
        versions = await federation.versions()
        stations = sum(int(s["locations"]) for s in states)
        tariffs = sum(int(s["tariffs"]) for s in states)
        evses = sum(int(s["evses"]) for s in states)
        countries = len({c for s in states for c in s["countries"]})
        for m, state in zip(members, states, strict=True):
            echo(
                f"  {m.spec.name:<10} CPO  {m.spec.cpo} registered (OCPI "
                f"{versions.get(str(m.spec.cpo), '?')}), publishing "
                f"{int(state['locations']):,} stations"
            )
        echo(
            f"sync: {stations:,} stations, {evses:,} charge points (EVSEs) in {countries} "
            f"countries, {tariffs} tariffs -> {len(members)} eMSPs through the hub"
        )
        await federation.wait_synced(began, echo, progress=progress)
        took = time.perf_counter() - began
        echo(
            f"sync done in {took:.1f} s: every eMSP holds {stations:,} stations and {tariffs} "
            f"tariffs ({await federation.hops_sent():,} messages routed)"
        )
        return federation, took
    except BaseException:
        # Cancelled (Ctrl-C) or failed while coming up: stop what was started, in order, so
        # that no server is left for the event loop's teardown to cancel mid-lifespan.
        await federation.stop()
        raise


async def settlement_table(federation: Federation) -> tuple[str, bool]:
    """The table of what each eMSP owes each CPO, each member's net, and whether it balances:
    the hub's settlement (admin API), what the eMSPs invoiced their drivers (app APIs) and
    what the CPOs issued (control APIs), counted on each side."""
    lines = await federation.admin.settlement()
    names: dict[str, str] = {}
    for m in federation.members:
        names[str(m.spec.cpo)] = f"{m.spec.name} CPO"
        names[str(m.spec.emsp)] = f"{m.spec.name} app"
    out = [
        f"{'eMSP (owes)':<22} {'CPO (is owed)':<22} {'CDRs':>4} {'excl. VAT':>12} "
        f"{'incl. VAT':>12} cur"
    ]
    owed_by: dict[str, Decimal] = {}
    owed_to: dict[str, Decimal] = {}
    for line in lines:
        emsp = f"{names.get(line['emsp'], '')} {line['emsp']}".strip()
        cpo = f"{names.get(line['cpo'], '')} {line['cpo']}".strip()
        cur, incl = str(line["currency"]), Decimal(str(line["incl_vat"]))
        out.append(
            f"{emsp:<22} {cpo:<22} {line['cdr_count']:>4} "
            f"{Decimal(str(line['excl_vat'])):>12.2f} {incl:>12.2f} {cur}"
        )
        owed_by[cur] = owed_by.get(cur, Decimal(0)) + incl
        owed_to[cur] = owed_to.get(cur, Decimal(0)) + incl
    invoiced: dict[str, Decimal] = {}
    for m in federation.members:
        if not m.emsp_served.running:
            continue
        for driver in m.spec.drivers():
            for invoice in await m.app.invoices(driver["id"]):
                if invoice["status"] == "INVOICED":
                    total = invoice.get("total") or {}
                    cur = str(invoice.get("currency", ""))
                    invoiced[cur] = invoiced.get(cur, Decimal(0)) + Decimal(
                        str(total.get("incl_vat", total.get("excl_vat", 0)))
                    )
    issued: dict[str, Decimal] = {}
    for m in federation.members:
        if not m.online:
            continue
        # A CPO on 2.1.1 sends costs excluding VAT only (its CDRs carry no incl_vat): what it
        # issued through the hub is its excl. VAT total, whatever VAT it priced internally.
        vatless = m.spec.cpo_ocpi_version == "2.1.1"
        for entry in await m.control.cdrs():
            cdr = entry["cdr"]
            total_cost = cdr["total_cost"]
            amount = total_cost["excl_vat"] if vatless else total_cost.get("incl_vat")
            amount = total_cost["excl_vat"] if amount is None else amount
            issued[cdr["currency"]] = issued.get(cdr["currency"], Decimal(0)) + Decimal(str(amount))
    out.append("")
    out.append("net per member (owed to its CPO minus owed by its app), incl. VAT:")
    net: dict[tuple[str, str], Decimal] = {}
    for line in lines:
        for party, sign in ((line["cpo"], 1), (line["emsp"], -1)):
            member = next(
                (
                    m.spec.name
                    for m in federation.members
                    if party in (str(m.spec.cpo), str(m.spec.emsp))
                ),
                str(party),
            )
            key = (member, str(line["currency"]))
            net[key] = net.get(key, Decimal(0)) + sign * Decimal(str(line["incl_vat"]))
    for (member, cur), amount in sorted(net.items()):
        out.append(f"  {member:<22} {amount:>+12.2f} {cur}")
    balanced = owed_by == owed_to and sum(net.values(), Decimal(0)) == 0
    for cur in sorted(set(owed_by) | set(invoiced) | set(issued)):
        a, b = owed_by.get(cur, Decimal(0)), owed_to.get(cur, Decimal(0))
        c, d = invoiced.get(cur, Decimal(0)), issued.get(cur, Decimal(0))
        ok = a == b == c == d
        balanced = balanced and ok
        out.append(
            f"{cur}: owed by eMSPs {a} = owed to CPOs {b} = invoiced to drivers {c} = "
            f"CDRs issued {d}: {'balances' if ok else 'DOES NOT BALANCE'}"
        )
    return "\n".join(out), balanced


@contextlib.contextmanager
def demo_folder(keep: Path | None) -> Generator[Path, None, None]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for old in keep.glob("*.db*"):
            old.unlink()
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="roam-demo-") as folder:
        yield Path(folder)
