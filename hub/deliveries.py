"""Delivery lanes: the accepted broadcasts in the outbox reach every receiver, in order.

The relay commits a broadcast's copy and one outbox row per receiver before it answers the
sender (hub/relay.py `_broadcast`); from then on the message is the hub's to deliver, across
crashes and restarts. One lane per receiver platform reads its rows from the database in id
order (it holds at most `LANE_WINDOW` at a time, so the hub's memory stays flat however far a
receiver falls behind) and delivers them:

* one object's updates one after the other, in the order they were accepted (an EVSE PATCH
  never overtakes the Location PUT before it); different objects at once, up to
  `delivery_concurrency`;
* pipelined: the lane reads further rows while deliveries are in flight (whenever it holds
  fewer than half a window), so one slow object holds up only its own updates, not the rows
  behind it in the outbox;
* a row is deleted, durably, when the receiver answered it, before that object's next update
  goes out: after a crash at most the one update in flight is sent again (receivers' PUT and
  PATCH are idempotent, so a repeat is harmless; nothing is re-sent out of order);
* a receiver that fails (HTTP 5xx, 3xxx, a timeout, a broken answer) is offered the update
  again after a pause that doubles from 0.1 s up to `delivery_backoff_max`, up to
  `delivery_attempts` times; an answer 2xxx (the receiver says the message is wrong) is not
  retried: logged, and the row is done;
* a receiver that cannot be reached at all is OFFLINE: its lane pauses (no retries) and its
  rows wait in the outbox; the lane checks it (GET versions) with growing pauses, and any
  successful exchange — the check, or a request of its own — marks it CONNECTED and resumes
  the lane at once. Broadcasts accepted while it is OFFLINE are kept for it as well: when it
  is back it receives everything it missed, in order;
* a platform that unregisters loses its rows (it must register and re-sync to roam again);
* with several hub instances on one PostgreSQL database, one instance at a time holds a
  receiver's lane (hub/cluster.py `claim`); the others take it over when it goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from hub.clientinfo import check_platform, party_offline
from hub.cluster import Cluster
from hub.forwarding import ReceiverUnreachable
from hub.hops import send_hop
from hub.service import Hub, Lane
from hub.store import OutboxRow, StorageUnavailable
from hub.translation import (
    PIVOT,
    V211,
    cannot_carry,
    carry,
    dumps,
    loss_note,
    request_kind,
    situation_from,
)
from ocpi.aio import wait_set
from ocpi.errors import InvalidParameters, OcpiError
from ocpi.headers import PartyRef, RoutingHeaders
from ocpi.translate import Untranslatable
from ocpi.v221.versions import InterfaceRole, ModuleID
from ocpi.wire_json import read_json

log = logging.getLogger("hub.deliveries")

LANE_WINDOW = 256
"""Rows a lane holds at most (in flight or waiting behind an earlier update of their object)."""

READ_GAP = 0.02
"""Seconds between two reads of the outbox while deliveries are in flight (an idle lane reads
at once when woken): at most 50 reads a second per receiver, however the rows trickle in."""

FIRST_PAUSE = 0.1
"""Seconds before the second attempt; each further pause doubles."""

PROBE_PAUSE_MAX = 15.0
"""Longest pause between two checks of an OFFLINE receiver that has rows waiting."""

CLAIM_AGAIN = 1.0
"""Seconds between attempts to take a lane another instance holds."""


async def run_deliveries(hub: Hub, cluster: Cluster) -> None:
    """The hub worker that keeps one task per lane (registered by create_app)."""
    tasks: dict[int, asyncio.Task[None]] = {}
    try:
        while True:
            hub.lanes_changed.clear()
            for platform_id, lane in list(hub.lanes.items()):
                if platform_id not in tasks or tasks[platform_id].done():
                    tasks[platform_id] = asyncio.create_task(
                        _lane(hub, cluster, platform_id, lane), name=f"lane-{platform_id}"
                    )
            await hub.lanes_changed.wait()
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


async def _lane(hub: Hub, cluster: Cluster, platform_id: int, lane: Lane) -> None:
    loop = asyncio.get_running_loop()
    probe_pause = 1.0
    next_probe: float | None = None  # when to check an OFFLINE receiver next
    while True:
        lane.signal.clear()
        lane.held = await cluster.claim(platform_id)
        if not lane.held:
            # Another instance on the same database delivers to this receiver; take over
            # if it goes away (its lock ends with its connection).
            lane.settle(busy=False, paused=False)
            await _pause(lane, CLAIM_AGAIN)
            continue
        try:
            rows = await asyncio.to_thread(hub.store.outbox_pending, platform_id, LANE_WINDOW)
        except Exception:
            log.exception("reading the outbox of platform %s failed; retrying", platform_id)
            await _pause(lane, 1.0)
            continue
        if not rows:
            lane.settle(busy=False, paused=False)
            await lane.signal.wait()
            continue
        lane.busy = True
        platform = hub.directory.platforms.get(platform_id)
        if platform is None or not platform.registered:
            for row in rows:
                assert row.id is not None
                hub.writer.done(row.id)
            log.info("platform %s is gone: %d undelivered rows dropped", platform_id, len(rows))
            with contextlib.suppress(StorageUnavailable):
                await hub.writer.commit()
            continue
        if party_offline(platform):
            lane.settle(busy=True, paused=True)
            # Wait for it: a request of its own or the still-alive round may bring it back;
            # meanwhile check it ourselves, less and less often (on a clock of its own: new
            # broadcasts wake the lane, and must not postpone the check).
            if next_probe is None:
                next_probe = loop.time() + probe_pause
            if loop.time() >= next_probe:
                if not await check_platform(hub, platform):
                    probe_pause = min(probe_pause * 2, PROBE_PAUSE_MAX)
                    next_probe = loop.time() + probe_pause
                continue
            await _pause(lane, next_probe - loop.time())
            continue
        lane.settle(busy=True, paused=False)
        probe_pause, next_probe = 1.0, None
        try:
            await _Pipeline(hub, cluster, platform_id, lane).run(rows)
        except StorageUnavailable:
            log.warning("the outbox of platform %s could not be updated; retrying", platform_id)
            await _pause(lane, 1.0)
        except Exception:
            # The database went away while the pipeline read the outbox (say): the lane must
            # not die with it; what was not delivered is still in the outbox.
            log.exception("delivering to platform %s failed; retrying", platform_id)
            await _pause(lane, 1.0)


async def _pause(lane: Lane, seconds: float) -> bool:
    """Sleep, or less if the lane is woken; True when it was woken."""
    return await wait_set(lane.signal, seconds)


class _Pipeline:
    """One lane's deliveries while the receiver answers: rows are taken in id order, each
    object's updates one after the other, objects side by side (at most
    `delivery_concurrency` requests out), and further rows are read while deliveries are in
    flight. `run` returns when nothing is left to deliver, or once every delivery in flight
    has ended after the receiver went OFFLINE or this instance lost the lane; the rows not
    delivered stay in the outbox."""

    def __init__(self, hub: Hub, cluster: Cluster, platform_id: int, lane: Lane) -> None:
        self.hub, self.cluster, self.platform_id, self.lane = hub, cluster, platform_id, lane
        self.gate = asyncio.Semaphore(hub.settings.delivery_concurrency)
        self.queues: dict[str, deque[OutboxRow]] = {}
        """Per object: its rows the lane holds, the first one being delivered."""
        self.held: set[int] = set()
        """Ids of every row held: not read again until its deletion is committed."""
        self.tasks: set[asyncio.Task[None]] = set()
        self.progress = asyncio.Event()
        """Set when a row is done or a delivery stopped."""
        self.stopped = False
        self.failure: BaseException | None = None

    async def run(self, first: Sequence[OutboxRow]) -> None:
        lane = self.lane
        try:
            self._take(first)
            exhausted = len(first) < LANE_WINDOW  # the last read found every row there was
            loop = asyncio.get_running_loop()
            last_read = loop.time()
            while not self.stopped:
                room = len(self.held) <= LANE_WINDOW // 2
                if room and (not exhausted or lane.signal.is_set()):
                    gap = READ_GAP - (loop.time() - last_read)
                    if self.held and gap > 0:
                        # Deliveries are under way: gather what comes in for a moment
                        # rather than read the outbox once per row accepted.
                        await self._wait(at_most=gap)
                        continue
                    last_read = loop.time()
                    lane.signal.clear()
                    limit = LANE_WINDOW - len(self.held)
                    rows = await asyncio.to_thread(
                        self.hub.store.outbox_pending,
                        self.platform_id,
                        limit,
                        frozenset(self.held),
                    )
                    self._take(rows)
                    exhausted = len(rows) < limit
                elif not self.held:
                    return
                elif room:
                    await self._wait(lane.signal)  # a row done, or new rows accepted
                else:
                    await self._wait()
        except asyncio.CancelledError:
            for task in self.tasks:
                task.cancel()
            raise
        finally:
            if self.tasks:
                self.stopped = True
                await asyncio.wait(set(self.tasks))
        if self.failure is not None:
            raise self.failure

    async def _wait(self, also: asyncio.Event | None = None, at_most: float | None = None) -> None:
        """Until a row is done or a delivery stopped (or `also` is set, or `at_most` s passed)."""
        self.progress.clear()
        waits = [asyncio.ensure_future(self.progress.wait())]
        if also is not None:
            waits.append(asyncio.ensure_future(also.wait()))
        try:
            await asyncio.wait(waits, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    def _take(self, rows: Sequence[OutboxRow]) -> None:
        for row in rows:
            assert row.id is not None
            if row.id in self.held:
                continue
            self.held.add(row.id)
            queue = self.queues.get(row.object_key)
            if queue is not None:
                queue.append(row)  # after the updates of this object held already
                continue
            self.queues[row.object_key] = deque([row])
            task = asyncio.create_task(self._object(row.object_key))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _object(self, key: str) -> None:
        queue = self.queues[key]
        try:
            while queue and not self.stopped:
                row = queue[0]
                # A slot is held while a request is out, not while its row's deletion
                # commits: other objects go out meanwhile (the commit is a group commit).
                async with self.gate:
                    if not self.cluster.holds(row.platform_id):
                        self.stopped = True  # the claim was lost: stop before sending
                        return
                    if not await _deliver(self.hub, row):
                        self.stopped = True  # OFFLINE: the rest waits in the outbox
                        return
                assert row.id is not None
                self.hub.writer.done(row.id)
                # Durably done before this object's next update goes out (see above).
                await self.hub.writer.commit()
                queue.popleft()
                self.held.discard(row.id)
                self.progress.set()
        except Exception as exc:  # StorageUnavailable, say: `run` raises it once all ended
            self.stopped = True
            if self.failure is None:
                self.failure = exc
        finally:
            # No await between the last look at the queue and this: a row of this object
            # taken meanwhile would have been appended to the queue and looked at above.
            if not queue or self.stopped:
                del self.queues[key]
            self.progress.set()


def _for_receiver(hub: Hub, row: OutboxRow, version: str) -> tuple[bytes, str]:
    """A broadcast's body (the hub's 2.2.1 text) as a receiver of `version` reads it, and the
    note of what it lost; translated at delivery, so a receiver that changed its version
    while the row waited gets it in its version of now. What a 2.1.1 translation needs (the
    owner's Tariffs) comes from the hub's copies then."""
    path, _, _ = row.path.partition("?")
    segments = tuple(unquote(part) for part in path.split("/") if part)
    body = read_json(row.body or "null", max_depth=None)
    kind = request_kind(ModuleID(row.module), InterfaceRole.RECEIVER, row.method, segments)
    if kind is None:
        return (row.body or "").encode(), ""
    try:
        owner: PartyRef | None = PartyRef(segments[0], segments[1])
    except (IndexError, ValueError):
        owner = None
    carried = carry(kind, body, PIVOT, version, situation_from(hub.copies, owner))
    return dumps(carried.value), loss_note(PIVOT, version, carried.lost)


async def _deliver(hub: Hub, row: OutboxRow) -> bool:
    """Offer one row until it is answered or given up; False if the receiver is OFFLINE."""
    platform = hub.directory.platforms.get(row.platform_id)
    if platform is None or not platform.registered:
        return True  # gone: the row is done
    base = platform.endpoint(ModuleID(row.module), InterfaceRole.RECEIVER)
    if base is None:
        log.info("%s no longer receives %s: row %s dropped", platform.name, row.module, row.id)
        return True
    path = row.path
    if platform.version == V211.version and row.module == ModuleID.TOKENS.value:
        # 2.1.1 names a token by uid: its Token URLs have no `type` (mod_tokens §2.1).
        path = path.partition("?")[0]
    url = base.rstrip("/") + path
    raw = row.body.encode() if row.body is not None else None
    note = ""
    if platform.version != PIVOT and row.body is not None:
        try:
            raw, note = _for_receiver(hub, row, platform.version)
        except (Untranslatable, InvalidParameters) as exc:
            _log_outbound(
                hub,
                row,
                platform.id,
                url,
                "not delivered: " + cannot_carry(PIVOT, platform.version, exc),
                ocpi_status=2001,
            )
            return True
    routing = RoutingHeaders(to=row.party, from_=hub.ref)
    pause = FIRST_PAUSE
    for attempt in range(1, hub.settings.delivery_attempts + 1):
        if party_offline(platform):
            return False
        try:
            answer = await send_hop(
                hub,
                platform=platform,
                party=row.party,
                method=row.method,
                url=url,
                routing=routing,
                raw=raw,
                module=row.module,
                correlation_id=row.correlation_id,
                parent_request_id=row.request_id,
                note=note,
            )
        except ReceiverUnreachable:
            return False
        except OcpiError:
            pass  # 4000/4002: logged by send_hop; offered again after a pause
        else:
            if answer.ocpi_status < 3000:
                # 1xxx delivered; 2xxx: the receiver refuses this message, and would again.
                return True
        if attempt < hub.settings.delivery_attempts:
            await asyncio.sleep(pause)
            pause = min(pause * 2, hub.settings.delivery_backoff_max)
    log.warning(
        "gave up delivering %s %s%s to %s after %d attempts (it must re-sync by GET-all)",
        row.method,
        row.module,
        row.path,
        platform.name,
        hub.settings.delivery_attempts,
    )
    _log_outbound(
        hub,
        row,
        platform.id,
        url,
        f"given up after {hub.settings.delivery_attempts} attempts; the receiver must "
        "re-sync by GET-all",
    )
    return True


def _log_outbound(
    hub: Hub, row: OutboxRow, platform_id: int, url: str, note: str, **more: Any
) -> None:
    """A log line of the row's hop that was not sent (the hops sent log themselves)."""
    hub.log_message(
        hop="outbound",
        method=row.method,
        path=url,
        module=row.module,
        correlation_id=row.correlation_id,
        parent_request_id=row.request_id,
        to_party=row.party,
        platform_id=platform_id,
        note=note,
        **more,
    )
