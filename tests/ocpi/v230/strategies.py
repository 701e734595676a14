"""Hypothesis strategies that draw valid wire objects from a model's own field annotations.

`objects(Model)` reads each field's type (strings with their length and pattern, enums and
OpenEnums, numbers with their bounds, DateTimes, nested models, lists) so every field of every
class takes part, including ones added later. Cross-field rules that random drawing would
rarely meet are repaired in `FIXUPS` before validation; anything still invalid is rejected.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin, get_type_hints

import annotated_types
from hypothesis import strategies as st
from pydantic import BaseModel, StringConstraints, ValidationError
from pydantic.fields import FieldInfo

from ocpi import v221, v230
from ocpi.v221.cdrs import SESSION_ONLY_DIMENSIONS
from ocpi.v221.types import CI_STRING_PATTERN, STRING_PATTERN

MAX_LIST = 2

M = TypeVar("M", bound=BaseModel)

Draft = dict[str, Any]


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            found.update(_bounds(list(item.metadata)))
        elif isinstance(item, StringConstraints):
            for name in ("min_length", "max_length", "pattern"):
                if getattr(item, name) is not None:
                    found[name] = getattr(item, name)
        elif isinstance(item, annotated_types.Ge):
            found["ge"] = item.ge
        elif isinstance(item, annotated_types.Le):
            found["le"] = item.le
        elif isinstance(item, annotated_types.MinLen):
            found["min_length"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            found["max_length"] = item.max_length
    return found


def _strings(bounds: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = bounds.get("min_length", 0), bounds.get("max_length", 40)
    pattern = bounds.get("pattern")
    if pattern == CI_STRING_PATTERN:
        return st.text(
            st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=low, max_size=high
        )
    if pattern in (STRING_PATTERN, None):
        return st.text(
            st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")),
            min_size=low,
            max_size=high,
        )
    return st.from_regex(pattern, fullmatch=True).filter(lambda text: low <= len(text) <= high)


def values(annotation: Any, metadata: list[Any] | None = None) -> st.SearchStrategy[Any]:
    """A strategy for JSON-ready Python values of `annotation`."""
    metadata = list(metadata or ())
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *more = get_args(annotation)
        return values(base, metadata + more)
    bounds = _bounds(metadata)
    if origin in (Union, types.UnionType):
        return st.one_of([values(member) for member in get_args(annotation)])
    if origin is list:
        (item,) = get_args(annotation)
        low = bounds.get("min_length", 0)
        return st.lists(values(item), min_size=low, max_size=max(low, MAX_LIST))
    if annotation is type(None):
        return st.none()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return drafts(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from(list(annotation))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(bounds.get("ge", 0), bounds.get("le", 100_000))
    if annotation is Decimal:
        return st.decimals(
            min_value=bounds.get("ge", -1000), max_value=bounds.get("le", 100_000), places=4
        )
    if annotation is datetime:
        return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
            lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=UTC)
        )
    if annotation is str:
        return _strings(bounds)
    raise TypeError(f"no strategy for {annotation!r}")


@st.composite
def drafts(draw: st.DrawFn, model: type[BaseModel]) -> Draft:
    """A dict of field values for `model` (optional fields left out or drawn), repaired."""
    hints = get_type_hints(model, include_extras=True)
    draft: Draft = {}
    for name, info in model.model_fields.items():
        if info.is_required() or draw(st.booleans()):
            value = draw(values(hints[name]))
            if value is not None:
                draft[name] = value
    fixup = FIXUPS.get(model)
    return fixup(draft) if fixup else draft


def objects(model: type[M]) -> st.SearchStrategy[M]:
    """Valid instances of `model`; drafts its validators still refuse are rejected."""

    def build(draft: Draft) -> M | None:
        try:
            return model.model_validate(draft)
        except ValidationError:
            return None

    return drafts(model).map(build).filter(lambda built: built is not None)  # type: ignore[return-value]


# --- repairs for cross-field rules ----------------------------------------------------------
def _publish_token(draft: Draft) -> Draft:
    if "uid" in draft and "type" not in draft:
        del draft["uid"]
    if "visual_number" in draft and "issuer" not in draft:
        del draft["visual_number"]
    if not {"uid", "visual_number", "group_id"} & set(draft):
        draft["group_id"] = "G1"
    return draft


def _cdr(draft: Draft) -> Draft:
    if draft.get("credit"):
        draft.setdefault("credit_reference_id", "CREDITED-1")
    else:
        draft["id"] = draft["id"][:36]
    for period in draft["charging_periods"]:
        for dimension in period["dimensions"]:
            if dimension["type"] in SESSION_ONLY_DIMENSIONS:
                dimension["type"] = v221.CdrDimensionType.ENERGY
    return draft


def _credentials(draft: Draft) -> Draft:
    seen: set[tuple[str, str, str]] = set()
    roles = []
    for role in draft["roles"]:
        key = (str(role["role"]), role["country_code"].upper(), role["party_id"].upper())
        if key not in seen:
            seen.add(key)
            roles.append(role)
    draft["roles"] = roles
    return draft


def _start_session(draft: Draft) -> Draft:
    if "connector_id" in draft:
        draft.setdefault("evse_uid", "3256")
    return draft


def _location_v230(draft: Draft) -> Draft:
    # Parking ids unique (case-insensitively) and every EVSE link naming one of them.
    places = draft.get("parking_places", [])
    for index, place in enumerate(places):
        place["id"] = f"P{index}"
    for evse in draft.get("evses", []):
        if "parking" in evse:
            evse["parking"] = (
                [
                    link | {"parking_id": f"P{index % len(places)}"}
                    for index, link in enumerate(evse["parking"])
                ]
                if places
                else []
            )
    return draft


FIXUPS: dict[type[BaseModel], Callable[[Draft], Draft]] = {
    v221.PublishTokenType: _publish_token,
    v230.PublishTokenType: _publish_token,
    v221.CDR: _cdr,
    v230.CDR: _cdr,
    v221.Credentials: _credentials,
    v230.Credentials: _credentials,
    v221.StartSession: _start_session,
    v230.StartSession: _start_session,
    v230.Location: _location_v230,
}
