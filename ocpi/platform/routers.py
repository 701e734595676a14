"""Versions, version details and credentials endpoints of a member platform.

`version_endpoints(base_url, interfaces)` turns the platform's (module, interface role, path)
list into the Endpoint objects its details publish; `versions_router` serves versions and
details, `credentials_router` the credentials module over a Registration (spec
version_information_endpoint and credentials). Both speak the Registration's version (2.2.1
unless configured otherwise; `ocpi.platform.adapters`). Configuration modules: no routing
headers.

No `from __future__ import annotations`: FastAPI resolves the local Annotated aliases.
"""

from collections.abc import Sequence
from typing import Annotated, NamedTuple
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends
from pydantic import ValidationError

from ocpi.errors import InvalidParameters
from ocpi.platform.adapters import PeerCredentials, V221Adapter, VersionAdapter
from ocpi.platform.registration import Principal, Registration
from ocpi.server import TokenAuth, ocpi_response
from ocpi.server.dependencies import JsonBody
from ocpi.server.errors import describe_errors
from ocpi.server.responses import OcpiResponse
from ocpi.translate.notes import Untranslatable
from ocpi.v221.versions import Endpoint, InterfaceRole, ModuleID


class ModuleInterface(NamedTuple):
    """One interface a platform implements: its module, its role and its path."""

    module: ModuleID
    role: InterfaceRole
    path: str
    """Path below the platform's base URL, e.g. "/ocpi/cpo/2.2.1/locations"."""


def version_endpoints(
    base_url: str, interfaces: Sequence[ModuleInterface], version: VersionAdapter | None = None
) -> list[Endpoint]:
    """The Endpoint list of the details (spec: `role` is why locations may appear twice), at
    the paths of `version` (default 2.2.1: the paths as given)."""
    base = base_url.rstrip("/")
    served = version or V221Adapter()
    return [
        Endpoint(identifier=item.module, role=item.role, url=base + served.served_path(item.path))
        for item in interfaces
    ]


def versions_router(
    base_url: str,
    interfaces: Sequence[ModuleInterface],
    auth: TokenAuth[Principal],
    *,
    versions_path: str = "/ocpi/versions",
    version: VersionAdapter | None = None,
) -> APIRouter:
    """GET versions (only the version spoken) and GET its details at /ocpi/{version}, for the
    peer and for token A."""
    router = APIRouter()
    Caller = Annotated[Principal, Depends(auth)]  # noqa: N806 - a type alias
    spoken = version or V221Adapter()
    base = base_url.rstrip("/")
    prefix = urlsplit(base).path
    details_path = f"/ocpi/{spoken.number}"
    versions = spoken.versions(base + details_path)
    details = spoken.details(version_endpoints(base, interfaces, spoken))

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
    """GET/POST/PUT/DELETE credentials, for a peer that starts or updates the handshake, in
    the Registration's version (a body that is not its Credentials object: 2001)."""
    router = APIRouter()
    Caller = Annotated[Principal, Depends(auth)]  # noqa: N806 - a type alias
    version = registration.version

    def received(body: object) -> PeerCredentials:
        try:
            return version.credentials_in(body)
        except ValidationError as exc:
            raise InvalidParameters(
                f"not a valid OCPI {version.number} Credentials object: "
                f"{describe_errors(exc.errors())}"
            ) from None
        except (ValueError, Untranslatable) as exc:
            raise InvalidParameters(f"credentials cannot be used: {exc}") from None

    @router.get(path)
    async def get_credentials(caller: Caller) -> OcpiResponse:
        return ocpi_response(version.credentials_out(registration.current(caller)))

    @router.post(path)
    async def post_credentials(caller: Caller, body: JsonBody) -> OcpiResponse:
        mine = await registration.accept(received(body), caller, "POST")
        return ocpi_response(version.credentials_out(mine))

    @router.put(path)
    async def put_credentials(caller: Caller, body: JsonBody) -> OcpiResponse:
        mine = await registration.accept(received(body), caller, "PUT")
        return ocpi_response(version.credentials_out(mine))

    @router.delete(path)
    async def delete_credentials(caller: Caller) -> OcpiResponse:
        await registration.forget(caller)
        return ocpi_response()

    return router
