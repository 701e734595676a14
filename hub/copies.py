"""The hub's copies of the objects it saw: broadcast locations, tariffs and tokens; routed
sessions and CDRs. Pure data structure, no I/O (the store persists what `apply` returns).

Copies serve the hub's GET-all sender interfaces (spec: a hub stores broadcast data so it can
answer GET All, maintainer guidance on issue #508), open routing (which CPO owns location
LOC1? which eMSP issued token 123?) and settlement (from the CDRs routed).

Updates follow the receiver rules of each module: PUT replaces, PATCH merges (Sessions PATCH
appends `charging_periods`), a child PUT/PATCH under a Location also sets its parents'
`last_updated`. The bodies forwarded to members are never touched: these are the hub's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import orjson

from ocpi.headers import PartyRef
from ocpi.v221.types import parse_datetime
from ocpi.v221.versions import ModuleID

COPIED_MODULES = frozenset(
    {ModuleID.LOCATIONS, ModuleID.TARIFFS, ModuleID.TOKENS, ModuleID.SESSIONS, ModuleID.CDRS}
)


class Copy:
    """The hub's copy of one object, kept as compact JSON text (`text`), parsed on demand.

    At ten alliances (17,000 locations, ~100,000 EVSEs) the copies as parsed dicts took about
    270 MB of the hub's memory; as JSON text they take about 60 MB. Reads that need fields
    (a PATCH merged into the copy, settlement) parse `body`; GET-all splices `text` as it is.
    """

    __slots__ = (
        "deleted",
        "fits_64_bits",
        "last_updated",
        "module",
        "object_id",
        "owner",
        "receiver",
        "text",
    )

    def __init__(
        self,
        module: ModuleID,
        owner: PartyRef,
        object_id: str,
        body: dict[str, Any] | str,
        last_updated: datetime,
        receiver: PartyRef | None = None,
        deleted: bool = False,
    ) -> None:
        self.module = module
        self.owner = owner
        self.object_id = object_id
        if isinstance(body, str):
            self.text, self.fits_64_bits = body, not _long_number(body)
        else:
            self.text, self.fits_64_bits = _write(body)
        """The object as JSON text: ASCII only (non-ASCII escaped), one byte a character;
        and whether every integer in it fits 64 bits (orjson may read it)."""
        self.last_updated = last_updated
        self.receiver = receiver
        self.deleted = deleted

    @property
    def body(self) -> dict[str, Any]:
        """A fresh parse of the object (the caller may change it)."""
        return read_copy(self.text, self.fits_64_bits)

    @property
    def key(self) -> tuple[ModuleID, PartyRef, str]:
        return (self.module, self.owner, self.object_id)

    def __repr__(self) -> str:
        return f"Copy({self.module.value} {self.owner}/{self.object_id}, {len(self.text)} chars)"


def compact_json(body: dict[str, Any]) -> str:
    """The body as compact ASCII JSON text (see `_write`)."""
    return _write(body)[0]


def _write(body: dict[str, Any]) -> tuple[str, bool]:
    """The body as compact ASCII JSON text, and whether every integer in it fits 64 bits.
    orjson writes it when its text is ASCII (no character to escape) and it can hold every
    number (integers beyond 64 bits it refuses); otherwise the standard library does,
    escaping non-ASCII. Either way the text reads back as exactly `body`. Why: an EVSE PATCH
    re-serialises its whole Location copy, and the standard library's encoder was 16 % of the
    hub's CPU per accepted PATCH in the status storm (issue 13; orjson is about ten times
    faster on a Location)."""
    try:
        raw = orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits, say
        return json.dumps(body, separators=(",", ":")), False
    if raw.isascii():
        return raw.decode("ascii"), True
    return json.dumps(body, separators=(",", ":")), True


_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)


def _long_number(text: str) -> bool:
    """Whether the text holds a run of 19 digits, a number that may not fit 64 bits: looked
    for once, in a copy read from the database (20 us for 10 KB; a regular expression took
    half a millisecond on a text full of digits, as Locations are)."""
    return b"0" * 19 in text.encode("ascii", "replace").translate(_DIGITS_AS_ZERO)


def read_copy(text: str, fits_64_bits: bool) -> dict[str, Any]:
    """A copy's text parsed: by orjson when every integer in it fits 64 bits (orjson reads a
    larger one as a float) and orjson takes it (it refuses a lone surrogate, which the
    standard library escapes), else by the standard library. orjson is about three times
    faster on a Location, and parsing was 10 % of the hub's CPU per accepted EVSE PATCH."""
    if fits_64_bits:
        try:
            fast: dict[str, Any] = orjson.loads(text)
            return fast
        except orjson.JSONDecodeError:
            pass
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def token_key(uid: str, token_type: str | None) -> str:
    """Tokens are unique per (uid, type) within an eMSP; type defaults to RFID (spec)."""
    return f"{uid}|{(token_type or 'RFID').upper()}"


