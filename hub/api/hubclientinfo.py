"""HubClientInfo Sender interface (spec mod_hub_client_info): the paginated list of parties,
at every version's URL (the module is the same in 2.2.1 and 2.3.0; the hub never lists a HUB
role, the one value 2.3.0 lacks)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from hub.clientinfo import client_info
from hub.directory import Platform
from hub.service import Hub, Principal
from hub.translation import VERSIONS
from ocpi.errors import Unauthorized
from ocpi.pagination import PageRequest
from ocpi.server import TokenAuth, page_request, paginated_response
from ocpi.server.responses import OcpiResponse


def hubclientinfo_router(hub: Hub, auth: TokenAuth[Principal]) -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Principal, Depends(auth)]  # noqa: N806 - a type alias
    Page = Annotated[PageRequest, Depends(page_request)]  # noqa: N806 - a type alias

    async def list_client_info(caller: Caller, request: Request, page: Page) -> OcpiResponse:
        if not isinstance(caller, Platform):
            raise Unauthorized("register first: hubclientinfo needs the token the hub issued")
        infos = sorted(
            (client_info(party) for party in hub.directory.all_parties()),
            key=lambda info: (info.last_updated, info.country_code, info.party_id, info.role),
        )
        return paginated_response(
            request,
            infos,
            page,
            max_limit=hub.settings.page_limit,
            last_updated=lambda info: info.last_updated,
        )

    for version in VERSIONS:
        router.add_api_route(f"/ocpi/{version}/hubclientinfo", list_client_info, methods=["GET"])
    return router
