"""Handling of functional-module messages: authenticate, route, forward, relay, log.

The decision is routing.py's (pure); this module does what it decides: forwards with a new
X-Request-ID and the same X-Correlation-ID, rewrites the URLs that would let members talk
past the hub (commands/chargingprofiles `response_url`, CDR `Location`, pagination `Link`),
answers broadcasts itself and fans them out afterwards, serves GET-all from the copies, keeps
the copies and the message log, and marks unreachable receivers OFFLINE.

Members on other versions (hub/translation.py): a message from a member that speaks another
version than 2.2.1 is validated against its version's models and carried down to 2.2.1, which
is what routing, the copies and the log see; what goes to a member of another version than the
sender's is carried up (or passed on as the sender wrote it when both speak the same version),
and so is the answer on its way back. Messages between two 2.2.1 members are not touched.
A 2.1.1 member calls one URL per module (its role tells the interface) and sends no routing
headers: its one party is the sender, and the hub routes by content ("open routing"); what it
gets back carries no routing headers and only 2.1.1 status codes (docs/hub.md "Members on
OCPI 2.1.1").
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response

from hub.copies import Copy, token_key
from hub.directory import Party, Platform
from hub.forwarding import Answer
from hub.hops import send_hop
from hub.messages import body_text, subject_of
from hub.pushes import check_push, is_object_push
from hub.routing import (
    FUNCTIONAL_MODULES,
    Broadcast,
    Forward,
    HubList,
    Message,
    Route,
    Target,
    check_sender,
    decide,
    quoted_path,
)
from hub.service import Hub, Invitee
from hub.store import Callback, LogLine, OutboxRow, StorageUnavailable, utcnow
from hub.translation import (
    PIVOT,
    V211,
    Situation,
    cannot_carry,
    carry,
    carry_list,
    dumps,
    loss_note,
    module_url,
    request_kind,
    response_kind,
    situation_from,
    v211_hub_interface,
)
from ocpi.envelope import encode_list_envelope
from ocpi.errors import (
    ConnectionProblem,
    HubError,
    InvalidParameters,
    MethodNotAllowed,
    NotFound,
    OcpiError,
    ServerError,
    Unauthorized,
    UnknownReceiver,
)
from ocpi.headers import (
    AUTHORIZATION,
    AuthorizationError,
    PartyRef,
    RoutingHeaders,
    token_candidates,
)
from ocpi.pagination import PageRequest, format_link, page_headers, paginate, parse_link_header
from ocpi.server.body_guard import STATE_KEY as BODY_STATE_KEY
from ocpi.server.body_guard import refusal
from ocpi.server.responses import OcpiResponse, ocpi_response
from ocpi.server.scope import HeaderValues, url_path_and_query
from ocpi.translate import Untranslatable
from ocpi.translate.v211 import status_code_to_v211
from ocpi.v221.versions import InterfaceRole, ModuleID
from ocpi.wire_json import read_json


def ocpi_base(version: str) -> str:
    """Where the hub's routed URLs for members of `version` start."""
    return f"/ocpi/{version}"


@dataclass
class Context:
    """One incoming message as the hub handles it."""

    hub: Hub
    request: Request
    method: str
    path: str
    request_id: str
    correlation_id: str
    started: float = field(default_factory=time.perf_counter)
    platform: Platform | None = None
    routing: RoutingHeaders = field(default_factory=RoutingHeaders)
    module: str = ""
    to_party: PartyRef | None = None
    note: str = ""
    line: LogLine | None = None
    """The inbound log line once queued (corrected in place if the answer changes)."""
    subject: dict[str, str] | None = None
    """What a charging session's message is about (hub/messages.py `subject_of`): kept with
    its inbound and outbound log lines, with their bodies."""
    request_raw: bytes | None = None
    response_raw: bytes | None = None
    version: str = PIVOT
    """The OCPI version of the URL called (the sender's own, checked in `_handle`)."""
    source: tuple[bytes | None, Any] = (None, None)
    """The body as the sender wrote it (raw, parsed), kept when it was carried to 2.2.1."""
    query: str | None = None
    """The query string to pass on, when the hub changed it (a 2.1.1 token's type)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """The request's headers (ocpi.server.scope: read once, the first value of each name)."""
    url_query: str = ""
    """The query string of the URL called (`request.url.query`)."""

    def add_note(self, text: str) -> None:
        if text:
            self.note = f"{self.note}; {text}" if self.note else text

    def log_inbound(self, ocpi_status: int | None, http_status: int) -> None:
        if self.line is not None:  # logged before a commit that then failed: say so instead
            self.line.update(ocpi_status=ocpi_status, http_status=http_status, note=self.note)
            return
        self.line = self.hub.log_message(
            hop="inbound",
            method=self.method,
            path=self.path,
            module=self.module,
            correlation_id=self.correlation_id,
            request_id=self.request_id,
            from_party=self.routing.from_,
            to_party=self.to_party or self.routing.to,
            platform_id=self.platform.id if self.platform else None,
            ocpi_status=ocpi_status,
            http_status=http_status,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            note=self.note,
        )
        if self.subject is not None:
            self.line["subject"] = {
                **self.subject,
                "request_body": body_text(self.request_raw),
                "response_body": body_text(self.response_raw),
            }


