"""Where a member platform's 2.2.1 core meets a peer speaking another OCPI version.

`VersionEdge` (ASGI, outermost) serves the version's paths (`VersionAdapter.served_path`) on
the core's 2.2.1 routes: it carries request bodies down to 2.2.1 (2001 with the reason when
one is not a valid object of the version or cannot be carried), the `data` of answers up, and
the Link headers of pages to the version's paths; the core's own 2.2.1 paths answer 404.
`EdgeTransport` (httpx) does the same for what the platform sends: bodies up, answers down.
The objects are told apart by `adapters.exchange` (module, interface role, method, path);
what a translation loses is logged. docs/architecture.md says why this is done at the edge.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

import httpx
import pydantic_core
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpi.client import DirectClient
from ocpi.envelope import encode_envelope
from ocpi.errors import InvalidParameters, NotFound, OcpiError, PeerProtocolError
from ocpi.headers import (
    OCPI_FROM_COUNTRY_CODE,
    OCPI_FROM_PARTY_ID,
    OCPI_TO_COUNTRY_CODE,
    OCPI_TO_PARTY_ID,
    ROUTING_HEADERS,
    X_CORRELATION_ID,
    X_REQUEST_ID,
    PartyRef,
)
from ocpi.platform.adapters import (
    NO_CONTEXT,
    NOTHING,
    Carried,
    Exchange,
    MessageContext,
    ObjectKind,
    VersionAdapter,
    exchange,
    peer_role,
    untranslatable_message,
)
from ocpi.platform.peer import PeerState
from ocpi.server.errors import describe_errors
from ocpi.status import OcpiStatus, is_success
from ocpi.translate.notes import Loss, Translated, Untranslatable
from ocpi.v221.tokens import TokenType
from ocpi.v221.types import Role
from ocpi.v221.versions import Endpoint, InterfaceRole, ModuleID
from ocpi.wire_json import read_json

if TYPE_CHECKING:
    from ocpi.platform.routers import ModuleInterface

log = logging.getLogger("ocpi.platform.edge")

_TOKEN_TYPES = frozenset(item.value for item in TokenType)
_ROUTING = frozenset(name.lower().encode() for name in ROUTING_HEADERS)
_OWNER_IN_PATH = frozenset(
    {ModuleID.LOCATIONS, ModuleID.TARIFFS, ModuleID.SESSIONS, ModuleID.TOKENS}
)
"""Receiver interfaces whose URLs name the object's owner: {url}/{country_code}/{party_id}/…"""


def log_losses(where: str, lost: Sequence[Loss]) -> None:
    """What a translation could not carry, one warning per message (the member's log)."""
    if lost:
        log.warning("%s: not carried: %s", where, "; ".join(str(loss) for loss in lost))


@dataclass(frozen=True)
class _Served:
    interface: ModuleInterface
    outer: str
    """Path the version's peers use (below the public URL's path)."""
    inner: str
    """Path of the core's 2.2.1 route."""


class ServedPaths:
    """The platform's interfaces at the version's paths and at the core's."""

    def __init__(
        self, adapter: VersionAdapter, prefix: str, interfaces: Sequence[ModuleInterface]
    ) -> None:
        self.adapter = adapter
        self.items = sorted(
            (
                _Served(item, prefix + adapter.served_path(item.path), prefix + item.path)
                for item in interfaces
                if adapter.serves(item.module)
            ),
            key=lambda served: len(served.outer),
            reverse=True,
        )
        self.unserved = [
            (item.module, prefix + item.path)
            for item in interfaces
            if not adapter.serves(item.module)
        ]

    def find(self, path: str) -> tuple[_Served, list[str]] | None:
        """The interface an outer `path` addresses and the segments below it."""
        for served in self.items:
            if path == served.outer or path.startswith(served.outer + "/"):
                rest = path[len(served.outer) :]
                return served, [part for part in rest.split("/") if part]
        return None

    def is_core_only(self, path: str) -> bool:
        """A 2.2.1 path of the core that the version serves elsewhere."""
        return any(
            served.inner != served.outer
            and (path == served.inner or path.startswith(served.inner + "/"))
            for served in self.items
        )

    def missing_module(self, path: str) -> str | None:
        """The module of a core interface the version does not have (2.1.1: hubclientinfo)."""
        for module, inner in self.unserved:
            if path == inner or path.startswith(inner + "/"):
                return str(module)
        return None

    def outward(self, path: str) -> str:
        """An inner path (of a Link) as the version's path."""
        for served in self.items:
            if path == served.inner or path.startswith(served.inner + "/"):
                return served.outer + path[len(served.inner) :]
        return path


