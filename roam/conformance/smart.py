"""Checks of reservations and smart charging at a CPO member (issue 18, group 3): RESERVE_NOW,
CANCEL_RESERVATION and a start on the reserved EVSE; SET/GET/CLEAR of a charging profile with
the asynchronous result at the response_url the suite gave; charging preferences.

The suite (as the eMSP behind its hub) reserves an EVSE that is AVAILABLE, RESERVABLE and
REMOTE_START_STOP_CAPABLE (another one than the remote session's when it can), cancels that
reservation, reserves again and starts charging there with the same token. The charging
profile and preference checks use that session; the last of them stops it. A session needs
a car, as for `cpo.session`: when none starts, the checks that need it are skipped.

An eMSP under test gets the Session of a reservation the suite (as CPO) made for one of its
drivers: RESERVATION, then ACTIVE, then COMPLETED (`reservation.emsp_session`).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from ocpi.headers import PartyRef
from ocpi.v221 import (
    EVSE,
    ActiveChargingProfileResult,
    AuthMethod,
    Capability,
    ChargingPreferences,
    ChargingPreferencesResponse,
    ChargingProfile,
    ChargingProfilePeriod,
    ChargingProfileResponse,
    ChargingProfileResponseType,
    ChargingProfileResult,
    ChargingRateUnit,
    ClearProfileResult,
    CommandResponse,
    CommandResponseType,
    CommandResultType,
    Connector,
    InterfaceRole,
    Location,
    ModuleID,
    ProfileType,
    Session,
    SessionStatus,
    SetChargingProfile,
    Status,
)
from ocpi.v221.types import format_datetime
from roam.conformance.checks import CPO, EMSP, Check, CheckFailed, CheckSkipped, check
from roam.conformance.context import Context
from roam.conformance.cpo_role import command_result, send_command, suite_token
from roam.conformance.emsp_role import member_token
from roam.conformance.exchange import Exchange, Inbound

S_RESERVE = (
    "mod_commands.asciidoc §13.2.1.1 POST Method, §13.3.4 ReserveNow Object, "
    "§13.2.2.1 POST Method (CommandResult); mod_sessions.asciidoc §9.1.4 Reservation; "
    "mod_locations.asciidoc §8.4.22 Status enum (RESERVED)"
)
S_CANCEL = (
    "mod_commands.asciidoc §13.3.1 CancelReservation Object, §13.2.2.1 POST Method; "
    "mod_sessions.asciidoc §9.1.4 Reservation (COMPLETED)"
)
S_START_RESERVED = (
    "mod_sessions.asciidoc §9.1.4 Reservation (the Session becomes ACTIVE); "
    "mod_commands.asciidoc §13.3.5 StartSession Object"
)
S_SET = (
    "mod_charging_profiles.asciidoc §14.4.1.2 PUT Method, §14.5.1 ChargingProfileResponse "
    "Object, §14.4.2.1 POST Method, §14.5.3 ChargingProfileResult Object"
)
S_GET = (
    "mod_charging_profiles.asciidoc §14.4.1.1 GET Method, §14.4.2.1 POST Method, "
    "§14.5.2 ActiveChargingProfileResult Object, §14.3 Flow"
)
S_CLEAR = (
    "mod_charging_profiles.asciidoc §14.4.1.3 DELETE Method, §14.4.2.1 POST Method, "
    "§14.5.4 ClearProfileResult Object"
)
S_EMSP_SESSION = (
    "mod_sessions.asciidoc §9.1.4 Reservation, §9.2.2.2 PUT Method, §9.2.2.3 PATCH Method, "
    "§9.4.3 SessionStatus enum (RESERVATION)"
)
S_PREFERENCES = (
    "mod_sessions.asciidoc §9.1.3 Set: Charging Preferences, §9.2.1.2 PUT Method, "
    "§9.3.2 ChargingPreferences Object, §9.4.1 ChargingPreferencesResponse enum"
)

R = TypeVar("R")

PROFILE_LIMIT_W = Decimal("11000.0")
"""The limit the suite sets (11 kW): below what a fast charger gives, above a trickle."""
RESERVATION_MINUTES = 15
STATUS_WAIT = 5.0
"""Seconds the suite gives a reserved EVSE to read RESERVED (at most --wait)."""


@dataclass
class _Smart:
    """What the checks of this group hand on to each other."""

    target: tuple[Location, EVSE, Connector] | None = None
    reservation_id: str | None = None
    reservation_session: str | None = None
    session: Session | None = None
    profile_result: str | None = None


_STATE: weakref.WeakKeyDictionary[Context, _Smart] = weakref.WeakKeyDictionary()


def _state(ctx: Context) -> _Smart:
    return _STATE.setdefault(ctx, _Smart())


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def _expect_accepted(kind: str, response: CommandResponse, exchange: Exchange) -> None:
    if response.result is not CommandResponseType.ACCEPTED:
        raise CheckFailed(f"{kind} answered {response.result.value}, expected ACCEPTED", exchange)


async def _evse_now(ctx: Context, location: Location, evse: EVSE) -> EVSE | None:
    """The EVSE as the member serves it now (None when it cannot be read)."""
    base = ctx.require_endpoint(ModuleID.LOCATIONS, InterfaceRole.SENDER)
    got = await ctx.call("GET", _join(base, location.id, evse.uid))
    if not got.ok:
        return None
    now: EVSE | None = ctx.parse(EVSE, got.envelope.data, "data", got)
    return now


async def _pick(ctx: Context) -> tuple[Location, EVSE, Connector] | None:
    """An EVSE of the member's party that can be reserved and started and is AVAILABLE now;
    another one than the remote session's first."""
    wanted = {Capability.RESERVABLE, Capability.REMOTE_START_STOP_CAPABLE}
    used = ctx.learned.target[1].uid if ctx.learned.target else None
    candidates = [
        (location, evse)
        for location in ctx.learned.locations
        if ctx.member_party is None
        or PartyRef(location.country_code, location.party_id) == ctx.member_party
        for evse in location.evses or []
        if wanted <= set(evse.capabilities or []) and evse.status is not Status.REMOVED
    ]
    candidates.sort(key=lambda pair: pair[1].uid == used)
    for location, evse in candidates[:6]:
        now = await _evse_now(ctx, location, evse)
        if now is not None and now.status is Status.AVAILABLE:
            return location, now, now.connectors[0]
    return None


