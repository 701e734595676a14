"""The double's recording middleware: every request (body included) goes to
`member.received`, and answers of functional modules get reversed routing headers."""

import json
from collections.abc import Mapping
from urllib.parse import parse_qsl

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpi.headers import (
    OCPI_FROM_COUNTRY_CODE,
    OCPI_FROM_PARTY_ID,
    OCPI_TO_COUNTRY_CODE,
    OCPI_TO_PARTY_ID,
    ROUTING_HEADERS,
    RoutingHeaders,
)
from ocpi.v221 import ModuleID
from tests.doubles.member.records import RecordedRequest
from tests.doubles.member.state import MemberState


class RecordingMiddleware:
    """Record every request (body included) and put reversed routing headers on the answers
    of functional modules: TO = the requester (its OCPI-from), FROM = this party."""

    def __init__(self, app: ASGIApp, member: MemberState) -> None:
        self.app = app
        self.member = member
        self.functional_prefix = member.module_path(ModuleID.LOCATIONS).rsplit("/", 1)[0] + "/"
        self.hubclientinfo = member.module_path(ModuleID.HUBCLIENTINFO)
        self.control = f"{member.base_path}/_control"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.control):
            await self.app(scope, receive, send)
            return
        raw = await _read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            query=dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)),
            body=body,
            raw_body=raw,
        )
        self.member.received.append(record)
        extra = self._routing_answer(scope["path"], headers)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        async def send_with_routing(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.http_status = message["status"]
                if extra:
                    names = {name.lower().encode() for name in ROUTING_HEADERS}
                    kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                    message["headers"] = kept + extra
            await send(message)

        await self.app(scope, replay, send_with_routing)

    def _routing_answer(self, path: str, headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
        # Routing headers belong to functional modules only (never hubclientinfo/credentials).
        if not path.startswith(self.functional_prefix) or path.startswith(self.hubclientinfo):
            return []
        out: list[tuple[bytes, bytes]] = []
        try:
            requester = RoutingHeaders.parse(httpx.Headers(headers)).from_
        except ValueError:
            requester = None
        if requester is not None:
            out += [
                (OCPI_TO_COUNTRY_CODE.encode(), requester.country_code.encode()),
                (OCPI_TO_PARTY_ID.encode(), requester.party_id.encode()),
            ]
        out += [
            (OCPI_FROM_COUNTRY_CODE.encode(), self.member.party.country_code.encode()),
            (OCPI_FROM_PARTY_ID.encode(), self.member.party.party_id.encode()),
        ]
        return out


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (it is replayed to the app afterwards)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
