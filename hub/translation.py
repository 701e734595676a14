"""Members on other OCPI versions: which object a message carries, and carrying it across.

The hub's own logic (routing, copies, settlement, the message log) works on OCPI 2.2.1, the
pivot. A member that registered another version is served at that version's URLs; what it
sends is validated against its version's models and carried down to 2.2.1, and what reaches
it is carried up from 2.2.1. One `VersionAdapter` per version says, per kind of object, which
model to validate and which `ocpi.translate` function carries it (`ADAPTERS`, keyed by the
version string): adding a version is adding its adapter. Kinds an adapter does not list are
the same in both versions and are passed on as they are.

`request_kind` and `response_kind` name the object a message carries from its module,
interface, method and URL segments (pure); `carry` and `carry_list` translate JSON values
between two versions through the pivot. Some translations need context the object does not
hold (2.1.1: its owner, the Location a Session embeds, the Tariffs, the driver's token): the
caller passes a `Situation` whose look-ups read the hub's copies. Nothing here does I/O.
docs/hub.md "Members on other OCPI versions".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from hub.copies import Copies, Copy, token_key
from ocpi import v211, v221, v230
from ocpi.errors import InvalidParameters
from ocpi.headers import PartyRef
from ocpi.server.errors import describe_errors
from ocpi.translate import Loss, Translated, Untranslatable
from ocpi.translate import v211 as t211
from ocpi.translate import v230 as t230
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole, ModuleID

PIVOT = "2.2.1"
"""The version the hub's own logic speaks; every other version is carried through it."""


def _no_location(owner: PartyRef, location_id: str) -> v221.Location | None:
    return None


def _no_tariffs(owner: PartyRef) -> Mapping[str, v221.Tariff]:
    return {}


def _no_driver(contract_id: str) -> v221.CdrToken | None:
    return None


def _no_sessions(cdr: v221.CDR) -> list[str]:
    return []


@dataclass(frozen=True)
class Situation:
    """What a translation may need that the object does not hold (2.1.1, docs/versions.md
    "2.1.1 ↔ 2.2.1"). The hub fills it from the message and its copies; the defaults know
    nothing, so a translation that needs more is Untranslatable."""

    owner: PartyRef | None = None
    """The party that owns the object carried (a 2.1.1 object does not name its owner)."""
    received: datetime | None = None
    """When the message arrived: the `last_updated` of a 2.1.1 PATCH that has none."""
    role: Role | None = None
    """The role of a 2.1.1 party (its credentials name none)."""
    token: v221.Token | None = None
    """The Token a real-time authorization answers for (a 2.1.1 answer does not echo it)."""
    location: Callable[[PartyRef, str], v221.Location | None] = _no_location
    """The Location `(owner, id)` as the hub holds it (a 2.1.1 Session or CDR embeds it)."""
    tariffs: Callable[[PartyRef], Mapping[str, v221.Tariff]] = _no_tariffs
    """A CPO's Tariffs by id (a 2.1.1 connector names one tariff, 2.2.1 several)."""
    driver: Callable[[str], v221.CdrToken | None] = _no_driver
    """The token of a contract id (a 2.1.1 Session or CDR names only the contract)."""
    sessions: Callable[[v221.CDR], list[str]] = _no_sessions
    """The ids of the sessions the hub holds that a CDR (as 2.2.1, without session_id) can be
    of: same CPO, Location, EVSE, connector and token, started when the CDR starts (a 2.1.1
    CDR does not name its session)."""


NOWHERE = Situation()

Convert = Callable[[Any, Situation], Translated[Any]]


def _plain(convert: Callable[[Any], Translated[Any]]) -> Convert:
    """A translation that needs no context."""

    def run(value: Any, situation: Situation) -> Translated[Any]:
        return convert(value)

    return run


@dataclass(frozen=True)
class Codec:
    """How one kind of object goes between a version and the pivot."""

    model: Any
    """The version's model (a pydantic model or an enum): what a member of that version must
    send."""
    """The version's model: what a member of that version must send."""
    down: Convert
    """The version's object (an instance of `model`) -> a pivot object."""
    pivot: type[BaseModel]
    """The pivot's model of the same object."""
    up: Convert
    """A pivot object (an instance of `pivot`) -> the version's object."""