def _session_update(session_id: str | None, evse_uid: str, uid: str) -> Callable[[Inbound], bool]:
    """A matcher of Session pushes: of `session_id`, or any of the token `uid` at the EVSE."""

    def match(item: Inbound) -> bool:
        if item.module != "sessions" or item.method not in ("PUT", "PATCH"):
            return False
        if not isinstance(item.payload, dict) or not item.segments:
            return False
        if session_id is not None:
            return item.segments[-1] == session_id
        token = item.payload.get("cdr_token")
        return (
            isinstance(token, dict)
            and token.get("uid") == uid
            and item.payload.get("evse_uid") == evse_uid
        )

    return match


async def _reserve(ctx: Context, state: _Smart) -> tuple[str, Inbound]:
    """RESERVE_NOW at the target: accepted, result ACCEPTED, the RESERVATION Session pushed."""
    assert state.target is not None
    location, evse, _ = state.target
    token = suite_token(ctx)
    reservation_id = f"CONF-R{secrets.token_hex(4).upper()}"
    expiry = datetime.now(UTC) + timedelta(minutes=RESERVATION_MINUTES)
    fields = {
        "token": token.to_json(),
        "expiry_date": format_datetime(expiry.replace(microsecond=0)),
        "reservation_id": reservation_id,
        "location_id": location.id,
        "evse_uid": evse.uid,
        "authorization_reference": f"CONF{secrets.token_hex(6).upper()}",
    }
    exchange, response, command_id, since = await send_command(ctx, "RESERVE_NOW", fields)
    _expect_accepted("RESERVE_NOW", response, exchange)
    result = await command_result(ctx, "RESERVE_NOW", command_id, response, exchange, since)
    if result.result is not CommandResultType.ACCEPTED:
        raise CheckFailed(
            f"RESERVE_NOW at the AVAILABLE, RESERVABLE EVSE {location.id}/{evse.uid} gave "
            f"result {result.result.value}",
            exchange,
        )
    state.reservation_id = reservation_id
    match = _session_update(None, evse.uid, token.uid)
    item = await ctx.server.wait_for(match, ctx.config.wait, since)
    if item is None:
        raise CheckFailed(
            f"no Session arrived within {ctx.config.wait:g} s of the accepted reservation "
            "(spec: a reservation creates a Session in status RESERVATION, pushed to the eMSP)",
            exchange,
        )
    status = item.payload.get("status")
    if status != SessionStatus.RESERVATION.value:
        raise CheckFailed(
            f"the reservation's Session has status {status!r}, expected RESERVATION", item
        )
    session_id = item.segments[-1]
    state.reservation_session = session_id
    return session_id, item


