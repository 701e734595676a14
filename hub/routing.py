"""The hub's routing decision: a pure function of (message, sender, directory, copies).

Rules (spec transport_and_format "Message Routing", digest §2; choices the spec leaves open are
explained in docs/hub.md):

1. Functional modules only. The OCPI-from pair is required and must be a party of the platform
   whose token authenticated the request; otherwise 2001 (an impersonation attempt).
2. On the hub's RECEIVER interface of a client-owned module (locations, sessions, tariffs,
   tokens) the URL's {country_code}/{party_id} must be the sender's own: otherwise HTTP 404,
   as the spec allows for URLs naming another party.
3. TO = the hub: a GET of a SENDER list is answered from the hub's copies (GET All via hub);
   a PUT/PATCH (and, for tariffs, DELETE) of locations, tariffs or tokens is a broadcast push.
   Anything else addressed to the hub is refused with 2001.
4. TO = a party: the party must be known (else 4001) and CONNECTED (else 4003), and its
   platform must implement the module's interface (else 4003). The message is forwarded to
   that endpoint with the same path below the module.
5. TO omitted (open routing): a SENDER list GET is GET All; a push of locations, tariffs or
   tokens is a broadcast; otherwise the receiver is read from the content (token uid, location
   id, session id, CdrToken); if that finds nobody, or more than one party, 4001.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hub.copies import Copies, Copy
from hub.directory import Directory, Party, Platform
from ocpi.errors import (
    ConnectionProblem,
    InvalidParameters,
    MethodNotAllowed,
    NotFound,
    UnknownReceiver,
)
from ocpi.headers import PartyRef
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole, ModuleID

FUNCTIONAL_MODULES = frozenset(
    {
        ModuleID.CDRS,
        ModuleID.CHARGINGPROFILES,
        ModuleID.COMMANDS,
        ModuleID.LOCATIONS,
        ModuleID.SESSIONS,
        ModuleID.TARIFFS,
        ModuleID.TOKENS,
    }
)
CLIENT_OWNED_MODULES = frozenset(
    {ModuleID.LOCATIONS, ModuleID.SESSIONS, ModuleID.TARIFFS, ModuleID.TOKENS}
)
_S, _R = InterfaceRole.SENDER, InterfaceRole.RECEIVER
INTERFACE_METHODS: Mapping[tuple[ModuleID, InterfaceRole], frozenset[str]] = {
    # Each module's "Interfaces" section: the methods its Sender and Receiver define. The
    # hub forwards nothing else: a member cannot use the hub to send a peer a request the
    # protocol does not have (e.g. a PUT on the CDRs Receiver).
    (ModuleID.LOCATIONS, _S): frozenset({"GET"}),
    (ModuleID.LOCATIONS, _R): frozenset({"GET", "PUT", "PATCH"}),
    (ModuleID.SESSIONS, _S): frozenset({"GET", "PUT"}),  # PUT: charging preferences
    (ModuleID.SESSIONS, _R): frozenset({"GET", "PUT", "PATCH"}),
    (ModuleID.CDRS, _S): frozenset({"GET"}),
    (ModuleID.CDRS, _R): frozenset({"GET", "POST"}),
    (ModuleID.TARIFFS, _S): frozenset({"GET"}),
    (ModuleID.TARIFFS, _R): frozenset({"GET", "PUT", "DELETE"}),
    (ModuleID.TOKENS, _S): frozenset({"GET", "POST"}),  # POST: real-time authorization
    (ModuleID.TOKENS, _R): frozenset({"GET", "PUT", "PATCH"}),
    (ModuleID.COMMANDS, _S): frozenset({"POST"}),  # the CommandResult
    (ModuleID.COMMANDS, _R): frozenset({"POST"}),
    (ModuleID.CHARGINGPROFILES, _S): frozenset({"POST", "PUT"}),  # result; active profile
    (ModuleID.CHARGINGPROFILES, _R): frozenset({"GET", "PUT", "DELETE"}),
}

BROADCAST_METHODS: Mapping[ModuleID, frozenset[str]] = {
    ModuleID.LOCATIONS: frozenset({"PUT", "PATCH"}),
    ModuleID.TARIFFS: frozenset({"PUT", "DELETE"}),
    ModuleID.TOKENS: frozenset({"PUT", "PATCH"}),
}

# Spec transport_and_format "Broadcast Push": CPO -> eMSPs, NSPs and OTHER; eMSP -> CPOs;
# OTHER -> CPOs only. Other roles do not broadcast.
BROADCAST_AUDIENCE: Mapping[Role, frozenset[Role]] = {
    Role.CPO: frozenset({Role.EMSP, Role.NSP, Role.OTHER}),
    Role.EMSP: frozenset({Role.CPO}),
    Role.OTHER: frozenset({Role.CPO}),
}

_DATA_CONSUMERS = frozenset({Role.EMSP, Role.NSP, Role.OTHER, Role.SCSP, Role.NAP})
# Which roles normally implement an interface: used to pick among parties that share one
# (country_code, party_id) on different platforms.
TARGET_ROLES: Mapping[tuple[ModuleID, InterfaceRole], frozenset[Role]] = {
    (ModuleID.LOCATIONS, InterfaceRole.RECEIVER): _DATA_CONSUMERS,
    (ModuleID.TARIFFS, InterfaceRole.RECEIVER): _DATA_CONSUMERS,
    (ModuleID.SESSIONS, InterfaceRole.RECEIVER): _DATA_CONSUMERS,
    (ModuleID.CDRS, InterfaceRole.RECEIVER): _DATA_CONSUMERS,
    (ModuleID.TOKENS, InterfaceRole.RECEIVER): frozenset({Role.CPO}),
    (ModuleID.COMMANDS, InterfaceRole.RECEIVER): frozenset({Role.CPO}),
    (ModuleID.CHARGINGPROFILES, InterfaceRole.RECEIVER): frozenset({Role.CPO}),
    (ModuleID.LOCATIONS, InterfaceRole.SENDER): frozenset({Role.CPO}),
    (ModuleID.TARIFFS, InterfaceRole.SENDER): frozenset({Role.CPO}),
    (ModuleID.SESSIONS, InterfaceRole.SENDER): frozenset({Role.CPO}),
    (ModuleID.CDRS, InterfaceRole.SENDER): frozenset({Role.CPO}),
    (ModuleID.TOKENS, InterfaceRole.SENDER): frozenset({Role.EMSP, Role.OTHER}),
    (ModuleID.COMMANDS, InterfaceRole.SENDER): frozenset({Role.EMSP, Role.OTHER}),
    (ModuleID.CHARGINGPROFILES, InterfaceRole.SENDER): frozenset({Role.EMSP, Role.SCSP}),
}

_LOCATION_COMMANDS = frozenset({"START_SESSION", "RESERVE_NOW", "UNLOCK_CONNECTOR"})


@dataclass(frozen=True)
class Message:
    """What routing needs to know about one incoming functional-module request."""

    module: ModuleID
    interface: InterfaceRole
    """The hub interface the member called (and so the one the hub calls on the receiver)."""
    method: str
    segments: tuple[str, ...]
    """Path segments below the module URL, e.g. ("NL", "TNM", "LOC1", "3256")."""
    query: Mapping[str, str]
    to: PartyRef | None
    from_: PartyRef | None
    body: Any = None


@dataclass(frozen=True)
class Target:
    party: Party
    platform: Platform
    url: str


@dataclass(frozen=True)
class Forward:
    """Send the message on to one receiver (direct request or open routing)."""

    target: Target
    open_routed: bool = False


@dataclass(frozen=True)
class Broadcast:
    """Answer the sender, store the copy and push to every party in `targets` (FROM = hub)."""

    targets: tuple[Target, ...]


@dataclass(frozen=True)
class HubList:
    """GET All via hub: answer from the hub's copies."""


