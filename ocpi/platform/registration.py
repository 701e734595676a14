"""The credentials handshake from a member platform's side (spec credentials, digest §3.4).

Member-initiated: `register(versions_url, token_a)` fetches the peer's versions and the
details of our version (2.2.1, or the one configured: `version`) with token A, POSTs our
credentials with a fresh token B (accepted from that moment, because the peer fetches our
versions with it before it answers) and keeps the token C it returns. `update()` rotates both
tokens with PUT, `unregister()` ends the connection with DELETE. Peer-initiated (a hub calling
us with a token A we handed out): `accept()` answers its POST or PUT, `forget()` its DELETE.
The PeerStore is written before any answer goes out. After the peer's PUT its old token works
until it first uses the new one (a lost answer).

For another version than 2.2.1, functional calls go through `functional_http`, whose
`EdgeTransport` translates them (ocpi.platform.edge); the configuration calls here are made
in the version itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import httpx

from ocpi.client import DirectClient, OcpiClient
from ocpi.errors import (
    MethodNotAllowed,
    NoMatchingEndpoints,
    OcpiError,
    PeerProtocolError,
    UnableToUseClientApi,
    UnsupportedVersion,
)
from ocpi.headers import PartyRef
from ocpi.platform.adapters import PeerCredentials, V221Adapter, VersionAdapter
from ocpi.platform.edge import EdgeTransport, log_losses
from ocpi.platform.peer import PeerState, PeerStore
from ocpi.translate.notes import Untranslatable
from ocpi.v221.credentials import Credentials, CredentialsRole
from ocpi.v221.versions import Endpoint, ModuleID

Principal = Literal["peer", "token_a"]
"""Who a credentials token stands for: the connected peer, or a holder of our token A."""


def new_token() -> str:
    """A fresh credentials token: 43 printable non-whitespace ASCII characters (spec: <= 64)."""
    return secrets.token_urlsafe(32)


class Registration:
    """One platform's connection to its peer (for a member: the hub)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        store: PeerStore,
        *,
        versions_url: str,
        roles: Sequence[CredentialsRole],
        token_a: str | None = None,
        required: Sequence[ModuleID] = (ModuleID.CREDENTIALS,),
        version: VersionAdapter | None = None,
        public_url: str | None = None,
        raw_tokens: bool = False,
    ) -> None:
        self.http = http
        self.raw_tokens = raw_tokens
        """Send the token unencoded (2.1.1's `Token <token>`), not Base64."""
        self.store = store
        self.versions_url = versions_url
        self.roles = list(roles)
        self.token_a = token_a
        """A token A we handed out so that the peer can start the handshake (or None)."""
        self.required = tuple(required)
        self.peer: PeerState | None = None
        self._pending: set[str] = set()
        self.version = version or V221Adapter()
        """The OCPI version spoken with the peer; the rest of the platform speaks 2.2.1."""
        self.functional_http = http
        """What functional calls go through: for another version, the edge that translates."""
        if self.version.translates:
            own_role = self.roles[0].role
            edge = EdgeTransport(
                http,
                self.version,
                lambda: self.peer,
                own_role,
                public_url or versions_url.removesuffix("/ocpi/versions"),
            )
            # Direct: OcpiClient hands its requests to the edge without httpx's client
            # machinery (ocpi/client.py); the timeout is httpx's default, as before.
            self.functional_http = DirectClient(edge)

    # --- state ----------------------------------------------------------------------------
    async def load(self) -> PeerState | None:
        """Read the stored connection (call once at start-up)."""
        self.peer = await self.store.load_peer()
        return self.peer

    @property
    def is_registered(self) -> bool:
        return self.peer is not None

    def require_peer(self) -> PeerState:
        if self.peer is None:
            raise RuntimeError("not connected to a peer platform: register first")
        return self.peer

    def own_credentials(self, token: str) -> Credentials:
        return Credentials(token=token, url=self.versions_url, roles=self.roles)

    def client(self, from_party: PartyRef | None = None) -> OcpiClient:
        """An OcpiClient that calls the peer with our token (FROM defaults to our first role)."""
        peer = self.require_peer()
        sender = from_party or PartyRef(self.roles[0].country_code, self.roles[0].party_id)
        return OcpiClient(
            self.functional_http, peer.token, from_party=sender, raw_token=self.raw_tokens
        )

    async def _keep(self, state: PeerState | None) -> None:
        await self.store.save_peer(state)
        self.peer = state

    # --- authentication -------------------------------------------------------------------
    async def principal(self, token: str) -> Principal | None:
        """For versions and credentials: the peer (its token, or B during a handshake) or
        a holder of our token A; None means 401."""
        if token in self._pending:
            return "peer"
        peer = self.peer
        if peer is not None and secrets.compare_digest(token, peer.issued_token):
            if peer.previous_token is not None:
                # The new token is in use: the answer to the PUT arrived, retire the old one.
                await self._keep(replace(peer, previous_token=None))
            return "peer"
        previous = peer.previous_token if peer is not None else None
        if previous is not None and secrets.compare_digest(token, previous):
            return "peer"
        if self.token_a is not None and secrets.compare_digest(token, self.token_a):
            return "token_a"
        return None

    async def peer_principal(self, token: str) -> Literal["peer"] | None:
        """For functional modules: only the token we issued to the peer (token A gets 401)."""
        return "peer" if await self.principal(token) == "peer" else None

    # --- member-initiated -----------------------------------------------------------------
    async def discover(self, versions_url: str, token: str) -> list[Endpoint]:
        """GET versions, choose ours (2.2.1 or the configured one), GET its details (digest
        §3.4 steps 2-3)."""
        client = OcpiClient(self.http, token, raw_token=self.raw_tokens)
        number = self.version.number
        answer = await client.get(versions_url, routed=False)
        try:
            versions = self.version.offered(answer.data)
        except ValueError as exc:
            raise PeerProtocolError(f"{versions_url}: not a list of versions: {exc}") from None
        chosen = versions.get(number)
        if chosen is None:
            offered = ", ".join(versions) or "none"
            raise UnsupportedVersion(
                f"{versions_url} offers no OCPI {number} (it offers {offered})"
            )
        details = await client.get(chosen, routed=False)
        try:
            endpoints = self.version.read_details(details.data)
        except ValueError as exc:
            raise PeerProtocolError(f"{chosen}: not {number} version details: {exc}") from None
        missing = [
            module.value
            for module in self.required
            if not any(e.identifier == module for e in endpoints)
        ]
        if missing:
            # Spec: a sender that finds required endpoints missing should not POST at all.
            raise NoMatchingEndpoints(f"the {number} details at {chosen} lack {', '.join(missing)}")
        return endpoints

    def own_credentials_out(self, token: str) -> dict[str, object]:
        """Our credentials in the spoken version's JSON."""
        return self.version.credentials_out(self.own_credentials(token))

    def read_credentials(self, data: object) -> PeerCredentials:
        """The peer's credentials in the spoken version (PeerProtocolError: not valid)."""
        try:
            theirs = self.version.credentials_in(data)
        except (ValueError, Untranslatable) as exc:
            raise PeerProtocolError(
                f"the peer's credentials are not valid OCPI {self.version.number}: {exc}"
            ) from None
        log_losses("credentials", theirs.lost)
        return theirs

    async def register(self, versions_url: str, token_a: str) -> PeerState:
        """Member-initiated handshake with the peer's token A; keeps and returns the state."""
        if self.peer is not None:
            raise RuntimeError("already registered: use update() or unregister()")
        endpoints = await self.discover(versions_url, token_a)
        credentials_url = _credentials_url(endpoints)
        token_b = new_token()
        self._pending.add(token_b)
        try:
            answer = await OcpiClient(self.http, token_a, raw_token=self.raw_tokens).post(
                credentials_url, self.own_credentials_out(token_b), routed=False
            )
            received = self.read_credentials(answer.data)
            theirs = received.credentials
            state = PeerState(
                token=theirs.token,
                issued_token=token_b,
                versions_url=theirs.url,
                endpoints=endpoints,
                roles=list(theirs.roles),
                credentials_url=credentials_url,
                hub_party_id=_hub_party_id(received),
            )
            await self.store.save_peer(state)
            self.peer = state
        finally:
            self._pending.discard(token_b)
        return state

    async def update(self) -> PeerState:
        """PUT credentials: a new token B for the peer, a new token C from it, fresh endpoints."""
        peer = self.require_peer()
        credentials_url = peer.credentials_url or _credentials_url(peer.endpoints)
        token_b = new_token()
        self._pending.add(token_b)
        try:
            answer = await OcpiClient(self.http, peer.token, raw_token=self.raw_tokens).put(
                credentials_url, self.own_credentials_out(token_b), routed=False
            )
            received = self.read_credentials(answer.data)
            theirs = received.credentials
            endpoints = await self.discover(theirs.url, theirs.token)
            state = PeerState(
                token=theirs.token,
                issued_token=token_b,
                versions_url=theirs.url,
                endpoints=endpoints,
                roles=list(theirs.roles),
                credentials_url=_credentials_url(endpoints),
                extra=peer.extra,
                hub_party_id=_hub_party_id(received),
            )
            await self.store.save_peer(state)
            self.peer = state
        finally:
            self._pending.discard(token_b)
        return state

    async def unregister(self) -> None:
        """DELETE credentials; afterwards neither token works."""
        peer = self.require_peer()
        credentials_url = peer.credentials_url or _credentials_url(peer.endpoints)
        await OcpiClient(self.http, peer.token, raw_token=self.raw_tokens).delete(
            credentials_url, routed=False
        )
        await self.forget()

    # --- peer-initiated -------------------------------------------------------------------
    async def accept(
        self, received: Credentials | PeerCredentials, caller: Principal, method: str
    ) -> Credentials:
        """The peer POSTed (with our token A) or PUT (with its token) its credentials.

        We fetch its versions and details with the token it sent (3001 when that fails, 3002
        without our version) and answer with a new token of ours. POST when registered and PUT when
        not are 405 (spec credentials).
        """
        if isinstance(received, Credentials):
            received = PeerCredentials(received)
        theirs = received.credentials
        if method == "POST" and self.peer is not None:
            raise MethodNotAllowed("already registered: PUT to update, DELETE to unregister")
        if method == "PUT" and (self.peer is None or caller != "peer"):
            raise MethodNotAllowed("not registered here: POST credentials first")
        try:
            endpoints = await self.discover(theirs.url, theirs.token)
        except (UnsupportedVersion, NoMatchingEndpoints):
            raise
        except OcpiError as exc:
            raise UnableToUseClientApi(
                f"could not fetch the versions and details at {theirs.url}: {exc}"
            ) from None
        issued = new_token()
        previous = None
        if method == "PUT" and self.peer is not None:
            # Until the peer uses the new token, the one it rotated away from still works: if
            # our answer is lost, the peer can PUT again with it (the pair recovers in OCPI).
            previous = self.peer.previous_token or self.peer.issued_token
        state = PeerState(
            token=theirs.token,
            issued_token=issued,
            versions_url=theirs.url,
            endpoints=endpoints,
            roles=list(theirs.roles),
            credentials_url=_credentials_url(endpoints),
            extra=self.peer.extra if self.peer is not None else {},
            previous_token=previous,
            hub_party_id=_hub_party_id(received),
        )
        await self._keep(state)
        self.token_a = None  # spent (spec credentials: token A is no longer valid)
        return self.own_credentials(issued)

    def current(self, caller: Principal) -> Credentials:
        """GET credentials: ours, with the token the peer uses (405 when not registered)."""
        if self.peer is None or caller != "peer":
            raise MethodNotAllowed("not registered here: POST credentials first")
        return self.own_credentials(self.peer.issued_token)

    async def forget(self, caller: Principal | None = None) -> None:
        """The connection ended (our DELETE, or the peer's: 405 when not registered)."""
        if caller is not None and (self.peer is None or caller != "peer"):
            raise MethodNotAllowed("not registered here: nothing to delete")
        self.peer = None
        await self.store.save_peer(None)


def _hub_party_id(received: PeerCredentials) -> str | None:
    hub = received.hub_party
    return f"{hub.country_code}{hub.party_id}" if hub is not None else None


def _credentials_url(endpoints: Sequence[Endpoint]) -> str:
    for endpoint in endpoints:
        if endpoint.identifier == ModuleID.CREDENTIALS:
            return endpoint.url
    raise NoMatchingEndpoints("the peer's version details have no credentials endpoint")
