"""Checks of an eMSP member: its tokens and real-time authorization, the Locations, Tariffs,
Sessions and CDRs the suite pushes to it as a CPO behind its hub, and a command it sends.

The suite plays the CPO party `counterpart` (default ZZ/CPO) with one location, one EVSE and
one tariff of its own. An eMSP sends START_SESSION when a driver asks, which no protocol
message can bring about: with a trigger (`--trigger-command`, or a hook in tests) the suite
asks for it; without one the command checks are skipped unless a command came anyway.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ocpi.headers import PartyRef
from ocpi.platform.adapters import ObjectKind
from ocpi.pricing import SessionUsage, UsagePeriod, UsageState, price_session
from ocpi.status import OcpiStatus
from ocpi.v221 import (
    CDR,
    EVSE,
    AuthMethod,
    AuthorizationInfo,
    Capability,
    CdrToken,
    CommandResult,
    CommandResultType,
    Connector,
    ConnectorFormat,
    ConnectorType,
    GeoLocation,
    InterfaceRole,
    Location,
    LocationReferences,
    ModuleID,
    PowerType,
    PriceComponent,
    Session,
    SessionStatus,
    StartSession,
    Status,
    Tariff,
    TariffDimensionType,
    TariffElement,
    Token,
    TokenType,
)
from ocpi.v221.types import format_datetime
from roam.conformance.checks import EMSP, Check, CheckFailed, CheckSkipped, check
from roam.conformance.context import Context, TriggerInfo
from roam.conformance.exchange import Exchange
from roam.conformance.pagination import listing
from roam.conformance.registration import HANDSHAKE

S_TOKENS = "mod_tokens.asciidoc §12.2.2.1 GET Method, §12.3.2 Token Object"
S_AUTHORIZE = "mod_tokens.asciidoc §12.2.2.2 POST Method, §12.3.1 AuthorizationInfo Object"
S_TARIFF = (
    "mod_tariffs.asciidoc §11.2.2.2 PUT Method, §11.2.2.1 GET Method, §11.2.2.3 DELETE Method"
)
S_LOCATION = (
    "mod_locations.asciidoc §8.2.2.2 PUT Method, §8.2.2.3 PATCH Method, §8.2.2.1 GET Method"
)
S_SESSION = "mod_sessions.asciidoc §9.2.2.2 PUT Method, §9.2.2.3 PATCH Method, §9.2.2.1 GET Method"
S_CDR = "mod_cdrs.asciidoc §10.2.2.2 POST Method (Response Headers: Location), §10.2.2.1 GET Method"
S_COMMAND = "mod_commands.asciidoc §13.2.1.1 POST Method, §13.3.5 StartSession Object"
S_RESULT = "mod_commands.asciidoc §13.2.2.1 POST Method, §13.3.3 CommandResult Object"

TIME_ZONE = "Europe/Amsterdam"
_CDR_LOCATION_FIELDS = {"id", "name", "address", "city", "postal_code", "country", "coordinates"}
VAT = Decimal(20)


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def _receiver(ctx: Context, module: ModuleID, *parts: str) -> str:
    base = ctx.require_endpoint(module, InterfaceRole.RECEIVER)
    other = ctx.config.other
    return _join(base, other.country_code, other.party_id, *parts)


def suite_tariff(ctx: Context, tariff_id: str) -> Tariff:
    """0.50 start fee and 0.25 per kWh, 20 % VAT."""
    other = ctx.config.other
    components = [
        PriceComponent(type=TariffDimensionType.FLAT, price=Decimal("0.50"), vat=VAT, step_size=1),
        PriceComponent(
            type=TariffDimensionType.ENERGY, price=Decimal("0.25"), vat=VAT, step_size=1
        ),
    ]
    return Tariff(
        country_code=other.country_code,
        party_id=other.party_id,
        id=tariff_id,
        currency="EUR",
        elements=[TariffElement(price_components=components)],
        last_updated=_now(),
    )


def suite_location(ctx: Context, tariff_id: str) -> Location:
    other = ctx.config.other
    now = _now()
    connector = Connector(
        id="1",
        standard=ConnectorType.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=PowerType.AC_3_PHASE,
        max_voltage=230,
        max_amperage=32,
        max_electric_power=22080,
        tariff_ids=[tariff_id],
        last_updated=now,
    )
    evse = EVSE(
        uid="CONF-EVSE1",
        evse_id=f"{other.country_code}*{other.party_id}*ECONF1",
        status=Status.AVAILABLE,
        capabilities=[Capability.REMOTE_START_STOP_CAPABLE, Capability.RFID_READER],
        connectors=[connector],
        last_updated=now,
    )
    return Location(
        country_code=other.country_code,
        party_id=other.party_id,
        id="CONF-LOC1",
        publish=True,
        name="roam conformance test site",
        address="Teststraat 1",
        city="Amsterdam",
        country="NLD",
        coordinates=GeoLocation(latitude="52.37403", longitude="4.88969"),
        evses=[evse],
        time_zone=TIME_ZONE,
        last_updated=now,
    )


def member_token(ctx: Context) -> CdrToken:
    """A token of the member for the sessions and CDRs the suite sends: a pulled one."""
    for token in ctx.learned.tokens:
        if token.valid:
            return CdrToken.model_validate(token.model_dump())
    if ctx.learned.tokens:
        return CdrToken.model_validate(ctx.learned.tokens[0].model_dump())
    party = ctx.member_party
    assert party is not None  # set by the handshake every eMSP check needs
    return CdrToken(
        country_code=party.country_code,
        party_id=party.party_id,
        uid="CONF-DRIVER",
        type=TokenType.RFID,
        contract_id=f"{party.country_code}-{party.party_id}-CONF",
    )


async def _stored(ctx: Context, url: str, model: Any, what: str) -> tuple[Any, Exchange]:
    got = await ctx.call("GET", url)
    ctx.expect_ok(got, f"GET the {what} just sent")
    return ctx.parse(model, got.envelope.data, "data", got), got


@check("emsp.tokens", "Tokens pulled and valid", S_TOKENS, roles=EMSP, needs=[HANDSHAKE])
async def tokens(ctx: Context) -> str | None:
    pulled = await listing(ctx, ModuleID.TOKENS)
    found: list[Token] = ctx.parse_each(Token, pulled.items, "data", pulled.first)
    ctx.learned.tokens = found
    foreign = [
        t.uid for t in found if PartyRef(t.country_code, t.party_id) not in ctx.member_parties
    ]
    if foreign:
        raise CheckFailed(
            "tokens of parties the member did not register: " + ", ".join(foreign[:5]), pulled.first
        )
    return f"{len(found)} tokens"


@check(
    "emsp.push_tariff",
    "Tariff PUT, GET and DELETE on the Receiver interface",
    S_TARIFF,
    roles=EMSP,
    needs=[HANDSHAKE],
)
async def push_tariff(ctx: Context) -> str | None:
    tariff = suite_tariff(ctx, "CONF-T1")
    url = _receiver(ctx, ModuleID.TARIFFS, tariff.id)
    put = await ctx.call("PUT", url, body=tariff)
    ctx.expect_ok(put, "PUT a new Tariff")
    stored, got = await _stored(ctx, url, Tariff, "Tariff")
    expected = ctx.as_carried(ObjectKind.TARIFF, tariff, ctx.config.other)
    if stored.id != tariff.id or stored.elements != expected.elements:
        raise CheckFailed("GET returned another tariff than the one PUT", got)
    ctx.learned.pushed_tariff = tariff
    spare = suite_tariff(ctx, "CONF-T2")
    spare_url = _receiver(ctx, ModuleID.TARIFFS, spare.id)
    ctx.expect_ok(await ctx.call("PUT", spare_url, body=spare), "PUT a second Tariff")
    ctx.expect_ok(await ctx.call("DELETE", spare_url), "DELETE the second Tariff")
    after = await ctx.call("GET", spare_url)
    if after.ok:
        raise CheckFailed("the deleted tariff is still served", after)
    return None


@check(
    "emsp.push_location",
    "Location PUT, EVSE PATCH and GET on the Receiver interface",
    S_LOCATION,
    roles=EMSP,
    needs=[HANDSHAKE],
)
async def push_location(ctx: Context) -> str | None:
    location = suite_location(ctx, "CONF-T1")
    url = _receiver(ctx, ModuleID.LOCATIONS, location.id)
    ctx.expect_ok(await ctx.call("PUT", url, body=location), "PUT a new Location")
    evse_url = _join(url, "CONF-EVSE1")
    for status in (Status.CHARGING, Status.AVAILABLE):
        patch = {"status": status.value, "last_updated": format_datetime(_now())}
        ctx.expect_ok(await ctx.call("PATCH", evse_url, body=patch), f"PATCH EVSE {status}")
        stored, got = await _stored(ctx, url, Location, "Location")
        evses = {e.uid: e.status for e in stored.evses or []}
        if evses.get("CONF-EVSE1") is not status:
            raise CheckFailed(
                f"after PATCH status {status.value} the EVSE is {evses.get('CONF-EVSE1')}", got
            )
    ctx.learned.pushed_location = location
    return None


@check(
    "emsp.authorize_known",
    "Real-time authorization of a known token",
    S_AUTHORIZE,
    roles=EMSP,
    needs=["emsp.tokens"],
)
async def authorize_known(ctx: Context) -> str | None:
    if not ctx.learned.tokens:
        raise CheckSkipped("the member's token list is empty")
    token = next((t for t in ctx.learned.tokens if t.valid), ctx.learned.tokens[0])
    base = ctx.require_endpoint(ModuleID.TOKENS, InterfaceRole.SENDER)
    where = ctx.learned.pushed_location or suite_location(ctx, "CONF-T1")
    body = LocationReferences(location_id=where.id, evse_uids=["CONF-EVSE1"])
    url = _join(base, token.uid, "authorize")
    exchange = await ctx.call("POST", url, body=body, params={"type": token.type.value})
    ctx.expect_ok(exchange, f"authorize token {token.uid}")
    info: AuthorizationInfo = ctx.parse(AuthorizationInfo, exchange.envelope.data, "data", exchange)
    if (info.token.uid, info.token.type) != (token.uid, token.type):
        raise CheckFailed(f"the answer is about token {info.token.uid}, not {token.uid}", exchange)
    return f"{token.uid}: {info.allowed.value}"


@check(
    "emsp.authorize_unknown",
    "Real-time authorization of an unknown token: 404 and 2004",
    S_AUTHORIZE,
    roles=EMSP,
    needs=[HANDSHAKE],
)
async def authorize_unknown(ctx: Context) -> str | None:
    base = ctx.require_endpoint(ModuleID.TOKENS, InterfaceRole.SENDER)
    uid = f"CONF-UNKNOWN-{secrets.token_hex(4).upper()}"
    exchange = await ctx.call("POST", _join(base, uid, "authorize"), params={"type": "RFID"})
    view = exchange.envelope
    if exchange.status != 404 or view.status_code != OcpiStatus.UNKNOWN_TOKEN:
        raise CheckFailed(f"expected HTTP 404 with status 2004, got {exchange.outcome()}", exchange)
    if view.data is not None:
        raise CheckFailed("the answer for an unknown token must carry no data", exchange)
    return None


def _session(ctx: Context, location: Location, start: datetime) -> Session:
    other = ctx.config.other
    return Session(
        country_code=other.country_code,
        party_id=other.party_id,
        id=f"CONF-S{secrets.token_hex(3).upper()}",
        start_date_time=start,
        kwh=Decimal(0),
        cdr_token=member_token(ctx),
        auth_method=AuthMethod.AUTH_REQUEST,
        location_id=location.id,
        evse_uid="CONF-EVSE1",
        connector_id="1",
        currency="EUR",
        status=SessionStatus.ACTIVE,
        last_updated=start,
    )


def _usage(start: datetime, end: datetime) -> SessionUsage:
    period = UsagePeriod(
        state=UsageState.CHARGING, start_date_time=start, end_date_time=end, energy=Decimal(5)
    )
    return SessionUsage(time_zone=TIME_ZONE, periods=[period])


@check(
    "emsp.push_session",
    "Session PUT, PATCH (periods appended) and GET",
    S_SESSION,
    roles=EMSP,
    needs=["emsp.push_location"],
)
async def push_session(ctx: Context) -> str | None:
    location, tariff = ctx.learned.pushed_location, ctx.learned.pushed_tariff
    assert location is not None
    end = _now()
    start = end - timedelta(minutes=20)
    session = _session(ctx, location, start)
    url = _receiver(ctx, ModuleID.SESSIONS, session.id)
    ctx.expect_ok(await ctx.call("PUT", url, body=session), "PUT a new Session")
    priced = price_session(tariff or suite_tariff(ctx, "CONF-T1"), _usage(start, end)).cdr_fields()
    patch = {
        "kwh": 5,
        "charging_periods": [p.to_json() for p in priced.charging_periods],
        "total_cost": priced.total_cost.to_json(),
        "last_updated": format_datetime(end),
    }
    ctx.expect_ok(await ctx.call("PATCH", url, body=patch), "PATCH the Session")
    stored, got = await _stored(ctx, url, Session, "Session")
    if stored.kwh != Decimal(5) or len(stored.charging_periods or []) != len(
        priced.charging_periods
    ):
        raise CheckFailed(
            "after the PATCH the Session should have kwh 5 and the charging period sent",
            got,
        )
    done = {
        "status": "COMPLETED",
        "end_date_time": format_datetime(end),
        "last_updated": format_datetime(end),
    }
    ctx.expect_ok(await ctx.call("PATCH", url, body=done), "PATCH the Session COMPLETED")
    ctx.learned.pushed_session = session
    return None


def suite_cdr(ctx: Context, location: Location) -> CDR:
    """A CDR of the suite's CPO party for a 20-minute 5 kWh session at `location`, priced with
    the pushed tariff (the pushed session's, when there is one)."""
    tariff = ctx.learned.pushed_tariff or suite_tariff(ctx, "CONF-T1")
    end = _now()
    start = end - timedelta(minutes=20)
    session = ctx.learned.pushed_session or _session(ctx, location, start)
    priced = price_session(tariff, _usage(start, end)).cdr_fields()
    evse = (location.evses or [])[0]
    other = ctx.config.other
    return CDR.model_validate(
        {
            **priced.to_json(),
            "country_code": other.country_code,
            "party_id": other.party_id,
            "id": f"CONF-CDR{secrets.token_hex(4).upper()}",
            "session_id": session.id,
            "cdr_token": session.cdr_token.to_json(),
            "auth_method": session.auth_method.value,
            "cdr_location": {
                **location.model_dump(mode="json", include=_CDR_LOCATION_FIELDS),
                "evse_uid": evse.uid,
                "evse_id": evse.evse_id or evse.uid,
                "connector_id": "1",
                "connector_standard": ConnectorType.IEC_62196_T2.value,
                "connector_format": ConnectorFormat.SOCKET.value,
                "connector_power_type": PowerType.AC_3_PHASE.value,
            },
            "tariffs": [tariff.to_json()],
            "last_updated": format_datetime(end),
        }
    )


@check(
    "emsp.cdr_location_header",
    "CDR POST answered with a Location header to read it back",
    S_CDR,
    roles=EMSP,
    needs=["emsp.push_location"],
)
async def cdr_location_header(ctx: Context) -> str | None:
    location = ctx.learned.pushed_location
    assert location is not None
    cdr = suite_cdr(ctx, location)
    base = ctx.require_endpoint(ModuleID.CDRS, InterfaceRole.RECEIVER)
    posted = await ctx.call("POST", base, body=cdr)
    ctx.expect_ok(posted, "POST a CDR")
    where = posted.header("Location")
    if not where:
        raise CheckFailed("the answer to the CDR POST has no Location header", posted)
    if not where.startswith(("http://", "https://")):
        raise CheckFailed(f"the Location header {where!r} is not an absolute URL", posted)
    stored, _ = await _stored(ctx, where, CDR, "CDR (at the Location URL)")
    if stored.id != cdr.id:
        raise CheckFailed(f"the Location URL serves CDR {stored.id}, not {cdr.id}", posted)
    return None


async def _trigger(ctx: Context, info: TriggerInfo) -> str | None:
    """Run the trigger; a reason to skip when it fails."""
    trigger = ctx.config.trigger
    if trigger is None:
        return None
    try:
        await asyncio.wait_for(trigger(info), ctx.config.wait)
    except Exception as exc:  # the trigger is the user's: any failure is reported, not raised
        return f"the trigger failed: {type(exc).__name__}: {exc}"
    return None


@check(
    "emsp.command_sent",
    "A START_SESSION sent to the suite (as CPO) is valid",
    S_COMMAND,
    roles=EMSP,
    needs=["emsp.push_location"],
)
async def command_sent(ctx: Context) -> str | None:
    location = ctx.learned.pushed_location
    assert location is not None
    other = ctx.config.other
    info = TriggerInfo(other.country_code, other.party_id, location.id, "CONF-EVSE1", "1")

    def is_command(item: Any) -> bool:
        return item.module == "commands" and item.method == "POST" and "receiver" in item.path

    if ctx.config.trigger is None:
        item = next((i for i in ctx.server.inbound if is_command(i)), None)
        if item is None:
            raise CheckSkipped(
                "no command arrived and no --trigger-command was given to make the member "
                f"send START_SESSION for {location.id}/CONF-EVSE1 of {other}"
            )
    else:
        since = len(ctx.server.inbound)
        waiting = asyncio.ensure_future(ctx.server.wait_for(is_command, ctx.config.wait, since))
        failed = await _trigger(ctx, info)
        if failed is not None and not waiting.done():
            waiting.cancel()
            raise CheckSkipped(failed)
        item = await waiting
        if item is None:
            raise CheckSkipped(f"no command arrived within {ctx.config.wait:g} s of the trigger")
    item.judged_by = "emsp.command_sent"
    if not isinstance(item.parsed, StartSession):
        why = "; ".join(item.problems) or f"it is {item.path.rsplit('/', 1)[-1]}"
        raise CheckFailed(f"the command is not a valid START_SESSION: {why}", item)
    command: StartSession = item.parsed
    problems: list[str] = []
    if command.location_id != location.id:
        problems.append(f"location_id is {command.location_id}, expected {location.id}")
    owner = PartyRef(command.token.country_code, command.token.party_id)
    if owner not in ctx.member_parties:
        problems.append(f"the token belongs to {owner} (spec: an eMSP may only use its own)")
    if not command.response_url.startswith(("http://", "https://")):
        problems.append(f"response_url {command.response_url!r} is not an absolute URL")
    to = item.addressee
    if to is not None and to != other:
        problems.append(f"it is addressed to {to}, not to the location's CPO {other}")
    if problems:
        raise CheckFailed("; ".join(problems), item)
    ctx.learned.command = item
    return f"START_SESSION for token {command.token.uid}"


@check(
    "emsp.command_result",
    "The member accepts the CommandResult at its response_url",
    S_RESULT,
    roles=EMSP,
    needs=["emsp.command_sent"],
)
async def command_result(ctx: Context) -> str | None:
    item = ctx.learned.command
    assert item is not None and isinstance(item.parsed, StartSession)
    result = CommandResult(result=CommandResultType.ACCEPTED)
    exchange = await ctx.call("POST", item.parsed.response_url, body=result)
    ctx.expect_ok(exchange, "POST the CommandResult to the response_url")
    return None


CHECKS: tuple[Check, ...] = (
    tokens,
    push_tariff,
    push_location,
    authorize_known,
    authorize_unknown,
    push_session,
    cdr_location_header,
    command_sent,
    command_result,
)
