"""Routing headers on a member's answers (spec transport_and_format "Message Routing").

On functional modules a response carries the request's routing headers reversed: TO = the
requesting party (the request's OCPI-from), FROM = the party that answers. A platform hosting
one party sets FROM to that party; configuration modules (versions, credentials,
hubclientinfo) carry none. Plain ASGI, so it adds two or four headers and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpi.headers import (
    OCPI_FROM_COUNTRY_CODE,
    OCPI_FROM_PARTY_ID,
    OCPI_TO_COUNTRY_CODE,
    OCPI_TO_PARTY_ID,
    ROUTING_HEADERS,
    PartyRef,
)

_NAMES = frozenset(name.lower().encode() for name in ROUTING_HEADERS)
_FROM_CC = OCPI_FROM_COUNTRY_CODE.lower().encode()
_FROM_PID = OCPI_FROM_PARTY_ID.lower().encode()


class RoutingAnswerMiddleware:
    """Answers under `prefixes` (functional module paths) get reversed routing headers."""

    def __init__(self, app: ASGIApp, party: PartyRef, prefixes: Sequence[str]) -> None:
        self.app = app
        self.party = party
        self.prefixes = tuple(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        country = party = b""
        for name, value in scope["headers"]:
            if name == _FROM_CC:
                country = value.strip()
            elif name == _FROM_PID:
                party = value.strip()
        extra: list[tuple[bytes, bytes]] = []
        if country and party:
            extra += [
                (OCPI_TO_COUNTRY_CODE.encode(), country),
                (OCPI_TO_PARTY_ID.encode(), party),
            ]
        extra += [
            (OCPI_FROM_COUNTRY_CODE.encode(), self.party.country_code.encode()),
            (OCPI_FROM_PARTY_ID.encode(), self.party.party_id.encode()),
        ]

        async def send_with_routing(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                message["headers"] = kept + extra
            await send(message)

        await self.app(scope, receive, send_with_routing)
