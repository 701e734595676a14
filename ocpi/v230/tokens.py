"""OCPI 2.3.0 Tokens module objects (spec mod_tokens): what changed from 2.2.1.

Token.type is an OpenEnum with the new value EMAID (ISO 15118 contract ids); everything that
holds a Token is redefined for that. TokenType lives in `ocpi.v230.locations`.
"""

from __future__ import annotations

from ocpi.v221.sessions import ProfileType
from ocpi.v221.tokens import AllowedType, EnergyContract, LocationReferences, WhitelistType
from ocpi.v221.types import (
    CiString2,
    CiString3,
    CiString36,
    DateTime,
    DisplayText,
    OcpiModel,
    StrictBool,
    String2,
    String64,
)
from ocpi.v230.locations import TokenType
from ocpi.v230.types import OpenEnum

__all__ = [
    "AllowedType",
    "AuthorizationInfo",
    "EnergyContract",
    "LocationReferences",
    "Token",
    "TokenType",
    "WhitelistType",
]


class Token(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    uid: CiString36
    type: OpenEnum[TokenType]
    contract_id: CiString36
    visual_number: String64 | None = None
    issuer: String64
    group_id: CiString36 | None = None
    valid: StrictBool
    whitelist: WhitelistType
    language: String2 | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class AuthorizationInfo(OcpiModel):
    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: CiString36 | None = None
    info: DisplayText | None = None