@check(
    "reservation.reserve_now",
    "RESERVE_NOW: result ACCEPTED, a Session in status RESERVATION, the EVSE RESERVED",
    S_RESERVE,
    roles=CPO,
    needs=["cpo.locations"],
)
async def reserve_now(ctx: Context) -> str | None:
    state = _state(ctx)
    state.target = await _pick(ctx)
    if state.target is None:
        raise CheckSkipped(
            "no published EVSE is AVAILABLE, RESERVABLE and REMOTE_START_STOP_CAPABLE"
        )
    location, evse, _ = state.target
    session_id, _ = await _reserve(ctx, state)
    # A charger reports its new status on its own time: give it a moment.
    deadline = asyncio.get_running_loop().time() + min(ctx.config.wait, STATUS_WAIT)
    now = await _evse_now(ctx, location, evse)
    while (
        now is not None
        and now.status is not Status.RESERVED
        and asyncio.get_running_loop().time() < deadline
    ):
        await asyncio.sleep(0.2)
        now = await _evse_now(ctx, location, evse)
    if now is not None and now.status is not Status.RESERVED:
        raise CheckFailed(
            f"after the reservation EVSE {location.id}/{evse.uid} is {now.status.value}, "
            "expected RESERVED",
            ctx.member.exchanges[-1],
        )
    return f"{location.id}/{evse.uid}: reservation {state.reservation_id}, session {session_id}"


@check(
    "reservation.cancel",
    "CANCEL_RESERVATION: result ACCEPTED, the reservation's Session COMPLETED",
    S_CANCEL,
    roles=CPO,
    needs=["reservation.reserve_now"],
)
async def cancel(ctx: Context) -> str | None:
    state = _state(ctx)
    assert state.target is not None and state.reservation_id is not None
    session_id = state.reservation_session
    fields = {"reservation_id": state.reservation_id}
    exchange, response, command_id, since = await send_command(ctx, "CANCEL_RESERVATION", fields)
    _expect_accepted("CANCEL_RESERVATION", response, exchange)
    result = await command_result(ctx, "CANCEL_RESERVATION", command_id, response, exchange, since)
    if result.result is not CommandResultType.ACCEPTED:
        raise CheckFailed(
            f"cancelling reservation {state.reservation_id} gave result {result.result.value}",
            exchange,
        )

    def completed(item: Inbound) -> bool:
        return item.module == "sessions" and bool(
            item.segments
            and item.segments[-1] == session_id
            and isinstance(item.payload, dict)
            and item.payload.get("status") == SessionStatus.COMPLETED.value
        )

    if await ctx.server.wait_for(completed, ctx.config.wait, since) is None:
        raise CheckFailed(
            f"the reservation's Session {session_id} was not set COMPLETED within "
            f"{ctx.config.wait:g} s of the cancellation (spec: a reservation that ends without "
            "charging leaves its Session COMPLETED)",
            exchange,
        )
    return None


