"""`roam conformance --version 2.3.0`: the mock members configured on 2.3.0 pass every check
the suite runs in 2.3.0; a member breaking a 2.3.0 rule (a rule 2.2.1 does not have) fails
exactly the check that reads the object, naming the rule; the report says the version."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from typer.testing import CliRunner

from ocpi import v230
from ocpi.envelope import encode_envelope
from ocpi.headers import encode_authorization
from ocpi.v221 import Role
from roam.cli import app
from roam.conformance import Outcome, SuiteConfig, checks_for
from roam.conformance.report import Report
from roam.conformance.versions import SUITE_VERSIONS, V230
from tests.roam.conformance.conftest import (
    TOKEN_A,
    Wrap,
    conformance,
    explain,
    member,
    outcomes,
    rendered,
)
from tests.roam.conformance.mutants import Answer, rewrite

# (version, the mock's settings besides `version`, a check, its citation in that version)
PASSING: list[tuple[str, dict[str, Any], str, str]] = [
    ("2.3.0", {}, "transport.routing_answers",
     "transport_and_format.asciidoc §4.1.9.2 Message Routing Headers"),
    # A 2.1.1 mock sends its token raw by default (docs/versions.md, "Mock members on 2.1.1").
    ("2.1.1", {}, "registration.handshake",
     "credentials.md §1.2 POST Method, §2.1 Credentials object"),
]  # fmt: skip


@pytest.mark.parametrize("case", PASSING, ids=[c[0] for c in PASSING])
async def test_the_mock_cpo_on_a_version_passes_every_check_of_it(
    case: tuple[str, dict[str, Any], str, str], tmp_path: Path
) -> None:
    version, settings, cited, spec = case
    async with member(Role.CPO, tmp_path, version=version, **settings) as cpo:
        report = await conformance(cpo, version=version)
    expected = {c.id for c in checks_for(Role.CPO, version)}
    assert outcomes(report, Outcome.PASS) == expected, explain(report)
    assert report.version == version and report.exit_code == 0
    shown = rendered(report)
    assert f"(OCPI {version})" in shown.text.splitlines()[0]
    assert shown.data["version"] == version
    assert f"spec ({SUITE_VERSIONS[version].text})" in shown.html
    result = next(r for r in report.results if r.check.id == cited)
    assert result.check.spec.startswith(spec)  # the version's own text and number


@pytest.mark.parametrize("case", PASSING, ids=[c[0] for c in PASSING])
async def test_the_mock_emsp_on_a_version_passes_every_check_of_it(
    case: tuple[str, dict[str, Any], str, str], tmp_path: Path
) -> None:
    version, settings, _, _ = case
    async with member(Role.EMSP, tmp_path, version=version, **settings) as emsp:
        report = await conformance(emsp, version=version)
        commands = emsp.app.state.emsp.commands
    expected = {c.id for c in checks_for(Role.EMSP, version)}
    assert outcomes(report, Outcome.PASS) == expected, explain(report)
    assert [c.state for c in commands.values()] == ["ACCEPTED"]  # our CommandResult arrived


def test_230_checks_cite_the_230_text_and_221_keeps_its_own() -> None:
    old = {c.id: c for c in checks_for(Role.CPO)}
    new = {c.id: c for c in checks_for(Role.CPO, "2.3.0")}
    # 2.3.0 leaves no check out and adds one (docs/conformance.md)
    assert set(new) == set(old) | {"transport.unknown_fields"}
    assert new["transport.unknown_fields"].spec.startswith("transport_and_format.asciidoc §4.1.8 ")
    assert old["transport.datetime_format"].spec == "types.asciidoc §16.2 DateTime type"
    assert new["transport.datetime_format"].spec == "types.asciidoc §17.5 DateTime type"
    assert "§17.4 CiString type, §17.11 string type" in new["transport.string_rules"].spec
    assert new["registration.versions"].title == "Versions: an envelope listing 2.3.0"
    assert new["cpo.tariffs"].spec == old["cpo.tariffs"].spec  # mod_tariffs kept its numbers


def test_a_version_the_suite_does_not_speak_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"does not speak OCPI '2\.0' \(it speaks 2\.1\.1, 2\.2\.1, 2\.3\.0\)"
    ):
        SuiteConfig(
            "http://m.test/ocpi/versions", TOKEN_A, Role.CPO, "http://s.test", version="2.0"
        )


async def test_a_230_member_tested_in_221_fails_the_versions_check(tmp_path: Path) -> None:
    async with member(Role.CPO, tmp_path, version="2.3.0") as cpo:
        report = await conformance(cpo)
    assert outcomes(report, Outcome.FAIL) == {"registration.versions"}, explain(report)
    assert report.failed[0].message == "2.2.1 is not offered (the member offers 2.3.0)"


# --- mutants: a rule of 2.3.0 broken --------------------------------------------------------
def _edit_data(answer: Answer, change: Any) -> None:
    body = answer.json()
    if isinstance(body, dict) and body.get("data") is not None:
        change(body["data"])
        answer.set_json(body)


def _tariffs_without_tax_included(answer: Answer) -> None:
    if answer.method == "GET" and answer.path.endswith("/tariffs"):
        _edit_data(answer, lambda items: [item.pop("tax_included", None) for item in items])


def _session_price_221(answer: Answer) -> None:
    """The stored Session's total_cost as a 2.2.1 Price: valid in 2.2.1, not in 2.3.0 (the
    Session of emsp.push_session, CONF-S…; the reservation's is CONF-R…)."""
    if answer.method == "GET" and "/sessions/ZZ/CPO/CONF-S" in answer.path:
        _edit_data(answer, lambda data: data.update(total_cost={"excl_vat": 1, "incl_vat": 1.2}))


