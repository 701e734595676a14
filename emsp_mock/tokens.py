"""The eMSP's tokens (spec mod_tokens, Sender): built from the configured drivers, and
real-time authorization of them."""

from __future__ import annotations

import uuid
from datetime import datetime

from emsp_mock.settings import TokenSettings
from emsp_mock.state import Change, EmspState, token_key, utcnow
from ocpi.v221.tokens import (
    AllowedType,
    AuthorizationInfo,
    LocationReferences,
    Token,
    TokenType,
    WhitelistType,
)


def token_of(state: EmspState, item: TokenSettings, at: datetime) -> Token:
    """The Token a configured one stands for, stamped `at`."""
    whitelist = item.whitelist or (
        WhitelistType.ALLOWED if item.type is TokenType.RFID else WhitelistType.NEVER
    )
    return Token(
        country_code=state.party.country_code,
        party_id=state.party.party_id,
        uid=item.uid,
        type=item.type,
        contract_id=item.contract_id,
        visual_number=item.visual_number,
        issuer=state.settings.name[:64],
        valid=item.valid,
        whitelist=whitelist,
        last_updated=at,
    )


async def sync_tokens(change: Change) -> list[Token]:
    """Tokens from the configured drivers; those new or changed since the last start get a
    new last_updated (and are to be broadcast again)."""
    state = change.state
    now = utcnow()
    changed: list[Token] = []
    for driver in state.drivers.values():
        for item in driver.tokens:
            key = token_key(item.uid, item.type)
            state.token_settings[key] = item
            state.token_driver[key] = driver.id
            stored = state.tokens.get(key)
            fresh = token_of(state, item, stored.last_updated if stored else now)
            if stored is None or fresh != stored:
                changed.append(fresh.model_copy(update={"last_updated": now}))
    await change.put_tokens(changed)
    return changed


def authorize(
    state: EmspState, uid: str, type: TokenType, where: LocationReferences | None
) -> AuthorizationInfo | None:
    """Real-time authorization; None for a token not ours (the endpoint answers 2004).

    A valid token gets its configured answer (ALLOWED by default); an invalid one gets its
    configured refusal, or BLOCKED. The location, if given, is echoed when allowed (the
    driver may use every EVSE; the spec forbids judging stale statuses).
    """
    key = token_key(uid, type)
    token = state.tokens.get(key)
    if token is None:
        return None
    configured = state.token_settings[key].allowed if key in state.token_settings else "ALLOWED"
    allowed = AllowedType(configured)
    if not token.valid and allowed is AllowedType.ALLOWED:
        allowed = AllowedType.BLOCKED
    return AuthorizationInfo(
        allowed=allowed,
        token=token,
        location=where if allowed is AllowedType.ALLOWED else None,
        authorization_reference=uuid.uuid4().hex if allowed is AllowedType.ALLOWED else None,
    )
