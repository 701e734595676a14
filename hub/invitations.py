"""Invitations: one-time credentials tokens A (spec credentials, CREDENTIALS_TOKEN_A).

The hub keeps only a token's SHA-256 hash; the token itself is handed out once, with the
hub's versions URL. An invitation may name the parties the member may register.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.directory import hash_token
from hub.store import Store
from ocpi.headers import PartyRef
from ocpi.v221.types import Role


@dataclass(frozen=True)
class Invitation:
    """What the hub operator hands a new member: token A and where to use it."""

    token: str
    versions_url: str
    parties: tuple[tuple[Role, PartyRef], ...]
    """The parties the member may register; empty: any."""

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "versions_url": self.versions_url,
            "parties": [f"{role.value} {ref}" for role, ref in self.parties],
        }


def create_invitation(
    store: Store, versions_url: str, parties: Sequence[tuple[Role, PartyRef]], note: str = ""
) -> Invitation:
    """Make a one-time token A and store its hash (the named parties become PLANNED)."""
    token = secrets.token_urlsafe(24)
    store.add_invitation(hash_token(token), parties, note)
    return Invitation(token, versions_url, tuple(parties))
