"""Checks of a CPO member: its locations and tariffs, the tokens it receives, and a remote
session the suite starts and stops as the eMSP behind its hub, down to the priced CDR.

The suite plays the eMSP party `counterpart` (default ZZ/EMS) and invents an APP_USER token of
its own. A real charger starts charging only when a car is there: when no Session arrives
within --wait the session checks are skipped, saying so (the mock CPO's simulation.auto_plug
plugs in a virtual car); what does arrive must be valid and priced as the CPO's own tariff
says.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any

from ocpi.headers import PartyRef
from ocpi.platform.adapters import ObjectKind
from ocpi.pricing import PricingError, price_session
from ocpi.pricing.cdr import cdr_tariff, usage_from_cdr
from ocpi.status import OcpiStatus
from ocpi.v221 import (
    CDR,
    Capability,
    CommandResponse,
    CommandResponseType,
    CommandResult,
    CommandResultType,
    InterfaceRole,
    Location,
    ModuleID,
    Session,
    SessionStatus,
    Status,
    Tariff,
    Token,
    TokenType,
    WhitelistType,
)
from roam.conformance.checks import CPO, Check, CheckFailed, CheckSkipped, check
from roam.conformance.context import Context
from roam.conformance.costing import describe_tariff, price_gaps
from roam.conformance.exchange import Exchange, Inbound
from roam.conformance.pagination import listing
from roam.conformance.registration import HANDSHAKE

S_LOCATIONS = "mod_locations.asciidoc §8.2.1.1 GET Method, §8.3.1 Location Object"
S_TARIFFS = "mod_tariffs.asciidoc §11.2.1.1 GET Method, §11.3.1 Tariff Object"
S_TARIFF_IDS = (
    "mod_locations.asciidoc §8.3.3 Connector Object (tariff_ids); "
    "mod_tariffs.asciidoc §11.1 Flow and Lifecycle"
)
S_TOKENS = "mod_tokens.asciidoc §12.2.1.2 PUT Method, §12.2.1.1 GET Method"
S_UNKNOWN = (
    "mod_commands.asciidoc §13.2.1.1 POST Method; "
    "status_codes.asciidoc §5.2 2xxx: Client errors (2003)"
)
S_COMMAND = (
    "mod_commands.asciidoc §13.2.1.1 POST Method, §13.3.2 CommandResponse Object, "
    "§13.2.2.1 POST Method (CommandResult)"
)
S_SESSION = (
    "mod_sessions.asciidoc §9.2.2.2 PUT Method, §9.3.1 Session Object; "
    "mod_commands.asciidoc §13.3.5 StartSession Object"
)
S_CDR = "mod_cdrs.asciidoc §10.2.2.2 POST Method, §10.3.1 CDR Object"
S_PRICED = (
    "mod_cdrs.asciidoc §10.3.1 CDR Object (total_cost); mod_tariffs.asciidoc §11.3.1 Tariff Object"
)

UNKNOWN_LOCATION = "CONFORMANCE-NO-SUCH-LOCATION"


def suite_token(ctx: Context) -> Token:
    """The APP_USER token of the suite's eMSP party used for every remote start."""
    if ctx.learned.suite_token is None:
        other = ctx.config.other
        suffix = secrets.token_hex(4).upper()
        token = Token(
            country_code=other.country_code,
            party_id=other.party_id,
            uid=f"CONF{suffix}",
            type=TokenType.APP_USER,
            contract_id=f"{other.country_code}-{other.party_id}-C{suffix}",
            issuer="roam conformance suite",
            valid=True,
            whitelist=WhitelistType.ALLOWED,
            last_updated=datetime.now(UTC),
        )
        ctx.learned.suite_token = token
        ctx.server.driver_tokens[(token.uid, token.type.value)] = token
    return ctx.learned.suite_token


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


async def send_command(
    ctx: Context, kind: str, fields: dict[str, Any]
) -> tuple[Exchange, CommandResponse, str, int]:
    """POST one command; (exchange, CommandResponse, command id, inbound index before it)."""
    url = ctx.require_endpoint(ModuleID.COMMANDS, InterfaceRole.RECEIVER)
    command_id = secrets.token_hex(8)
    since = len(ctx.server.inbound)
    body = {"response_url": ctx.server.response_url(kind, command_id), **fields}
    exchange = await ctx.call("POST", _join(url, kind), body=body)
    ctx.expect_ok(exchange, f"POST {kind}")
    response: CommandResponse = ctx.parse(CommandResponse, exchange.envelope.data, "data", exchange)
    return exchange, response, command_id, since


