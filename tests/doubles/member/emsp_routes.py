"""The eMSP double's functional interfaces: locations, tariffs, sessions and cdrs RECEIVER
(what CPOs push), tokens SENDER (list, real-time authorize) and the commands response_urls."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Request

from ocpi.errors import InvalidParameters, NotFound, UnknownToken
from ocpi.server import ocpi_response
from ocpi.server.responses import OcpiResponse
from ocpi.server.validation import parse_body, same_owner, same_value
from ocpi.v221 import (
    CDR,
    EVSE,
    AllowedType,
    AuthorizationInfo,
    CommandResult,
    CommandType,
    Connector,
    ConnectorPatch,
    EVSEPatch,
    Location,
    LocationPatch,
    LocationReferences,
    ModuleID,
    Session,
    SessionPatch,
    Tariff,
    TokenType,
)
from tests.doubles.member.endpoints import (
    JsonBody,
    Page,
    TypeParam,
    connector_of,
    evse_at,
    known_owned,
    list_response,
    put_owned,
    stored,
)
from tests.doubles.member.rules import (
    apply_session_patch,
    index_of,
    join_url,
    merge,
    object_key,
    put_into,
    token_key,
)
from tests.doubles.member.state import MemberState


def emsp_routes(member: MemberState, router: APIRouter) -> None:
    _locations(member, router)
    _tariffs(member, router)
    _sessions(member, router)
    _cdrs(member, router)
    _tokens(member, router)
    _command_results(member, router)


def _locations(member: MemberState, router: APIRouter) -> None:
    """locations RECEIVER: {url}/{cc}/{pid}/{location_id}[/{evse_uid}[/{connector_id}]]."""
    loc = member.module_path(ModuleID.LOCATIONS) + "/{country_code}/{party_id}/{location_id}"
    evse_path = loc + "/{evse_uid}"
    connector_path = evse_path + "/{connector_id}"

    def stored_location(country_code: str, party_id: str, location_id: str) -> Location:
        return known_owned(member.locations, "location", country_code, party_id, location_id)

    # Spec mod_locations PUT/PATCH: the parent's last_updated takes the child's new value.
    def save_evses(location: Location, evses: list[EVSE], stamp: datetime) -> None:
        member.add_location(location.model_copy(update={"evses": evses, "last_updated": stamp}))

    def save_connectors(
        location: Location, evses: list[EVSE], at: int, connectors: list[Connector], stamp: datetime
    ) -> None:
        evses[at] = evses[at].model_copy(update={"connectors": connectors, "last_updated": stamp})
        save_evses(location, evses, stamp)

    @router.put(loc)
    async def put_location(
        country_code: str, party_id: str, location_id: str, location: Location
    ) -> OcpiResponse:
        return put_owned(
            member.locations, country_code, party_id, location_id, location, "location_id"
        )

    @router.put(evse_path)
    async def put_evse(
        country_code: str, party_id: str, location_id: str, evse_uid: str, evse: EVSE
    ) -> OcpiResponse:
        same_value("evse_uid", evse_uid, evse.uid)
        location = stored_location(country_code, party_id, location_id)
        evses = list(location.evses or [])
        created = put_into(evses, lambda e: e.uid == evse_uid, evse)
        save_evses(location, evses, evse.last_updated)
        return stored(created)

    @router.put(connector_path)
    async def put_connector(
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str,
        connector_id: str,
        connector: Connector,
    ) -> OcpiResponse:
        same_value("connector_id", connector_id, connector.id)
        location = stored_location(country_code, party_id, location_id)
        evses, at = evse_at(location, evse_uid)
        connectors = list(evses[at].connectors)
        created = put_into(connectors, lambda c: c.id == connector_id, connector)
        save_connectors(location, evses, at, connectors, connector.last_updated)
        return stored(created)

    @router.patch(loc)
    async def patch_location(
        country_code: str, party_id: str, location_id: str, body: JsonBody
    ) -> OcpiResponse:
        patch = parse_body(LocationPatch, body)
        changes = patch.model_dump(exclude_unset=True)
        same_owner(country_code, party_id, changes)
        same_value("location_id", location_id, changes.get("id"))
        location = stored_location(country_code, party_id, location_id)
        member.add_location(merge(Location, location, changes))
        return ocpi_response()

    @router.patch(evse_path)
    async def patch_evse(
        country_code: str, party_id: str, location_id: str, evse_uid: str, body: JsonBody
    ) -> OcpiResponse:
        patch = parse_body(EVSEPatch, body)
        changes = patch.model_dump(exclude_unset=True)
        same_value("evse_uid", evse_uid, changes.get("uid"))
        location = stored_location(country_code, party_id, location_id)
        evses, at = evse_at(location, evse_uid)
        evses[at] = merge(EVSE, evses[at], changes)
        save_evses(location, evses, evses[at].last_updated)
        return ocpi_response()

    @router.patch(connector_path)
    async def patch_connector(
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str,
        connector_id: str,
        body: JsonBody,
    ) -> OcpiResponse:
        patch = parse_body(ConnectorPatch, body)
        changes = patch.model_dump(exclude_unset=True)
        same_value("connector_id", connector_id, changes.get("id"))
        location = stored_location(country_code, party_id, location_id)
        evses, at = evse_at(location, evse_uid)
        connectors = list(evses[at].connectors)
        index = index_of(connectors, lambda c: c.id == connector_id)
        if index is None:
            raise NotFound(f"EVSE {evse_uid} has no connector {connector_id}")
        connectors[index] = merge(Connector, connectors[index], changes)
        save_connectors(location, evses, at, connectors, connectors[index].last_updated)
        return ocpi_response()

    @router.get(loc)
    async def get_location(country_code: str, party_id: str, location_id: str) -> OcpiResponse:
        return ocpi_response(stored_location(country_code, party_id, location_id))

    @router.get(evse_path)
    async def get_evse(
        country_code: str, party_id: str, location_id: str, evse_uid: str
    ) -> OcpiResponse:
        evses, at = evse_at(stored_location(country_code, party_id, location_id), evse_uid)
        return ocpi_response(evses[at])

    @router.get(connector_path)
    async def get_connector(
        country_code: str, party_id: str, location_id: str, evse_uid: str, connector_id: str
    ) -> OcpiResponse:
        evses, at = evse_at(stored_location(country_code, party_id, location_id), evse_uid)
        return ocpi_response(connector_of(evses[at], connector_id))


def _tariffs(member: MemberState, router: APIRouter) -> None:
    """tariffs RECEIVER: {url}/{country_code}/{party_id}/{tariff_id}."""
    tariffs = member.module_path(ModuleID.TARIFFS) + "/{country_code}/{party_id}/{tariff_id}"

    @router.put(tariffs)
    async def put_tariff(
        country_code: str, party_id: str, tariff_id: str, tariff: Tariff
    ) -> OcpiResponse:
        return put_owned(member.tariffs, country_code, party_id, tariff_id, tariff, "tariff_id")

    @router.get(tariffs)
    async def get_tariff(country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        return ocpi_response(
            known_owned(member.tariffs, "tariff", country_code, party_id, tariff_id)
        )

    @router.delete(tariffs)
    async def delete_tariff(country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        known_owned(member.tariffs, "tariff", country_code, party_id, tariff_id)
        del member.tariffs[object_key(country_code, party_id, tariff_id)]
        return ocpi_response()


def _sessions(member: MemberState, router: APIRouter) -> None:
    """sessions RECEIVER: {url}/{country_code}/{party_id}/{session_id}."""
    sessions = member.module_path(ModuleID.SESSIONS) + "/{country_code}/{party_id}/{session_id}"

    @router.put(sessions)
    async def put_session(
        country_code: str, party_id: str, session_id: str, session: Session
    ) -> OcpiResponse:
        return put_owned(member.sessions, country_code, party_id, session_id, session, "session_id")

    @router.patch(sessions)
    async def patch_session(
        country_code: str, party_id: str, session_id: str, body: JsonBody
    ) -> OcpiResponse:
        patch = parse_body(SessionPatch, body)
        changes = patch.model_dump(exclude_unset=True)
        same_owner(country_code, party_id, changes)
        same_value("session_id", session_id, changes.get("id"))
        current = known_owned(member.sessions, "session", country_code, party_id, session_id)
        key = object_key(country_code, party_id, session_id)
        member.sessions[key] = apply_session_patch(current, patch)
        return ocpi_response()

    @router.get(sessions)
    async def get_session(country_code: str, party_id: str, session_id: str) -> OcpiResponse:
        return ocpi_response(
            known_owned(member.sessions, "session", country_code, party_id, session_id)
        )


def _cdrs(member: MemberState, router: APIRouter) -> None:
    """cdrs RECEIVER: POST {url} answers with a Location header; GET that URL gives it back."""
    cdrs = member.module_path(ModuleID.CDRS)

    @router.post(cdrs)
    async def post_cdr(cdr: CDR) -> OcpiResponse:
        key = object_key(cdr.country_code, cdr.party_id, cdr.id)
        if key in member.cdrs:
            raise InvalidParameters(
                f"CDR {cdr.country_code}/{cdr.party_id}/{cdr.id} was already received; CDRs "
                "are immutable (send a credit CDR with a new id to correct one)"
            )
        url_id = cdr.id if cdr.id not in member.cdr_urls else "-".join(key)
        member.cdrs[key] = cdr
        member.cdr_urls[url_id] = key
        location = join_url(member.module_url(ModuleID.CDRS), url_id)
        return ocpi_response(http_status=201, headers={"Location": location})

    @router.get(cdrs + "/{cdr_id}")
    async def get_cdr(cdr_id: str) -> OcpiResponse:
        key = member.cdr_urls.get(cdr_id)
        if key is None:
            raise NotFound(f"no CDR at {cdr_id}")
        return ocpi_response(member.cdrs[key])


def _tokens(member: MemberState, router: APIRouter) -> None:
    """tokens SENDER: the list of own tokens, and real-time authorization."""
    tokens = member.module_path(ModuleID.TOKENS)

    @router.get(tokens)
    async def list_tokens(request: Request, page: Page) -> OcpiResponse:
        own = (member.party.country_code, member.party.party_id)
        mine = [token for key, token in member.tokens.items() if key[:2] == own]
        return list_response(member, request, mine, page)

    @router.post(tokens + "/{token_uid}/authorize")
    async def authorize(
        token_uid: str,
        token_type: TypeParam = TokenType.RFID,
        location: Annotated[LocationReferences | None, Body()] = None,
    ) -> OcpiResponse:
        key = token_key(member.party.country_code, member.party.party_id, token_uid, token_type)
        token = member.tokens.get(key)
        if token is None:
            # Spec mod_tokens: unknown token -> HTTP 404 with 2004 and no data.
            raise UnknownToken(f"token {token_uid} ({token_type.value}) is not known here")
        info = AuthorizationInfo(
            allowed=AllowedType.ALLOWED if token.valid else AllowedType.BLOCKED,
            token=token,
            location=location,
            authorization_reference=f"AUTH-{uuid.uuid4().hex[:12]}",
        )
        member.authorizations.append(info)
        return ocpi_response(info)


def _command_results(member: MemberState, router: APIRouter) -> None:
    """commands SENDER: the response_urls this double handed out, where results arrive."""

    @router.post(member.module_path(ModuleID.COMMANDS) + "/{command}/{uid}")
    async def post_command_result(command: CommandType, uid: str, body: JsonBody) -> OcpiResponse:
        sent = member.sent_commands.get(uid)
        if sent is None or sent.command is not command:
            raise InvalidParameters(
                f"no {command.value} command with id {uid} was sent from here: "
                "this response_url is unknown"
            )
        member.command_results[uid] = parse_body(CommandResult, body)
        sent.result_arrived.set()
        return ocpi_response()