def _with_token_type(scope: Scope, body: dict[str, Any], adapter: VersionAdapter) -> bytes:
    """The query of a Token URL from a version whose URLs do not name the type: `type=` of
    the body's token (a PATCH without one: of the token held with that uid), unless the query
    names one (the 2.2.1 core reads the type from it, RFID when absent)."""
    query: bytes = scope.get("query_string", b"")
    path: str = scope["path"]
    if "/tokens/" not in path:
        return query
    kind = body.get("type")
    if not isinstance(kind, str):
        kind = adapter.held_token_type(path.rstrip("/").rsplit("/", 1)[-1])
    if kind is None:
        return query
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    if any(name == "type" for name, _ in pairs):
        return query
    return urlencode([*pairs, ("type", kind)]).encode("latin-1")


_ECHOED = {X_REQUEST_ID.lower().encode(), X_CORRELATION_ID.lower().encode()}
_SWAPPED = {
    OCPI_FROM_COUNTRY_CODE.lower().encode(): OCPI_TO_COUNTRY_CODE.encode(),
    OCPI_FROM_PARTY_ID.lower().encode(): OCPI_TO_PARTY_ID.encode(),
    OCPI_TO_COUNTRY_CODE.lower().encode(): OCPI_FROM_COUNTRY_CODE.encode(),
    OCPI_TO_PARTY_ID.lower().encode(): OCPI_FROM_PARTY_ID.encode(),
}


