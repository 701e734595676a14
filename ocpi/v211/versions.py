"""OCPI 2.1.1 version information endpoints (spec 2.1.1 version_information_endpoint).

The versions list (Version) is 2.2.1's; 2.1.1's Endpoint has no `role` and its ModuleID has no
chargingprofiles or hubclientinfo.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ocpi.v221.types import URL, CiString36, OcpiModel
from ocpi.v221.versions import Version, VersionNumber

__all__ = ["Endpoint", "ModuleID", "Version", "VersionDetails", "VersionNumber"]


class ModuleID(StrEnum):
    CDRS = "cdrs"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


class Endpoint(OcpiModel):
    # Spec 2.1.1 "Custom Modules": custom ids (such as "nltnm-tokens") are allowed, as in 2.2.1.
    identifier: Annotated[ModuleID | CiString36, Field(union_mode="left_to_right")]
    url: URL


class VersionDetails(OcpiModel):
    version: VersionNumber
    endpoints: Annotated[list[Endpoint], Field(min_length=1)]
