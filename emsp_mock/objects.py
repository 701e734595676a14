"""Receiver rules for CPO-owned objects, pure: PUT and PATCH of Location/EVSE/Connector,
PATCH of a Session, the re-sync diff after a pull, and where the next incremental pull starts.

Spec mod_locations Receiver: a PUT or PATCH of an EVSE or Connector updates the parents'
`last_updated` too; a PATCH cannot remove information (full objects are PUT). Spec
mod_sessions Receiver: `charging_periods` in a PATCH are appended. A PATCH's changes are
`patch.model_dump(exclude_unset=True)`; the merged object is validated in full again.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import pydantic_core

from ocpi.v221.locations import EVSE, Connector, Location, Status
from ocpi.v221.sessions import Session
from ocpi.v221.types import format_datetime, parse_datetime

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class MissingParent(LookupError):
    """The EVSE or Connector a PUT/PATCH names belongs to an object not known here."""


def _later(a: datetime, b: datetime) -> datetime:
    return a if a >= b else b


def _merge(model: type[V], current: Any, changes: Mapping[str, Any]) -> V:
    data = current.model_dump()
    data.update(changes)
    return model.model_validate(data)  # type: ignore[attr-defined, no-any-return]


def _find_evse(location: Location, evse_uid: str) -> EVSE:
    for evse in location.evses or []:
        if evse.uid == evse_uid:
            return evse
    raise MissingParent(f"location {location.id} has no EVSE {evse_uid}")


def _with_evse(location: Location, evse: EVSE) -> Location:
    """The location with `evse` added or replaced; its last_updated at least the EVSE's."""
    evses = list(location.evses or [])
    for index, current in enumerate(evses):
        if current.uid == evse.uid:
            evses[index] = evse
            break
    else:
        evses.append(evse)
    stamp = _later(location.last_updated, evse.last_updated)
    return location.model_copy(update={"evses": evses, "last_updated": stamp})


def _with_connector(evse: EVSE, connector: Connector) -> EVSE:
    connectors = list(evse.connectors)
    for index, current in enumerate(connectors):
        if current.id == connector.id:
            connectors[index] = connector
            break
    else:
        connectors.append(connector)
    stamp = _later(evse.last_updated, connector.last_updated)
    return evse.model_copy(update={"connectors": connectors, "last_updated": stamp})


def put_evse(location: Location, evse: EVSE) -> Location:
    return _with_evse(location, evse)


def put_connector(location: Location, evse_uid: str, connector: Connector) -> Location:
    return _with_evse(location, _with_connector(_find_evse(location, evse_uid), connector))


def patch_location(location: Location, changes: Mapping[str, Any]) -> Location:
    return _merge(Location, location, changes)


def patch_evse(location: Location, evse_uid: str, changes: Mapping[str, Any]) -> Location:
    evse: EVSE = _merge(EVSE, _find_evse(location, evse_uid), changes)
    return _with_evse(location, evse)


@dataclass(frozen=True)
class PatchedText:
    """A Location kept as JSON text after a PATCH of one of its EVSEs (`patch_evse_text`)."""

    text: str
    """What `location_text` gives for the patched Location."""
    last_updated: datetime
    evse: EVSE
    """The EVSE as patched."""
    alone: bool
    """The EVSE is the only one of its uid and shown on the map before and after (not
    REMOVED): the map index may change that EVSE alone."""


def patch_evse_text(text: str, evse_uid: str, changes: Mapping[str, Any]) -> PatchedText:
    """`patch_evse` on a Location kept as JSON text (emsp_mock/shelf.py), without making a
    Location of it: only the patched EVSE is validated (as `patch_evse` does) and written;
    the rest of the text is carried as it was read. Every EVSE status a CPO sends is such a
    PATCH: parsing and dumping the whole Location for it (about 15 DateTimes and 90 enum
    values each way) was a third of a mock eMSP's CPU per PATCH (issue 13)."""
    data = pydantic_core.from_json(text)
    evses: list[dict[str, Any]] = data.get("evses") or []
    found = [i for i, item in enumerate(evses) if item.get("uid") == evse_uid]
    if not found:
        raise MissingParent(f"location {data.get('id')} has no EVSE {evse_uid}")
    before = evses[found[0]]
    evse = EVSE.model_validate({**before, **changes})
    # Only what the PATCH changed is written (in place: the text's field order is the
    # model's); a field it adds or sets to null takes writing the whole EVSE.
    written = evse.model_dump(mode="json", include=set(changes), exclude_none=True)
    if written.keys() == changes.keys() <= before.keys():
        evses[found[0]] = before | written
    else:
        evses[found[0]] = evse.model_dump(mode="json", exclude_none=True)
    stamp = _later(parse_datetime(data["last_updated"]), evse.last_updated)
    data["last_updated"] = format_datetime(stamp)
    alone = (
        len(found) == 1
        and before.get("status") != Status.REMOVED
        and evse.status is not Status.REMOVED
    )
    return PatchedText(pydantic_core.to_json(data).decode(), stamp, evse, alone)