def _context(hub: Hub, request: Request, version: str) -> Context:
    scope = request.scope
    request_id, correlation_id = scope["state"]["ocpi_ids"]
    url_path, url_query = url_path_and_query(scope)
    path = url_path + (f"?{url_query}" if url_query else "")
    return Context(
        hub,
        request,
        request.method,
        path,
        request_id,
        correlation_id,
        version=version,
        headers=HeaderValues(scope["headers"]),
        url_query=url_query,
    )


async def _authenticate(ctx: Context) -> Platform:
    try:
        candidates = token_candidates(
            ctx.headers.get(AUTHORIZATION),
            # 2.1.1's rule: the token as it is (transport_and_format "Request format").
            accept_raw=ctx.hub.settings.accept_raw_tokens or ctx.version == V211.version,
        )
    except AuthorizationError as exc:
        raise Unauthorized(str(exc)) from None
    for token in candidates:
        principal = await ctx.hub.authenticate(token)
        if isinstance(principal, Platform) and principal.registered:
            ctx.platform = principal
            if principal.version != ctx.version:
                own, called = ocpi_base(principal.version), ocpi_base(ctx.version)
                raise NotFound(
                    f"this platform registered OCPI {principal.version} with the hub: its "
                    f"URLs start with {own}/, not {called}/"
                )
            return principal
        if isinstance(principal, Invitee):
            raise Unauthorized(
                "a credentials token A may only be used on versions and credentials: "
                "complete the registration first"
            )
    raise Unauthorized("the credentials token is not known to this hub")


async def _body(ctx: Context) -> tuple[bytes | None, Any]:
    """The body JsonBodyGuard read strictly (NaN, lone surrogates, deep nesting refused)."""
    if ctx.method in ("GET", "DELETE"):
        return None, None
    outcome = ctx.request.scope["state"].get(BODY_STATE_KEY)
    if outcome is None:  # not behind the guard (a body on a method it does not read)
        raw = await ctx.request.body()
        try:
            return raw, read_json(raw) if raw else None
        except ValueError as exc:
            raise refusal(exc) from None
    if isinstance(outcome, OcpiError):
        raise outcome
    raw, parsed = outcome
    return raw, parsed


async def handle(
    hub: Hub, request: Request, interface: InterfaceRole | None, version: str = PIVOT
) -> Response:
    """Entry point for /ocpi/{version}/{sender|receiver}/{module}[/...], and for 2.1.1's
    /ocpi/2.1.1/{module}[/...] (`interface` None: the caller's role tells it)."""
    ctx = _context(hub, request, version)
    try:
        response = await _handle(ctx, interface)
    except OcpiError as exc:
        ctx.note = exc.message
        if ctx.version == V211.version:
            _for_v211(exc)
        elif ctx.routing.from_ is not None:
            exc.headers.update(RoutingHeaders(to=ctx.routing.from_, from_=hub.ref).to_headers())
        ctx.log_inbound(exc.status_code, exc.http_status)
        raise
    if ctx.version == V211.version:
        _strip_routing(response.headers)
    return response


def _for_v211(exc: OcpiError) -> None:
    """A refusal as a 2.1.1 member reads it: no routing headers, a 2.1.1 status code (the
    message keeps the 2.2.1 code's words)."""
    _strip_routing(exc.headers)
    exc.status_code = status_code_to_v211(exc.status_code).value


_ALL_TOKEN_TYPES = ("RFID", "APP_USER", "AD_HOC_USER", "OTHER")

_V211_OTHER = ("OTHER", "APP_USER", "AD_HOC_USER")
"""The 2.2.1 token types a 2.1.1 party sees as OTHER (2.1.1 TokenType: RFID, OTHER)."""