async def command_result(
    ctx: Context, kind: str, command_id: str, response: CommandResponse, sent: Exchange, since: int
) -> CommandResult:
    """Wait for the CommandResult at the response_url (bounded by --wait and the timeout)."""
    within = min(ctx.config.wait, max(float(response.timeout), 1.0) + 2.0)
    tail = f"sender/commands/{kind}/{command_id}"
    item = await ctx.server.wait_for(
        lambda i: i.method == "POST" and i.path.endswith(tail), within, since
    )
    if item is None:
        raise CheckFailed(
            f"{kind} was ACCEPTED but no CommandResult arrived at the response_url within "
            f"{within:g} s",
            sent,
        )
    item.judged_by = "command"
    if not isinstance(item.parsed, CommandResult):
        raise CheckFailed("the CommandResult is not valid: " + "; ".join(item.problems), item)
    return item.parsed


def _expect_accepted(kind: str, response: CommandResponse, exchange: Exchange) -> None:
    if response.result is not CommandResponseType.ACCEPTED:
        raise CheckFailed(f"{kind} answered {response.result.value}, expected ACCEPTED", exchange)


def _own(ctx: Context, country_code: str, party_id: str) -> bool:
    return PartyRef(country_code, party_id) in ctx.member_parties


@check("cpo.locations", "Locations pulled and valid", S_LOCATIONS, roles=CPO, needs=[HANDSHAKE])
async def locations(ctx: Context) -> str | None:
    pulled = await listing(ctx, ModuleID.LOCATIONS)
    found: list[Location] = ctx.parse_each(Location, pulled.items, "data", pulled.first)
    ctx.learned.locations = found
    foreign = [
        f"{x.id} ({x.country_code}/{x.party_id})"
        for x in found
        if not _own(ctx, x.country_code, x.party_id)
    ]
    if foreign:
        raise CheckFailed(
            "locations of parties the member did not register: " + ", ".join(foreign[:5]),
            pulled.first,
        )
    evses = sum(len(x.evses or []) for x in found)
    return f"{len(found)} locations, {evses} EVSEs"


@check("cpo.tariffs", "Tariffs pulled and valid", S_TARIFFS, roles=CPO, needs=[HANDSHAKE])
async def tariffs(ctx: Context) -> str | None:
    pulled = await listing(ctx, ModuleID.TARIFFS)
    ctx.learned.raw_tariffs = list(pulled.items)
    found: list[Tariff] = ctx.parse_each(Tariff, pulled.items, "data", pulled.first)
    ctx.learned.tariffs = found
    foreign = [x.id for x in found if not _own(ctx, x.country_code, x.party_id)]
    if foreign:
        raise CheckFailed(
            "tariffs of parties the member did not register: " + ", ".join(foreign[:5]),
            pulled.first,
        )
    return f"{len(found)} tariffs"


@check(
    "cpo.tariff_ids_resolve",
    "Every connector's tariff_ids name a published tariff",
    S_TARIFF_IDS,
    roles=CPO,
    needs=["cpo.locations", "cpo.tariffs"],
)
async def tariff_ids_resolve(ctx: Context) -> str | None:
    known = {t.get("id") for t in ctx.learned.raw_tariffs if isinstance(t, dict)}
    missing: list[str] = []
    for location in ctx.learned.locations:
        for evse in location.evses or []:
            for connector in evse.connectors:
                missing += [
                    f"{location.id}/{evse.uid}/{connector.id} -> {tariff_id}"
                    for tariff_id in connector.tariff_ids or []
                    if tariff_id not in known
                ]
    if missing:
        evidence = ctx.learned.listings[ModuleID.TARIFFS.value].first
        raise CheckFailed(
            f"{len(missing)} tariff_ids are not on the Tariffs list: " + ", ".join(missing[:5]),
            evidence,
        )
    return None


