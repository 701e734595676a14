"""ASGI middleware: echo X-Request-ID / X-Correlation-ID and turn crashes into 3000 envelopes.

Written as plain ASGI (not BaseHTTPMiddleware) because it runs on every message the hub
forwards: it adds two headers to the response start and nothing else.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpi.envelope import encode_envelope
from ocpi.headers import new_request_id
from ocpi.status import OcpiStatus

log = logging.getLogger("ocpi.server")

_REQUEST_ID = b"x-request-id"
_CORRELATION_ID = b"x-correlation-id"


class OcpiHeadersMiddleware:
    """Every response carries the request's X-Request-ID and X-Correlation-ID.

    A request without them gets freshly generated ids (and the response says which), so a
    log line can always be tied to a message.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = correlation_id = b""
        for name, value in scope["headers"]:
            if name == _REQUEST_ID:
                request_id = value
            elif name == _CORRELATION_ID:
                correlation_id = value
        if not request_id:
            request_id = new_request_id().encode()
        if not correlation_id:
            correlation_id = request_id
        scope.setdefault("state", {})["ocpi_ids"] = (request_id.decode(), correlation_id.decode())
        started = False

        async def send_with_ids(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (_REQUEST_ID, _CORRELATION_ID)
                ]
                headers += [(_REQUEST_ID, request_id), (_CORRELATION_ID, correlation_id)]
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            body = encode_envelope(
                status_code=OcpiStatus.SERVER_ERROR,
                status_message=(
                    f"internal error while handling {scope.get('method')} {scope.get('path')}"
                ),
            )
            await send_with_ids(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_ids({"type": "http.response.body", "body": body})
