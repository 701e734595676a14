"""Partial models for OCPI 2.3.0 PATCH bodies of Location, EVSE, Connector, Session and Token.

Built by 2.2.1's `partial_model` (same PATCH rules: any subset of fields, `last_updated`
required, required fields never null) over the 2.3.0 objects.
"""

from __future__ import annotations

from ocpi.v221.patches import partial_model
from ocpi.v230.locations import EVSE, Connector, Location
from ocpi.v230.sessions import Session
from ocpi.v230.tokens import Token

__all__ = ["ConnectorPatch", "EVSEPatch", "LocationPatch", "SessionPatch", "TokenPatch"]

LocationPatch = partial_model(Location, "LocationPatch")
EVSEPatch = partial_model(EVSE, "EVSEPatch")
ConnectorPatch = partial_model(Connector, "ConnectorPatch")
SessionPatch = partial_model(Session, "SessionPatch")
TokenPatch = partial_model(Token, "TokenPatch")