@check(
    "cpo.tokens_receiver",
    "A Token PUT is stored and read back",
    S_TOKENS,
    roles=CPO,
    needs=[HANDSHAKE],
)
async def tokens_receiver(ctx: Context) -> str | None:
    token = suite_token(ctx)
    base = ctx.require_endpoint(ModuleID.TOKENS, InterfaceRole.RECEIVER)
    url = _join(base, token.country_code, token.party_id, token.uid)
    params = {"type": token.type.value}
    put = await ctx.call("PUT", url, body=token, params=params)
    ctx.expect_ok(put, "PUT a Token")
    got = await ctx.call("GET", url, params=params)
    ctx.expect_ok(got, "GET the Token just PUT")
    stored: Token = ctx.parse(Token, got.envelope.data, "data", got)
    owner = PartyRef(token.country_code, token.party_id)
    held = ctx.as_carried(ObjectKind.TOKEN, token, owner)  # 2.1.1: APP_USER is OTHER
    if (stored.uid, stored.type) != (held.uid, held.type):
        raise CheckFailed(f"GET returned token {stored.uid} ({stored.type.value})", got)
    return None


@check(
    "cpo.unknown_location",
    "START_SESSION at an unknown location answers 2003",
    S_UNKNOWN,
    roles=CPO,
    needs=[HANDSHAKE],
)
async def unknown_location(ctx: Context) -> str | None:
    url = ctx.require_endpoint(ModuleID.COMMANDS, InterfaceRole.RECEIVER)
    token = suite_token(ctx)
    body = {
        "response_url": ctx.server.response_url("START_SESSION", secrets.token_hex(8)),
        "token": token.to_json(),
        "location_id": UNKNOWN_LOCATION,
    }
    exchange = await ctx.call("POST", _join(url, "START_SESSION"), body=body)
    if exchange.envelope.status_code != OcpiStatus.UNKNOWN_LOCATION:
        raise CheckFailed(
            f"expected status 2003 (unknown location), got {exchange.outcome()}", exchange
        )
    return None


def _target(ctx: Context) -> tuple[Location, Any, Any] | None:
    for location in ctx.learned.locations:
        if (
            ctx.member_party is not None
            and PartyRef(location.country_code, location.party_id) != ctx.member_party
        ):
            continue
        for evse in location.evses or []:
            capabilities = evse.capabilities or []
            if Capability.REMOTE_START_STOP_CAPABLE in capabilities and (
                evse.status is Status.AVAILABLE
            ):
                return location, evse, evse.connectors[0]
    return None


@check(
    "cpo.start_session",
    "START_SESSION: CommandResponse, then CommandResult",
    S_COMMAND,
    roles=CPO,
    needs=["cpo.locations"],
)
async def start_session(ctx: Context) -> str | None:
    target = _target(ctx)
    if target is None:
        raise CheckSkipped("no published EVSE is AVAILABLE and REMOTE_START_STOP_CAPABLE")
    location, evse, connector = target
    ctx.learned.target = target
    fields = {
        "token": suite_token(ctx).to_json(),
        "location_id": location.id,
        "evse_uid": evse.uid,
        "connector_id": connector.id,
        "authorization_reference": f"CONF{secrets.token_hex(6).upper()}",
    }
    exchange, response, command_id, since = await send_command(ctx, "START_SESSION", fields)
    ctx.learned.start_reference = fields["authorization_reference"]
    _expect_accepted("START_SESSION", response, exchange)
    result = await command_result(ctx, "START_SESSION", command_id, response, exchange, since)
    ctx.learned.start_result = result.result.value
    return f"at {location.id}/{evse.uid}/{connector.id}: result {result.result.value}"


def _is_our_session(ctx: Context, item: Inbound) -> bool:
    if item.module != "sessions" or item.method != "PUT" or not isinstance(item.payload, dict):
        return False
    token = item.payload.get("cdr_token")
    return isinstance(token, dict) and token.get("uid") == suite_token(ctx).uid


