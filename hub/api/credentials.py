"""Credentials module endpoints (spec credentials): thin wrappers over hub.registration, one
set per version the hub speaks (/ocpi/{version}/credentials). The body is read in the shape of
the endpoint's version; the version of the endpoint a member registers at is the one it speaks
with the hub."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from hub import registration
from hub.directory import Platform
from hub.service import Hub, Principal
from hub.translation import VERSIONS
from ocpi.server import JsonBody, TokenAuth, ocpi_response
from ocpi.server.responses import OcpiResponse


def credentials_router(hub: Hub, auth: TokenAuth[Principal]) -> APIRouter:
    router = APIRouter()
    for version in VERSIONS:
        _version_routes(router, hub, auth, version)
    return router


def _version_routes(router: APIRouter, hub: Hub, auth: TokenAuth[Principal], version: str) -> None:
    Caller = Annotated[Principal, Depends(auth)]  # noqa: N806 - a type alias
    url = f"/ocpi/{version}/credentials"

    async def get_credentials(caller: Caller, request: Request) -> OcpiResponse:
        # The credentials to access the hub: the token this caller already uses.
        platform_id = caller.id if isinstance(caller, Platform) else None
        return ocpi_response(
            registration.credentials_for(hub, request.state.ocpi_token, version, platform_id)
        )

    async def post_credentials(caller: Caller, body: JsonBody) -> OcpiResponse:
        invitee = registration.ensure_invitee(caller, "POST")
        credentials = registration.read_credentials(body, version, invitee.allowed)
        return ocpi_response(await registration.register(hub, invitee, credentials, version))

    async def put_credentials(caller: Caller, body: JsonBody) -> OcpiResponse:
        platform = registration.ensure_platform(caller, "PUT")
        known = [(party.role, party.ref) for party in platform.parties]
        credentials = registration.read_credentials(body, version, known)
        return ocpi_response(await registration.update(hub, platform, credentials, version))

    async def delete_credentials(caller: Caller) -> OcpiResponse:
        platform = registration.ensure_platform(caller, "DELETE")
        await registration.unregister(hub, platform)
        return ocpi_response()

    endpoints: dict[str, Callable[..., object]] = {
        "GET": get_credentials,
        "POST": post_credentials,
        "PUT": put_credentials,
        "DELETE": delete_credentials,
    }
    for method, endpoint in endpoints.items():
        router.add_api_route(url, endpoint, methods=[method])
