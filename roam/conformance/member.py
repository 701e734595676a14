"""The suite's client to the member under test: every request recorded as an Exchange.

Nothing here raises on a bad answer: a timeout, a refused connection, a body that is not
JSON all become an Exchange with `error` or `is_json` saying so, for the check to judge. A
member that refuses the token in the run's encoding (Base64; raw in 2.1.1) but accepts the
other one is remembered (the Authorization check reports it) and spoken to in its dialect from
then on, so that every other check can still run.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import httpx
import pydantic_core

from ocpi.headers import (
    AUTHORIZATION,
    X_CORRELATION_ID,
    X_REQUEST_ID,
    RoutingHeaders,
    encode_authorization,
    new_request_id,
)
from ocpi.v221.types import OcpiModel
from roam.conformance.exchange import Exchange, decode_json

if TYPE_CHECKING:
    from roam.conformance.edge import MemberEdge


class _Default:
    pass


DEFAULT: Final = _Default()
"""`authorization=DEFAULT`: the token, Base64-encoded (or raw after a fallback)."""


def encode_body(body: Any) -> bytes:
    if isinstance(body, OcpiModel):
        return body.model_dump_json(exclude_none=True).encode()
    return pydantic_core.to_json(body, exclude_none=True)


class MemberClient:
    """Sends requests to the member with one per-request timeout and records each."""

    def __init__(self, http: httpx.AsyncClient, timeout: float) -> None:
        self.http = http
        self.timeout = timeout
        self.exchanges: list[Exchange] = []
        self.raw_tokens = False
        """Whether the token goes as it is (2.1.1) rather than Base64-encoded (2.2.1, 2.3.0)."""
        self.fallback: tuple[Exchange, Exchange] | None = None
        """(refused in the run's dialect, accepted in the other): the member wants the other
        encoding of the token (raw in a 2.2.1 run, Base64 in a 2.1.1 run)."""
        self.edge: MemberEdge | None = None
        """Set when the member speaks another OCPI version: bodies go up, answers come down
        (edge.py); the exchange keeps the bytes as they were on the wire."""

    def authorization(self, token: str) -> str:
        return f"Token {token}" if self.raw_tokens else encode_authorization(token)

    async def call(
        self,
        method: str,
        url: str,
        *,
        token: str | None,
        body: Any = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        routing: RoutingHeaders | None = None,
        authorization: str | _Default | None = DEFAULT,
        probe: bool = False,
        as_sent: bool = False,
    ) -> Exchange:
        """One request. `routing=None` sends no routing headers (configuration modules);
        `authorization` overrides the header (None: leave it out)."""
        headers = {X_REQUEST_ID: new_request_id(), X_CORRELATION_ID: new_request_id()}
        if isinstance(authorization, _Default):
            if token is not None:
                headers[AUTHORIZATION] = self.authorization(token)
        elif authorization is not None:
            headers[AUTHORIZATION] = authorization
        if routing is not None:
            headers.update(routing.to_headers())
        if body is not None and content is None:
            content = encode_body(body)
        if content is not None:
            headers["Content-Type"] = "application/json"
            if self.edge is not None and not as_sent:
                content = self.edge.request_up(method, url, content)
        if params:
            url = str(httpx.URL(url).copy_merge_params(dict(params)))
        exchange = await self._send(method, url, headers, content, routing, probe)
        if (
            exchange.status == 401
            and token is not None
            and isinstance(authorization, _Default)
            and self.fallback is None
            and not probe
        ):
            # Spec transport_and_format "Authorization header" (d2 note): 2.1.1/2.2 servers
            # expect the raw token (and a 2.1.1 member may wrongly expect Base64). Try the
            # other encoding once; if it works, the member is told (one check) and the rest
            # of the run speaks its dialect.
            other = encode_authorization(token) if self.raw_tokens else f"Token {token}"
            headers = {**headers, AUTHORIZATION: other}
            retry = await self._send(method, url, headers, content, routing, probe)
            if retry.status is not None and retry.status != 401:
                self.raw_tokens = not self.raw_tokens
                self.fallback = (exchange, retry)
                return retry
        return exchange

    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        routing: RoutingHeaders | None,
        probe: bool,
    ) -> Exchange:
        exchange = Exchange(
            method=method,
            url=url,
            request_headers=dict(headers),
            request_body=content.decode("utf-8", "replace") if content is not None else None,
            routing=routing,
            probe=probe,
        )
        self.exchanges.append(exchange)
        began = time.monotonic()
        try:
            # The bound is the whole exchange (httpx's own timeouts are per read, and an
            # in-process transport has none), so a member dripping bytes cannot stall a check.
            response = await asyncio.wait_for(
                self.http.request(
                    method, url, headers=headers, content=content, timeout=self.timeout
                ),
                self.timeout,
            )
        except (httpx.TimeoutException, TimeoutError):
            exchange.error = f"no answer within {self.timeout:g} s (timeout)"
        except httpx.HTTPError as exc:
            exchange.error = f"no answer: {type(exc).__name__}: {exc}"
        else:
            exchange.status = response.status_code
            exchange.response_headers = {k.lower(): v for k, v in response.headers.items()}
            exchange.response_body = response.content
            exchange.payload, exchange.is_json = decode_json(response.content)
            if self.edge is not None:
                exchange.payload = self.edge.answer_down(method, url, exchange.payload, exchange)
        exchange.elapsed = time.monotonic() - began
        return exchange


def describe_json(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "…"