@check(
    "cpo.session",
    "The Session of the remote start is pushed and describes it",
    S_SESSION,
    roles=CPO,
    needs=["cpo.start_session"],
)
async def session(ctx: Context) -> str | None:
    if ctx.learned.start_result != CommandResultType.ACCEPTED.value:
        raise CheckSkipped(f"the START_SESSION result was {ctx.learned.start_result}")
    item = await ctx.server.wait_for(lambda i: _is_our_session(ctx, i), ctx.config.wait)
    if item is None:
        raise CheckSkipped(
            f"no session arrived within {ctx.config.wait:g} s: does your test charger need a "
            "car plugged in? (the mock CPO: simulation.auto_plug = true)"
        )
    item.judged_by = "cpo.session"
    if not isinstance(item.parsed, Session):
        raise CheckFailed("the Session is not valid: " + "; ".join(item.problems), item)
    pushed: Session = item.parsed
    target = ctx.learned.target
    assert target is not None
    token = suite_token(ctx)
    problems = _url_owner(item, pushed.country_code, pushed.party_id, pushed.id)
    actual = {
        "cdr_token": (
            pushed.cdr_token.country_code.upper(),
            pushed.cdr_token.party_id.upper(),
            pushed.cdr_token.uid,
            pushed.cdr_token.type,
        ),
        "auth_method": pushed.auth_method,
        "authorization_reference": pushed.authorization_reference,
        "location_id": pushed.location_id,
        "evse_uid": pushed.evse_uid,
    }
    wanted = {
        "cdr_token": (token.country_code, token.party_id, token.uid, token.type),
        "auth_method": ctx.config.speaks.remote_start_method,
        "authorization_reference": ctx.learned.start_reference,
        "location_id": target[0].id,
        "evse_uid": target[1].uid,
    }
    for name in ctx.config.speaks.lacks & set(wanted):
        del wanted[name]  # a field the version's Session does not have
    problems += [
        f"{k} is {actual[k]!r}, expected {wanted[k]!r}" for k in wanted if actual[k] != wanted[k]
    ]
    if pushed.status not in (SessionStatus.PENDING, SessionStatus.ACTIVE):
        problems.append(f"status is {pushed.status.value}, expected PENDING or ACTIVE")
    to = item.addressee
    if to is not None and to != ctx.config.other:
        problems.append(f"it is addressed to {to}, not to the token's eMSP {ctx.config.other}")
    if problems:
        raise CheckFailed("; ".join(problems), item)
    ctx.learned.session = pushed
    return f"session {pushed.id} {pushed.status.value}"


def _url_owner(item: Inbound, country_code: str, party_id: str, object_id: str) -> list[str]:
    """The URL's {country_code}/{party_id}/{id} must be the pushed object's."""
    parts = item.segments[-3:]
    wanted = [country_code.upper(), party_id.upper(), object_id]
    if len(parts) != 3 or [parts[0].upper(), parts[1].upper(), parts[2]] != wanted:
        return [f"the URL ends in {'/'.join(parts)}, the object is {'/'.join(wanted)}"]
    return []


@check(
    "cpo.stop_session",
    "STOP_SESSION: CommandResponse, then CommandResult",
    S_COMMAND,
    roles=CPO,
    needs=["cpo.session"],
)
async def stop_session(ctx: Context) -> str | None:
    pushed = ctx.learned.session
    assert pushed is not None
    await asyncio.sleep(ctx.config.charge_seconds)
    fields = {"session_id": pushed.id}
    exchange, response, command_id, since = await send_command(ctx, "STOP_SESSION", fields)
    ctx.learned.stop_index = since
    _expect_accepted("STOP_SESSION", response, exchange)
    result = await command_result(ctx, "STOP_SESSION", command_id, response, exchange, since)
    if result.result is not CommandResultType.ACCEPTED:
        raise CheckFailed(
            f"the result of stopping a running session is {result.result.value}", exchange
        )
    return None


def _is_our_cdr(ctx: Context, item: Inbound) -> bool:
    if item.module != "cdrs" or item.method != "POST" or not isinstance(item.payload, dict):
        return False
    pushed = ctx.learned.session
    token = item.payload.get("cdr_token")
    return (pushed is not None and item.payload.get("session_id") == pushed.id) or (
        isinstance(token, dict) and token.get("uid") == suite_token(ctx).uid
    )


