"""Partial models for OCPI 2.2.1 PATCH bodies of Location, EVSE, Connector, Session and Token.

Spec transport_and_format "PATCH" and each module's PATCH method: a PATCH carries only the fields
to update, SHALL carry `last_updated`, and "is not suitable to remove information shared earlier".
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, create_model

from ocpi.v221.locations import EVSE, Connector, Location
from ocpi.v221.sessions import Session
from ocpi.v221.tokens import Token
from ocpi.v221.types import OcpiModel

__all__ = [
    "ConnectorPatch",
    "EVSEPatch",
    "LocationPatch",
    "SessionPatch",
    "TokenPatch",
    "partial_model",
]

ALWAYS_REQUIRED = frozenset({"last_updated"})
"""Fields a PATCH body must still carry (missing `last_updated` answers 2001)."""


def _not_null(value: object) -> object:
    if value is None:
        raise ValueError(
            "may be left out of a PATCH but not sent as null: it is required in the full "
            "object, and a PATCH cannot remove information (send a PUT instead)"
        )
    return value


def partial_model(model: type[OcpiModel], name: str) -> type[OcpiModel]:
    """Build the PATCH model of `model`: each field may be left out, `last_updated` may not.

    Each field keeps its annotation and constraints (lengths, patterns, enums, nested models),
    so a PATCH that sends a whole `evses` list still validates every EVSE in full. Fields that
    are required in `model` may be omitted but not sent as null; fields that are optional there
    keep accepting null. The full model's validators are not copied: its cross-field rules
    (e.g. PublishTokenType's) hold for whole objects only, and a partial body cannot be judged
    alone (nested objects keep theirs). The full models have no field validators to lose.

    Validation fills unsent fields with None, so callers apply a patch with
    `patch.model_dump(exclude_unset=True)`, never with the None-filled attributes.
    """
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        # model_fields holds the annotation with the top-level Annotated metadata split off;
        # put it back so constraints apply to the value, not to the None that wraps it.
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        if field_name in ALWAYS_REQUIRED:
            fields[field_name] = (annotation, ...)
        elif info.is_required():
            fields[field_name] = (Annotated[annotation | None, AfterValidator(_not_null)], None)
        else:
            fields[field_name] = (annotation | None, None)
    return create_model(
        name,
        __base__=OcpiModel,
        __module__=__name__,
        __doc__=f"PATCH body for {model.__name__}: any subset of its fields plus last_updated.",
        **fields,
    )


LocationPatch = partial_model(Location, "LocationPatch")
EVSEPatch = partial_model(EVSE, "EVSEPatch")
ConnectorPatch = partial_model(Connector, "ConnectorPatch")
SessionPatch = partial_model(Session, "SessionPatch")
TokenPatch = partial_model(Token, "TokenPatch")
# Tariffs have no PATCH (spec mod_tariffs: PUT and DELETE only).
