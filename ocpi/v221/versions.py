"""OCPI 2.2.1 version information endpoints (spec version_information_endpoint).

Version (versions list), VersionDetails with its Endpoints, and the ModuleID / InterfaceRole enums.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ocpi.v221.types import URL, CiString36, OcpiModel


class VersionNumber(StrEnum):
    V2_0 = "2.0"
    V2_1 = "2.1"  # deprecated by the spec: use 2.1.1
    V2_1_1 = "2.1.1"
    V2_2 = "2.2"  # deprecated by the spec: use 2.2.1
    V2_2_1 = "2.2.1"


class ModuleID(StrEnum):
    CDRS = "cdrs"
    CHARGINGPROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUBCLIENTINFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


class InterfaceRole(StrEnum):
    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class Version(OcpiModel):
    # A peer's versions list may already offer versions newer than this package knows (2.3.0):
    # those stay plain strings, so the list still parses and the 2.2.1 entry can be found.
    version: Annotated[VersionNumber | CiString36, Field(union_mode="left_to_right")]
    url: URL


class Endpoint(OcpiModel):
    # Spec "Custom Modules": the ModuleID enum may be extended with bilaterally agreed ids such as
    # "nltnm-tokens". The enum stays strict (a typo in a standard id is still caught by whoever
    # looks for ModuleID members), but a details list naming one custom module must not fail as a
    # whole, so any other CiString is accepted as-is. left_to_right makes "locations" always
    # become ModuleID.LOCATIONS; the spec gives no length, 36 is this package's choice.
    identifier: Annotated[ModuleID | CiString36, Field(union_mode="left_to_right")]
    role: InterfaceRole
    url: URL


class VersionDetails(OcpiModel):
    version: VersionNumber
    endpoints: Annotated[list[Endpoint], Field(min_length=1)]