Route = Forward | Broadcast | HubList


def check_sender(message: Message, sender: Platform) -> Party:
    """Rules 1 and 2: who is sending, and may it use the URL it used?"""
    check_segments(message.segments)
    allowed = INTERFACE_METHODS.get((message.module, message.interface), frozenset())
    if message.method not in allowed:
        raise MethodNotAllowed(
            f"the {message.module.value} {message.interface.value.lower()} interface has no "
            f"{message.method} (it defines {', '.join(sorted(allowed)) or 'nothing'}): the hub "
            "forwards only requests the protocol defines"
        )
    if message.from_ is None:
        raise InvalidParameters(
            "OCPI-from-country-code and OCPI-from-party-id are required on functional modules"
        )
    party = sender.party(message.from_)
    if party is None:
        own = ", ".join(str(p.ref) for p in sender.parties) or "none"
        raise InvalidParameters(
            f"OCPI-from {message.from_} is not a party of the platform that sent this request "
            f"(its parties: {own}); the attempt was recorded"
        )
    if (
        message.interface == InterfaceRole.RECEIVER
        and message.module in CLIENT_OWNED_MODULES
        and len(message.segments) >= 2
    ):
        owner = _url_owner(message.segments)
        if owner != message.from_:
            raise NotFound(
                f"{message.module.value} URL names {'/'.join(message.segments[:2])}, which is not "
                f"the sending party {message.from_}: a client may only use its own "
                "country_code/party_id in object URLs"
            )
    return party


