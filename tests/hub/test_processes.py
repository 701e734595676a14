"""End to end over real HTTP on loopback: `roam hub serve` (invited with `roam hub invite`) and
two separately started OCPI 2.2.1 platforms that nobody in the hub wrote (tests/doubles).

This is the only test that drives the hub's production forwarding engine (aiohttp).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.doubles import factories as f
from tests.processes import free_port, running


@dataclass
class Processes:
    hub: str
    cpo: str
    emsp: str
    database_url: str
    tmp_path: Path


def _roam(tmp_path: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "roam", *args], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _member(role: str, party: str, port: int) -> list[str]:
    return ["tests.doubles.member", "--role", role, "--party", party, "--port", str(port)]


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    ports = [free_port() for _ in range(3)]
    hub = f"http://127.0.0.1:{ports[0]}"
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    with ExitStack() as stack:
        stack.enter_context(
            running(
                ["roam", "hub", "serve", "--port", str(ports[0]), "--database-url", db],
                f"{hub}/ocpi/versions",
                cwd=tmp_path,
            )
        )
        cpo = f"http://127.0.0.1:{ports[1]}"
        emsp = f"http://127.0.0.1:{ports[2]}"
        stack.enter_context(running(_member("CPO", "DE/CPB", ports[1]), f"{cpo}/_control/state"))
        stack.enter_context(running(_member("EMSP", "NL/EMA", ports[2]), f"{emsp}/_control/state"))
        yield Processes(hub, cpo, emsp, db, tmp_path)


def _act(member: str, action: str, **args: Any) -> Any:
    response = httpx.post(f"{member}/_control/{action}", json=args, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def _state(member: str) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{member}/_control/state", timeout=10).json()
    return state


def _eventually(check: Any, within: float = 10) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def onboard(p: Processes) -> None:
    """`roam hub invite` for each member (the URL comes from the serving hub's database), then
    the member-initiated handshake."""
    for member, party in ((p.cpo, "CPO:DE/CPB"), (p.emsp, "EMSP:NL/EMA")):
        invitation = json.loads(
            _roam(
                p.tmp_path,
                "hub",
                "invite",
                "--json",
                "--party",
                party,
                "--database-url",
                p.database_url,
            )
        )
        _act(member, "register", versions_url=invitation["versions_url"], token=invitation["token"])
    assert _eventually(lambda: len(_state(p.cpo)["client_info"]) == 1)


def test_two_independent_platforms_roam_through_a_served_hub(processes: Processes) -> None:
    p = processes
    onboard(p)

    # Tariff and location broadcast.
    assert _act(p.cpo, "push_tariff", tariff=f.tariff().to_json())["status_code"] == 1000
    for i in range(3):
        location = f.location(f"LOC{i}").to_json()
        assert _act(p.cpo, "push_location", location=location)["status_code"] == 1000
    assert _eventually(lambda: len(_state(p.emsp)["locations"]) == 3)
    assert _state(p.emsp)["tariffs"][0]["id"] == "12"

    # Direct EVSE status PATCH and a token push.
    _act(
        p.cpo,
        "patch_evse_status",
        location_id="LOC0",
        evse_uid="3256",
        status="CHARGING",
        to="NL/EMA",
    )
    evses = {loc["id"]: loc["evses"][0]["status"] for loc in _state(p.emsp)["locations"]}
    assert evses["LOC0"] == "CHARGING"
    _act(p.emsp, "push_token", token=f.token(uid="RFID-9").to_json())
    assert _eventually(lambda: _state(p.cpo)["tokens"])

    # A paginated location GET through the hub (the CPO pages 2 at a time).
    pages = _act(p.emsp, "get_all", module="locations", to="DE/CPB")["pages"]
    assert [len(page) for page in pages] == [2, 1]
    page_gets = [
        r for r in _state(p.cpo)["received"] if r["method"] == "GET" and "/locations" in r["path"]
    ]
    assert [r["query"].get("offset") for r in page_gets] == [None, "2"]

    # START_SESSION with its asynchronous result.
    started = _act(
        p.emsp,
        "start_session",
        location_id="LOC0",
        evse_uid="3256",
        token=f.token().to_json(),
        to="DE/CPB",
    )
    assert started["response"]["result"] == "ACCEPTED"
    uid = started["uid"]
    assert _eventually(lambda: uid in _state(p.emsp)["command_results"])

    # Session PUT and PATCH, then a CDR.
    _act(p.cpo, "put_session", session=f.session().to_json())
    _act(p.cpo, "patch_session", session_id="S-1001", changes={"kwh": 12.5, "status": "COMPLETED"})
    [session] = _state(p.emsp)["sessions"]
    assert (session["kwh"], session["status"]) == (12.5, "COMPLETED")
    location_url = _act(p.cpo, "post_cdr", cdr=f.cdr().to_json())["location"]
    assert location_url.startswith(f"{p.hub}/ocpi/2.2.1/receiver/cdrs/")
    assert _state(p.emsp)["cdrs"][0]["id"] == "CDR-1001"

    # The settlement command reads what the running hub stored.
    time.sleep(0.2)  # the batch writer's interval
    csv_text = _roam(p.tmp_path, "hub", "settlement", "--database-url", p.database_url)
    assert csv_text.splitlines()[1].startswith("NL/EMA,DE/CPB,EUR,1,")