def _codecs(codecs: Mapping[str, tuple[Any, Any, Any, Any]]) -> dict[str, Codec]:
    """Codecs of translations that need no context."""
    return {
        kind: Codec(model, _plain(down), pivot, _plain(up))
        for kind, (model, down, pivot, up) in codecs.items()
    }


HubCredentials = Callable[[v221.Credentials, Sequence[dict[str, Any]]], Translated[Any]]
"""The hub's pivot credentials and the parties reachable through it (CredentialsRole JSON
objects) -> the hub's credentials as a member of the version reads them."""


@dataclass(frozen=True)
class VersionAdapter:
    """What the hub needs to serve members of one version other than the pivot."""

    version: str
    credentials: type[BaseModel]
    """The version's Credentials model (what its members POST and PUT)."""
    credentials_down: Convert
    """Their credentials as 2.2.1 (for 2.1.1 the Situation names the party's role)."""
    hub_credentials: HubCredentials
    codecs: Mapping[str, Codec] = field(default_factory=dict)


def _as(
    model: type[BaseModel], convert: Callable[[Any], Translated[Any]]
) -> Callable[[Any], Translated[Any]]:
    """A PATCH translation used for a whole EVSE or Connector: the same rules on the fields
    it carries (a whole object sets them all), read back as the whole object's model."""

    def run(value: Any) -> Translated[Any]:
        result = convert(value)
        data = result.value.model_dump(exclude_unset=True, exclude_none=True)
        return Translated(model.model_validate(data), result.lost)

    return run


def _hub_credentials_v230(
    credentials: v221.Credentials, reachable: Sequence[dict[str, Any]]
) -> Translated[Any]:
    roles = [v230.CredentialsRole.model_validate(role) for role in reachable]
    return t230.credentials_to_v230(credentials, roles)


V230 = VersionAdapter(
    "2.3.0",
    v230.Credentials,
    _plain(t230.credentials_to_v221),
    _hub_credentials_v230,
    _codecs(
        {
            "location": (
                v230.Location,
                t230.location_to_v221,
                v221.Location,
                t230.location_to_v230,
            ),
            "evse": (
                v230.EVSE,
                _as(v221.EVSE, t230.evse_patch_to_v221),
                v221.EVSE,
                _as(v230.EVSE, t230.evse_patch_to_v230),
            ),
            "connector": (
                v230.Connector,
                _as(v221.Connector, t230.connector_patch_to_v221),
                v221.Connector,
                _as(v230.Connector, t230.connector_patch_to_v230),
            ),
            "location_patch": (
                v230.LocationPatch,
                t230.location_patch_to_v221,
                v221.LocationPatch,
                t230.location_patch_to_v230,
            ),
            "evse_patch": (
                v230.EVSEPatch,
                t230.evse_patch_to_v221,
                v221.EVSEPatch,
                t230.evse_patch_to_v230,
            ),
            "connector_patch": (
                v230.ConnectorPatch,
                t230.connector_patch_to_v221,
                v221.ConnectorPatch,
                t230.connector_patch_to_v230,
            ),
            "tariff": (v230.Tariff, t230.tariff_to_v221, v221.Tariff, t230.tariff_to_v230),
            "token": (v230.Token, t230.token_to_v221, v221.Token, t230.token_to_v230),
            "token_patch": (
                v230.TokenPatch,
                t230.token_patch_to_v221,
                v221.TokenPatch,
                t230.token_patch_to_v230,
            ),
            "session": (v230.Session, t230.session_to_v221, v221.Session, t230.session_to_v230),
            "session_patch": (
                v230.SessionPatch,
                t230.session_patch_to_v221,
                v221.SessionPatch,
                t230.session_patch_to_v230,
            ),
            "cdr": (v230.CDR, t230.cdr_to_v221, v221.CDR, t230.cdr_to_v230),
            "start_session": (
                v230.StartSession,
                t230.start_session_to_v221,
                v221.StartSession,
                t230.start_session_to_v230,
            ),
            "reserve_now": (
                v230.ReserveNow,
                t230.reserve_now_to_v221,
                v221.ReserveNow,
                t230.reserve_now_to_v230,
            ),
            "authorization_info": (
                v230.AuthorizationInfo,
                t230.authorization_info_to_v221,
                v221.AuthorizationInfo,
                t230.authorization_info_to_v230,
            ),
            "client_info": (
                v230.ClientInfo,
                t230.client_info_to_v221,
                v221.ClientInfo,
                t230.client_info_to_v230,
            ),
        }
    ),
)

