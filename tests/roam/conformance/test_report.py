"""The report (text, JUnit XML, JSON) and the suite's own robustness: a member that hangs or
answers garbage fails the check cleanly, a check that blows up fails without a traceback,
and the command line exits 1 when something failed, 2 on bad options."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from typer.testing import CliRunner, Result

from ocpi.v221 import Role
from roam.cli import app as roam_app
from roam.conformance import Outcome, Suite, SuiteConfig, checks_for, cli
from roam.conformance.checks import Check, Phase
from roam.conformance.context import Context
from roam.conformance.report import Report
from tests.processes import free_port
from tests.roam.conformance.conftest import (
    conformance,
    explain,
    failed,
    member,
    outcomes,
    report_of,
    strict_json,
)
from tests.roam.conformance.mutants import Answer, rewrite


def _no_location_header(answer: Answer) -> None:
    if answer.method == "POST" and answer.path.endswith("/cdrs"):
        answer.headers.pop("location", None)


@pytest.fixture
async def failed_report(tmp_path: Path) -> Report:
    async with member(Role.EMSP, tmp_path, wrap=rewrite(_no_location_header)) as emsp:
        return await conformance(emsp, trigger=None)


def test_junit_has_one_testcase_per_check_with_failures_and_skips(failed_report: Report) -> None:
    root = ET.fromstring(failed_report.junit_xml())
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c.id for c in checks_for(Role.EMSP)]
    assert suite.get("tests") == str(len(cases))
    assert (suite.get("failures"), suite.get("skipped")) == ("1", "3")
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["emsp.cdr_location_header"]
    failure = failed[0].find("failure")
    assert failure is not None and failure.text is not None
    assert "no Location header" in (failure.get("message") or "")
    assert "spec: mod_cdrs.asciidoc §10.2.2.2 POST Method" in failure.text
    assert "suite -> member: POST http://emsp.test/ocpi/emsp/2.2.1/cdrs" in failure.text
    skipped = [c.get("name") for c in cases if c.find("skipped") is not None]
    assert skipped == ["emsp.command_sent", "emsp.command_result", "money.credit_received"]
    spec = failed[0].find("properties/property[@name='spec']")
    assert spec is not None and "mod_cdrs" in (spec.get("value") or "")


def test_json_carries_the_request_and_response_of_a_failure(failed_report: Report) -> None:
    data = json.loads(failed_report.json_text())
    count = len(checks_for(Role.EMSP))
    assert data["summary"] == {"checks": count, "passed": count - 4, "failed": 1, "skipped": 3}
    (failed,) = [c for c in data["checks"] if c["outcome"] == "FAIL"]
    assert failed["id"] == "emsp.cdr_location_header" and failed["spec"].startswith("mod_cdrs")
    (evidence,) = failed["evidence"]
    assert evidence["request"]["method"] == "POST"
    assert '"id":"CONF-CDR' in evidence["request"]["body"]
    assert evidence["response"]["status"] == 201
    assert "location" not in {name.lower() for name in evidence["response"]["headers"]}
    assert evidence["request"]["headers"]["Authorization"].endswith("…")  # token not shown


def test_the_text_report_names_the_check_the_spec_and_the_exchange(
    failed_report: Report,
) -> None:
    text = failed_report.render_text()
    assert "FAIL  emsp.cdr_location_header" in text
    assert "spec: mod_cdrs.asciidoc §10.2.2.2 POST Method" in text
    assert "< HTTP 201" in text
    count = len(checks_for(Role.EMSP))
    assert text.endswith(f"{count} checks: {count - 4} passed, 1 failed, 3 skipped" + text[-8:])
    assert failed_report.exit_code == 1


async def test_a_member_that_hangs_fails_cleanly(tmp_path: Path) -> None:
    async with member(Role.CPO, tmp_path) as cpo:
        cpo.network.delay["cpo.test"] = 1.0
        report = await conformance(cpo, timeout=0.2)
    versions = report.results[0]
    assert (versions.check.id, versions.outcome) == ("registration.versions", Outcome.FAIL)
    assert "no answer within 0.2 s (timeout)" in versions.message
    assert outcomes(report, Outcome.FAIL) == {"registration.versions"}, explain(report)
    assert "needs registration.versions (FAIL)" in report.results[1].message


def _garbage(app: ASGIApp) -> ASGIApp:
    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await PlainTextResponse("<html>it works!</html>")(scope, receive, send)
        else:
            await app(scope, receive, send)

    return answer


async def test_a_member_that_answers_garbage_fails_cleanly(tmp_path: Path) -> None:
    async with member(Role.EMSP, tmp_path, wrap=_garbage) as emsp:
        report = await conformance(emsp)
    failed = {r.check.id: r.message for r in report.failed}
    assert set(failed) == {
        "registration.versions",
        "transport.envelope",
        "transport.request_ids",  # the garbage echoes no ids either
    }, explain(report)
    assert "body that is not JSON" in failed["registration.versions"]


async def test_a_check_that_blows_up_fails_without_stopping_the_run(tmp_path: Path) -> None:
    async def broken(ctx: Context) -> str | None:
        raise ZeroDivisionError("a member answer nobody foresaw")

    async def fine(ctx: Context) -> str | None:
        return "still ran"

    from roam.conformance import SuiteConfig

    config = SuiteConfig("http://nowhere.test/ocpi/versions", "A", Role.CPO, "http://suite.test")
    async with member(Role.CPO, tmp_path) as cpo, cpo.network.client() as http:
        suite = Suite(config, http)
        suite.checks = [
            Check("x.broken", "Broken", "none", broken, phase=Phase.SETUP),
            Check("x.fine", "Fine", "none", fine, phase=Phase.SETUP),
        ]
        results: list[str] = []
        await suite.run(lambda r: results.append(f"{r.check.id} {r.outcome} {r.message}"))
    assert results == [
        "x.broken FAIL the suite could not finish this check "
        "(ZeroDivisionError: a member answer nobody foresaw)",
        "x.fine PASS still ran",
    ]


def test_the_command_exits_1_when_a_check_fails(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/ocpi/versions"
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    result = CliRunner().invoke(
        roam_app,
        ["conformance", "--versions-url", nobody, "--token", "A", "--role", "CPO",
         "--timeout", "1", "--junit", str(junit), "--json", str(report)],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "FAIL  registration.versions" in result.output
    assert "no answer: ConnectError" in result.output
    assert ET.parse(junit).getroot().find("testsuite") is not None
    assert json.loads(report.read_text(encoding="utf-8"))["summary"]["failed"] >= 1


def test_the_command_exits_2_on_bad_options() -> None:
    result = CliRunner().invoke(
        roam_app,
        ["conformance", "--versions-url", "http://x/ocpi/versions", "--token", "A",
         "--role", "CPO", "--listen", "nowhere"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--listen must be HOST:PORT" in result.output


def _canned(monkeypatch: pytest.MonkeyPatch) -> Report:
    report = report_of([failed("x.failed", "it failed"), failed("y.failed", "so did this")])

    async def run(config: SuiteConfig, sock: socket.socket) -> Report:
        return report

    monkeypatch.setattr(cli, "run_served", run)
    return report


def _invoke(tmp_path: Path) -> tuple[Result, Path, Path, Path]:
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    html = tmp_path / "report.html"
    result = CliRunner().invoke(
        roam_app,
        ["conformance", "--versions-url", "http://member.test/ocpi/versions", "--token", "A",
         "--role", "CPO", "--junit", str(junit), "--json", str(report), "--html", str(html)],
    )  # fmt: skip
    return result, junit, report, html


@pytest.mark.parametrize("broken", ["render_text", "junit_xml", "json_text", "html_text"])
def test_a_report_that_cannot_be_rendered_still_leaves_the_others(
    broken: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _canned(monkeypatch)

    def fails(self: Report, *args: Any, **kwargs: Any) -> str:
        raise TypeError("Object of type Version is not JSON serializable")

    monkeypatch.setattr(Report, broken, fails)
    result, junit, report, html = _invoke(tmp_path)
    assert result.exit_code == 2, result.output  # a suite error, said so
    assert "could not be written (TypeError: Object of type Version" in result.output
    assert "this is a bug of roam conformance" in result.output
    assert "FAIL  x.failed" in result.output  # in the text report, or the brief outcome list
    assert "2 checks: 0 passed, 2 failed, 0 skipped" in result.output
    assert junit.exists() == (broken != "junit_xml")
    assert report.exists() == (broken != "json_text")
    assert html.exists() == (broken != "html_text")
    if html.exists():
        assert html.read_text(encoding="utf-8").count("<section class='failure FAIL'") == 2
    if junit.exists():
        assert len(ET.parse(junit).getroot().findall("testsuite/testcase")) == 2
    if report.exists():
        assert strict_json(report.read_text(encoding="utf-8"))["summary"]["failed"] == 2


def test_a_report_file_that_cannot_be_written_leaves_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _canned(monkeypatch)
    junit, report = tmp_path / "missing" / "junit.xml", tmp_path / "report.json"
    result = CliRunner().invoke(
        roam_app,
        ["conformance", "--versions-url", "http://member.test/ocpi/versions", "--token", "A",
         "--role", "CPO", "--junit", str(junit), "--json", str(report)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"the JUnit report {junit} could not be written (FileNotFoundError" in result.output
    assert "FAIL  x.failed" in result.output
    assert strict_json(report.read_text(encoding="utf-8"))["summary"]["failed"] == 2


def test_the_command_exits_with_the_reports_code_when_every_report_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _canned(monkeypatch)
    result, junit, report, html = _invoke(tmp_path)
    assert result.exit_code == 1, result.output
    assert "error" not in result.output
    assert junit.exists() and report.exists() and html.exists()
