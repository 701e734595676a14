"""Async OCPI client over an injected httpx.AsyncClient.

It sends the headers every OCPI request needs, unwraps envelopes into typed results, raises
the typed errors of ocpi.errors (carrying the peer's OCPI status) and walks paginated lists by
following `Link` headers. The transport is passed in, so tests can hand it an ASGITransport
or MockTransport and services can share one pool per destination.

Over a `DirectClient` (what `http_client` makes, and a member's edge to a peer on another
version) a request skips httpx's client machinery — request building, the cookie jar, auth
and redirect handling, the response stream — which such a client would not use: over aiohttp
it is aiohttp's request alone, elsewhere the transport's. Measured on a mock CPO's status
PATCHes (issue 13), the client's CPU per request fell from about 370-525 µs to 110-225 µs.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import httpx
import pydantic_core
from httpx_aiohttp import AiohttpTransport
from pydantic import TypeAdapter, ValidationError

from ocpi.envelope import Envelope
from ocpi.errors import (
    OcpiError,
    PeerProtocolError,
    PeerTimeout,
    PeerUnreachable,
    Unauthorized,
    error_for_status,
)
from ocpi.headers import (
    AUTHORIZATION,
    LINK,
    X_CORRELATION_ID,
    X_LIMIT,
    X_REQUEST_ID,
    X_TOTAL_COUNT,
    PartyRef,
    RoutingHeaders,
    encode_authorization,
    new_request_id,
)
from ocpi.pagination import PageRequest, parse_link_header
from ocpi.status import is_success
from ocpi.v221.types import OcpiModel
from ocpi.wire_json import read_json

CLIENT_KEEPALIVE_S = 4.0
"""Seconds an idle connection to a peer is kept for reuse: below the idle timeout of common
servers (uvicorn 5 s, Node.js 5 s, nginx 75 s). With httpx's default of 5 s against a uvicorn
peer's 5 s, a request now and then went out on a connection the server was closing at that
instant and failed with ReadError (seen in the demo: a START_SESSION reported FAILED)."""

SERVER_KEEPALIVE_S = 15
"""Seconds this project's own servers keep an idle connection open: well above any client's
reuse window here, so it is the client that lets an idle connection go, never the server
under a request that is already on its way."""


@dataclass(frozen=True)
class Reply:
    """A peer's answer as the OCPI client reads it, however it was sent."""

    status: int
    headers: Mapping[str, str]
    """Case-insensitive (httpx's Headers or aiohttp's CIMultiDict)."""
    content: bytes


class _AiohttpTransport(AiohttpTransport):
    """httpx-aiohttp's transport, saying what failed: it maps every
    `aiohttp.ClientConnectionError` to `httpx.ConnectTimeout`, so a refused connection or a
    server that closed the connection read as "no answer in time". Here only a timeout is a
    timeout; a refused connection is `ConnectError`, a dropped one `RemoteProtocolError` or
    `ReadError`, as with httpx's own transport. `exchange` sends without httpx's Request and
    Response, with the same failures."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if cause is None or isinstance(cause, TimeoutError):
                raise
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(exc), request=request) from cause
            if isinstance(cause, aiohttp.ServerDisconnectedError):
                raise httpx.RemoteProtocolError(str(exc), request=request) from cause
            raise httpx.ReadError(str(exc), request=request) from cause

    async def exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout_s: float,
    ) -> Reply:
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        try:
            async with self.client.request(
                method,
                url,
                data=content,
                headers=headers,
                allow_redirects=False,
                timeout=_client_timeout(timeout_s),
            ) as response:
                return Reply(response.status, response.headers, await response.read())
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc)) from exc
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc)) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from exc
        except aiohttp.ClientResponseError as exc:  # the answer was not well-formed HTTP
            raise httpx.RemoteProtocolError(f"{exc.status}, {exc.message}") from exc
        except aiohttp.InvalidURL as exc:
            raise httpx.UnsupportedProtocol(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from exc


@functools.lru_cache(maxsize=16)
def _client_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """httpx's one timeout for each phase, as aiohttp's (one object per value)."""
    return aiohttp.ClientTimeout(sock_connect=seconds, sock_read=seconds, connect=seconds)


class DirectClient(httpx.AsyncClient):
    """An httpx client that adds nothing to a request on its way to its transport: no base
    URL, default headers that matter, cookies, auth, redirects or event hooks. So `OcpiClient`
    (and the edge of ocpi.platform) hand it their requests at the transport (`exchange`,
    `send_direct`), skipping httpx's per-request machinery. As an httpx client it works as
    any other."""

    def __init__(self, transport: httpx.AsyncBaseTransport, *, timeout: float = 5.0) -> None:
        super().__init__(transport=transport, timeout=timeout, trust_env=False)
        self.transport = transport
        self.timeout_s = timeout

    async def exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        params: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Reply:
        """Send one request, read the whole answer; httpx's TransportError on failure."""
        seconds = self.timeout_s if timeout_s is None else timeout_s
        if isinstance(self.transport, _AiohttpTransport):
            if params:
                url += ("&" if "?" in url else "?") + urlencode(params)
            return await self.transport.exchange(method, url, headers, content, seconds)
        request = httpx.Request(
            method,
            url,
            params=params,
            headers=headers,
            content=content,
            extensions={"timeout": httpx.Timeout(seconds).as_dict()},
        )
        response = await self.send_direct(request)
        return Reply(response.status_code, response.headers, response.content)

    async def send_direct(self, request: httpx.Request) -> httpx.Response:
        """`send(request)` without the client's machinery: the transport's answer, read."""
        if isinstance(self.transport, _AiohttpTransport):
            timeout = request.extensions.get("timeout", {}).get("read")
            reply = await self.transport.exchange(
                request.method,
                str(request.url),
                request.headers,
                await request.aread() or None,
                self.timeout_s if timeout is None else timeout,
            )
            # aiohttp has decoded the body: httpx must not decode it again.
            headers = [(k, v) for k, v in reply.headers.items() if k.lower() != "content-encoding"]
            return httpx.Response(
                reply.status, headers=headers, content=reply.content, request=request
            )
        response = await self.transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response