@check(
    "reservation.start_reserved",
    "START_SESSION on the reserved EVSE with the same token: the reservation's Session ACTIVE",
    S_START_RESERVED,
    roles=CPO,
    needs=["reservation.reserve_now", "cpo.start_session"],
)
async def start_reserved(ctx: Context) -> str | None:
    state = _state(ctx)
    assert state.target is not None
    location, evse, connector = state.target
    session_id, _ = await _reserve(ctx, state)
    fields = {
        "token": suite_token(ctx).to_json(),
        "location_id": location.id,
        "evse_uid": evse.uid,
        "connector_id": connector.id,
    }
    exchange, response, command_id, since = await send_command(ctx, "START_SESSION", fields)
    _expect_accepted("START_SESSION", response, exchange)
    result = await command_result(ctx, "START_SESSION", command_id, response, exchange, since)
    if result.result is not CommandResultType.ACCEPTED:
        raise CheckFailed(
            f"starting on the EVSE reserved for this token gave result {result.result.value}",
            exchange,
        )
    token = suite_token(ctx).uid

    def active(item: Inbound) -> bool:
        ours = _session_update(None, evse.uid, token)(item) or _session_update(
            session_id, evse.uid, token
        )(item)
        return bool(ours and item.payload.get("status") == SessionStatus.ACTIVE.value)

    item = await ctx.server.wait_for(active, ctx.config.wait, since)
    if item is None:
        raise CheckSkipped(
            f"no ACTIVE session arrived within {ctx.config.wait:g} s: does your test charger "
            "need a car plugged in? (the mock CPO: simulation.auto_plug = true)"
        )
    if item.segments[-1] != session_id:
        raise CheckFailed(
            f"charging began as a new Session {item.segments[-1]}; the reservation's Session "
            f"{session_id} should have become ACTIVE",
            item,
        )
    stood = ctx.server.objects["sessions"].get(tuple(item.segments[-3:]), item.payload)
    state.session = ctx.parse(Session, stood, "the Session", item)
    return f"session {session_id} ACTIVE at {location.id}/{evse.uid}"


# --- charging profiles -------------------------------------------------------------------------
async def _profile_call(
    ctx: Context, method: str, kind: str, body: Any = None, params: dict[str, str] | None = None
) -> tuple[Exchange, ChargingProfileResponse, str, str, int]:
    state = _state(ctx)
    if state.session is None:
        raise CheckSkipped("no charging session to set a profile on")
    base = ctx.require_endpoint(ModuleID.CHARGINGPROFILES, InterfaceRole.RECEIVER)
    request_id = secrets.token_hex(8)
    response_url = ctx.server.profile_url(kind, request_id)
    since = len(ctx.server.inbound)
    if body is not None:
        body = {**body, "response_url": response_url}
    query = dict(params or {})
    if method != "PUT":
        query["response_url"] = response_url
    exchange = await ctx.call(method, _join(base, state.session.id), body=body, params=query)
    ctx.expect_ok(exchange, f"{method} chargingprofiles/{state.session.id}")
    response: ChargingProfileResponse = ctx.parse(
        ChargingProfileResponse, exchange.envelope.data, "data", exchange
    )
    assert state.target is not None
    evse = state.target[1]
    capable = Capability.CHARGING_PROFILE_CAPABLE in (evse.capabilities or [])
    if response.result is ChargingProfileResponseType.NOT_SUPPORTED and not capable:
        raise CheckSkipped(
            f"EVSE {evse.uid} is not CHARGING_PROFILE_CAPABLE and answered NOT_SUPPORTED"
        )
    if response.result is not ChargingProfileResponseType.ACCEPTED:
        raise CheckFailed(
            f"{method} of the charging profile of a charging session answered "
            f"{response.result.value}, expected ACCEPTED",
            exchange,
        )
    return exchange, response, kind, request_id, since


