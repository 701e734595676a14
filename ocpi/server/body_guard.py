"""ASGI middleware: every request body is read once, strictly, before any endpoint sees it.

Bodies of POST, PUT and PATCH are read through `ocpi.wire_json.read_json`: too large (HTTP
413), not JSON (HTTP 400, 2000), or JSON that cannot be stored or re-emitted — NaN, Infinity,
lone surrogates, nesting deeper than the limit (HTTP 400, 2001) — is answered here with an
envelope naming the problem. What passes is left in the scope as `state["ocpi_body"] = (raw,
parsed)` and replayed to the app, so an endpoint that wants the parsed value does not parse
again (the hub's relay reads it from there).

Paths listed in `defer` get no answer from the guard: the refusal (an `OcpiError`) is left in
`state["ocpi_body"]` for the endpoint to raise, so that it is logged like any other refusal.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpi.envelope import encode_envelope
from ocpi.errors import BadRequest, InvalidParameters, OcpiError
from ocpi.wire_json import MAX_BODY_BYTES, JsonRefused, read_json

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
STATE_KEY = "ocpi_body"


class BodyTooLarge(InvalidParameters):
    """HTTP 413: the body is larger than the service accepts."""

    default_http_status = 413


def refusal(exc: ValueError) -> OcpiError:
    """The OCPI answer to a body `read_json` refused."""
    if isinstance(exc, JsonRefused):
        return InvalidParameters(f"the request body was refused: {exc}", http_status=400)
    return BadRequest(str(exc))


class JsonBodyGuard:
    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, defer: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.defer = defer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        outcome: tuple[bytes, Any] | OcpiError
        raw = await self._read(scope, receive)
        if isinstance(raw, OcpiError):
            outcome = raw
            raw = b""
        elif not raw:
            outcome = (raw, None)
        else:
            try:
                outcome = (raw, read_json(raw))
            except ValueError as exc:
                outcome = refusal(exc)
        if isinstance(outcome, OcpiError) and not scope["path"].startswith(self.defer):
            await _answer(send, outcome)
            return
        state[STATE_KEY] = outcome
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes | OcpiError:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return BadRequest("the Content-Length header is not a number")
                if declared > self.max_bytes:
                    return _too_large(self.max_bytes)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app sees an empty body
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return _too_large(self.max_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _too_large(limit: int) -> OcpiError:
    return BodyTooLarge(f"the request body is larger than {limit} bytes, the most accepted")


async def _answer(send: Send, error: OcpiError) -> None:
    body = encode_envelope(status_code=error.status_code, status_message=error.message)
    await send(
        {
            "type": "http.response.start",
            "status": error.http_status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