def _v211_token_type(ctx: Context, message: Message) -> Message:
    """The 2.2.1 `type` of the token a 2.1.1 member's tokens message is about: 2.1.1 names a
    token by uid (its Token PUT/PATCH URLs have no `type`) and knows only RFID and OTHER, where
    the hub keeps tokens by (uid, type). A push takes the type of the body (a PATCH without
    one, of the sender's token with that uid); a real-time authorization with type OTHER, the
    one token with that uid whose 2.2.1 type 2.1.1 shows as OTHER. The query passed on says
    it (2.2.1 receivers need it)."""
    copies, segments = ctx.hub.copies, message.segments
    wanted = message.query.get("type")
    if message.interface == InterfaceRole.RECEIVER and len(segments) == 3:
        body_type = message.body.get("type") if isinstance(message.body, dict) else None
        if isinstance(body_type, str):
            wanted = body_type
        elif wanted is None:
            owner = PartyRef(segments[0], segments[1])
            held = [
                t
                for t in _ALL_TOKEN_TYPES
                if copies.get(message.module, owner, token_key(segments[2], t))
            ]
            wanted = held[0] if len(held) == 1 else None
    elif (
        message.interface == InterfaceRole.SENDER
        and len(segments) == 2
        and (wanted or "RFID").upper() == "OTHER"
    ):
        held = [t for t in _V211_OTHER if copies.tokens_with_uid(segments[0], t)]
        wanted = held[0] if len(held) == 1 else wanted
    if wanted is None or wanted == message.query.get("type"):
        return message
    query = {**message.query, "type": wanted}
    ctx.query = urlencode(query)
    return replace(message, query=query)


def _without_token_type(message: Message, query: str) -> str:
    """2.1.1's Token URLs at a CPO have no `type` (a token is named by uid; mod_tokens §2.1):
    left out of a push or GET of one token going to a 2.1.1 member."""
    if message.interface != InterfaceRole.RECEIVER:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(key, value) for key, value in pairs if key != "type"])


def _by_content(message: str) -> str:
    """An open-routing refusal as a 2.1.1 member can act on it: it has no OCPI-to headers to
    set, so the advice to set them is left out."""
    message = message.removeprefix("OCPI-to headers are omitted and ")
    message = message.removesuffix(": set OCPI-to-country-code/party-id")
    return (
        f"{message} (the hub routes a 2.1.1 member's messages by their content: the ids in "
        "them must name exactly one party)"
    )


def _strip_routing(headers: Any) -> None:
    """2.1.1 has no routing headers: none go to a 2.1.1 member."""
    for name in [key for key in headers if key.lower().startswith("ocpi-")]:
        del headers[name]


async def _decide(ctx: Context, message: Message, sender: Platform, party: Party) -> Route:
    """Where the message goes. A receiver unknown or not CONNECTED here may have registered
    or come back on another instance a moment ago (several instances on one database): the
    directory is read again before the refusal stands."""
    hub = ctx.hub
    try:
        return decide(message, sender, party, hub.directory, hub.copies, hub.ref)
    except (UnknownReceiver, ConnectionProblem):
        if not await hub.directory_since(ctx.started):
            raise
    return decide(message, sender, party, hub.directory, hub.copies, hub.ref)


def _situation(ctx: Context, owner: PartyRef | None, **more: Any) -> Situation:
    """What a translation involving 2.1.1 may need, from the hub's copies."""
    return situation_from(ctx.hub.copies, owner, received=utcnow(), **more)


async def _handle(ctx: Context, interface: InterfaceRole | None) -> Response:
    hub, request = ctx.hub, ctx.request
    try:
        module = ModuleID(request.path_params["module"])
    except ValueError:
        module = None
    ctx.module = request.path_params["module"]
    sender = await _authenticate(ctx)
    if ctx.version == V211.version:
        # 2.1.1: no routing headers (any sent are not 2.1.1's and are ignored); the sender
        # is the platform's one party, and the receiver is found by content.
        ctx.routing = RoutingHeaders(from_=sender.parties[0].ref if sender.parties else None)
    else:
        try:
            ctx.routing = RoutingHeaders.parse(ctx.headers)
        except ValueError as exc:
            raise InvalidParameters(str(exc)) from None
    if module is None or module not in FUNCTIONAL_MODULES:
        raise NotFound(f"the hub routes no module {ctx.module!r}")
    if interface is None:
        if not sender.parties:
            raise NotFound("this platform has no party")
        interface = v211_hub_interface(module, sender.parties[0].role)
    rest = request.path_params.get("rest", "")
    segments = tuple(part for part in rest.split("/") if part)
    raw, body = await _body(ctx)
    callback = await _callback_for(hub, ctx.method, module, interface, segments)
    if callback is not None:
        return await _relay_callback(ctx, sender, callback, raw, body)
    message = Message(
        module=module,
        interface=interface,
        method=ctx.method,
        segments=segments,
        query=dict(request.query_params) if request.scope.get("query_string") else {},
        to=ctx.routing.to,
        from_=ctx.routing.from_,
        body=body,
    )
    sender_party = check_sender(message, sender)
    if ctx.version != PIVOT and body is not None:
        ctx.source = (raw, body)
        raw, body = _to_pivot(ctx, message)
        message = replace(message, body=body)
    if ctx.version == V211.version and module == ModuleID.TOKENS:
        message = _v211_token_type(ctx, message)
    if is_object_push(message):
        check_push(message, sender_party.ref)
    try:
        route = await _decide(ctx, message, sender, sender_party)
    except UnknownReceiver as exc:
        if ctx.version != V211.version:
            raise
        raise UnknownReceiver(_by_content(exc.message)) from None
    if isinstance(route, HubList):
        # Answered from this instance's copies: first every copy another instance had
        # written before this request (a member's re-sync must not miss what it was pushed).
        await hub.notices_applied()
        return _hub_list(ctx, message)
    if isinstance(route, Broadcast):
        return await _broadcast(ctx, message, route, raw)
    ctx.subject = subject_of(module.value, ctx.method, segments, body)
    ctx.request_raw = ctx.source[0] if ctx.version != PIVOT else raw
    return await _forward(ctx, message, route, raw, body)


