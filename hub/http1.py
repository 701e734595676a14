"""A keep-alive HTTP/1.1 client for the hub's hops, written for that one job.

Why not aiohttp's client, which the hub used before (issue 13): a profile of the hub during
the status storm put aiohttp's request machinery at 56 % of the CPU of each delivery (URL
objects, header multidicts, timers, stream readers and payload writers per request, for a
request the hub has already built in full); measured on loopback, one request cost about
85 us of client CPU. This engine writes the request in one piece (request line, headers,
body) on a pooled connection and reads the answer with httptools (the parser uvicorn uses,
llhttp underneath): see docs/architecture.md for the figures.

What it does, and no more: HTTP and HTTPS (TLS by the standard library, certificates
checked), keep-alive connections per origin (at most PER_ORIGIN at once; further requests
wait for one), an idle connection dropped after `keepalive_s` (before the member's server
would drop it), a total time limit per request including the connect, answers framed by
Content-Length, chunked, or the end of the connection; gzip and deflate bodies decoded. No
redirects (a hop is answered by its receiver, not elsewhere), no cookies, no proxies from
the environment.

A request on a kept-alive connection that ends before a byte of its answer arrives (the
server dropped the idle connection as the request went out) is sent again on another
connection when its method is idempotent (`IDEMPOTENT`): an older idle one if the pool has
one, else a new one, whose failure is final.

Failures are the exceptions `hub.forwarding` maps to the hub's statuses, in the same way as
before: no connection (refused, unknown host, TLS refused) `Unreachable`; no answer in time
`TimeoutError`; an answer that is not usable HTTP (bad framing, a header line too long or
with forbidden characters) `BadAnswer`; the connection closed before the answer was complete
`NoCompleteAnswer`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import ssl
import time
import zlib
from typing import cast
from urllib.parse import quote, urlsplit

import httptools

PER_ORIGIN = 64
"""Connections to one origin at most (aiohttp's limit_per_host as the hub set it)."""

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
"""Methods a request may be sent again with when a kept-alive connection turned out closed
(RFC 9110 §9.2.2, RFC 9112 §9.3.1): not POST, not PATCH (an OCPI Session PATCH appends
its charging periods)."""

MAX_FIELD_BYTES = 8190
"""The longest header line taken (name and value): aiohttp's and most servers' limit."""

MAX_HEAD_BYTES = 65_536
"""All header lines of one answer together."""

_NETLOC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@[]%"
"""The characters of a URL's authority (RFC 3986 §3.2): it ends at the first other one."""

_SAFE_TARGET = "!#$%&'()*+,/:;=?@[]~"
"""Characters kept as they are when a request target must be percent-encoded."""


class Unreachable(Exception):
    """No connection to the origin (refused, unknown host, TLS handshake refused)."""


class BadAnswer(Exception):
    """The answer is not usable HTTP."""


class NoCompleteAnswer(Exception):
    """The connection ended before the answer was complete."""


class Http1Client:
    """Keep-alive HTTP/1.1 connections per origin; `request` sends one request."""

    def __init__(self, keepalive_s: float, per_origin: int = PER_ORIGIN) -> None:
        self.keepalive_s = keepalive_s
        self.per_origin = per_origin
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._tls: ssl.SSLContext | None = None
        self.closed = False

    async def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout_s: float,
    ) -> tuple[int, dict[str, str], bytes]:
        """(HTTP status, response headers with lower-case names, body); the exceptions of
        the module docstring, or ValueError for a URL or header the request cannot carry."""
        scheme, host, port, target, host_header = _split(url)
        head = _head(method, target, host_header, headers, body)
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(self, scheme, host, port)
        async with asyncio.timeout(timeout_s):
            while True:
                connection = await pool.acquire()
                try:
                    answer = await connection.exchange(head, body)
                except BaseException as exc:
                    connection.close()
                    pool.release(connection)
                    stale = isinstance(exc, NoCompleteAnswer) and connection.stale()
                    if stale and method in IDEMPOTENT:
                        continue  # on a new connection, or an idle one opened later
                    raise
                pool.release(connection)
                return answer

    def tls(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def aclose(self) -> None:
        self.closed = True
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def _split(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, request target, Host header) of an absolute http(s) URL."""
    scheme_end = url.find("://")
    rest = url[scheme_end + 3 :] if scheme_end > 0 else ""
    cut = len(rest) - len(rest.lstrip(_NETLOC))  # the authority ends at / ? or #
    origin, target = url[: scheme_end + 3 + cut], rest[cut:]
    try:
        scheme, host, port, host_header = _origin(origin)
    except ValueError:
        raise ValueError(f"not an http(s) URL: {url[:200]!r}") from None
    target = target.partition("#")[0]
    target = target if target.startswith("/") else "/" + target
    if not target.isascii() or not target.isprintable() or " " in target:
        target = quote(target, safe=_SAFE_TARGET)
    return scheme, host, port, target, host_header


@functools.lru_cache(maxsize=256)
def _origin(origin: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, Host header) of `scheme://host[:port]`, once per origin."""
    parts = urlsplit(origin)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ValueError(f"not an http(s) URL: {origin[:200]!r}")
    host = parts.hostname
    default = 443 if scheme == "https" else 80
    port = parts.port or default
    name = f"[{host}]" if ":" in host else host
    return scheme, host, port, name if port == default else f"{name}:{port}"


def _head(
    method: str, target: str, host_header: str, headers: dict[str, str], body: bytes | None
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"the header {name[:40]!r} cannot be sent as it is")
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    elif method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Pool:
    def __init__(self, client: Http1Client, scheme: str, host: str, port: int) -> None:
        self.client, self.scheme, self.host, self.port = client, scheme, host, port
        self.idle: collections.deque[_Connection] = collections.deque()
        self.busy = 0
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self) -> _Connection:
        while True:
            now = time.monotonic()
            while self.idle:
                connection = self.idle.pop()  # the most recently used: least likely stale
                if connection.usable(now, self.client.keepalive_s):
                    self.busy += 1
                    return connection
                connection.close()
            if self.busy < self.client.per_origin:
                self.busy += 1
                try:
                    return await self._connect()
                except BaseException:
                    self.busy -= 1
                    self._wake()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            try:
                await waiter
            finally:
                with contextlib.suppress(ValueError):
                    self.waiters.remove(waiter)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = self.client.tls() if self.scheme == "https" else None
        try:
            _, connection = await loop.create_connection(
                _Connection,
                self.host,
                self.port,
                ssl=tls,
                server_hostname=self.host if tls is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:  # refused, unknown host, TLS refused
            raise Unreachable(f"{type(exc).__name__} {exc}") from exc
        return connection

    def release(self, connection: _Connection) -> None:
        self.busy -= 1
        if connection.reusable and not self.client.closed:
            connection.idle_since = time.monotonic()
            self.idle.append(connection)
        else:
            connection.close()
        self._wake()

    def _wake(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        while self.idle:
            self.idle.pop().close()
        for waiter in self.waiters:
            if not waiter.done():
                waiter.cancel()


class _Connection(asyncio.Protocol):
    """One connection; one exchange at a time (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.reusable = False
        self.idle_since = 0.0
        self.served = 0
        """Exchanges answered on this connection."""
        self._heard = False
        """A byte of the current exchange's answer arrived."""
        self._answer: asyncio.Future[tuple[int, dict[str, str], bytes]] | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._headers: dict[str, str] = {}
        self._field = b""
        self._head_bytes = 0
        self._body: list[bytes] = []
        self._framed = False
        """The answer says where it ends (Content-Length or chunked)."""
        self._headers_done = False

    # --- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport instances, but have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._parser is None or self._answer is None or self._answer.done():
            self.close()  # nothing asked: a server does not speak first
            return
        self._heard = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(BadAnswer("the answer asks to switch protocols"))
        except httptools.HttpParserCallbackError as exc:  # a callback refused: a long header
            cause = exc.__context__
            self._fail(cause if isinstance(cause, BadAnswer) else BadAnswer(str(exc)))
        except httptools.HttpParserError as exc:
            self._fail(BadAnswer(str(exc) or type(exc).__name__))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        answer = self._answer
        if answer is None or answer.done():
            return
        if self._headers_done and not self._framed:
            self._complete(keep=False)  # the body ends with the connection (RFC 9112 §6.3)
            return
        why = f": {type(exc).__name__} {exc}" if exc else ""
        answer.set_exception(NoCompleteAnswer("the connection was closed" + why))

    # --- one exchange ---------------------------------------------------------------------
    def usable(self, now: float, keepalive_s: float) -> bool:
        return (
            not self.lost
            and self.transport is not None
            and not self.transport.is_closing()
            and now - self.idle_since < keepalive_s
        )

    def stale(self) -> bool:
        """The exchange ended with nothing heard on a connection that had served others: the
        server most likely closed it as idle while the request went out (its keep-alive
        ended first), so the request may be sent again if its method allows."""
        return self.served > 0 and not self._heard

    async def exchange(self, head: bytes, body: bytes | None) -> tuple[int, dict[str, str], bytes]:
        transport = self.transport
        if transport is None or self.lost:
            raise NoCompleteAnswer("the connection was closed")
        self.reusable = False
        self._heard = False
        self._answer = asyncio.get_running_loop().create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._headers, self._field, self._head_bytes = {}, b"", 0
        self._body, self._framed, self._headers_done = [], False, False
        transport.write(head + body if body else head)
        return await self._answer

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)
        self.close()

    def _complete(self, keep: bool) -> None:
        answer, parser = self._answer, self._parser
        assert answer is not None and parser is not None
        body = b"".join(self._body)
        encoding = self._headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "deflate", "x-gzip"):
            try:
                body = zlib.decompress(body, 47 if encoding != "deflate" else 15)
            except zlib.error:
                try:  # deflate without its zlib wrapper, as some servers send it
                    body = zlib.decompress(body, -15)
                except zlib.error as exc:
                    self._fail(BadAnswer(f"the {encoding} body cannot be decoded: {exc}"))
                    return
        elif encoding not in ("", "identity"):
            self._fail(BadAnswer(f"the body is encoded as {encoding[:40]!r}"))
            return
        self.reusable = keep and not self.lost
        self.served += 1
        if not self.reusable:
            self.close()
        answer.set_result((parser.get_status_code(), self._headers, body))

    # --- httptools callbacks ----------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if len(name) + len(value) > MAX_FIELD_BYTES or self._head_bytes > MAX_HEAD_BYTES:
            raise BadAnswer("a header line of the answer is too long")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key in self._headers:  # repeated: one value, as a comma-separated list (RFC 9110)
            self._headers[key] += ", " + text
        else:
            self._headers[key] = text

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self._framed = (
            "content-length" in self._headers
            or "chunked" in self._headers.get("transfer-encoding", "").lower()
        )

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        parser = self._parser
        assert parser is not None
        self._complete(keep=parser.should_keep_alive())
