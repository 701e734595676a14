"""The eMSP's OCPI 2.2.1 interfaces: Locations, Tariffs, Sessions, CDRs (Receiver); Tokens,
Commands (Sender). HubClientInfo (Receiver, a configuration module: not routed) is the kit's
(`ocpi.platform.hubclientinfo_router`).

Endpoints are thin: they read and validate input, call the service, answer with ocpi.server
helpers. Receiver URLs carry the CPO's {country_code}/{party_id}, which SHALL equal the body's
(spec, client-owned objects): a mismatch is 2001.

No `from __future__ import annotations`: FastAPI resolves the local Annotated aliases.
"""

import contextlib
import functools
from collections.abc import Iterator
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ValidationError

from emsp_mock import objects
from emsp_mock.search import location_key
from emsp_mock.service import FUNCTIONAL_BASE, Emsp
from emsp_mock.state import object_key
from ocpi.errors import InvalidParameters, NotFound, UnknownLocation, UnknownToken
from ocpi.headers import RoutingHeaders
from ocpi.pagination import PageRequest
from ocpi.platform import HUBCLIENTINFO_PATH, ModuleInterface, addressed_to
from ocpi.server import TokenAuth, ocpi_response, page_request, paginated_response, routing_headers
from ocpi.server.dependencies import JsonBody
from ocpi.server.errors import describe_errors
from ocpi.server.plain import plain_route
from ocpi.server.responses import OcpiResponse
from ocpi.server.validation import parse_body, same_owner, same_value
from ocpi.v221.cdrs import CDR
from ocpi.v221.commands import CommandResult
from ocpi.v221.locations import EVSE, Connector, Location
from ocpi.v221.patches import ConnectorPatch, EVSEPatch, LocationPatch, SessionPatch
from ocpi.v221.sessions import Session
from ocpi.v221.tariffs import Tariff
from ocpi.v221.tokens import LocationReferences, TokenType
from ocpi.v221.versions import InterfaceRole, ModuleID

M = TypeVar("M", bound=BaseModel)

CREDENTIALS_PATH = "/ocpi/2.2.1/credentials"

ROLES = {
    ModuleID.LOCATIONS: InterfaceRole.RECEIVER,
    ModuleID.TARIFFS: InterfaceRole.RECEIVER,
    ModuleID.SESSIONS: InterfaceRole.RECEIVER,
    ModuleID.CDRS: InterfaceRole.RECEIVER,
    ModuleID.TOKENS: InterfaceRole.SENDER,
    ModuleID.COMMANDS: InterfaceRole.SENDER,
}
"""The eMSP's role in each functional module (digest §2.1: the eMSP's usual interfaces)."""

INTERFACES: tuple[ModuleInterface, ...] = (
    ModuleInterface(ModuleID.CREDENTIALS, InterfaceRole.SENDER, CREDENTIALS_PATH),
    *(ModuleInterface(m, role, f"{FUNCTIONAL_BASE}/{m.value}") for m, role in ROLES.items()),
    ModuleInterface(ModuleID.HUBCLIENTINFO, InterfaceRole.RECEIVER, HUBCLIENTINFO_PATH),
)
"""What the eMSP publishes in its 2.2.1 details: the configuration modules and `ROLES`."""

Page = Annotated[PageRequest, Depends(page_request)]
Routing = Annotated[RoutingHeaders, Depends(routing_headers)]
TypeParam = Annotated[TokenType, Query(alias="type")]


def _stored(created: bool) -> OcpiResponse:
    return ocpi_response(http_status=201 if created else 200)