# --- members on other versions (hub/translation.py) ----------------------------------------
def _to_pivot(ctx: Context, message: Message) -> tuple[bytes | None, Any]:
    """The sender's body carried down to 2.2.1 (2001 when it cannot be, or is not a valid
    object of the sender's version); what it lost is noted on the inbound log line."""
    kind = request_kind(message.module, message.interface, message.method, message.segments)
    raw, body = ctx.source
    if kind is None:
        return raw, body
    try:
        # InvalidParameters: names the fields. The owner of what a member sends is the sender.
        carried = carry(kind, body, ctx.version, PIVOT, _situation(ctx, message.from_))
    except Untranslatable as exc:
        raise InvalidParameters(
            cannot_carry(ctx.version, PIVOT, exc) + " (the hub routes, keeps and logs messages in "
            "OCPI 2.2.1)"
        ) from None
    ctx.add_note(loss_note(ctx.version, PIVOT, carried.lost))
    return dumps(carried.value), carried.value


def _for_receiver(
    ctx: Context, message: Message, version: str, raw: bytes | None, body: Any
) -> tuple[bytes | None, Any, str]:
    """The body as a receiver of `version` reads it, and the note of what it lost: the
    sender's own when both speak the same version, else the 2.2.1 body carried up."""
    if version == ctx.version:
        source_raw, source_body = ctx.source if ctx.version != PIVOT else (raw, body)
        return source_raw, source_body, ""
    kind = request_kind(message.module, message.interface, message.method, message.segments)
    if kind is None or body is None:
        return raw, body, ""
    try:
        carried = carry(kind, body, PIVOT, version, _situation(ctx, message.from_))
    except Untranslatable as exc:
        raise InvalidParameters(cannot_carry(ctx.version, version, exc)) from None
    return dumps(carried.value), carried.value, loss_note(PIVOT, version, carried.lost)


def _answer_for_requester(
    ctx: Context,
    module: ModuleID | str,
    interface: InterfaceRole,
    segments: tuple[str, ...],
    answer: Answer,
    source: str,
    owner: PartyRef | None = None,
    query: Mapping[str, str] | None = None,
) -> bytes:
    """The receiver's answer (version `source`) as the requester's version reads it: its
    `data` carried through 2.2.1 (a list item that cannot be carried is left out, noted; a
    single object that cannot be is 2001). `owner` is the answering party (which owns what
    it answers with). To a 2.1.1 requester the status code is 2.1.1's."""
    found = response_kind(ModuleID(module), interface, ctx.method, segments)
    data = answer.envelope.get("data")
    if found is None or answer.ocpi_status >= 2000 or data is None:
        return _status_for_requester(ctx, answer)
    kind, many = found
    asked = None
    if kind == "authorization_info" and owner is not None and segments:
        asked = (owner, segments[0], (query or {}).get("type"))
    situation = _situation(ctx, owner, token=asked)
    try:
        if many and isinstance(data, list):
            carried = carry_list(kind, data, source, ctx.version, situation)
        else:
            carried = carry(kind, data, source, ctx.version, situation)
    except Untranslatable as exc:
        raise InvalidParameters(
            "the receiver's answer: " + cannot_carry(source, ctx.version, exc)
        ) from None
    except InvalidParameters as exc:
        # Not an object of the receiver's version: an unusable answer, like one that is not
        # an OCPI envelope (4000), since the hub cannot carry what it cannot read.
        raise HubError(
            f"the receiver's answer cannot be carried to OCPI {ctx.version}: {exc.message}"
        ) from None
    ctx.add_note(loss_note(source, ctx.version, carried.lost))
    envelope = {**answer.envelope, "data": carried.value}
    if ctx.version == V211.version:
        envelope["status_code"] = status_code_to_v211(answer.ocpi_status).value
    return dumps(envelope)


