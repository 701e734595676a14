"""The party directory: which platform hosts which (role, country_code, party_id) and where.

Held in memory (loaded from the store at start-up, written through on every change) so that
authenticating and routing a message never waits for the database.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocpi.headers import PartyRef
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole, ModuleID


def hash_token(token: str) -> str:
    """Tokens the hub issues are stored only as this hash (a hash serves: we never send them)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Party:
    """One role of a platform as the hub knows it."""

    role: Role
    ref: PartyRef
    status: ConnectionStatus
    last_updated: datetime
    platform_id: int | None = None
    business_details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[Role, PartyRef]:
        return (self.role, self.ref)

    def label(self) -> str:
        return f"{self.ref} ({self.role.value})"


@dataclass
class Platform:
    """A connected platform: its tokens, endpoints and roles."""

    id: int
    name: str
    versions_url: str
    token_to_member: str
    token_hash: str
    endpoints: dict[tuple[str, InterfaceRole], str]
    parties: list[Party]
    registered: bool = True
    last_seen: float = field(default_factory=time.monotonic)
    version: str = "2.2.1"
    """The OCPI version the platform chose with the hub (hub/translation.py)."""

    def endpoint(self, module: ModuleID | str, role: InterfaceRole) -> str | None:
        return self.endpoints.get((str(module), role))

    def hosts(self, ref: PartyRef) -> bool:
        return any(party.ref == ref for party in self.parties)

    def party(self, ref: PartyRef, roles: Iterable[Role] | None = None) -> Party | None:
        wanted = set(roles) if roles is not None else None
        for party in self.parties:
            if party.ref == ref and (wanted is None or party.role in wanted):
                return party
        return None


class Directory:
    """Platforms by id and token, parties by (role, ref). Mutated only by the hub service."""

    def __init__(self) -> None:
        self.platforms: dict[int, Platform] = {}
        self._by_token: dict[str, Platform] = {}
        self.parties: dict[tuple[Role, PartyRef], Party] = {}

    # --- changes -------------------------------------------------------------------------
    def add_platform(self, platform: Platform) -> None:
        old = self.platforms.get(platform.id)
        if old is not None:
            self.remove_platform(old.id, keep_parties=False)
        self.platforms[platform.id] = platform
        if platform.registered:
            self._by_token[platform.token_hash] = platform
        for party in platform.parties:
            self.parties[party.key] = party

    def remove_platform(self, platform_id: int, *, keep_parties: bool) -> Platform | None:
        platform = self.platforms.pop(platform_id, None)
        if platform is None:
            return None
        self._by_token.pop(platform.token_hash, None)
        if not keep_parties:
            for party in platform.parties:
                if self.parties.get(party.key) is party:
                    del self.parties[party.key]
        return platform

    def retoken(self, platform: Platform, new_hash: str) -> None:
        self._by_token.pop(platform.token_hash, None)
        platform.token_hash = new_hash
        self._by_token[new_hash] = platform

    def add_party(self, party: Party) -> None:
        self.parties[party.key] = party

    # --- questions -----------------------------------------------------------------------
    def by_token(self, token: str) -> Platform | None:
        return self._by_token.get(hash_token(token))

    def platform_of(self, party: Party) -> Platform | None:
        return self.platforms.get(party.platform_id) if party.platform_id is not None else None

    def find(self, ref: PartyRef, roles: Iterable[Role] | None = None) -> list[Party]:
        """Parties with this (country_code, party_id), optionally of the given roles."""
        wanted = set(roles) if roles is not None else None
        return [
            party
            for (role, key), party in self.parties.items()
            if key == ref and (wanted is None or role in wanted)
        ]

    def all_parties(self) -> Iterator[Party]:
        return iter(list(self.parties.values()))
