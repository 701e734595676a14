"""The stations on the map, pure: an EVSE status in one of four classes the page shows (with a
word and a shape, never colour alone), a station's counts per class, per-member totals, and
the grid aggregation used at low zoom."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

AVAILABLE = "available"
CHARGING = "charging"
OUT_OF_ORDER = "out_of_order"
UNKNOWN = "unknown"
CLASSES = (AVAILABLE, CHARGING, OUT_OF_ORDER, UNKNOWN)

# OCPI 2.2.1 §8.4.22 Status. BLOCKED (a car stands there) and RESERVED count as in use.
_CLASS_OF = {
    "AVAILABLE": AVAILABLE,
    "CHARGING": CHARGING,
    "BLOCKED": CHARGING,
    "RESERVED": CHARGING,
    "OUTOFORDER": OUT_OF_ORDER,
    "INOPERATIVE": OUT_OF_ORDER,
    "UNKNOWN": UNKNOWN,
    "PLANNED": UNKNOWN,
}
BUSY_STATUSES = tuple(status for status in _CLASS_OF if status != "AVAILABLE")
"""Every status but AVAILABLE (REMOVED never shows on an app's map): polling the map for
these finds every EVSE that is not available, a small answer however large the network."""


def status_class(status: str) -> str:
    return _CLASS_OF.get(status.upper(), UNKNOWN)


Counts = tuple[int, int, int, int]
"""EVSEs (available, charging, out of order, unknown)."""


def count_classes(statuses: Iterable[str]) -> Counts:
    counts = dict.fromkeys(CLASSES, 0)
    for status in statuses:
        counts[status_class(status)] += 1
    return (counts[AVAILABLE], counts[CHARGING], counts[OUT_OF_ORDER], counts[UNKNOWN])


def station_class(counts: Counts) -> str:
    """What one marker says: charging when any EVSE is in use, else available when any is,
    else out of order when any is, else unknown."""
    available, charging, out_of_order, _ = counts
    if charging:
        return CHARGING
    if available:
        return AVAILABLE
    if out_of_order:
        return OUT_OF_ORDER
    return UNKNOWN


@dataclass(slots=True)
class Station:
    key: str
    """"CC/PID/location id"."""
    member: int
    """Index into the dashboard's member list (-1: a party no configured member owns)."""
    latitude: float
    longitude: float
    name: str
    evse_status: dict[str, str]
    """EVSE uid -> OCPI status."""
    detail: dict[str, Any]
    """The app's map hit (EVSEs, connectors, power, tariff ids) as it was last read."""

    def counts(self) -> Counts:
        return count_classes(self.evse_status.values())

    def compact(self) -> list[Any]:
        """What the page draws: [key, lat, lon, member, [available, charging, out, unknown]]."""
        return [
            self.key,
            round(self.latitude, 5),
            round(self.longitude, 5),
            self.member,
            list(self.counts()),
        ]


def station_from_hit(hit: Mapping[str, Any], member_of_party: Mapping[str, int]) -> Station:
    """A station from one location of `GET /app/map` (emsp_mock `hit_json`)."""
    party = f"{hit['country_code']}/{hit['party_id']}"
    coordinates = hit["coordinates"]
    return Station(
        key=f"{party}/{hit['id']}",
        member=member_of_party.get(party, -1),
        latitude=float(coordinates["latitude"]),
        longitude=float(coordinates["longitude"]),
        name=str(hit.get("name") or hit["id"]),
        evse_status={str(e["uid"]): str(e["status"]) for e in hit.get("evses", [])},
        detail=dict(hit),
    )


def apply_busy(
    stations: Mapping[str, Station], busy: Mapping[str, Mapping[str, str]]
) -> list[Station]:
    """Set every EVSE's status from a poll of the non-available ones (`busy`: station key ->
    EVSE uid -> status): an EVSE the poll did not list is AVAILABLE. Returns the stations whose
    counts changed."""
    changed: list[Station] = []
    for key, station in stations.items():
        listed = busy.get(key, {})
        before = station.counts()
        for uid in station.evse_status:
            station.evse_status[uid] = listed.get(uid, "AVAILABLE")
        if station.counts() != before:
            changed.append(station)
    return changed


def member_totals(stations: Iterable[Station], members: int) -> list[dict[str, int]]:
    """Per member: stations, and EVSEs per class."""
    totals = [{"stations": 0, **dict.fromkeys(CLASSES, 0)} for _ in range(members)]
    for station in stations:
        if not 0 <= station.member < members:
            continue
        row = totals[station.member]
        row["stations"] += 1
        for name, count in zip(CLASSES, station.counts(), strict=True):
            row[name] += count
    return totals


@dataclass(frozen=True, slots=True)
class Cell:
    latitude: float
    """Mean position of the stations in the cell (where the page draws the bubble)."""
    longitude: float
    stations: int
    per_member: tuple[int, ...]
    counts: Counts


def grid_aggregate(stations: Iterable[Station], cell_degrees: float, members: int) -> list[Cell]:
    """Stations binned in cells of `cell_degrees`; the page does the same in screen pixels
    (dashboard/static/map.js) so that 17,000 stations draw as a few hundred bubbles."""
    if cell_degrees <= 0:
        raise ValueError("cell_degrees must be positive")
    bins: dict[tuple[int, int], list[Station]] = {}
    for station in stations:
        cell = (
            math.floor(station.latitude / cell_degrees),
            math.floor(station.longitude / cell_degrees),
        )
        bins.setdefault(cell, []).append(station)
    cells: list[Cell] = []
    for _, inside in sorted(bins.items()):
        per_member = [0] * members
        totals = [0, 0, 0, 0]
        for station in inside:
            if 0 <= station.member < members:
                per_member[station.member] += 1
            for i, count in enumerate(station.counts()):
                totals[i] += count
        cells.append(
            Cell(
                latitude=sum(s.latitude for s in inside) / len(inside),
                longitude=sum(s.longitude for s in inside) / len(inside),
                stations=len(inside),
                per_member=tuple(per_member),
                counts=(totals[0], totals[1], totals[2], totals[3]),
            )
        )
    return cells
