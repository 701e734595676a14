"""Durable acceptance and the delivery lanes (issue 14; hub/deliveries.py, docs/hub.md
"Durability"): what the hub answered 1000 for is in its database before the answer, and
reaches every receiver in order, across failures of the receiver and restarts of the hub.

The crash cases with real processes and `kill -9` are in tests/hub/fault_matrix/.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.clientinfo import push
from hub.db import make_engine
from hub.store import MessageFilter, Store
from ocpi.errors import OcpiError
from ocpi.v221 import ConnectionStatus, Status
from ocpi.v221.versions import ModuleID
from tests.doubles import factories as f
from tests.hub.federation import CPO, EMSP, Federation, federation, start_hub


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[Federation]:
    async with federation(tmp_path) as started:
        yield started


STAMP = "2024-05-01T12:00:00Z"


class Flaky:
    """An ASGI wrapper: every `every`-th location push fails with HTTP 500 (not handled);
    counts how many pushes were in flight at once."""

    def __init__(self, app: ASGIApp, every: int = 2, jitter: float = 0.0) -> None:
        self.app, self.every, self.jitter = app, every, jitter
        self.random = random.Random(14)
        self.seen = 0
        self.inflight = 0
        self.most_inflight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "/locations/" not in scope["path"]:
            await self.app(scope, receive, send)
            return
        self.seen += 1
        number = self.seen
        self.inflight += 1
        self.most_inflight = max(self.most_inflight, self.inflight)
        try:
            await asyncio.sleep(self.random.uniform(0, self.jitter))
            if self.every and number % self.every == 0:
                body = json.dumps(
                    {
                        "status_code": 3000,
                        "status_message": "flaky",
                        "timestamp": "2024-05-01T12:00:00Z",
                    }
                ).encode()
                await send({"type": "http.response.start", "status": 500, "headers": []})
                await send({"type": "http.response.body", "body": body})
                return
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1


def _evse_url(fed: Federation, location_id: str) -> str:
    return fed.cpo.hub_receiver_url(ModuleID.LOCATIONS, "DE", "CPB", location_id, "3256")


async def _put_then_patch(fed: Federation, location_id: str, patches: int) -> list[str]:
    """PUT a location, then PATCH its EVSE `patches` times, each waiting for the hub's 1000;
    the EVSE's `last_updated` carries the sequence. Returns what was sent, in order."""
    await fed.cpo.push_location(f.location(location_id))
    sent = [f"PUT {location_id}"]
    for i in range(patches):
        stamp = f.T0 + timedelta(seconds=i + 1)
        status = (Status.CHARGING, Status.AVAILABLE)[i % 2]
        body = {"status": status.value, "last_updated": stamp.isoformat().replace("+00:00", "Z")}
        await fed.cpo.send("PATCH", _evse_url(fed, location_id), body, to=fed.cpo.hub_party)
        sent.append(f"PATCH {location_id} {i + 1}")
    return sent


def _received(fed: Federation) -> dict[str, list[str]]:
    """Per location, the location pushes the eMSP received, in the order they arrived."""
    seen: dict[str, list[str]] = {}
    for request in fed.emsp.find_received(None, "/locations/DE/CPB/"):
        location_id = request.path.split("/locations/DE/CPB/")[1].split("/")[0]
        if request.method == "PUT":
            seen.setdefault(location_id, []).append(f"PUT {location_id}")
        else:
            second = int(request.body["last_updated"][17:19])
            seen.setdefault(location_id, []).append(f"PATCH {location_id} {second}")
    return seen


async def _missed_while_down(fed: Federation, location_id: str) -> None:
    """The eMSP is unreachable when a location is broadcast (it goes OFFLINE, the delivery
    waits in the outbox), then reachable again without telling anyone."""
    fed.network.down.add("emsp.test")
    await fed.cpo.push_location(f.location(location_id))
    await fed.settle()
    fed.network.down.discard("emsp.test")


