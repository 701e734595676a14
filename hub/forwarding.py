"""Forwarding: the only place the hub sends a routed message over the network.

It maps what can go wrong on the way to the hub's own status codes: no answer in time -> 4002,
no connection (refused, unknown host) or the receiver refusing the hub's token -> 4003 (and
only these mark the receiver OFFLINE: `ReceiverUnreachable`), an answer that cannot be used —
not an OCPI envelope (not JSON, no status_code, an HTTP 5xx), malformed HTTP (an oversized or
invalid header), the connection dropped after the request went out — -> 4000 for that message
alone: the receiver is reachable and may well have done what was asked.

Two engines behind one interface: the hub's own HTTP/1.1 client for production (hub/http1.py:
about a quarter of the CPU of aiohttp's client, which the perf baseline in ../shared/perf
measured at ~0.11 ms per forwarded request against ~1.2 ms for httpx's own transport), and
an httpx.AsyncClient for tests, which can then wire the hub to in-process members through
ASGITransport.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from hub.http1 import BadAnswer, Http1Client, NoCompleteAnswer, Unreachable
from ocpi.client import CLIENT_KEEPALIVE_S
from ocpi.errors import ConnectionProblem, ForwardTimeout, HubError, OcpiError
from ocpi.wire_json import read_json


class ReceiverUnreachable(ConnectionProblem):
    """4003 for a receiver the hub cannot reach at all: the one failure that makes it OFFLINE."""


# Response headers a hub relays from the receiver (the rest are hop-by-hop or regenerated).
RELAYED_HEADERS = (
    "content-type",
    "ocpi-to-country-code",
    "ocpi-to-party-id",
    "ocpi-from-country-code",
    "ocpi-from-party-id",
    "x-total-count",
    "x-limit",
    "link",
    "location",
)


@dataclass
class Answer:
    """The receiver's answer, checked to be an OCPI envelope."""

    http_status: int
    headers: dict[str, str]
    body: bytes
    envelope: dict[str, Any]
    latency_ms: float

    @property
    def ocpi_status(self) -> int:
        status: int = self.envelope["status_code"]
        return status


class Engine(Protocol):
    async def __call__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout_s: float,
    ) -> tuple[int, dict[str, str], bytes]: ...

    async def aclose(self) -> None: ...


KEEPALIVE_S = CLIENT_KEEPALIVE_S
"""Seconds an idle connection to a member is kept for reuse (below common server defaults:
uvicorn 5 s, nginx 75 s, Node.js 5 s); the same window as the members' own httpx clients."""


class Http1Engine:
    """The hub's own keep-alive HTTP/1.1 client (hub/http1.py), with its failures mapped to
    the hub's statuses as the module docstring says."""

    def __init__(self) -> None:
        self._client = Http1Client(KEEPALIVE_S)

    async def __call__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout_s: float,
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            status, received, content = await self._client.request(
                method, url, dict(headers), body, timeout_s
            )
        except TimeoutError as exc:
            raise ForwardTimeout(f"{url} did not answer within {timeout_s:g} s") from exc
        except Unreachable as exc:
            raise ReceiverUnreachable(f"{url} could not be reached: {exc}") from exc
        except BadAnswer as exc:
            raise HubError(
                f"the receiver's answer from {url} is not usable HTTP: {_short(str(exc))}"
            ) from exc
        except NoCompleteAnswer as exc:
            raise HubError(
                f"the receiver at {url} gave no complete answer: {_short(str(exc))}"
            ) from exc
        relayed = {name: received[name] for name in RELAYED_HEADERS if name in received}
        return status, relayed, content

    async def aclose(self) -> None:
        await self._client.aclose()


class HttpxEngine:
    """An injected httpx.AsyncClient (tests: ASGITransport to in-process members)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout_s: float,
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            async with asyncio.timeout(timeout_s):
                response = await self.client.request(
                    method, url, headers=dict(headers), content=body, timeout=timeout_s
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ForwardTimeout(f"{url} did not answer within {timeout_s:g} s") from exc
        except httpx.ConnectError as exc:
            raise ReceiverUnreachable(f"{url} could not be reached: {exc}") from exc
        except httpx.TransportError as exc:
            raise HubError(
                f"the receiver at {url} gave no usable answer: {type(exc).__name__} "
                f"{_short(str(exc))}"
            ) from exc
        relayed = {
            name: response.headers[name] for name in RELAYED_HEADERS if name in response.headers
        }
        return response.status_code, relayed, response.content

    async def aclose(self) -> None:
        """The client belongs to whoever injected it."""


async def forward(
    engine: Engine,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout_s: float,
) -> Answer:
    """Send one hop and check the answer is an OCPI envelope; OcpiError (4xxx) otherwise."""
    started = time.perf_counter()
    try:
        status, relayed, content = await engine(method, url, headers, body, timeout_s)
    except OcpiError:
        raise
    except Exception as exc:  # an engine bug must cost the caller a 4000, not a crash
        raise HubError(f"forwarding to {url} failed: {type(exc).__name__}") from exc
    latency = (time.perf_counter() - started) * 1000
    envelope = _envelope(content)
    if status == 401 or status == 403:
        raise ReceiverUnreachable(
            f"the receiver refused the hub's credentials (HTTP {status}) at {url}"
        )
    if envelope is None:
        raise HubError(f"the receiver answered HTTP {status} without an OCPI envelope")
    if status >= 500:
        message = envelope.get("status_message") or ""
        raise HubError(
            f"the receiver failed with HTTP {status}, status {envelope['status_code']}"
            + (f": {message}" if message else "")
        )
    return Answer(status, relayed, content, envelope, latency)


def _short(text: str, limit: int = 200) -> str:
    """An error text from the receiver's answer, bounded and printable, for the log."""
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= limit else text[:limit] + "..."


def _envelope(content: bytes) -> dict[str, Any] | None:
    try:
        # Strict: an answer with NaN or a lone surrogate would reach the requester as non-JSON.
        parsed = read_json(content, max_depth=None)
    except ValueError:
        return None
    if (
        not isinstance(parsed, dict)
        or not isinstance(parsed.get("status_code"), int)
        or isinstance(parsed.get("status_code"), bool)
        or "timestamp" not in parsed
    ):
        return None
    return parsed
