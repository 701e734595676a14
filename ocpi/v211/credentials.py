"""OCPI 2.1.1 Credentials object (spec 2.1.1 credentials §2.1): one party, no roles."""

from __future__ import annotations

from ocpi.v221.credentials import CredentialsToken
from ocpi.v221.locations import BusinessDetails
from ocpi.v221.types import URL, OcpiModel, String2, String3

__all__ = ["Credentials"]


class Credentials(OcpiModel):
    token: CredentialsToken
    url: URL
    business_details: BusinessDetails
    party_id: String3
    country_code: String2
