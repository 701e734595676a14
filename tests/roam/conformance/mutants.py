"""Tools to break one rule of a mock member: an ASGI middleware that rewrites its answers (or
refuses requests), and an httpx transport that rewrites what it sends."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpi.envelope import encode_envelope


@dataclass
class Answer:
    """A response being rewritten: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes
    path: str
    method: str
    query: str = ""

    def json(self) -> Any:
        return json.loads(self.body)

    def set_json(self, payload: Any) -> None:
        self.body = json.dumps(payload).encode()


@dataclass
class Rewrite:
    """ASGI middleware in front of a member: `refuse(scope)` answers HTTP 401 instead of the
    app; `request(scope)` changes the request; `answer(Answer)` changes the response."""

    app: ASGIApp
    answer: Callable[[Answer], None] | None = None
    request: Callable[[Scope], None] | None = None
    refuse: Callable[[Scope], bool] | None = None
    seen: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        if self.refuse is not None and self.refuse(scope):
            body = encode_envelope(status_code=2000, status_message="unauthorized")
            ids = [(k, v) for k, v in scope["headers"] if k.lower().startswith(b"x-")]
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json"), *ids],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if self.request is not None:
            self.request(scope)
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            answer = Answer(
                status=start["status"],
                headers={k.decode().lower(): v.decode() for k, v in start.get("headers", [])},
                body=b"".join(chunks),
                path=scope["path"],
                method=scope["method"],
                query=scope.get("query_string", b"").decode(),
            )
            if self.answer is not None:
                self.answer(answer)
            answer.headers["content-length"] = str(len(answer.body))
            headers = [(k.encode(), v.encode()) for k, v in answer.headers.items()]
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": answer.body})

        await self.app(scope, receive, capture)


def rewrite(
    answer: Callable[[Answer], None] | None = None,
    *,
    request: Callable[[Scope], None] | None = None,
    refuse: Callable[[Scope], bool] | None = None,
) -> Callable[[ASGIApp], ASGIApp]:
    def wrap(app: ASGIApp) -> ASGIApp:
        return Rewrite(app, answer, request, refuse)

    return wrap


def header_of(scope: Scope, name: str) -> str | None:
    for key, value in scope["headers"]:
        if key.decode().lower() == name.lower():
            return str(value.decode())
    return None


def set_header(scope: Scope, name: str, value: str) -> None:
    kept = [(k, v) for k, v in scope["headers"] if k.decode().lower() != name.lower()]
    scope["headers"] = [*kept, (name.lower().encode(), value.encode())]


class Outbound(httpx.AsyncBaseTransport):
    """Rewrites each request a member sends: `change(request) -> request`."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, change: Callable[[httpx.Request], httpx.Request]
    ) -> None:
        self.inner = inner
        self.change = change

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(self.change(request))


def outbound(
    change: Callable[[httpx.Request], httpx.Request],
) -> Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]:
    return lambda inner: Outbound(inner, change)


def rebuilt(request: httpx.Request, headers: dict[str, str], body: bytes) -> httpx.Request:
    kept = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    return httpx.Request(request.method, request.url, headers=kept, content=body)


OFFSET_TIME = re.compile(rb'(\d{2}:\d{2}:\d{2}(?:\.\d+)?)Z"')
