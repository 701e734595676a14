"""The command against a member that fails something in every group of checks (issue 18): all
four reports (text, JUnit, JSON, HTML) are complete and the run ends with exit 1, never a
traceback; the HTML report renders every failed check in headless Chromium.

Data-driven over the suite and the report: the groups are those of `checks_for(role)`, a group
without a chosen mutant gets the first mutant of MUTANTS that breaks one of its checks, and
every check the JSON lists must be in the other three reports.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.types import ASGIApp
from typer.testing import CliRunner

from dashboard.bench import CHROMIUM, CHROMIUM_ARGS
from ocpi.v221 import Role
from roam.cli import app as roam_app
from roam.conformance import CheckResult, Outcome, Suite, SuiteConfig, checks_for, cli
from roam.conformance.jsonsafe import printable
from roam.conformance.report import Report
from tests.roam.conformance.conftest import (
    HOSTS,
    TOKEN_A,
    failed,
    member,
    member_hook,
    report_of,
    strict_json,
)
from tests.roam.conformance.test_mutants import MUTANTS as BASE_MUTANTS
from tests.roam.conformance.test_mutants import Mutant
from tests.roam.conformance.test_mutants_lifecycle import MUTANTS as LIFECYCLE_MUTANTS
from tests.roam.conformance.test_mutants_money import MUTANTS as MONEY_MUTANTS
from tests.roam.conformance.test_mutants_smart import MUTANTS as SMART_MUTANTS

MUTANTS = [*BASE_MUTANTS, *LIFECYCLE_MUTANTS, *SMART_MUTANTS, *MONEY_MUTANTS]
"""Every group's mutants (each group's test file keeps its own list)."""

CHOSEN = {
    Role.EMSP: (
        "registration.token_a_refused",  # an eMSP mutant (a patch of the shared platform kit)
        "transport.member_authorization",  # sends raw tokens (the member -> suite evidence)
        "pagination.date_filters",
        "emsp.authorize_unknown",  # (not cdr_location_header: money.credit_received needs it)
        "load.x_limit",
        "load.authorize_time",
    ),
    Role.CPO: (
        "registration.token_a_refused",
        "transport.routing_answers",
        "pagination.link",
        "cpo.unknown_location",
        "reservation.cancel",  # (a reserve_now mutant would skip every profiles check)
        "profiles.clear",
        "load.pagination_under_change",
    ),
}
"""Mutants known to combine (none hides another's check); other groups get MUTANTS' first."""


def mutants_for(role: Role) -> list[Mutant]:
    """One mutant or more per group of the role's checks."""
    chosen = [m for m in MUTANTS if m.breaks in CHOSEN[role]]
    groups = {c.group for c in checks_for(role)}
    for group in sorted(groups - {m.breaks.split(".")[0] for m in chosen}):
        extra = [m for m in MUTANTS if m.role is role and m.breaks.split(".")[0] == group]
        if not extra:
            pytest.fail(f"no {role.value} mutant in MUTANTS fails a check of group {group}")
        chosen.append(extra[0])
    return chosen


def _served_in_process(
    tmp_path: Path, role: Role, chosen: list[Mutant]
) -> Callable[[SuiteConfig, socket.socket], Awaitable[Report]]:
    """run_served for the CLI: the suite and a member broken by every chosen mutant on the
    in-process network (the suite at the host of --public-url), with the mutants' options."""

    def wrap(app: ASGIApp) -> ASGIApp:
        for mutant in chosen:
            app = mutant.wrap(app) if mutant.wrap is not None else app
        return app

    def send(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        for mutant in chosen:
            inner = mutant.outbound(inner) if mutant.outbound is not None else inner
        return inner

    async def run(config: SuiteConfig, sock: socket.socket) -> Report:
        for mutant in chosen:
            config = dataclasses.replace(config, **mutant.options)
        async with (
            member(role, tmp_path, wrap=wrap, outbound=send) as target,
            target.network.client() as http,
        ):
            # The member's operator, as --member-command gives it (the lifecycle checks).
            suite = Suite(dataclasses.replace(config, member_hook=member_hook(target)), http)
            target.network.add(urlsplit(config.public_url).hostname or "", suite.app)
            return await suite.run()

    return run


@dataclass
class Run:
    role: Role
    exit_code: int
    output: str
    exception: BaseException | None
    junit: Path
    json: Path
    html: Path


@pytest.fixture(scope="module", params=[Role.EMSP, Role.CPO], ids=["EMSP", "CPO"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    role: Role = request.param
    folder = tmp_path_factory.mktemp(f"every-group-{role.value}")
    chosen = mutants_for(role)
    with pytest.MonkeyPatch.context() as patch:
        for mutant in chosen:
            if mutant.patch is not None:
                mutant.patch(patch)
        patch.setattr(cli, "run_served", _served_in_process(folder, role, chosen))
        files = [folder / "junit.xml", folder / "report.json", folder / "report.html"]
        result = CliRunner().invoke(
            roam_app,
            ["conformance", "--versions-url", f"http://{HOSTS[role]}/ocpi/versions",
             "--token", TOKEN_A, "--role", role.value, "--timeout", "2", "--wait", "1.5",
             "--charge-seconds", "0.1", "--junit", str(files[0]), "--json", str(files[1]),
             "--html", str(files[2])],
        )  # fmt: skip
    return Run(role, result.exit_code, result.output, result.exception, *files)


class Elements(HTMLParser):
    """The text of every element carrying data-check (a row or a failure section)."""

    VOID = frozenset({"br", "meta", "hr", "img", "input", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str, str]] = []
        """(tag, data-check, data-outcome, text)."""
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.attributes: set[str] = set()
        self.style: list[str] = []
        """The text of every <style> element."""
        self._in_style = False
        self._open: list[tuple[int, str, dict[str, str | None], list[str]]] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        named = dict(attrs)
        self.attributes.update(named)
        self._in_style = tag == "style"
        if "href" in named:
            self.hrefs.append(named["href"] or "")
        if tag in self.VOID:
            return
        self._depth += 1
        if "data-check" in named:
            self._open.append((self._depth, tag, named, []))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False
        if tag in self.VOID:
            return
        if self._open and self._open[-1][0] == self._depth:
            _, name, attrs, text = self._open.pop()
            joined = " ".join("".join(text).split())
            check, outcome = attrs["data-check"] or "", attrs["data-outcome"] or ""
            self.found.append((name, check, outcome, joined))
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style.append(data)
        for entry in self._open:
            entry[3].append(data)


def _flat(text: str) -> str:
    return " ".join(printable(text).split())


def test_every_report_is_complete_and_the_run_exits_1(run: Run) -> None:
    assert run.exit_code == 1, run.output
    assert run.exception is None or isinstance(run.exception, SystemExit), run.exception
    assert "Traceback" not in run.output
    data = strict_json(run.json.read_text(encoding="utf-8"))
    checks = data["checks"]
    assert [c["id"] for c in checks] == [c.id for c in checks_for(run.role)]
    failures = [c for c in checks if c["outcome"] == "FAIL"]
    groups = {c.group for c in checks_for(run.role)}
    assert {c["group"] for c in failures} == groups, run.output  # something fails in every group
    assert {m.breaks for m in mutants_for(run.role)} <= {c["id"] for c in failures}, run.output
    summary = data["summary"]
    assert summary["failed"] == len(failures) and summary["checks"] == len(checks)

    # text: every check with its outcome; every failure with its spec and its requests
    for entry in checks:
        assert f"{entry['outcome']}  {entry['id']}" in run.output
    for entry in failures:
        assert f"spec: {entry['spec']}" in run.output
        for shown in entry["evidence"]:
            if shown["request"].get("url"):
                assert shown["request"]["url"] in run.output
    line = f"{len(checks)} checks: {summary['passed']} passed, {len(failures)} failed, "
    assert line in run.output

    # JUnit: one testcase per check, the failures with their message and spec
    cases = {c.get("name"): c for c in ET.parse(run.junit).getroot().iter("testcase")}
    assert list(cases) == [c["id"] for c in checks]
    for entry in checks:
        case = cases[entry["id"]]
        failure, skipped = case.find("failure"), case.find("skipped")
        assert (failure is not None, skipped is not None) == (
            entry["outcome"] == "FAIL",
            entry["outcome"] == "SKIP",
        )
        if failure is not None:
            assert failure.get("message") == entry["message"]
            assert f"spec: {entry['spec']}" in (failure.text or "")

    # HTML: one row per check, one section per failure with message, spec and requests
    page = Elements()
    page.feed(run.html.read_text(encoding="utf-8"))
    rows = [(check, outcome) for tag, check, outcome, _ in page.found if tag == "tr"]
    assert rows == [(c["id"], c["outcome"]) for c in checks]
    sections = {check: text for tag, check, _, text in page.found if tag == "section"}
    assert list(sections) == [c["id"] for c in failures]
    for entry in failures:
        text = sections[entry["id"]]
        assert _flat(entry["message"]) in text and _flat(entry["spec"]) in text
        for shown in entry["evidence"]:
            if shown["request"].get("url"):
                assert _flat(shown["request"]["url"]) in text
            if isinstance(shown["response"], dict):
                assert f"HTTP {shown['response']['status']}" in text
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(page.tags)
    assert all(href.startswith("#") for href in page.hrefs)  # self-contained: no asset, no link
    # No attribute loads anything and no CSS url(): the evidence's own text may say
    # "response_url=…" (escaped text, not markup).
    assert not {"src", "srcset", "data", "poster"} & page.attributes
    assert not re.search(r"url\s*\(", "".join(page.style))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install chromium")
def test_the_html_report_renders_every_failed_check_in_chromium(run: Run) -> None:
    from playwright.sync_api import sync_playwright

    data = strict_json(run.json.read_text(encoding="utf-8"))
    failures = [c for c in data["checks"] if c["outcome"] == "FAIL"]
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page()
            tab.on("request", lambda r: requested.append(r.url))
            tab.goto(run.html.as_uri())
            shown: dict[str, Any] = tab.eval_on_selector_all(
                "section.failure",
                """items => Object.fromEntries(items.map(s => [s.dataset.check, {
                    text: s.innerText, height: s.getBoundingClientRect().height}]))""",
            )
            groups: dict[str, str] = tab.eval_on_selector_all(
                "table.groups tr[data-group]",
                "rows => Object.fromEntries(rows.map(r => [r.dataset.group, r.innerText]))",
            )
        finally:
            browser.close()
    assert requested == [run.html.as_uri()]  # nothing but the page itself
    assert list(shown) == [c["id"] for c in failures]
    for entry in failures:
        section = shown[entry["id"]]
        assert section["height"] > 0
        text = " ".join(section["text"].split())
        assert _flat(entry["message"]) in text and _flat(entry["spec"]) in text
        for evidence in entry["evidence"]:
            if evidence["request"].get("url"):
                assert _flat(evidence["request"]["url"]) in text
    assert set(groups) == {c.group for c in checks_for(run.role)}
    assert all("FAIL" in row for row in groups.values())


def test_the_realtime_limit_option_reaches_the_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[SuiteConfig] = []

    async def run(config: SuiteConfig, sock: socket.socket) -> Report:
        seen.append(config)
        raise RuntimeError("stop here")

    monkeypatch.setattr(cli, "run_served", run)
    arguments = ["conformance", "--versions-url", "http://x/ocpi/versions", "--token", "A",
                 "--role", "EMSP"]  # fmt: skip
    CliRunner().invoke(roam_app, [*arguments, "--realtime-limit", "0.3"])
    CliRunner().invoke(roam_app, arguments)
    assert [c.realtime_limit for c in seen] == [0.3, 3.0]


def test_a_run_without_failures_says_so_in_html() -> None:
    passed = failed("x.fine", "")
    report = report_of([CheckResult(passed.check, Outcome.PASS, "all <good>")])
    page = report.html_text()
    assert "<p>No check failed.</p>" in page and "Failures (0)" in page
    assert "<span class='verdict PASS'>PASS</span></h1>" in page
    assert "all &lt;good&gt;" in page
