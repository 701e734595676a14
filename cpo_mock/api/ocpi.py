"""The CPO's OCPI 2.2.1 interfaces: Locations, Tariffs, Sessions, CDRs (Sender); Tokens,
Commands (Receiver); HubClientInfo (Receiver, a configuration module: not routed).

Endpoints are thin: they read input, call the service, answer with ocpi.server helpers.
Sessions and CDRs are personal: a party sees only those of its own tokens (the hub sees all).

No `from __future__ import annotations`: FastAPI resolves the local Annotated aliases.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from cpo_mock import profiles
from cpo_mock.commands import handle_command
from cpo_mock.service import Cpo, token_key
from ocpi.errors import InvalidParameters, NotFound
from ocpi.headers import RoutingHeaders
from ocpi.pagination import PageRequest, page_headers, paginate
from ocpi.platform import HUBCLIENTINFO_PATH, ModuleInterface, addressed_to
from ocpi.server import TokenAuth, ocpi_response, page_request, routing_headers
from ocpi.server.dependencies import JsonBody
from ocpi.server.responses import OcpiResponse
from ocpi.server.validation import parse_body, same_owner, same_value
from ocpi.v221.chargingprofiles import SetChargingProfile
from ocpi.v221.locations import Capability, Status
from ocpi.v221.patches import TokenPatch
from ocpi.v221.sessions import ChargingPreferences, ChargingPreferencesResponse, ProfileType
from ocpi.v221.tokens import Token, TokenType
from ocpi.v221.versions import InterfaceRole, ModuleID

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

FUNCTIONAL_BASE = "/ocpi/cpo/2.2.1"
CREDENTIALS_PATH = "/ocpi/2.2.1/credentials"

INTERFACES: tuple[ModuleInterface, ...] = (
    ModuleInterface(ModuleID.CREDENTIALS, InterfaceRole.SENDER, CREDENTIALS_PATH),
    ModuleInterface(ModuleID.LOCATIONS, InterfaceRole.SENDER, f"{FUNCTIONAL_BASE}/locations"),
    ModuleInterface(ModuleID.TARIFFS, InterfaceRole.SENDER, f"{FUNCTIONAL_BASE}/tariffs"),
    ModuleInterface(ModuleID.SESSIONS, InterfaceRole.SENDER, f"{FUNCTIONAL_BASE}/sessions"),
    ModuleInterface(ModuleID.CDRS, InterfaceRole.SENDER, f"{FUNCTIONAL_BASE}/cdrs"),
    ModuleInterface(ModuleID.TOKENS, InterfaceRole.RECEIVER, f"{FUNCTIONAL_BASE}/tokens"),
    ModuleInterface(ModuleID.COMMANDS, InterfaceRole.RECEIVER, f"{FUNCTIONAL_BASE}/commands"),
    ModuleInterface(
        ModuleID.CHARGINGPROFILES, InterfaceRole.RECEIVER, f"{FUNCTIONAL_BASE}/chargingprofiles"
    ),
    ModuleInterface(ModuleID.HUBCLIENTINFO, InterfaceRole.RECEIVER, HUBCLIENTINFO_PATH),
)
"""What the CPO publishes in its 2.2.1 details (digest §2.1: the CPO's usual interfaces)."""

Page = Annotated[PageRequest, Depends(page_request)]
Routing = Annotated[RoutingHeaders, Depends(routing_headers)]
TypeParam = Annotated[TokenType, Query(alias="type")]


def functional_router(cpo: Cpo, auth: TokenAuth[Literal["peer"]]) -> APIRouter:
    """The functional modules, under {base}/ocpi/cpo/2.2.1."""

    router = APIRouter(dependencies=[Depends(auth), Depends(addressed_to(cpo.party))])
    base = urlsplit(cpo.settings.public_url).path.rstrip("/") + FUNCTIONAL_BASE
    origin = urlsplit(cpo.settings.public_url)

    def page_of(
        request: Request,
        items: Sequence[T],
        page: PageRequest,
        last_updated: Callable[[T], datetime],
    ) -> OcpiResponse:
        """One page in creation order; the Link points at the CPO's public URL."""
        cut = paginate(items, page, max_limit=cpo.settings.page_limit, last_updated=last_updated)
        public = f"{origin.scheme}://{origin.netloc}{request.url.path}"
        if request.url.query:
            public += "?" + request.url.query
        return ocpi_response(cut.items, headers=page_headers(cut, public))

    def visible_to(routing: RoutingHeaders) -> str | None:
        """The eMSP whose sessions and CDRs a request may see (None: all, for the hub)."""
        requester = routing.from_
        if requester is None or requester == cpo.hub_party or requester == cpo.party:
            return None
        return str(requester)

    # --- locations (Sender) --------------------------------------------------------------------
    @router.get(base + "/locations")
    async def list_locations(request: Request, page: Page) -> OcpiResponse:
        await cpo.advance()
        # Spec mod_locations: only published Locations with a valid (not REMOVED) EVSE; one
        # whose EVSEs are all REMOVED has expired, and leaving it out tells the receiver so.
        items = [
            loc
            for loc in cpo.locations.values()
            if loc.publish
            and (not loc.evses or any(e.status is not Status.REMOVED for e in loc.evses))
        ]
        return page_of(request, items, page, lambda x: x.last_updated)

    @router.get(base + "/locations/{location_id}")
    async def get_location(location_id: str) -> OcpiResponse:
        await cpo.advance()
        location = cpo.location(location_id)
        if location is None:
            raise NotFound(f"location {location_id} is not known here")
        return ocpi_response(location)

    @router.get(base + "/locations/{location_id}/{evse_uid}")
    async def get_evse(location_id: str, evse_uid: str) -> OcpiResponse:
        await cpo.advance()
        location = cpo.location(location_id)
        evse = cpo.find_evse(location, evse_uid) if location is not None else None
        if evse is None:
            raise NotFound(f"location {location_id} has no EVSE {evse_uid}")
        return ocpi_response(evse)

    @router.get(base + "/locations/{location_id}/{evse_uid}/{connector_id}")
    async def get_connector(location_id: str, evse_uid: str, connector_id: str) -> OcpiResponse:
        location = cpo.location(location_id)
        evse = cpo.find_evse(location, evse_uid) if location is not None else None
        connector = cpo.find_connector(evse, connector_id) if evse is not None else None
        if connector is None:
            raise NotFound(f"location {location_id} has no connector {evse_uid}/{connector_id}")
        return ocpi_response(connector)

    # --- tariffs (Sender) ----------------------------------------------------------------------
    @router.get(base + "/tariffs")
    async def list_tariffs(request: Request, page: Page) -> OcpiResponse:
        return page_of(request, list(cpo.tariffs.values()), page, lambda x: x.last_updated)

    # --- sessions (Sender) ---------------------------------------------------------------------
    @router.get(base + "/sessions")
    async def list_sessions(request: Request, page: Page, routing: Routing) -> OcpiResponse:
        if page.date_from is None:
            raise InvalidParameters(
                "query parameter date_from is required on the Sessions Sender list "
                "(spec mod_sessions)"
            )
        await cpo.advance()
        who = visible_to(routing)
        items = [s.session for s in cpo.sessions.values() if who is None or s.emsp == who]
        return page_of(request, items, page, lambda x: x.last_updated)

    @router.put(base + "/sessions/{session_id}/charging_preferences")
    async def put_preferences(
        session_id: str, preferences: ChargingPreferences, routing: Routing
    ) -> OcpiResponse:
        who = visible_to(routing)
        sim = cpo.sessions.get(session_id)
        if sim is None or (who is not None and sim.emsp != who):
            raise NotFound(f"session {session_id} is not known here")
        location = cpo.location(sim.session.location_id)
        evse = cpo.find_evse(location, sim.session.evse_uid) if location else None
        if evse is None or Capability.CHARGING_PREFERENCES_CAPABLE not in (evse.capabilities or []):
            # Spec mod_sessions: HTTP 404 with 2001 for an EVSE without the capability.
            raise InvalidParameters(
                f"EVSE {sim.session.evse_uid} is not CHARGING_PREFERENCES_CAPABLE",
                http_status=404,
            )
        # The simulator always charges as fast as car and connector allow: that is what FAST
        # and REGULAR ask for; it has no smart charging for CHEAP or GREEN.
        if preferences.profile_type in (ProfileType.FAST, ProfileType.REGULAR):
            return ocpi_response(ChargingPreferencesResponse.ACCEPTED.value)
        return ocpi_response(ChargingPreferencesResponse.PROFILE_TYPE_NOT_SUPPORTED.value)

    # --- cdrs (Sender) -------------------------------------------------------------------------
    @router.get(base + "/cdrs")
    async def list_cdrs(request: Request, page: Page, routing: Routing) -> OcpiResponse:
        await cpo.advance()
        who = visible_to(routing)
        items = [e.cdr for e in cpo.cdrs.values() if who is None or e.emsp == who]
        return page_of(request, items, page, lambda x: x.last_updated)

    # --- tokens (Receiver): {url}/{country_code}/{party_id}/{token_uid}[?type=] ----------------
    tokens = base + "/tokens/{country_code}/{party_id}/{token_uid}"

    @router.put(tokens)
    async def put_token(
        country_code: str,
        party_id: str,
        token_uid: str,
        token: Token,
        token_type: TypeParam = TokenType.RFID,
    ) -> OcpiResponse:
        same_owner(country_code, party_id, token)
        same_value("token_uid", token_uid, token.uid)
        same_value("type", token_type.value, token.type.value)
        created = await cpo.put_token(token)
        return ocpi_response(http_status=201 if created else 200)

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
        same_value("token_uid", token_uid, changes.get("uid"))
        if changes.get("type") is not None:
            same_value("type", token_type.value, TokenType(changes["type"]).value)
        current = cpo.tokens.get(token_key(country_code, party_id, token_uid, token_type))
        if current is None:
            raise NotFound(f"token {token_uid} ({token_type.value}) is not known here")
        merged = parse_body(Token, {**current.model_dump(), **changes})
        await cpo.put_token(merged)
        return ocpi_response()

    @router.get(tokens)
    async def get_token(
        country_code: str, party_id: str, token_uid: str, token_type: TypeParam = TokenType.RFID
    ) -> OcpiResponse:
        found = cpo.tokens.get(token_key(country_code, party_id, token_uid, token_type))
        if found is None:
            raise NotFound(f"token {token_uid} ({token_type.value}) is not known here")
        return ocpi_response(found)

    # --- commands (Receiver): POST {url}/{command} ----------------------------------------------
    @router.post(base + "/commands/{command}")
    async def post_command(command: str, body: JsonBody, routing: Routing) -> OcpiResponse:
        return ocpi_response(await handle_command(cpo, command, body, routing.from_))

    # --- chargingprofiles (Receiver): {url}/{session_id}, results to the response_url --------
    profile_path = base + "/chargingprofiles/{session_id}"

    @router.put(profile_path)
    async def put_profile(session_id: str, body: JsonBody, routing: Routing) -> OcpiResponse:
        parsed = parse_body(SetChargingProfile, body)
        answer = await profiles.set_profile(
            cpo, session_id, parsed, routing.from_, visible_to(routing)
        )
        return ocpi_response(answer)

    @router.get(profile_path)
    async def get_profile(
        session_id: str,
        routing: Routing,
        duration: Annotated[int | None, Query()] = None,
        response_url: Annotated[str | None, Query()] = None,
    ) -> OcpiResponse:
        if duration is None or duration < 0 or not response_url:
            raise InvalidParameters(
                "query parameters duration (seconds) and response_url are required "
                "(spec mod_charging_profiles GET)"
            )
        answer = await profiles.active_profile(
            cpo, session_id, duration, response_url, routing.from_, visible_to(routing)
        )
        return ocpi_response(answer)

    @router.delete(profile_path)
    async def delete_profile(
        session_id: str,
        routing: Routing,
        response_url: Annotated[str | None, Query()] = None,
    ) -> OcpiResponse:
        if not response_url:
            raise InvalidParameters(
                "query parameter response_url is required (spec mod_charging_profiles DELETE)"
            )
        answer = await profiles.clear_profile(
            cpo, session_id, response_url, routing.from_, visible_to(routing)
        )
        return ocpi_response(answer)

    return router
