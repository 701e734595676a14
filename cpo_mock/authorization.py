"""Whether an RFID swipe may start locally or needs the eMSP (spec mod_tokens WhitelistType).

Pure decisions; the real-time call itself (POST tokens/{uid}/authorize through the hub) is
the service's. The spec's rules:

* ALWAYS: accept locally, real-time authorization is not allowed; `valid: false` blocks.
* ALLOWED: the CPO may choose. Ours: a valid cached token starts locally (WHITELIST); an
  invalid one is asked about (the eMSP may have re-validated it since it pushed it).
* ALLOWED_OFFLINE: ask; only when the eMSP cannot be reached may a valid token start locally.
* NEVER: always ask, whatever `valid` says (spec: valid=false does not skip real-time auth).
* Unknown token: ask, by open routing (no OCPI-to): the hub knows which eMSP issued the uid.
"""

from __future__ import annotations

from enum import StrEnum

from ocpi.v221.tokens import AllowedType, AuthorizationInfo, Token, WhitelistType


class Decision(StrEnum):
    ALLOW_LOCALLY = "ALLOW_LOCALLY"
    BLOCK_LOCALLY = "BLOCK_LOCALLY"
    ASK_EMSP = "ASK_EMSP"


def whitelist_decision(token: Token | None) -> Decision:
    if token is None:
        return Decision.ASK_EMSP
    if token.whitelist is WhitelistType.ALWAYS:
        return Decision.ALLOW_LOCALLY if token.valid else Decision.BLOCK_LOCALLY
    if token.whitelist is WhitelistType.ALLOWED and token.valid:
        return Decision.ALLOW_LOCALLY
    return Decision.ASK_EMSP


def offline_fallback(token: Token | None) -> bool:
    """May a swipe start locally when the eMSP is unreachable (4002/4003, no answer)?"""
    return (
        token is not None
        and token.valid
        and token.whitelist in (WhitelistType.ALLOWED_OFFLINE, WhitelistType.ALLOWED)
    )


def allows(info: AuthorizationInfo, location_id: str, evse_uid: str) -> bool:
    """ALLOWED, and for this EVSE when the answer narrows the locations (spec
    AuthorizationInfo.location: "only the EVSEs the driver may use")."""
    if info.allowed is not AllowedType.ALLOWED:
        return False
    where = info.location
    if where is None:
        return True
    if where.location_id != location_id:
        return False
    return not where.evse_uids or evse_uid in where.evse_uids