async def _profile_result(
    ctx: Context, sent: tuple[Exchange, ChargingProfileResponse, str, str, int], model: type[R]
) -> tuple[R, Inbound]:
    """The result POSTed to the request's response_url, exactly that URL, and the request."""
    exchange, response, kind, request_id, since = sent
    within = min(ctx.config.wait, max(float(response.timeout), 1.0) + 2.0)
    tail = f"sender/chargingprofiles/{kind}/{request_id}"

    def at_url(item: Inbound) -> bool:
        return item.method == "POST" and item.path.endswith(tail)

    item = await ctx.server.wait_for(at_url, within, since)
    if item is None:
        elsewhere = [
            i.url
            for i in ctx.server.inbound[since:]
            if i.module == "chargingprofiles" and i.method == "POST"
        ]
        where = f" (results arrived at {', '.join(elsewhere[:2])} instead)" if elsewhere else ""
        raise CheckFailed(
            f"the request was ACCEPTED but no result arrived at its response_url "
            f"{ctx.server.profile_url(kind, request_id)} within {within:g} s{where}",
            exchange,
        )
    item.judged_by = "profiles"
    if f"request_id={request_id}" not in item.url:
        raise CheckFailed(
            "the result was POSTed without the response_url's query string (request_id): "
            "the URL given must be used as it is",
            item,
        )
    if not isinstance(item.parsed, model):
        raise CheckFailed(
            f"the result is not a valid {model.__name__}: " + "; ".join(item.problems), item
        )
    return item.parsed, item


@check(
    "profiles.set",
    "SetChargingProfile PUT: ACCEPTED, then a ChargingProfileResult at the response_url",
    S_SET,
    roles=CPO,
    needs=["reservation.start_reserved"],
)
async def set_profile(ctx: Context) -> str | None:
    profile = ChargingProfile(
        charging_rate_unit=ChargingRateUnit.W,
        charging_profile_period=[ChargingProfilePeriod(start_period=0, limit=PROFILE_LIMIT_W)],
    )
    body = SetChargingProfile(charging_profile=profile, response_url="https://placeholder")
    sent = await _profile_call(ctx, "PUT", "SET", body=body.to_json())
    result, _ = await _profile_result(ctx, sent, ChargingProfileResult)
    _state(ctx).profile_result = result.result.value
    return f"result {result.result.value}"


@check(
    "profiles.get",
    "ActiveChargingProfile GET: ACCEPTED, then the active profile at the response_url",
    S_GET,
    roles=CPO,
    needs=["profiles.set"],
)
async def get_profile(ctx: Context) -> str | None:
    sent = await _profile_call(ctx, "GET", "GET", params={"duration": "900"})
    result, item = await _profile_result(ctx, sent, ActiveChargingProfileResult)
    if result.result.value != "ACCEPTED":
        return f"result {result.result.value}"
    if result.profile is None:
        raise CheckFailed("an ACCEPTED ActiveChargingProfileResult carries no profile", item)
    active = result.profile.charging_profile
    if _state(ctx).profile_result == "ACCEPTED" and active.charging_rate_unit is ChargingRateUnit.W:
        above = [p.limit for p in active.charging_profile_period or [] if p.limit > PROFILE_LIMIT_W]
        if above:
            raise CheckFailed(
                f"the active profile allows {above[0]} W, above the {PROFILE_LIMIT_W} W limit "
                "the charger accepted (it may be lower, never higher)",
                item,
            )
    return f"active from {format_datetime(result.profile.start_date_time)}"


@check(
    "profiles.clear",
    "ChargingProfile DELETE: ACCEPTED, then a ClearProfileResult at the response_url",
    S_CLEAR,
    roles=CPO,
    needs=["profiles.set"],
)
async def clear_profile(ctx: Context) -> str | None:
    sent = await _profile_call(ctx, "DELETE", "CLEAR")
    result, _ = await _profile_result(ctx, sent, ClearProfileResult)
    return f"result {result.result.value}"


@check(
    "profiles.charging_preferences",
    "Charging preferences PUT answered with a ChargingPreferencesResponse",
    S_PREFERENCES,
    roles=CPO,
    needs=["reservation.start_reserved"],
)
async def charging_preferences(ctx: Context) -> str | None:
    state = _state(ctx)
    try:
        return await _preferences(ctx, state)
    finally:  # the last check of the group ends the suite's second session
        await _stop(ctx, state)


