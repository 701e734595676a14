"""Which OCPI version a member platform speaks, and how its 2.2.1 core is carried to it.

The mock platforms are written against OCPI 2.2.1. A `VersionAdapter` says what another
version changes at their edge: the version number and paths they publish, the Credentials
object of the handshake, and every functional object (`ObjectKind`) both ways through
`ocpi.translate`. `exchange()` tells which object a request or response body carries, from the
module, the interface role of the server, the method and the path below the module's URL.
`adapter_for("2.3.0")` gives the adapter of a version; a new version is one more subclass.
2.1.1 (`V211Adapter`) also needs the platform's own role and state (`V211Context`: its
Locations and Tariffs, its drivers' tokens) and, per message, the party that owns an inbound
object (`MessageContext`), which 2.1.1 objects do not name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from ocpi import v211, v221, v230
from ocpi.headers import PartyRef
from ocpi.translate import v211 as to211
from ocpi.translate import v230 as to230
from ocpi.translate.notes import Loss, Translated, Untranslatable
from ocpi.v221.types import OcpiModel, Role
from ocpi.v221.versions import Endpoint, InterfaceRole, ModuleID

__all__ = [
    "SUPPORTED_VERSIONS",
    "Carried",
    "Exchange",
    "MessageContext",
    "ObjectKind",
    "PeerCredentials",
    "V211Adapter",
    "V211Context",
    "V221Adapter",
    "V230Adapter",
    "VersionAdapter",
    "adapter_for",
    "driver_with",
    "exchange",
    "peer_role",
]


class ObjectKind(StrEnum):
    """The functional objects whose shape differs between versions (the others pass as is)."""

    LOCATION = "Location"
    EVSE = "EVSE"
    CONNECTOR = "Connector"
    LOCATION_PATCH = "Location PATCH"
    EVSE_PATCH = "EVSE PATCH"
    CONNECTOR_PATCH = "Connector PATCH"
    TARIFF = "Tariff"
    TARIFF_PATCH = "Tariff PATCH"
    SESSION = "Session"
    SESSION_PATCH = "Session PATCH"
    CDR = "CDR"
    TOKEN = "Token"
    TOKEN_PATCH = "Token PATCH"
    AUTHORIZATION_INFO = "AuthorizationInfo"
    START_SESSION = "StartSession"
    RESERVE_NOW = "ReserveNow"
    STOP_SESSION = "StopSession"
    UNLOCK_CONNECTOR = "UnlockConnector"
    COMMAND_RESPONSE = "CommandResponse"
    COMMAND_RESULT = "CommandResult"
    LOCATION_REFERENCES = "LocationReferences"
    CLIENT_INFO = "ClientInfo"


@dataclass(frozen=True)
class Carried:
    """What one body carries: an object, or (`many`) a list of them."""

    kind: ObjectKind
    many: bool = False


@dataclass(frozen=True)
class Exchange:
    """The objects of one request: in its body, and in the `data` of its answer."""

    request: Carried | None = None
    response: Carried | None = None


NOTHING = Exchange()

_OBJECT_AT_DEPTH = {
    1: (ObjectKind.LOCATION, ObjectKind.LOCATION_PATCH),
    2: (ObjectKind.EVSE, ObjectKind.EVSE_PATCH),
    3: (ObjectKind.CONNECTOR, ObjectKind.CONNECTOR_PATCH),
}
_RECEIVER_OBJECTS = {
    ModuleID.TARIFFS: (ObjectKind.TARIFF, ObjectKind.TARIFF_PATCH),
    ModuleID.SESSIONS: (ObjectKind.SESSION, ObjectKind.SESSION_PATCH),
    ModuleID.TOKENS: (ObjectKind.TOKEN, ObjectKind.TOKEN_PATCH),
    ModuleID.CDRS: (ObjectKind.CDR, None),
    ModuleID.HUBCLIENTINFO: (ObjectKind.CLIENT_INFO, None),
}
_SENDER_LISTS = {
    ModuleID.LOCATIONS: ObjectKind.LOCATION,
    ModuleID.TARIFFS: ObjectKind.TARIFF,
    ModuleID.SESSIONS: ObjectKind.SESSION,
    ModuleID.CDRS: ObjectKind.CDR,
    ModuleID.TOKENS: ObjectKind.TOKEN,
    ModuleID.HUBCLIENTINFO: ObjectKind.CLIENT_INFO,
}
_COMMANDS = {
    "START_SESSION": ObjectKind.START_SESSION,
    "RESERVE_NOW": ObjectKind.RESERVE_NOW,
    "STOP_SESSION": ObjectKind.STOP_SESSION,
    "UNLOCK_CONNECTOR": ObjectKind.UNLOCK_CONNECTOR,
}


def exchange(
    module: ModuleID | str, role: InterfaceRole, method: str, segments: Sequence[str]
) -> Exchange:
    """The objects a request to a `role` interface of `module` carries; `segments` is the
    path below the interface's URL (spec: each module's "Interfaces and endpoints")."""
    depth = len(segments)
    if module == ModuleID.COMMANDS:
        # Receiver: POST {url}/{command}, answered with a CommandResponse. Sender: the
        # CommandResult POSTed to a response_url below its URL (spec mod_commands).
        if role is InterfaceRole.RECEIVER and method == "POST" and depth == 1:
            kind = _COMMANDS.get(segments[0].upper())
            if kind is None:
                return NOTHING
            return Exchange(Carried(kind), Carried(ObjectKind.COMMAND_RESPONSE))
        if role is InterfaceRole.SENDER and method == "POST":
            return Exchange(request=Carried(ObjectKind.COMMAND_RESULT))
        return NOTHING
    if role is InterfaceRole.SENDER:
        listed = _SENDER_LISTS.get(module) if isinstance(module, ModuleID) else None
        if method == "GET" and depth == 0 and listed is not None:
            return Exchange(response=Carried(listed, many=True))
        if module == ModuleID.LOCATIONS and method == "GET" and depth in _OBJECT_AT_DEPTH:
            return Exchange(response=Carried(_OBJECT_AT_DEPTH[depth][0]))
        if module == ModuleID.TOKENS and method == "POST" and segments[-1:] == ["authorize"]:
            return Exchange(
                Carried(ObjectKind.LOCATION_REFERENCES), Carried(ObjectKind.AUTHORIZATION_INFO)
            )
        return NOTHING
    # Receiver interfaces: objects at {url}/{country_code}/{party_id}/{id}[/…].
    if module == ModuleID.LOCATIONS and depth - 2 in _OBJECT_AT_DEPTH:
        full, patch = _OBJECT_AT_DEPTH[depth - 2]
        return _receiver(method, full, patch)
    if module == ModuleID.CDRS:
        # POST {url} creates; GET uses the URL the receiver gave in its Location header.
        if method == "POST" and depth == 0:
            return Exchange(request=Carried(ObjectKind.CDR))
        return Exchange(response=Carried(ObjectKind.CDR)) if method == "GET" and depth else NOTHING
    found = _RECEIVER_OBJECTS.get(module) if isinstance(module, ModuleID) else None
    if found is None:
        return NOTHING
    # HubClientInfo: {url}/{country_code}/{party_id}; the others name an id after those.
    if depth == (2 if module == ModuleID.HUBCLIENTINFO else 3):
        return _receiver(method, *found)
    return NOTHING


def _receiver(method: str, full: ObjectKind, patch: ObjectKind | None) -> Exchange:
    if method == "GET":
        return Exchange(response=Carried(full))
    if method == "PUT":
        return Exchange(request=Carried(full))
    if method == "PATCH" and patch is not None:
        return Exchange(request=Carried(patch))
    return NOTHING


_PEER_ROLE_OF_CPO = {
    ModuleID.LOCATIONS: InterfaceRole.RECEIVER,
    ModuleID.TARIFFS: InterfaceRole.RECEIVER,
    ModuleID.SESSIONS: InterfaceRole.RECEIVER,
    ModuleID.CDRS: InterfaceRole.RECEIVER,
    ModuleID.TOKENS: InterfaceRole.SENDER,
    ModuleID.COMMANDS: InterfaceRole.SENDER,
}
"""The peer's interface a CPO calls per module (digest §2.1); an eMSP calls the other one."""


