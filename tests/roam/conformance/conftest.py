"""The conformance suite against this project's own mock members, in one event loop.

`member(role, tmp_path)` starts a mock CPO (cpo.test) or mock eMSP (emsp.test) on an
in-process network (tests/network.py), ready for a hub-initiated handshake with TOKEN_A;
`wrap` puts an ASGI mutant in front of it, `outbound` rewrites what it sends.
`conformance(member)` runs the whole suite against it (served at suite.test) and returns
the Report.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp

from cpo_mock.app import create_app as create_cpo
from cpo_mock.settings import CpoSettings
from emsp_mock.app import create_app as create_emsp
from emsp_mock.settings import EmspSettings
from ocpi.v221 import Capability, Location, Role
from roam.conformance import CheckResult, Outcome, Report, Suite, SuiteConfig, TriggerInfo
from roam.conformance.checks import Check, Phase
from roam.conformance.context import (
    Context,
    CreditHook,
    CreditInfo,
    MemberAction,
    MemberHook,
    Trigger,
)
from roam.conformance.exchange import Evidence
from tests.cpo_mock.conftest import T0, location
from tests.cpo_mock.conftest import cpo_settings as mock_cpo_settings
from tests.emsp_mock.conftest import emsp_settings as mock_emsp_settings
from tests.network import Network

TOKEN_A = "conformance-token-a"
HOSTS = {Role.CPO: "cpo.test", Role.EMSP: "emsp.test"}


def _preferences_capable(place: Location) -> Location:
    """The EVSEs that can be started remotely take charging preferences too."""
    evses = [
        evse.model_copy(
            update={"capabilities": [*evse.capabilities, Capability.CHARGING_PREFERENCES_CAPABLE]}
        )
        if evse.capabilities and Capability.REMOTE_START_STOP_CAPABLE in evse.capabilities
        else evse
        for evse in place.evses or []
    ]
    return place.model_copy(update={"evses": evses})


def cpo_settings(tmp_path: Path, **overrides: Any) -> CpoSettings:
    """The mock CPO of tests/cpo_mock waiting for a hub-initiated handshake with TOKEN_A:
    three locations updated an hour apart (the date filters have something to cut), their
    remotely startable EVSEs CHARGING_PREFERENCES_CAPABLE, X-Limit 2, a fast accelerated
    clock and simulation.auto_plug."""
    locations = [
        _preferences_capable(location(f"LOC{i}"))
        .model_copy(update={"last_updated": T0 + timedelta(hours=i)})
        .to_json()
        for i in (1, 2, 3)
    ]
    values: dict[str, Any] = {
        "hub": None,
        "accept_token_a": TOKEN_A,
        "clock": {"mode": "accelerated", "speed": 60, "start": T0, "tick": 0.05},
        "simulation": {"auto_plug": True},
        "locations": locations,
    }
    return mock_cpo_settings(tmp_path, None, **(values | overrides))


def emsp_settings(tmp_path: Path, **overrides: Any) -> EmspSettings:
    """The mock eMSP of tests/emsp_mock waiting for a hub-initiated handshake with TOKEN_A."""
    values: dict[str, Any] = {"hub": None, "accept_token_a": TOKEN_A}
    return mock_emsp_settings(tmp_path, None, **(values | overrides))


@dataclass
class Member:
    role: Role
    network: Network
    app: Any
    """The mock's FastAPI app (its service at app.state.cpo / app.state.emsp)."""

    @property
    def host(self) -> str:
        return HOSTS[self.role]


Wrap = Callable[[ASGIApp], ASGIApp]
Outbound = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


@asynccontextmanager
async def member(
    role: Role,
    tmp_path: Path,
    *,
    wrap: Wrap | None = None,
    outbound: Outbound | None = None,
    **overrides: Any,
) -> AsyncIterator[Member]:
    network = Network()
    transport: httpx.AsyncBaseTransport = network if outbound is None else outbound(network)
    http = httpx.AsyncClient(transport=transport, timeout=10)
    if role is Role.CPO:
        app = create_cpo(cpo_settings(tmp_path, **overrides), http=http)
        service: Any = app.state.cpo
    else:
        app = create_emsp(emsp_settings(tmp_path, **overrides), http=http)
        service = app.state.emsp
    network.add(HOSTS[role], wrap(app) if wrap is not None else app)
    await service.start()
    try:
        yield Member(role, network, app)
    finally:
        await service.stop()
        await http.aclose()