async def _preferences(ctx: Context, state: _Smart) -> str | None:
    assert state.session is not None and state.target is not None
    evse = state.target[1]
    capable = Capability.CHARGING_PREFERENCES_CAPABLE in (evse.capabilities or [])
    base = ctx.require_endpoint(ModuleID.SESSIONS, InterfaceRole.SENDER)
    wanted = ChargingPreferences(
        profile_type=ProfileType.REGULAR,
        departure_time=(datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0),
        energy_need=Decimal(10),
    )
    url = _join(base, state.session.id, "charging_preferences")
    exchange = await ctx.call("PUT", url, body=wanted)
    if not exchange.ok:
        if capable:
            raise CheckFailed(
                f"EVSE {evse.uid} is CHARGING_PREFERENCES_CAPABLE but the PUT got "
                f"{exchange.outcome()}",
                exchange,
            )
        return (
            f"refused ({exchange.outcome()}): EVSE {evse.uid} is not CHARGING_PREFERENCES_CAPABLE"
        )
    answer: ChargingPreferencesResponse = ctx.parse(
        ChargingPreferencesResponse, exchange.envelope.data, "data", exchange
    )
    return answer.value


async def _stop(ctx: Context, state: _Smart) -> None:
    """STOP_SESSION of the group's session (best effort: judged by nothing but the scans)."""
    if state.session is None:
        return
    session_id, state.session = state.session.id, None
    with contextlib.suppress(CheckFailed, CheckSkipped):
        await send_command(ctx, "STOP_SESSION", {"session_id": session_id})


# --- an eMSP: the Session of a reservation ------------------------------------------------------
@check(
    "reservation.emsp_session",
    "A Session in status RESERVATION is accepted, then PATCHed ACTIVE and COMPLETED",
    S_EMSP_SESSION,
    roles=EMSP,
    needs=["emsp.push_location"],
)
async def emsp_session(ctx: Context) -> str | None:
    location = ctx.learned.pushed_location
    assert location is not None
    other = ctx.config.other
    reserved_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    session = Session(
        country_code=other.country_code,
        party_id=other.party_id,
        id=f"CONF-R{secrets.token_hex(3).upper()}",
        start_date_time=reserved_at,
        kwh=Decimal(0),
        cdr_token=member_token(ctx),
        auth_method=AuthMethod.COMMAND,
        location_id=location.id,
        evse_uid="CONF-EVSE1",
        connector_id="1",
        currency="EUR",
        status=SessionStatus.RESERVATION,
        last_updated=reserved_at,
    )
    url = _join(
        ctx.require_endpoint(ModuleID.SESSIONS, InterfaceRole.RECEIVER),
        other.country_code,
        other.party_id,
        session.id,
    )
    put = await ctx.call("PUT", url, body=session)
    ctx.expect_ok(put, "PUT a Session in status RESERVATION")
    started = reserved_at + timedelta(minutes=5)
    ended = started + timedelta(minutes=5)
    steps: list[tuple[dict[str, str], SessionStatus]] = [
        ({}, SessionStatus.RESERVATION),
        ({"start_date_time": format_datetime(started)}, SessionStatus.ACTIVE),
        ({"end_date_time": format_datetime(ended)}, SessionStatus.COMPLETED),
    ]
    for fields, status in steps:
        if fields:
            stamp = fields.get("end_date_time") or fields["start_date_time"]
            body = {**fields, "status": status.value, "last_updated": stamp}
            ctx.expect_ok(await ctx.call("PATCH", url, body=body), f"PATCH the Session {status}")
        got = await ctx.call("GET", url)
        ctx.expect_ok(got, f"GET the Session ({status.value})")
        stored: Session = ctx.parse(Session, got.envelope.data, "data", got)
        if stored.status is not status:
            raise CheckFailed(
                f"the Session reads {stored.status.value}, expected {status.value}", got
            )
    return f"session {session.id}: RESERVATION, ACTIVE, COMPLETED"


CHECKS: tuple[Check, ...] = (
    reserve_now,
    cancel,
    start_reserved,
    set_profile,
    get_profile,
    clear_profile,
    charging_preferences,
    emsp_session,
)
