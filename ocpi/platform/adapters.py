"""Which OCPI version a member platform speaks, and how its 2.2.1 core is carried to it.

The mock platforms are written against OCPI 2.2.1. A `VersionAdapter` says what another
version changes at their edge: the version number and paths they publish, the Credentials
object of the handshake, and every functional object (`ObjectKind`) both ways through
`ocpi.translate`. `exchange()` tells which object a request or response body carries, from the
module, the interface role of the server, the method and the path below the module's URL.
`adapter_for("2.3.0")` gives the adapter of a version; a new version is one more subclass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from ocpi import v221, v230
from ocpi.headers import PartyRef
from ocpi.translate import v230 as to230
from ocpi.translate.notes import Loss, Translated, Untranslatable
from ocpi.v221.types import OcpiModel
from ocpi.v221.versions import Endpoint, InterfaceRole, ModuleID

__all__ = [
    "SUPPORTED_VERSIONS",
    "Carried",
    "Exchange",
    "ObjectKind",
    "PeerCredentials",
    "V221Adapter",
    "V230Adapter",
    "VersionAdapter",
    "adapter_for",
    "exchange",
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
    SESSION = "Session"
    SESSION_PATCH = "Session PATCH"
    CDR = "CDR"
    TOKEN = "Token"
    TOKEN_PATCH = "Token PATCH"
    AUTHORIZATION_INFO = "AuthorizationInfo"
    START_SESSION = "StartSession"
    RESERVE_NOW = "ReserveNow"
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
    ModuleID.TARIFFS: (ObjectKind.TARIFF, None),
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
_COMMANDS = {"START_SESSION": ObjectKind.START_SESSION, "RESERVE_NOW": ObjectKind.RESERVE_NOW}


def exchange(
    module: ModuleID | str, role: InterfaceRole, method: str, segments: Sequence[str]
) -> Exchange:
    """The objects a request to a `role` interface of `module` carries; `segments` is the
    path below the interface's URL (spec: each module's "Interfaces and endpoints")."""
    depth = len(segments)
    if module == ModuleID.COMMANDS:
        # Receiver: POST {url}/{command}; the CommandResponse and CommandResult did not change.
        if role is InterfaceRole.RECEIVER and method == "POST" and depth == 1:
            kind = _COMMANDS.get(segments[0].upper())
            return Exchange(request=Carried(kind)) if kind is not None else NOTHING
        return NOTHING
    if role is InterfaceRole.SENDER:
        listed = _SENDER_LISTS.get(module) if isinstance(module, ModuleID) else None
        if method == "GET" and depth == 0 and listed is not None:
            return Exchange(response=Carried(listed, many=True))
        if module == ModuleID.LOCATIONS and method == "GET" and depth in _OBJECT_AT_DEPTH:
            return Exchange(response=Carried(_OBJECT_AT_DEPTH[depth][0]))
        if module == ModuleID.TOKENS and method == "POST" and segments[-1:] == ["authorize"]:
            return Exchange(response=Carried(ObjectKind.AUTHORIZATION_INFO))
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

    @property
    def translates(self) -> bool:
        """Whether objects change shape at the edge (False for 2.2.1 itself)."""
        return self.number != "2.2.1"

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
    def up(self, kind: ObjectKind, data: Any) -> Translated[dict[str, Any]]:
        """A 2.2.1 object (JSON) as this version's JSON."""

    @abstractmethod
    def down(self, kind: ObjectKind, data: Any) -> Translated[dict[str, Any]]:
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
        return _V230_OBJECTS[kind].v221

    def up(self, kind: ObjectKind, data: Any) -> Translated[dict[str, Any]]:
        return Translated(data)

    def down(self, kind: ObjectKind, data: Any) -> Translated[dict[str, Any]]:
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
        return _V230_OBJECTS[kind].v230

    def up(self, kind: ObjectKind, data: Any) -> Translated[dict[str, Any]]:
        pair = _V230_OBJECTS[kind]
        carried = pair.up(pair.v221.model_validate(data))
        return Translated(_json(carried.value), carried.lost)

    def down(self, kind: ObjectKind, data: Any) -> Translated[dict[str, Any]]:
        pair = _V230_OBJECTS[kind]
        carried = pair.down(pair.v230.model_validate(data))
        return Translated(_json(carried.value), carried.lost)


_ADAPTERS: dict[str, VersionAdapter] = {
    adapter.number: adapter for adapter in (V221Adapter(), V230Adapter())
}
SUPPORTED_VERSIONS = tuple(_ADAPTERS)
"""The versions a member platform can be configured to speak."""


def adapter_for(version: str) -> VersionAdapter:
    """The adapter of `version`; ValueError naming the supported versions otherwise."""
    found = _ADAPTERS.get(version)
    if found is None:
        raise ValueError(
            f"OCPI version {version!r} is not one a member platform speaks "
            f"(supported: {', '.join(SUPPORTED_VERSIONS)})"
        )
    return found


def untranslatable_message(kind: ObjectKind, number: str, exc: Untranslatable) -> str:
    """The 2001 message for an inbound object the 2.2.1 core cannot take."""
    return f"this {number} {kind.value} cannot be carried to OCPI 2.2.1: {exc}"