async def _answer(send: Send, error: OcpiError, scope: Scope | None = None) -> None:
    """The edge's own answer. To a request (`scope`) it echoes X-Request-ID and
    X-Correlation-ID and gives the routing headers reversed, as the core's answers do (spec
    transport_and_format "Unique message IDs", "Message Routing")."""
    body = encode_envelope(status_code=error.status_code, status_message=error.message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    for name, value in scope["headers"] if scope is not None else []:
        lower = name.lower()
        if lower in _ECHOED:
            headers.append((lower, value))
        elif lower in _SWAPPED:
            headers.append((_SWAPPED[lower], value))
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _translate_down(
    adapter: VersionAdapter,
    carried: Carried,
    data: Any,
    where: str,
    context: MessageContext = NO_CONTEXT,
) -> Any:
    """An inbound object as 2.2.1 JSON; InvalidParameters naming the problem otherwise."""
    try:
        result = adapter.down(carried.kind, data, context)
    except Untranslatable as exc:
        raise InvalidParameters(untranslatable_message(carried.kind, adapter.number, exc)) from None
    except ValidationError as exc:
        raise InvalidParameters(
            f"not a valid OCPI {adapter.number} {carried.kind.value}: "
            f"{describe_errors(exc.errors())}"
        ) from None
    log_losses(where, result.lost)
    return result.value


def _translate_up_all(
    adapter: VersionAdapter,
    carried: Carried,
    data: Any,
    where: str,
    context: MessageContext = NO_CONTEXT,
) -> Any:
    """Outgoing 2.2.1 data as the version's (ValueError, Untranslatable when it cannot be)."""
    if carried.many and isinstance(data, list):
        one = Carried(carried.kind)
        return [_translate_up_all(adapter, one, item, where, context) for item in data]
    result: Translated[Any] = adapter.up(carried.kind, data, context)
    log_losses(where, result.lost)
    return result.value


class VersionEdge:
    """ASGI: the platform's OCPI interfaces as the adapter's version, over the 2.2.1 core."""

    def __init__(
        self,
        app: ASGIApp,
        adapter: VersionAdapter,
        prefix: str,
        interfaces: Sequence[ModuleInterface],
        origin: str = "",
        peer: Callable[[], PeerState | None] | None = None,
        auth: Callable[[Request], Awaitable[object]] | None = None,
    ) -> None:
        self.app = app
        self.auth = auth
        """The core's token check (raises Unauthorized): run before a body is translated, so
        that a caller without a valid token learns nothing of what it sent (401 first)."""
        self.adapter = adapter
        self.paths = ServedPaths(adapter, prefix, interfaces)
        self.origin = origin
        """scheme://host of the platform's public URL: names the member in the log."""
        self.peer = peer or _no_peer
        """The platform's connection: its hub owns what a URL names no owner of (2.1.1)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        found = self.paths.find(path)
        if found is None:
            missing = self.paths.missing_module(path)
            if missing is not None:
                await _answer(send, NotFound(f"OCPI {self.adapter.number} has no {missing} module"))
                return
            if self.paths.is_core_only(path):
                await _answer(
                    send,
                    NotFound(
                        f"this platform speaks OCPI {self.adapter.number}: "
                        "its version details give its URLs"
                    ),
                )
                return
            await self.app(scope, receive, send)
            return
        served, segments = found
        method: str = scope["method"]
        where = f"{method} {self.origin}{path}"
        inner_path = served.inner + path[len(served.outer) :]
        raw: bytes = scope.get("raw_path") or quote(path).encode()
        outer = served.outer.encode()
        if raw.startswith(outer):  # keep the client's percent-encoding below the prefix
            raw = served.inner.encode() + raw[len(outer) :]
        else:
            raw = quote(inner_path).encode()
        scope = dict(scope, path=inner_path, raw_path=raw)
        if served.interface.module == ModuleID.TOKENS:
            scope["query_string"] = self._token_type_query(scope.get("query_string", b""), where)
            if method == "GET" and not self.adapter.token_type_in_url and len(segments) == 3:
                # A GET of one Token: the type of the token held with that uid (2.1.1 URLs
                # name none; the core reads RFID when the query names none).
                scope["query_string"] = _with_token_type(scope, {}, self.adapter)
        carried = exchange(served.interface.module, served.interface.role, method, segments)
        context = self._context(served.interface, segments)
        if carried.request is not None and carried.request.kind is ObjectKind.TARIFF_PATCH:
            if ObjectKind.TARIFF_PATCH in self.adapter.patched_whole:
                scope["method"] = "PUT"  # the core gets the whole patched Tariff
            else:
                carried = NOTHING  # the core answers a PATCH it does not have
        if carried.request is not None:
            try:
                if self.auth is not None:
                    await self.auth(Request(scope))
                receive = await self._request_down(scope, receive, carried.request, where, context)
            except OcpiError as refused:
                log.warning("%s: refused: %s", where, refused.message)
                await _answer(send, refused, scope)
                return
        await self.app(scope, receive, self._responder(send, carried, where, context))

    def _context(self, interface: ModuleInterface, segments: Sequence[str]) -> MessageContext:
        """Who owns an inbound object: the party its receiver URL names, else the hub."""
        if (
            interface.role is InterfaceRole.RECEIVER
            and interface.module in _OWNER_IN_PATH
            and len(segments) >= 2
        ):
            named = segments[2] if len(segments) > 2 else None
            return MessageContext(owner=PartyRef(segments[0], segments[1]), object_id=named)
        peer = self.peer()
        return MessageContext(owner=peer.hub_party if peer is not None else None)

    def _token_type_query(self, query: bytes, where: str) -> bytes:
        """?type= of a Token URL: a type 2.2.1 lacks is OTHER, as in the Token itself."""
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        changed = False
        for index, (name, value) in enumerate(pairs):
            if name == "type" and value not in _TOKEN_TYPES:
                pairs[index] = (name, TokenType.OTHER.value)
                log_losses(where, [Loss("type", f"token type {value} is OTHER in 2.2.1")])
                changed = True
        return urlencode(pairs).encode("latin-1") if changed else query

    async def _request_down(
        self,
        scope: Scope,
        receive: Receive,
        carried: Carried,
        where: str,
        context: MessageContext = NO_CONTEXT,
    ) -> Receive:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        try:
            data = read_json(raw) if raw else None
        except ValueError:
            data = None  # not JSON: the core's body guard answers it
        if data is not None:
            down = _translate_down(self.adapter, carried, data, where, context)
            raw = pydantic_core.to_json(down)
            if not self.adapter.token_type_in_url and isinstance(down, dict):
                scope["query_string"] = _with_token_type(scope, down, self.adapter)
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
            scope["headers"] = [*headers, (b"content-length", str(len(raw)).encode())]
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        return replay

    def _responder(
        self, send: Send, carried: Exchange, where: str, context: MessageContext
    ) -> Send:
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_outward(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            status: int = start["status"]
            body = b"".join(chunks)
            if carried.response is not None:
                status, body = self._response_up(status, body, carried.response, where, context)
            body = self._status_out(body, where)
            headers = [
                (name, self._url_outward(name.lower(), value))
                for name, value in start.get("headers", [])
                if name.lower() != b"content-length"
                and (self.adapter.routing_headers or name.lower() not in _ROUTING)
            ]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return send_outward

    def _status_out(self, body: bytes, where: str) -> bytes:
        """The envelope's status code as the version has it (2.1.1: no 2004, no 4xxx)."""
        try:
            envelope = read_json(body)
        except ValueError:
            return body
        if not isinstance(envelope, dict) or not isinstance(envelope.get("status_code"), int):
            return body
        code = self.adapter.status_code_out(envelope["status_code"])
        if code.value == envelope["status_code"]:
            return body
        log_losses(where, code.lost)
        envelope["status_code"] = code.value
        return pydantic_core.to_json(envelope)

    def _response_up(
        self, status: int, body: bytes, carried: Carried, where: str, context: MessageContext
    ) -> tuple[int, bytes]:
        try:
            envelope = read_json(body)
        except ValueError:
            return status, body
        if (
            not isinstance(envelope, dict)
            or not isinstance(envelope.get("status_code"), int)
            or not is_success(envelope["status_code"])
            or envelope.get("data") is None
        ):
            return status, body
        try:
            data = envelope["data"]
            envelope["data"] = _translate_up_all(self.adapter, carried, data, where, context)
        except (ValueError, Untranslatable) as exc:
            log.error(
                "%s: the answer cannot be given in OCPI %s: %s", where, self.adapter.number, exc
            )
            return 500, encode_envelope(
                status_code=OcpiStatus.SERVER_ERROR,
                status_message=f"the answer cannot be given in OCPI {self.adapter.number}: {exc}",
            )
        return status, pydantic_core.to_json(envelope)

    def _url_outward(self, name: bytes, value: bytes) -> bytes:
        """The URL of a Link (next page) or Location (a created CDR) header at the version's
        path; other headers as they are."""
        text = value.decode("latin-1")
        if name == b"location":
            start, end = -1, len(text)
        elif name == b"link":
            start, end = text.find("<"), text.find(">")
            if start < 0 or end < start:
                return value
        else:
            return value
        url = httpx.URL(text[start + 1 : end])
        outer = url.copy_with(path=self.paths.outward(url.path))
        return (text[: start + 1] + str(outer) + text[end:]).encode("latin-1")


def endpoint_under(
    url: str,
    endpoints: Sequence[Endpoint],
    called: Callable[[ModuleID | str], InterfaceRole | None],
) -> tuple[Endpoint, list[str]] | None:
    """The endpoint `url` lies under (the longest base URL), and the path segments below it,
    unquoted; None when it is under none. Where one URL serves both interfaces of a module,
    the one `called(module)` names (the interface the caller's role calls).

    The URL is compared as it is first (the core builds it from the endpoint's own base), and
    normalised by httpx only when that finds nothing: parsing every outgoing URL cost ~85 µs
    of a 2.3.0 or 2.1.1 member's request (issue 13's status storm)."""
    found = _under(url.partition("#")[0].partition("?")[0], endpoints, called)
    if found is None:
        found = _under(str(httpx.URL(url).copy_with(query=None, fragment=None)), endpoints, called)
    return found


def _under(
    plain: str,
    endpoints: Sequence[Endpoint],
    called: Callable[[ModuleID | str], InterfaceRole | None],
) -> tuple[Endpoint, list[str]] | None:
    best: list[Endpoint] = []
    for endpoint in endpoints:
        base = endpoint.url.rstrip("/")
        if plain == base or plain.startswith(base + "/"):
            if not best or len(base) > len(best[0].url.rstrip("/")):
                best = [endpoint]
            elif len(base) == len(best[0].url.rstrip("/")):
                best.append(endpoint)
    if not best:
        return None
    chosen = best[0]
    if len(best) > 1:
        wanted = called(chosen.identifier)
        chosen = next((e for e in best if e.role is wanted), chosen)
    rest = plain[len(chosen.url.rstrip("/")) :]
    return chosen, [unquote(part) for part in rest.split("/") if part]


def _no_peer() -> PeerState | None:
    return None


class EdgeTransport(httpx.AsyncBaseTransport):
    """httpx: what a 2.2.1 core sends to the peer's endpoints, as the adapter's version.

    Requests go on through `http` (the platform's client). Only URLs below one of the peer's
    endpoints are translated; configuration calls (versions, details, credentials) are the
    Registration's own and pass as they are.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        adapter: VersionAdapter,
        peer: Callable[[], PeerState | None],
        own_role: Role,
        public_url: str,
    ) -> None:
        self.http = http
        self.adapter = adapter
        self.peer = peer
        self.own_role = own_role
        self.public_url = public_url.rstrip("/")

    def _target(self, url: httpx.URL) -> tuple[Endpoint, list[str]] | None:
        peer = self.peer()
        if peer is None:
            return None
        # One URL for both interfaces of a module: the one this platform's role calls.
        return endpoint_under(str(url), peer.endpoints, lambda m: peer_role(m, self.own_role))

    def _outward(self, url: str) -> str:
        """One of our own URLs (a command's response_url) at the version's path."""
        if url.startswith(self.public_url + "/"):
            return self.public_url + self.adapter.served_path(url[len(self.public_url) :])
        return url

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = self._target(request.url)
        carried = NOTHING
        peer = self.peer()
        context = MessageContext(owner=peer.hub_party if peer is not None else None)
        command = False
        if target is not None:
            endpoint, segments = target
            carried = exchange(endpoint.identifier, endpoint.role, request.method, segments)
            if carried.response is not None and carried.response.kind is (
                ObjectKind.AUTHORIZATION_INFO
            ):
                uid = segments[-2] if len(segments) >= 2 else None
                kind = request.url.params.get("type")
                context = MessageContext(context.owner, token_uid=uid, token_type=kind)
            # Every command a member sends names its response_url (CancelReservation too,
            # which passes untranslated): _request_up puts it at the version's path.
            command = endpoint.identifier == ModuleID.COMMANDS and request.method == "POST"
        elif request.method == "POST" and peer is not None:
            # Outside the peer's endpoints a platform POSTs only to a command's response_url.
            carried = Exchange(request=Carried(ObjectKind.COMMAND_RESULT))
        where = f"{self.public_url} sending {request.method} {request.url}"
        if not self.adapter.routing_headers:
            request = self._without_routing(request)
        if carried.request is not None or command:
            body = await request.aread()
            if body:
                request = self._request_up(request, body, carried.request, where)
        # The request keeps its extensions (the timeout the OcpiClient asked for).
        if isinstance(self.http, DirectClient):
            response = await self.http.send_direct(request)
        else:
            response = await self.http.send(request)
        if carried.response is None:
            return response
        return self._response_down(response, carried.response, where, context)

    def _without_routing(self, request: httpx.Request) -> httpx.Request:
        """The request without the message routing headers (2.1.1 has none)."""
        for name in list(request.headers):
            if name.lower().encode() in _ROUTING:
                del request.headers[name]
        return request

    def _request_up(
        self, request: httpx.Request, body: bytes, carried: Carried | None, where: str
    ) -> httpx.Request:
        """The body as the version's; a command's response_url at the version's path."""
        try:
            data = read_json(body)
            if carried is not None:
                data = _translate_up_all(self.adapter, carried, data, where)
        except (ValueError, Untranslatable) as exc:
            what = carried.kind.value if carried is not None else "body"
            raise InvalidParameters(
                f"{where}: not sent, the {what} cannot be given in OCPI "
                f"{self.adapter.number}: {exc}"
            ) from None
        if isinstance(data, dict) and isinstance(data.get("response_url"), str):
            data["response_url"] = self._outward(data["response_url"])
        content = pydantic_core.to_json(data)
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"content-length"]
        return httpx.Request(
            request.method,
            request.url,
            headers=headers,
            content=content,
            extensions=request.extensions,
        )

    def _response_down(
        self,
        response: httpx.Response,
        carried: Carried,
        where: str,
        context: MessageContext = NO_CONTEXT,
    ) -> httpx.Response:
        try:
            envelope = read_json(response.content)
        except ValueError:
            return response  # not an envelope: the client says so
        if (
            not isinstance(envelope, dict)
            or not isinstance(envelope.get("status_code"), int)
            or not is_success(envelope["status_code"])
            or envelope.get("data") is None
        ):
            return response
        data = envelope["data"]
        try:
            if carried.many and isinstance(data, list):
                envelope["data"] = self._items_down(data, carried, where, context)
            else:
                result = self.adapter.down(carried.kind, data, context)
                envelope["data"] = result.value
                log_losses(where, result.lost)
        except (ValueError, Untranslatable) as exc:
            raise PeerProtocolError(
                f"{where}: the answer is not a {self.adapter.number} {carried.kind.value} "
                f"that OCPI 2.2.1 can carry: {exc}"
            ) from None
        headers = [
            (k, v)
            for k, v in response.headers.raw
            if k.lower() not in (b"content-length", b"content-encoding", b"transfer-encoding")
        ]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=pydantic_core.to_json(envelope),
            request=response.request,
            extensions=response.extensions,
        )

    def _items_down(
        self, items: list[Any], carried: Carried, where: str, context: MessageContext
    ) -> list[Any]:
        """A page of objects as 2.2.1: one that cannot be carried is left out and logged."""
        kept: list[Any] = []
        lost: list[Loss] = []
        for index, item in enumerate(items):
            try:
                result = self.adapter.down(carried.kind, item, context)
            except ValidationError as exc:
                invalid = f"not a valid {carried.kind.value}: {describe_errors(exc.errors())}"
                lost.append(Loss(str(index), f"left out, {invalid}"))
                continue
            except (ValueError, Untranslatable) as exc:
                lost.append(Loss(str(index), f"left out: {exc}"))
                continue
            kept.append(result.value)
            lost.extend(Loss(f"{index}.{loss.path}", loss.reason) for loss in result.lost)
        log_losses(where, lost)
        return kept