def peer_role(module: ModuleID | str, own: Role) -> InterfaceRole | None:
    """The interface role of the peer's `module` that a platform of role `own` calls."""
    role = _PEER_ROLE_OF_CPO.get(module) if isinstance(module, ModuleID) else None
    if role is None or own is Role.CPO:
        return role
    if own is Role.EMSP:
        return InterfaceRole.SENDER if role is InterfaceRole.RECEIVER else InterfaceRole.RECEIVER
    return None


@dataclass(frozen=True)
class MessageContext:
    """What one message says about its objects outside their body.

    `owner`: the party an inbound object belongs to: the country code and party id of a
    receiver URL, else the peer's party (2.1.1 objects do not name their owner).
    `object_id`: the id a receiver URL names after the owner.
    `token_uid`, `token_type`: the Token an authorization (URL {uid}/authorize?type=) is about.
    """

    owner: PartyRef | None = None
    object_id: str | None = None
    token_uid: str | None = None
    token_type: str | None = None


NO_CONTEXT = MessageContext()


@dataclass(frozen=True)
class PeerCredentials:
    """A peer's Credentials as the 2.2.1 core keeps them, plus the hub it names (2.3.0
    `hub_party_id`; for 2.2.1 the HUB role, which stays in `credentials.roles`)."""

    credentials: v221.Credentials
    hub_party: PartyRef | None = None
    lost: tuple[Loss, ...] = ()


_VERSIONS = TypeAdapter(list[v230.Version])


