"""`roam conformance --version 2.1.1`: a member breaking a 2.1.1 rule fails exactly the check
of that rule; the checks 2.1.1 cannot support are left out naming the 2.1.1 section; the
command takes 2.1.1. (The mock members on 2.1.1 passing every 2.1.1 check: test_versions.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ocpi.headers import encode_authorization
from ocpi.v221 import Role
from roam.cli import app
from roam.conformance import Outcome, checks_for
from roam.conformance.report import Report
from roam.conformance.versions import V211
from tests.roam.conformance.conftest import (
    TOKEN_A,
    Outbound,
    Wrap,
    conformance,
    explain,
    member,
    outcomes,
)
from tests.roam.conformance.mutants import Answer, outbound, rebuilt, rewrite

RAW: dict[str, Any] = {}
"""A mock member on 2.1.1 as it is configured by default (it sends its token raw)."""


def test_211_leaves_out_what_211_has_not_and_cites_the_211_text() -> None:
    old = {c.id: c for c in checks_for(Role.CPO) + checks_for(Role.EMSP)}
    new = {c.id: c for c in checks_for(Role.CPO, "2.1.1") + checks_for(Role.EMSP, "2.1.1")}
    gone = set(old) - set(new)
    assert (
        gone
        == set(V211.left_out)
        == {
            "registration.hubclientinfo",
            "recovery.resync",
            "transport.routing_answers",
            "transport.routing_requests",
            "transport.request_ids",
            "transport.member_request_ids",
            "profiles.set",
            "profiles.get",
            "profiles.clear",
            "profiles.charging_preferences",
            "reservation.reserve_now",
            "reservation.start_reserved",
            "reservation.cancel",
            "reservation.emsp_session",
            "emsp.authorize_unknown",
            "money.session_cost",
            "money.credit_cdr",
            "money.credit_received",
        }
    )
    for reason in V211.left_out.values():  # each names the 2.1.1 text it follows
        assert re.search(r"[a-z_]+\.md (§[0-9.]+|\")", reason), reason
    for item in new.values():  # the 2.1.1 text only: its files, its numbers or headings
        assert ".asciidoc" not in item.spec, item.spec
    assert new["transport.datetime_format"].spec == "types.md §1.2 DateTime type"
    assert new["transport.member_authorization"].spec == (
        'transport_and_format.md "Request format" Authorization header'
    )
    assert new["transport.member_authorization"].title == (
        "The member sends 'Token <token>' (not encoded)"
    )
    assert new["cpo.tariffs"].spec == ("mod_tariffs.md §2.1.1 GET Method, §3.1 Tariff Object")
    assert new["registration.versions"].title == "Versions: an envelope listing 2.1.1"


def test_every_section_a_211_check_cites_is_one_of_the_211_text() -> None:
    """No 2.2.1-d2 number survives into a 2.1.1 citation: each one cited is mapped."""
    cited = set()
    for item in checks_for(Role.CPO) + checks_for(Role.EMSP):
        if item.id in V211.left_out:
            continue
        current = ""
        for match in re.finditer(r"([a-z_]+\.asciidoc)|§([0-9]+(?:\.[0-9]+)*)", item.spec):
            if match.group(1):
                current = match.group(1)
            else:
                cited.add((current, match.group(2)))
    assert cited <= set(V211.renumbered), sorted(cited - set(V211.renumbered))


def test_the_command_takes_211() -> None:
    args = ["conformance", "--versions-url", "http://127.0.0.1:9/ocpi/versions", "--token", "t"]
    result = CliRunner().invoke(app, [*args, "--role", "CPO", "--version", "2.1.1"])
    text = " ".join(result.output.split())
    assert "does not speak" not in text
    assert "as a CPO in OCPI 2.1.1" in text, text


# --- mutants: a rule of 2.1.1 broken --------------------------------------------------------
def _reused_token(answer: Answer) -> None:
    if answer.method == "POST" and answer.path.endswith("/credentials"):
        body = answer.json()
        if isinstance(body.get("data"), dict):
            body["data"]["token"] = TOKEN_A
            answer.set_json(body)


def _details_of_another_version(answer: Answer) -> None:
    if answer.method == "GET" and answer.path.endswith("/2.1.1"):
        body = answer.json()
        body["data"]["version"] = "2.0"
        answer.set_json(body)


def _cdr_without_auth_method(request: httpx.Request) -> httpx.Request:
    if request.method != "POST" or not request.url.path.endswith("/cdrs"):
        return request
    body: dict[str, Any] = httpx.Response(200, content=request.content).json()
    body.pop("auth_method", None)
    return rebuilt(request, dict(request.headers), httpx.Response(200, json=body).content)


def _base64_token(request: httpx.Request) -> httpx.Request:
    header = request.headers.get("authorization", "")
    headers = {**request.headers, "authorization": encode_authorization(header[6:])}
    return rebuilt(request, headers, request.content)


Mutant = tuple[str, Role, Wrap | None, Outbound | None, dict[str, Any], str, str]
MUTANTS: list[Mutant] = [
    ("Base64 token sent", Role.EMSP, None, outbound(_base64_token), RAW,
     "transport.member_authorization",
     "the token is Base64-encoded (OCPI 2.1.1: 'Token <token>')"),
    ("Base64 token sent (raw_tokens = false)", Role.CPO, None, None, {"raw_tokens": False},
     "transport.member_authorization",
     "the token is Base64-encoded (OCPI 2.1.1: 'Token <token>')"),
    ("CDR without auth_method", Role.CPO, None, outbound(_cdr_without_auth_method), RAW,
     "transport.pushes_valid",
     "not a valid OCPI 2.1.1 CDR: body.auth_method: required field is missing"),
    ("details of version 2.0", Role.CPO, rewrite(_details_of_another_version), None, RAW,
     "registration.version_details", "version is 2.0, not 2.1.1"),
    ("credentials answer reusing token A", Role.EMSP, rewrite(_reused_token), None, RAW,
     "registration.handshake", "the answer's token must be a new token C"),
]  # fmt: skip


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m[0] for m in MUTANTS])
async def test_a_211_mutant_fails_exactly_the_check_of_the_211_rule(
    mutant: Mutant, tmp_path: Path
) -> None:
    _, role, wrap, sends, settings, breaks, message = mutant
    async with member(
        role, tmp_path, wrap=wrap, outbound=sends, version="2.1.1", **settings
    ) as target:
        report: Report = await conformance(target, version="2.1.1")
    assert outcomes(report, Outcome.FAIL) == {breaks}, explain(report)
    assert message in report.failed[0].message, report.failed[0].message
