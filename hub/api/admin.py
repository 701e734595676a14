"""The operator's admin API (not OCPI): invitations, hub-initiated connections, the party
directory, message tracing, settlement and the settings a running hub may change.
Authenticated with `Authorization: Bearer <admin token>`; answers use the OCPI envelope so that
one client reads everything."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, ValidationError

from hub import registration
from hub.messages import LoggedMessage, MessageFilter
from hub.service import Hub
from hub.settings import LIVE_SETTINGS
from ocpi.errors import InvalidParameters, NotFound, Unauthorized
from ocpi.headers import PartyRef
from ocpi.server import JsonBody, ocpi_response
from ocpi.server.errors import describe_errors
from ocpi.server.responses import OcpiResponse
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
        invitation = await hub.invite(parties, body.note)
        return ocpi_response(invitation.to_json(), http_status=201)

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
                    "platform_id": platform.id if platform else None,
                    "version": platform.version if platform else None,
                }
            )
        return ocpi_response(rows)

    @router.get("/deliveries")
    async def deliveries(_: Admin) -> OcpiResponse:
        """Broadcasts accepted and not yet delivered, per receiver platform (the outbox)."""
        return ocpi_response(await hub.deliveries())

    @router.post("/drain")
    async def drain(_: Admin) -> OcpiResponse:
        """Wait until this instance has delivered what its lanes hold to every receiver that
        is not OFFLINE and has written its log (what `roam demo` waits on between steps)."""
        await hub.drain()
        return ocpi_response(await hub.deliveries())

    @router.get("/stats")
    async def stats(_: Admin) -> OcpiResponse:
        """Counters of this instance: `hops_sent` (messages sent on to members)."""
        return ocpi_response({"instance": hub.store.instance, "hops_sent": hub.hops_sent})

    @router.get("/messages")
    async def messages(
        _: Admin,
        correlation_id: str | None = None,
        party: str | None = None,
        module: str | None = None,
        since: str | None = None,
        until: str | None = None,
        after_id: int | None = None,
        session: str | None = None,
        bodies: bool = False,
        limit: int = 1000,
    ) -> OcpiResponse:
        if session is not None and not 1 <= len(session) <= 36:
            raise InvalidParameters(
                "session: a session id or an authorization_reference, 1 to 36 characters",
                http_status=400,
            )
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
            after_id=after_id,
            session=session,
            limit=max(1, min(limit, 10_000)),
        )
        lines = await hub.messages(where, bodies=bodies)
        return ocpi_response([message_json(row) for row in lines])

    @router.get("/tariffs/{country_code}/{party_id}/{tariff_id}")
    async def tariff(_: Admin, country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        """One tariff as the hub last received it (its copy), e.g. for a tariff in words."""
        try:
            owner = PartyRef(country_code.upper(), party_id.upper())
        except ValueError as exc:
            raise InvalidParameters(f"party: {exc}", http_status=400) from None
        found = hub.copies.get(ModuleID.TARIFFS, owner, tariff_id)
        if found is None or found.receiver is not None:
            raise NotFound(f"the hub holds no tariff {owner}/{tariff_id}")
        return ocpi_response(found.body)

    @router.get("/settlement")
    async def settlement(
        _: Admin, since: str | None = None, until: str | None = None
    ) -> OcpiResponse:
        lines = hub.settlement(_time(since, "since"), _time(until, "until"))
        return ocpi_response([line.to_json() for line in lines])

    @router.get("/settings")
    async def settings(_: Admin) -> OcpiResponse:
        """Who this hub is and the settings a running hub may change (`LIVE_SETTINGS`)."""
        return ocpi_response(settings_json(hub))

    @router.patch("/settings")
    async def reconfigure(_: Admin, body: JsonBody) -> OcpiResponse:
        """Change live settings of this instance (`Hub.reconfigure`): a JSON object of the
        settings to change. Unknown settings, settings fixed when the hub is built and bad
        values are refused (HTTP 400, 2001), naming them; nothing changes then."""
        if not isinstance(body, dict) or not body:
            raise InvalidParameters(
                "give the settings to change as a JSON object, e.g. "
                f'{{"forward_timeout": 1.5}} (live: {", ".join(sorted(LIVE_SETTINGS))})',
                http_status=400,
            )
        try:
            hub.reconfigure(**body)
        except ValidationError as exc:
            raise InvalidParameters(describe_errors(exc.errors()), http_status=400) from None
        except ValueError as exc:
            raise InvalidParameters(str(exc), http_status=400) from None
        return ocpi_response(settings_json(hub))

    return router


def settings_json(hub: Hub) -> dict[str, Any]:
    settings = hub.settings
    return {
        "country_code": settings.country_code,
        "party_id": settings.party_id,
        "name": settings.name,
        **{name: getattr(settings, name) for name in sorted(LIVE_SETTINGS)},
    }


def message_json(row: LoggedMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "timestamp": format_datetime(row.timestamp),
        "correlation_id": row.correlation_id,
        "request_id": row.request_id,
        "parent_request_id": row.parent_request_id,
        "hop": row.hop,
        "from": row.from_party,
        "to": row.to_party,
        "platform_id": row.platform_id,
        "module": row.module,
        "method": row.method,
        "path": row.path,
        "ocpi_status": row.ocpi_status,
        "http_status": row.http_status,
        "latency_ms": row.latency_ms,
        "note": row.note,
        **({"session_id": row.session_id} if row.session_id else {}),
        **(
            {"authorization_reference": row.authorization_reference}
            if row.authorization_reference
            else {}
        ),
        **({"request_body": row.request_body} if row.request_body is not None else {}),
        **({"response_body": row.response_body} if row.response_body is not None else {}),
    }