class Copies:
    """All copies, with the indexes open routing needs."""

    def __init__(self) -> None:
        self._items: dict[tuple[ModuleID, PartyRef, str], Copy] = {}
        # Indexes: by module (GET-all) and by (module, object id) (open routing).
        self._by_module: dict[ModuleID, dict[tuple[PartyRef, str], Copy]] = {}
        self._by_id: dict[tuple[ModuleID, str], dict[PartyRef, Copy]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def load(self, items: Iterable[Copy]) -> None:
        for item in items:
            self.put(item)

    def get(self, module: ModuleID, owner: PartyRef, object_id: str) -> Copy | None:
        found = self._items.get((module, owner, object_id))
        return None if found is None or found.deleted else found

    def owners_of(self, module: ModuleID, object_id: str) -> list[Copy]:
        """Every live copy with this object id, whoever owns it (ids are unique per owner)."""
        found = self._by_id.get((module, object_id), {})
        return [item for item in found.values() if not item.deleted]

    def tokens_with_uid(self, uid: str, token_type: str | None) -> list[Copy]:
        return self.owners_of(ModuleID.TOKENS, token_key(uid, token_type))

    def listing(
        self, module: ModuleID, visible: Callable[[Copy], bool] | None = None
    ) -> list[Copy]:
        """Live copies of a module in a stable order: oldest last_updated first, then key."""
        items = [
            item
            for item in self._by_module.get(module, {}).values()
            if not item.deleted and (visible is None or visible(item))
        ]
        items.sort(key=lambda c: (c.last_updated, str(c.owner), c.object_id))
        return items

    # --- updates -------------------------------------------------------------------------
    def put(self, item: Copy) -> Copy:
        self._items[item.key] = item
        self._by_module.setdefault(item.module, {})[(item.owner, item.object_id)] = item
        self._by_id.setdefault((item.module, item.object_id), {})[item.owner] = item
        return item

    def apply_location(
        self, method: str, owner: PartyRef, ids: list[str], body: dict[str, Any]
    ) -> Copy | None:
        """PUT/PATCH at Location, EVSE or Connector depth (ids = location[, evse[, connector]])."""
        stamp = _stamp(body)
        if stamp is None:
            return None
        location_id = ids[0]
        current = self.get(ModuleID.LOCATIONS, owner, location_id)
        if len(ids) == 1:
            if method == "PUT" or current is None:
                if method != "PUT":
                    return None  # a PATCH for a Location the hub never saw: nothing to merge into
                return self.put(Copy(ModuleID.LOCATIONS, owner, location_id, dict(body), stamp))
            merged = {**current.body, **body}
            return self.put(Copy(ModuleID.LOCATIONS, owner, location_id, merged, stamp))
        if current is None:
            return None
        location = current.body
        evses: list[dict[str, Any]] = location.setdefault("evses", []) or []
        location["evses"] = evses
        evse = next((e for e in evses if str(e.get("uid")) == ids[1]), None)
        if len(ids) == 2:
            if method == "PUT" or evse is None:
                if method != "PUT":
                    return None
                evses[:] = [e for e in evses if str(e.get("uid")) != ids[1]] + [dict(body)]
            else:
                evse.update(body)
        else:
            if evse is None:
                return None
            connectors: list[dict[str, Any]] = evse.setdefault("connectors", []) or []
            evse["connectors"] = connectors
            connector = next((c for c in connectors if str(c.get("id")) == ids[2]), None)
            if method == "PUT" or connector is None:
                if method != "PUT":
                    return None
                connectors[:] = [c for c in connectors if str(c.get("id")) != ids[2]]
                connectors.append(dict(body))
            else:
                connector.update(body)
            evse["last_updated"] = body["last_updated"]
        location["last_updated"] = body["last_updated"]
        return self.put(Copy(ModuleID.LOCATIONS, owner, location_id, location, stamp))

    def apply_simple(
        self,
        module: ModuleID,
        method: str,
        owner: PartyRef,
        object_id: str,
        body: dict[str, Any] | None,
        receiver: PartyRef | None = None,
    ) -> Copy | None:
        """Tariffs (PUT, DELETE), tokens (PUT, PATCH), sessions (PUT, PATCH), CDRs (POST)."""
        current = self.get(module, owner, object_id)
        if method == "DELETE":
            if current is None:
                return None
            current.deleted = True
            return current
        if body is None:
            return None
        stamp = _stamp(body)
        if stamp is None:
            return None
        if method == "PATCH":
            if current is None:
                return None
            known = current.body
            merged = {**known, **body}
            if module == ModuleID.SESSIONS and body.get("charging_periods"):
                # Spec mod_sessions PATCH: charging_periods in a PATCH are appended.
                merged["charging_periods"] = list(known.get("charging_periods") or []) + list(
                    body["charging_periods"]
                )
            return self.put(
                Copy(module, owner, object_id, merged, stamp, receiver or current.receiver)
            )
        return self.put(Copy(module, owner, object_id, dict(body), stamp, receiver))


def _stamp(body: dict[str, Any]) -> datetime | None:
    raw = body.get("last_updated")
    if not isinstance(raw, str):
        return None
    try:
        return parse_datetime(raw)
    except ValueError:
        return None
