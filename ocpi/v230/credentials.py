"""OCPI 2.3.0 Credentials module objects (spec credentials): what changed from 2.2.1.

Role has no HUB any more. A platform with hub functionality names its own hub party in
`hub_party_id` (country code and party id as one five-character string) and lists the parties
reachable through it in `roles` (spec credentials, Credentials object and the NOTE under it).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from ocpi.v221.credentials import CredentialsToken
from ocpi.v221.types import CI_STRING_PATTERN, URL, CiString2, CiString3, OcpiModel
from ocpi.v230.locations import BusinessDetails
from ocpi.v230.types import Role

__all__ = ["Credentials", "CredentialsRole", "CredentialsToken", "HubPartyId"]

HubPartyId = Annotated[
    str, StringConstraints(min_length=5, max_length=5, pattern=CI_STRING_PATTERN)
]
"""CiString(5): "the two-letter country code and three-character party ID are concatenated
together in this field as one five-character string", so exactly five characters."""


class CredentialsRole(OcpiModel):
    role: Role
    business_details: BusinessDetails
    party_id: CiString3
    country_code: CiString2


class Credentials(OcpiModel):
    token: CredentialsToken
    url: URL
    hub_party_id: HubPartyId | None = None  # new in 2.3.0
    roles: Annotated[list[CredentialsRole], Field(min_length=1)]

    @model_validator(mode="after")
    def _roles_unique(self) -> Credentials:
        # Spec credentials object (unchanged): "Every role needs a unique combination of: role,
        # party_id and country_code"; CiStrings, so compared case-insensitively.
        seen: set[tuple[Role, str, str]] = set()
        for index, entry in enumerate(self.roles):
            key = (entry.role, entry.country_code.upper(), entry.party_id.upper())
            if key in seen:
                raise ValueError(
                    f"roles[{index}] repeats role {entry.role.value} with country_code "
                    f"{entry.country_code} and party_id {entry.party_id}: each (role, "
                    "country_code, party_id) must be unique"
                )
            seen.add(key)
        return self