# --- 2.1.1 ---------------------------------------------------------------------------------
V211_COMMAND_TIMEOUT = 60
"""The `timeout` (seconds) the hub promises a 2.2.1/2.3.0 eMSP for a 2.1.1 CPO's command:
2.1.1's answer has none, and 2.2.1 requires one. A minute covers a Charge Point's OCPP round
trip over a slow mobile link (the 2.1.1 flow examples) with room for the CPO's own queue."""


def _owner(situation: Situation, path: str) -> PartyRef:
    if situation.owner is None:
        raise Untranslatable(path, "the owner of this 2.1.1 object is not known")
    return situation.owner


def _embedded(situation: Situation, owner: PartyRef, location_id: str) -> v221.Location:
    found = situation.location(owner, location_id)
    if found is None:
        raise Untranslatable(
            "location_id",
            f"2.1.1 embeds the Location, and the hub holds no Location {location_id!r} of "
            f"{owner} (CPOs broadcast their Locations through the hub)",
        )
    return found


def _driver(situation: Situation, contract_id: str) -> v221.CdrToken:
    found = situation.driver(contract_id)
    if found is None:
        raise Untranslatable(
            "auth_id",
            f"2.1.1 names the driver by contract id only, and the hub holds no Token with "
            f"contract_id {contract_id!r} (eMSPs broadcast their Tokens through the hub), so "
            "which eMSP this is for cannot be told",
        )
    return found


def _location_up(location: v221.Location, situation: Situation) -> Translated[Any]:
    owner = PartyRef(location.country_code, location.party_id)
    return t211.location_to_v211(location, tariffs=situation.tariffs(owner))


def _location_down(location: v211.Location, situation: Situation) -> Translated[Any]:
    owner = _owner(situation, "country_code")
    return t211.location_to_v221(location, country_code=owner.country_code, party_id=owner.party_id)


def _part_up(convert: Callable[..., Translated[Any]]) -> Convert:
    """An EVSE, a connector or a PATCH of a Location: the owner's Tariffs from the URL's."""

    def run(value: Any, situation: Situation) -> Translated[Any]:
        owner = situation.owner
        return convert(value, tariffs=situation.tariffs(owner) if owner else None)

    return run


def _stamped(convert: Callable[..., Translated[Any]]) -> Convert:
    """A 2.1.1 PATCH down: `last_updated` when it has none is the time it was received."""

    def run(value: Any, situation: Situation) -> Translated[Any]:
        return convert(value, last_updated=situation.received)

    return run


def _owned(convert: Callable[..., Translated[Any]]) -> Convert:
    """A 2.1.1 object down, owned by the party that sent it (its Token's owner for a command)."""

    def run(value: Any, situation: Situation) -> Translated[Any]:
        owner = _owner(situation, "country_code")
        return convert(value, country_code=owner.country_code, party_id=owner.party_id)

    return run


def _session_up(session: v221.Session, situation: Situation) -> Translated[Any]:
    owner = PartyRef(session.country_code, session.party_id)
    return t211.session_to_v211(session, location=_embedded(situation, owner, session.location_id))


def _session_down(session: v211.Session, situation: Situation) -> Translated[Any]:
    owner = _owner(situation, "country_code")
    return t211.session_to_v221(
        session,
        country_code=owner.country_code,
        party_id=owner.party_id,
        cdr_token=_driver(situation, session.auth_id),
    )