def _credentials_with_hub(answer: Answer) -> None:
    if answer.method == "POST" and answer.path.endswith("/credentials"):
        hub = {
            "role": "HUB",
            "business_details": {"name": "not a member's role"},
            "country_code": "DE",
            "party_id": "HUB",
        }
        _edit_data(answer, lambda data: data["roles"].append(hub))


def _strict_client_info(app: ASGIApp) -> ASGIApp:
    """A member that refuses a ClientInfo with a field 2.3.0 does not name (status 2001)."""
    known = set(v230.ClientInfo.model_fields)

    async def strict(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "/hubclientinfo/" not in scope["path"]:
            await app(scope, receive, send)
            return
        message = await receive()
        body = message.get("body", b"")
        unknown = sorted(set(json.loads(body or b"{}")) - known)
        if not unknown:
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return message

            await app(scope, replay, send)
            return
        content = encode_envelope(status_code=2001, status_message=f"unknown fields {unknown}")
        ids = [(k, v) for k, v in scope["headers"] if k.lower().startswith(b"x-")]
        headers = [(b"content-type", b"application/json"), *ids]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    return strict


MUTANTS: list[tuple[str, Role, Wrap, str, str]] = [
    ("tariff without tax_included", Role.CPO, rewrite(_tariffs_without_tax_included),
     "cpo.tariffs",
     "not a valid OCPI 2.3.0 Tariff: data[0].tax_included: required field is missing"),
    ("Session total_cost as a 2.2.1 Price", Role.EMSP, rewrite(_session_price_221),
     "emsp.push_session", "data: not a valid OCPI 2.3.0 Session: data.total_cost.before_taxes: "
     "required field is missing"),
    ("credentials with a HUB role", Role.CPO, rewrite(_credentials_with_hub),
     "registration.handshake", "data (OCPI 2.3.0 Credentials).roles[1].role: Input should be"),
    ("a field the spec does not name refused", Role.EMSP, _strict_client_info,
     "transport.unknown_fields", "(conformance_extension): HTTP 200, status 2001"),
]  # fmt: skip


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m[0] for m in MUTANTS])
async def test_a_230_mutant_fails_exactly_the_check_of_the_230_rule(
    mutant: tuple[str, Role, Wrap, str, str], tmp_path: Path
) -> None:
    _, role, wrap, breaks, message = mutant
    async with member(role, tmp_path, wrap=wrap, version="2.3.0") as target:
        report: Report = await conformance(target, version="2.3.0")
    assert outcomes(report, Outcome.FAIL) == {breaks}, explain(report)
    assert message in report.failed[0].message, report.failed[0].message


