"""The running federation of `roam demo` and `roam scenario run`: hub and members served in one
process (docs/demo.md).

The hub and every member's CPO and eMSP run under uvicorn in this process, each on its own
127.0.0.1 port, so every OCPI message is real HTTP: the credentials handshakes, the location
and tariff broadcasts, commands, sessions, CDRs. The story driver (`roam/demo/story.py`) uses
the services' Python objects the way a person uses the control and app APIs, and steps the
CPOs' simulated clocks (deterministic: the same story gives the same prices).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

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
from ocpi.headers import PartyRef
from ocpi.v221.types import Role
from roam.federation.spec import FederationSpec, MemberSpec
from roam.serving import LoopbackServer, ServeError, free_port

Echo = Callable[[str], None]


class DemoError(RuntimeError):
    """The federation could not be brought up; the message says why."""


class Faults:
    """Faults a scenario injects into one platform's OCPI API (docs/scenarios.md): every
    request under /ocpi/ waits `delay` seconds, and with `answer` set gets that answer
    (HTTP status, OCPI status, message) instead of reaching the platform."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.delay = 0.0
        self.answer: tuple[int, int, str] | None = None

    def clear(self) -> None:
        self.delay = 0.0
        self.answer = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/ocpi/"):
            await self.app(scope, receive, send)
            return
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        if self.answer is None:
            await self.app(scope, receive, send)
            return
        http_status, ocpi_status, message = self.answer
        body = {
            "status_code": ocpi_status,
            "status_message": message,
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        await JSONResponse(body, status_code=http_status)(scope, receive, send)


class Served:
    """A platform's app served on its loopback port in this event loop, behind a Faults
    switch."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self.app = app
        self.port = port
        self.faults = Faults(app)
        self.server = LoopbackServer(self.faults, port, log_level="error")

    @property
    def running(self) -> bool:
        return self.server.running

    async def start(self, within: float = 120.0) -> None:
        try:
            await self.server.start(within)
        except ServeError as exc:
            raise DemoError(str(exc)) from None

    async def stop(self) -> None:
        await self.server.stop()


def _renewed(served: Served, build: Callable[[], FastAPI]) -> Served:
    """The server to start: `served` the first time, a fresh app on its port after a stop."""
    if served.running or not served.server.started:
        return served
    fresh = Served(build(), served.port)
    fresh.faults.delay, fresh.faults.answer = served.faults.delay, served.faults.answer
    return fresh


@dataclass
class Member:
    spec: MemberSpec
    cpo_settings: CpoSettings
    emsp_settings: EmspSettings
    cpo_served: Served = field(init=False)
    emsp_served: Served = field(init=False)

    def __post_init__(self) -> None:
        self.cpo_served = Served(create_cpo(self.cpo_settings), self.cpo_settings.port)
        self.emsp_served = Served(create_emsp(self.emsp_settings), self.emsp_settings.port)

    @property
    def online(self) -> bool:
        """Whether the member's CPO platform is up."""
        return self.cpo_served.running

    @property
    def cpo(self) -> Cpo:
        cpo: Cpo = self.cpo_served.app.state.cpo
        return cpo

    @property
    def emsp(self) -> Emsp:
        emsp: Emsp = self.emsp_served.app.state.emsp
        return emsp

    async def start_cpo(self, within: float = 120.0) -> None:
        """Start the CPO platform; a second time it is a new process on the same database
        and port (a warm start: no new handshake), faults kept."""
        self.cpo_served = _renewed(self.cpo_served, lambda: create_cpo(self.cpo_settings))
        await self.cpo_served.start(within)

    async def start_emsp(self, within: float = 120.0) -> None:
        self.emsp_served = _renewed(self.emsp_served, lambda: create_emsp(self.emsp_settings))
        await self.emsp_served.start(within)

    async def restart_cpo(self) -> None:
        await self.start_cpo()


@dataclass
class Federation:
    spec: FederationSpec
    scale: float
    folder: Path
    hub_served: Served
    members: list[Member]
    more_hubs: list[Served] = field(default_factory=list)
    """Further instances of the hub on the same PostgreSQL database (docs/hub.md "Several
    instances"); members are spread over all of them."""

    @property
    def hub(self) -> Hub:
        """The first instance: the hub's settlement, log and invitations are the same on
        every instance (one database)."""
        hub: Hub = self.hub_served.app.state.hub
        return hub

    @property
    def hubs(self) -> list[Hub]:
        return [served.app.state.hub for served in (self.hub_served, *self.more_hubs)]

    @property
    def hops_sent(self) -> int:
        """Messages the hub sent on to members, all instances together."""
        return sum(hub.hops_sent for hub in self.hubs)

    def reconfigure_hub(self, **changes: Any) -> None:
        """`Hub.reconfigure` on every instance."""
        for hub in self.hubs:
            hub.reconfigure(**changes)

    async def settle(self, rounds: int = 3) -> None:
        """Let queued pushes, results and fan-out finish."""
        for _ in range(rounds):
            jobs = [hub.drain() for hub in self.hubs]
            for member in self.members:
                if member.cpo_served.running:
                    jobs.append(member.cpo.drain())
                if member.emsp_served.running:
                    jobs.append(member.emsp.drain())
            await asyncio.gather(*jobs)
            await asyncio.sleep(0.02)

    async def step(self, seconds: float) -> None:
        """Move every running CPO's simulated clock on by `seconds`."""
        await asyncio.gather(*(m.cpo.step(seconds) for m in self.members if m.online))
        await self.settle(2)

    async def wait_synced(self, began: float, echo: Echo, within: float = 900) -> None:
        """Until every running eMSP holds every running CPO's locations and tariffs."""
        cpos = [m for m in self.members if m.online]
        emsps = [m for m in self.members if m.emsp_served.running]
        stations = {(str(m.spec.cpo), loc) for m in cpos for loc in m.cpo.locations}
        tariffs = {(str(m.spec.cpo), t) for m in cpos for t in m.cpo.tariffs}

        def held() -> tuple[int, int]:
            locs = sum(
                1
                for m in emsps
                for key in m.emsp.locations
                if (f"{key[0]}/{key[1]}", key[2]) in stations
            )
            tars = sum(
                1
                for m in emsps
                for key in m.emsp.tariffs
                if (f"{key[0]}/{key[1]}", key[2]) in tariffs
            )
            return locs, tars

        want, want_tariffs = len(stations) * len(emsps), len(tariffs) * len(emsps)
        last = time.perf_counter()
        while True:
            got, got_tariffs = held()
            if got >= want and got_tariffs >= want_tariffs:
                break
            if time.perf_counter() - began > within:
                raise DemoError(f"sync: {got}/{want} locations after {within:.0f} s")
            if time.perf_counter() - last >= 2:
                last = time.perf_counter()
                echo(
                    f"  sync {last - began:5.1f} s: locations at the eMSPs {got:,}/{want:,}, "
                    f"tariffs {got_tariffs}/{want_tariffs}, routed {self.hops_sent:,}"
                )
            await asyncio.sleep(0.1)
        await self.settle()

    async def join(self, spec: MemberSpec, echo: Echo) -> Member:
        """A new member mid-run: invited at the hub, both platforms registered through the
        handshake, its eMSP pulls what the hub holds (GET-all, as a new member does), its CPO
        publishes its network; returns once every eMSP holds everything."""
        if any(p in (m.spec.cpo, m.spec.emsp) for m in self.members for p in (spec.cpo, spec.emsp)):
            raise DemoError(f"{spec.name}: a party of it is in the federation already")
        began = time.perf_counter()
        member = await _build_member(self.hub, spec, self.scale, self.folder, self.spec.start)
        self.members.append(member)
        await member.start_emsp()
        await _wait(lambda: member.emsp.registration.peer is not None, 60, "eMSP registration")
        await member.start_cpo()
        await _wait(lambda: member.cpo.registration.peer is not None, 60, "CPO registration")
        # The new CPO's clock joins the others' (stepped clocks all read the same time).
        now = max((m.cpo.now() for m in self.members if m.online and m is not member), default=None)
        if now is not None and now > member.cpo.now():
            await member.cpo.step((now - member.cpo.now()).total_seconds())
        await self.settle()
        await member.emsp.resync()
        await self.wait_synced(began, echo, within=120)
        echo(
            f"  {spec.name} joined: CPO {spec.cpo} and eMSP {spec.emsp} registered, "
            f"{len(member.cpo.locations)} stations published, "
            f"{len(member.emsp.locations)} locations pulled ({time.perf_counter() - began:.1f} s)"
        )
        return member

    def active_sessions(self) -> int:
        return sum(len(m.cpo.open_sessions()) for m in self.members if m.online)

    def settlement(self) -> list[SettlementLine]:
        return self.hub.settlement()

    def live_line(self) -> str:
        lines = self.settlement()
        money: dict[str, Decimal] = {}
        for line in lines:
            money[line.currency] = money.get(line.currency, Decimal(0)) + line.incl_vat
        owed = ", ".join(f"{amount} {cur}" for cur, amount in sorted(money.items())) or "nothing"
        cdrs = sum(line.cdr_count for line in lines)
        online = sum(1 for m in self.members if m.online)
        return (
            f"live: routed {self.hops_sent:,} messages | active sessions "
            f"{self.active_sessions()} | CPOs online {online}/{len(self.members)} | "
            f"owed between members: {owed} ({cdrs} CDRs)"
        )

    async def stop(self) -> None:
        await asyncio.gather(*(m.cpo_served.stop() for m in self.members))
        await asyncio.gather(*(m.emsp_served.stop() for m in self.members))
        await asyncio.gather(*(served.stop() for served in self.more_hubs))
        await self.hub_served.stop()


async def _wait(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise DemoError(f"{what}: not done within {within:.0f} s")
        await asyncio.sleep(0.05)


def _start_hub(folder: Path, overrides: dict[str, Any] | None = None) -> Served:
    hub_port = free_port()
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{folder / 'hub.db'}",
        "admin_token": secrets.token_urlsafe(16),
        "still_alive_interval": 0.5,
        **(overrides or {}),
        "port": hub_port,
    }
    return Served(create_hub(HubSettings.model_validate(values)), hub_port)


async def _build_member(
    hub: Hub, spec: MemberSpec, scale: float, folder: Path, start: datetime
) -> Member:
    """Invite the member's two parties at the hub and build (not start) its platforms."""
    invites = {}
    for role, party in ((Role.CPO, spec.cpo), (Role.EMSP, spec.emsp)):
        invites[role] = (await hub.invite([(role, party)])).token
    cc = spec.country_code
    versions_url = hub.settings.versions_url
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
        }
    )
    return Member(spec, cpo_settings, emsp_settings)