def _status_for_requester(ctx: Context, answer: Answer) -> bytes:
    """An answer carried as it is, but with a 2.1.1 status code for a 2.1.1 requester (2.1.1
    has no 2004 and no hub errors 4xxx)."""
    if ctx.version != V211.version:
        return answer.body
    code = status_code_to_v211(answer.ocpi_status).value
    if code == answer.ocpi_status:
        return answer.body
    return dumps({**answer.envelope, "status_code": code})


# --- forwarding a direct or open-routed message ---------------------------------------------
async def _forward(
    ctx: Context, message: Message, route: Forward, raw: bytes | None, body: Any
) -> Response:
    hub, target = ctx.hub, route.target
    pivot_body = body
    ctx.to_party = target.party.ref
    sender = ctx.platform
    assert sender is not None and message.from_ is not None
    url = target.url
    query = ctx.query if ctx.query is not None else ctx.url_query
    receiver_version = target.platform.version
    hop_note = ""
    if receiver_version != PIVOT or ctx.version != PIVOT:
        raw, body, hop_note = _for_receiver(ctx, message, receiver_version, raw, body)
    if message.module in (ModuleID.COMMANDS, ModuleID.CHARGINGPROFILES):
        raw, query = _rewrite_response_url(ctx, message, target, raw, body, query)
        # The hub's response URL must exist before the receiver can call it, crash or not.
        await _keep(ctx)
    if receiver_version == V211.version and message.module == ModuleID.TOKENS and query:
        query = _without_token_type(message, query)
    if query:
        url = f"{url}?{query}"
    # Direct requests pass the routing headers through unchanged; open-routed ones get the
    # TO pair the hub chose (spec "Open Routing Request": hub -> receiver carries TO).
    routing = RoutingHeaders(to=message.to or target.party.ref, from_=message.from_)
    answer = await _send(ctx, target.platform, target.party.ref, url, routing, raw, hop_note)
    answer_body = answer.body
    if receiver_version != ctx.version:
        answer_body = _answer_for_requester(
            ctx,
            message.module,
            message.interface,
            message.segments,
            answer,
            receiver_version,
            target.party.ref,
            message.query,
        )
    ctx.response_raw = answer_body
    headers = dict(answer.headers)
    if answer.ocpi_status < 2000:
        if _patches_a_session(message):
            # Merged into the stored copy, which another instance may have just changed.
            owner = PartyRef(message.segments[0], message.segments[1])
            await hub.refresh_copy(ModuleID.SESSIONS, owner, message.segments[2])
        _after_success(ctx, message, target, pivot_body)
        location = headers.get("location")
        if location and not _usable_url(location):
            # The CDR was delivered; only its URL is unusable: drop it rather than store it.
            headers.pop("location")
            ctx.note = "the receiver's Location header is not a usable URL; not relayed"
        elif location and message.module == ModuleID.CDRS and ctx.method == "POST":
            cb = hub.add_callback("cdr", location, target.platform, target.party.ref, message.from_)
            path = module_url(sender.version, InterfaceRole.RECEIVER, ModuleID.CDRS.value)
            headers["location"] = f"{hub.settings.public_url}{path}/{cb.uid}"
    _rewrite_link(
        ctx, headers, target.platform, target.party.ref, message.from_, message.module.value
    )
    ctx.log_inbound(answer.ocpi_status, answer.http_status)
    if answer.ocpi_status < 2000 and message.module in (ModuleID.SESSIONS, ModuleID.CDRS):
        # The session or CDR copy (settlement), its Location URL and this message's log
        # lines are stored before the sender hears 1000.
        await _keep(ctx)
    return Response(answer_body, status_code=answer.http_status, headers=headers)


async def _send(
    ctx: Context,
    platform: Platform,
    party: PartyRef,
    url: str,
    routing: RoutingHeaders,
    raw: bytes | None,
    note: str = "",
) -> Answer:
    """One outbound hop for the message in hand (hub/hops.py logs it, marks OFFLINE)."""
    return await send_hop(
        ctx.hub,
        platform=platform,
        party=party,
        method=ctx.method,
        url=url,
        routing=routing,
        raw=raw,
        module=ctx.module,
        correlation_id=ctx.correlation_id,
        parent_request_id=ctx.request_id,
        subject=ctx.subject,
        note=note,
    )


