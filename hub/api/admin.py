"""The operator's admin API (not OCPI): invitations, hub-initiated connections, the party
directory, message tracing and settlement. Authenticated with `Authorization: Bearer <admin
token>`; answers use the OCPI envelope so that one client reads everything."""

import asyncio
import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from hub import registration
from hub.directory import Party, hash_token
from hub.service import Hub
from hub.settings import HubSettings
from hub.settlement import settle
from hub.store import MessageFilter, Store, utcnow
from ocpi.errors import InvalidParameters, Unauthorized
from ocpi.headers import PartyRef
from ocpi.server import ocpi_response
from ocpi.server.responses import OcpiResponse
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import Role, format_datetime, parse_datetime
from ocpi.v221.versions import ModuleID


class InvitedParty(BaseModel):
    role: Role
    country_code: str = Field(min_length=2, max_length=2)
    party_id: str = Field(min_length=3, max_length=3)


class InvitationRequest(BaseModel):
    parties: list[InvitedParty] = []
    note: str = Field(default="", max_length=255)


class ConnectRequest(BaseModel):
    versions_url: str = Field(max_length=255)
    token: str = Field(min_length=1, max_length=64)


def create_invitation(
    store: Store, settings: HubSettings, parties: list[tuple[Role, PartyRef]], note: str = ""
) -> dict[str, Any]:
    """Make a one-time token A (stored hashed). Shared by the admin API and `roam hub invite`."""
    token = secrets.token_urlsafe(24)
    store.add_invitation(hash_token(token), parties, note)
    return {
        "token": token,
        "versions_url": settings.versions_url,
        "parties": [f"{role.value} {ref}" for role, ref in parties],
    }


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise InvalidParameters(f"{name}: {exc}") from None


def admin_router(hub: Hub) -> APIRouter:
    router = APIRouter(prefix="/admin")

    async def admin(request: Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hub.is_admin(token.strip()):
            raise Unauthorized("the admin API needs 'Authorization: Bearer <admin token>'")

    Admin = Annotated[None, Depends(admin)]  # noqa: N806 - a type alias

    @router.post("/invitations")
    async def invite(_: Admin, body: InvitationRequest) -> OcpiResponse:
        try:
            parties = [(p.role, PartyRef(p.country_code, p.party_id)) for p in body.parties]
        except ValueError as exc:
            raise InvalidParameters(str(exc)) from None
        result = await asyncio.to_thread(
            create_invitation, hub.store, hub.settings, parties, body.note
        )
        for role, ref in parties:
            if (role, ref) not in hub.directory.parties:
                hub.directory.add_party(Party(role, ref, ConnectionStatus.PLANNED, utcnow()))
        return ocpi_response(result, http_status=201)

    @router.post("/connect")
    async def connect(_: Admin, body: ConnectRequest) -> OcpiResponse:
        platform = await registration.connect(hub, body.versions_url, body.token)
        return ocpi_response(
            {"platform": platform.name, "parties": [p.label() for p in platform.parties]}
        )

    @router.get("/parties")
    async def parties(_: Admin) -> OcpiResponse:
        rows = []
        for party in sorted(hub.directory.all_parties(), key=lambda p: (str(p.ref), p.role)):
            platform = hub.directory.platform_of(party)
            rows.append(
                {
                    "role": party.role.value,
                    "country_code": party.ref.country_code,
                    "party_id": party.ref.party_id,
                    "status": party.status.value,
                    "last_updated": format_datetime(party.last_updated),
                    "platform": platform.name if platform else None,
                }
            )
        return ocpi_response(rows)

    @router.get("/messages")
    async def messages(
        _: Admin,
        correlation_id: str | None = None,
        party: str | None = None,
        module: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 1000,
    ) -> OcpiResponse:
        try:
            party_ref = PartyRef.parse(party) if party else None
        except ValueError as exc:
            raise InvalidParameters(f"party: {exc}") from None
        if module and module not in {m.value for m in ModuleID} | {"pages", "versions"}:
            raise InvalidParameters(f"module: {module!r} is not an OCPI module")
        where = MessageFilter(
            correlation_id=correlation_id,
            party=party_ref,
            module=module,
            since=_time(since, "since"),
            until=_time(until, "until"),
            limit=max(1, min(limit, 10_000)),
        )
        await hub.writer.flush()
        rows = await asyncio.to_thread(hub.store.messages, where)
        return ocpi_response([message_json(row) for row in rows])

    @router.get("/settlement")
    async def settlement(
        _: Admin, since: str | None = None, until: str | None = None
    ) -> OcpiResponse:
        lines = settle(
            hub.copies.listing(ModuleID.CDRS), _time(since, "since"), _time(until, "until")
        )
        return ocpi_response([line.to_json() for line in lines])

    return router


def message_json(row: Any) -> dict[str, Any]:
    return {
        "timestamp": format_datetime(row.timestamp),
        "correlation_id": row.correlation_id,
        "request_id": row.request_id,
        "parent_request_id": row.parent_request_id,
        "hop": row.hop,
        "from": row.from_party,
        "to": row.to_party,
        "module": row.module,
        "method": row.method,
        "path": row.path,
        "ocpi_status": row.ocpi_status,
        "http_status": row.http_status,
        "latency_ms": row.latency_ms,
        "note": row.note,
    }
