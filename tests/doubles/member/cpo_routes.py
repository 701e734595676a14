"""The CPO double's functional interfaces: locations, tariffs, sessions and cdrs SENDER (its
own objects, paginated), tokens RECEIVER and commands RECEIVER."""

from fastapi import APIRouter, Request

from ocpi.server import ocpi_response
from ocpi.server.responses import OcpiResponse
from ocpi.server.validation import parse_body, same_owner, same_value
from ocpi.status import OcpiStatus
from ocpi.v221 import (
    CancelReservation,
    CommandResponse,
    CommandResponseType,
    CommandType,
    Location,
    ModuleID,
    OcpiModel,
    ReserveNow,
    StartSession,
    StopSession,
    Token,
    TokenPatch,
    TokenType,
    UnlockConnector,
)
from tests.doubles.member.calls import CpoCalls
from tests.doubles.member.endpoints import (
    JsonBody,
    Page,
    Routing,
    TypeParam,
    connector_of,
    evse_at,
    known,
    list_response,
    stored,
)
from tests.doubles.member.records import ReceivedCommand
from tests.doubles.member.rules import merge, token_key

_COMMAND_BODIES: dict[CommandType, type[OcpiModel]] = {
    CommandType.START_SESSION: StartSession,
    CommandType.STOP_SESSION: StopSession,
    CommandType.RESERVE_NOW: ReserveNow,
    CommandType.CANCEL_RESERVATION: CancelReservation,
    CommandType.UNLOCK_CONNECTOR: UnlockConnector,
}


def cpo_routes(member: CpoCalls, router: APIRouter) -> None:
    _senders(member, router)
    _tokens(member, router)
    _commands(member, router)


def _senders(member: CpoCalls, router: APIRouter) -> None:
    """The SENDER interfaces: lists of the CPO's own objects, and a location's parts."""
    locations = member.module_path(ModuleID.LOCATIONS)

    @router.get(locations)
    async def list_locations(request: Request, page: Page) -> OcpiResponse:
        return list_response(member, request, member.locations.values(), page)

    def known_location(location_id: str) -> Location:
        return known(member.locations, member.own_key(location_id), f"location {location_id}")

    @router.get(locations + "/{location_id}")
    async def get_location(location_id: str) -> OcpiResponse:
        return ocpi_response(known_location(location_id))

    @router.get(locations + "/{location_id}/{evse_uid}")
    async def get_evse(location_id: str, evse_uid: str) -> OcpiResponse:
        evses, at = evse_at(known_location(location_id), evse_uid)
        return ocpi_response(evses[at])

    @router.get(locations + "/{location_id}/{evse_uid}/{connector_id}")
    async def get_connector(location_id: str, evse_uid: str, connector_id: str) -> OcpiResponse:
        evses, at = evse_at(known_location(location_id), evse_uid)
        return ocpi_response(connector_of(evses[at], connector_id))

    @router.get(member.module_path(ModuleID.TARIFFS))
    async def list_tariffs(request: Request, page: Page) -> OcpiResponse:
        return list_response(member, request, member.tariffs.values(), page)

    # Spec: date_from is "required" on the Sessions Sender list; the double stays tolerant.
    @router.get(member.module_path(ModuleID.SESSIONS))
    async def list_sessions(request: Request, page: Page) -> OcpiResponse:
        return list_response(member, request, member.sessions.values(), page)

    @router.get(member.module_path(ModuleID.CDRS))
    async def list_cdrs(request: Request, page: Page) -> OcpiResponse:
        return list_response(member, request, member.cdrs.values(), page)


def _tokens(member: CpoCalls, router: APIRouter) -> None:
    """tokens RECEIVER: {url}/{country_code}/{party_id}/{token_uid}[?type=] (default RFID)."""
    tokens = member.module_path(ModuleID.TOKENS) + "/{country_code}/{party_id}/{token_uid}"

    def what(token_uid: str, token_type: TokenType) -> str:
        return f"token {token_uid} ({token_type.value})"

    @router.put(tokens)
    async def put_token(
        country_code: str,
        party_id: str,
        token_uid: str,
        token: Token,
        token_type: TypeParam = TokenType.RFID,
    ) -> OcpiResponse:
        same_owner(country_code, party_id, token.model_dump())
        same_value("token uid", token_uid, token.uid)
        same_value("token type", token_type.value, token.type.value)
        key = token_key(country_code, party_id, token_uid, token_type)
        created = key not in member.tokens
        member.tokens[key] = token
        return stored(created)

    @router.patch(tokens)
    async def patch_token(
        country_code: str,
        party_id: str,
        token_uid: str,
        body: JsonBody,
        token_type: TypeParam = TokenType.RFID,
    ) -> OcpiResponse:
        patch = parse_body(TokenPatch, body)
        changes = patch.model_dump(exclude_unset=True)
        same_owner(country_code, party_id, changes)
        same_value("token uid", token_uid, changes.get("uid"))
        key = token_key(country_code, party_id, token_uid, token_type)
        current = known(member.tokens, key, what(token_uid, token_type))
        member.tokens[key] = merge(Token, current, changes)
        return ocpi_response()

    @router.get(tokens)
    async def get_token(
        country_code: str, party_id: str, token_uid: str, token_type: TypeParam = TokenType.RFID
    ) -> OcpiResponse:
        key = token_key(country_code, party_id, token_uid, token_type)
        return ocpi_response(known(member.tokens, key, what(token_uid, token_type)))


def _commands(member: CpoCalls, router: APIRouter) -> None:
    """commands RECEIVER: POST {url}/{command}; the CommandResult follows in the background."""

    @router.post(member.module_path(ModuleID.COMMANDS) + "/{command}")
    async def post_command(command: CommandType, body: JsonBody, routing: Routing) -> OcpiResponse:
        parsed = parse_body(_COMMAND_BODIES[command], body)
        received = ReceivedCommand(command=command, body=parsed, requester=routing.from_)
        member.commands_received.append(received)
        result, status, message = _decide(member, parsed)
        response = CommandResponse(result=result, timeout=member.config.command_timeout)
        received.response = response
        if result is CommandResponseType.ACCEPTED:
            response_url: str = getattr(parsed, "response_url")  # noqa: B009 - every body has it
            member.spawn(member.post_command_result(response_url, routing.from_))
        return ocpi_response(response, status_code=status, status_message=message)


def _decide(
    member: CpoCalls, command: OcpiModel
) -> tuple[CommandResponseType, OcpiStatus, str | None]:
    """The synchronous answer to a command: (result, OCPI status, status message)."""
    if isinstance(command, StartSession):
        location = member.own_location(command.location_id)
        if location is None:
            # Spec mod_commands example: unknown location -> 2003 with REJECTED.
            message = f"location {command.location_id} is not known here"
            return CommandResponseType.REJECTED, OcpiStatus.UNKNOWN_LOCATION, message
        if command.evse_uid is not None and not any(
            e.uid == command.evse_uid for e in location.evses or []
        ):
            message = f"location {command.location_id} has no EVSE {command.evse_uid}"
            return CommandResponseType.REJECTED, OcpiStatus.SUCCESS, message
        return CommandResponseType.ACCEPTED, OcpiStatus.SUCCESS, None
    if isinstance(command, StopSession):
        known_session = member.own_key(command.session_id) in member.sessions
        if known_session:
            return CommandResponseType.ACCEPTED, OcpiStatus.SUCCESS, None
        return CommandResponseType.UNKNOWN_SESSION, OcpiStatus.SUCCESS, None
    return CommandResponseType.NOT_SUPPORTED, OcpiStatus.SUCCESS, None
