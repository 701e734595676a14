"""OCPI 2.2.1 Credentials module objects (spec credentials): Credentials and CredentialsRole."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from ocpi.v221.locations import BusinessDetails
from ocpi.v221.types import URL, CiString2, CiString3, OcpiModel, Role

CredentialsToken = Annotated[str, StringConstraints(max_length=64, pattern=r"^[\x21-\x7E]+$")]
"""string(64) holding only printable non-whitespace ASCII, U+0021..U+007E (spec credentials, d2).

This is the raw token; the Authorization header carries it Base64-encoded.
"""


class CredentialsRole(OcpiModel):
    role: Role
    business_details: BusinessDetails
    party_id: CiString3
    country_code: CiString2


class Credentials(OcpiModel):
    token: CredentialsToken
    url: URL
    roles: Annotated[list[CredentialsRole], Field(min_length=1)]

    @model_validator(mode="after")
    def _roles_unique(self) -> Credentials:
        # Spec credentials object: "Every role needs a unique combination of: role, party_id and
        # country_code". party_id and country_code are CiStrings, so compared case-insensitively.
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
