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

from dashboard.bench import CHROMIUM, CHROMIUM_ARGS
from tests.dashboard.federation import (
    ROOT,
    MemberSpec,
    RunningFederation,
    federation,
    free_port,
)

ARTIFACTS = Path(__file__).parent / "artifacts"
MEMBERS = [
    MemberSpec("Fastned", "NL", "FNC", "FNA", stations=7, seed=1, profile="hpc"),
    MemberSpec("Electra", "FR", "ELC", "ELA", stations=5, seed=3, profile="urban"),
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
    # The whole tariff in words, from the hub's copy (every element, with its restrictions).
    page.wait_for_selector("#quotes .tariff-full")
    full = page.inner_text("#quotes .tariff-full")
    assert "EUR/kWh" in full and "not known" not in full, full
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


def _seconds(clock: str) -> float:
    """`HH:MM:SS.fff` as the log shows it (the hub may drop trailing zeros and add `Z`)."""
    hours, minutes, seconds = clock.rstrip("Z").split(":")
    return 3600 * int(hours) + 60 * int(minutes) + float(seconds)


def _logged(page: Any, module: str, pair: str) -> list[dict[str, Any]]:
    """The page's log searched by module: the hub's outbound hops between a member pair,
    oldest first."""
    page.select_option("#log-form [name=module]", module)
    page.click("#log-form button")
    page.wait_for_function(
        """module => [...document.querySelectorAll('#log-table tbody tr')]
            .every(tr => tr.dataset.module === module)""",
        arg=module,
    )
    rows: list[dict[str, Any]] = page.eval_on_selector_all(
        "#log-table tbody tr",
        """rows => rows.map(tr => ({
            time: tr.cells[0].textContent, hop: tr.cells[1].textContent,
            pair: tr.cells[2].textContent, module: tr.dataset.module,
            request: tr.cells[4].textContent, correlation: tr.dataset.correlation}))""",
    )
    picked = [r for r in rows if r["hop"] == "outbound" and r["pair"] == pair]
    return sorted(picked, key=lambda r: _seconds(r["time"]))


def test_a_session_started_from_the_page_ends_in_a_cdr_whose_hops_the_trace_lists(
    page: Any, fed: RunningFederation
) -> None:
    """Issue 15. An Electra driver starts at a Fastned station from the page; a car plugs in
    through Fastned's control API, the driver stops through Electra's app API, and Fastned
    posts the CDR. Each hop (command, CommandResult, Session PUT/PATCH, CDR) travels under
    its own X-Correlation-ID (the sender's; the hub keeps it on the hop it forwards): the
    order is checked on the page's log searched by module, each hop's correlation trace on
    the page lists the sender's request to the hub and the hub's request to the receiver,
    with OCPI 1000, and the CDR's session link shows the whole session as one timeline."""
    fastned, electra = fed.members
    _wait_for(lambda: _members(page).get("Fastned", {}).get("stations") == 7, 10, "stations")
    station = _a_station_of(fed, "FNC")
    evse = station["evses"][0]["uid"]
    page.fill("#station-search", f"NL/FNC/{station['id']}")
    page.press("#station-search", "Enter")
    page.wait_for_selector("#start-button")
    page.select_option("#start-member", "Electra")
    page.select_option("#start-evse", evse)
    page.click("#start-button")
    page.wait_for_function(
        "document.querySelector('#start-result').className !== ''", timeout=20_000
    )
    assert "ACCEPTED" in page.inner_text("#start-result")
    control = f"{fastned.control_url}/control/evses/{station['id']}/{evse}"
    app = f"{electra.app_url}/app/drivers/driver"
    try:
        assert httpx.post(f"{control}/plug", json={}).status_code == 200
        open_sessions: list[dict[str, Any]] = []

        def started() -> bool:
            answer = httpx.get(f"{app}/sessions", params={"active": "true"})
            open_sessions[:] = answer.json()
            return bool(open_sessions)

        _wait_for(started, 10, "the session at Electra's app")
        session = open_sessions[0]["id"]
        stop = httpx.post(f"{app}/stop", json={"session_id": session, "wait": True}, timeout=30)
        assert stop.json()["result"] == "ACCEPTED", stop.text
    finally:
        httpx.post(f"{control}/unplug", json={})

    page.uncheck("#log-form [name=follow]")
    try:
        to_cpo, to_emsp = "Electra → Fastned", "Fastned → Electra"
        page.wait_for_selector("#log-form [name=module] option[value=cdrs]", state="attached")
        cdrs: list[dict[str, Any]] = []

        def cdr_logged() -> bool:
            cdrs[:] = _logged(page, "cdrs", to_emsp)
            return bool(cdrs)

        _wait_for(cdr_logged, 10, "the CDR in the page's log")

        # A command goes to the CPO's `commands/{type}`, its result to the eMSP's
        # `commands/{type}/{uid}` (the earlier page test's Fastned → Electra start is left out).
        def command(row: dict[str, Any]) -> str:
            tail: str = row["request"].split("/commands/")[1]
            return tail

        commands = [r for r in _logged(page, "commands", to_cpo) if "/" not in command(r)]
        results = [r for r in _logged(page, "commands", to_emsp) if "/" in command(r)]
        sessions = [
            r for r in _logged(page, "sessions", to_emsp) if f"/NL/FNC/{session}" in r["request"]
        ]
        assert [command(r) for r in commands] == ["START_SESSION", "STOP_SESSION"], commands
        assert [command(r).split("/")[0] for r in results] == [
            "START_SESSION",
            "STOP_SESSION",
        ], results
        assert [r["request"].split(" ")[0] for r in sessions][:1] == ["PUT"], sessions
        assert sessions[-1]["request"].startswith("PATCH"), sessions
        assert len(cdrs) == 1 and cdrs[0]["request"].startswith("POST"), cdrs
        # The log's order: START_SESSION, Session PUT, STOP_SESSION, the final PATCH, the
        # CDR. A command's result is left out: the CPO may send it before answering the
        # command, and a hop is stamped when its answer comes back (seen in CI for the
        # START_SESSION, once the hub stored its response URL before sending it on).
        order = [commands[0], sessions[0], commands[1], sessions[-1], cdrs[0]]
        times = [_seconds(r["time"]) for r in order]
        assert times == sorted(times), order
        assert _seconds(results[1]["time"]) <= times[-2]
        # Each hop's trace, picked from the log on the page.
        for hop in [*order, results[1]]:
            page.fill("#log-form [name=q]", hop["correlation"])
            page.select_option("#log-form [name=module]", "")
            page.click("#log-form button")
            page.wait_for_function(
                """id => [...document.querySelectorAll('#log-table tbody tr')]
                    .every(tr => tr.dataset.correlation === id)""",
                arg=hop["correlation"],
            )
            page.locator("#log-table tbody tr button.link").first.click()
            page.wait_for_function(
                "id => document.querySelector('#trace-id').textContent === id",
                arg=hop["correlation"],
            )
            items = page.eval_on_selector_all(
                "#trace-hops li", "lis => lis.map(li => [li.dataset.hop, li.innerText])"
            )
            # One hop is two log lines: member -> hub (inbound) and hub -> receiver (outbound).
            # The trace orders lines by their log time, and the inbound line is logged when
            # its answer went out, so either may come first (both were seen).
            assert sorted(kind for kind, _ in items) == ["inbound", "outbound"], items
            assert all("OCPI 1000" in text for _, text in items), items
            outbound = next(text for kind, text in items if kind == "outbound")
            assert hop["request"].split(" ")[1] in outbound, (hop, items)
        # The CDR's session link: the whole session as one trace, joined by the hub through
        # the session id and authorization_reference, each hop with its bodies.
        page.fill("#log-form [name=q]", cdrs[0]["correlation"])
        page.click("#log-form button")
        page.wait_for_function(
            """id => [...document.querySelectorAll('#log-table tbody tr')]
                .every(tr => tr.dataset.correlation === id)""",
            arg=cdrs[0]["correlation"],
        )
        page.locator("#log-table tbody tr button.session").first.click()
        page.wait_for_function(
            "document.querySelector('#trace').dataset.kind === 'charging session'"
        )
        assert page.inner_text("#trace-id") == session
        hops = page.eval_on_selector_all(
            "#trace-hops li",
            """lis => lis.map(li => ({label: li.dataset.label, hop: li.dataset.hop,
                text: li.innerText, request: li.querySelector('pre.request')?.textContent}))""",
        )
        labels = [h["label"] for h in hops if h["hop"] == "outbound"]
        firsts = [
            labels.index(name)
            for name in ("START_SESSION", "Session PUT", "STOP_SESSION", "CDR POST")
        ]
        assert firsts == sorted(firsts), labels
        assert {"CommandResult of START_SESSION", "CommandResult of STOP_SESSION"} <= set(labels), (
            labels
        )
        assert labels.count("CDR POST") == 1 and labels[-1] in ("CDR POST", "Session PATCH")
        assert all("OCPI 1000" in h["text"] for h in hops), hops
        cdr = next(h for h in hops if h["label"] == "CDR POST" and h["hop"] == "outbound")
        assert f'"session_id": "{session}"' in cdr["request"], cdr
        # The money view: the CDR (Fastned's copy) beside Electra's invoice for it, "equal".
        cdr_copy = next(
            e["cdr"]
            for e in httpx.get(f"{fastned.control_url}/control/cdrs").json()
            if e["cdr"]["session_id"] == session
        )
        total = f"{cdr_copy['total_cost']['incl_vat']:.2f} EUR"
        row = f'#invoices tbody tr[data-session="{session}"]'
        page.wait_for_selector(f'{row}[data-check="equal"]', timeout=10_000)
        cells = page.eval_on_selector(row, "tr => [...tr.cells].map(td => td.innerText)")
        assert cells[0].startswith(f"NL/FNC/{cdr_copy['id']}"), cells
        assert cells[1] == "Fastned → Electra", cells
        assert cells[2].startswith(total) and "INVOICED: " + total in cells[3], cells
        assert cells[4] == "✔ equal", cells
        assert "equal" in page.inner_text("#invoices tfoot"), page.inner_text("#invoices tfoot")
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#money").screenshot(path=str(ARTIFACTS / "dashboard-money.png"))
    finally:
        page.fill("#log-form [name=q]", "")
        page.select_option("#log-form [name=module]", "")
        page.check("#log-form [name=follow]")
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