async def test_an_evse_patch_never_overtakes_its_location_put(fed: Federation) -> None:
    # Four locations updated at once, each PUT then six PATCHes. The receiver's first
    # answer is late, so the updates pile up in the outbox, and then each answer takes a
    # random time: the lane delivers several objects side by side, and an update sent
    # beside the one before it would often arrive first.
    flaky = Flaky(fed.emsp.app, every=0, jitter=0.03)
    fed.network.add("emsp.test", flaky)
    fed.network.delay_next["emsp.test"] = [0.3]
    sent = await asyncio.gather(*(_put_then_patch(fed, f"L{i:02d}", 6) for i in range(4)))
    await fed.settle()
    received = _received(fed)
    for expected in sent:
        assert received[expected[0].split()[1]] == expected
    assert flaky.most_inflight > 1, "objects were delivered one at a time"


async def test_a_receiver_failing_every_other_push_gets_every_update_in_order(
    tmp_path: Path,
) -> None:
    async with federation(tmp_path, delivery_backoff_max=0.2) as fed:
        flaky = Flaky(fed.emsp.app, every=2)
        fed.network.add("emsp.test", flaky)
        sent = await asyncio.gather(*(_put_then_patch(fed, f"L{i}", 3) for i in range(5)))
        await fed.settle()
        received = _received(fed)
        for expected in sent:
            assert received[expected[0].split()[1]] == expected
        # Half of the offers failed and were made again; the sender never saw an error.
        # Every even-numbered offer failed; each update got through exactly once.
        total = sum(len(expected) for expected in sent)
        assert flaky.seen == 2 * total - 1
        parties = {p.ref: p.status for p in fed.hub.directory.all_parties()}
        assert parties[EMSP] == ConnectionStatus.CONNECTED  # failing is not being offline


async def test_a_receiver_that_always_fails_is_given_up_after_the_attempts(
    tmp_path: Path,
) -> None:
    async with federation(tmp_path, delivery_attempts=3, delivery_backoff_max=0.05) as fed:
        flaky = Flaky(fed.emsp.app, every=1)
        fed.network.add("emsp.test", flaky)
        await fed.cpo.push_location(f.location("L1"))
        await fed.settle()
        assert flaky.seen == 3
        assert await asyncio.to_thread(fed.hub.store.outbox_sizes) == {}
        notes = [m.note for m in await fed.hub.messages(MessageFilter(module="locations"))]
        assert any("given up after 3 attempts" in note for note in notes)


async def test_an_offline_receiver_gets_what_it_missed_once_it_speaks_again(
    fed: Federation,
) -> None:
    fed.network.down.add("emsp.test")
    await fed.cpo.push_location(f.location("A"))  # accepted: 1000
    await fed.settle()
    parties = {p.ref: p.status for p in fed.hub.directory.all_parties()}
    assert parties[EMSP] == ConnectionStatus.OFFLINE
    # Accepted while it is OFFLINE: kept for it as well (not retried meanwhile).
    await fed.cpo.push_location(f.location("B"))
    await fed.cpo.patch_evse_status("A", "3256", Status.CHARGING)
    await fed.settle()
    assert sum((await asyncio.to_thread(fed.hub.store.outbox_sizes)).values()) == 3
    assert not fed.emsp.find_received("PUT", "/locations/")

    fed.network.down.discard("emsp.test")
    # Its own request (a GET-all) shows it is back: CONNECTED now, not a still-alive
    # period later (the fixture's still-alive interval is an hour).
    await fed.emsp.pull(ModuleID.LOCATIONS, dict)
    await fed.settle()
    parties = {p.ref: p.status for p in fed.hub.directory.all_parties()}
    assert parties[EMSP] == ConnectionStatus.CONNECTED
    pushes = [
        (r.method, r.path.split("/locations/", 1)[1])
        for r in fed.emsp.find_received(None, "/locations/DE/CPB/")
    ]
    # Everything it missed, each object's updates in order (B is another object: it may
    # come before or after A's PATCH).
    assert sorted(pushes) == [("PATCH", "DE/CPB/A/3256"), ("PUT", "DE/CPB/A"), ("PUT", "DE/CPB/B")]
    assert pushes.index(("PUT", "DE/CPB/A")) < pushes.index(("PATCH", "DE/CPB/A/3256"))
    assert await asyncio.to_thread(fed.hub.store.outbox_sizes) == {}


