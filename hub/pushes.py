"""What the hub checks in a pushed client-owned object before anyone receives it (pure).

Receivers trust the hub: it is the one place that knows who a sender is (its token and its
OCPI-from pair, routing.check_sender). So a push of a client-owned object — Location (and its
EVSEs and Connectors), Tariff, Token, Session on the receiver interface, and a CDR POST — is
checked as a receiver would check it, whether the hub answers it itself (broadcast) or forwards
it to one party (direct push):

* the body is a valid OCPI 2.2.1 object of the URL's kind (PATCH: the fields present are valid);
* the object id in the URL equals the body's (spec transport_and_format "Client Owned Object
  Push");
* the body's `country_code`/`party_id` are the sender's own party, the one in OCPI-from (and so
  the URL's, which routing.check_sender already holds to OCPI-from). A CDR has no owner in its
  URL: its body's owner must be the sender.

Each failure is 2001 naming the field. docs/hub.md has the measured cost.
"""

from __future__ import annotations

from pydantic import BaseModel

from hub.routing import Message
from ocpi.errors import InvalidParameters, NotFound
from ocpi.headers import PartyRef
from ocpi.server.validation import parse_body, same_value
from ocpi.v221.cdrs import CDR
from ocpi.v221.locations import EVSE, Connector, Location
from ocpi.v221.patches import ConnectorPatch, EVSEPatch, LocationPatch, SessionPatch, TokenPatch
from ocpi.v221.sessions import Session
from ocpi.v221.tariffs import Tariff
from ocpi.v221.tokens import Token
from ocpi.v221.versions import InterfaceRole, ModuleID

_LOCATION_MODELS: dict[str, tuple[tuple[type[BaseModel], str], ...]] = {
    "PUT": ((Location, "id"), (EVSE, "uid"), (Connector, "id")),
    "PATCH": ((LocationPatch, "id"), (EVSEPatch, "uid"), (ConnectorPatch, "id")),
}
_OBJECT_MODELS: dict[tuple[ModuleID, str], tuple[type[BaseModel], str]] = {
    (ModuleID.TARIFFS, "PUT"): (Tariff, "id"),
    (ModuleID.TOKENS, "PUT"): (Token, "uid"),
    (ModuleID.TOKENS, "PATCH"): (TokenPatch, "uid"),
    (ModuleID.SESSIONS, "PUT"): (Session, "id"),
    (ModuleID.SESSIONS, "PATCH"): (SessionPatch, "id"),
}


def is_object_push(message: Message) -> bool:
    """A PUT/PATCH of a client-owned object, or a CDR POST, on the receiver interface."""
    if message.interface != InterfaceRole.RECEIVER:
        return False
    if message.module == ModuleID.CDRS:
        return message.method == "POST"
    return message.method in ("PUT", "PATCH") and message.module in (
        ModuleID.LOCATIONS,
        ModuleID.TARIFFS,
        ModuleID.TOKENS,
        ModuleID.SESSIONS,
    )


def push_model(message: Message) -> tuple[type[BaseModel], str | None] | None:
    """The model the body must satisfy and the body field holding the URL's object id.

    None: this method has no body to check (a tariff PATCH does not exist in 2.2.1: the
    receiver refuses it). NotFound when the URL is not one of the module's object URLs.
    """
    module, method = message.module, message.method
    if module == ModuleID.CDRS:
        if message.segments:
            raise NotFound("CDRs are POSTed to the cdrs receiver endpoint itself, without an id")
        return CDR, None
    depth = len(message.segments) - 2
    if module == ModuleID.LOCATIONS and 1 <= depth <= 3:
        return _LOCATION_MODELS[method][depth - 1]
    if depth != 1:
        shape = "{country_code}/{party_id}/{location_id}[/{evse_uid}[/{connector_id}]]"
        if module != ModuleID.LOCATIONS:
            shape = "{country_code}/{party_id}/{id}"
        raise NotFound(
            f"{module.value} receiver URLs are {shape}; got /" + "/".join(message.segments)
        )
    return _OBJECT_MODELS.get((module, method))


def check_push(message: Message, sender: PartyRef) -> None:
    """Raise 2001 (or 404 for a malformed URL) unless the pushed body is valid and the sender's."""
    found = push_model(message)
    if found is None:
        return
    model, id_field = found
    body = message.body
    if body is None:
        raise InvalidParameters(f"{message.method} needs a JSON body (a {model.__name__})")
    if not isinstance(body, dict):
        raise InvalidParameters(f"the body must be a JSON object ({model.__name__})")
    parse_body(model, body)
    if id_field:
        same_value(id_field, message.segments[-1], body.get(id_field))
    owner = {name: body[name] for name in ("country_code", "party_id") if name in body}
    if not owner:
        return  # EVSE, Connector, or a PATCH that leaves the owner alone
    claimed = (
        owner.get("country_code", sender.country_code),
        owner.get("party_id", sender.party_id),
    )
    if str(claimed[0]).upper() != sender.country_code.upper() or (
        str(claimed[1]).upper() != sender.party_id.upper()
    ):
        fields = " and ".join(f"{name} {value!r}" for name, value in owner.items())
        raise InvalidParameters(
            f"the body's {fields} name another party than the sender {sender} (OCPI-from): "
            "a party may only push its own objects; the attempt was recorded"
        )
