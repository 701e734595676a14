"""The credentials handshake in both directions (spec credentials, digest §3.4).

Member-initiated: the member calls POST /credentials with a token A from `roam hub invite`;
the hub fetches the member's versions and details with the member's token B, and answers with
a new token C. Hub-initiated (`roam hub connect`): the hub plays the member's part against the
member's own credentials endpoint. PUT rotates tokens and refreshes endpoints, DELETE
unregisters. Token A dies with its first successful use, atomically (Store.register_platform).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError

from hub.clientinfo import announce
from hub.directory import Party, Platform, hash_token
from hub.service import Hub, Invitee
from hub.store import InvitationUsed, utcnow
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
from ocpi.v221.credentials import Credentials, CredentialsRole
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole, ModuleID, Version, VersionDetails, VersionNumber

_VERSIONS = TypeAdapter(list[Version])
_DETAILS = TypeAdapter(VersionDetails)

# The minimum the hub needs from a member's 2.2.1 details (3003 when absent).
REQUIRED_MODULES = (ModuleID.CREDENTIALS,)


@dataclass(frozen=True)
class MemberApi:
    """What the hub learned by calling a member's versions and details endpoints."""

    versions_url: str
    endpoints: dict[tuple[str, InterfaceRole], str]


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


async def fetch_member_api(hub: Hub, versions_url: str, token: str) -> MemberApi:
    """GET the member's versions, pick 2.2.1, GET its details. 3001/3002/3003 on failure."""
    client = OcpiClient(hub.http, token)
    try:
        response = await client.get(versions_url, routed=False)
    except (OcpiError, ValueError) as exc:
        raise UnableToUseClientApi(f"could not GET the versions at {versions_url}: {exc}") from exc
    try:
        versions = _VERSIONS.validate_python(response.data)
    except ValidationError as exc:
        raise UnableToUseClientApi(f"the versions at {versions_url} are not valid: {exc}") from exc
    chosen = next((v for v in versions if v.version == VersionNumber.V2_2_1), None)
    if chosen is None:
        offered = ", ".join(str(v.version) for v in versions) or "none"
        raise UnsupportedVersion(f"the hub speaks OCPI 2.2.1; the member offers {offered}")
    try:
        details = _DETAILS.validate_python((await client.get(chosen.url, routed=False)).data)
    except ValidationError as exc:
        raise UnableToUseClientApi(
            f"the 2.2.1 details at {chosen.url} are not valid: {exc}"
        ) from exc
    except (OcpiError, ValueError) as exc:
        raise UnableToUseClientApi(
            f"could not GET the 2.2.1 details at {chosen.url}: {exc}"
        ) from exc
    endpoints = {(str(e.identifier), e.role): e.url for e in details.endpoints}
    missing = [m.value for m in REQUIRED_MODULES if not any(k[0] == m for k in endpoints)]
    if missing:
        raise NoMatchingEndpoints(f"the member's 2.2.1 details lack {', '.join(missing)}")
    return MemberApi(versions_url, endpoints)


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


async def register(hub: Hub, invitee: Invitee, credentials: Credentials) -> Credentials:
    """POST /credentials by a new member (token A).

    Two POSTs with the same token A may both get this far (each was authenticated before
    either was written); the store consumes the invitation atomically, and the loser gets
    what a used token A gets: HTTP 401, status 2000. It leaves nothing behind: the directory,
    the database and ClientInfo are only touched once the registration is written. (The
    member was only read from: its versions and details.)
    """
    checked = _check_roles(hub, credentials.roles, invitee.allowed, None)
    api = await fetch_member_api(hub, credentials.url, credentials.token)
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
    )
    try:
        await asyncio.to_thread(
            hub.store.register_platform, platform, invitation_hash=invitee.token_hash
        )
    except InvitationUsed as exc:
        raise Unauthorized(str(exc)) from None
    hub.directory.add_platform(platform)
    hub.spawn(announce(hub, platform.parties, new_platform=platform), "clientinfo-connect")
    return hub_credentials(hub, token_c)


async def update(hub: Hub, platform: Platform, credentials: Credentials) -> Credentials:
    """PUT /credentials: refetch endpoints, take the new token B, issue a new token C."""
    checked = _check_roles(hub, credentials.roles, (), platform.id)
    api = await fetch_member_api(hub, credentials.url, credentials.token)
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
    )
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
    return hub_credentials(hub, token_c)


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
    """Hub-initiated handshake: the hub registers itself at a member with the member's token A."""
    api = await fetch_member_api(hub, versions_url, token_a)
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
            credentials_url, hub_credentials(hub, token_for_member), routed=False
        )
        theirs = response.parse(Credentials)
    except PeerError as exc:
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
