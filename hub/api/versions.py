"""Versions and 2.2.1 version details (spec version_information_endpoint).

The hub implements both interfaces of every functional module, at distinct URLs
(/ocpi/2.2.1/sender/{module} and /ocpi/2.2.1/receiver/{module}): a receiver URL
`{cc}/{pid}/{id}` and a sender URL `{id}/{evse}/{connector}` could not be told apart otherwise.
"""

from typing import Annotated

from fastapi import APIRouter, Depends

from hub.routing import FUNCTIONAL_MODULES
from hub.service import Hub, Principal
from ocpi.server import TokenAuth, ocpi_response
from ocpi.server.responses import OcpiResponse
from ocpi.v221.versions import (
    Endpoint,
    InterfaceRole,
    ModuleID,
    Version,
    VersionDetails,
    VersionNumber,
)


def hub_endpoints(hub: Hub) -> list[Endpoint]:
    base = hub.settings.details_url
    endpoints = [
        Endpoint(
            identifier=ModuleID.CREDENTIALS, role=InterfaceRole.SENDER, url=f"{base}/credentials"
        ),
        Endpoint(
            identifier=ModuleID.HUBCLIENTINFO,
            role=InterfaceRole.SENDER,
            url=f"{base}/hubclientinfo",
        ),
    ]
    for module in sorted(FUNCTIONAL_MODULES):
        for role in (InterfaceRole.SENDER, InterfaceRole.RECEIVER):
            endpoints.append(
                Endpoint(identifier=module, role=role, url=f"{base}/{role.value.lower()}/{module}")
            )
    return endpoints


def versions_router(hub: Hub, auth: TokenAuth[Principal]) -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Principal, Depends(auth)]  # noqa: N806 - a type alias
    versions = [Version(version=VersionNumber.V2_2_1, url=hub.settings.details_url)]
    details = VersionDetails(version=VersionNumber.V2_2_1, endpoints=hub_endpoints(hub))

    @router.get("/ocpi/versions")
    async def get_versions(caller: Caller) -> OcpiResponse:
        return ocpi_response(versions)

    @router.get("/ocpi/2.2.1")
    async def get_details(caller: Caller) -> OcpiResponse:
        return ocpi_response(details)

    return router