async def test_an_offline_receiver_with_rows_waiting_is_checked_by_its_lane(
    fed: Federation,
) -> None:
    await _missed_while_down(fed, "A")
    # No request from it and no still-alive round: the lane's own check (GET versions,
    # after about a second) finds it back and delivers.
    for _ in range(100):
        if fed.emsp.find_received("PUT", "/locations/DE/CPB/A"):
            break
        await asyncio.sleep(0.05)
    assert fed.emsp.find_received("PUT", "/locations/DE/CPB/A")


async def test_an_unregistered_receiver_loses_its_rows(fed: Federation) -> None:
    await _missed_while_down(fed, "A")
    await fed.emsp.unregister()
    await fed.settle()
    assert await asyncio.to_thread(fed.hub.store.outbox_sizes) == {}
    assert not fed.emsp.find_received("PUT", "/locations/")


async def test_what_was_accepted_is_stored_before_the_answer(tmp_path: Path) -> None:
    # A batch interval of a minute: anything in the database right after the answer was
    # written because the hub waited for it, not by the writer's timer.
    async with federation(tmp_path, log_flush_interval=60) as fed:
        await fed.cpo.put_session(f.session(), to=EMSP)
        await fed.cpo.post_cdr(f.cdr(), to=EMSP)
        fed.network.delay["emsp.test"] = 30  # the broadcast is not delivered during the test
        await fed.cpo.push_location(f.location("A"))
        other = Store(make_engine(fed.hub.settings.database_url))
        try:
            copies = {(c.module, c.object_id) for c in other.load_copies()}
            assert (ModuleID.LOCATIONS, "LOC1") not in copies
            assert (ModuleID.LOCATIONS, "A") in copies
            assert (ModuleID.SESSIONS, f.session().id) in copies
            assert any(module == ModuleID.CDRS for module, _ in copies)
            assert sum(other.outbox_sizes().values()) == 1  # the location, for the eMSP
            cdr_lines = other.messages(MessageFilter(module="cdrs"))
            assert {line.hop for line in cdr_lines} == {"inbound", "outbound"}
            assert [line.kind for line in other.load_callbacks()] == ["cdr"]
        finally:
            other.engine.dispose()
        fed.network.delay.pop("emsp.test", None)


async def test_a_restarted_hub_delivers_what_the_stopped_one_held(fed: Federation) -> None:
    fed.network.delay["emsp.test"] = 2  # slower than the forward timeout (0.5 s)
    await fed.cpo.push_location(f.location("A"))
    await fed.hub.stop()  # drains for at most drain_timeout; the row stays in the outbox
    del fed.network.delay["emsp.test"]
    assert await asyncio.to_thread(fed.hub.store.outbox_sizes) != {}
    _, fed.hub = await start_hub(fed.tmp_path, fed.network, forward_timeout=0.5)
    await fed.settle()
    assert fed.emsp.find_received("PUT", "/locations/DE/CPB/A")
    assert await asyncio.to_thread(fed.hub.store.outbox_sizes) == {}