def decide(
    message: Message,
    sender: Platform,
    sender_party: Party,
    directory: Directory,
    copies: Copies,
    hub: PartyRef,
) -> Route:
    """Rules 3-5. Raises the OcpiError the requester must get when there is no route."""
    is_list_get = (
        message.method == "GET"
        and message.interface == InterfaceRole.SENDER
        and not message.segments
    )
    broadcastable = (
        message.interface == InterfaceRole.RECEIVER and message.module in BROADCAST_METHODS
    )
    if message.to == hub or message.to is None:
        if is_list_get:
            return HubList()
        if broadcastable and message.method in BROADCAST_METHODS[message.module]:
            return Broadcast(_broadcast_targets(message, sender, sender_party, directory))
        if broadcastable:
            raise MethodNotAllowed(
                f"{message.method} is not a push method of the {message.module.value} module"
            )
        if message.to == hub:
            raise InvalidParameters(
                f"{message.method} {message.module.value} cannot be addressed to the hub itself: "
                "set OCPI-to-country-code/party-id to the receiving party (only locations, "
                "tariffs and tokens are broadcast, and only GET lists are served by the hub)"
            )
        found = open_route(message, copies)
        party = _only_party(found, message, directory)
        return Forward(_target(message, party, directory), open_routed=True)
    candidates = directory.find(message.to)
    if not candidates:
        raise UnknownReceiver(f"receiver {message.to} is not known to this hub")
    party = _prefer(candidates, message)
    return Forward(_target(message, party, directory))


def _url_owner(segments: tuple[str, ...]) -> PartyRef | None:
    try:
        return PartyRef(segments[0], segments[1])
    except ValueError:
        return None


DELIVERABLE = frozenset({ConnectionStatus.CONNECTED, ConnectionStatus.OFFLINE})
"""The party states a broadcast is kept for (never PLANNED or SUSPENDED ones)."""


def _broadcast_targets(
    message: Message, sender: Platform, sender_party: Party, directory: Directory
) -> tuple[Target, ...]:
    audience = BROADCAST_AUDIENCE.get(sender_party.role, frozenset())
    targets = []
    check_segments(message.segments)
    tail = quoted_path(message.segments)  # once, not once per receiver
    for party in directory.all_parties():
        # OFFLINE receivers are in the audience too: the hub keeps their deliveries in its
        # outbox and sends them, in order, when they are back (hub/deliveries.py).
        if party.role not in audience or party.status not in DELIVERABLE:
            continue
        platform = directory.platform_of(party)
        if platform is None or platform.id == sender.id or not platform.registered:
            continue
        base = platform.endpoint(message.module, InterfaceRole.RECEIVER)
        if base is None:
            continue  # does not implement the module's Receiver interface: not in the audience
        targets.append(Target(party, platform, _below(base, tail)))
    targets.sort(key=lambda t: (str(t.party.ref), t.party.role.value))
    return tuple(targets)


def open_route(message: Message, copies: Copies) -> list[PartyRef]:
    """Rule 5: the receivers the content points at (documented in docs/hub.md)."""
    module, segments, body = message.module, message.segments, message.body
    data = body if isinstance(body, dict) else {}
    if message.interface == InterfaceRole.RECEIVER:
        if module in (ModuleID.SESSIONS, ModuleID.CDRS):
            token = data.get("cdr_token")
            if isinstance(token, dict):
                ref = _ref(token.get("country_code"), token.get("party_id"))
                if ref is not None:
                    return [ref]
            if module == ModuleID.SESSIONS and len(segments) >= 3:
                owner = _url_owner(segments)
                found = copies.get(module, owner, segments[2]) if owner else None
                return [found.receiver] if found and found.receiver else []
            return []
        if module == ModuleID.COMMANDS and segments:
            command = segments[0].upper()
            if command in _LOCATION_COMMANDS and isinstance(data.get("location_id"), str):
                return _owners(copies.owners_of(ModuleID.LOCATIONS, data["location_id"]))
            if command == "STOP_SESSION" and isinstance(data.get("session_id"), str):
                return _owners(copies.owners_of(ModuleID.SESSIONS, data["session_id"]))
            return []
        if module == ModuleID.CHARGINGPROFILES and segments:
            return _owners(copies.owners_of(ModuleID.SESSIONS, segments[0]))
        return []
    if not segments:
        return []
    if module == ModuleID.LOCATIONS:
        return _owners(copies.owners_of(ModuleID.LOCATIONS, segments[0]))
    if module == ModuleID.TOKENS:
        return _owners(copies.tokens_with_uid(segments[0], message.query.get("type")))
    if module == ModuleID.SESSIONS:
        return _owners(copies.owners_of(ModuleID.SESSIONS, segments[0]))
    if module == ModuleID.CHARGINGPROFILES:
        sessions = copies.owners_of(ModuleID.SESSIONS, segments[0])
        return sorted({s.receiver for s in sessions if s.receiver is not None})
    return []