class VersionAdapter(ABC):
    """One OCPI version a member platform can speak, seen from its 2.2.1 core."""

    number: str
    """The version as published, e.g. "2.3.0"."""

    routing_headers = True
    """Whether the version has the message routing headers (2.1.1 has none)."""
    token_type_in_url = True
    """Whether a Token receiver URL names the token's type (`?type=`); 2.1.1's do not, so the
    type the body gives (or, for a PATCH without one, the held token's) is the one the 2.2.1
    core's URL names."""

    def held_token_type(self, uid: str) -> str | None:
        """The type of the one token with this uid the platform holds (None: unknown)."""
        return None

    patched_whole: frozenset[ObjectKind] = frozenset()
    """PATCHes the version has and 2.2.1 has not (2.1.1 Tariffs): `down` gives the whole
    patched object, which the core gets as a PUT; other versions leave them to the core."""

    @property
    def translates(self) -> bool:
        """Whether objects change shape at the edge (False for 2.2.1 itself)."""
        return self.number != "2.2.1"

    def serves(self, module: ModuleID | str) -> bool:
        """Whether the version has `module` (the platform's other interfaces are not served)."""
        return True

    def status_code_out(self, code: int) -> Translated[int]:
        """A 2.2.1 status code of the core's answer as this version's."""
        return Translated(code)

    def served_path(self, path: str) -> str:
        """The path this version's interface has where the 2.2.1 core serves `path`: the
        segment "2.2.1" becomes this version's number (e.g. /ocpi/cpo/2.3.0/locations)."""
        return "/".join(self.number if part == "2.2.1" else part for part in path.split("/"))

    def versions(self, details_url: str) -> list[Any]:
        """The data of GET versions: this version only, its details at `details_url`."""
        return [v230.Version(version=self.number, url=details_url).to_json()]

    def details(self, endpoints: Sequence[Endpoint]) -> dict[str, Any]:
        return v230.VersionDetails(version=self.number, endpoints=list(endpoints)).to_json()

    def offered(self, data: Any) -> dict[str, str]:
        """A peer's versions list read as {version: details URL} (ValueError: invalid)."""
        return {str(item.version): item.url for item in _VERSIONS.validate_python(data)}

    def read_details(self, data: Any) -> list[Endpoint]:
        """The endpoints of a peer's version details for this version (ValueError: invalid)."""
        details = v230.VersionDetails.model_validate(data)
        if str(details.version) != self.number:
            raise ValueError(f"the details are of version {details.version}, not {self.number}")
        return list(details.endpoints)

    @abstractmethod
    def credentials_out(self, own: v221.Credentials) -> dict[str, Any]:
        """Our credentials as this version's JSON."""

    @abstractmethod
    def credentials_in(self, data: Any) -> PeerCredentials:
        """A peer's credentials in this version (ValueError: invalid, Untranslatable)."""

    def model(self, kind: ObjectKind) -> type[OcpiModel]:
        """This version's model of `kind` (what `down` validates against); a peer that wants
        to judge an object before translating it (roam conformance) validates with it."""
        raise NotImplementedError(f"no {kind.value} model for OCPI {self.number}")

    @abstractmethod
    def up(
        self, kind: ObjectKind, data: Any, context: MessageContext = NO_CONTEXT
    ) -> Translated[Any]:
        """A 2.2.1 object (JSON) as this version's JSON."""

    @abstractmethod
    def down(
        self, kind: ObjectKind, data: Any, context: MessageContext = NO_CONTEXT
    ) -> Translated[Any]:
        """This version's object (JSON) as 2.2.1 JSON; pydantic's ValidationError (a
        ValueError) when it is not a valid object, Untranslatable when it cannot be carried."""


class V221Adapter(VersionAdapter):
    """OCPI 2.2.1 itself: nothing changes shape."""

    number = "2.2.1"

    def credentials_out(self, own: v221.Credentials) -> dict[str, Any]:
        return own.to_json()

    def credentials_in(self, data: Any) -> PeerCredentials:
        return PeerCredentials(v221.Credentials.model_validate(data))

    def model(self, kind: ObjectKind) -> type[OcpiModel]:
        return _V221_MODELS[kind]

    def up(
        self, kind: ObjectKind, data: Any, context: MessageContext = NO_CONTEXT
    ) -> Translated[Any]:
        return Translated(data)

    def down(
        self, kind: ObjectKind, data: Any, context: MessageContext = NO_CONTEXT
    ) -> Translated[Any]:
        return Translated(data)


_Translate = Callable[[Any], Translated[Any]]


def _full_evse_up(evse: v221.EVSE) -> Translated[v230.EVSE]:
    # 2.3.0 added to EVSE and Connector only (docs/versions.md): up is "as is".
    return Translated(v230.EVSE.model_validate(evse.model_dump(exclude_none=True)))


def _full_evse_down(evse: v230.EVSE) -> Translated[v221.EVSE]:
    patch = to230.evse_patch_to_v221(v230.EVSEPatch.model_validate(_json(evse)))
    return Translated(v221.EVSE.model_validate(_json(patch.value)), patch.lost)


def _full_connector_up(connector: v221.Connector) -> Translated[v230.Connector]:
    return Translated(v230.Connector.model_validate(connector.model_dump(exclude_none=True)))


def _full_connector_down(connector: v230.Connector) -> Translated[v221.Connector]:
    patch = to230.connector_patch_to_v221(v230.ConnectorPatch.model_validate(_json(connector)))
    return Translated(v221.Connector.model_validate(_json(patch.value)), patch.lost)


