"""Checks a receiver makes on a body it parses itself (PATCH merges, client-owned objects).

Spec transport_and_format "Client Owned Object Push": the URL's country_code/party_id and
object id SHALL equal the body's; a mismatch, like a body failing its model, is 2001 with a
message naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ocpi.errors import InvalidParameters
from ocpi.server.errors import describe_errors

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: Any) -> M:
    """Validate a JSON body; 2001 naming each field (as the shared handler words it)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidParameters(
            "Invalid or missing parameters: " + describe_errors(exc.errors())
        ) from None


def same_owner(country_code: str, party_id: str, values: Mapping[str, Any] | BaseModel) -> None:
    """URL country_code/party_id SHALL equal the body's (compared case-insensitively): the
    parsed object, or a PATCH's changes. (Read field by field: dumping a whole Location to
    compare two of its fields cost more than validating it.)"""
    for name, expected in (("country_code", country_code), ("party_id", party_id)):
        value = values.get(name) if isinstance(values, Mapping) else getattr(values, name, None)
        if value is not None and str(value).upper() != expected.upper():
            raise InvalidParameters(
                f"{name} in the URL is {expected!r} but the body says {value!r}: they must match"
            )


def same_value(name: str, url_value: str, body_value: Any) -> None:
    """The object id in the URL SHALL equal the one in the body."""
    if body_value is not None and str(body_value) != url_value:
        raise InvalidParameters(
            f"{name} in the URL is {url_value!r} but the body says {body_value!r}: they must match"
        )
