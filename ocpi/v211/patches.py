"""Partial models for OCPI 2.1.1 PATCH bodies: Location, EVSE, Connector, Session, Tariff, Token.

Spec 2.1.1 transport_and_format "PATCH": a PATCH names only the fields to update, "any fields
(both required or optional) that are left out remain unchanged". Unlike 2.2.1 it need not carry
`last_updated` (the spec's own PATCH examples leave it out), and 2.1.1 also PATCHes Tariffs.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, create_model

from ocpi.v211.locations import EVSE, Connector, Location
from ocpi.v211.sessions import Session
from ocpi.v211.tariffs import Tariff
from ocpi.v211.tokens import Token
from ocpi.v221.types import OcpiModel

__all__ = [
    "ConnectorPatch",
    "EVSEPatch",
    "LocationPatch",
    "SessionPatch",
    "TariffPatch",
    "TokenPatch",
]


def _not_null(value: object) -> object:
    if value is None:
        raise ValueError(
            "may be left out of a PATCH but not sent as null: it is required in the full object"
        )
    return value


def _partial_model(model: type[OcpiModel], name: str) -> type[OcpiModel]:
    """`model` with every field optional; a field required in `model` may not be sent as null.

    As in ocpi.v221.patches, each field keeps its constraints and nested models; callers apply
    a patch with `patch.model_dump(exclude_unset=True)`.
    """
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        if info.is_required():
            fields[field_name] = (Annotated[annotation | None, AfterValidator(_not_null)], None)
        else:
            fields[field_name] = (annotation | None, None)
    return create_model(
        name,
        __base__=OcpiModel,
        __module__=__name__,
        __doc__=f"2.1.1 PATCH body for {model.__name__}: any subset of its fields.",
        **fields,
    )


LocationPatch = _partial_model(Location, "LocationPatch")
EVSEPatch = _partial_model(EVSE, "EVSEPatch")
ConnectorPatch = _partial_model(Connector, "ConnectorPatch")
SessionPatch = _partial_model(Session, "SessionPatch")
TariffPatch = _partial_model(Tariff, "TariffPatch")
TokenPatch = _partial_model(Token, "TokenPatch")
