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
between two versions through the pivot. Nothing here does I/O. docs/hub.md "Members on other
OCPI versions".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from ocpi import v221, v230
from ocpi.errors import InvalidParameters
from ocpi.server.errors import describe_errors
from ocpi.translate import Loss, Translated, Untranslatable
from ocpi.translate import v230 as t230
from ocpi.v221.versions import InterfaceRole, ModuleID

PIVOT = "2.2.1"
"""The version the hub's own logic speaks; every other version is carried through it."""

Convert = Callable[[Any], Translated[Any]]


@dataclass(frozen=True)
class Codec:
    """How one kind of object goes between a version and the pivot."""

    model: type[BaseModel]
    """The version's model: what a member of that version must send."""
    down: Convert
    """The version's object (an instance of `model`) -> a pivot object."""
    pivot: type[BaseModel]
    """The pivot's model of the same object."""
    up: Convert
    """A pivot object (an instance of `pivot`) -> the version's object."""


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
    hub_credentials: HubCredentials
    codecs: Mapping[str, Codec] = field(default_factory=dict)


def _as(model: type[BaseModel], convert: Convert) -> Convert:
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
    t230.credentials_to_v221,
    _hub_credentials_v230,
    {
        "location": Codec(
            v230.Location, t230.location_to_v221, v221.Location, t230.location_to_v230
        ),
        "evse": Codec(
            v230.EVSE,
            _as(v221.EVSE, t230.evse_patch_to_v221),
            v221.EVSE,
            _as(v230.EVSE, t230.evse_patch_to_v230),
        ),
        "connector": Codec(
            v230.Connector,
            _as(v221.Connector, t230.connector_patch_to_v221),
            v221.Connector,
            _as(v230.Connector, t230.connector_patch_to_v230),
        ),
        "location_patch": Codec(
            v230.LocationPatch,
            t230.location_patch_to_v221,
            v221.LocationPatch,
            t230.location_patch_to_v230,
        ),
        "evse_patch": Codec(
            v230.EVSEPatch, t230.evse_patch_to_v221, v221.EVSEPatch, t230.evse_patch_to_v230
        ),
        "connector_patch": Codec(
            v230.ConnectorPatch,
            t230.connector_patch_to_v221,
            v221.ConnectorPatch,
            t230.connector_patch_to_v230,
        ),
        "tariff": Codec(v230.Tariff, t230.tariff_to_v221, v221.Tariff, t230.tariff_to_v230),
        "token": Codec(v230.Token, t230.token_to_v221, v221.Token, t230.token_to_v230),
        "token_patch": Codec(
            v230.TokenPatch, t230.token_patch_to_v221, v221.TokenPatch, t230.token_patch_to_v230
        ),
        "session": Codec(v230.Session, t230.session_to_v221, v221.Session, t230.session_to_v230),
        "session_patch": Codec(
            v230.SessionPatch,
            t230.session_patch_to_v221,
            v221.SessionPatch,
            t230.session_patch_to_v230,
        ),
        "cdr": Codec(v230.CDR, t230.cdr_to_v221, v221.CDR, t230.cdr_to_v230),
        "start_session": Codec(
            v230.StartSession,
            t230.start_session_to_v221,
            v221.StartSession,
            t230.start_session_to_v230,
        ),
        "reserve_now": Codec(
            v230.ReserveNow,
            t230.reserve_now_to_v221,
            v221.ReserveNow,
            t230.reserve_now_to_v230,
        ),
        "authorization_info": Codec(
            v230.AuthorizationInfo,
            t230.authorization_info_to_v221,
            v221.AuthorizationInfo,
            t230.authorization_info_to_v230,
        ),
        "client_info": Codec(
            v230.ClientInfo, t230.client_info_to_v221, v221.ClientInfo, t230.client_info_to_v230
        ),
    },
)

ADAPTERS: dict[str, VersionAdapter] = {V230.version: V230}
"""Every version the hub speaks besides the pivot (2.1.1 will be one more entry)."""


def _number(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


VERSIONS: tuple[str, ...] = tuple(sorted((PIVOT, *ADAPTERS), key=_number))
"""The versions the hub offers, oldest first (the order its versions endpoint lists them)."""

NEWEST_FIRST: tuple[str, ...] = tuple(reversed(VERSIONS))
"""The order in which the hub-initiated handshake looks for a version both sides speak."""

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
_COMMAND_KINDS = {"START_SESSION": "start_session", "RESERVE_NOW": "reserve_now"}


def request_kind(
    module: ModuleID, interface: InterfaceRole, method: str, segments: Sequence[str]
) -> str | None:
    """The object a request's body carries, or None when it carries none that versions
    disagree on (a CommandResult, LocationReferences, a charging profile...)."""
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


def adapter(version: str) -> VersionAdapter | None:
    """The adapter of a version other than the pivot (None for the pivot itself)."""
    return ADAPTERS.get(version)


def _validate(model: type[BaseModel], data: Any, version: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidParameters(
            f"not a valid OCPI {version} {model.__name__}: {describe_errors(exc.errors())}"
        ) from None


def _wire(model: BaseModel) -> Any:
    """A translated object as its JSON value (only the fields it holds)."""
    return model.model_dump(mode="json", exclude_unset=True, exclude_none=True)


def carry(kind: str, data: Any, source: str, target: str) -> Translated[Any]:
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
        result = down.down(_validate(down.model, value, source))
        lost += [Loss(f"{source} → {PIVOT}: {loss.path}", loss.reason) for loss in result.lost]
        value = _wire(result.value)
    up = ADAPTERS[target].codecs.get(kind) if target != PIVOT else None
    if up is not None:
        result = up.up(_validate(up.pivot, value, PIVOT))
        lost += [Loss(f"{PIVOT} → {target}: {loss.path}", loss.reason) for loss in result.lost]
        value = _wire(result.value)
    return Translated(value, tuple(lost))


def carry_list(kind: str, items: Any, source: str, target: str) -> Translated[list[Any]]:
    """A list of objects (a page of a Sender's list): an item that cannot be carried, or is
    not a valid object, is left out with a note; the others are carried."""
    if not isinstance(items, list):
        raise InvalidParameters(f"expected a list of {kind} objects")
    carried: list[Any] = []
    lost: list[Loss] = []
    for index, item in enumerate(items):
        try:
            result = carry(kind, item, source, target)
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
