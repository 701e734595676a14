"""The dashboard in a real browser (Debian's headless Chromium driven by Playwright) against a
real small federation: hub and two members as `roam` processes, the dashboard as
`python -m dashboard`. Screenshots go to tests/dashboard/artifacts/ (git-ignored)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard.federation import (
    ROOT,
    MemberSpec,
    RunningFederation,
    federation,
    free_port,
)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
MEMBERS = [
    MemberSpec("Fastned", "NL", "FNC", "FNA", stations=7, seed=1, profile="hpc"),
    MemberSpec("Electra", "FR", "ELC", "ELA", stations=5, seed=3, profile="urban"),
]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install chromium"
)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFederation]:
    with federation(MEMBERS, tmp_path_factory.mktemp("federation")) as running:
        yield running


@pytest.fixture(scope="module")
def dashboard_url(fed: RunningFederation) -> Iterator[str]:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "dashboard",
        "--hub-url",
        fed.hub_url,
        "--admin-token",
        fed.admin_token,
        "--port",
        str(port),
    ]
    for member in fed.members:
        args += ["--member", f"{member.spec.name}=CPO:{member.control_url}"]
        args += ["--member", f"{member.spec.name}=EMSP:{member.app_url}"]
    log = fed_log = fed.folder / "dashboard.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "api/overview", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    text = fed_log.read_text()
                    raise RuntimeError(f"the dashboard did not start:\n{text}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def page(dashboard_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        tab = context.new_page()
        errors: list[str] = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.console_errors = errors  # type: ignore[attr-defined]
        tab.goto(dashboard_url)
        yield tab
        browser.close()


def _members(page: Any) -> dict[str, dict[str, int]]:
    rows: dict[str, dict[str, int]] = page.eval_on_selector_all(
        "#legend li",
        """items => Object.fromEntries(items.map(li => [li.dataset.member, {
            stations: +li.dataset.stations, out: +li.dataset.outOfOrder}]))""",
    )
    return rows


def _wait_for(condition: Any, within: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"{what}: not within {within} s")
        time.sleep(0.05)
    return time.monotonic() - started


def test_the_map_shows_every_station_of_every_member(page: Any) -> None:
    expected = {m.name: m.stations for m in MEMBERS}
    _wait_for(
        lambda: {k: v["stations"] for k, v in _members(page).items()} == expected,
        10,
        "the legend's station counts",
    )
    drawn = json.loads(page.get_attribute("#map", "data-drawn") or "{}")
    assert {MEMBERS[int(i)].name: n for i, n in drawn.items()} == expected
    page.wait_for_selector("#parties li[data-status=CONNECTED]")
    assert page.locator("#parties li[data-status=CONNECTED]").count() == 4
    assert page.console_errors == []


def _a_station_of(fed: RunningFederation, cpo_party: str) -> dict[str, Any]:
    answer = httpx.get(f"{fed.members[0].app_url}/app/map", params={"limit": 1000})
    return next(loc for loc in answer.json()["locations"] if f"{loc['party_id']}" == cpo_party)


def test_a_status_change_reaches_the_page_within_2_s(page: Any, fed: RunningFederation) -> None:
    _wait_for(lambda: _members(page).get("Electra", {}).get("stations") == 5, 10, "stations")
    station = _a_station_of(fed, "ELC")
    evse = station["evses"][-1]["uid"]
    before = _members(page)["Electra"]["out"]
    control = fed.members[1].control_url
    answer = httpx.post(f"{control}/control/evses/{station['id']}/{evse}/fault", json={})
    assert answer.status_code == 200, answer.text
    took = _wait_for(
        lambda: _members(page)["Electra"]["out"] == before + 1, 2.0, "the OUTOFORDER EVSE"
    )
    assert took < 2.0
    httpx.post(f"{control}/control/evses/{station['id']}/{evse}/repair", json={})
    _wait_for(lambda: _members(page)["Electra"]["out"] == before, 2.0, "the repaired EVSE")


def test_a_session_started_from_the_page_shows_in_the_message_flow(
    page: Any, fed: RunningFederation
) -> None:
    station = _a_station_of(fed, "ELC")
    page.fill("#station-search", station["id"])
    page.press("#station-search", "Enter")
    page.wait_for_selector("#start-button")
    page.wait_for_selector("#quotes table")
    quotes = page.inner_text("#quotes")
    assert "Fastned" in quotes and "Electra" in quotes and "per kWh" in quotes
    page.select_option("#start-member", "Fastned")
    page.click("#start-button")
    page.wait_for_function(
        "document.querySelector('#start-result').className !== ''", timeout=20_000
    )
    result = page.inner_text("#start-result")
    assert "ACCEPTED" in result, result
    page.wait_for_selector("#flow-modules tr[data-module=commands]", timeout=3_000)
    row = page.locator("#log-table tr[data-module=commands]").first
    row.locator("button.link").click()
    page.wait_for_selector("#trace-hops li")
    trace = page.inner_text("#trace-hops")
    assert "OCPI 1000" in trace and "Fastned" in trace and "Electra" in trace
    assert page.console_errors == []


def test_screenshots_at_desktop_and_phone_width(page: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "dashboard-1280x800.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    time.sleep(0.3)
    width = page.evaluate("document.documentElement.scrollWidth")
    widest = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > 391
                && e.parentElement.getBoundingClientRect().right <= 391)
            .map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)"""
    )
    assert width <= 390, f"the page scrolls sideways at phone width ({width} px): {widest}"
    page.screenshot(path=str(ARTIFACTS / "dashboard-390x844.png"))
    page.screenshot(path=str(ARTIFACTS / "dashboard-390x844-full.png"), full_page=True)
    assert page.console_errors == []


def _party_status(page: Any, party: str) -> str:
    """The status word the page shows for a party (the text, not the colour)."""
    text: str = page.evaluate(
        """party => {
            const li = document.querySelector(`#parties li[data-party="${party}"] .st`);
            return li ? li.textContent : '';
        }""",
        party,
    )
    return text


def test_taking_a_member_offline_shows_it_offline(page: Any, fed: RunningFederation) -> None:
    """Electra's app stops; an EVSE status change at Electra's CPO is broadcast by the hub to
    every eMSP, the delivery to Electra's app finds nobody, the hub marks the party OFFLINE
    (HubClientInfo) and the page says so in words. Started again, the app's re-sync on start
    is a sign of life: CONNECTED. Runs last: the other tests need both apps."""
    electra = fed.members[1]
    party = f"{electra.spec.country_code}/{electra.spec.emsp_party_id}"
    _wait_for(lambda: _party_status(page, party).endswith("CONNECTED"), 10, "CONNECTED first")
    fed.stop("emsp", electra)
    station = _a_station_of(fed, "ELC")
    evse = station["evses"][0]["uid"]
    control = f"{electra.control_url}/control/evses/{station['id']}/{evse}"
    try:
        assert httpx.post(f"{control}/fault", json={}).status_code == 200
        _wait_for(lambda: _party_status(page, party) == "✖ OFFLINE", 6, "Electra's app OFFLINE")
        assert (
            page.locator(f'#parties li[data-party="{party}"]').get_attribute("data-status")
            == "OFFLINE"
        )
    finally:
        httpx.post(f"{control}/repair", json={})
        fed.start("emsp", electra)
    _wait_for(lambda: _party_status(page, party) == "✔ CONNECTED", 15, "Electra's app back")
    assert page.console_errors == []