async def _keep(ctx: Context) -> None:
    """Store what was queued before the hub answers (or sends on) 1000: the copies, outbox
    rows and handed-out URLs of this message are then safe from a crash. If the database
    does not take them, the sender is told so (3000), never 1000."""
    try:
        await ctx.hub.writer.commit()
    except StorageUnavailable as exc:
        raise ServerError(
            f"{exc}: the message was not accepted, send it again",
            http_status=503,
        ) from None


def _after_success(ctx: Context, message: Message, target: Target, body: Any) -> None:
    """Keep copies of the sessions and CDRs the hub routed (for GET-all and settlement)."""
    if not isinstance(body, dict):
        return
    copy: Copy | None = None
    if (
        message.module == ModuleID.SESSIONS
        and message.interface == InterfaceRole.RECEIVER
        and ctx.method in ("PUT", "PATCH")
        and len(message.segments) == 3
    ):
        owner = PartyRef(message.segments[0], message.segments[1])
        copy = ctx.hub.copies.apply_simple(
            ModuleID.SESSIONS, ctx.method, owner, message.segments[2], body, target.party.ref
        )
    elif message.module == ModuleID.CDRS and ctx.method == "POST":
        try:
            owner = PartyRef(str(body.get("country_code")), str(body.get("party_id")))
        except ValueError:
            return
        copy = ctx.hub.copies.apply_simple(
            ModuleID.CDRS, "POST", owner, str(body.get("id")), body, target.party.ref
        )
    if copy is not None:
        ctx.hub.writer.copy(copy)


def _patches_a_session(message: Message) -> bool:
    return (
        message.module == ModuleID.SESSIONS
        and message.interface == InterfaceRole.RECEIVER
        and message.method == "PATCH"
        and len(message.segments) == 3
    )


# --- URL rewriting ------------------------------------------------------------------------
def _rewrite_response_url(
    ctx: Context, message: Message, target: Target, raw: bytes | None, body: Any, query: str
) -> tuple[bytes | None, str]:
    """Replace a member's response_url (body or query) by a hub URL that routes back."""
    hub, sender = ctx.hub, ctx.platform
    assert sender is not None and message.from_ is not None
    # The URL is handed to the receiver: in its version's URLs.
    path = module_url(target.platform.version, InterfaceRole.SENDER, message.module.value)
    if message.module == ModuleID.COMMANDS:
        command = message.segments[0].upper() if message.segments else "COMMAND"
        path = f"{path}/{command}"

    requester: PartyRef = message.from_

    def hub_url(original: str) -> str:
        if not _usable_url(original):
            raise InvalidParameters(
                "response_url must be an absolute http(s) URL of printable ASCII, at most "
                f"255 characters (spec type URL); got {original[:80]!r}"
            )
        cb = hub.add_callback(message.module.value, original, sender, requester, target.party.ref)
        if ctx.subject is not None:  # the CommandResult will name this id only
            ctx.subject["command"] = cb.uid
        return f"{hub.settings.public_url}{path}/{cb.uid}"

    if isinstance(body, dict) and isinstance(body.get("response_url"), str):
        body = {**body, "response_url": hub_url(body["response_url"])}
        raw = json.dumps(body, separators=(",", ":")).encode()
    if query and "response_url" in query:
        pairs = [
            (key, hub_url(value) if key == "response_url" else value)
            for key, value in parse_qsl(query, keep_blank_values=True)
        ]
        query = urlencode(pairs)
    return raw, query


_USABLE_URL = re.compile(r"https?://[!-~]{1,247}", re.IGNORECASE)


def _usable_url(value: str) -> bool:
    """A URL the hub will store and call later: http(s), printable ASCII, <= 255 characters."""
    return _USABLE_URL.fullmatch(value) is not None


def _rewrite_link(
    ctx: Context,
    headers: dict[str, str],
    owner: Platform,
    owner_party: PartyRef,
    caller: PartyRef | None,
    module: str,
) -> None:
    """Replace the Link of a paginated answer by a hub URL, in the requester's version; the
    kind `page:{module}` says what the next pages hold (carried across versions)."""
    link = parse_link_header(headers.get("link"))
    if link is None or not _usable_url(link):
        headers.pop("link", None)
        return
    if caller is None:
        return
    kind = module if module.startswith("page") else f"page:{module}"
    cb = ctx.hub.add_callback(kind, link, owner, owner_party, caller)
    base = ocpi_base(ctx.version)
    headers["link"] = format_link(f"{ctx.hub.settings.public_url}{base}/pages/{cb.uid}")