def _session_patch_up(patch: Any, situation: Situation) -> Translated[Any]:
    location_id = getattr(patch, "location_id", None)
    location = None
    if location_id is not None and situation.owner is not None:
        location = situation.location(situation.owner, location_id)
    return t211.session_patch_to_v211(patch, location=location)


def _session_patch_down(patch: Any, situation: Situation) -> Translated[Any]:
    auth_id = getattr(patch, "auth_id", None)
    driver = _driver(situation, auth_id) if auth_id is not None else None
    return t211.session_patch_to_v221(patch, cdr_token=driver, last_updated=situation.received)


def _cdr_up(cdr: v221.CDR, situation: Situation) -> Translated[Any]:
    owner = PartyRef(cdr.country_code, cdr.party_id)
    return t211.cdr_to_v211(cdr, location=_embedded(situation, owner, cdr.cdr_location.id))


def _cdr_down(cdr: v211.CDR, situation: Situation) -> Translated[Any]:
    owner = _owner(situation, "country_code")
    carried = t211.cdr_to_v221(
        cdr,
        country_code=owner.country_code,
        party_id=owner.party_id,
        cdr_token=_driver(situation, cdr.auth_id),
    )
    return _with_session(carried, situation)


def _with_session(carried: Translated[v221.CDR], situation: Situation) -> Translated[Any]:
    """A 2.1.1 CDR names no session; 2.2.1's `session_id` is optional, but eMSPs file CDRs by
    it. The hub fills it from its copies of the CPO's Sessions when exactly one matches, and
    otherwise leaves it out with a note (docs/hub.md "Members on other OCPI versions")."""
    cdr = carried.value
    matches = situation.sessions(cdr)
    if len(matches) == 1:
        return Translated(cdr.model_copy(update={"session_id": matches[0]}), carried.lost)
    why = "no" if not matches else f"{len(matches)}"
    loss = Loss(
        "session_id",
        f"2.1.1 names no session, and {why} Session(s) the hub holds match this CDR (CPO, "
        "Location, EVSE, connector, token, start), so it is left out",
    )
    return Translated(cdr, (*carried.lost, loss))


def _authorization_down(info: v211.AuthorizationInfo, situation: Situation) -> Translated[Any]:
    if situation.token is None:
        raise Untranslatable("token", "the hub holds no copy of the Token this answer is for")
    return t211.authorization_info_to_v221(info, token=situation.token)


def _command_response_down(
    answer: v211.CommandResponseType, situation: Situation
) -> Translated[Any]:
    return t211.command_response_to_v221(answer, timeout=V211_COMMAND_TIMEOUT)


def _no_cancel(value: Any, situation: Situation) -> Translated[Any]:
    raise Untranslatable(
        "command",
        "2.1.1 has no CANCEL_RESERVATION (a 2.1.1 reservation is replaced by a new "
        "RESERVE_NOW, never cancelled)",
    )


def _credentials_down_v211(credentials: v211.Credentials, situation: Situation) -> Translated[Any]:
    if situation.role is None:
        raise Untranslatable("role", "2.1.1 credentials name no role, and none is known")
    return t211.credentials_to_v221(credentials, role=situation.role)


def _hub_credentials_v211(
    credentials: v221.Credentials, reachable: Sequence[dict[str, Any]]
) -> Translated[Any]:
    # The hub's own party (2.1.1 credentials name one party and no role).
    return t211.credentials_to_v211(credentials)


