"""Deliberately broken members: each mutant breaks one rule of a mock CPO or eMSP, and the
run must fail naming exactly the check of that rule (every other check passes or skips)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from cpo_mock.service import Cpo
from ocpi.headers import ROUTING_HEADERS, encode_authorization
from ocpi.pagination import Page, PageRequest, paginate
from ocpi.platform.registration import Registration
from ocpi.v221 import Role
from roam.conformance import Outcome
from roam.conformance.report import Report
from tests.roam.conformance.conftest import (
    Outbound,
    Rendered,
    Wrap,
    conformance,
    member,
    outcomes,
    rendered,
)
from tests.roam.conformance.mutants import (
    OFFSET_TIME,
    Answer,
    header_of,
    outbound,
    rebuilt,
    rewrite,
    set_header,
)

_ROUTING = {name.lower() for name in ROUTING_HEADERS}
T = TypeVar("T")


# --- registration ---------------------------------------------------------------------------
def _only_211(answer: Answer) -> None:
    if answer.path.endswith("/ocpi/versions"):
        body = answer.json()
        body["data"] = [{"version": "2.1.1", "url": "http://cpo.test/ocpi/2.1.1"}]
        answer.set_json(body)


def _keep_token_a(patch: pytest.MonkeyPatch) -> None:
    accept = Registration.accept

    async def accept_but_keep_a(self: Registration, *args: Any) -> Any:
        token_a = self.token_a
        answer = await accept(self, *args)
        self.token_a = token_a
        return answer

    patch.setattr(Registration, "accept", accept_but_keep_a)


# --- transport ------------------------------------------------------------------------------
def _drop_timestamp(answer: Answer) -> None:
    if answer.headers.get("content-type", "").startswith("application/json"):
        body = answer.json()
        if isinstance(body, dict):
            body.pop("timestamp", None)
            answer.set_json(body)


def _drop_routing(answer: Answer) -> None:
    for name in _ROUTING:
        answer.headers.pop(name, None)


def _decoded(value: str) -> str | None:
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return text if text.isprintable() and text else None


def _refuse_base64(scope: Scope) -> bool:
    header = header_of(scope, "authorization") or ""
    return _decoded(header.removeprefix("Token ")) is not None


def _raw_to_base64(scope: Scope) -> None:
    header = header_of(scope, "authorization")
    if header is not None:
        set_header(scope, "authorization", encode_authorization(header.removeprefix("Token ")))


def _forbidden(answer: Answer) -> None:
    if answer.status == 401:
        answer.status = 403


def _no_correlation_id(answer: Answer) -> None:
    answer.headers.pop("x-correlation-id", None)


def _offset_datetimes(answer: Answer) -> None:
    answer.body = OFFSET_TIME.sub(rb'\1+00:00"', answer.body)


def _long_names(answer: Answer) -> None:
    if answer.method == "GET" and answer.path.endswith("/locations"):
        body = answer.json()
        for item in body.get("data") or []:
            item["name"] = "N" * 300
        answer.set_json(body)


def _send_raw_token(request: httpx.Request) -> httpx.Request:
    header = request.headers.get("authorization", "")
    decoded = _decoded(header.removeprefix("Token "))
    if decoded is None:
        return request
    headers = {**request.headers, "authorization": f"Token {decoded}"}
    return rebuilt(request, headers, request.content)


def _send_no_routing(request: httpx.Request) -> httpx.Request:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _ROUTING}
    return rebuilt(request, headers, request.content)


# --- pagination -----------------------------------------------------------------------------
def _total_plus_one(answer: Answer) -> None:
    if "x-total-count" in answer.headers:
        answer.headers["x-total-count"] = str(int(answer.headers["x-total-count"]) + 1)


def _link_drops_date_from(answer: Answer) -> None:
    link = answer.headers.get("link")
    if link is None:
        return
    url = re.match(r"<([^>]*)>", link)
    assert url is not None
    parts = urlsplit(url.group(1))
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "date_from"]
    answer.headers["link"] = f'<{parts._replace(query=urlencode(query)).geturl()}>; rel="next"'


def _date_to_inclusive(patch: pytest.MonkeyPatch) -> None:
    def matches(self: PageRequest, last_updated: Any) -> bool:
        if self.date_from is not None and last_updated < self.date_from:
            return False
        return self.date_to is None or last_updated <= self.date_to

    patch.setattr(PageRequest, "matches", matches)


# --- CPO role -------------------------------------------------------------------------------
def _no_start_result(patch: pytest.MonkeyPatch) -> None:
    queue = Cpo.queue_result

    async def drop_start(self: Cpo, command: str, *args: Any, **kwargs: Any) -> None:
        if command != "START_SESSION":
            await queue(self, command, *args, **kwargs)

    patch.setattr(Cpo, "queue_result", drop_start)


def _mispriced_cdr(request: httpx.Request) -> httpx.Request:
    if request.method != "POST" or not request.url.path.endswith("/cdrs"):
        return request
    cdr = httpx.Response(200, content=request.content).json()
    # As a CPO that stored the wrong price: its credit CDR negates the wrong price.
    euro = -1 if cdr.get("credit") else 1
    cdr["total_cost"]["excl_vat"] = float(Decimal(str(cdr["total_cost"]["excl_vat"])) + euro)
    return rebuilt(request, dict(request.headers), httpx.Response(200, json=cdr).content)


def _unknown_location_2001(answer: Answer) -> None:
    if b'"status_code":2003' in answer.body:
        answer.body = answer.body.replace(b'"status_code":2003', b'"status_code":2001')


# --- eMSP role ------------------------------------------------------------------------------
def _no_cdr_location(answer: Answer) -> None:
    if answer.method == "POST" and answer.path.endswith("/cdrs"):
        answer.headers.pop("location", None)


def _unknown_token_200(answer: Answer) -> None:
    if answer.path.endswith("/authorize") and answer.status == 404:
        answer.status = 200


# --- load -----------------------------------------------------------------------------------
def _newest_first(patch: pytest.MonkeyPatch) -> None:
    """Lists ordered by last_updated, newest first (ORDER BY last_updated DESC): a changed
    location jumps to the other end of the list, and a walk under change loses another."""
    import cpo_mock.api.ocpi as cpo_api  # it cuts its pages with ocpi.pagination.paginate

    def newest_first(items: Sequence[T], request: PageRequest, **kwargs: Any) -> Page[T]:
        last_updated = kwargs["last_updated"]
        return paginate(sorted(items, key=last_updated, reverse=True), request, **kwargs)

    patch.setattr(cpo_api, "paginate", newest_first)


def _x_limit_echoes_limit(answer: Answer) -> None:
    asked = dict(parse_qsl(answer.query)).get("limit")
    if asked is not None and "x-limit" in answer.headers:
        answer.headers["x-limit"] = asked


def _slow_authorize(app: ASGIApp) -> ASGIApp:
    """Every tenth real-time authorization takes half a second (2 of the suite's 20)."""
    calls = 0

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal calls
        if scope["type"] == "http" and scope["path"].endswith("/authorize"):
            calls += 1
            if calls % 10 == 0:
                await asyncio.sleep(0.5)
        await app(scope, receive, send)

    return slow


@dataclass(frozen=True)
class Mutant:
    name: str
    role: Role
    breaks: str
    wrap: Wrap | None = None
    outbound: Outbound | None = None
    patch: Callable[[pytest.MonkeyPatch], None] | None = None
    options: dict[str, Any] = field(default_factory=dict)


MUTANTS = [
    Mutant("2.2.1 missing from versions", Role.CPO, "registration.versions", rewrite(_only_211)),
    Mutant("token A accepted after the handshake", Role.EMSP, "registration.token_a_refused",
           patch=_keep_token_a),
    Mutant("envelope without timestamp", Role.EMSP, "transport.envelope",
           rewrite(_drop_timestamp)),
    Mutant("answers without routing headers", Role.CPO, "transport.routing_answers",
           rewrite(_drop_routing)),
    Mutant("requests without routing headers", Role.CPO, "transport.routing_requests",
           outbound=outbound(_send_no_routing)),
    Mutant("raw token accepted, Base64 refused", Role.EMSP, "transport.authorization_base64",
           rewrite(refuse=_refuse_base64, request=_raw_to_base64)),
    Mutant("raw token sent", Role.CPO, "transport.member_authorization",
           outbound=outbound(_send_raw_token)),
    Mutant("403 instead of 401", Role.EMSP, "transport.unknown_token_401", rewrite(_forbidden)),
    Mutant("X-Correlation-ID not echoed", Role.EMSP, "transport.request_ids",
           rewrite(_no_correlation_id)),
    Mutant("DateTime with +00:00", Role.CPO, "transport.datetime_format",
           rewrite(_offset_datetimes)),
    Mutant("location name of 300 characters", Role.CPO, "transport.string_rules",
           rewrite(_long_names)),
    Mutant("X-Total-Count one too many", Role.CPO, "pagination.headers",
           rewrite(_total_plus_one)),
    Mutant("Link loses date_from", Role.CPO, "pagination.link", rewrite(_link_drops_date_from)),
    Mutant("date_to inclusive", Role.EMSP, "pagination.date_filters", patch=_date_to_inclusive),
    Mutant("START_SESSION result never sent", Role.CPO, "cpo.start_session",
           patch=_no_start_result),
    Mutant("CDR total_cost one euro too high", Role.CPO, "cpo.cdr_priced",
           outbound=outbound(_mispriced_cdr)),
    Mutant("unknown location answered 2001", Role.CPO, "cpo.unknown_location",
           rewrite(_unknown_location_2001)),
    Mutant("CDR POST without Location header", Role.EMSP, "emsp.cdr_location_header",
           rewrite(_no_cdr_location)),
    Mutant("unknown token answered HTTP 200", Role.EMSP, "emsp.authorize_unknown",
           rewrite(_unknown_token_200)),
    Mutant("locations ordered newest first", Role.CPO, "load.pagination_under_change",
           patch=_newest_first),
    Mutant("X-Limit echoes the limit asked", Role.EMSP, "load.x_limit",
           rewrite(_x_limit_echoes_limit)),
    Mutant("2 of 20 authorizations slow", Role.EMSP, "load.authorize_time", _slow_authorize,
           options={"realtime_limit": 0.3}),
]  # fmt: skip


async def run_mutant(
    mutant: Mutant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Report, Rendered]:
    """The suite against the mutant: it must fail exactly the check of the rule it breaks,
    with the section, a message and the run's exit code 1; the report in every form."""
    if mutant.patch is not None:
        mutant.patch(monkeypatch)
    async with member(mutant.role, tmp_path, wrap=mutant.wrap, outbound=mutant.outbound) as target:
        report = await conformance(target, **mutant.options)
    shown = rendered(report)  # the failure is reported in every form, whatever it shows
    assert outcomes(report, Outcome.FAIL) == {mutant.breaks}, shown.text
    assert report.exit_code == 1
    failed = report.failed[0]
    assert failed.check.spec and failed.message
    assert f"FAIL  {mutant.breaks}" in shown.text
    return report, shown


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
async def test_a_mutant_fails_exactly_the_check_of_the_rule_it_breaks(
    mutant: Mutant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, shown = await run_mutant(mutant, tmp_path, monkeypatch)
    failed = report.failed[0]
    (case,) = [c for c in shown.junit.iter("testcase") if c.find("failure") is not None]
    assert case.get("name") == mutant.breaks
    (entry,) = [c for c in shown.data["checks"] if c["outcome"] == "FAIL"]
    assert entry["id"] == mutant.breaks and entry["message"] == failed.message
    assert f"<section class='failure FAIL' id='fail-{mutant.breaks}'" in shown.html


def test_every_check_group_has_a_mutant() -> None:
    groups = {m.breaks.split(".")[0] for m in MUTANTS}
    assert groups == {"registration", "transport", "pagination", "cpo", "emsp", "load"}
