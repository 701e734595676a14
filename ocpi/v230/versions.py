"""OCPI 2.3.0 version information endpoints (spec version_information_endpoint).

VersionNumber gains 2.3.0 and, like ModuleID, became an OpenEnum. Endpoint, InterfaceRole and
ModuleID are 2.2.1's (2.2.1's Endpoint already keeps unknown module ids as strings).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ocpi.v221.types import URL, CiString36, OcpiModel
from ocpi.v221.versions import Endpoint, InterfaceRole, ModuleID

__all__ = ["Endpoint", "InterfaceRole", "ModuleID", "Version", "VersionDetails", "VersionNumber"]


class VersionNumber(StrEnum):
    V2_0 = "2.0"
    V2_1 = "2.1"  # deprecated by the spec: use 2.1.1
    V2_1_1 = "2.1.1"
    V2_2 = "2.2"  # deprecated by the spec: use 2.2.1
    V2_2_1 = "2.2.1"
    V2_3_0 = "2.3.0"


class Version(OcpiModel):
    version: Annotated[VersionNumber | CiString36, Field(union_mode="left_to_right")]
    url: URL


class VersionDetails(OcpiModel):
    version: Annotated[VersionNumber | CiString36, Field(union_mode="left_to_right")]
    endpoints: Annotated[list[Endpoint], Field(min_length=1)]
