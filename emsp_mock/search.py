"""The unified map: every location of every CPO, searchable in memory (pure, no I/O).

Locations are kept in a grid of 0.25° cells keyed by (latitude, longitude) cell; a search by
position and radius visits only the cells that intersect the radius' bounding box, then
filters by great-circle distance and by what the driver asked for (operator, connector type,
minimum power, live EVSE status). Changing one location re-indexes that location only, so
the live statuses pushed by CPOs keep the map current at no noticeable cost.

Shown on the map: EVSEs that are not REMOVED (spec mod_locations: REMOVED EVSEs are retired),
of locations with at least one such EVSE.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from ocpi.pricing.quote import connector_max_power
from ocpi.v221.locations import EVSE, ConnectorType, Location, Status

LocationKey = tuple[str, str, str]
"""(country_code, party_id, location id), upper-cased party: unique in the federation."""

CELL_DEGREES = 0.25
EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180


def location_key(country_code: str, party_id: str, location_id: str) -> LocationKey:
    return (country_code.upper(), party_id.upper(), location_id)


def key_of(location: Location) -> LocationKey:
    return location_key(location.country_code, location.party_id, location.id)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, slots=True)
class MapQuery:
    """What a driver searches for; every filter is optional."""

    latitude: float | None = None
    longitude: float | None = None
    radius_km: float = 25.0
    operator: str | None = None
    """Part of the operator's name (case-insensitive), or its party "DE/CPB"."""
    connector_types: frozenset[ConnectorType] = frozenset()
    min_power_kw: float | None = None
    statuses: frozenset[Status] = frozenset()
    """EVSE statuses wanted, e.g. {AVAILABLE}; empty means any (REMOVED never shows)."""
    limit: int = 50

    def __post_init__(self) -> None:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            raise ValueError(f"latitude {self.latitude} is not between -90 and 90")
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            raise ValueError(f"longitude {self.longitude} is not between -180 and 180")
        if self.radius_km <= 0:
            raise ValueError("radius_km must be positive")
        if self.limit < 1:
            raise ValueError("limit must be at least 1")


@dataclass(frozen=True, slots=True)
class _Evse:
    uid: str
    status: Status
    standards: frozenset[ConnectorType]
    max_power_kw: float


@dataclass(frozen=True, slots=True)
class _Entry:
    key: LocationKey
    latitude: float
    longitude: float
    operator: str
    party: str
    evses: tuple[_Evse, ...]


@dataclass(frozen=True, slots=True)
class MapHit:
    """A location that matches, with the EVSEs that match and its distance (None: no position)."""

    location: Location
    evses: tuple[EVSE, ...]
    distance_km: float | None


def _summary(evse: EVSE) -> _Evse:
    powers = [connector_max_power(c) for c in evse.connectors]
    return _Evse(
        uid=evse.uid,
        status=evse.status,
        standards=frozenset(c.standard for c in evse.connectors),
        max_power_kw=max((float(p) for p in powers if p is not None), default=0.0),
    )


def _cell(latitude: float, longitude: float) -> tuple[int, int]:
    return (math.floor(latitude / CELL_DEGREES), math.floor(longitude / CELL_DEGREES))


