"""OCPI 2.3.0 base types (spec "Types"): what changed from 2.2.1 — Price, TaxAmount, Role, OpenEnum.

Everything else (CiString, string, DateTime, number, DisplayText) is 2.2.1's, imported from
`ocpi.v221.types` so that one rule is still enforced in one place.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import Field, StringConstraints

from ocpi.v221.types import STRING_PATTERN, DisplayText, Number, OcpiModel, String255

__all__ = [
    "DisplayText",
    "OcpiModel",
    "OpenEnum",
    "OpenEnumValue",
    "Price",
    "Role",
    "String12",
    "String50",
    "TaxAmount",
]

E = TypeVar("E", bound=StrEnum)

# Lengths 2.2.1 never used (Parking.physical_reference, EVSE.accepted_service_providers).
String12 = Annotated[str, StringConstraints(max_length=12, pattern=STRING_PATTERN)]
String50 = Annotated[str, StringConstraints(max_length=50, pattern=STRING_PATTERN)]

OpenEnumValue = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=STRING_PATTERN)
]
"""A value of an OpenEnum that this package does not know (spec "Types" > OpenEnum).

The spec gives OpenEnum values no length and no alphabet beyond "JSON strings"; this package
takes a non-empty printable string of at most 255 characters.
"""

OpenEnum = Annotated[E | OpenEnumValue, Field(union_mode="left_to_right")]
"""Spec "Types" > OpenEnum: the known values become enum members, any other string is kept.

left_to_right makes a known value always the enum member, never the plain string.
"""


class TaxAmount(OcpiModel):
    """Spec "Types" > TaxAmount (new in 2.3.0): one tax due on a Price."""

    name: String255  # spec: string, no length given; 255 is this package's choice
    account_number: String255 | None = None  # likewise
    percentage: Number | None = None
    amount: Number


class Price(OcpiModel):
    """Spec "Types" > Price (2.3.0): `before_taxes` and the list of taxes, no more excl/incl VAT."""

    before_taxes: Number
    taxes: list[TaxAmount] | None = None


class Role(StrEnum):
    """Spec "Types" > Role (2.3.0): 2.2.1's roles without HUB (a hub is `hub_party_id` now)."""

    CPO = "CPO"
    EMSP = "EMSP"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"
