"""`roam cpo bench`: how long a mock CPO with a generated network takes to start and to serve
its whole location list, over real HTTP on loopback.

A hub and the CPO run under uvicorn in this process, each on a free 127.0.0.1 port. Measured:
generating the network; a cold start (a new database: import every location, register with the
hub); a full paginated GET of the locations, following Link headers, with the token the CPO
issued to the hub; a warm start (tokens and locations from the database). Bounded: one pull per
start, then everything stops.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cpo_mock.app import create_app as create_cpo
from cpo_mock.network import generate_network
from cpo_mock.service import Cpo
from cpo_mock.settings import CpoSettings
from hub.app import create_app as create_hub
from hub.service import Hub
from hub.settings import HubSettings
from ocpi.client import OcpiClient, http_client
from ocpi.headers import PartyRef
from ocpi.v221.locations import Location
from ocpi.v221.types import Role
from roam.serving import LoopbackServer, free_port

PARTY = PartyRef("DE", "CPB")


@dataclass
class BenchResult:
    stations: int
    evses: int
    page_limit: int
    generate_s: float
    cold_start_s: float
    cold_pull_s: float
    warm_start_s: float
    warm_pull_s: float
    pages: int
    pulled: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def report(self) -> str:
        return "\n".join(
            [
                f"network: {self.stations} stations, {self.evses} EVSEs "
                f"(generated in {self.generate_s:.2f} s)",
                f"cold start (import + register with the hub): {self.cold_start_s:.2f} s",
                f"full paginated pull of the locations: {self.cold_pull_s:.2f} s "
                f"({self.pages} pages of up to {self.page_limit}, {self.pulled} locations)",
                f"warm start (state from the database): {self.warm_start_s:.2f} s",
                f"full paginated pull after the warm start: {self.warm_pull_s:.2f} s",
            ]
        )


async def _pull(cpo: Cpo, url: str) -> tuple[float, int, int]:
    peer = cpo.registration.peer
    if peer is None:
        raise RuntimeError("the CPO did not register with the hub")
    async with http_client(60) as http:
        client = OcpiClient(http, peer.issued_token, from_party=peer.hub_party)
        began = time.perf_counter()
        pages = 0
        ids: list[str] = []
        async for page in client.iter_pages(url, Location, to=PARTY):
            pages += 1
            ids.extend(location.id for location in page)
        elapsed = time.perf_counter() - began
    if len(set(ids)) != len(ids):
        raise RuntimeError("the paginated pull returned a location twice")
    return elapsed, pages, len(ids)


async def run_bench(stations: int = 500, seed: int = 1, page_limit: int = 100) -> BenchResult:
    with tempfile.TemporaryDirectory(prefix="roam-cpo-bench-") as folder:
        tmp = Path(folder)
        began = time.perf_counter()
        network = generate_network(
            PARTY.country_code, PARTY.party_id, "Bench", stations=stations, seed=seed
        )
        network.write(tmp / "network.json")
        generate_s = time.perf_counter() - began

        hub_port, cpo_port = free_port(), free_port()
        hub_settings = HubSettings(
            port=hub_port,
            database_url=f"sqlite:///{tmp / 'hub.db'}",
            admin_token="bench",
            still_alive_interval=3600,
        )
        hub_app = create_hub(hub_settings)
        hub_served = LoopbackServer(hub_app, hub_port)
        await hub_served.start()
        hub: Hub = hub_app.state.hub
        token_a = (await hub.invite([(Role.CPO, PARTY)])).token
        settings = CpoSettings.model_validate(
            {
                "country_code": PARTY.country_code,
                "party_id": PARTY.party_id,
                "name": "Bench",
                "port": cpo_port,
                "database_url": f"sqlite:///{tmp / 'cpo.db'}",
                "hub": {"versions_url": hub_settings.versions_url, "token_a": token_a},
                "network": {"file": str(tmp / "network.json")},
                "page_limit": page_limit,
                "push_on_register": False,
            }
        )
        url = f"{settings.public_url}/ocpi/cpo/2.2.1/locations"
        try:
            timings: list[tuple[float, float, int, int]] = []
            for _ in range(2):  # cold, then warm on the same database
                app = create_cpo(settings)
                served = LoopbackServer(app, cpo_port)
                start_s = await served.start()
                cpo: Cpo = app.state.cpo
                began = time.perf_counter() - start_s
                while cpo.registration.peer is None:  # registered once the socket listens
                    if time.perf_counter() - began > 120:
                        raise RuntimeError("the CPO did not register with the hub")
                    await asyncio.sleep(0.005)
                start_s = time.perf_counter() - began
                try:
                    pull_s, pages, pulled = await _pull(cpo, url)
                finally:
                    await served.stop()
                timings.append((start_s, pull_s, pages, pulled))
        finally:
            await hub_served.stop()
    (cold_start, cold_pull, pages, pulled), (warm_start, warm_pull, _, _) = timings
    return BenchResult(
        stations=len(network.locations),
        evses=network.evse_count,
        page_limit=page_limit,
        generate_s=generate_s,
        cold_start_s=cold_start,
        cold_pull_s=cold_pull,
        warm_start_s=warm_start,
        warm_pull_s=warm_pull,
        pages=pages,
        pulled=pulled,
    )