def _json(model: OcpiModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_unset=True, exclude_none=True)


@dataclass(frozen=True)
class _Pair:
    """One object kind in 2.2.1 and 2.3.0, and the translations between them."""

    v221: type[OcpiModel]
    v230: type[OcpiModel]
    up: _Translate
    down: _Translate


_V230_OBJECTS: dict[ObjectKind, _Pair] = {
    ObjectKind.LOCATION: _Pair(
        v221.Location, v230.Location, to230.location_to_v230, to230.location_to_v221
    ),
    ObjectKind.EVSE: _Pair(v221.EVSE, v230.EVSE, _full_evse_up, _full_evse_down),
    ObjectKind.CONNECTOR: _Pair(
        v221.Connector, v230.Connector, _full_connector_up, _full_connector_down
    ),
    ObjectKind.LOCATION_PATCH: _Pair(
        v221.LocationPatch,
        v230.LocationPatch,
        to230.location_patch_to_v230,
        to230.location_patch_to_v221,
    ),
    ObjectKind.EVSE_PATCH: _Pair(
        v221.EVSEPatch, v230.EVSEPatch, to230.evse_patch_to_v230, to230.evse_patch_to_v221
    ),
    ObjectKind.CONNECTOR_PATCH: _Pair(
        v221.ConnectorPatch,
        v230.ConnectorPatch,
        to230.connector_patch_to_v230,
        to230.connector_patch_to_v221,
    ),
    ObjectKind.TARIFF: _Pair(v221.Tariff, v230.Tariff, to230.tariff_to_v230, to230.tariff_to_v221),
    ObjectKind.SESSION: _Pair(
        v221.Session, v230.Session, to230.session_to_v230, to230.session_to_v221
    ),
    ObjectKind.SESSION_PATCH: _Pair(
        v221.SessionPatch,
        v230.SessionPatch,
        to230.session_patch_to_v230,
        to230.session_patch_to_v221,
    ),
    ObjectKind.CDR: _Pair(v221.CDR, v230.CDR, to230.cdr_to_v230, to230.cdr_to_v221),
    ObjectKind.TOKEN: _Pair(v221.Token, v230.Token, to230.token_to_v230, to230.token_to_v221),
    ObjectKind.TOKEN_PATCH: _Pair(
        v221.TokenPatch, v230.TokenPatch, to230.token_patch_to_v230, to230.token_patch_to_v221
    ),
    ObjectKind.AUTHORIZATION_INFO: _Pair(
        v221.AuthorizationInfo,
        v230.AuthorizationInfo,
        to230.authorization_info_to_v230,
        to230.authorization_info_to_v221,
    ),
    ObjectKind.START_SESSION: _Pair(
        v221.StartSession,
        v230.StartSession,
        to230.start_session_to_v230,
        to230.start_session_to_v221,
    ),
    ObjectKind.RESERVE_NOW: _Pair(
        v221.ReserveNow, v230.ReserveNow, to230.reserve_now_to_v230, to230.reserve_now_to_v221
    ),
    ObjectKind.CLIENT_INFO: _Pair(
        v221.ClientInfo, v230.ClientInfo, to230.client_info_to_v230, to230.client_info_to_v221
    ),
}

_V221_MODELS: dict[ObjectKind, type[OcpiModel]] = {
    **{kind: pair.v221 for kind, pair in _V230_OBJECTS.items()},
    ObjectKind.STOP_SESSION: v221.StopSession,
    ObjectKind.UNLOCK_CONNECTOR: v221.UnlockConnector,
    ObjectKind.COMMAND_RESPONSE: v221.CommandResponse,
    ObjectKind.COMMAND_RESULT: v221.CommandResult,
    ObjectKind.LOCATION_REFERENCES: v221.LocationReferences,
}
"""The 2.2.1 model of every kind 2.2.1 has (a Tariff PATCH it has not)."""


class V230Adapter(VersionAdapter):
    """OCPI 2.3.0 through `ocpi.translate.v230` (docs/versions.md, "Mock members on 2.3.0")."""

    number = "2.3.0"

    def credentials_out(self, own: v221.Credentials) -> dict[str, Any]:
        # A member's own roles (CPO, EMSP) exist in 2.3.0: carried as they are.
        return to230.credentials_to_v230(own).value.to_json()

    def credentials_in(self, data: Any) -> PeerCredentials:
        theirs = v230.Credentials.model_validate(data)
        carried = to230.credentials_to_v221(theirs)
        hub = None
        if theirs.hub_party_id is not None:
            # docs/versions.md: a member tells the hub by hub_party_id, split into the
            # country code and party id it addresses the hub with.
            hub = PartyRef(theirs.hub_party_id[:2], theirs.hub_party_id[2:])
        # hub_party_id is kept (as hub_party), so its loss is not one.
        lost = tuple(loss for loss in carried.lost if loss.path != "hub_party_id")
        return PeerCredentials(carried.value, hub, lost)

    def model(self, kind: ObjectKind) -> type[OcpiModel]:
        pair = _V230_OBJECTS.get(kind)
        return pair.v230 if pair is not None else _V221_MODELS[kind]  # unchanged in 2.3.0

    def up(
        self, kind: ObjectKind, data: Any, context: MessageContext = NO_CONTEXT
    ) -> Translated[Any]:
        pair = _V230_OBJECTS.get(kind)
        if pair is None:  # unchanged in 2.3.0 (commands' answers and results)
            return Translated(data)
        carried = pair.up(pair.v221.model_validate(data))
        return Translated(_json(carried.value), carried.lost)

    def down(
        self, kind: ObjectKind, data: Any, context: MessageContext = NO_CONTEXT
    ) -> Translated[Any]:
        pair = _V230_OBJECTS.get(kind)
        if pair is None:
            return Translated(data)
        carried = pair.down(pair.v230.model_validate(data))
        return Translated(_json(carried.value), carried.lost)


