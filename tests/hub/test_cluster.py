"""Two hub instances on one PostgreSQL database behave as one hub (issue 14 item 2;
hub/cluster.py, docs/hub.md "Several instances").

Both instances run in this event loop; members reach them through a round-robin balancer at
http://hub.test (each request goes to the next instance), or one instance directly at
http://hub-a.test / http://hub-b.test. PostgreSQL only: skipped, saying so, without
ROAM_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.app import create_app
from hub.service import Hub
from ocpi.headers import encode_authorization
from ocpi.v221 import ConnectionStatus, Location, Role, Status
from ocpi.v221.versions import ModuleID
from tests.databases import postgres_database
from tests.doubles import factories as f
from tests.doubles.member import Member, MemberConfig
from tests.hub.conftest import hub_settings, invite
from tests.network import Network

pytestmark = pytest.mark.postgres

CPO, EMSP = f.CPO, f.EMSP


class Balancer:
    """Round robin over the instances, request by request."""

    def __init__(self, apps: list[ASGIApp]) -> None:
        self.apps = apps
        self.turn = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.apps[self.turn % len(self.apps)]
        self.turn += 1
        await app(scope, receive, send)


@dataclass
class Cluster:
    network: Network
    apps: list[FastAPI]
    hubs: list[Hub]
    cpo: Member
    emsp: Member

    async def settle(self) -> None:
        for _ in range(3):
            for hub in self.hubs:
                await hub.drain()
            await self.cpo.drain()
            await self.emsp.drain()
            await asyncio.sleep(0.05)


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_database()


async def _instance(tmp_path: Path, network: Network, url: str, name: str) -> FastAPI:
    settings = hub_settings(
        tmp_path / name, database_url=url, base_url="http://hub.test", forward_timeout=0.5
    )
    app = create_app(settings, http=network.client())
    await app.state.hub.start()
    await asyncio.wait_for(app.state.cluster.listening.wait(), 10)
    network.add(f"{name}.test", app)
    return app


@pytest.fixture
async def cluster(tmp_path: Path, pg_url: str) -> AsyncIterator[Cluster]:
    network = Network()
    apps = [await _instance(tmp_path, network, pg_url, name) for name in ("hub-a", "hub-b")]
    network.add("hub.test", Balancer(list(apps)))
    hubs = [app.state.hub for app in apps]
    cpo = Member(MemberConfig(Role.CPO, CPO, base_url="http://cpo.test"), http=network.client())
    emsp = Member(MemberConfig(Role.EMSP, EMSP, base_url="http://emsp.test"), http=network.client())
    network.add("cpo.test", cpo.app)
    network.add("emsp.test", emsp.app)
    # Invited on one instance; the handshakes land on whichever the balancer picks.
    await cpo.register("http://hub.test/ocpi/versions", invite(hubs[0], (Role.CPO, CPO)))
    await emsp.register("http://hub.test/ocpi/versions", invite(hubs[1], (Role.EMSP, EMSP)))
    started = Cluster(network, apps, hubs, cpo, emsp)
    await started.settle()
    try:
        yield started
    finally:
        await cpo.close()
        await emsp.close()
        for hub in hubs:
            with contextlib.suppress(Exception):
                await hub.stop()


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


async def _status(client: httpx.AsyncClient, host: str, token: str) -> int:
    response = await client.get(
        f"http://{host}/ocpi/2.2.1/credentials",
        headers={"Authorization": encode_authorization(token)},
    )
    return response.status_code


async def test_both_instances_know_both_members(cluster: Cluster) -> None:
    for hub in cluster.hubs:
        parties = {(p.ref, p.status) for p in hub.directory.all_parties()}
        assert parties == {(CPO, ConnectionStatus.CONNECTED), (EMSP, ConnectionStatus.CONNECTED)}


async def test_broadcasts_through_both_instances_reach_the_receiver_once_in_order(
    cluster: Cluster,
) -> None:
    # Each request goes to the other instance than the one before: the Location PUT and its
    # EVSE PATCHes are accepted by different instances, delivered by one.
    for i in range(5):
        await cluster.cpo.push_location(f.location(f"L{i}"))
        for status in (Status.CHARGING, Status.AVAILABLE):
            await cluster.cpo.patch_evse_status(f"L{i}", "3256", status)
    await cluster.settle()
    got = [
        (r.method, r.path.split("/locations/")[1], (r.body or {}).get("status"))
        for r in cluster.emsp.find_received(None, "/locations/DE/CPB/")
    ]
    for i in range(5):
        mine = [entry for entry in got if entry[1].startswith(f"DE/CPB/L{i}")]
        assert mine == [
            ("PUT", f"DE/CPB/L{i}", None),
            ("PATCH", f"DE/CPB/L{i}/3256", "CHARGING"),
            ("PATCH", f"DE/CPB/L{i}/3256", "AVAILABLE"),
        ]
    holders = [app.state.cluster.holds(_platform_id(cluster, EMSP)) for app in cluster.apps]
    assert holders.count(True) == 1
    # Both instances' copies come to hold the last status (within a second: each hears the
    # other's notice), whichever accepted which PATCH.

    async def both_current() -> bool:
        copies = [hub.copies.get(ModuleID.LOCATIONS, CPO, "L4") for hub in cluster.hubs]
        return all(c is not None and c.body["evses"][0]["status"] == "AVAILABLE" for c in copies)

    await _eventually(both_current, within=1.0)


def _platform_id(cluster: Cluster, party: Any) -> int:
    hub = cluster.hubs[0]
    [found] = [p for p in hub.directory.all_parties() if p.ref == party]
    assert found.platform_id is not None
    return found.platform_id


async def test_a_token_rotated_on_one_instance_is_refused_by_the_other(
    cluster: Cluster,
) -> None:
    assert cluster.cpo.peer is not None
    old = cluster.cpo.peer.token
    async with cluster.network.client() as client:
        assert await _status(client, "hub-b.test", old) == 200
        await cluster.cpo.update_credentials()  # through the balancer: either instance
        new = cluster.cpo.peer.token

        async def rotated_everywhere() -> bool:
            codes = [await _status(client, h, old) for h in ("hub-a.test", "hub-b.test")]
            fresh = [await _status(client, h, new) for h in ("hub-a.test", "hub-b.test")]
            return codes == [401, 401] and fresh == [200, 200]

        await _eventually(rotated_everywhere, within=1.0)


async def _emsp_offline_everywhere(cluster: Cluster) -> None:
    """The eMSP unreachable; a broadcast to it makes it OFFLINE on both instances."""
    cluster.network.down.add("emsp.test")
    await cluster.cpo.push_location(f.location("A"))

    async def offline_everywhere() -> bool:
        return all(
            p.status == ConnectionStatus.OFFLINE
            for hub in cluster.hubs
            for p in hub.directory.all_parties()
            if p.ref == EMSP
        )

    await _eventually(offline_everywhere, within=2.0)


async def test_a_party_gone_offline_is_offline_on_both_instances(cluster: Cluster) -> None:
    await _emsp_offline_everywhere(cluster)
    cluster.network.down.discard("emsp.test")
    # It calls the hub (its own GET-all, on whichever instance): CONNECTED everywhere, and the
    # location kept for it is delivered.
    await cluster.emsp.pull(ModuleID.LOCATIONS, Location)

    async def delivered() -> bool:
        return bool(cluster.emsp.find_received("PUT", "/locations/DE/CPB/A"))

    await _eventually(delivered, within=5.0)


async def test_a_party_back_on_one_instance_is_reachable_through_the_other_at_once(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The eMSP comes back (CONNECTED) on instance b; a direct request to it reaches instance
    a before a's notice of the change: a reads its directory again before refusing (without
    that it answered 4003 'receiver is OFFLINE' to a party every member had just been told
    was CONNECTED)."""
    await _emsp_offline_everywhere(cluster)

    async def deaf(payload: str) -> None:
        return None  # instance a hears no notice from now on

    monkeypatch.setattr(cluster.apps[0].state.cluster, "_apply", deaf)
    monkeypatch.setattr("hub.service.DIRECTORY_READ_GAP", 0.0)
    cluster.network.down.discard("emsp.test")
    cluster.network.add("hub.test", cluster.apps[1])
    await cluster.emsp.pull(ModuleID.LOCATIONS, Location)  # back, on instance b

    async def cpo_told_connected() -> bool:  # b stored the change, then told the members
        told = cluster.cpo.find_received("PUT", "/hubclientinfo/NL/EMA")
        return bool(told) and (told[-1].body or {}).get("status") == "CONNECTED"

    await _eventually(cpo_told_connected, within=2.0)
    cluster.network.add("hub.test", cluster.apps[0])

    response = await cluster.cpo.push_location(f.location("B"), to=EMSP)

    assert response.status_code == 1000, response.status_message
    assert cluster.emsp.find_received("PUT", "/locations/DE/CPB/B")


