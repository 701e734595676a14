"""Country outlines for the map, drawn offline: the vendored Natural Earth 1:50m countries
(world-atlas 2.0.2, TopoJSON; static/vendor/world-atlas/VERSION.md) decoded here and cut
down to the polygons that touch Europe. Pure but for reading the packaged file once."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

EUROPE = (-25.0, 34.0, 45.0, 72.0)
"""west, south, east, north (degrees): the alliance's 25 countries and their neighbours."""

Ring = list[list[float]]


def decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """TopoJSON arcs (spec §2.1.4): delta-encoded integer positions when the topology is
    quantized, turned back into longitude/latitude."""
    transform = topology.get("transform")
    arcs: list[list[tuple[float, float]]] = []
    for arc in topology["arcs"]:
        points: list[tuple[float, float]] = []
        if transform:
            (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
            x = y = 0
            for dx, dy, *_ in arc:
                x += dx
                y += dy
                points.append((x * sx + tx, y * sy + ty))
        else:
            points = [(float(p[0]), float(p[1])) for p in arc]
        arcs.append(points)
    return arcs


def _ring(indexes: list[int], arcs: list[list[tuple[float, float]]]) -> Ring:
    ring: Ring = []
    for index in indexes:
        # A negative index ~i is arc i reversed; consecutive arcs share their end point.
        points = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
        for i, (x, y) in enumerate(points):
            if ring and i == 0:
                continue
            ring.append([round(x, 3), round(y, 3)])
    return ring


def _touches(ring: Ring, box: tuple[float, float, float, float]) -> bool:
    west, south, east, north = box
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    return min(xs) <= east and max(xs) >= west and min(ys) <= north and max(ys) >= south


def outlines(
    topology: dict[str, Any], box: tuple[float, float, float, float] = EUROPE
) -> list[dict[str, Any]]:
    """[{"name", "polygons": [[ring, hole…]…]}] for every country with a polygon in `box`."""
    arcs = decode_arcs(topology)
    countries: list[dict[str, Any]] = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        kind = geometry.get("type")
        if kind == "Polygon":
            polygons = [geometry["arcs"]]
        elif kind == "MultiPolygon":
            polygons = geometry["arcs"]
        else:
            continue
        kept = []
        for polygon in polygons:
            rings = [_ring(r, arcs) for r in polygon]
            if rings and rings[0] and _touches(rings[0], box):
                kept.append(rings)
        if kept:
            name = (geometry.get("properties") or {}).get("name", "")
            countries.append({"name": name, "polygons": kept})
    return countries


@cache
def europe() -> bytes:
    """The outlines the page draws, as JSON (computed once per process)."""
    path = resources.files("dashboard").joinpath("static/vendor/world-atlas/countries-50m.json")
    topology = json.loads(path.read_text(encoding="utf-8"))
    return json.dumps(
        {"source": "Natural Earth 1:50m via world-atlas 2.0.2", "countries": outlines(topology)},
        separators=(",", ":"),
    ).encode()
