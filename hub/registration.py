"""The credentials handshake in both directions (spec credentials, digest §3.4).

Member-initiated: the member calls POST /credentials with a token A from `roam hub invite`;
the hub fetches the member's versions and details with the member's token B, and answers with
a new token C. Hub-initiated (`roam hub connect`): the hub plays the member's part against the
member's own credentials endpoint. PUT rotates tokens and refreshes endpoints, DELETE
unregisters. Token A dies with its first successful use, atomically (Store.register_platform).

Versions: a member registers the version whose credentials endpoint it calls (2.1.1, 2.2.1 or 2.3.0,
hub/translation.py); a PUT at another version's endpoint switches it. The hub-initiated
handshake picks the newest version both sides speak. A 2.3.0 member's credentials are carried
down to 2.2.1 for the directory; the hub answers it in 2.3.0's shape, `hub_party_id` = the hub
and `roles` = the parties reachable through it (docs/versions.md, "A 2.3.0 party and the hub").

2.1.1 credentials name one party and no role: the role is the one the member's invitation
(token A) names for that party, or on a PUT the one the platform registered; 2.1.1 knows only
CPOs and eMSPs. Its details name no interface either: each module's one URL is the interface
a party of its role implements (hub/translation.py `v211_interface`). The hub-initiated
handshake does not pick 2.1.1 (no invitation to take the role from). docs/hub.md "Members on
OCPI 2.1.1".
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from hub.clientinfo import announce
from hub.directory import Party, Platform, hash_token
from hub.service import Hub, Invitee
from hub.store import InvitationUsed, utcnow
from hub.translation import (
    NEWEST_FIRST,
    PIVOT,
    V211,
    Situation,
    adapter,
    reason,
    v211_interface,
)
from ocpi import v211
from ocpi.client import OcpiClient
from ocpi.errors import (
    InvalidParameters,
    MethodNotAllowed,
    NoMatchingEndpoints,
    OcpiError,
    PeerError,
    UnableToUseClientApi,
    Unauthorized,
    UnsupportedVersion,
)
from ocpi.headers import PartyRef
from ocpi.server.validation import parse_body
from ocpi.translate import Untranslatable
from ocpi.v221.credentials import Credentials, CredentialsRole
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole, ModuleID
from ocpi.v230.versions import Version, VersionDetails

# 2.3.0's models: they know every version number up to 2.3.0 (the endpoints are 2.2.1's).
_VERSIONS = TypeAdapter(list[Version])
_DETAILS = TypeAdapter(VersionDetails)
_DETAILS_V211 = TypeAdapter(v211.VersionDetails)

# The minimum the hub needs from a member's 2.2.1 details (3003 when absent).
REQUIRED_MODULES = (ModuleID.CREDENTIALS,)


@dataclass(frozen=True)
class MemberApi:
    """What the hub learned by calling a member's versions and details endpoints."""

    versions_url: str
    endpoints: dict[tuple[str, InterfaceRole], str]
    version: str = PIVOT
    """The OCPI version chosen with the member."""


def hub_credentials(hub: Hub, token: str) -> Credentials:
    """The hub's own credentials: exactly one role, HUB (spec 2.2.1 hub rules)."""
    return Credentials(
        token=token,
        url=hub.settings.versions_url,
        roles=[
            CredentialsRole(
                role=Role.HUB,
                business_details=hub.business_details,
                country_code=hub.ref.country_code,
                party_id=hub.ref.party_id,
            )
        ],
    )


def reachable_roles(hub: Hub, platform_id: int | None) -> list[dict[str, Any]]:
    """The parties reachable through the hub for a platform: every registered party of
    another platform that is not SUSPENDED, as CredentialsRole JSON objects."""
    roles = []
    for party in sorted(hub.directory.all_parties(), key=lambda p: (str(p.ref), p.role)):
        if (
            party.platform_id is None
            or party.platform_id == platform_id
            or party.status == ConnectionStatus.SUSPENDED
        ):
            continue
        details = party.business_details or {"name": party.label()}
        roles.append(
            {
                "role": party.role.value,
                "business_details": details,
                "country_code": party.ref.country_code,
                "party_id": party.ref.party_id,
            }
        )
    return roles


def credentials_for(hub: Hub, token: str, version: str, platform_id: int | None) -> BaseModel:
    """The hub's credentials as a member of `version` reads them.

    2.3.0: `hub_party_id` = the hub, `roles` = the parties reachable through it now. With
    nobody reachable yet (the first member), 2.3.0 still needs one role (`roles` is `+`): the
    hub then lists itself with role OTHER, the one role 2.3.0 has for a party that is neither
    CPO, eMSP nor NSP (docs/hub.md "Members on other OCPI versions")."""
    credentials = hub_credentials(hub, token)
    version_adapter = adapter(version)
    if version_adapter is None:
        return credentials
    reachable = reachable_roles(hub, platform_id) or [
        {
            "role": Role.OTHER.value,
            "business_details": hub.business_details.to_json(),
            "country_code": hub.ref.country_code,
            "party_id": hub.ref.party_id,
        }
    ]
    translated: BaseModel = version_adapter.hub_credentials(credentials, reachable).value
    return translated