V211 = VersionAdapter(
    "2.1.1",
    v211.Credentials,
    _credentials_down_v211,
    _hub_credentials_v211,
    {
        "location": Codec(v211.Location, _location_down, v221.Location, _location_up),
        "evse": Codec(v211.EVSE, _plain(t211.evse_to_v221), v221.EVSE, _part_up(t211.evse_to_v211)),
        "connector": Codec(
            v211.Connector,
            _plain(t211.connector_to_v221),
            v221.Connector,
            _part_up(t211.connector_to_v211),
        ),
        "location_patch": Codec(
            v211.LocationPatch,
            _stamped(t211.location_patch_to_v221),
            v221.LocationPatch,
            _part_up(t211.location_patch_to_v211),
        ),
        "evse_patch": Codec(
            v211.EVSEPatch,
            _stamped(t211.evse_patch_to_v221),
            v221.EVSEPatch,
            _part_up(t211.evse_patch_to_v211),
        ),
        "connector_patch": Codec(
            v211.ConnectorPatch,
            _stamped(t211.connector_patch_to_v221),
            v221.ConnectorPatch,
            _part_up(t211.connector_patch_to_v211),
        ),
        "tariff": Codec(
            v211.Tariff, _owned(t211.tariff_to_v221), v221.Tariff, _plain(t211.tariff_to_v211)
        ),
        "token": Codec(
            v211.Token, _owned(t211.token_to_v221), v221.Token, _plain(t211.token_to_v211)
        ),
        "token_patch": Codec(
            v211.TokenPatch,
            _stamped(t211.token_patch_to_v221),
            v221.TokenPatch,
            _plain(t211.token_patch_to_v211),
        ),
        "session": Codec(v211.Session, _session_down, v221.Session, _session_up),
        "session_patch": Codec(
            v211.SessionPatch, _session_patch_down, v221.SessionPatch, _session_patch_up
        ),
        "cdr": Codec(v211.CDR, _cdr_down, v221.CDR, _cdr_up),
        "start_session": Codec(
            v211.StartSession,
            _owned(t211.start_session_to_v221),
            v221.StartSession,
            _plain(t211.start_session_to_v211),
        ),
        "reserve_now": Codec(
            v211.ReserveNow,
            _owned(t211.reserve_now_to_v221),
            v221.ReserveNow,
            _plain(t211.reserve_now_to_v211),
        ),
        "stop_session": Codec(
            v211.StopSession,
            _plain(t211.stop_session_to_v221),
            v221.StopSession,
            _plain(t211.stop_session_to_v211),
        ),
        "unlock_connector": Codec(
            v211.UnlockConnector,
            _plain(t211.unlock_connector_to_v221),
            v221.UnlockConnector,
            _plain(t211.unlock_connector_to_v211),
        ),
        "cancel_reservation": Codec(
            v221.CancelReservation, _no_cancel, v221.CancelReservation, _no_cancel
        ),
        "command_response": Codec(
            v211.CommandResponseType,
            _command_response_down,
            v221.CommandResponse,
            _plain(t211.command_response_to_v211),
        ),
        "command_result": Codec(
            v211.CommandResponse,
            _plain(t211.command_result_to_v221),
            v221.CommandResult,
            _plain(t211.command_result_to_v211),
        ),
        "location_references": Codec(
            v211.LocationReferences,
            _plain(t211.location_references_to_v221),
            v221.LocationReferences,
            _plain(t211.location_references_to_v211),
        ),
        "authorization_info": Codec(
            v211.AuthorizationInfo,
            _authorization_down,
            v221.AuthorizationInfo,
            _plain(t211.authorization_info_to_v211),
        ),
    },
)

V211_MODULES: tuple[ModuleID, ...] = (
    ModuleID.CDRS,
    ModuleID.COMMANDS,
    ModuleID.LOCATIONS,
    ModuleID.SESSIONS,
    ModuleID.TARIFFS,
    ModuleID.TOKENS,
)
"""The functional modules 2.1.1 has (no chargingprofiles, no hubclientinfo)."""

_V211_OWNED = {
    ModuleID.LOCATIONS: Role.CPO,
    ModuleID.TARIFFS: Role.CPO,
    ModuleID.SESSIONS: Role.CPO,
    ModuleID.CDRS: Role.CPO,
    ModuleID.TOKENS: Role.EMSP,
    ModuleID.COMMANDS: Role.EMSP,
}
"""Per 2.1.1 module, the role that calls the other's receiving end (pushes objects, sends
commands): the other role offers that end."""


