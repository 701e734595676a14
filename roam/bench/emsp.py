"""`roam emsp bench`: how long a map search takes over a Spark-scale federation.

Four members' networks are generated with the mock CPO's generator (1,700 stations, about
11,000 EVSEs in 25 countries), written into a fresh eMSP database as if received from the
hub, and loaded by a real eMSP (`create_app`, no hub). Measured: loading and indexing; many
random searches on the in-memory index (a random station's surroundings, radius 5-50 km,
filters drawn at random); and the same searches through the app API (`GET /app/map`, in
process over httpx.ASGITransport: routing, query parsing, JSON). Bounded and offline.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from cpo_mock.network import MEMBER_STATIONS, generate_network
from emsp_mock.app import create_app
from emsp_mock.search import MapQuery, key_of
from emsp_mock.service import Emsp
from emsp_mock.settings import EmspSettings
from emsp_mock.store import Store, StoredObject, make_engine
from ocpi.v221.locations import ConnectorType, Location, Status

MEMBERS = (
    ("DE", "CPB", "Spark", "hpc"),
    ("FR", "ION", "Ionic", "urban"),
    ("NL", "FST", "Fastned", "retail"),
    ("IT", "ATL", "Atlante", "urban"),
)


@dataclass
class BenchResult:
    stations: int
    evses: int
    generate_s: float
    load_s: float
    queries: int
    hits_mean: float
    index_p50_ms: float
    index_p99_ms: float
    api_queries: int
    api_p50_ms: float
    api_p99_ms: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def report(self) -> str:
        return "\n".join(
            [
                f"federation: {self.stations} stations, {self.evses} EVSEs "
                f"(generated in {self.generate_s:.2f} s)",
                f"eMSP start (load from SQLite and index): {self.load_s:.2f} s",
                f"index search, {self.queries} random queries: p50 {self.index_p50_ms:.3f} ms, "
                f"p99 {self.index_p99_ms:.3f} ms ({self.hits_mean:.1f} locations per answer)",
                f"GET /app/map, {self.api_queries} queries: p50 {self.api_p50_ms:.2f} ms, "
                f"p99 {self.api_p99_ms:.2f} ms",
            ]
        )


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def federation(stations_per_member: int, seed: int) -> list[Location]:
    locations: list[Location] = []
    for index, (cc, pid, brand, profile) in enumerate(MEMBERS):
        network = generate_network(
            cc, pid, brand, stations=stations_per_member, seed=seed + index, profile=profile
        )
        locations += network.locations
    return locations


def random_query(rng: random.Random, locations: list[Location]) -> MapQuery:
    around = rng.choice(locations).coordinates
    return MapQuery(
        latitude=float(around.latitude) + rng.uniform(-0.2, 0.2),
        longitude=float(around.longitude) + rng.uniform(-0.2, 0.2),
        radius_km=rng.choice([5.0, 10.0, 25.0, 50.0]),
        connector_types=(
            frozenset({ConnectorType.IEC_62196_T2_COMBO}) if rng.random() < 0.3 else frozenset()
        ),
        min_power_kw=rng.choice([None, None, 50.0, 150.0]),
        statuses=frozenset({Status.AVAILABLE}) if rng.random() < 0.5 else frozenset(),
        limit=50,
    )


def _params(query: MapQuery) -> dict[str, str]:
    params = {
        "lat": str(query.latitude),
        "lon": str(query.longitude),
        "radius_km": str(query.radius_km),
        "limit": str(query.limit),
    }
    if query.connector_types:
        params["connector"] = ",".join(c.value for c in query.connector_types)
    if query.min_power_kw is not None:
        params["min_power_kw"] = str(query.min_power_kw)
    if query.statuses:
        params["status"] = ",".join(s.value for s in query.statuses)
    return params


async def run_bench(
    stations_per_member: int = MEMBER_STATIONS, queries: int = 2000, seed: int = 1
) -> BenchResult:
    started = time.perf_counter()
    locations = federation(stations_per_member, seed)
    generated = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="roam-emsp-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'emsp.db'}"
        store = Store(make_engine(url))
        store.save_objects(
            "location",
            [
                StoredObject(key_of(x), x.model_dump_json(exclude_none=True), x.last_updated)
                for x in locations
            ],
        )
        store.engine.dispose()
        settings = EmspSettings(base_url="http://emsp.bench", database_url=url)
        app = create_app(settings, http=httpx.AsyncClient())
        emsp: Emsp = app.state.emsp
        started = time.perf_counter()
        await emsp.start()
        loaded = time.perf_counter() - started
        try:
            rng = random.Random(seed)
            asked = [random_query(rng, locations) for _ in range(queries)]
            timings: list[float] = []
            hits = 0
            for query in asked:
                begin = time.perf_counter()
                hits += len(emsp.search(query))
                timings.append((time.perf_counter() - begin) * 1000)
            api: list[float] = []
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://emsp.bench") as c:
                for query in asked[: max(queries // 10, 1)]:
                    begin = time.perf_counter()
                    response = await c.get("/app/map", params=_params(query))
                    response.raise_for_status()
                    api.append((time.perf_counter() - begin) * 1000)
            return BenchResult(
                stations=len(locations),
                evses=emsp.index.evse_count,
                generate_s=round(generated, 3),
                load_s=round(loaded, 3),
                queries=len(timings),
                hits_mean=round(hits / len(timings), 2),
                index_p50_ms=round(statistics.median(timings), 4),
                index_p99_ms=round(_percentile(timings, 0.99), 4),
                api_queries=len(api),
                api_p50_ms=round(statistics.median(api), 3),
                api_p99_ms=round(_percentile(api, 0.99), 3),
            )
        finally:
            await emsp.stop()
            await emsp.http.aclose()


if __name__ == "__main__":
    print(asyncio.run(run_bench()).report())