def read_credentials(
    body: Any, version: str, known: Sequence[tuple[Role, PartyRef]] = ()
) -> Credentials:
    """A member's credentials body of `version`, validated against that version's model and
    carried to 2.2.1 (2001 naming the fields, or why it cannot be carried). `known`: the
    parties (with their roles) the hub knows this member may have: its invitation's, or the
    platform's own on a PUT; a 2.1.1 party's role is taken from there."""
    version_adapter = adapter(version)
    if version_adapter is None:
        return parse_body(Credentials, body)
    theirs = parse_body(version_adapter.credentials, body)
    situation = Situation()
    if isinstance(theirs, v211.Credentials):
        situation = Situation(role=_v211_role(theirs, known))
    if getattr(theirs, "hub_party_id", None):
        raise InvalidParameters(
            "hub_party_id names a hub: this hub connects members (CPOs, eMSPs...), not other "
            "hubs (as a HUB role is refused in 2.2.1)"
        )
    try:
        carried: Credentials = version_adapter.credentials_down(theirs, situation).value
    except Untranslatable as exc:
        raise InvalidParameters(f"the credentials cannot be carried to 2.2.1: {exc}") from None
    return carried


def _v211_role(credentials: v211.Credentials, known: Sequence[tuple[Role, PartyRef]]) -> Role:
    """The role of a 2.1.1 party: the one the hub was told (its invitation, or the platform's
    registration), as 2.1.1 credentials name none; a CPO or an eMSP, the two roles 2.1.1 has."""
    ref = PartyRef(credentials.country_code, credentials.party_id)
    roles = sorted({role for role, party in known if party == ref})
    if not roles:
        named = ", ".join(f"{role.value} {party}" for role, party in known) or "none"
        raise InvalidParameters(
            f"2.1.1 credentials name no role, so the hub takes {ref}'s role from its invitation "
            f"(or registration), which must name it; it names {named}"
        )
    if len(roles) > 1 or roles[0] not in (Role.CPO, Role.EMSP):
        raise InvalidParameters(
            f"a 2.1.1 party is one CPO or one eMSP; {ref} is named as "
            + ", ".join(role.value for role in roles)
        )
    return roles[0]


def _choose(versions: list[Version], wanted: str | None) -> Version | None:
    """The member's entry for `wanted`, or (hub-initiated) the newest version both speak."""
    offered = {str(v.version): v for v in versions}
    if wanted is not None:
        return offered.get(wanted)
    return next((offered[v] for v in NEWEST_FIRST if v in offered), None)


async def fetch_member_api(
    hub: Hub, versions_url: str, token: str, version: str | None = PIVOT, role: Role | None = None
) -> MemberApi:
    """GET the member's versions, pick `version` (None: the newest both speak), GET its
    details. 3001/3002/3003 on failure. `role`: a 2.1.1 party's (its endpoints name no
    interface; the role tells it)."""
    # A 2.1.1 member gets the token as 2.1.1 sends it: unencoded.
    client = OcpiClient(hub.http, token, raw_token=version == V211.version)
    try:
        response = await client.get(versions_url, routed=False)
    except (OcpiError, ValueError) as exc:
        raise UnableToUseClientApi(f"could not GET the versions at {versions_url}: {exc}") from exc
    try:
        versions = _VERSIONS.validate_python(response.data)
    except ValidationError as exc:
        raise UnableToUseClientApi(f"the versions at {versions_url} are not valid: {exc}") from exc
    chosen = _choose(versions, version)
    if chosen is None:
        offered = ", ".join(str(v.version) for v in versions) or "none"
        wanted = f"OCPI {version}" if version else "OCPI " + " or ".join(NEWEST_FIRST)
        raise UnsupportedVersion(f"the hub speaks {wanted} here; the member offers {offered}")
    number = str(chosen.version)
    if number == V211.version:
        return await _fetch_v211_details(client, versions_url, chosen.url, role or Role.CPO)
    try:
        details = _DETAILS.validate_python((await client.get(chosen.url, routed=False)).data)
    except ValidationError as exc:
        raise UnableToUseClientApi(
            f"the {number} details at {chosen.url} are not valid: {exc}"
        ) from exc
    except (OcpiError, ValueError) as exc:
        raise UnableToUseClientApi(
            f"could not GET the {number} details at {chosen.url}: {exc}"
        ) from exc
    endpoints = {(str(e.identifier), e.role): e.url for e in details.endpoints}
    missing = [m.value for m in REQUIRED_MODULES if not any(k[0] == m for k in endpoints)]
    if missing:
        raise NoMatchingEndpoints(f"the member's {number} details lack {', '.join(missing)}")
    return MemberApi(versions_url, endpoints, number)


