"""Pure rules of the double (no I/O): object keys, URLs, timestamps and tokens, list edits and
PATCH merging (the URL-versus-body checks are ocpi.server.validation's, shared by members)."""

import secrets
from collections.abc import Callable, Mapping, MutableSequence, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import ValidationError

from ocpi.errors import InvalidParameters, NoMatchingEndpoints
from ocpi.headers import PartyRef
from ocpi.server.errors import describe_errors
from ocpi.v221 import CDR, Endpoint, ModuleID, OcpiModel, Session, TokenType
from ocpi.v221.types import format_datetime

M = TypeVar("M", bound=OcpiModel)
T = TypeVar("T")

Key = tuple[str, str, str]
"""(country_code, party_id, object id) of a stored object; cc/pid upper-cased (CiString)."""
TokenKey = tuple[str, str, str, str]
"""(country_code, party_id, uid, type) of a stored Token: (uid, type) is unique per eMSP."""


def object_key(country_code: str, party_id: str, id: str) -> Key:
    return (country_code.upper(), party_id.upper(), id)


def token_key(country_code: str, party_id: str, uid: str, type: TokenType | str) -> TokenKey:
    return (country_code.upper(), party_id.upper(), uid, TokenType(type).value)


def new_token() -> str:
    """A fresh credentials token: printable, non-whitespace ASCII, 32 characters."""
    return secrets.token_urlsafe(24)


def now() -> datetime:
    """The current time at millisecond precision, so what is stored equals what is sent."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def stamped(changes: Mapping[str, Any]) -> dict[str, Any]:
    """A PATCH body: `changes` (JSON values), with `last_updated` = now when absent."""
    body = dict(changes)
    body.setdefault("last_updated", format_datetime(now()))
    return body


def join_url(base: str, *parts: str) -> str:
    """`base` + "/" + each part percent-encoded; tolerant of a trailing slash on `base`."""
    return "/".join([base.rstrip("/"), *(quote(part, safe="") for part in parts)])


def credentials_endpoint(endpoints: Sequence[Endpoint]) -> str:
    for endpoint in endpoints:
        if endpoint.identifier == ModuleID.CREDENTIALS:
            return endpoint.url
    raise NoMatchingEndpoints("the peer's version details have no credentials endpoint")


def token_owner(item: Session | CDR) -> PartyRef:
    return PartyRef(item.cdr_token.country_code, item.cdr_token.party_id)


def index_of(items: Sequence[T], match: Callable[[T], bool]) -> int | None:
    return next((i for i, item in enumerate(items) if match(item)), None)


def put_into(items: MutableSequence[T], match: Callable[[T], bool], item: T) -> bool:
    """Replace the first item that matches with `item`, or append it; True when appended."""
    index = index_of(items, match)
    if index is None:
        items.append(item)
        return True
    items[index] = item
    return False


def merge(model: type[M], current: M, changes: Mapping[str, Any]) -> M:
    """`current` with `changes` laid over it, validated as a whole object again."""
    data = current.model_dump()
    data.update(changes)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidParameters(
            "the PATCH would leave an invalid object: " + describe_errors(exc.errors())
        ) from None


def apply_session_patch(current: Session, patch: OcpiModel) -> Session:
    """Spec mod_sessions PATCH: `charging_periods` are appended, everything else replaced."""
    changes = patch.model_dump(exclude_unset=True)
    periods = changes.pop("charging_periods", None)
    if periods:
        old = [p.model_dump() for p in current.charging_periods or []]
        changes["charging_periods"] = old + list(periods)
    return merge(Session, current, changes)
