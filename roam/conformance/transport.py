"""Transport checks: the Authorization header both ways, 401 for a bad token, 400 / 2001 / 404
for bad input the suite sends on purpose, then rules judged over every message of the run:
envelopes and status codes, X-Request-ID / X-Correlation-ID, routing headers on functional
modules only, DateTime format and string rules, the objects the member pushed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import TypeVar

from ocpi.headers import (
    OCPI_FROM_COUNTRY_CODE,
    ROUTING_HEADERS,
    X_CORRELATION_ID,
    X_REQUEST_ID,
)
from ocpi.platform.adapters import ObjectKind
from ocpi.status import OcpiStatus, is_success
from ocpi.v221 import InterfaceRole, ModuleID, Role
from ocpi.v221.types import parse_datetime
from roam.conformance.checks import Check, CheckFailed, CheckSkipped, Phase, check
from roam.conformance.context import Context
from roam.conformance.exchange import Evidence, Exchange, Inbound, routing_of
from roam.conformance.registration import HANDSHAKE, own_list_url
from roam.conformance.validation import DATETIME, STRING

S_AUTH = "transport_and_format.asciidoc §4.1.2 Authorization header"
S_400 = "status_codes.asciidoc §5 Status codes (HTTP 400 for a body that is not JSON)"
S_2001 = "status_codes.asciidoc §5.2 2xxx: Client errors (2001)"
S_404 = "status_codes.asciidoc §5 Status codes (HTTP 404 for a GET of an unknown object)"
S_ENVELOPE = (
    "transport_and_format.asciidoc §4.1.7 Response format; status_codes.asciidoc §5 Status codes"
)
S_IDS = "transport_and_format.asciidoc §4.2 Unique message IDs"
S_ROUTING = "transport_and_format.asciidoc §4.1.8.2 Message Routing Headers"
S_DATETIME = "types.asciidoc §16.2 DateTime type"
S_STRINGS = "types.asciidoc §16.1 CiString type, §16.7 string type"
S_PUSHES = "transport_and_format.asciidoc §4.1.5 Client Owned Object Push"
S_UNKNOWN_FIELDS = "transport_and_format.asciidoc §4.1.8 Non-specified JSON fields (2.3.0)"

MAX_SHOWN = 5


def _bad_input_target(ctx: Context) -> tuple[str, str]:
    """(Receiver URL of a client-owned object, module) the suite may PUT wrong bodies to."""
    other = ctx.config.other
    if ctx.config.role is Role.CPO:
        base = ctx.require_endpoint(ModuleID.TOKENS, InterfaceRole.RECEIVER)
        return f"{base.rstrip('/')}/{other.country_code}/{other.party_id}/CONF-BAD", "tokens"
    base = ctx.require_endpoint(ModuleID.TARIFFS, InterfaceRole.RECEIVER)
    return f"{base.rstrip('/')}/{other.country_code}/{other.party_id}/CONF-BAD", "tariffs"


def _fail_many(what: str, bad: list[tuple[str, Evidence]]) -> CheckFailed:
    shown = "; ".join(text for text, _ in bad[:MAX_SHOWN])
    more = f" (and {len(bad) - MAX_SHOWN} more)" if len(bad) > MAX_SHOWN else ""
    evidence: list[Evidence] = []
    for _, item in bad:
        if item not in evidence:
            evidence.append(item)
    return CheckFailed(f"{len(bad)} {what}: {shown}{more}", *evidence[:MAX_SHOWN])


# --- the suite's own probes ------------------------------------------------------------------
@check(
    "transport.authorization_base64",
    "The member accepts 'Token base64(token)'",
    S_AUTH,
    needs=[HANDSHAKE],
    phase=Phase.PROBE,
)
async def authorization_base64(ctx: Context) -> str | None:
    # 2.1.1 (transport_and_format "Request format"): the token as it is, not Base64.
    spoken = ctx.config.speaks
    ours, theirs = ("raw", "Base64-encoded") if spoken.raw_tokens else ("Base64-encoded", "raw")
    fallback = ctx.member.fallback
    if fallback is not None:
        refused, accepted = fallback
        rule = "'Token <token>'" if spoken.raw_tokens else "'Token <base64 of the token>'"
        raise CheckFailed(
            f"the member refused the {ours} token (HTTP 401) and accepted the {theirs} "
            f"token: OCPI {spoken.number} sends {rule} (the rest of this run spoke the "
            f"{theirs} dialect)",
            refused,
            accepted,
        )
    assert ctx.token is not None
    exchange = await ctx.call(
        "GET", own_list_url(ctx), authorization=spoken.authorization(ctx.token), probe=True
    )
    if exchange.status == 401:
        raise CheckFailed(f"the {ours} token C was refused", exchange)
    return None


@check(
    "transport.unknown_token_401",
    "A missing or unknown token gets HTTP 401",
    S_AUTH,
    needs=[HANDSHAKE],
    phase=Phase.PROBE,
)
async def unknown_token_401(ctx: Context) -> str | None:
    url = own_list_url(ctx)
    unknown = ctx.config.speaks.authorization(f"conformance-unknown-{secrets.token_hex(8)}")
    wrong: list[tuple[str, Evidence]] = []
    for label, header in (("an unknown token", unknown), ("no Authorization header", None)):
        exchange = await ctx.call("GET", url, authorization=header, probe=True)
        if exchange.status != 401:
            wrong.append((f"{label}: {exchange.outcome()}", exchange))
    if wrong:
        raise _fail_many("requests not answered HTTP 401", wrong)
    return None


@check(
    "transport.not_json_400",
    "A body that is not JSON gets HTTP 400",
    S_400,
    needs=[HANDSHAKE],
    phase=Phase.PROBE,
)
async def not_json_400(ctx: Context) -> str | None:
    url, module = _bad_input_target(ctx)
    exchange = await ctx.call("PUT", url, content=b'{"id": "CONF-BAD", ', probe=True)
    if exchange.status != 400:
        raise CheckFailed(
            f"PUT {module} with a broken JSON body: {exchange.outcome()}, expected HTTP 400",
            exchange,
        )
    return None


@check(
    "transport.invalid_object_2001",
    "An object missing required fields gets status 2001",
    S_2001,
    needs=[HANDSHAKE],
    phase=Phase.PROBE,
)
async def invalid_object_2001(ctx: Context) -> str | None:
    url, module = _bad_input_target(ctx)
    other = ctx.config.other
    body = {"country_code": other.country_code, "party_id": other.party_id}
    body |= {"uid": "CONF-BAD"} if module == "tokens" else {"id": "CONF-BAD"}
    params = {"type": "RFID"} if module == "tokens" else None
    exchange = await ctx.call("PUT", url, body=body, params=params, probe=True)
    code = exchange.envelope.status_code
    if code != OcpiStatus.INVALID_OR_MISSING_PARAMETERS or (exchange.status or 0) >= 500:
        raise CheckFailed(
            f"PUT of a {module[:-1]} without its required fields: "
            f"{exchange.outcome()}, expected status 2001",
            exchange,
        )
    return None


@check(
    "transport.unknown_object_404",
    "GET of an unknown object gets HTTP 404",
    S_404,
    needs=[HANDSHAKE],
    phase=Phase.PROBE,
)
async def unknown_object_404(ctx: Context) -> str | None:
    missing = f"CONF-NONE-{secrets.token_hex(4).upper()}"
    if ctx.config.role is Role.CPO:
        base = ctx.require_endpoint(ModuleID.LOCATIONS, InterfaceRole.SENDER)
        url = f"{base.rstrip('/')}/{missing}"
    else:
        url, _ = _bad_input_target(ctx)
        url = url.rsplit("/", 1)[0] + "/" + missing
    exchange = await ctx.call("GET", url, probe=True)
    if exchange.status != 404:
        raise CheckFailed(f"GET {url}: {exchange.outcome()}, expected HTTP 404", exchange)
    return None


@check(
    "transport.unknown_fields",
    "A field the spec does not name is no reason to refuse a request",
    S_UNKNOWN_FIELDS,
    needs=["registration.hubclientinfo"],
    phase=Phase.PROBE,
    versions=["2.3.0"],
)
async def unknown_fields(ctx: Context) -> str | None:
    # 2.3.0: "An OCPI Platform SHALL NOT reject request or response payloads based on the
    # presence of JSON object field names that are not documented in this specification."
    # Judged on the ClientInfo PUT registration.hubclientinfo made: sending it again changes
    # nothing at the member but the field it does not know.
    base = ctx.require_endpoint(ModuleID.HUBCLIENTINFO, InterfaceRole.RECEIVER)
    info = ctx.server.client_info()
    url = f"{base.rstrip('/')}/{info.country_code}/{info.party_id}"
    body = ctx.config.speaks.adapter.up(ObjectKind.CLIENT_INFO, info.to_json()).value
    body["conformance_extension"] = {"note": "a field OCPI does not specify"}
    exchange = await ctx.call("PUT", url, body=body, routed=False, as_sent=True)
    if not exchange.ok:
        raise CheckFailed(
            "PUT of the counterpart's ClientInfo with one field OCPI does not specify "
            f"(conformance_extension): {exchange.outcome()}, expected status 1000",
            exchange,
        )
    return None


# --- judged over the whole run ----------------------------------------------------------------
M = TypeVar("M", Exchange, Inbound)


def _scan(items: Sequence[M], noun: str, fault: str, judge: Callable[[M], list[str]]) -> str:
    """Judge every message with `judge` (its problems); fail naming the first few."""
    if not items:
        raise CheckSkipped(f"no {noun} to judge")
    bad: list[tuple[str, Evidence]] = [
        (f"{item.method} {item.url}: {problem}", item) for item in items for problem in judge(item)
    ]
    if bad:
        raise _fail_many(fault, bad)
    return f"{len(items)} {noun}"


def _answered(ctx: Context) -> list[Exchange]:
    return [e for e in ctx.member.exchanges if e.status is not None]


def _routing_present(headers: dict[str, str]) -> list[str]:
    return [name for name in ROUTING_HEADERS if name.lower() in headers]


@check(
    "transport.envelope",
    "Every answer is an OCPI envelope with a fitting status",
    S_ENVELOPE,
    phase=Phase.SCAN,
)
async def envelope(ctx: Context) -> str | None:
    def judge(exchange: Exchange) -> list[str]:
        view = exchange.envelope
        problems = list(view.problems)
        status = exchange.status or 0
        if view.status_code is not None and is_success(view.status_code) and status >= 300:
            problems.append(f"status {view.status_code} with HTTP {status}")
        return problems

    return _scan(_answered(ctx), "answers", "answers break the response format", judge)


@check(
    "transport.request_ids",
    "X-Request-ID and X-Correlation-ID echoed on every answer",
    S_IDS,
    phase=Phase.SCAN,
)
async def request_ids(ctx: Context) -> str | None:
    def judge(exchange: Exchange) -> list[str]:
        problems = []
        for name in (X_REQUEST_ID, X_CORRELATION_ID):
            sent, got = exchange.request_headers.get(name), exchange.header(name)
            if got != sent:
                problems.append(
                    f"{name} " + ("missing" if got is None else f"{got!r} not {sent!r}")
                )
        return problems

    return _scan(_answered(ctx), "answers", "ids not echoed", judge)


@check(
    "transport.routing_answers",
    "Routing headers on functional answers, none on others",
    S_ROUTING,
    needs=[HANDSHAKE],
    phase=Phase.SCAN,
)
async def routing_answers(ctx: Context) -> str | None:
    def judge(exchange: Exchange) -> list[str]:
        present = _routing_present(exchange.response_headers)
        sent = exchange.routing
        if sent is None:
            return [f"a configuration module answered with {present}"] if present else []
        try:
            got = routing_of(exchange.response_headers)
        except ValueError as exc:
            return [str(exc)]
        if got.to != sent.from_ or got.from_ != sent.to:
            expected = f"TO={sent.from_} FROM={sent.to}"
            return [f"answered TO={got.to} FROM={got.from_}, expected {expected}"]
        return []

    # Probes and refusals never reached the OCPI layer: their answers are judged elsewhere.
    judged = [e for e in _answered(ctx) if not e.probe and e.status != 401]
    return _scan(judged, "answers", "answers with wrong routing headers", judge)


@check(
    "transport.routing_requests",
    "The member's functional requests carry routing headers",
    S_ROUTING,
    needs=[HANDSHAKE],
    phase=Phase.SCAN,
)
async def routing_requests(ctx: Context) -> str | None:
    allowed_to = {ctx.config.suite_party, ctx.config.other}

    def judge(item: Inbound) -> list[str]:
        present = _routing_present(item.headers)
        if not item.functional:
            return [f"a configuration module request with {present}"] if present else []
        try:
            sent = routing_of(item.headers)
        except ValueError as exc:
            return [str(exc)]
        problems = []
        if sent.from_ is None:
            problems.append(f"no {OCPI_FROM_COUNTRY_CODE}/party-id")
        elif sent.from_ not in ctx.member_parties:
            problems.append(f"FROM {sent.from_} is not a registered role")
        if sent.to is not None and sent.to not in allowed_to:
            problems.append(f"TO {sent.to} is no party behind the suite")
        return problems

    received = [i for i in ctx.server.inbound if i.token is not None]
    return _scan(received, "requests", "requests with wrong routing headers", judge)


@check(
    "transport.member_authorization",
    "The member sends 'Token base64(token)'",
    S_AUTH,
    needs=[HANDSHAKE],
    phase=Phase.SCAN,
)
async def member_authorization(ctx: Context) -> str | None:
    raw = ctx.config.speaks.raw_tokens

    def judge(item: Inbound) -> list[str]:
        if item.token is None:
            return ["no token the suite issued"]
        if raw and not item.raw_token:
            return [f"the token is Base64-encoded (OCPI {ctx.config.version}: 'Token <token>')"]
        return ["the token is not Base64-encoded"] if item.raw_token and not raw else []

    return _scan(ctx.server.inbound, "requests", "requests with a wrong Authorization", judge)


@check(
    "transport.member_request_ids",
    "The member's requests carry X-Request-ID and X-Correlation-ID",
    S_IDS,
    needs=[HANDSHAKE],
    phase=Phase.SCAN,
)
async def member_request_ids(ctx: Context) -> str | None:
    def judge(item: Inbound) -> list[str]:
        return [f"no {name}" for name in (X_REQUEST_ID, X_CORRELATION_ID) if not item.header(name)]

    return _scan(ctx.server.inbound, "requests", "requests without ids", judge)


def _rule_kept(ctx: Context, rule: str, fault: str) -> str | None:
    """Fail with every finding of `rule` in what the member answered or pushed."""
    answered = _answered(ctx)
    if not answered:
        raise CheckSkipped("no answers to judge")
    found = [(f, e) for f, e in ctx.findings if f.rule == rule]
    found += [(f, item) for item in ctx.server.inbound for f in item.findings if f.rule == rule]
    bad: list[tuple[str, Evidence]] = [(f"{f.where}: {f.message}", e) for f, e in found]
    if rule == DATETIME:
        for exchange in answered:
            stamp = exchange.envelope.timestamp
            try:
                if isinstance(stamp, str):
                    parse_datetime(stamp)
            except ValueError as exc:
                bad.append((f"{exchange.url} timestamp {stamp!r}: {exc}", exchange))
    if bad:
        raise _fail_many(fault, bad)
    return None


@check(
    "transport.datetime_format",
    "Every DateTime is RFC 3339 UTC, at most 25 characters",
    S_DATETIME,
    phase=Phase.SCAN,
)
async def datetime_format(ctx: Context) -> str | None:
    return _rule_kept(ctx, DATETIME, "DateTime values break the rule")


@check(
    "transport.string_rules",
    "Strings within their length and character rules",
    S_STRINGS,
    phase=Phase.SCAN,
)
async def string_rules(ctx: Context) -> str | None:
    return _rule_kept(ctx, STRING, "strings break their rule")


@check(
    "transport.pushes_valid",
    "Objects the member pushed to the suite are valid",
    S_PUSHES,
    needs=[HANDSHAKE],
    phase=Phase.SCAN,
)
async def pushes_valid(ctx: Context) -> str | None:
    def judge(item: Inbound) -> list[str]:
        return ["; ".join(item.problems)] if item.problems and item.judged_by is None else []

    pushed = [
        i for i in ctx.server.inbound if i.functional and i.method in ("PUT", "PATCH", "POST")
    ]
    return _scan(pushed, "pushes", "pushes the suite refused with 2001", judge)


CHECKS: tuple[Check, ...] = (
    authorization_base64,
    unknown_token_401,
    not_json_400,
    invalid_object_2001,
    unknown_object_404,
    unknown_fields,
    envelope,
    request_ids,
    routing_answers,
    routing_requests,
    member_authorization,
    member_request_ids,
    datetime_format,
    string_rules,
    pushes_valid,
)
