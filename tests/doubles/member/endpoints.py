"""Pieces shared by the double's OCPI endpoints: the dependency aliases, one page of a list,
lookups that answer 404, and the PUT of a client-owned object (200, or 201 when new)."""

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import Body, Depends, Query, Request

from ocpi.errors import NotFound
from ocpi.headers import RoutingHeaders
from ocpi.pagination import PageRequest, page_headers, paginate
from ocpi.server import ocpi_response, page_request, routing_headers
from ocpi.server.responses import OcpiResponse
from ocpi.server.validation import same_owner, same_value
from ocpi.v221 import CDR, EVSE, Connector, Location, Session, Tariff, Token, TokenType
from tests.doubles.member.rules import Key, index_of, object_key
from tests.doubles.member.state import MemberState

K = TypeVar("K")
V = TypeVar("V")
Listed = TypeVar("Listed", bound=Location | Tariff | Session | CDR | Token)
Owned = TypeVar("Owned", bound=Location | Tariff | Session)

Page = Annotated[PageRequest, Depends(page_request)]
Routing = Annotated[RoutingHeaders, Depends(routing_headers)]
JsonBody = Annotated[Any, Body()]
TypeParam = Annotated[TokenType, Query(alias="type")]


def list_response(
    member: MemberState, request: Request, items: Iterable[Listed], page: PageRequest
) -> OcpiResponse:
    """One page (creation order), with a Link that points at the double's public URL."""
    cut = paginate(
        list(items),
        page,
        max_limit=member.config.page_limit,
        last_updated=lambda item: item.last_updated,
    )
    origin = urlsplit(member.base_url)
    public = f"{origin.scheme}://{origin.netloc}{request.url.path}"
    if request.url.query:
        public += "?" + request.url.query
    return ocpi_response(cut.items, headers=page_headers(cut, public))


def stored(created: bool) -> OcpiResponse:
    return ocpi_response(http_status=201 if created else 200)


def known(items: Mapping[K, V], key: K, what: str) -> V:
    """The stored item at `key`, or 404 saying `what` is not known here."""
    found = items.get(key)
    if found is None:
        raise NotFound(f"{what} is not known here")
    return found


def known_owned(
    items: Mapping[Key, V], kind: str, country_code: str, party_id: str, object_id: str
) -> V:
    """The stored client-owned object the URL names, or 404 naming it as the URL does."""
    key = object_key(country_code, party_id, object_id)
    return known(items, key, f"{kind} {country_code}/{party_id}/{object_id}")


def put_owned(
    items: dict[Key, Owned],
    country_code: str,
    party_id: str,
    object_id: str,
    item: Owned,
    id_name: str,
) -> OcpiResponse:
    """Store a pushed client-owned object whose URL and body agree (spec transport_and_format:
    they SHALL); 201 when it is new."""
    same_owner(country_code, party_id, item.model_dump())
    same_value(id_name, object_id, item.id)
    key = object_key(country_code, party_id, object_id)
    created = key not in items
    items[key] = item
    return stored(created)


def evse_at(location: Location, evse_uid: str) -> tuple[list[EVSE], int]:
    """A copy of the location's EVSE list and the index of `evse_uid` in it (404 if absent)."""
    evses = list(location.evses or [])
    index = index_of(evses, lambda e: e.uid == evse_uid)
    if index is None:
        raise NotFound(f"location {location.id} has no EVSE {evse_uid}")
    return evses, index


def connector_of(evse: EVSE, connector_id: str) -> Connector:
    found = next((c for c in evse.connectors if c.id == connector_id), None)
    if found is None:
        raise NotFound(f"EVSE {evse.uid} has no connector {connector_id}")
    return found