def _no_location(country_code: str, party_id: str, location_id: str) -> v221.Location | None:
    return None


def _no_tariffs(country_code: str, party_id: str) -> Mapping[str, v221.Tariff]:
    return {}


def _no_driver(auth_id: str) -> v221.CdrToken | None:
    return None


def _no_token(uid: str, token_type: str | None) -> v221.Token | None:
    return None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def driver_with(tokens: Iterable[v221.Token], contract_id: str) -> v221.CdrToken | None:
    """The first of `tokens` with `contract_id`, as a CdrToken: the driver a 2.1.1 `auth_id`
    names (a `V211Context.driver`)."""
    for token in tokens:
        if token.contract_id == contract_id:
            return v221.CdrToken(
                country_code=token.country_code,
                party_id=token.party_id,
                uid=token.uid,
                type=token.type,
                contract_id=token.contract_id,
            )
    return None


@dataclass(frozen=True)
class V211Context:
    """What 2.1.1 translations need from the platform's own state (docs/versions.md, "Mock
    members on 2.1.1"); a platform gives what its role has, the rest stays empty."""

    location: Callable[[str, str, str], v221.Location | None] = field(default=_no_location)
    """The Location (country_code, party_id, id) as the platform holds it: embedded in the
    Sessions and CDRs it sends or serves."""
    tariffs: Callable[[str, str], Mapping[str, v221.Tariff]] = field(default=_no_tariffs)
    """The Tariffs of a party by id: which one a connector with several tariff_ids keeps."""
    driver: Callable[[str], v221.CdrToken | None] = field(default=_no_driver)
    """An eMSP's own token whose contract_id is a 2.1.1 `auth_id` (as a CdrToken)."""
    token: Callable[[str, str | None], v221.Token | None] = field(default=_no_token)
    """A Token (uid, type) the platform holds: the one a CPO asked the eMSP to authorize, or
    (type None) the one token with that uid, whatever its type (2.1.1 URLs name none)."""
    now: Callable[[], datetime] = field(default=_utcnow)
    """The platform's time: the last_updated of a 2.1.1 PATCH that has none."""


V211_COMMAND_TIMEOUT = 300
"""Seconds a 2.1.1 CPO's accepted command is given in the 2.2.1 CommandResponse: 2.1.1
promises no time, so the eMSP's own command timeout (the smaller) decides."""

_V211_MODULES = frozenset(module.value for module in v211.ModuleID)
_KNOWN_MODULES = {module.value: module for module in ModuleID}


