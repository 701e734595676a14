"""Turning anything a check shows into data every report can write: the one place that does.

`json_safe(value)` gives plain JSON data (dict with str keys, list, str, int, float, bool,
None) for any value: wire models, Decimals, datetimes, bytes, enums, sets, dataclasses,
arbitrary objects. It never raises: NaN and the infinities become strings, lone surrogates
(which a member can send as `"\\ud800"` in any JSON string) are written as escapes, nesting
deeper than MAX_DEPTH and cycles are cut, and a value that cannot even be described says so.
`printable` and `xml_text` make text safe for a terminal and for XML 1.0.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import TypeAlias
from uuid import UUID

from pydantic import BaseModel

Json: TypeAlias = bool | int | float | str | list["Json"] | dict[str, "Json"] | None

MAX_DEPTH = 40
"""Containers nested deeper than this are shown as a note (evidence is for reading)."""
MAX_DESCRIBED = 2000
"""Characters kept of an arbitrary object's description."""

_SURROGATES = re.compile("([\ud800-\udbff][\udc00-\udfff])|[\ud800-\udfff]")
_NOT_PRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _surrogate(match: re.Match[str]) -> str:
    pair = match.group(1)
    if pair:  # a surrogate pair that never became one character: join it
        return pair.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    return _escape(match)


def clean_text(text: str) -> str:
    """`text` encodable as UTF-8: lone surrogates written as `\\udxxx` (pairs joined)."""
    if _SURROGATES.search(text) is None:
        return str(text)
    return _SURROGATES.sub(_surrogate, text)


def printable(text: str) -> str:
    """`text` safe on a terminal: control characters but newline and tab, and lone
    surrogates, written as escapes (`\\x1b`, `\\ud800`)."""
    return _NOT_PRINTABLE.sub(_escape, clean_text(text))


def xml_text(text: str) -> str:
    """`text` allowed in XML 1.0 (attribute values and character data): the characters XML
    forbids (most control characters, lone surrogates, U+FFFE, U+FFFF) written as escapes."""
    return _NOT_XML.sub(_escape, clean_text(text))


def describe(value: object) -> str:
    """A readable, bounded description of any object, never raising."""
    try:
        text = str(value) if type(value).__str__ is not object.__str__ else repr(value)
    except Exception as exc:
        return f"<{_name(value)} that cannot be shown: {type(exc).__name__}>"
    text = clean_text(text)
    if len(text) > MAX_DESCRIBED:
        text = text[:MAX_DESCRIBED] + f"… ({len(text) - MAX_DESCRIBED} more characters)"
    return text


def _name(value: object) -> str:
    try:
        return clean_text(type(value).__name__)
    except Exception:
        return "object"


def json_safe(value: object) -> Json:
    """`value` as plain JSON data that `json.dumps(..., allow_nan=False)` always writes."""
    return _safe(value, 0, set())


def json_key(key: object) -> str:
    """A mapping key as JSON object keys must be: a string."""
    if isinstance(key, str) and not isinstance(key, Enum):
        return clean_text(key)
    safe = json_safe(key)
    return safe if isinstance(safe, str) else json.dumps(safe, ensure_ascii=False)


def _safe(value: object, depth: int, active: set[int]) -> Json:
    try:
        return _convert(value, depth, active)
    except Exception as exc:  # a model that cannot dump itself, a property that raises...
        return f"<{_name(value)} that cannot be shown: {type(exc).__name__}>"


def _convert(value: object, depth: int, active: set[int]) -> Json:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return _safe(value.value, depth + 1, active)
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int):
        try:
            str(int(value))  # json.dumps writes an int only below the digit limit
        except ValueError:
            return f"<an integer of {value.bit_length()} bits>"
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return str(value)  # exact, as pydantic's JSON mode writes it
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return clean_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, UUID | PurePath):
        return clean_text(str(value))
    if depth >= MAX_DEPTH:
        return f"<{_name(value)} nested deeper than {MAX_DEPTH} levels: not shown>"
    if id(value) in active:
        return f"<{_name(value)} containing itself: not shown again>"
    active.add(id(value))
    try:
        return _container(value, depth, active)
    finally:
        active.discard(id(value))


def _container(value: object, depth: int, active: set[int]) -> Json:
    if isinstance(value, BaseModel):
        try:
            dumped: object = value.model_dump(mode="json", exclude_none=True)
        except Exception:
            dumped = value.model_dump(mode="python", exclude_none=True, warnings=False)
        return _safe(dumped, depth + 1, active)
    if isinstance(value, Mapping):
        return {json_key(k): _safe(v, depth + 1, active) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(item, depth + 1, active) for item in value]
    if isinstance(value, set | frozenset):
        items = [_safe(item, depth + 1, active) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            clean_text(f.name): _safe(getattr(value, f.name), depth + 1, active)
            for f in dataclasses.fields(value)
        }
    return describe(value)
