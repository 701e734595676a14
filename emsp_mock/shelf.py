"""Locations kept as compact JSON text and parsed when read (`LocationShelf`).

At ten alliances an eMSP holds 17,000 locations with about 100,000 EVSEs: as pydantic objects
they took about 380 MB of its memory, as JSON text about 60 MB. The text is what the database
row holds too (`model_dump_json(exclude_none=True)`), so a write dumps each location once.
Reads parse (about 0.1 ms for an alliance location): a receiver's PATCH of a Location or a
Connector parses the one location it changes, the map search the ones it returns; an EVSE PATCH
(every status a CPO sends) changes the text without making a Location of it
(`objects.patch_evse_text`).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from datetime import datetime

from emsp_mock.search import LocationKey
from ocpi.v221.locations import Location


def location_text(location: Location) -> str:
    """How a location is kept, in memory and in the database."""
    return location.model_dump_json(exclude_none=True)


class LocationShelf(MutableMapping[LocationKey, Location]):
    """A mapping of locations whose values are parsed from JSON text on every read: a read
    returns a fresh object (changing it changes nothing here; store it back to keep it)."""

    def __init__(self) -> None:
        self._texts: dict[LocationKey, str] = {}
        self._stamps: dict[LocationKey, datetime] = {}

    def __getitem__(self, key: LocationKey) -> Location:
        return Location.model_validate_json(self._texts[key])

    def __setitem__(self, key: LocationKey, location: Location) -> None:
        self.put_text(key, location_text(location), location.last_updated)

    def put_text(self, key: LocationKey, text: str, last_updated: datetime) -> None:
        """Keep a location already dumped by `location_text` (no second dump)."""
        self._texts[key] = text
        self._stamps[key] = last_updated

    def __delitem__(self, key: LocationKey) -> None:
        del self._texts[key]
        del self._stamps[key]

    def __iter__(self) -> Iterator[LocationKey]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    def __contains__(self, key: object) -> bool:
        return key in self._texts

    def text(self, key: LocationKey) -> str | None:
        return self._texts.get(key)

    def stamped_texts(self) -> dict[LocationKey, tuple[datetime, str]]:
        """(last_updated, text) per location, without parsing any: for the re-sync's diff."""
        return {key: (self._stamps[key], text) for key, text in self._texts.items()}
