"""OCPI 2.2.1 base types (spec "Types"): CiString, string, DateTime, number, DisplayText, Price.

Every wire model in this package is built from these aliases so that one rule (for example
"DateTime is UTC and never carries an offset") is enforced in exactly one place.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StrictBool,
    StrictInt,
    StringConstraints,
)

__all__ = [
    "URL",
    "CiString2",
    "CiString3",
    "CiString4",
    "CiString25",
    "CiString32",
    "CiString36",
    "CiString39",
    "CiString48",
    "DateTime",
    "DisplayText",
    "Int",
    "Number",
    "OcpiModel",
    "Price",
    "Role",
    "StrictBool",
    "String2",
    "String3",
    "String4",
    "String5",
    "String10",
    "String16",
    "String20",
    "String45",
    "String64",
    "String100",
    "String255",
    "String512",
    "String5000",
    "format_datetime",
    "parse_datetime",
]


class OcpiModel(BaseModel):
    """Base of every wire model: spec field names verbatim, unknown fields ignored.

    OCPI 2.2.1 says nothing about unknown fields; 2.3.0 forbids rejecting them, and a
    tolerant reader is what keeps a federation working while members upgrade.
    """

    model_config = ConfigDict(extra="ignore", validate_default=False)

    def to_json(self) -> dict[str, Any]:
        """The JSON object as sent on the wire: absent optional fields are left out."""
        return self.model_dump(mode="json", exclude_none=True)


# --- strings ------------------------------------------------------------------------------
# CiString: printable ASCII (U+0020..U+007E), compared case-insensitively.
# string: printable UTF-8, no control characters (CR, LF, TAB and the other C0/C1 codes).
# Both are checked by the regex engine in pydantic-core (no Python call per string); the
# server's error formatter turns these two patterns into readable messages.
CI_STRING_PATTERN = r"^[\x20-\x7E]*$"
STRING_PATTERN = r"^[^\x00-\x1F\x7F-\x9F]*$"


def _ci(n: int) -> StringConstraints:
    return StringConstraints(max_length=n, pattern=CI_STRING_PATTERN)


def _s(n: int) -> StringConstraints:
    return StringConstraints(max_length=n, pattern=STRING_PATTERN)


CiString2 = Annotated[str, _ci(2)]
CiString3 = Annotated[str, _ci(3)]
CiString4 = Annotated[str, _ci(4)]
CiString25 = Annotated[str, _ci(25)]
CiString32 = Annotated[str, _ci(32)]
CiString36 = Annotated[str, _ci(36)]
CiString39 = Annotated[str, _ci(39)]
CiString48 = Annotated[str, _ci(48)]

String2 = Annotated[str, _s(2)]
String3 = Annotated[str, _s(3)]
String4 = Annotated[str, _s(4)]
String5 = Annotated[str, _s(5)]
String10 = Annotated[str, _s(10)]
String16 = Annotated[str, _s(16)]
String20 = Annotated[str, _s(20)]
String45 = Annotated[str, _s(45)]
String64 = Annotated[str, _s(64)]
String100 = Annotated[str, _s(100)]
String255 = Annotated[str, _s(255)]
String512 = Annotated[str, _s(512)]
String5000 = Annotated[str, _s(5000)]

URL = String255


# --- DateTime (spec "Types" > DateTime) ---------------------------------------------------
# RFC 3339, always UTC, at most 25 characters. "Z" may be omitted (then UTC is meant);
# numeric offsets, even +00:00, are not allowed.
_DATETIME_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?")
DATETIME_MAX_LENGTH = 25


_COMMON_DATETIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,4})?Z", re.ASCII)
"""The shapes nearly every DateTime on the wire has (this package's own among them): ASCII
digits, "Z", at most four fractional digits (25 characters). `datetime.fromisoformat` reads
them to the value the full rule gives, in a fraction of the time (a Location holds about 15
DateTimes; profiling a mock eMSP receiving EVSE PATCHes, issue 13, put the full rule at 5-12 %
of its CPU); anything else, a date that does not exist included, takes the full rule."""


def parse_datetime(text: str) -> datetime:
    """Parse an OCPI DateTime string into an aware UTC datetime, or raise ValueError."""
    if _COMMON_DATETIME_RE.fullmatch(text) is not None:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass  # not a real date or time: the full rule says so
    return datetime_by_rule(text)


def datetime_by_rule(text: str) -> datetime:
    """`parse_datetime` without the fast path for the common shapes: the rule in full."""
    if len(text) > DATETIME_MAX_LENGTH:
        raise ValueError(f"DateTime is longer than {DATETIME_MAX_LENGTH} characters")
    match = _DATETIME_RE.fullmatch(text)
    if match is None:
        if re.search(r"[+-]\d{2}:?\d{2}$", text):
            raise ValueError(
                "DateTime must be UTC: a numeric offset is not allowed, use 'Z' or nothing"
            )
        raise ValueError("DateTime must look like 2015-06-29T20:39:09Z (RFC 3339, UTC)")
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, UTC
        )
    except ValueError as exc:
        raise ValueError(f"DateTime is not a real date or time: {exc}") from None


@functools.lru_cache(maxsize=4096)
def format_datetime(value: datetime) -> str:
    """Serialise as OCPI DateTime: UTC, 'Z', milliseconds only when not zero (<= 24 chars).

    Remembered: a Location's EVSEs and connectors mostly share a few timestamps, and a
    Location is serialised whole at every status change (about 20 of these, most of the
    cost of its JSON: issue 13). Equal datetimes are one instant, so one text."""
    if value.tzinfo is not UTC:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value.year < 1000:  # isoformat would give four digits, strftime (as before) fewer
        text = value.strftime("%Y-%m-%dT%H:%M:%S")
        millis = value.microsecond // 1000
        return text + (f".{millis:03d}".rstrip("0") if millis else "") + "Z"
    # isoformat() (C, and without arguments: a third of strftime's time) gives
    # "2015-06-29T20:39:09+00:00" or "2015-06-29T20:39:09.123456+00:00".
    text = value.isoformat()
    if value.microsecond < 1000:
        return text[:19] + "Z"
    return text[:19] + text[19:23].rstrip("0") + "Z"


def _validate_datetime(value: Any) -> Any:
    if isinstance(value, str):
        return parse_datetime(value)
    if isinstance(value, datetime):
        # Python callers: naive means UTC (as on the wire); aware values are converted.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    # pydantic would read a number as Unix time: on the wire a DateTime is always a string.
    raise ValueError(
        "DateTime must be a string like 2015-06-29T20:39:09Z (RFC 3339, UTC), "
        f"not a JSON {_json_type(value)}"
    )


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else type(value).__name__


DateTime = Annotated[
    datetime,
    BeforeValidator(_validate_datetime),
    PlainSerializer(format_datetime, return_type=str, when_used="json"),
]


# --- numbers ------------------------------------------------------------------------------
def _validate_number(value: Any) -> Any:
    """JSON numbers become exact Decimals; strings and booleans are refused."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number, not a " + type(value).__name__)
    if isinstance(value, float):
        # repr() is the shortest text that round-trips: 0.1 -> Decimal('0.1').
        try:
            return Decimal(repr(value))
        except InvalidOperation:  # pragma: no cover - repr of a float is always valid
            raise ValueError("not a number") from None
    if isinstance(value, int):
        return Decimal(value)
    return value


Number = Annotated[
    Decimal,
    BeforeValidator(_validate_number),
    PlainSerializer(float, return_type=float, when_used="json"),
]
"""OCPI `number`: exact Decimal in Python, JSON number on the wire (never a string)."""

Int = StrictInt
"""OCPI `int`: a JSON integer; 1.0, "1" and true are refused."""


# --- small shared classes -----------------------------------------------------------------
class DisplayText(OcpiModel):
    """Spec "Types" > DisplayText: text in one language, no markup."""

    language: String2
    text: String512


class Price(OcpiModel):
    """Spec "Types" > Price: excl_vat is required, incl_vat is left out when VAT is unknown."""

    excl_vat: Number
    incl_vat: Number | None = None


class Role(StrEnum):
    """Spec "Types" > Role (2.2.1)."""

    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"