class V211Adapter(VersionAdapter):
    """OCPI 2.1.1 through `ocpi.translate.v211` (docs/versions.md, "Mock members on 2.1.1").

    2.1.1 objects name no owner and embed what 2.2.1 references, so this adapter belongs to
    one platform: its role (its credentials name that one party; the peer's endpoints, which
    have no role, are the interfaces that role calls) and its state (`V211Context`)."""

    number = "2.1.1"
    routing_headers = False
    token_type_in_url = False
    patched_whole = frozenset({ObjectKind.TARIFF_PATCH})

    def __init__(self, role: Role, context: V211Context | None = None) -> None:
        self.role = role
        self.context = context or V211Context()

    def model(self, kind: ObjectKind) -> type[OcpiModel]:
        found = _V211_MODELS.get(kind)
        if found is None:
            raise NotImplementedError(f"OCPI 2.1.1 has no {kind.value}")
        return found

    def held_token_type(self, uid: str) -> str | None:
        held = self.context.token(uid, None)
        return held.type.value if held is not None else None

    def serves(self, module: ModuleID | str) -> bool:
        return str(module) in _V211_MODULES

    def status_code_out(self, code: int) -> Translated[int]:
        return to211.status_code_to_v211(code)

    def details(self, endpoints: Sequence[Endpoint]) -> dict[str, Any]:
        """2.1.1 endpoints have no role: one per module (a platform has one interface each)."""
        chosen: dict[str, v211.Endpoint] = {}
        for endpoint in endpoints:
            module = str(endpoint.identifier)
            if self.serves(module) and module not in chosen:
                chosen[module] = v211.Endpoint(identifier=module, url=endpoint.url)
        details = {"version": self.number, "endpoints": list(chosen.values())}
        return v211.VersionDetails.model_validate(details).to_json()

    def read_details(self, data: Any) -> list[Endpoint]:
        """The peer's 2.1.1 endpoints, each in the role this platform calls it in."""
        details = v211.VersionDetails.model_validate(data)
        if str(details.version) != self.number:
            raise ValueError(f"the details are of version {details.version}, not {self.number}")
        return self.endpoints_of(details)

    def endpoints_of(self, details: v211.VersionDetails) -> list[Endpoint]:
        """The endpoints of valid 2.1.1 details, each in the role this platform calls it in."""
        endpoints = []
        for item in details.endpoints:
            module: ModuleID | str = _KNOWN_MODULES.get(str(item.identifier), str(item.identifier))
            role = peer_role(module, self.role) or InterfaceRole.SENDER
            endpoints.append(Endpoint(identifier=module, role=role, url=item.url))
        return endpoints

    def credentials_out(self, own: v221.Credentials) -> dict[str, Any]:
        return to211.credentials_to_v211(own, role=self.role).value.to_json()

    def credentials_in(self, data: Any) -> PeerCredentials:
        # The peer of a member is its hub: its one party is kept as a HUB role.
        theirs = v211.Credentials.model_validate(data)
        carried = to211.credentials_to_v221(theirs, role=Role.HUB)
        return PeerCredentials(
            carried.value, PartyRef(theirs.country_code, theirs.party_id), carried.lost
        )

    # --- objects ------------------------------------------------------------------------------
    def _location_of(self, owner: OcpiModel, location_id: str, path: str) -> v221.Location:
        country_code, party_id = _owner_of(owner)
        found = self.context.location(country_code, party_id, location_id)
        if found is None:
            raise Untranslatable(path, f"2.1.1 embeds the Location; {location_id} is not known")
        return found

    def _owner(self, context: MessageContext) -> dict[str, str]:
        if context.owner is None:
            raise Untranslatable("", "the party that owns this object is not known")
        return {"country_code": context.owner.country_code, "party_id": context.owner.party_id}

    def _driver(self, auth_id: str) -> v221.CdrToken:
        found = self.context.driver(auth_id)
        if found is None:
            raise Untranslatable("auth_id", f"no token of this platform has contract_id {auth_id}")
        return found

    def up(
        self, kind: ObjectKind, data: Any, context: MessageContext = NO_CONTEXT
    ) -> Translated[Any]:
        owner = context.owner

        def tariffs() -> Mapping[str, v221.Tariff]:
            # Of the party that owns the object: the URL's, else (a CPO's own) any party's.
            if owner is None:
                return self.context.tariffs("", "")
            return self.context.tariffs(owner.country_code, owner.party_id)

        result: Translated[Any]
        if kind is ObjectKind.LOCATION:
            location = v221.Location.model_validate(data)
            owned = self.context.tariffs(location.country_code, location.party_id)
            result = to211.location_to_v211(location, tariffs=owned)
        elif kind is ObjectKind.EVSE:
            result = to211.evse_to_v211(v221.EVSE.model_validate(data), tariffs=tariffs())
        elif kind is ObjectKind.CONNECTOR:
            result = to211.connector_to_v211(v221.Connector.model_validate(data), tariffs=tariffs())
        elif kind is ObjectKind.LOCATION_PATCH:
            patch = v221.LocationPatch.model_validate(data)
            result = to211.location_patch_to_v211(patch, tariffs=tariffs())
        elif kind is ObjectKind.EVSE_PATCH:
            patch = v221.EVSEPatch.model_validate(data)
            result = to211.evse_patch_to_v211(patch, tariffs=tariffs())
        elif kind is ObjectKind.CONNECTOR_PATCH:
            patch = v221.ConnectorPatch.model_validate(data)
            result = to211.connector_patch_to_v211(patch, tariffs=tariffs())
        elif kind is ObjectKind.TARIFF:
            result = to211.tariff_to_v211(v221.Tariff.model_validate(data))
        elif kind is ObjectKind.SESSION:
            session = v221.Session.model_validate(data)
            at = self._location_of(session, session.location_id, "location_id")
            result = to211.session_to_v211(session, location=at)
        elif kind is ObjectKind.SESSION_PATCH:
            patch = v221.SessionPatch.model_validate(data)
            moved = getattr(patch, "location_id", None)
            moved_to = self._location_of(patch, moved, "location_id") if moved else None
            result = to211.session_patch_to_v211(patch, location=moved_to)
        elif kind is ObjectKind.CDR:
            cdr = v221.CDR.model_validate(data)
            at = self._location_of(cdr, cdr.cdr_location.id, "cdr_location.id")
            result = to211.cdr_to_v211(cdr, location=at)
        elif kind is ObjectKind.TOKEN:
            result = to211.token_to_v211(v221.Token.model_validate(data))
        elif kind is ObjectKind.TOKEN_PATCH:
            result = to211.token_patch_to_v211(v221.TokenPatch.model_validate(data))
        elif kind is ObjectKind.AUTHORIZATION_INFO:
            info = v221.AuthorizationInfo.model_validate(data)
            result = to211.authorization_info_to_v211(info)
        elif kind is ObjectKind.LOCATION_REFERENCES:
            references = v221.LocationReferences.model_validate(data)
            result = to211.location_references_to_v211(references)
        elif kind is ObjectKind.START_SESSION:
            result = to211.start_session_to_v211(v221.StartSession.model_validate(data))
        elif kind is ObjectKind.RESERVE_NOW:
            result = to211.reserve_now_to_v211(v221.ReserveNow.model_validate(data))
        elif kind is ObjectKind.STOP_SESSION:
            result = to211.stop_session_to_v211(v221.StopSession.model_validate(data))
        elif kind is ObjectKind.UNLOCK_CONNECTOR:
            result = to211.unlock_connector_to_v211(v221.UnlockConnector.model_validate(data))
        elif kind is ObjectKind.COMMAND_RESPONSE:
            answer = to211.command_response_to_v211(v221.CommandResponse.model_validate(data))
            return Translated(answer.value.value, answer.lost)
        elif kind is ObjectKind.COMMAND_RESULT:
            result = to211.command_result_to_v211(v221.CommandResult.model_validate(data))
        else:
            raise Untranslatable("", f"OCPI 2.1.1 has no {kind.value}")
        return Translated(_json(result.value), result.lost)

    def down(
        self, kind: ObjectKind, data: Any, context: MessageContext = NO_CONTEXT
    ) -> Translated[Any]:
        now = self.context.now
        result: Translated[Any]
        if kind is ObjectKind.LOCATION:
            location = v211.Location.model_validate(data)
            owner = self._owner(context)
            # 2.2.1 requires a time_zone; one the 2.1.1 Location leaves out is the one held.
            held = self.context.location(owner["country_code"], owner["party_id"], location.id)
            zone = held.time_zone if held is not None else None
            result = to211.location_to_v221(location, time_zone=zone, **owner)
        elif kind is ObjectKind.EVSE:
            result = to211.evse_to_v221(v211.EVSE.model_validate(data))
        elif kind is ObjectKind.CONNECTOR:
            result = to211.connector_to_v221(v211.Connector.model_validate(data))
        elif kind is ObjectKind.LOCATION_PATCH:
            patch = v211.LocationPatch.model_validate(data)
            result = to211.location_patch_to_v221(patch, last_updated=now())
        elif kind is ObjectKind.EVSE_PATCH:
            patch = v211.EVSEPatch.model_validate(data)
            result = to211.evse_patch_to_v221(patch, last_updated=now())
        elif kind is ObjectKind.CONNECTOR_PATCH:
            patch = v211.ConnectorPatch.model_validate(data)
            result = to211.connector_patch_to_v221(patch, last_updated=now())
        elif kind is ObjectKind.TARIFF:
            tariff = v211.Tariff.model_validate(data)
            result = to211.tariff_to_v221(tariff, **self._owner(context))
        elif kind is ObjectKind.TARIFF_PATCH:
            result = self._patched_tariff(v211.TariffPatch.model_validate(data), context)
        elif kind is ObjectKind.SESSION:
            session = v211.Session.model_validate(data)
            driver = self._driver(session.auth_id)
            result = to211.session_to_v221(session, cdr_token=driver, **self._owner(context))
        elif kind is ObjectKind.SESSION_PATCH:
            patch = v211.SessionPatch.model_validate(data)
            auth_id = getattr(patch, "auth_id", None)
            result = to211.session_patch_to_v221(
                patch,
                cdr_token=self._driver(auth_id) if auth_id is not None else None,
                last_updated=now(),
            )
        elif kind is ObjectKind.CDR:
            cdr = v211.CDR.model_validate(data)
            driver = self._driver(cdr.auth_id)
            result = to211.cdr_to_v221(cdr, cdr_token=driver, **self._owner(context))
        elif kind is ObjectKind.TOKEN:
            token = v211.Token.model_validate(data)
            result = to211.token_to_v221(token, **self._owner(context))
        elif kind is ObjectKind.TOKEN_PATCH:
            patch = v211.TokenPatch.model_validate(data)
            result = to211.token_patch_to_v221(patch, last_updated=now())
        elif kind is ObjectKind.AUTHORIZATION_INFO:
            asked = self.context.token(context.token_uid or "", context.token_type)
            if asked is None:
                raise Untranslatable("token", f"the token {context.token_uid} is not known here")
            info = v211.AuthorizationInfo.model_validate(data)
            result = to211.authorization_info_to_v221(info, token=asked)
        elif kind is ObjectKind.LOCATION_REFERENCES:
            references = v211.LocationReferences.model_validate(data)
            result = to211.location_references_to_v221(references)
        elif kind is ObjectKind.START_SESSION:
            start = v211.StartSession.model_validate(data)
            result = to211.start_session_to_v221(start, **self._owner(context))
        elif kind is ObjectKind.RESERVE_NOW:
            reserve = v211.ReserveNow.model_validate(data)
            result = to211.reserve_now_to_v221(reserve, **self._owner(context))
        elif kind is ObjectKind.STOP_SESSION:
            result = to211.stop_session_to_v221(v211.StopSession.model_validate(data))
        elif kind is ObjectKind.UNLOCK_CONNECTOR:
            result = to211.unlock_connector_to_v221(v211.UnlockConnector.model_validate(data))
        elif kind is ObjectKind.COMMAND_RESPONSE:
            # The CPO's answer: a bare CommandResponseType (spec 2.1.1 mod_commands §2.1.1);
            # the CommandResponse object ({"result": …}) is taken too.
            given = data.get("result") if isinstance(data, dict) else data
            answer = _COMMAND_RESPONSE_TYPE.validate_python(given)
            result = to211.command_response_to_v221(answer, timeout=V211_COMMAND_TIMEOUT)
        elif kind is ObjectKind.COMMAND_RESULT:
            outcome = v211.CommandResponse.model_validate(data)
            result = to211.command_result_to_v221(outcome)
        else:
            raise Untranslatable("", f"OCPI 2.1.1 has no {kind.value}")
        return Translated(_json(result.value), result.lost)

    def _patched_tariff(self, patch: OcpiModel, context: MessageContext) -> Translated[Any]:
        """A 2.1.1 Tariff PATCH (mod_tariffs §2.2.3) applied to the Tariff the platform holds,
        as the whole 2.2.1 Tariff (docs/versions.md: 2.2.1 Tariffs are PUT only)."""
        owner = self._owner(context)
        held = self.context.tariffs(owner["country_code"], owner["party_id"]).get(
            context.object_id or ""
        )
        if held is None:
            raise Untranslatable("", f"there is no Tariff {context.object_id} here to patch")
        before = to211.tariff_to_v211(held)
        changes = patch.model_dump(exclude_unset=True)
        changes.setdefault("last_updated", self.context.now())
        merged = v211.Tariff.model_validate(
            {**before.value.model_dump(exclude_none=True), **changes}
        )
        after = to211.tariff_to_v221(merged, **owner)
        return Translated(after.value, (*before.lost, *after.lost))


