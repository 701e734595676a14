"""Validating what the member sends with the ocpi.v221 models, one fault to one check.

A value that breaks the DateTime rule or a string's length or character rule is a finding for
`transport.datetime_format` or `transport.string_rules`; the value is then repaired (cut to
length, the DateTime re-read leniently) and the object validated again, so that the check
that asked for it judges only its structure and can go on using it. Everything else a model
refuses (a missing field, a wrong enum) is a structural problem of the asking check.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from ocpi.v221.types import CI_STRING_PATTERN, STRING_PATTERN, format_datetime

T = TypeVar("T")

DATETIME = "datetime"
STRING = "string"

_FALLBACK_DATETIME = "1970-01-01T00:00:00Z"
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7E]")
_CONTROL = re.compile(r"[\x00-\x1F\x7F-\x9F]")


@dataclass(frozen=True)
class Finding:
    """A DateTime or string rule broken at one place of one body."""

    rule: str
    where: str
    message: str


@dataclass
class Checked(Generic[T]):
    value: T | None
    problems: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@lru_cache(maxsize=64)
def adapter_for(type_: Any) -> TypeAdapter[Any]:
    return TypeAdapter(type_)


def _rule_of(error: Any) -> str | None:
    kind = error.get("type")
    pattern = str((error.get("ctx") or {}).get("pattern"))
    if kind == "string_too_long":
        return STRING
    if kind == "string_pattern_mismatch" and pattern in (CI_STRING_PATTERN, STRING_PATTERN):
        return STRING
    if kind == "value_error" and "DateTime" in str(error.get("msg", "")):
        return DATETIME
    return None


def _repaired(value: Any, error: Any) -> Any:
    """A stand-in for a value that broke a format rule (the finding is kept)."""
    if _rule_of(error) == DATETIME:
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
            except ValueError:
                return _FALLBACK_DATETIME
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return format_datetime(parsed)
        return _FALLBACK_DATETIME
    if not isinstance(value, str):
        return value
    ctx = error.get("ctx") or {}
    if error.get("type") == "string_too_long":
        return value[: int(ctx.get("max_length", len(value)))]
    if ctx.get("pattern") == CI_STRING_PATTERN:
        return _NOT_PRINTABLE.sub("?", value)
    return _CONTROL.sub("?", value)


def _navigate(data: Any, loc: tuple[Any, ...]) -> tuple[Any, Any] | None:
    """(container, key) of the value at a pydantic error location; union tags are skipped."""
    container: Any = None
    key: Any = None
    current = data
    for part in loc:
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        ):
            container, key, current = current, part, current[part]
    return (container, key) if container is not None else None


def _place(where: str, loc: tuple[Any, ...]) -> str:
    text = where
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(part, str) and not any(c in part for c in "[]()-,"):
            text += f".{part}"
    return text


def describe(where: str, errors: list[Any], limit: int = 5) -> str:
    """One line naming each offending field, e.g. `data[0].evses[0].status: Input should…`."""
    parts = []
    for error in errors[:limit]:
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "missing":
            message = "required field is missing"
        parts.append(f"{_place(where, tuple(error.get('loc', ())))}: {message}")
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts)


def check_value(type_: Any, data: Any, where: str) -> Checked[Any]:
    """Validate `data` as `type_`; structural problems, format findings, and the value
    (validated again after format repairs) when the structure holds."""
    adapter = adapter_for(type_)
    try:
        return Checked(adapter.validate_python(data))
    except ValidationError as exc:
        errors = exc.errors()
    findings: list[Finding] = []
    structural: list[Any] = []
    repaired = copy.deepcopy(data)
    for error in errors:
        rule = _rule_of(error)
        if rule is None:
            structural.append(error)
            continue
        loc = tuple(error.get("loc", ()))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        value = error.get("input")
        findings.append(Finding(rule, _place(where, loc), f"{message} (got {value!r:.80})"))
        target = _navigate(repaired, loc)
        if target is not None:
            container, key = target
            container[key] = _repaired(container[key], error)
    if structural:
        return Checked(None, [describe(where, structural)], findings)
    try:
        return Checked(adapter.validate_python(repaired), [], findings)
    except ValidationError as exc:
        return Checked(None, [describe(where, list(exc.errors()))], findings)