async def start_federation(
    spec: FederationSpec,
    scale: float,
    folder: Path,
    echo: Echo,
    hub_overrides: dict[str, Any] | None = None,
    on_members: Callable[[Federation], Awaitable[None]] | None = None,
    hub_instances: int = 1,
) -> tuple[Federation, float]:
    """Bring up hub and members; register them all; sync. Returns the sync time in seconds.

    `hub_overrides` are HubSettings values (scenarios shorten `forward_timeout`, say);
    `hub_instances` > 1 runs that many instances of the hub on one PostgreSQL database (a
    `database_url` in `hub_overrides`), members spread over them;
    `on_members` runs once every member's URLs are known, before any registers (the demo
    starts its dashboard there, so that its URL is among the first lines printed).
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
    hub_served = _start_hub(folder, overrides)
    await hub_served.start()
    hub: Hub = hub_served.app.state.hub
    echo(f"hub {hub.ref} at {hub.settings.versions_url}")
    more_hubs: list[Served] = []

    federation: Federation | None = None
    try:
        for _ in range(hub_instances - 1):
            more_hubs.append(_start_hub(folder, overrides))
            await more_hubs[-1].start()
            echo(f"  another instance at {more_hubs[-1].app.state.hub.settings.versions_url}")
        instances: list[Hub] = [hub, *(served.app.state.hub for served in more_hubs)]
        # Members are spread over the instances: member i registers with instance i mod n.
        members = [
            await _build_member(instances[i % len(instances)], m, scale, folder, spec.start)
            for i, m in enumerate(spec.members)
        ]
        federation = Federation(spec, scale, folder, hub_served, members, more_hubs)
        if on_members is not None:
            await on_members(federation)

        # eMSPs first: they are connected when the CPOs broadcast their networks.
        await asyncio.gather(*(m.start_emsp() for m in members))
        await _wait(
            lambda: all(m.emsp.registration.peer is not None for m in members),
            60,
            "eMSP registrations",
        )
        for m in members:
            echo(f"  {m.spec.name:<10} eMSP {m.spec.emsp} registered (credentials handshake)")

        began = time.perf_counter()
        await asyncio.gather(*(m.start_cpo(within=600) for m in members))
        await _wait(
            lambda: all(m.cpo.registration.peer is not None for m in members),
            120,
            "CPO registrations",
        )
        stations = sum(len(m.cpo.locations) for m in members)
        tariffs = sum(len(m.cpo.tariffs) for m in members)
        evses = sum(len(loc.evses or []) for m in members for loc in m.cpo.locations.values())
        countries = {loc.country for m in members for loc in m.cpo.locations.values()}
        for m in members:
            echo(
                f"  {m.spec.name:<10} CPO  {m.spec.cpo} registered, publishing "
                f"{len(m.cpo.locations):,} stations"
            )
        echo(
            f"sync: {stations:,} stations, {evses:,} charge points (EVSEs) in {len(countries)} "
            f"countries, {tariffs} tariffs -> {len(members)} eMSPs through the hub"
        )
        await federation.wait_synced(began, echo)
        took = time.perf_counter() - began
        echo(
            f"sync done in {took:.1f} s: every eMSP holds {stations:,} stations and {tariffs} "
            f"tariffs ({federation.hops_sent:,} messages routed)"
        )
        return federation, took
    except BaseException:
        # Cancelled (Ctrl-C) or failed while coming up: stop what was started, in order, so
        # that no server is left for the event loop's teardown to cancel mid-lifespan.
        if federation is not None:
            await federation.stop()
        else:
            await asyncio.gather(*(served.stop() for served in more_hubs))
            await hub_served.stop()
        raise


def settlement_table(federation: Federation) -> tuple[str, bool]:
    """The table of what each eMSP owes each CPO, each member's net, and whether it balances."""
    lines = federation.settlement()
    names: dict[PartyRef, str] = {}
    for m in federation.members:
        names[m.spec.cpo] = f"{m.spec.name} CPO"
        names[m.spec.emsp] = f"{m.spec.name} app"
    out = [
        f"{'eMSP (owes)':<22} {'CPO (is owed)':<22} {'CDRs':>4} {'excl. VAT':>12} "
        f"{'incl. VAT':>12} cur"
    ]
    owed_by: dict[str, Decimal] = {}
    owed_to: dict[str, Decimal] = {}
    for line in lines:
        emsp = f"{names.get(line.emsp, '')} {line.emsp}".strip()
        cpo = f"{names.get(line.cpo, '')} {line.cpo}".strip()
        out.append(
            f"{emsp:<22} {cpo:<22} {line.cdr_count:>4} {line.excl_vat:>12.2f} "
            f"{line.incl_vat:>12.2f} {line.currency}"
        )
        owed_by[line.currency] = owed_by.get(line.currency, Decimal(0)) + line.incl_vat
        owed_to[line.currency] = owed_to.get(line.currency, Decimal(0)) + line.incl_vat
    # What eMSPs invoiced their drivers and what CPOs issued, counted on each side.
    invoiced: dict[str, Decimal] = {}
    for m in federation.members:
        for invoice in m.emsp.invoices:
            if invoice.status == "INVOICED":
                total = invoice.body.get("total") or {}
                cur = str(invoice.body.get("currency", ""))
                invoiced[cur] = invoiced.get(cur, Decimal(0)) + Decimal(
                    str(total.get("incl_vat", total.get("excl_vat", 0)))
                )
    issued: dict[str, Decimal] = {}
    for m in federation.members:
        if not m.online:
            continue
        for entry in m.cpo.cdrs.values():
            cdr = entry.cdr
            amount = cdr.total_cost.incl_vat
            value = Decimal(str(amount if amount is not None else cdr.total_cost.excl_vat))
            issued[cdr.currency] = issued.get(cdr.currency, Decimal(0)) + value
    out.append("")
    out.append("net per member (owed to its CPO minus owed by its app), incl. VAT:")
    net: dict[tuple[str, str], Decimal] = {}
    for line in lines:
        for party, sign in ((line.cpo, 1), (line.emsp, -1)):
            member = next(
                (m.spec.name for m in federation.members if party in (m.spec.cpo, m.spec.emsp)),
                str(party),
            )
            key = (member, line.currency)
            net[key] = net.get(key, Decimal(0)) + sign * line.incl_vat
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