def functional_router(emsp: Emsp, auth: TokenAuth[Literal["peer"]]) -> APIRouter:
    """The functional modules, under {base}/ocpi/emsp/2.2.1."""

    guards = (auth, addressed_to(emsp.party))
    router = APIRouter(dependencies=[Depends(guard) for guard in guards])
    receive = functools.partial(plain_route, router, guards=guards)
    """Receiving routes with a body: plain routes (ocpi/server/plain.py), the same guards."""
    base = urlsplit(emsp.settings.public_url).path.rstrip("/") + FUNCTIONAL_BASE

    # --- locations (Receiver) ------------------------------------------------------------------
    loc = base + "/locations/{country_code}/{party_id}/{location_id}"

    def known_location(country_code: str, party_id: str, location_id: str) -> Location:
        found = emsp.location(country_code, party_id, location_id)
        if found is None:
            raise unknown_location(country_code, party_id, location_id)
        return found

    @router.get(loc)
    async def get_location(country_code: str, party_id: str, location_id: str) -> OcpiResponse:
        found = emsp.location(country_code, party_id, location_id)
        if found is None:
            raise NotFound(f"location {country_code}/{party_id}/{location_id} is not known here")
        return ocpi_response(found)

    @router.get(loc + "/{evse_uid}")
    async def get_evse(
        country_code: str, party_id: str, location_id: str, evse_uid: str
    ) -> OcpiResponse:
        found = emsp.location(country_code, party_id, location_id)
        try:
            if found is None:
                raise objects.MissingParent(location_id)
            return ocpi_response(objects.find_evse(found, evse_uid))
        except objects.MissingParent:
            raise NotFound(f"location {location_id} has no EVSE {evse_uid} here") from None

    @router.get(loc + "/{evse_uid}/{connector_id}")
    async def get_connector(
        country_code: str, party_id: str, location_id: str, evse_uid: str, connector_id: str
    ) -> OcpiResponse:
        found = emsp.location(country_code, party_id, location_id)
        try:
            if found is None:
                raise objects.MissingParent(location_id)
            return ocpi_response(objects.find_connector(found, evse_uid, connector_id))
        except objects.MissingParent:
            raise NotFound(
                f"location {location_id} has no connector {evse_uid}/{connector_id} here"
            ) from None

    @receive("PUT", loc)
    async def put_location(
        country_code: str, party_id: str, location_id: str, body: JsonBody
    ) -> OcpiResponse:
        location = parse_body(Location, body)
        same_owner(country_code, party_id, location)
        same_value("location_id", location_id, location.id)
        created = emsp.location(country_code, party_id, location_id) is None
        await emsp.store_location(location)
        return _stored(created)

    @receive("PUT", loc + "/{evse_uid}")
    async def put_evse(
        country_code: str, party_id: str, location_id: str, evse_uid: str, body: JsonBody
    ) -> OcpiResponse:
        evse = parse_body(EVSE, body)
        same_value("evse_uid", evse_uid, evse.uid)
        current = known_location(country_code, party_id, location_id)
        created = all(e.uid != evse_uid for e in current.evses or [])
        await emsp.store_location(objects.put_evse(current, evse))
        return _stored(created)

    @receive("PUT", loc + "/{evse_uid}/{connector_id}")
    async def put_connector(
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str,
        connector_id: str,
        body: JsonBody,
    ) -> OcpiResponse:
        connector = parse_body(Connector, body)
        same_value("connector_id", connector_id, connector.id)
        current = known_location(country_code, party_id, location_id)
        try:
            updated = objects.put_connector(current, evse_uid, connector)
        except objects.MissingParent as exc:
            raise UnknownLocation(f"{exc}: PUT the EVSE first") from None
        await emsp.store_location(updated)
        return ocpi_response()

    @receive("PATCH", loc)
    async def patch_location(
        country_code: str, party_id: str, location_id: str, body: JsonBody
    ) -> OcpiResponse:
        changes = parse_body(LocationPatch, body).model_dump(exclude_unset=True)
        same_owner(country_code, party_id, changes)
        same_value("location_id", location_id, changes.get("id"))
        current = known_location(country_code, party_id, location_id)
        await emsp.store_location(parse_merge(objects.patch_location, current, changes))
        return ocpi_response()

    @receive("PATCH", loc + "/{evse_uid}")
    async def patch_evse(
        country_code: str, party_id: str, location_id: str, evse_uid: str, body: JsonBody
    ) -> OcpiResponse:
        changes = parse_body(EVSEPatch, body).model_dump(exclude_unset=True)
        same_value("evse_uid", evse_uid, changes.get("uid"))
        # The storm's message (every EVSE status a CPO sends): patched on the location's
        # text, not a parsed Location (emsp_mock/objects.py patch_evse_text).
        key = location_key(country_code, party_id, location_id)
        with merge_refusals():
            held = await emsp.receivers.patch_evse(key, evse_uid, changes)
        if not held:
            raise unknown_location(country_code, party_id, location_id)
        return ocpi_response()

    @receive("PATCH", loc + "/{evse_uid}/{connector_id}")
    async def patch_connector(
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str,
        connector_id: str,
        body: JsonBody,
    ) -> OcpiResponse:
        changes = parse_body(ConnectorPatch, body).model_dump(exclude_unset=True)
        same_value("connector_id", connector_id, changes.get("id"))
        current = known_location(country_code, party_id, location_id)
        updated = parse_merge(objects.patch_connector, current, evse_uid, connector_id, changes)
        await emsp.store_location(updated)
        return ocpi_response()

    # --- tariffs (Receiver) --------------------------------------------------------------------
    tariff_path = base + "/tariffs/{country_code}/{party_id}/{tariff_id}"

    @router.get(tariff_path)
    async def get_tariff(country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        found = emsp.tariffs.get(object_key(country_code, party_id, tariff_id))
        if found is None:
            raise NotFound(f"tariff {country_code}/{party_id}/{tariff_id} is not known here")
        return ocpi_response(found)

    @receive("PUT", tariff_path)
    async def put_tariff(
        country_code: str, party_id: str, tariff_id: str, body: JsonBody
    ) -> OcpiResponse:
        tariff = parse_body(Tariff, body)
        same_owner(country_code, party_id, tariff)
        same_value("tariff_id", tariff_id, tariff.id)
        return _stored(await emsp.receivers.store_tariff(tariff))

    @router.delete(tariff_path)
    async def delete_tariff(country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        if not await emsp.receivers.delete_tariff(object_key(country_code, party_id, tariff_id)):
            raise NotFound(f"tariff {country_code}/{party_id}/{tariff_id} is not known here")
        return ocpi_response()

    # --- sessions (Receiver) -------------------------------------------------------------------
    session_path = base + "/sessions/{country_code}/{party_id}/{session_id}"

    @router.get(session_path)
    async def get_session(country_code: str, party_id: str, session_id: str) -> OcpiResponse:
        found = emsp.sessions.get(object_key(country_code, party_id, session_id))
        if found is None:
            raise NotFound(f"session {country_code}/{party_id}/{session_id} is not known here")
        return ocpi_response(found)

    @receive("PUT", session_path)
    async def put_session(
        country_code: str, party_id: str, session_id: str, body: JsonBody
    ) -> OcpiResponse:
        session = parse_body(Session, body)
        same_owner(country_code, party_id, session)
        same_value("session_id", session_id, session.id)
        return _stored(await emsp.receivers.store_session(session))

    @receive("PATCH", session_path)
    async def patch_session(
        country_code: str, party_id: str, session_id: str, body: JsonBody
    ) -> OcpiResponse:
        changes = parse_body(SessionPatch, body).model_dump(exclude_unset=True)
        same_owner(country_code, party_id, changes)
        same_value("session_id", session_id, changes.get("id"))
        current = emsp.sessions.get(object_key(country_code, party_id, session_id))
        if current is None:
            raise NotFound(
                f"session {country_code}/{party_id}/{session_id} is not known here: PUT it first"
            )
        await emsp.receivers.store_session(parse_merge(objects.patch_session, current, changes))
        return ocpi_response()

    # --- cdrs (Receiver) -----------------------------------------------------------------------
    @receive("POST", base + "/cdrs")
    async def post_cdr(body: JsonBody) -> OcpiResponse:
        cdr = parse_body(CDR, body)
        created = await emsp.receive_cdr(cdr)
        # Spec mod_cdrs: the answer carries the URL of the stored CDR. A CDR id received
        # before is not stored or billed again; the answer points at the first one.
        return ocpi_response(
            http_status=201 if created else 200,
            headers={"Location": emsp.receivers.cdr_location_url(cdr)},
        )

    @router.get(base + "/cdrs/{country_code}/{party_id}/{cdr_id}")
    async def get_cdr(country_code: str, party_id: str, cdr_id: str) -> OcpiResponse:
        found = emsp.cdrs.get(object_key(country_code, party_id, cdr_id))
        if found is None:
            raise NotFound(f"CDR {country_code}/{party_id}/{cdr_id} is not known here")
        return ocpi_response(found)

    # --- tokens (Sender) -----------------------------------------------------------------------
    @router.get(base + "/tokens")
    async def list_tokens(request: Request, page: Page) -> OcpiResponse:
        items = sorted(emsp.tokens.values(), key=lambda t: (t.last_updated, t.uid, t.type))
        return paginated_response(
            request,
            items,
            page,
            max_limit=emsp.settings.page_limit,
            last_updated=lambda t: t.last_updated,
        )

    @router.post(base + "/tokens/{token_uid}/authorize")
    async def authorize(
        token_uid: str, request: Request, token_type: TypeParam = TokenType.RFID
    ) -> OcpiResponse:
        raw = await request.body()
        where = None
        if raw.strip():
            where = parse_body(LocationReferences, await request.json())
        info = emsp.authorize(token_uid, token_type, where)
        if info is None:
            # Spec mod_tokens: unknown token -> HTTP 404 with 2004, no data.
            raise UnknownToken(f"token {token_uid} ({token_type.value}) is not known here")
        return ocpi_response(info)

    # --- commands (Sender): our response_urls ------------------------------------------------
    @router.post(base + "/commands/{command}/{command_id}")
    async def post_result(command: str, command_id: str, body: JsonBody) -> OcpiResponse:
        result = parse_body(CommandResult, body)
        try:
            await emsp.command_result(command, command_id, result)
        except LookupError as exc:
            raise NotFound(str(exc.args[0])) from None
        return ocpi_response()

    return router


def unknown_location(country_code: str, party_id: str, location_id: str) -> UnknownLocation:
    return UnknownLocation(
        f"location {country_code}/{party_id}/{location_id} is not known here: "
        "PUT the whole Location first"
    )


@contextlib.contextmanager
def merge_refusals() -> Iterator[None]:
    """A PATCH applied with a pure rule: a merged object that is no longer valid is 2001, a
    missing parent 2003."""
    try:
        yield
    except ValidationError as exc:
        raise InvalidParameters(
            "the PATCH makes the object invalid: " + describe_errors(exc.errors())
        ) from None
    except objects.MissingParent as exc:
        raise UnknownLocation(f"{exc}: PUT it first") from None


def parse_merge(apply: Any, *args: Any) -> Any:
    """Apply a PATCH with a pure rule (`merge_refusals`)."""
    with merge_refusals():
        return apply(*args)