async def _fetch_v211_details(
    client: OcpiClient, versions_url: str, url: str, role: Role
) -> MemberApi:
    try:
        details = _DETAILS_V211.validate_python((await client.get(url, routed=False)).data)
    except ValidationError as exc:
        raise UnableToUseClientApi(f"the 2.1.1 details at {url} are not valid: {exc}") from exc
    except (OcpiError, ValueError) as exc:
        raise UnableToUseClientApi(f"could not GET the 2.1.1 details at {url}: {exc}") from exc
    endpoints: dict[tuple[str, InterfaceRole], str] = {}
    for endpoint in details.endpoints:
        module = str(endpoint.identifier)
        try:
            interface = v211_interface(ModuleID(module), role)
        except ValueError:  # credentials, or a custom module: no interface to tell
            interface = InterfaceRole.SENDER
        endpoints[(module, interface)] = endpoint.url
    if ModuleID.CREDENTIALS.value not in {module for module, _ in endpoints}:
        raise NoMatchingEndpoints("the member's 2.1.1 details lack credentials")
    return MemberApi(versions_url, endpoints, V211.version)


def _check_roles(
    hub: Hub,
    roles: list[CredentialsRole],
    allowed: tuple[tuple[Role, PartyRef], ...],
    platform_id: int | None,
) -> list[tuple[Role, PartyRef, CredentialsRole]]:
    checked: list[tuple[Role, PartyRef, CredentialsRole]] = []
    for entry in roles:
        ref = PartyRef(entry.country_code, entry.party_id)
        if entry.role == Role.HUB:
            raise InvalidParameters("a member cannot register the HUB role")
        if ref == hub.ref:
            raise InvalidParameters(f"{ref} is the hub's own party")
        if allowed and (entry.role, ref) not in allowed:
            names = ", ".join(f"{role.value} {party}" for role, party in allowed)
            raise InvalidParameters(
                f"this invitation allows only {names}; {entry.role.value} {ref} is not among them"
            )
        existing = hub.directory.parties.get((entry.role, ref))
        if (
            existing is not None
            and existing.platform_id is not None
            and existing.platform_id != platform_id
            and existing.status != ConnectionStatus.SUSPENDED
        ):
            raise InvalidParameters(
                f"{entry.role.value} {ref} is already registered by another platform"
            )
        checked.append((entry.role, ref, entry))
    return checked


def _parties(checked: list[tuple[Role, PartyRef, CredentialsRole]]) -> list[Party]:
    now = utcnow()
    return [
        Party(
            role=role,
            ref=ref,
            status=ConnectionStatus.CONNECTED,
            last_updated=now,
            business_details=entry.business_details.to_json(),
        )
        for role, ref, entry in checked
    ]


async def register(
    hub: Hub, invitee: Invitee, credentials: Credentials, version: str = PIVOT
) -> BaseModel:
    """POST /credentials by a new member (token A).

    Two POSTs with the same token A may both get this far (each was authenticated before
    either was written); the store consumes the invitation atomically, and the loser gets
    what a used token A gets: HTTP 401, status 2000. It leaves nothing behind: the directory,
    the database and ClientInfo are only touched once the registration is written. (The
    member was only read from: its versions and details.)
    """
    checked = _check_roles(hub, credentials.roles, invitee.allowed, None)
    role = credentials.roles[0].role
    api = await fetch_member_api(hub, credentials.url, credentials.token, version, role)
    token_c = secrets.token_urlsafe(32)
    platform = Platform(
        id=0,
        name=credentials.roles[0].business_details.name,
        versions_url=api.versions_url,
        token_to_member=credentials.token,
        token_hash=hash_token(token_c),
        endpoints=api.endpoints,
        parties=_parties(checked),
        last_seen=time.monotonic(),
        version=api.version,
    )
    answer = _answer(hub, token_c, version, None)
    try:
        await asyncio.to_thread(
            hub.store.register_platform, platform, invitation_hash=invitee.token_hash
        )
    except InvitationUsed as exc:
        raise Unauthorized(str(exc)) from None
    hub.directory.add_platform(platform)
    hub.spawn(announce(hub, platform.parties, new_platform=platform), "clientinfo-connect")
    return answer


def _answer(hub: Hub, token_c: str, version: str, platform_id: int | None) -> BaseModel:
    """The hub's credentials for a member of `version`, built before anything is written:
    when they cannot be given in that version the registration is refused whole (2001)."""
    try:
        return credentials_for(hub, token_c, version, platform_id)
    except Untranslatable as exc:
        raise InvalidParameters(
            f"the hub cannot give its credentials in OCPI {version}: {reason(exc)}"
        ) from None