async def test_get_all_on_one_instance_serves_what_the_other_accepted(cluster: Cluster) -> None:
    assert cluster.emsp.peer is not None
    await cluster.cpo.push_location(f.location("A"))
    async with cluster.network.client() as client:
        for host in ("hub-a.test", "hub-b.test"):

            async def listed(host: str = host) -> bool:
                response = await client.get(
                    f"http://{host}/ocpi/2.2.1/sender/locations",
                    headers={
                        "Authorization": encode_authorization(cluster.emsp.peer.token),  # type: ignore[union-attr]
                        "OCPI-from-country-code": "NL",
                        "OCPI-from-party-id": "EMA",
                        "OCPI-to-country-code": "EU",
                        "OCPI-to-party-id": "HUB",
                    },
                )
                return [item["id"] for item in response.json()["data"]] == ["A"]

            await _eventually(listed, within=1.0)


async def test_get_all_right_after_a_push_to_the_other_instance_holds_it(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Instance a applies the other's copy notices slowly (a busy instance); a GET-all it
    answers right after instance b accepted a Location still holds that Location: a waits
    until it has applied every notice committed before the request (Cluster.barrier).
    Without that an eMSP re-syncing at that moment deleted a location it had just been
    pushed, as 'gone' from the complete pull."""
    hub_a = cluster.hubs[0]
    reload = hub_a.reload_copies

    async def slow_reload(keys: Any) -> None:
        await asyncio.sleep(0.3)
        await reload(keys)

    monkeypatch.setattr(hub_a, "reload_copies", slow_reload)
    cluster.network.add("hub.test", cluster.apps[1])
    response = await cluster.cpo.push_location(f.location("FRESH"))
    assert response.status_code == 1000
    cluster.network.add("hub.test", cluster.apps[0])

    listed = await cluster.emsp.pull(ModuleID.LOCATIONS, Location)

    assert "FRESH" in [location.id for location in listed]


async def test_a_command_result_comes_back_whichever_instance_it_reaches(
    cluster: Cluster,
) -> None:
    # The START_SESSION goes through one instance (which hands out the response URL); the
    # CPO's CommandResult POST reaches the other.
    cluster.cpo.add_location(f.location())
    response = await cluster.emsp.start_session("LOC1", "3256", f.token(), to=CPO)
    assert response.result.value == "ACCEPTED"
    uid = cluster.emsp.last_command_uid
    assert uid is not None
    result = await cluster.emsp.wait_for_command_result(uid)
    assert result.result.value == "ACCEPTED"


async def test_the_other_instance_takes_over_the_lanes_of_a_stopped_one(
    cluster: Cluster,
) -> None:
    emsp_platform = _platform_id(cluster, EMSP)
    cluster.network.down.add("emsp.test")
    await cluster.cpo.push_location(f.location("A"))
    await cluster.settle()
    [holder] = [i for i, app in enumerate(cluster.apps) if app.state.cluster.holds(emsp_platform)]
    await cluster.hubs[holder].stop()  # its claims end with its database connection
    survivor = cluster.apps[1 - holder]
    cluster.network.add("hub.test", survivor)
    cluster.network.down.discard("emsp.test")

    async def taken_over() -> bool:
        return bool(survivor.state.cluster.holds(emsp_platform)) and bool(
            cluster.emsp.find_received("PUT", "/locations/DE/CPB/A")
        )

    await _eventually(taken_over, within=20.0)


async def test_only_one_instance_leads(cluster: Cluster) -> None:
    runs: list[str] = []

    async def job(hub: Hub) -> None:
        runs.append(hub.store.instance)

    for app in cluster.apps:
        await app.state.cluster.leader_only(job)(app.state.hub)
        await app.state.cluster.leader_only(job)(app.state.hub)
    assert len(runs) == 2 and len(set(runs)) == 1


async def test_the_admin_api_says_which_instance_delivers(cluster: Cluster) -> None:
    for i in range(4):  # accepted by both instances: both have a lane for the eMSP
        await cluster.cpo.push_location(f.location(f"L{i}"))
    await cluster.settle()
    states = []
    async with cluster.network.client() as client:
        for host in ("hub-a.test", "hub-b.test"):
            response = await client.get(
                f"http://{host}/admin/deliveries", headers={"Authorization": "Bearer admin-secret"}
            )
            rows = {row["parties"][0]: row for row in response.json()["data"]}
            states.append(rows["NL/EMA"]["lane"])
    assert sorted(states) == ["elsewhere", "idle"]