def patch_connector(
    location: Location, evse_uid: str, connector_id: str, changes: Mapping[str, Any]
) -> Location:
    evse = _find_evse(location, evse_uid)
    for connector in evse.connectors:
        if connector.id == connector_id:
            merged: Connector = _merge(Connector, connector, changes)
            return _with_evse(location, _with_connector(evse, merged))
    raise MissingParent(f"EVSE {evse_uid} has no connector {connector_id}")


def find_connector(location: Location, evse_uid: str, connector_id: str) -> Connector:
    for connector in _find_evse(location, evse_uid).connectors:
        if connector.id == connector_id:
            return connector
    raise MissingParent(f"EVSE {evse_uid} has no connector {connector_id}")


def find_evse(location: Location, evse_uid: str) -> EVSE:
    return _find_evse(location, evse_uid)


def patch_session(session: Session, changes: Mapping[str, Any]) -> Session:
    """Spec mod_sessions PATCH: charging_periods are appended (absent or empty: no change)."""
    changes = dict(changes)
    added = changes.pop("charging_periods", None) or []
    merged: Session = _merge(Session, session, changes)
    if added:
        periods = [*(session.charging_periods or []), *added]
        merged = Session.model_validate({**merged.model_dump(), "charging_periods": periods})
    return merged


@dataclass(frozen=True)
class SyncDiff(Generic[K, V]):
    """What a pull changes: objects to store, keys gone (missing from a complete pull)."""

    upserts: dict[K, V]
    gone: frozenset[K]
    unchanged: int


def sync_diff(
    stored: Mapping[K, tuple[datetime, V]],
    pulled: Mapping[K, tuple[datetime, V]],
    *,
    complete: bool = True,
    pushed: Collection[K] = (),
) -> SyncDiff[K, V]:
    """Compare what we hold (key -> (last_updated, object)) with a pull.

    An object the pull has is stored when it is new, newer than ours, or as old but different
    (the hub's copy is the sender's latest word; two changes within one clock tick share a
    stamp). Ours is kept only when strictly newer (a push that overtook the pull). An object
    we hold that a complete pull (a GET-all without `date_from`) does not return is gone (spec
    mod_locations: what a full GET no longer returns is no longer valid for the receiver); a
    delta (`complete=False`: with `date_from`) holds changes only, so nothing is gone.

    `pushed`: keys a push changed (stored or deleted) while the pull was under way. The pull
    may be older than that push (its page was read before the sender's update reached the
    hub, or on a hub instance that had not seen it yet), so for them the push's word stands:
    never gone, replaced only by a pull strictly newer, and not brought back once deleted.
    """
    upserts: dict[K, V] = {}
    unchanged = 0
    for key, (stamp, value) in pulled.items():
        known = stored.get(key)
        if key in pushed:
            newer = known is not None and stamp > known[0]
        else:
            newer = known is None or stamp > known[0] or (stamp == known[0] and value != known[1])
        if newer:
            upserts[key] = value
        else:
            unchanged += 1
    gone = (
        frozenset(key for key in stored if key not in pulled and key not in pushed)
        if complete
        else frozenset()
    )
    return SyncDiff(upserts, gone, unchanged)


@dataclass(frozen=True)
class PullMark:
    """Where the next incremental pull of one module starts, kept after a complete pull.

    `started` is when that pull started, on the eMSP's clock; `newest` the newest
    `last_updated` any complete pull of the module returned, on the senders' clocks.
    `date_from` is the earlier of the two: a change after our pull can be stamped neither
    before its start (clocks that agree) nor before a stamp the sender had already given (a
    sender's clock that lags ours: the mock CPO's simulated clock may read last year).
    """

    started: datetime
    newest: datetime

    @property
    def date_from(self) -> datetime:
        return min(self.started, self.newest)

    def to_json(self) -> dict[str, str]:
        return {"started": format_datetime(self.started), "newest": format_datetime(self.newest)}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> PullMark:
        return cls(parse_datetime(data["started"]), parse_datetime(data["newest"]))


def next_mark(
    previous: PullMark | None, started: datetime, stamps: Iterable[datetime]
) -> PullMark | None:
    """The mark after a complete pull that started at `started` and returned `stamps`.

    The newest stamp seen before stays a bound when this pull returned nothing newer (an empty
    delta). A module of which nothing was ever pulled has no mark: its next pull is a first
    one again (we know nothing of its senders' clocks).
    """
    newest = max(stamps, default=None)
    if previous is not None and (newest is None or previous.newest > newest):
        newest = previous.newest
    return None if newest is None else PullMark(started, newest)
