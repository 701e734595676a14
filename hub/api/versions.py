"""Versions and version details (spec version_information_endpoint), one per version the hub
speaks (hub/translation.py `VERSIONS`: 2.1.1, 2.2.1 (the pivot) and 2.3.0).

The hub implements both interfaces of every functional module, at distinct URLs
(/ocpi/{version}/sender/{module} and /ocpi/{version}/receiver/{module}): a receiver URL
`{cc}/{pid}/{id}` and a sender URL `{id}/{evse}/{connector}` could not be told apart otherwise.
A version's details offer the same modules at that version's URLs. 2.1.1's endpoints have no
role: its details offer one URL per 2.1.1 module, /ocpi/2.1.1/{module}, and the caller's role
tells the interface (docs/hub.md "Members on OCPI 2.1.1").
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends

from hub.routing import FUNCTIONAL_MODULES
from hub.service import Hub, Principal
from hub.translation import V211, V211_MODULES, VERSIONS
from ocpi import v211
from ocpi.server import TokenAuth, ocpi_response
from ocpi.server.responses import OcpiResponse
from ocpi.v221.versions import Endpoint, InterfaceRole, ModuleID
from ocpi.v230.versions import Version, VersionDetails, VersionNumber


def hub_endpoints(hub: Hub, version: str = "2.2.1") -> list[Endpoint]:
    base = hub.settings.details_url_of(version)
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


def v211_details(hub: Hub) -> v211.VersionDetails:
    """2.1.1's details: credentials and the six 2.1.1 modules, one URL each, no role."""
    base = hub.settings.details_url_of(V211.version)
    modules = (v211.ModuleID.CREDENTIALS, *(v211.ModuleID(m.value) for m in V211_MODULES))
    return v211.VersionDetails(
        version=v211.VersionNumber.V2_1_1,
        endpoints=[v211.Endpoint(identifier=m, url=f"{base}/{m.value}") for m in modules],
    )


def versions_router(hub: Hub, auth: TokenAuth[Principal]) -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Principal, Depends(auth)]  # noqa: N806 - a type alias
    versions = [
        Version(version=VersionNumber(number), url=hub.settings.details_url_of(number))
        for number in VERSIONS
    ]

    @router.get("/ocpi/versions")
    async def get_versions(caller: Caller) -> OcpiResponse:
        return ocpi_response(versions)

    def details_endpoint(number: str) -> Callable[[Principal], Awaitable[OcpiResponse]]:
        details: VersionDetails | v211.VersionDetails = VersionDetails(
            version=VersionNumber(number), endpoints=hub_endpoints(hub, number)
        )
        if number == V211.version:
            details = v211_details(hub)

        async def get_details(caller: Caller) -> OcpiResponse:
            return ocpi_response(details)

        return get_details

    for number in VERSIONS:
        router.add_api_route(f"/ocpi/{number}", details_endpoint(number), methods=["GET"])

    return router
