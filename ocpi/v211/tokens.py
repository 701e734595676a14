"""OCPI 2.1.1 Tokens module objects (spec 2.1.1 mod_tokens): Token and AuthorizationInfo.

WhitelistType is 2.2.1's; 2.1.1 calls 2.2.1's AllowedType `Allowed` (same values).
"""

from __future__ import annotations

from enum import StrEnum

from ocpi.v211.types import String36, String39
from ocpi.v221.tokens import AllowedType, WhitelistType
from ocpi.v221.types import DateTime, DisplayText, OcpiModel, StrictBool, String2, String64

__all__ = [
    "Allowed",
    "AuthorizationInfo",
    "LocationReferences",
    "Token",
    "TokenType",
    "WhitelistType",
]

Allowed = AllowedType


class TokenType(StrEnum):
    """Spec 2.1.1 §4.3: no AD_HOC_USER or APP_USER."""

    OTHER = "OTHER"
    RFID = "RFID"


class Token(OcpiModel):
    uid: String36
    type: TokenType
    auth_id: String36
    visual_number: String64 | None = None
    issuer: String64
    valid: StrictBool
    whitelist: WhitelistType
    language: String2 | None = None
    last_updated: DateTime


class LocationReferences(OcpiModel):
    location_id: String39
    evse_uids: list[String39] | None = None
    connector_ids: list[String36] | None = None


class AuthorizationInfo(OcpiModel):
    allowed: Allowed
    location: LocationReferences | None = None
    info: DisplayText | None = None
