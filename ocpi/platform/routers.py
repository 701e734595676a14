"""Versions, 2.2.1 version details and credentials endpoints of a member platform.

`version_endpoints(base_url, interfaces)` turns the platform's (module, interface role, path)
list into the Endpoint objects its details publish; `versions_router` serves versions and
details, `credentials_router` the credentials module over a Registration (spec
version_information_endpoint and credentials). Configuration modules: no routing headers.

No `from __future__ import annotations`: FastAPI resolves the local Annotated aliases.
"""

from collections.abc import Sequence
from typing import Annotated, NamedTuple
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends

from ocpi.platform.registration import Principal, Registration
from ocpi.server import TokenAuth, ocpi_response
from ocpi.server.responses import OcpiResponse
from ocpi.v221.credentials import Credentials
from ocpi.v221.versions import (
    Endpoint,
    InterfaceRole,
    ModuleID,
    Version,
    VersionDetails,
    VersionNumber,
)


class ModuleInterface(NamedTuple):
    """One interface a platform implements: its module, its role and its path."""

    module: ModuleID
    role: InterfaceRole
    path: str
    """Path below the platform's base URL, e.g. "/ocpi/cpo/2.2.1/locations"."""


def version_endpoints(base_url: str, interfaces: Sequence[ModuleInterface]) -> list[Endpoint]:
    """The Endpoint list of the 2.2.1 details (spec: `role` is why locations may appear twice)."""
    base = base_url.rstrip("/")
    return [
        Endpoint(identifier=item.module, role=item.role, url=base + item.path)
        for item in interfaces
    ]


def versions_router(
    base_url: str,
    interfaces: Sequence[ModuleInterface],
    auth: TokenAuth[Principal],
    *,
    versions_path: str = "/ocpi/versions",
    details_path: str = "/ocpi/2.2.1",
) -> APIRouter:
    """GET versions (only 2.2.1) and GET 2.2.1 details, for the peer and for token A."""
    router = APIRouter()
    Caller = Annotated[Principal, Depends(auth)]  # noqa: N806 - a type alias
    base = base_url.rstrip("/")
    prefix = urlsplit(base).path
    versions = [Version(version=VersionNumber.V2_2_1, url=base + details_path)]
    details = VersionDetails(
        version=VersionNumber.V2_2_1, endpoints=version_endpoints(base, interfaces)
    )

    @router.get(prefix + versions_path)
    async def get_versions(caller: Caller) -> OcpiResponse:
        return ocpi_response(versions)

    @router.get(prefix + details_path)
    async def get_details(caller: Caller) -> OcpiResponse:
        return ocpi_response(details)

    return router


def credentials_router(
    path: str, registration: Registration, auth: TokenAuth[Principal]
) -> APIRouter:
    """GET/POST/PUT/DELETE credentials, for a peer that starts or updates the handshake."""
    router = APIRouter()
    Caller = Annotated[Principal, Depends(auth)]  # noqa: N806 - a type alias

    @router.get(path)
    async def get_credentials(caller: Caller) -> OcpiResponse:
        return ocpi_response(registration.current(caller))

    @router.post(path)
    async def post_credentials(caller: Caller, theirs: Credentials) -> OcpiResponse:
        return ocpi_response(await registration.accept(theirs, caller, "POST"))

    @router.put(path)
    async def put_credentials(caller: Caller, theirs: Credentials) -> OcpiResponse:
        return ocpi_response(await registration.accept(theirs, caller, "PUT"))

    @router.delete(path)
    async def delete_credentials(caller: Caller) -> OcpiResponse:
        await registration.forget(caller)
        return ocpi_response()

    return router