@dataclass
class MapIndex:
    """Locations by grid cell; `put` and `remove` keep it current one location at a time."""

    _cells: dict[tuple[int, int], dict[LocationKey, _Entry]] = field(default_factory=dict)
    _where: dict[LocationKey, tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def build(cls, locations: Iterable[Location]) -> MapIndex:
        index = cls()
        for location in locations:
            index.put(location)
        return index

    def __len__(self) -> int:
        return len(self._where)

    @property
    def evse_count(self) -> int:
        return sum(len(e.evses) for cell in self._cells.values() for e in cell.values())

    def put(self, location: Location) -> None:
        key = key_of(location)
        self.remove(key)
        evses = tuple(_summary(e) for e in location.evses or [] if e.status is not Status.REMOVED)
        if not evses:
            return  # spec: a Location without a valid EVSE has expired; not on the map
        latitude = float(location.coordinates.latitude)
        longitude = float(location.coordinates.longitude)
        operator = location.operator.name if location.operator is not None else ""
        entry = _Entry(key, latitude, longitude, operator.lower(), f"{key[0]}/{key[1]}", evses)
        cell = _cell(latitude, longitude)
        self._cells.setdefault(cell, {})[key] = entry
        self._where[key] = cell

    def put_evse(self, key: LocationKey, evse: EVSE) -> bool:
        """Show one changed EVSE of a location on the map as `put` of the whole location
        would; False when that takes the whole location (it is not on the map, or that EVSE
        is not: the caller then `put`s the location)."""
        cell = self._where.get(key)
        if cell is None or evse.status is Status.REMOVED:
            return False
        entry = self._cells[cell][key]
        for index, shown in enumerate(entry.evses):
            if shown.uid == evse.uid:
                evses = (*entry.evses[:index], _summary(evse), *entry.evses[index + 1 :])
                self._cells[cell][key] = replace(entry, evses=evses)
                return True
        return False

    def remove(self, key: LocationKey) -> None:
        cell = self._where.pop(key, None)
        if cell is not None:
            bucket = self._cells[cell]
            bucket.pop(key, None)
            if not bucket:
                del self._cells[cell]

    def _candidates(self, query: MapQuery) -> Iterator[_Entry]:
        if query.latitude is None or query.longitude is None:
            for bucket in self._cells.values():
                yield from bucket.values()
            return
        dlat = query.radius_km / KM_PER_DEGREE
        cos = math.cos(math.radians(min(abs(query.latitude) + dlat, 89.9)))
        dlon = min(dlat / max(cos, 1e-6), 180.0)
        low = _cell(max(query.latitude - dlat, -90.0), query.longitude - dlon)
        high = _cell(min(query.latitude + dlat, 90.0), query.longitude + dlon)
        lon_cells = range(low[1], high[1] + 1)
        if len(lon_cells) * CELL_DEGREES >= 360:
            lon_cells = range(_cell(0, -180)[1], _cell(0, 180)[1] + 1)
        wrap = round(360 / CELL_DEGREES)
        seen: set[tuple[int, int]] = set()
        for row in range(low[0], high[0] + 1):
            for column in lon_cells:
                # Longitudes wrap at ±180°.
                normal = (column - _cell(0, -180)[1]) % wrap + _cell(0, -180)[1]
                if (row, normal) in seen:
                    continue
                seen.add((row, normal))
                found = self._cells.get((row, normal))
                if found:
                    yield from found.values()

    def search(self, query: MapQuery, locations: Mapping[LocationKey, Location]) -> list[MapHit]:
        """Matching locations, nearest first (by party and id without a position). The index
        keeps what it matches on; the hits' locations are read from `locations`."""
        operator = query.operator.lower() if query.operator else None
        found: list[tuple[float, LocationKey, _Entry, tuple[str, ...]]] = []
        for entry in self._candidates(query):
            distance = 0.0
            if query.latitude is not None and query.longitude is not None:
                distance = distance_km(
                    query.latitude, query.longitude, entry.latitude, entry.longitude
                )
                if distance > query.radius_km:
                    continue
            if (
                operator is not None
                and operator not in entry.operator
                and operator != (entry.party.lower())
            ):
                continue
            uids = tuple(
                e.uid
                for e in entry.evses
                if (not query.statuses or e.status in query.statuses)
                and (not query.connector_types or e.standards & query.connector_types)
                and (query.min_power_kw is None or e.max_power_kw >= query.min_power_kw)
            )
            if uids:
                found.append((distance, entry.key, entry, uids))
        found.sort(key=lambda item: (item[0], item[1]))
        with_position = query.latitude is not None
        hits: list[MapHit] = []
        for distance, key, _, uids in found[: query.limit]:
            location = locations.get(key)
            if location is None:
                continue
            wanted = set(uids)
            evses = tuple(e for e in location.evses or [] if e.uid in wanted)
            hits.append(MapHit(location, evses, round(distance, 3) if with_position else None))
        return hits
