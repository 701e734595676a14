"""The double's configuration modules (no routing headers): versions, version details,
credentials, and the hubclientinfo RECEIVER."""

from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends

from ocpi.errors import MethodNotAllowed, NotFound
from ocpi.server import TokenAuth, ocpi_response
from ocpi.server.responses import OcpiResponse
from ocpi.server.validation import same_owner
from ocpi.v221 import ClientInfo, Credentials, ModuleID, Version, VersionDetails, VersionNumber
from tests.doubles.member.calls import Handshake
from tests.doubles.member.endpoints import stored
from tests.doubles.member.state import MemberState, Principal


def configuration_router(member: Handshake, auth: TokenAuth[Principal]) -> APIRouter:
    """Versions, version details and credentials (configuration modules: no routing headers)."""
    router = APIRouter()
    Caller = Annotated[Principal, Depends(auth)]  # noqa: N806 - a type alias
    base = member.base_path

    @router.get(f"{base}/ocpi/versions")
    async def get_versions(caller: Caller) -> OcpiResponse:
        return ocpi_response([Version(version=VersionNumber.V2_2_1, url=member.details_url)])

    @router.get(f"{base}/ocpi/2.2.1")
    async def get_details(caller: Caller) -> OcpiResponse:
        return ocpi_response(
            VersionDetails(version=VersionNumber.V2_2_1, endpoints=member.endpoints())
        )

    path = urlsplit(member.credentials_url).path

    def registered(caller: Principal) -> None:
        # Spec credentials: PUT, GET and DELETE need an existing registration, else 405.
        if member.peer is None or caller != "peer":
            raise MethodNotAllowed("not registered here: POST credentials first")

    @router.get(path)
    async def get_credentials(caller: Caller) -> OcpiResponse:
        registered(caller)
        assert member.issued_token is not None
        return ocpi_response(member.own_credentials(member.issued_token))

    @router.post(path)
    async def post_credentials(caller: Caller, theirs: Credentials) -> OcpiResponse:
        if member.peer is not None:
            raise MethodNotAllowed("already registered: use PUT to update or DELETE to end it")
        return ocpi_response(await member.accept_registration(theirs))

    @router.put(path)
    async def put_credentials(caller: Caller, theirs: Credentials) -> OcpiResponse:
        registered(caller)
        return ocpi_response(await member.accept_registration(theirs))

    @router.delete(path)
    async def delete_credentials(caller: Caller) -> OcpiResponse:
        registered(caller)
        member.forget_peer()
        return ocpi_response()

    return router


def hubclientinfo_router(member: MemberState, auth: TokenAuth[Literal["peer"]]) -> APIRouter:
    """hubclientinfo RECEIVER: `{url}/{country_code}/{party_id}` (a configuration module)."""
    router = APIRouter(dependencies=[Depends(auth)])
    path = member.module_path(ModuleID.HUBCLIENTINFO) + "/{country_code}/{party_id}"

    @router.put(path)
    async def put_client_info(country_code: str, party_id: str, info: ClientInfo) -> OcpiResponse:
        same_owner(country_code, party_id, info.model_dump())
        key = (country_code.upper(), party_id.upper())
        created = key not in member.client_info
        member.client_info[key] = info
        return stored(created)

    @router.get(path)
    async def get_client_info(country_code: str, party_id: str) -> OcpiResponse:
        info = member.client_info.get((country_code.upper(), party_id.upper()))
        if info is None:
            raise NotFound(f"no ClientInfo for {country_code}/{party_id}")
        return ocpi_response(info)

    return router
