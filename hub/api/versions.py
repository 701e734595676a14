"""Versions endpoint (spec version_information_endpoint): which OCPI versions the hub speaks."""

from typing import Annotated

from fastapi import APIRouter, Depends

from hub.settings import HubSettings
from ocpi.server import TokenAuth, ocpi_response
from ocpi.server.responses import OcpiResponse
from ocpi.v221.versions import Version, VersionNumber


def versions_router(settings: HubSettings, auth: TokenAuth[str]) -> APIRouter:
    """GET /ocpi/versions: the hub offers 2.2.1 only."""
    router = APIRouter()
    versions = [Version(version=VersionNumber.V2_2_1, url=f"{settings.public_url}/ocpi/2.2.1")]

    @router.get("/ocpi/versions")
    async def get_versions(caller: Annotated[str, Depends(auth)]) -> OcpiResponse:
        return ocpi_response(versions)

    return router
