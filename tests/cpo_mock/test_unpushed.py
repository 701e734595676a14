"""Acknowledged means kept: a status change the CPO answered reaches the hub even when the
process dies (or the hub is away) before the hub answers its PATCH — the next start PUTs the
location as it is (docs/cpo_mock.md "What the hub has not acknowledged survives a kill")."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from cpo_mock import deliveries, link
from cpo_mock.app import create_app
from cpo_mock.service import Cpo
from tests.cpo_mock.conftest import Federation
from tests.processes import free_port, running


def _location_puts(fed: Federation, location_id: str) -> list[dict[str, Any]]:
    """The Location PUTs the eMSP got through the hub."""
    return [
        r.body
        for r in fed.emsp.received
        if r.method == "PUT" and r.path.endswith(f"/locations/DE/CPB/{location_id}")
    ]


def _status(location: dict[str, Any], evse_uid: str) -> str:
    return str(next(e["status"] for e in location["evses"] if e["uid"] == evse_uid))


async def _unpushed(fed: Federation) -> int:
    state = (await fed.control("GET", "/state")).json()
    return int(state["unpushed"])


async def _start_again(fed: Federation) -> None:
    """A new CPO process on the same database, the old one not stopped (as after kill -9)."""
    fed.cpo_app = create_app(fed.settings, http=fed.network.client())
    fed.network.add("cpo.test", fed.cpo_app)
    await fed.cpo.start()
    await fed.settle()


async def test_a_change_whose_patch_was_cut_off_by_a_kill_is_put_after_the_restart(
    fed: Federation,
) -> None:
    assert await _unpushed(fed) == 0, "the initial publish was acknowledged"
    fed.cpo.write_acknowledged()  # as a second after it (written in batches)
    await fed.cpo.writer.commit()
    puts_before = len(_location_puts(fed, "LOC1"))
    fed.network.delay["hub.test"] = 3600  # the hub never answers the PATCH
    answer = await fed.control("POST", "/evses/LOC1/DC1/fault", {"kind": "OUTOFORDER"})
    assert answer.status_code == 200, answer.text  # acknowledged to the caller
    assert await _unpushed(fed) == 1
    old: Cpo = fed.cpo
    await asyncio.sleep(0.05)  # the PATCH is on its way, and stuck

    del fed.network.delay["hub.test"]
    await _start_again(fed)
    puts = _location_puts(fed, "LOC1")
    assert len(puts) == puts_before + 1, "the location was PUT again at start-up"
    assert _status(puts[-1], "DC1") == "OUTOFORDER"
    assert _location_puts(fed, "LOC2")[1:] == [], "only the unacknowledged location is sent"
    assert await _unpushed(fed) == 0
    old.settings.shutdown_grace = 0
    await old.stop()


async def test_a_change_the_unreachable_hub_missed_is_put_at_the_next_start(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(link, "BROADCAST_RETRY_DELAY", 0.001)
    fed.network.down.add("hub.test")
    answer = await fed.control("POST", "/evses/LOC1/AC1/fault", {"kind": "INOPERATIVE"})
    assert answer.status_code == 200, answer.text
    await fed.cpo.drain()  # three attempts, all refused: the mark stays
    assert await _unpushed(fed) == 1
    fed.network.down.discard("hub.test")

    await fed.restart_cpo()  # a graceful stop keeps the mark too
    await fed.settle()
    assert _status(_location_puts(fed, "LOC1")[-1], "AC1") == "INOPERATIVE"
    assert await _unpushed(fed) == 0


async def test_a_change_the_unreachable_hub_missed_is_put_again_while_running(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No restart needed: a few seconds after the hub is back, the CPO PUTs the location
    whose PATCH went unanswered (docs/cpo_mock.md)."""
    monkeypatch.setattr(link, "BROADCAST_RETRY_DELAY", 0.001)
    monkeypatch.setattr(deliveries, "PUSH_AGAIN_FIRST_S", 0.05)
    await fed.restart_cpo()  # its timer now runs on the short pause
    await fed.settle()
    fed.network.down.add("hub.test")
    answer = await fed.control("POST", "/evses/LOC1/AC1/fault", {"kind": "INOPERATIVE"})
    assert answer.status_code == 200, answer.text
    await fed.cpo.drain()  # three attempts, all refused
    state = (await fed.control("GET", "/state")).json()
    assert (state["unpushed"], state["unanswered"]) == (1, 1)
    puts_before = len(_location_puts(fed, "LOC1"))
    await asyncio.sleep(0.3)  # rounds while the hub is still away: they fail too
    assert len(_location_puts(fed, "LOC1")) == puts_before
    fed.network.down.discard("hub.test")

    for _ in range(200):  # the pause doubles after each failed round: 0.05 -> 0.8 s at most
        await asyncio.sleep(0.05)
        await fed.settle()
        if len(_location_puts(fed, "LOC1")) > puts_before:
            break
    puts = _location_puts(fed, "LOC1")
    assert len(puts) > puts_before, "the location was PUT again without a restart"
    assert _status(puts[-1], "AC1") == "INOPERATIVE"
    state = (await fed.control("GET", "/state")).json()
    assert (state["unpushed"], state["unanswered"]) == (0, 0)


