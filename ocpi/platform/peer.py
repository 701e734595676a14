"""What a member platform knows about the platform it is connected to (its hub).

`PeerState` holds both tokens of the connection (the one we send, the one we issued), the
peer's versions URL, its 2.2.1 endpoints and its roles. A service persists it through a
`PeerStore` of its own: `TablePeerStore` over its key/value table, or `MemoryPeerStore`,
the in-memory one for tests and scripts.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from ocpi.headers import PartyRef
from ocpi.v221.credentials import CredentialsRole
from ocpi.v221.types import Role
from ocpi.v221.versions import Endpoint, InterfaceRole, ModuleID


@dataclass
class PeerState:
    """One OCPI connection seen from our side."""

    token: str
    """The token we send when we call the peer (token C after a member-initiated handshake)."""
    issued_token: str
    """The token the peer sends when it calls us (token B, or the one we issued on its POST)."""
    versions_url: str
    endpoints: list[Endpoint]
    roles: list[CredentialsRole]
    credentials_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Service-specific facts kept with the connection (never interpreted here)."""
    previous_token: str | None = None
    """The token the peer called us with before its last credentials PUT: still accepted
    until the peer first uses `issued_token`, so that a PUT whose answer was lost can be
    sent again (docs/conformance.md, lifecycle.interrupted_rotation)."""
    hub_party_id: str | None = None
    """The hub party a 2.3.0 peer named in its credentials (`hub_party_id`, e.g. "NLHUB");
    2.3.0 has no HUB role to find it in `roles`."""

    def endpoint(self, module: ModuleID | str, role: InterfaceRole | None = None) -> str | None:
        """The peer's URL of one module interface, as its version details published it."""
        for item in self.endpoints:
            if item.identifier == module and (role is None or item.role is role):
                return item.url
        return None

    @property
    def hub_party(self) -> PartyRef | None:
        """The peer's hub party: its 2.3.0 `hub_party_id`, or its HUB role (digest §2.7: a
        2.2.1 hub's credentials list exactly that one role)."""
        if self.hub_party_id is not None:
            return PartyRef(self.hub_party_id[:2], self.hub_party_id[2:])
        for entry in self.roles:
            if entry.role is Role.HUB:
                return PartyRef(entry.country_code, entry.party_id)
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "issued_token": self.issued_token,
            "versions_url": self.versions_url,
            "endpoints": [e.to_json() for e in self.endpoints],
            "roles": [r.to_json() for r in self.roles],
            "credentials_url": self.credentials_url,
            "extra": self.extra,
            "previous_token": self.previous_token,
            "hub_party_id": self.hub_party_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PeerState:
        return cls(
            token=str(data["token"]),
            issued_token=str(data["issued_token"]),
            versions_url=str(data["versions_url"]),
            endpoints=[Endpoint.model_validate(e) for e in data["endpoints"]],
            roles=[CredentialsRole.model_validate(r) for r in data["roles"]],
            credentials_url=data.get("credentials_url"),
            extra=dict(data.get("extra") or {}),
            previous_token=data.get("previous_token"),
            hub_party_id=data.get("hub_party_id"),
        )


class PeerStore(Protocol):
    """Where a service keeps its PeerState (None: not connected)."""

    async def load_peer(self) -> PeerState | None: ...

    async def save_peer(self, state: PeerState | None) -> None: ...


class MemoryPeerStore:
    """A PeerStore that forgets everything when the process ends."""

    def __init__(self, state: PeerState | None = None) -> None:
        self.state = state

    async def load_peer(self) -> PeerState | None:
        return self.state

    async def save_peer(self, state: PeerState | None) -> None:
        self.state = state


class StateTable(Protocol):
    """A service's key/value table (synchronous: it is called in a worker thread)."""

    def get_state(self, key: str) -> str | None: ...

    def set_state(self, key: str, value: str | None) -> None: ...


class TablePeerStore:
    """A PeerStore over a service's key/value table: the PeerState as JSON under one key,
    so the tokens survive a restart. The table's calls run in a worker thread."""

    def __init__(self, table: StateTable, key: str = "peer") -> None:
        self.table = table
        self.key = key

    async def load_peer(self) -> PeerState | None:
        raw = await asyncio.to_thread(self.table.get_state, self.key)
        return PeerState.from_json(json.loads(raw)) if raw else None

    async def save_peer(self, state: PeerState | None) -> None:
        value = json.dumps(state.to_json()) if state is not None else None
        await asyncio.to_thread(self.table.set_state, self.key, value)