@check(
    "cpo.cdr",
    "The CDR of the stopped session is POSTed and describes it",
    S_CDR,
    roles=CPO,
    needs=["cpo.stop_session"],
)
async def cdr(ctx: Context) -> str | None:
    item = await ctx.server.wait_for(
        lambda i: _is_our_cdr(ctx, i), ctx.config.wait, ctx.learned.stop_index
    )
    if item is None:
        raise CheckSkipped(f"no CDR arrived within {ctx.config.wait:g} s after the stop")
    item.judged_by = "cpo.cdr"
    if not isinstance(item.parsed, CDR):
        raise CheckFailed("the CDR is not valid: " + "; ".join(item.problems), item)
    got: CDR = item.parsed
    pushed = ctx.learned.session
    target = ctx.learned.target
    assert pushed is not None and target is not None
    token = suite_token(ctx)
    problems = []
    if got.session_id != pushed.id and "session_id" not in ctx.config.speaks.lacks:
        problems.append(f"session_id is {got.session_id!r}, the session was {pushed.id!r}")
    if (got.cdr_token.uid, got.cdr_token.type) != (token.uid, token.type):
        problems.append(f"cdr_token is {got.cdr_token.uid}, the session's was {token.uid}")
    if (got.cdr_location.id, got.cdr_location.evse_uid) != (target[0].id, target[1].uid):
        problems.append(
            f"cdr_location is {got.cdr_location.id}/{got.cdr_location.evse_uid}, the session "
            f"was at {target[0].id}/{target[1].uid}"
        )
    if got.end_date_time < got.start_date_time:
        problems.append("end_date_time is before start_date_time")
    if not _own(ctx, got.country_code, got.party_id):
        problems.append(f"the CDR belongs to {got.country_code}/{got.party_id}")
    if problems:
        raise CheckFailed("; ".join(problems), item)
    ctx.learned.cdr = got
    ctx.learned.cdr_evidence = item
    return f"CDR {got.id}: {got.total_energy} kWh, {got.total_cost.excl_vat} {got.currency}"


@check(
    "cpo.cdr_priced",
    "The CDR's total_cost is what the CPO's own tariff says",
    S_PRICED,
    roles=CPO,
    needs=["cpo.cdr"],
)
async def cdr_priced(ctx: Context) -> str | None:
    got, item, target = ctx.learned.cdr, ctx.learned.cdr_evidence, ctx.learned.target
    assert got is not None and item is not None and target is not None
    try:
        tariff = cdr_tariff(got, {t.id: t for t in ctx.learned.tariffs})
    except PricingError as exc:
        raise CheckFailed(f"the CDR's tariff cannot be found: {exc}", item) from None
    try:
        priced = price_session(tariff, usage_from_cdr(got, target[0].time_zone))
    except PricingError as exc:
        raise CheckSkipped(f"the suite's engine cannot re-price this session: {exc}") from None
    expected = priced.total.rounded(priced.currency)
    problems = price_gaps(got.total_cost, expected, got.currency)
    if problems:
        raise CheckFailed(
            f"total_cost disagrees with the session its charging periods describe, priced "
            f"with {describe_tariff(tariff)}: " + "; ".join(problems),
            item,
        )
    return f"{got.total_cost.excl_vat} {got.currency} excl. VAT, as tariff {tariff.id} gives"


@check(
    "cpo.unlock_connector",
    "UNLOCK_CONNECTOR: CommandResponse, then CommandResult",
    S_COMMAND,
    roles=CPO,
    needs=["cpo.locations"],
)
async def unlock_connector(ctx: Context) -> str | None:
    chosen = None
    candidates = [ctx.learned.target] if ctx.learned.target else []
    candidates += [
        (location, evse, evse.connectors[0])
        for location in ctx.learned.locations
        for evse in location.evses or []
        if evse.status is not Status.REMOVED
    ]
    for location, evse, connector in candidates:
        if Capability.UNLOCK_CAPABLE in (evse.capabilities or []):
            chosen = (location, evse, connector)
            break
    if chosen is None:
        raise CheckSkipped("no published EVSE is UNLOCK_CAPABLE")
    location, evse, connector = chosen
    fields = {"location_id": location.id, "evse_uid": evse.uid, "connector_id": connector.id}
    exchange, response, command_id, since = await send_command(ctx, "UNLOCK_CONNECTOR", fields)
    _expect_accepted("UNLOCK_CONNECTOR", response, exchange)
    result = await command_result(ctx, "UNLOCK_CONNECTOR", command_id, response, exchange, since)
    return f"at {location.id}/{evse.uid}/{connector.id}: result {result.result.value}"


CHECKS: tuple[Check, ...] = (
    locations,
    tariffs,
    tariff_ids_resolve,
    tokens_receiver,
    unknown_location,
    start_session,
    session,
    stop_session,
    cdr,
    cdr_priced,
    unlock_connector,
)