def _owners(items: list[Copy]) -> list[PartyRef]:
    return sorted({item.owner for item in items})


def _ref(country: object, party: object) -> PartyRef | None:
    if not isinstance(country, str) or not isinstance(party, str):
        return None
    try:
        return PartyRef(country, party)
    except ValueError:
        return None


def _only_party(found: list[PartyRef], message: Message, directory: Directory) -> Party:
    what = f"{message.method} {message.interface.value.lower()} {message.module.value}"
    if not found:
        raise UnknownReceiver(
            f"OCPI-to headers are omitted and the hub cannot tell the receiver of {what} "
            "from its content: set OCPI-to-country-code/party-id"
        )
    if len(found) > 1:
        names = ", ".join(str(ref) for ref in found)
        raise UnknownReceiver(
            f"OCPI-to headers are omitted and {what} could go to several parties ({names}): "
            "set OCPI-to-country-code/party-id"
        )
    candidates = directory.find(found[0])
    if not candidates:
        raise UnknownReceiver(f"receiver {found[0]} is not known to this hub")
    return _prefer(candidates, message)


def _prefer(candidates: list[Party], message: Message) -> Party:
    wanted = TARGET_ROLES.get((message.module, message.interface), frozenset())
    fitting = [p for p in candidates if p.role in wanted] or candidates
    connected = [p for p in fitting if p.status == ConnectionStatus.CONNECTED]
    return (connected or fitting)[0]


def _target(message: Message, party: Party, directory: Directory) -> Target:
    platform = directory.platform_of(party)
    if party.status != ConnectionStatus.CONNECTED or platform is None or not platform.registered:
        state = party.status.value if party.status != ConnectionStatus.CONNECTED else "gone"
        raise ConnectionProblem(f"receiver {party.ref} is {state}: the hub cannot deliver to it")
    base = platform.endpoint(message.module, message.interface)
    if base is None:
        raise ConnectionProblem(
            f"receiver {party.ref} does not implement the {message.module.value} "
            f"{message.interface.value} interface"
        )
    return Target(party, platform, join_url(base, message.segments))


DOT_SEGMENTS = frozenset({".", ".."})


def check_segments(segments: tuple[str, ...]) -> None:
    """A forwarded URL stays under the endpoint the receiver registered: no dot segments.

    The path arrives percent-decoded, so `%2e%2e` is caught as `..` too. A client sending them
    would otherwise make the hub call another path of the receiver with the hub's token
    (RFC 3986 §5.2.4 removes dot segments; so do aiohttp and most servers).
    """
    for segment in segments:
        if segment in DOT_SEGMENTS:
            raise NotFound(
                f"the URL holds a {segment!r} path segment: the hub forwards only to URLs "
                "below the receiver's endpoint, and refuses dot segments"
            )


def join_url(base: str, segments: tuple[str, ...]) -> str:
    """`{endpoint_url}/{segment}/…`. The spec's `{commands_endpoint_url}{command}` templates
    are read as path joins: endpoint URLs are joined with exactly one slash. Each segment is
    percent-encoded whole, so none can add a path level; dot segments are refused."""
    if not segments:
        return base
    check_segments(segments)
    return _below(base, quoted_path(segments))


def _below(base: str, tail: str) -> str:
    return base.rstrip("/") + "/" + tail if tail else base


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
"""What `quote(..., safe="")` leaves as it is (RFC 3986 unreserved characters)."""


def quoted_path(segments: tuple[str, ...]) -> str:
    """The segments percent-encoded whole and joined by slashes. A segment of unreserved
    characters only (nearly every OCPI id) is taken as it is, without `quote`'s per-call
    cost: quoting was 8 % of the hub's CPU per accepted EVSE PATCH in the status storm."""
    return "/".join(
        segment if _UNRESERVED.fullmatch(segment) else quote(segment, safe="")
        for segment in segments
    )