def http_client(timeout: float) -> DirectClient:
    """The httpx client a service uses for its peers: no proxies from the environment, and
    idle connections dropped after CLIENT_KEEPALIVE_S (before the peer's server drops them).

    Its transport is aiohttp's (httpx-aiohttp), as for the hub's forwarding: httpx's own
    transport costs about 1.2 ms of CPU a request on this project's machines, aiohttp's
    about 0.35 ms (../shared/perf), and a mock CPO publishing its network is mostly
    requests (issue 13). An OcpiClient over it calls aiohttp directly (`DirectClient`)."""
    limits = httpx.Limits(keepalive_expiry=CLIENT_KEEPALIVE_S)
    return DirectClient(_AiohttpTransport(trust_env=False, limits=limits), timeout=timeout)


T = TypeVar("T")

_ENVELOPE = TypeAdapter(Envelope)


@dataclass(frozen=True)
class OcpiResponse:
    """A successful (1xxx) OCPI answer: the envelope's fields plus the HTTP details."""

    http_status: int
    status_code: int
    status_message: str | None
    data: Any
    headers: Mapping[str, str]
    """Case-insensitive."""
    request_id: str
    correlation_id: str

    def parse(self, type_: type[T] | TypeAdapter[T]) -> T:
        """Validate `data` into a wire type; a mismatch is the peer's protocol error."""
        adapter = type_ if isinstance(type_, TypeAdapter) else TypeAdapter(type_)
        try:
            return adapter.validate_python(self.data)
        except ValidationError as exc:
            raise PeerProtocolError(f"the peer's data is not valid: {_first_error(exc)}") from exc

    @property
    def next_url(self) -> str | None:
        return parse_link_header(self.headers.get(LINK))

    @property
    def total_count(self) -> int | None:
        return _int_header(self.headers, X_TOTAL_COUNT)

    @property
    def limit(self) -> int | None:
        return _int_header(self.headers, X_LIMIT)