def v211_interface(module: ModuleID, role: Role) -> InterfaceRole:
    """The interface a 2.1.1 party of `role` implements for `module`: 2.1.1 endpoints name
    none, as each module has one interface per role (a CPO's locations endpoint is the
    Sender's, an eMSP's the Receiver's; a CPO's commands endpoint the Receiver's)."""
    pushes = _V211_OWNED.get(module) == role
    return InterfaceRole.SENDER if pushes else InterfaceRole.RECEIVER


def v211_hub_interface(module: ModuleID, role: Role) -> InterfaceRole:
    """The hub's interface a 2.1.1 party of `role` calls at `/ocpi/2.1.1/{module}`: the one
    opposite its own (a CPO pushes Locations to the hub's Receiver, reads Tokens from its
    Sender)."""
    own = v211_interface(module, role)
    return InterfaceRole.RECEIVER if own == InterfaceRole.SENDER else InterfaceRole.SENDER


def module_url(version: str, interface: InterfaceRole, module: str) -> str:
    """The path of the hub's `module` interface for members of `version`: 2.1.1 has one URL
    per module (the caller's role tells the interface), later versions one per interface."""
    if version == V211.version:
        return f"/ocpi/{version}/{module}"
    return f"/ocpi/{version}/{interface.value.lower()}/{module}"


ADAPTERS: dict[str, VersionAdapter] = {V230.version: V230, V211.version: V211}
"""Every version the hub speaks besides the pivot."""