def app_start(network: Network, driver: str = "alice") -> Trigger:
    """The mock eMSP's app API: the driver starts charging where the suite says."""

    async def trigger(info: TriggerInfo) -> None:
        async with network.client() as client:
            answer = await client.post(
                f"http://emsp.test/app/drivers/{driver}/start",
                json={
                    "country_code": info.country_code,
                    "party_id": info.party_id,
                    "location_id": info.location_id,
                    "evse_uid": info.evse_uid,
                },
            )
            answer.raise_for_status()

    return trigger


def member_hook(target: Member) -> MemberHook:
    """The mock member's operator, through its control (CPO) or app (eMSP) API: registers
    with the suite's new invitation, or rotates its credentials."""
    api = f"http://{target.host}/" + ("control" if target.role is Role.CPO else "app")

    async def hook(action: MemberAction) -> None:
        async with target.network.client() as client:
            if action.action == "register":
                body = {"versions_url": action.versions_url, "token_a": action.token_a}
                answer = await client.post(f"{api}/register", json=body)
            else:
                answer = await client.post(f"{api}/credentials/{action.action}")
            answer.raise_for_status()

    return hook


def control_credit(network: Network) -> CreditHook:
    """The mock CPO's control API: the operator credits the CDR the suite names."""

    async def credit(info: CreditInfo) -> None:
        async with network.client() as client:
            answer = await client.post(f"http://cpo.test/control/cdrs/{info.cdr_id}/credit")
            answer.raise_for_status()

    return credit


async def conformance(target: Member, **options: Any) -> Report:
    """The whole suite against `target`, quick waits (everything is in-process). The request
    timeout is 5 s, not less: on a loaded 2-core CI machine an in-process answer once took
    more than 2 s (a page of locations), failing a check that had nothing to do with it."""
    values: dict[str, Any] = {"timeout": 5.0, "wait": 1.5, "charge_seconds": 0.1}
    values["member_hook"] = member_hook(target)
    if target.role is Role.EMSP:
        values["trigger"] = app_start(target.network)
    else:
        values["credit"] = control_credit(target.network)
    values.update(options)
    config = SuiteConfig(
        versions_url=f"http://{target.host}/ocpi/versions",
        token_a=TOKEN_A,
        role=target.role,
        public_url="http://suite.test",
        **values,
    )
    async with target.network.client() as http:
        suite = Suite(config, http)
        target.network.add("suite.test", suite.app)
        return await suite.run()


def outcomes(report: Report, outcome: Outcome) -> set[str]:
    return {r.check.id for r in report.results if r.outcome is outcome}


def explain(report: Report) -> str:
    """The report text, for assertion messages."""
    return report.render_text()


@dataclass
class Rendered:
    """The four reports of a run, each parsed back: nothing lost, nothing unreadable."""

    text: str
    junit: ET.Element
    data: dict[str, Any]
    html: str


def strict_json(text: str | bytes) -> Any:
    """json.loads that refuses NaN and Infinity (not JSON, though Python writes them);
    bytes must be UTF-8."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def rendered(report: Report) -> Rendered:
    """Every report of the run: the text, the JUnit XML, the JSON (parsed back) and the HTML."""
    text = report.render_text()
    text.encode("utf-8")  # printable on a UTF-8 terminal: no lone surrogates
    junit = ET.fromstring(report.junit_xml().encode("utf-8"))
    data = strict_json(report.json_text().encode("utf-8"))  # as the JSON file is written
    assert isinstance(data, dict)
    html = report.html_text()
    html.encode("utf-8")  # as the HTML file is written
    return Rendered(text, junit, data, html)


async def _never_run(ctx: Context) -> str | None:
    return None


def failed(check_id: str, message: str, *evidence: Evidence) -> CheckResult:
    """A failed result of a made-up check `check_id` showing `evidence`."""
    check = Check(check_id, f"title of {check_id}", "spec §0", _never_run, phase=Phase.SCAN)
    return CheckResult(check, Outcome.FAIL, message, list(evidence))


def report_of(results: list[CheckResult]) -> Report:
    """A report of those results, as a run against a CPO at member.test would give."""
    return Report(
        role="CPO",
        versions_url="http://member.test/ocpi/versions",
        suite_url="http://suite.test/ocpi/versions",
        member_party="DE/CPB",
        results=results,
        started=datetime(2025, 3, 3, 8, tzinfo=UTC),
        duration=1.0,
    )