async def test_an_answered_patch_of_another_evse_keeps_a_lost_change_marked(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The marks are per location, the PATCHes per EVSE: EVSE AC1's PATCH is lost, then
    DC1's is answered. The location stays marked (DC1's PATCH does not carry AC1's status)
    and is PUT as a whole, here at the next start."""
    monkeypatch.setattr(link, "BROADCAST_RETRY_DELAY", 0.001)
    monkeypatch.setattr(deliveries, "PUSH_AGAIN_FIRST_S", 3600.0)
    await fed.restart_cpo()
    await fed.settle()
    fed.network.down.add("hub.test")
    await fed.control("POST", "/evses/LOC1/AC1/fault", {"kind": "INOPERATIVE"})
    await fed.cpo.drain()
    fed.network.down.discard("hub.test")
    await fed.control("POST", "/evses/LOC1/DC1/fault", {"kind": "OUTOFORDER"})
    await fed.settle()
    fed.cpo.write_acknowledged()
    await fed.cpo.writer.commit()
    assert await _unpushed(fed) == 1
    assert [module for module, _, _ in await asyncio.to_thread(fed.cpo.store.load_unpushed)] == [
        "locations"
    ]

    await fed.restart_cpo()
    await fed.settle()
    location = _location_puts(fed, "LOC1")[-1]
    assert (_status(location, "AC1"), _status(location, "DC1")) == ("INOPERATIVE", "OUTOFORDER")
    assert await _unpushed(fed) == 0


async def test_acknowledged_pushes_leave_no_mark_behind(fed: Federation) -> None:
    """Every answered broadcast clears its mark in the database too: a restart sends nothing
    the hub already has (else every start would PUT the whole network again)."""
    for _ in range(3):
        await fed.control("POST", "/evses/LOC2/DC1/fault", {"kind": "OUTOFORDER"})
        await fed.control("POST", "/evses/LOC2/DC1/repair")
    await fed.settle()
    fed.cpo.write_acknowledged()
    await fed.cpo.writer.commit()
    assert await asyncio.to_thread(fed.cpo.store.load_unpushed) == []
    received = len(fed.emsp.received)
    await fed.restart_cpo()
    await fed.settle()
    assert [r for r in fed.emsp.received[received:] if r.method == "PUT"] == []


async def test_a_later_change_keeps_its_mark_when_an_earlier_one_is_acknowledged(
    fed: Federation,
) -> None:
    """The acknowledgement of version n removes the mark only if no later change raised it."""
    state = fed.cpo
    first = state.next_push_version()
    later = state.next_push_version()
    await asyncio.to_thread(state.store.mark_unpushed, [("locations", "LOC1", later)])
    state.unpushed[("locations", "LOC1")] = later
    state.pushed("locations", "LOC1", first)
    state.write_acknowledged()
    await state.writer.commit()
    assert state.unpushed == {("locations", "LOC1"): later}
    assert await asyncio.to_thread(state.store.load_unpushed) == [("locations", "LOC1", later)]


# --- the same with real processes and kill -9 --------------------------------------------------

CPO_CONFIG = """\
[cpo]
country_code = "DE"
party_id = "CPB"
name = "Spark Test"
port = {port}
database_url = "sqlite:///cpo.db"

[hub]
versions_url = "{hub}/ocpi/versions"
token_a = "{token}"

[clock]
mode = "stepped"

[network]
stations = 2
countries = ["DE"]
"""


def _roam(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "roam", *args], cwd=folder, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _invite(folder: Path, party: str, database_url: str) -> dict[str, str]:
    answer = _roam(
        folder, "hub", "invite", "--json", "--party", party, "--database-url", database_url
    )
    invitation: dict[str, str] = json.loads(answer)
    return invitation


def _emsp_locations(emsp: str) -> dict[str, dict[str, Any]]:
    state = httpx.get(f"{emsp}/_control/state", timeout=10).json()
    return {location["id"]: location for location in state["locations"]}


def _eventually(check: Callable[[], bool], within: float = 20) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_change_acknowledged_before_a_kill_9_reaches_the_emsp_after_the_restart(
    tmp_path: Path,
) -> None:
    """The hub is down while the CPO acknowledges a status change; the CPO is killed with
    SIGKILL while it still tries to send it. Both come back: the eMSP gets the change."""
    hub_port, cpo_port, emsp_port = free_port(), free_port(), free_port()
    hub, cpo, emsp = (f"http://127.0.0.1:{p}" for p in (hub_port, cpo_port, emsp_port))
    hub_db = f"sqlite:///{tmp_path / 'hub.db'}"
    serve_hub = ["roam", "hub", "serve", "--port", str(hub_port), "--database-url", hub_db]
    double = ["tests.doubles.member", "--role", "EMSP", "--party", "NL/EMA"]
    with ExitStack() as stack:
        hub_process = stack.enter_context(running(serve_hub, f"{hub}/ocpi/versions", cwd=tmp_path))
        stack.enter_context(running([*double, "--port", str(emsp_port)], f"{emsp}/_control/state"))
        invitation = _invite(tmp_path, "EMSP:NL/EMA", hub_db)
        registered = httpx.post(
            f"{emsp}/_control/register",
            json={"versions_url": invitation["versions_url"], "token": invitation["token"]},
            timeout=30,
        )
        assert registered.status_code == 200, registered.text
        token = _invite(tmp_path, "CPO:DE/CPB", hub_db)["token"]
        config = CPO_CONFIG.format(port=cpo_port, hub=hub, token=token)
        (tmp_path / "cpo.toml").write_text(config, encoding="utf-8")
        serve_cpo = ["roam", "cpo", "run", "--config", "cpo.toml"]
        cpo_process = stack.enter_context(running(serve_cpo, f"{cpo}/control/state", cwd=tmp_path))
        assert _eventually(lambda: len(_emsp_locations(emsp)) == 2), "the initial publish"
        location_id = sorted(_emsp_locations(emsp))[0]
        evse_uid = _emsp_locations(emsp)[location_id]["evses"][0]["uid"]
        assert _status(_emsp_locations(emsp)[location_id], evse_uid) == "AVAILABLE"

        hub_process.terminate()
        hub_process.wait(timeout=10)
        fault = httpx.post(
            f"{cpo}/control/evses/{location_id}/{evse_uid}/fault",
            json={"kind": "OUTOFORDER"},
            timeout=10,
        )
        assert fault.status_code == 200, fault.text  # acknowledged; the PATCH cannot leave
        cpo_process.send_signal(signal.SIGKILL)
        cpo_process.wait(timeout=10)

        stack.enter_context(running(serve_hub, f"{hub}/ocpi/versions", cwd=tmp_path))
        stack.enter_context(running(serve_cpo, f"{cpo}/control/state", cwd=tmp_path))
        arrived = _eventually(
            lambda: _status(_emsp_locations(emsp)[location_id], evse_uid) == "OUTOFORDER"
        )
        assert arrived, "the change the CPO acknowledged before it was killed never arrived"