async def test_the_kit_edge_refusal_echoes_the_ids_and_reverses_the_routing(
    tmp_path: Path,
) -> None:
    """A body the 2.3.0 edge refuses (2001) is answered like the core's answers: ids echoed,
    routing headers reversed (transport.request_ids failed on it before). The caller has a
    token the member knows (token A): without one the answer is 401, body unread."""
    sent = {
        "Authorization": encode_authorization(TOKEN_A),
        "X-Request-ID": "req-1",
        "X-Correlation-ID": "corr-1",
        "OCPI-from-country-code": "ZZ",
        "OCPI-from-party-id": "EMS",
        "OCPI-to-country-code": "DE",
        "OCPI-to-party-id": "CPB",
    }
    async with member(Role.CPO, tmp_path, version="2.3.0") as cpo, cpo.network.client() as http:
        answer = await http.put(
            "http://cpo.test/ocpi/cpo/2.3.0/tokens/ZZ/EMS/BAD", json={"uid": "BAD"}, headers=sent
        )
    assert answer.json()["status_code"] == 2001
    got = {name: answer.headers.get(name) for name in sent if name != "Authorization"}
    assert got == {
        "X-Request-ID": "req-1",
        "X-Correlation-ID": "corr-1",
        "OCPI-from-country-code": "DE",
        "OCPI-from-party-id": "CPB",
        "OCPI-to-country-code": "ZZ",
        "OCPI-to-party-id": "EMS",
    }


def test_a_check_a_version_leaves_out_is_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check left out of one version (as 2.1.1 leaves HubClientInfo out) runs in the others."""
    reduced = replace(V230, left_out={"registration.hubclientinfo": "no such module"})
    monkeypatch.setitem(SUITE_VERSIONS, "2.3.0", reduced)
    assert "registration.hubclientinfo" not in {c.id for c in checks_for(Role.CPO, "2.3.0")}
    assert "registration.hubclientinfo" in {c.id for c in checks_for(Role.CPO)}


def test_the_command_refuses_a_version_it_does_not_speak() -> None:
    args = ["conformance", "--versions-url", "http://m.test/ocpi/versions", "--token", "t"]
    result = CliRunner().invoke(app, [*args, "--role", "CPO", "--version", "2.0"])
    assert result.exit_code == 2
    assert "does not speak OCPI '2.0'" in " ".join(result.output.split())


def _tariffs_tax_included(answer: Answer) -> None:
    if answer.method == "GET" and answer.path.endswith("/tariffs"):
        _edit_data(answer, lambda items: [item.update(tax_included="YES") for item in items])


async def test_a_valid_230_tariff_221_cannot_carry_is_no_fault(tmp_path: Path) -> None:
    """tax_included YES is valid 2.3.0 with no 2.2.1 form (docs/versions.md): the list
    leaves it out and the check pricing with it skips, saying why; nothing fails."""
    wrap = rewrite(_tariffs_tax_included)
    async with member(Role.CPO, tmp_path, wrap=wrap, version="2.3.0") as cpo:
        report = await conformance(cpo, version="2.3.0")
    assert outcomes(report, Outcome.FAIL) == set(), explain(report)
    assert outcomes(report, Outcome.SKIP) == {"money.session_cost"}, explain(report)
    results = {r.check.id: r.message for r in report.results}
    assert results["cpo.tariffs"] == "0 tariffs"
    assert (
        "tariff T1: this 2.3.0 Tariff cannot be carried to OCPI 2.2.1"
        in results["money.session_cost"]
    )