class OcpiClient:
    """Talks to one peer platform with one credentials token.

    `raw_token` sends the token unencoded, for 2.1.1/2.2 peers that never adopted Base64.
    `from_party` is put in the OCPI-from headers of functional-module requests by default.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        token: str,
        *,
        from_party: PartyRef | None = None,
        raw_token: bool = False,
    ) -> None:
        self.http = http
        self.token = token
        self.from_party = from_party
        self.raw_token = raw_token

    def authorization(self) -> str:
        return f"Token {self.token}" if self.raw_token else encode_authorization(self.token)

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        to: PartyRef | None = None,
        from_party: PartyRef | None = None,
        routed: bool = True,
        correlation_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_seconds: float | None = None,
    ) -> OcpiResponse:
        """Send one request and return the 1xxx answer, or raise the matching OcpiError.

        `routed=False` leaves the routing headers out (configuration modules: credentials,
        versions, hubclientinfo, which the spec says SHALL NOT carry them).
        """
        request_id = new_request_id()
        correlation_id = correlation_id or new_request_id()
        out = {
            AUTHORIZATION: self.authorization(),
            X_REQUEST_ID: request_id,
            X_CORRELATION_ID: correlation_id,
        }
        if routed:
            sender = from_party or self.from_party
            out.update(RoutingHeaders(to=to, from_=sender).to_headers())
        if headers:
            out.update(headers)
        content: bytes | None = None
        if json_body is not None:
            content = _encode_body(json_body)
            out["Content-Type"] = "application/json"
        try:
            if isinstance(self.http, DirectClient):
                reply = await self.http.exchange(method, url, out, content, params, timeout_seconds)
            else:
                response = await self.http.request(
                    method,
                    url,
                    content=content,
                    params=params,
                    headers=out,
                    timeout=(
                        timeout_seconds if timeout_seconds is not None else httpx.USE_CLIENT_DEFAULT
                    ),
                )
                reply = Reply(response.status_code, response.headers, response.content)
        except httpx.TimeoutException as exc:
            raise PeerTimeout(f"{method} {url}: no answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise PeerUnreachable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        return _unwrap(reply, method, url, request_id, correlation_id)

    async def get(self, url: str, **kwargs: Any) -> OcpiResponse:
        return await self.request("GET", url, **kwargs)

    async def put(self, url: str, body: Any, **kwargs: Any) -> OcpiResponse:
        return await self.request("PUT", url, json_body=body, **kwargs)

    async def patch(self, url: str, body: Any, **kwargs: Any) -> OcpiResponse:
        return await self.request("PATCH", url, json_body=body, **kwargs)

    async def post(self, url: str, body: Any = None, **kwargs: Any) -> OcpiResponse:
        return await self.request("POST", url, json_body=body, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> OcpiResponse:
        return await self.request("DELETE", url, **kwargs)

    async def get_object(self, url: str, type_: type[T], **kwargs: Any) -> T:
        """GET one object and validate it."""
        return (await self.get(url, **kwargs)).parse(type_)

    async def iter_pages(
        self,
        url: str,
        item_type: type[T],
        page: PageRequest | None = None,
        *,
        max_pages: int = 100_000,
        **kwargs: Any,
    ) -> AsyncIterator[list[T]]:
        """Yield every page of a list endpoint, following `Link: <…>; rel="next"`.

        The Link URL already carries the filters (spec), so only the first request sends
        `page`'s parameters.
        """
        adapter = TypeAdapter(list[item_type])  # type: ignore[valid-type]
        next_url: str | None = url
        params: Mapping[str, str] | None = (page or PageRequest()).to_query()
        seen: set[str] = set()
        for _ in range(max_pages):
            if next_url is None:
                return
            response = await self.get(next_url, params=params, **kwargs)
            items: list[T] = response.parse(adapter)
            yield items
            params = None
            following = response.next_url
            if following is not None and following in seen:
                raise PeerProtocolError(f"pagination loops: Link points back to {following}")
            seen.add(next_url)
            next_url = following if items else None
        raise PeerProtocolError(f"pagination did not end after {max_pages} pages")

    async def get_all(
        self, url: str, item_type: type[T], page: PageRequest | None = None, **kwargs: Any
    ) -> list[T]:
        """Every object of a list endpoint, all pages concatenated."""
        result: list[T] = []
        async for items in self.iter_pages(url, item_type, page, **kwargs):
            result.extend(items)
        return result


def _encode_body(body: Any) -> bytes:
    if isinstance(body, OcpiModel):
        return body.model_dump_json(exclude_none=True).encode()
    if isinstance(body, bytes):
        return body
    return pydantic_core.to_json(body, exclude_none=True)


def _unwrap(
    response: Reply, method: str, url: str, request_id: str, correlation_id: str
) -> OcpiResponse:
    where = f"{method} {url}"
    try:
        payload = read_json(response.content, max_depth=None) if response.content else None
    except ValueError as exc:
        payload = None
        if response.status < 400:
            raise PeerProtocolError(
                f"{where}: HTTP {response.status} with a body that is not JSON ({exc})"
            ) from None
    envelope: Envelope | None = None
    if isinstance(payload, dict) and "status_code" in payload:
        try:
            envelope = _ENVELOPE.validate_python(payload)
        except ValidationError as exc:
            raise PeerProtocolError(f"{where}: malformed envelope: {_first_error(exc)}") from exc
    if envelope is None:
        message = f"{where}: HTTP {response.status} without an OCPI envelope"
        if response.status == 401:
            raise Unauthorized(message, http_status=401)
        raise PeerProtocolError(message, http_status=response.status)
    if is_success(envelope.status_code) and response.status < 400:
        return OcpiResponse(
            http_status=response.status,
            status_code=envelope.status_code,
            status_message=envelope.status_message,
            data=envelope.data,
            headers=response.headers,
            request_id=request_id,
            correlation_id=correlation_id,
        )
    if response.status >= 500 and is_success(envelope.status_code):
        raise PeerProtocolError(f"{where}: HTTP {response.status} with a success status")
    error: OcpiError = error_for_status(
        envelope.status_code,
        envelope.status_message or f"{where}: status {envelope.status_code}",
        http_status=response.status,
        data=envelope.data,
    )
    raise error


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    location = ".".join(str(part) for part in err["loc"]) or "(root)"
    return f"{location}: {err['msg']}"


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None
