"""Credentials module endpoints (spec credentials): thin wrappers over hub.registration."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from hub import registration
from hub.service import Hub, Principal
from ocpi.server import TokenAuth, ocpi_response
from ocpi.server.responses import OcpiResponse
from ocpi.v221.credentials import Credentials


def credentials_router(hub: Hub, auth: TokenAuth[Principal]) -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Principal, Depends(auth)]  # noqa: N806 - a type alias
    url = "/ocpi/2.2.1/credentials"

    @router.get(url)
    async def get_credentials(caller: Caller, request: Request) -> OcpiResponse:
        # The credentials to access the hub: the token this caller already uses.
        return ocpi_response(registration.hub_credentials(hub, request.state.ocpi_token))

    @router.post(url)
    async def post_credentials(caller: Caller, credentials: Credentials) -> OcpiResponse:
        invitee = registration.ensure_invitee(caller, "POST")
        return ocpi_response(await registration.register(hub, invitee, credentials))

    @router.put(url)
    async def put_credentials(caller: Caller, credentials: Credentials) -> OcpiResponse:
        platform = registration.ensure_platform(caller, "PUT")
        return ocpi_response(await registration.update(hub, platform, credentials))

    @router.delete(url)
    async def delete_credentials(caller: Caller) -> OcpiResponse:
        platform = registration.ensure_platform(caller, "DELETE")
        await registration.unregister(hub, platform)
        return ocpi_response()

    return router