async def update(
    hub: Hub, platform: Platform, credentials: Credentials, version: str = PIVOT
) -> BaseModel:
    """PUT /credentials: refetch endpoints, take the new token B, issue a new token C. The
    version is the one whose credentials endpoint was called (a PUT there switches to it)."""
    checked = _check_roles(hub, credentials.roles, (), platform.id)
    role = credentials.roles[0].role
    api = await fetch_member_api(hub, credentials.url, credentials.token, version, role)
    token_c = secrets.token_urlsafe(32)
    previous = {party.key: party for party in platform.parties}
    parties = _parties(checked)
    for party in parties:
        old = previous.get(party.key)
        if old is not None and old.status == ConnectionStatus.CONNECTED:
            party.last_updated = old.last_updated
    updated = Platform(
        id=platform.id,
        name=credentials.roles[0].business_details.name,
        versions_url=api.versions_url,
        token_to_member=credentials.token,
        token_hash=hash_token(token_c),
        endpoints=api.endpoints,
        parties=parties,
        last_seen=time.monotonic(),
        version=api.version,
    )
    answer = _answer(hub, token_c, version, platform.id)
    await asyncio.to_thread(hub.store.register_platform, updated)
    hub.directory.add_platform(updated)
    changed = [p for p in parties if p.key not in previous or previous[p.key].status != p.status]
    dropped = [p for key, p in previous.items() if key not in {q.key for q in parties}]
    for party in dropped:
        party.status = ConnectionStatus.SUSPENDED
        party.last_updated = utcnow()
        hub.directory.add_party(party)
    if dropped:
        await asyncio.to_thread(hub.store.save_parties, dropped)
    if changed or dropped:
        hub.spawn(announce(hub, changed + dropped), "clientinfo-update")
    return answer


async def unregister(hub: Hub, platform: Platform) -> None:
    """DELETE /credentials: stop all traffic; the platform's parties become SUSPENDED."""
    platform.registered = False
    now = utcnow()
    for party in platform.parties:
        party.status = ConnectionStatus.SUSPENDED
        party.last_updated = now
    await asyncio.to_thread(hub.store.register_platform, platform)
    # What was still to be delivered to it is dropped: it must register and re-sync.
    await asyncio.to_thread(hub.store.drop_outbox, platform.id)
    hub.directory.remove_platform(platform.id, keep_parties=True)
    hub.directory.add_platform(platform)
    hub.spawn(announce(hub, platform.parties), "clientinfo-unregister")


async def connect(hub: Hub, versions_url: str, token_a: str) -> Platform:
    """Hub-initiated handshake: the hub registers itself at a member with the member's token A,
    in the newest version both speak."""
    api = await fetch_member_api(hub, versions_url, token_a, None)
    credentials_url = next(
        (url for (module, _), url in api.endpoints.items() if module == ModuleID.CREDENTIALS),
        None,
    )
    assert credentials_url is not None  # fetch_member_api requires it
    token_for_member = secrets.token_urlsafe(32)
    pending = Invitee(token_for_member, hash_token(token_for_member), ())
    hub.pending[pending.token_hash] = pending  # lets the member fetch our versions/details
    try:
        response = await OcpiClient(hub.http, token_a).post(
            credentials_url,
            _answer(hub, token_for_member, api.version, None),
            routed=False,
        )
        theirs = read_credentials(response.data, api.version)
    except (PeerError, InvalidParameters) as exc:
        raise UnableToUseClientApi(f"the member's credentials endpoint failed: {exc}") from exc
    finally:
        hub.pending.pop(pending.token_hash, None)
    checked = _check_roles(hub, theirs.roles, (), None)
    platform = Platform(
        id=0,
        name=theirs.roles[0].business_details.name,
        versions_url=theirs.url,
        token_to_member=theirs.token,
        token_hash=hash_token(token_for_member),
        endpoints=api.endpoints,
        parties=_parties(checked),
        last_seen=time.monotonic(),
        version=api.version,
    )
    await asyncio.to_thread(hub.store.register_platform, platform)
    hub.directory.add_platform(platform)
    hub.spawn(announce(hub, platform.parties, new_platform=platform), "clientinfo-connect")
    return platform


def ensure_invitee(principal: Platform | Invitee, method: str) -> Invitee:
    if isinstance(principal, Platform):
        raise MethodNotAllowed(f"{method} /credentials: this platform is already registered")
    return principal


def ensure_platform(principal: Platform | Invitee, method: str) -> Platform:
    if isinstance(principal, Invitee) or not principal.registered:
        raise MethodNotAllowed(f"{method} /credentials: this platform is not registered")
    return principal