_COMMAND_RESPONSE_TYPE = TypeAdapter(v211.CommandResponseType)


def _owner_of(model: OcpiModel) -> tuple[str, str]:
    """The owner a 2.2.1 object names ("" for a PATCH that names none)."""
    return str(getattr(model, "country_code", None) or ""), str(
        getattr(model, "party_id", None) or ""
    )


_V211_MODELS: dict[ObjectKind, type[OcpiModel]] = {
    ObjectKind.LOCATION: v211.Location,
    ObjectKind.EVSE: v211.EVSE,
    ObjectKind.CONNECTOR: v211.Connector,
    ObjectKind.LOCATION_PATCH: v211.LocationPatch,
    ObjectKind.EVSE_PATCH: v211.EVSEPatch,
    ObjectKind.CONNECTOR_PATCH: v211.ConnectorPatch,
    ObjectKind.TARIFF: v211.Tariff,
    ObjectKind.TARIFF_PATCH: v211.TariffPatch,
    ObjectKind.SESSION: v211.Session,
    ObjectKind.SESSION_PATCH: v211.SessionPatch,
    ObjectKind.CDR: v211.CDR,
    ObjectKind.TOKEN: v211.Token,
    ObjectKind.TOKEN_PATCH: v211.TokenPatch,
    ObjectKind.AUTHORIZATION_INFO: v211.AuthorizationInfo,
    ObjectKind.LOCATION_REFERENCES: v211.LocationReferences,
    ObjectKind.START_SESSION: v211.StartSession,
    ObjectKind.RESERVE_NOW: v211.ReserveNow,
    ObjectKind.STOP_SESSION: v211.StopSession,
    ObjectKind.UNLOCK_CONNECTOR: v211.UnlockConnector,
    # The CPO's answer to a command is a bare CommandResponseType (down takes both); as an
    # object, and the result at the response_url, it is a 2.1.1 CommandResponse.
    ObjectKind.COMMAND_RESPONSE: v211.CommandResponse,
    ObjectKind.COMMAND_RESULT: v211.CommandResponse,
}
"""The 2.1.1 model of every kind 2.1.1 has (no ClientInfo: no HubClientInfo module)."""


_ADAPTERS: dict[str, Callable[[Role, V211Context | None], VersionAdapter]] = {
    "2.1.1": V211Adapter,
    "2.2.1": lambda role, context: V221Adapter(),
    "2.3.0": lambda role, context: V230Adapter(),
}
SUPPORTED_VERSIONS = tuple(_ADAPTERS)
"""The versions a member platform can be configured to speak."""


def adapter_for(
    version: str, role: Role = Role.CPO, context: V211Context | None = None
) -> VersionAdapter:
    """The adapter of `version` for a platform of `role` (2.1.1 also reads the platform's
    state through `context`); ValueError naming the supported versions otherwise."""
    build = _ADAPTERS.get(version)
    if build is None:
        raise ValueError(
            f"OCPI version {version!r} is not one a member platform speaks "
            f"(supported: {', '.join(SUPPORTED_VERSIONS)})"
        )
    return build(role, context)


def untranslatable_message(kind: ObjectKind, number: str, exc: Untranslatable) -> str:
    """The 2001 message for an inbound object the 2.2.1 core cannot take."""
    return f"this {number} {kind.value} cannot be carried to OCPI 2.2.1: {exc}"