async def _callback_for(
    hub: Hub, method: str, module: ModuleID, interface: InterfaceRole, segments: tuple[str, ...]
) -> Callback | None:
    """Is this a call to a URL the hub handed out in place of a member's?"""
    uid: str | None = None
    if interface == InterfaceRole.SENDER and method == "POST":
        if module == ModuleID.COMMANDS and len(segments) == 2:
            uid = segments[1]
        elif module == ModuleID.CHARGINGPROFILES and len(segments) == 1:
            uid = segments[0]
    elif (
        interface == InterfaceRole.RECEIVER
        and method == "GET"
        and module == ModuleID.CDRS
        and len(segments) == 1
    ):
        uid = segments[0]
    if uid is None:
        return None
    callback = await hub.callback(uid)
    if callback is None:
        raise NotFound(f"the hub handed out no URL with id {uid} (or it has expired)")
    return callback


async def _relay_callback(
    ctx: Context, sender: Platform, callback: Callback, raw: bytes | None, body: Any = None
) -> Response:
    """CommandResult / charging profile result POST, or a GET of a CDR posted through the hub."""
    hub = ctx.hub
    if not sender.hosts(callback.caller_party):
        raise NotFound("this URL was handed out to another party")
    target = hub.directory.platforms.get(callback.target_platform_id)
    if target is None or not target.registered:
        raise ConnectionProblem(f"receiver {callback.target_party} is no longer registered")
    ctx.to_party = callback.target_party
    hop_note = ""
    if callback.kind == ModuleID.COMMANDS.value:
        ctx.subject = {"session_id": "", "authorization_reference": "", "command": callback.uid}
        ctx.request_raw = raw
        if target.version != ctx.version and body is not None:
            raw, hop_note = _command_result_for(ctx, body, target.version)
    routing = RoutingHeaders(
        to=ctx.routing.to or callback.target_party, from_=ctx.routing.from_ or callback.caller_party
    )
    answer = await _send(
        ctx, target, callback.target_party, callback.original_url, routing, raw, hop_note
    )
    answer_body = answer.body
    if target.version != ctx.version:
        answer_body = _callback_answer(ctx, callback, answer, target.version)
    else:
        answer_body = _status_for_requester(ctx, answer)
    ctx.response_raw = answer_body
    headers = dict(answer.headers)
    headers.pop("location", None)
    _rewrite_link(ctx, headers, target, callback.target_party, callback.caller_party, callback.kind)
    ctx.log_inbound(answer.ocpi_status, answer.http_status)
    return Response(answer_body, status_code=answer.http_status, headers=headers)


def _command_result_for(ctx: Context, body: Any, version: str) -> tuple[bytes, str]:
    """A CommandResult POSTed by the CPO, as the eMSP's version reads it (2.1.1 POSTs a
    CommandResponse: `result` only, fewer values); 2001 when it is not one, or cannot be
    carried."""
    try:
        carried = carry("command_result", body, ctx.version, version)
    except Untranslatable as exc:
        raise InvalidParameters(cannot_carry(ctx.version, version, exc)) from None
    ctx.add_note(loss_note(ctx.version, version, carried.lost))
    return dumps(carried.value), loss_note(ctx.version, version, carried.lost)


def _callback_answer(ctx: Context, callback: Callback, answer: Answer, source: str) -> bytes:
    """The answer to a call of a handed-out URL, carried to the caller's version: a CDR GET
    by the CPO that posted it, or the next page of a list. (The answer to a CommandResult or
    a charging profile result holds no data.)"""
    if callback.kind == "cdr":
        return _answer_for_requester(
            ctx,
            ModuleID.CDRS,
            InterfaceRole.RECEIVER,
            ("cdr",),
            answer,
            source,
            callback.target_party,
        )
    if callback.kind.startswith("page:"):
        module = callback.kind.removeprefix("page:")
        return _answer_for_requester(
            ctx, module, InterfaceRole.SENDER, (), answer, source, callback.target_party
        )
    return _status_for_requester(ctx, answer)


async def handle_page(hub: Hub, request: Request, version: str = PIVOT) -> Response:
    """GET /ocpi/{version}/pages/{uid}: the next page of a member's paginated list."""
    ctx = _context(hub, request, version)
    try:
        sender = await _authenticate(ctx)
        try:
            ctx.routing = RoutingHeaders.parse(ctx.headers)
        except ValueError as exc:
            raise InvalidParameters(str(exc)) from None
        callback = await hub.callback(request.path_params["uid"])
        if callback is None or not callback.kind.startswith("page"):
            raise NotFound("no such page: the hub handed out no page URL with this id")
        ctx.module = "pages"
        response = await _relay_callback(ctx, sender, callback, None)
    except OcpiError as exc:
        ctx.note = exc.message
        if ctx.version == V211.version:
            _for_v211(exc)
        ctx.log_inbound(exc.status_code, exc.http_status)
        raise
    if ctx.version == V211.version:
        _strip_routing(response.headers)
    return response