async def test_without_a_database_the_hub_answers_3000_never_1000(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = fed.hub.store
    real = store.write_batch

    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(store, "write_batch", down)
    with pytest.raises(OcpiError) as refused:
        await fed.cpo.push_location(f.location("A"))
    assert (refused.value.status_code, refused.value.http_status) == (3000, 503)
    assert "not accepted" in refused.value.message
    with pytest.raises(OcpiError) as cdr_refused:
        await fed.cpo.post_cdr(f.cdr(), to=EMSP)
    assert cdr_refused.value.status_code == 3000
    # The database is back: the hub recovers by itself and takes the next message.
    monkeypatch.setattr(store, "write_batch", real)
    await fed.cpo.push_location(f.location("B"))
    await fed.settle()
    lines = await fed.hub.messages(MessageFilter(module="locations"))
    inbound = [
        (line.path.rsplit("/", 1)[1], line.ocpi_status) for line in lines if line.hop == "inbound"
    ]
    assert ("A", 3000) in inbound and ("B", 1000) in inbound
    assert ("A", 1000) not in inbound  # the log tells what the sender was told
    assert fed.emsp.find_received("PUT", "/locations/DE/CPB/B")


async def test_the_admin_api_shows_what_waits_for_each_receiver(fed: Federation) -> None:
    fed.network.down.add("emsp.test")
    await fed.cpo.push_location(f.location("A"))
    await fed.cpo.push_location(f.location("B"))
    await fed.settle()
    rows = {row["parties"][0]: row for row in await fed.admin("deliveries")}
    assert (rows["NL/EMA"]["waiting"], rows["NL/EMA"]["lane"]) == (2, "waiting")
    assert rows["DE/CPB"]["waiting"] == 0
    fed.network.down.discard("emsp.test")
    await fed.emsp.pull(ModuleID.LOCATIONS, dict)
    await fed.settle()
    rows = {row["parties"][0]: row for row in await fed.admin("deliveries")}
    assert (rows["NL/EMA"]["waiting"], rows["NL/EMA"]["lane"]) == (0, "idle")


async def test_new_broadcasts_do_not_postpone_the_check_of_an_offline_receiver(
    fed: Federation,
) -> None:
    await _missed_while_down(fed, "A")
    # A broadcast every 0.2 s wakes its lane each time; the check (after about a second, or
    # 2 s if a first one came too early) still happens, and everything is delivered. Given
    # 8 s: before the fix it never happened while broadcasts kept coming.
    for i in range(40):
        await fed.cpo.patch_evse_status("A", "3256", (Status.CHARGING, Status.AVAILABLE)[i % 2])
        if len(fed.emsp.find_received("PATCH", "/locations/DE/CPB/A/3256")) > 0:
            break
        await asyncio.sleep(0.2)
    assert fed.emsp.find_received("PUT", "/locations/DE/CPB/A")


async def test_a_clientinfo_push_planned_before_a_rotation_uses_the_new_token(
    fed: Federation,
) -> None:
    # The ClientInfo announcement of a registration keeps the Platform it was planned for;
    # if the member rotates its token B meanwhile, the push must carry the new one.
    [before] = [p for p in fed.hub.directory.platforms.values() if p.hosts(EMSP)]
    await fed.emsp.update_credentials()
    await fed.settle()
    assert fed.hub.directory.platforms[before.id] is not before
    [cpo_party] = [p for p in fed.hub.directory.all_parties() if p.ref == CPO]
    assert await push(fed.hub, before, cpo_party)
    [last] = fed.emsp.find_received("PUT", "/hubclientinfo/DE/CPB")[-1:]
    assert last.token == fed.emsp.issued_token != before.token_to_member


class Holding:
    """An ASGI wrapper that holds every push for one location until `release` is set."""

    def __init__(self, app: ASGIApp, location_id: str) -> None:
        self.app, self.marker = app, f"/locations/DE/CPB/{location_id}"
        self.release = asyncio.Event()
        self.held = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.marker in scope["path"]:
            self.held += 1
            await self.release.wait()
        await self.app(scope, receive, send)


async def test_a_slow_object_does_not_hold_up_what_was_accepted_after_it(
    fed: Federation,
) -> None:
    """The lane is pipelined: while the receiver sits on one object's update, updates of
    other objects accepted later still go out (a lane that delivered a window of rows and
    waited for its slowest before reading more kept FAST until SLOW was answered)."""
    holding = Holding(fed.emsp.app, "SLOW")
    fed.network.add("emsp.test", holding)
    await fed.cpo.push_location(f.location("SLOW"))
    for _ in range(500):
        if holding.held:
            break
        await asyncio.sleep(0.01)
    assert holding.held == 1, "the SLOW push never reached the receiver"
    await fed.cpo.push_location(f.location("FAST"))
    await fed.cpo.patch_evse_status("FAST", "3256", Status.CHARGING)
    for _ in range(500):
        if len(fed.emsp.find_received(None, "/locations/DE/CPB/FAST")) == 2:
            break
        await asyncio.sleep(0.01)
    fast = [r.method for r in fed.emsp.find_received(None, "/locations/DE/CPB/FAST")]
    assert fast == ["PUT", "PATCH"], "FAST waited behind SLOW"
    assert not fed.emsp.find_received(None, "/locations/DE/CPB/SLOW")
    holding.release.set()
    await fed.settle()
    assert [r.method for r in fed.emsp.find_received(None, "/locations/DE/CPB/SLOW")] == ["PUT"]
    assert await asyncio.to_thread(fed.hub.store.outbox_sizes) == {}