def _number(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


VERSIONS: tuple[str, ...] = tuple(sorted((PIVOT, *ADAPTERS), key=_number))
"""The versions the hub offers, oldest first (the order its versions endpoint lists them)."""

NEWEST_FIRST: tuple[str, ...] = tuple(v for v in reversed(VERSIONS) if v != V211.version)
"""The order in which the hub-initiated handshake looks for a version both sides speak. Not
2.1.1: its credentials name no role, and the hub-initiated handshake has no invitation to
take the role from (docs/hub.md "Members on OCPI 2.1.1")."""

PIVOT_FIRST: tuple[str, ...] = (PIVOT, *(v for v in VERSIONS if v != PIVOT))
"""The order of the routed URLs: 2.2.1's first, as they carry nearly all the traffic."""

_OBJECT_KINDS = {
    ModuleID.LOCATIONS: "location",
    ModuleID.TARIFFS: "tariff",
    ModuleID.TOKENS: "token",
    ModuleID.SESSIONS: "session",
    ModuleID.CDRS: "cdr",
}
_LOCATION_PARTS = ("location", "evse", "connector")
_COMMAND_KINDS = {
    "START_SESSION": "start_session",
    "RESERVE_NOW": "reserve_now",
    "STOP_SESSION": "stop_session",
    "UNLOCK_CONNECTOR": "unlock_connector",
    "CANCEL_RESERVATION": "cancel_reservation",
}


def request_kind(
    module: ModuleID, interface: InterfaceRole, method: str, segments: Sequence[str]
) -> str | None:
    """The object a request's body carries, or None when it carries none that versions
    disagree on (a charging profile...). A CommandResult (POSTed to a response_url the hub
    handed out) is the caller's to name: "command_result"."""
    if module == ModuleID.TOKENS and interface == InterfaceRole.SENDER:
        authorize = method == "POST" and len(segments) >= 2 and segments[1] == "authorize"
        return "location_references" if authorize else None
    if interface == InterfaceRole.RECEIVER:
        if module == ModuleID.CDRS:
            return "cdr" if method == "POST" else None
        if method not in ("PUT", "PATCH"):
            if module == ModuleID.COMMANDS and method == "POST" and segments:
                return _COMMAND_KINDS.get(segments[0].upper())
            return None
        suffix = "_patch" if method == "PATCH" else ""
        if module == ModuleID.LOCATIONS and 3 <= len(segments) <= 5:
            return _LOCATION_PARTS[len(segments) - 3] + suffix
        if module in (ModuleID.TOKENS, ModuleID.SESSIONS) and len(segments) == 3:
            return _OBJECT_KINDS[module] + suffix
        if module == ModuleID.TARIFFS and method == "PUT" and len(segments) == 3:
            return "tariff"
    return None


def response_kind(
    module: ModuleID, interface: InterfaceRole, method: str, segments: Sequence[str]
) -> tuple[str, bool] | None:
    """The object (and whether a list of them) an answer's `data` carries, or None."""
    if method == "POST":
        if module == ModuleID.TOKENS and interface == InterfaceRole.SENDER:
            return ("authorization_info", False) if len(segments) >= 2 else None
        if module == ModuleID.COMMANDS and interface == InterfaceRole.RECEIVER and segments:
            return ("command_response", False)
        return None
    if method != "GET" or module not in _OBJECT_KINDS:
        return None
    kind = _OBJECT_KINDS[module]
    if interface == InterfaceRole.SENDER:
        if not segments:
            return (kind, True)
        if module == ModuleID.LOCATIONS and len(segments) <= 3:
            return (_LOCATION_PARTS[len(segments) - 1], False)
        return None
    if module == ModuleID.LOCATIONS and 3 <= len(segments) <= 5:
        return (_LOCATION_PARTS[len(segments) - 3], False)
    return (kind, False) if len(segments) >= 3 or module == ModuleID.CDRS else None


def _parsed(model: type[Any], item: Copy | None) -> Any:
    if item is None:
        return None
    try:
        return model.model_validate(item.body)
    except ValidationError:
        return None


def situation_from(
    copies: Copies,
    owner: PartyRef | None,
    received: datetime | None = None,
    token: tuple[PartyRef, str, str | None] | None = None,
) -> Situation:
    """A Situation whose look-ups read the hub's copies (of the broadcast Locations, Tariffs
    and Tokens). `token` = (owner, uid, type) of a Token an authorization answers for."""

    def location(of: PartyRef, location_id: str) -> v221.Location | None:
        found: v221.Location | None = _parsed(
            v221.Location, copies.get(ModuleID.LOCATIONS, of, location_id)
        )
        return found

    def tariffs(of: PartyRef) -> Mapping[str, v221.Tariff]:
        found = {}
        for item in copies.listing(ModuleID.TARIFFS, lambda c: c.owner == of):
            tariff = _parsed(v221.Tariff, item)
            if tariff is not None:
                found[item.object_id] = tariff
        return found

    def driver(contract_id: str) -> v221.CdrToken | None:
        # The Tokens eMSPs broadcast, by contract id; two eMSPs with one contract id: unknown.
        found = [
            body
            for body in (c.body for c in copies.listing(ModuleID.TOKENS))
            if body.get("contract_id") == contract_id
        ]
        if not found or len({(b.get("country_code"), b.get("party_id")) for b in found}) > 1:
            return None
        first = found[0]
        try:
            return v221.CdrToken.model_validate(
                {key: first.get(key) for key in v221.CdrToken.model_fields}
            )
        except ValidationError:
            return None

    def sessions(cdr: v221.CDR) -> list[str]:
        of = PartyRef(cdr.country_code, cdr.party_id)
        place = cdr.cdr_location
        token = cdr.cdr_token
        candidates = []
        for item in copies.listing(ModuleID.SESSIONS, lambda c: c.owner == of):
            session = _parsed(v221.Session, item)
            if (
                session is not None
                and session.location_id == place.id
                and session.evse_uid == place.evse_uid
                and session.connector_id == place.connector_id
                and (session.cdr_token.uid, session.cdr_token.type) == (token.uid, token.type)
                and session.cdr_token.contract_id == token.contract_id
            ):
                candidates.append(session)
        # Started when the CDR starts; else the one session running when the CDR starts (a
        # CPO may date its CDR from the first charging period, not the session's start).
        exact = [s.id for s in candidates if s.start_date_time == cdr.start_date_time]
        if exact:
            return exact
        return [
            s.id
            for s in candidates
            if s.start_date_time <= cdr.start_date_time
            and (s.end_date_time is None or cdr.start_date_time <= s.end_date_time)
        ]

    asked = None
    if token is not None:
        of, uid, token_type = token
        asked = _parsed(v221.Token, copies.get(ModuleID.TOKENS, of, token_key(uid, token_type)))
    return Situation(
        owner=owner,
        received=received,
        token=asked,
        location=location,
        tariffs=tariffs,
        driver=driver,
        sessions=sessions,
    )


def adapter(version: str) -> VersionAdapter | None:
    """The adapter of a version other than the pivot (None for the pivot itself)."""
    return ADAPTERS.get(version)


def _validate(model: Any, data: Any, version: str) -> Any:
    try:
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate(data)
        return TypeAdapter(model).validate_python(data)
    except ValidationError as exc:
        raise InvalidParameters(
            f"not a valid OCPI {version} {model.__name__}: {describe_errors(exc.errors())}"
        ) from None


def _wire(value: Any) -> Any:
    """A translated object as its JSON value (only the fields it holds)."""
    if isinstance(value, Enum):
        return value.value
    assert isinstance(value, BaseModel)
    return value.model_dump(mode="json", exclude_unset=True, exclude_none=True)


def carry(
    kind: str, data: Any, source: str, target: str, situation: Situation = NOWHERE
) -> Translated[Any]:
    """The JSON value of a `kind` object of version `source`, as version `target` writes it,
    through the pivot. InvalidParameters (2001) when it is not a valid object of the version
    it is said to be; Untranslatable when it cannot be carried. Losses are noted with the
    version step they happened in (``2.3.0 → 2.2.1: evses.0.parking: ...``)."""
    if source == target:
        return Translated(data)
    lost: list[Loss] = []
    value = data
    down = ADAPTERS[source].codecs.get(kind) if source != PIVOT else None
    if down is not None:
        result = down.down(_validate(down.model, value, source), situation)
        lost += [Loss(f"{source} → {PIVOT}: {loss.path}", loss.reason) for loss in result.lost]
        value = _wire(result.value)
    up = ADAPTERS[target].codecs.get(kind) if target != PIVOT else None
    if up is not None:
        result = up.up(_validate(up.pivot, value, PIVOT), situation)
        lost += [Loss(f"{PIVOT} → {target}: {loss.path}", loss.reason) for loss in result.lost]
        value = _wire(result.value)
    return Translated(value, tuple(lost))


def carry_list(
    kind: str, items: Any, source: str, target: str, situation: Situation = NOWHERE
) -> Translated[list[Any]]:
    """A list of objects (a page of a Sender's list): an item that cannot be carried, or is
    not a valid object, is left out with a note; the others are carried."""
    if not isinstance(items, list):
        raise InvalidParameters(f"expected a list of {kind} objects")
    carried: list[Any] = []
    lost: list[Loss] = []
    for index, item in enumerate(items):
        try:
            result = carry(kind, item, source, target, situation)
        except (Untranslatable, InvalidParameters) as exc:
            lost.append(Loss(str(index), f"left out: {reason(exc)}"))
            continue
        carried.append(result.value)
        lost += [Loss(f"{index}.{loss.path}", loss.reason) for loss in result.lost]
    return Translated(carried, tuple(lost))


def loss_note(source: str, target: str, lost: Sequence[Loss], limit: int = 2000) -> str:
    """The message-log note of a translated message that lost something (empty: nothing)."""
    if not lost:
        return ""
    text = f"translated OCPI {source} → {target}; lost: " + "; ".join(str(loss) for loss in lost)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cannot_carry(source: str, target: str, exc: Untranslatable | InvalidParameters) -> str:
    """The 2001 message for a message one side's version cannot carry."""
    return (
        f"this message cannot be carried from OCPI {source} to {target} without changing its "
        f"meaning: {reason(exc)}"
    )


def reason(exc: Untranslatable | InvalidParameters) -> str:
    """Why an object could not be carried, in words (without a status code)."""
    return exc.message if isinstance(exc, InvalidParameters) else str(exc)


def dumps(value: Any) -> bytes:
    """A translated body as sent on the wire (compact, as the hub re-serialises bodies)."""
    return json.dumps(value, separators=(",", ":")).encode()