# --- broadcast ----------------------------------------------------------------------------
async def _broadcast(
    ctx: Context, message: Message, route: Broadcast, raw: bytes | None
) -> Response:
    """Keep the copy and one outbox row per receiver, commit, then answer; the delivery
    lanes (hub/deliveries.py) push it to every receiver with FROM = the hub. Receivers'
    errors are logged, not relayed (spec: broadcast push)."""
    hub = ctx.hub
    owner = PartyRef(message.segments[0], message.segments[1])
    ids = list(message.segments[2:])
    body = message.body if isinstance(message.body, dict) else None
    existed: bool
    copy: Copy | None
    object_id = ids[0]
    if message.module == ModuleID.TOKENS:
        object_id = token_key(object_id, message.query.get("type"))
    if ctx.method == "PATCH" or len(ids) > 1:
        # Merged into the stored copy, which another instance may have just changed.
        await hub.refresh_copy(message.module, owner, object_id)
    if message.module == ModuleID.LOCATIONS:
        existed = hub.copies.get(ModuleID.LOCATIONS, owner, ids[0]) is not None
        copy = hub.copies.apply_location(ctx.method, owner, ids, body or {})
    else:
        existed = hub.copies.get(message.module, owner, object_id) is not None
        copy = hub.copies.apply_simple(message.module, ctx.method, owner, object_id, body)
    if copy is not None:
        hub.writer.copy(copy)
    query = ctx.query if ctx.query is not None else ctx.url_query
    path = "/" + quoted_path(message.segments)
    if query:
        path = f"{path}?{query}"
    object_key = "/".join((message.module.value, *message.segments[:3]))
    text = raw.decode() if raw else None
    now = utcnow()
    hub.writer.outbox(
        [
            OutboxRow(
                platform_id=target.platform.id,
                party=target.party.ref,
                module=message.module.value,
                method=ctx.method,
                path=path,
                object_key=object_key,
                body=text,
                correlation_id=ctx.correlation_id,
                request_id=ctx.request_id,
                created_at=now,
            )
            for target in route.targets
        ]
    )
    ctx.to_party = hub.ref
    ctx.note = f"broadcast to {len(route.targets)} parties" + (f"; {ctx.note}" if ctx.note else "")
    http_status = 201 if ctx.method == "PUT" and not existed and len(ids) == 1 else 200
    ctx.log_inbound(1000, http_status)
    await _keep(ctx)
    for target in route.targets:
        hub.wake_lane(target.platform.id)
    return ocpi_response(
        http_status=http_status,
        headers=RoutingHeaders(to=message.from_, from_=hub.ref).to_headers(),
    )


# --- GET all via hub ----------------------------------------------------------------------
def _hub_list(ctx: Context, message: Message) -> Response:
    hub, sender = ctx.hub, ctx.platform
    assert sender is not None and message.from_ is not None
    if message.module not in (
        ModuleID.LOCATIONS,
        ModuleID.TARIFFS,
        ModuleID.TOKENS,
        ModuleID.SESSIONS,
        ModuleID.CDRS,
    ):
        raise MethodNotAllowed(f"the {message.module.value} module has no list to GET")
    try:
        page = PageRequest.parse(message.query)
    except ValueError as exc:
        raise InvalidParameters(str(exc)) from None
    own = {party.ref for party in sender.parties}

    def visible(item: Copy) -> bool:
        if message.module in (ModuleID.SESSIONS, ModuleID.CDRS):
            # Party-specific data: only the owner and the party it was routed to see it.
            return item.owner in own or (item.receiver is not None and item.receiver in own)
        return True

    items = hub.copies.listing(message.module, visible)
    cut = paginate(
        items, page, max_limit=hub.settings.page_limit, last_updated=lambda c: c.last_updated
    )
    headers = page_headers(cut, str(ctx.request.url))
    headers.update(RoutingHeaders(to=message.from_, from_=hub.ref).to_headers())
    ctx.to_party = hub.ref
    texts = [item.text for item in cut.items]
    if ctx.version != PIVOT:
        # The copies are 2.2.1: carried up for the requester (an item that cannot be is left
        # out of the page, noted).
        kind = response_kind(message.module, InterfaceRole.SENDER, "GET", ())
        assert kind is not None
        carried = carry_list(
            kind[0],
            [json.loads(text) for text in texts],
            PIVOT,
            ctx.version,
            _situation(ctx, None),
        )
        texts = [dumps(item).decode() for item in carried.value]
        ctx.add_note(loss_note(PIVOT, ctx.version, carried.lost))
    ctx.log_inbound(1000, 200)
    return OcpiResponse(encode_list_envelope(texts), headers=headers)
