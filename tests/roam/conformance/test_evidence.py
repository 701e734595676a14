"""Evidence in the reports (issue 12, item 1): whatever a failing check shows renders as text,
JUnit XML and JSON, and all three parse back. A member -> suite exchange holds the suite's
own answer (built from wire models: versions, details, credentials, AuthorizationInfo,
CommandResponse); a suite -> member exchange holds whatever the member answered; an
Evidence of any other kind may hold anything at all."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import httpx

from ocpi.headers import encode_authorization
from ocpi.v221 import Role, Version, VersionNumber
from roam.conformance import CheckResult, Outcome
from roam.conformance.context import SUITE_EMSP, SUITE_HUB, Context, SuiteConfig
from roam.conformance.cpo_role import suite_token
from roam.conformance.emsp_role import suite_location, suite_tariff
from roam.conformance.exchange import Exchange, Inbound
from roam.conformance.member import MemberClient
from roam.conformance.suite_server import SuiteServer
from tests.roam.conformance.conftest import Rendered, failed, rendered, report_of

SUITE = "http://suite.test"
TOKEN_B = "conformance-token-b"


def failures(shown: Rendered) -> dict[str, str]:
    """JUnit: failing testcase name -> its failure text."""
    found: dict[str, str] = {}
    for case in shown.junit.iter("testcase"):
        failure = case.find("failure")
        if failure is not None:
            found[case.get("name") or ""] = failure.text or ""
    return found


# --- the crash of the issue ------------------------------------------------------------------
async def test_a_failure_showing_the_suites_versions_answer_renders_all_three_reports() -> None:
    server = SuiteServer(SUITE, SUITE_HUB, SUITE_EMSP, Role.EMSP)
    server.tokens[TOKEN_B] = "B"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app)) as http:
        await http.get(
            f"{SUITE}/ocpi/versions", headers={"Authorization": encode_authorization(TOKEN_B)}
        )
    (versions,) = server.inbound
    report = report_of([failed("registration.callback", "fetched too late", versions)])
    shown = rendered(report)
    assert "FAIL  registration.callback" in shown.text
    assert "member -> suite: GET http://suite.test/ocpi/versions" in shown.text
    assert "http://suite.test/ocpi/2.2.1" in shown.text  # the suite's answer is shown
    (evidence,) = shown.data["checks"][0]["evidence"]
    assert evidence["direction"] == "member -> suite"
    assert json.loads(evidence["response"]["body"])["data"] == [
        {"version": "2.2.1", "url": "http://suite.test/ocpi/2.2.1"}
    ]
    assert "GET http://suite.test/ocpi/versions" in failures(shown)["registration.callback"]


# --- every endpoint the suite serves ----------------------------------------------------------
async def _every_request_a_member_can_send() -> tuple[SuiteServer, list[Inbound]]:
    """One request (or more) of the member's to every endpoint the suite publishes, and to
    the object URLs below them, answered with data (wire models), errors, 2001s, 401, 404."""
    config = SuiteConfig("http://member.test/ocpi/versions", "A", Role.CPO, SUITE)
    async with httpx.AsyncClient() as unused:
        ctx = Context(config, unused)
    server = ctx.server
    server.tokens[TOKEN_B] = "B"
    token, tariff = suite_token(ctx), suite_tariff(ctx, "CONF-T1")
    location = suite_location(ctx, "CONF-T1")
    owner = f"{config.other.country_code}/{config.other.party_id}"
    receiver, sender = f"{SUITE}/ocpi/2.2.1/receiver", f"{SUITE}/ocpi/2.2.1/sender"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    published = [server.versions_url, server.details_url] + [
        e.url for e in server.details().endpoints
    ]
    requests: list[tuple[str, str, Any]] = [("GET", url, None) for url in published]
    requests += [
        ("POST", f"{SUITE}/ocpi/2.2.1/credentials", server.credentials("x").to_json()),
        ("PUT", f"{SUITE}/ocpi/2.2.1/hubclientinfo/ZZ/EMS", server.client_info().to_json()),
        ("PUT", f"{receiver}/locations/{owner}/CONF-LOC1", location.to_json()),
        ("PATCH", f"{receiver}/locations/{owner}/CONF-LOC1/CONF-EVSE1",
         {"status": "CHARGING", "last_updated": now}),
        ("PATCH", f"{receiver}/locations/{owner}/CONF-LOC1/CONF-EVSE1/1",
         {"max_amperage": 16, "last_updated": now}),
        ("GET", f"{receiver}/locations/{owner}/CONF-LOC1", None),
        ("PUT", f"{receiver}/tariffs/{owner}/CONF-T1", tariff.to_json()),
        ("GET", f"{receiver}/tariffs/{owner}/CONF-T1", None),
        ("DELETE", f"{receiver}/tariffs/{owner}/CONF-T1", None),
        ("PUT", f"{receiver}/tokens/{owner}/{token.uid}?type=APP_USER", token.to_json()),
        ("PATCH", f"{receiver}/tokens/{owner}/{token.uid}?type=APP_USER",
         {"valid": False, "last_updated": now}),
        ("PUT", f"{receiver}/sessions/{owner}/S1", {"id": "S1", "kwh": "NaN"}),
        ("PATCH", f"{receiver}/sessions/{owner}/S1", {"kwh": 1.5, "last_updated": now}),
        ("POST", f"{receiver}/cdrs", {"id": "not a CDR"}),
        ("GET", f"{receiver}/cdrs/{owner}/CDR1", None),
        ("POST", f"{receiver}/commands/START_SESSION",
         {"response_url": server.response_url("START_SESSION", "c1"),
          "token": token.to_json(), "location_id": "CONF-LOC1"}),
        ("POST", f"{receiver}/commands/STOP_SESSION",
         {"response_url": server.response_url("STOP_SESSION", "c2"), "session_id": "S1"}),
        ("POST", f"{receiver}/commands/UNLOCK_CONNECTOR", {"response_url": "nowhere"}),
        ("POST", f"{receiver}/commands/SELF_DESTRUCT", {}),
        ("GET", f"{receiver}/commands/START_SESSION", None),
        ("POST", f"{sender}/tokens/{token.uid}/authorize?type=APP_USER",
         {"location_id": "CONF-LOC1"}),
        ("POST", f"{sender}/tokens/UNKNOWN/authorize", None),
        ("POST", server.response_url("START_SESSION", "c1"), {"result": "ACCEPTED"}),
        ("POST", server.response_url("STOP_SESSION", "c2"), {"result": "NOT_A_RESULT"}),
        ("GET", f"{sender}/locations?offset=x", None),
        ("GET", f"{SUITE}/ocpi/2.2.1/nothing/here", None),
        ("GET", f"{SUITE}/elsewhere", None),
    ]  # fmt: skip
    auth = {"Authorization": encode_authorization(TOKEN_B)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app)) as http:
        for method, url, body in requests:
            await http.request(method, url, headers=auth, json=body)
        # what a member may send: no token, not JSON, JSON escapes of lone surrogates and
        # control characters, NaN, nesting deeper than any parser allows
        await http.get(server.versions_url)
        await http.put(f"{receiver}/sessions/{owner}/S2", headers=auth, content=b"\xff\x00<")
        hostile = b'{"id": "S3\\ud800\\u001b[2J\\u0000", "kwh": NaN, "cost": -Infinity}'
        await http.put(f"{receiver}/sessions/{owner}/S3", headers=auth, content=hostile)
        await http.put(f"{receiver}/sessions/{owner}/S4", headers=auth, content=b"[" * 100_000)
        # a valid location with a field unknown to OCPI (kept, unread) holding a lone
        # surrogate, read back: the suite cannot encode it and must still answer (and record)
        odd = json.dumps({**location.to_json(), "id": "ODD", "x_note": "\ud800"}).encode()
        await http.put(f"{receiver}/locations/{owner}/ODD", headers=auth, content=odd)
        await http.get(f"{receiver}/locations/{owner}/ODD", headers=auth)
    return server, server.inbound


async def test_every_endpoint_the_suite_serves_renders_as_evidence_in_every_report() -> None:
    server, inbound = await _every_request_a_member_can_send()
    results = [
        failed(f"member.request_{n:02d}", f"request {n}: {item.method} {item.path}", item)
        for n, item in enumerate(inbound)
    ]
    shown = rendered(report_of(results))

    published = {e.url for e in server.details().endpoints} | {server.versions_url}
    reached = {urlsplit(item.url)._replace(query="").geturl() for item in inbound}
    assert published <= reached  # nothing the suite publishes was left out
    statuses = {item.status for item in inbound}
    assert {200, 201, 400, 401, 404, 405, 500} <= statuses
    odd = inbound[-1]
    assert (odd.method, odd.status) == ("GET", 500)
    assert b"its answer could not be encoded" in odd.answer_body
    assert len(shown.data["checks"]) == len(inbound)
    junit = failures(shown)
    for result, item, entry in zip(results, inbound, shown.data["checks"], strict=True):
        name = result.check.id
        assert f"FAIL  {name}" in shown.text
        assert entry["id"] == name and entry["outcome"] == "FAIL"
        (evidence,) = entry["evidence"]
        assert evidence["direction"] == "member -> suite"
        assert (evidence["request"]["method"], evidence["request"]["url"]) == (
            item.method,
            item.url,
        )
        assert evidence["response"]["status"] == item.status
        assert f"member -> suite: {item.method} {item.url}" in shown.text
        assert f"member -> suite: {item.method} {item.url}" in junit[name]
    answers = {
        (e["request"]["method"], e["request"]["url"]): e["response"]["body"]
        for e in (c["evidence"][0] for c in shown.data["checks"])
    }
    details = json.loads(answers["GET", server.details_url])["data"]
    assert len(details["endpoints"]) == len(published) - 1
    credentials = json.loads(answers["GET", f"{SUITE}/ocpi/2.2.1/credentials"])
    assert credentials["data"]["roles"][0]["role"] == "HUB"
    bodies = list(answers.values())
    assert any('"allowed":"ALLOWED"' in body for body in bodies)  # AuthorizationInfo
    assert any('"result":"ACCEPTED","timeout":30' in body for body in bodies)  # CommandResponse
    assert any('"result":"NOT_SUPPORTED"' in body for body in bodies)


# --- every kind of evidence ------------------------------------------------------------------
class Colour(Enum):
    RED = "red"


@dataclass
class Thing:
    name: str
    when: datetime


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no")


class Hostile:
    """An Evidence of another kind, holding everything JSON cannot."""

    def summary(self) -> str:
        return "hostile \ud800\x1b[2J"

    def to_json(self) -> dict[str, Any]:
        deep: list[Any] = []
        for _ in range(5000):
            deep = [deep]
        cycle: dict[str, Any] = {}
        cycle["self"] = cycle
        return {
            "direction": "member -> suite",
            "request": {
                "method": Colour.RED,
                "url": b"http://member.test/\xff",
                "headers": {"X-Odd": Decimal("1.10"), 7: {1, 2}},
                "body": {"price": Decimal("0.1"), "at": datetime(2025, 1, 1, tzinfo=UTC)},
            },
            "response": {
                "status": Decimal("200"),
                "headers": {"Link": "\ud83d\ude00 and \udc00 \x00 \x0b"},
                "body": [Version(version=VersionNumber.V2_2_1, url="http://x/2.2.1")],
            },
            "error": None,
            "models": [Version(version=VersionNumber.V2_2_1, url="http://x/2.2.1")],
            "numbers": [math.nan, math.inf, -math.inf, Decimal("NaN"), 10**5000],
            "times": [timedelta(seconds=90), datetime(2025, 1, 1).date()],
            "things": [Thing("a", datetime(2025, 1, 1, tzinfo=UTC)), frozenset({"b", "a"})],
            "objects": [object(), Unprintable(), Colour],
            "deep": deep,
            "cycle": cycle,
            "surrogate \udfff key": "lone \ud800",
        }


class Broken:
    def summary(self) -> str:
        raise ValueError("no summary")

    def to_json(self) -> dict[str, Any]:
        raise TypeError("no JSON either")


class NotAnObject:
    def summary(self) -> str:
        return "a list"

    def to_json(self) -> Any:
        return [math.nan, b"\x00"]


def _member_answers(request: httpx.Request) -> httpx.Response:
    """A member answering everything a member may answer."""
    path = request.url.path
    if path.endswith("/refused"):
        raise httpx.ConnectError("connection refused", request=request)
    if path.endswith("/slow"):
        raise httpx.ReadTimeout("too slow", request=request)
    if path.endswith("/bytes"):
        return httpx.Response(200, content=b"\xff\xfe\x00\x1b[31m<html>\x00")
    if path.endswith("/escapes"):
        body = b'{"status_code": 1000, "data": "\\ud800\\u0000", "n": NaN, "timestamp": 1}'
        return httpx.Response(200, content=body, headers={"X-Total-Count": "\x7f"})
    return httpx.Response(
        401,
        json={"status_code": 2000, "timestamp": "2025-01-01T00:00:00Z"},
        headers={"Link": "<x>"},
    )


async def _suite_requests() -> list[Exchange]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_member_answers)) as http:
        client = MemberClient(http, timeout=5)
        for path in ("refused", "slow", "bytes", "escapes", "unauthorized"):
            await client.call(
                "PUT",
                f"http://member.test/{path}",
                token="T",
                body=Version(version=VersionNumber.V2_2_1, url="http://suite.test/2.2.1"),
            )
    return client.exchanges


async def test_every_kind_of_evidence_renders_in_every_report() -> None:
    exchanges = await _suite_requests()
    handmade = Exchange(
        method="GET",
        url="http://member.test/\ud800",
        request_headers={"Authorization": "Token \x1b[2Jabcdefghijklmnop", "X-Limit": "\x00"},
        request_body="\ud83d\ude00 \udbff",
        routing=None,
        status=200,
        response_headers={"location": "\x0c"},
        response_body=b'{"data": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    )
    inbound = Inbound(
        seq=0, method="POST", url="http://suite.test/\x00", path="",
        headers={"x-request-id": "\ud800"}, body=b"\xff", payload=None, is_json=False,
        module=None, functional=False,
        answer_body=b'{"status_message": "\\ud800"}', answer_headers={"Location": "\x1f"},
    )  # fmt: skip
    results = [
        failed("suite.requests", "the suite's requests \x1b[31m", *exchanges),
        failed("suite.handmade", "lone \ud800 and \udfff and a pair \ud83d\ude00", handmade),
        failed("member.inbound", "control \x00\x01\x1f\x7f\x85 characters", inbound),
        failed("other.hostile", "hostile evidence", Hostile()),
        failed("other.broken", "evidence that cannot be read", Broken()),
        failed("other.not_an_object", "evidence that is not an object", NotAnObject()),
        CheckResult(failed("x.y", "").check, Outcome.SKIP, "skipped \ud800"),
        CheckResult(failed("x.z", "").check, Outcome.PASS, "note \x1b"),
    ]
    shown = rendered(report_of(results))

    assert "\x1b" not in shown.text and "\\x1b[31m" in shown.text  # escaped, not obeyed
    assert "lone \\ud800 and \\udfff and a pair \U0001f600" in shown.text
    junit = failures(shown)
    assert set(junit) == {r.check.id for r in results[:6]}
    by_id = {c["id"]: c for c in shown.data["checks"]}
    requests = by_id["suite.requests"]["evidence"]
    # refused, timed out, bytes, escapes, 401 and its retry with the raw token
    assert [e["error"] is not None for e in requests] == [True, True] + [False] * 4
    assert "no answer: ConnectError" in requests[0]["error"]
    assert requests[2]["response"]["body"].startswith("\ufffd\ufffd\x00\x1b[31m<html>")
    assert "< \ufffd\ufffd\\x00\\x1b[31m<html>\\x00" in shown.text
    assert '"url":"http://suite.test/2.2.1"' in requests[0]["request"]["body"]
    assert "FAIL  suite.requests" in shown.text and "< no answer: ConnectError" in shown.text
    hostile = by_id["other.hostile"]["evidence"][0]
    assert hostile["request"]["method"] == "red"
    assert hostile["request"]["headers"] == {"X-Odd": "1.10", "7": "[1, 2]"}
    assert hostile["response"]["status"] == "200"
    assert hostile["response"]["headers"]["Link"] == "\U0001f600 and \\udc00 \x00 \x0b"
    assert hostile["models"] == [{"version": "2.2.1", "url": "http://x/2.2.1"}]
    assert hostile["numbers"][:4] == ["NaN", "Infinity", "-Infinity", "NaN"]
    assert hostile["things"] == [{"name": "a", "when": "2025-01-01T00:00:00+00:00"}, ["a", "b"]]
    assert hostile["surrogate \\udfff key"] == "lone \\ud800"
    assert "member -> suite: red http://member.test/\ufffd" in junit["other.hostile"]
    broken = by_id["other.broken"]["evidence"][0]
    assert "TypeError: no JSON either" in broken["error"]
    assert "< this evidence could not be read (TypeError: no JSON either)" in shown.text
    assert by_id["other.not_an_object"]["evidence"][0]["value"] == ["NaN", "\x00"]
    xml_text = report_of(results).junit_xml()
    assert "\x00" not in xml_text and "\\x00" in xml_text
    # the HTML shows what the member sent, escaped: no markup of its, no control character
    assert "\x00" not in shown.html and "\x1b" not in shown.html
    assert "<html>" not in shown.html and "\\x1b[31m&lt;html&gt;" in shown.html
    assert shown.html.count("<section class='failure FAIL'") == 6


def test_evidence_is_recorded_json_safe_when_the_result_is_made() -> None:
    exchange = Exchange("GET", "http://member.test/x", {}, None, None, status=200)
    result = failed("x.recorded", "m", Hostile(), exchange)
    exchange.status = 500  # later changes do not rewrite what the check showed
    hostile, shown = (item.to_json() for item in result.evidence)
    json.dumps(hostile, allow_nan=False, ensure_ascii=False).encode("utf-8")
    assert hostile["models"] == [{"version": "2.2.1", "url": "http://x/2.2.1"}]
    assert shown["response"] == {"status": 200, "headers": {}, "body": ""}
    assert result.evidence[1].summary().startswith("GET http://member.test/x -> HTTP 200")
