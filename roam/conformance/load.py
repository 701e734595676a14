"""Load and time checks (issue 18, group 5): a list walked to the end while the suite changes
objects between its pages, the real-time authorization answered in time over many calls, and
X-Limit honoured up to the member's own maximum.

The only objects of a member the suite can change through OCPI are a CPO's Locations: a
START_SESSION (with a car plugged in) and a STOP_SESSION change an EVSE's status, and with it
the Location's `last_updated`. An eMSP's Tokens are its own; no OCPI message of a hub changes
them, so the walk under change is a CPO check.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocpi.headers import LINK, X_LIMIT, X_TOTAL_COUNT, PartyRef
from ocpi.pagination import parse_link_header
from ocpi.v221 import Capability, CommandResponseType, InterfaceRole, LocationReferences, ModuleID
from ocpi.v221 import Status as EvseStatus
from roam.conformance.checks import CPO, EMSP, Check, CheckFailed, CheckSkipped, Phase, check
from roam.conformance.context import Context
from roam.conformance.cpo_role import send_command, suite_token
from roam.conformance.emsp_role import suite_location
from roam.conformance.exchange import Exchange
from roam.conformance.pagination import (
    LISTS,
    S_PAGINATION,
    base_params,
    header_int,
    identity,
    listing,
    stamp,
    walk,
)
from roam.conformance.registration import HANDSHAKE

S_UNDER_CHANGE = (
    S_PAGINATION + " > Paginated Response (the sequence mustn't change; only the last page "
    "differs); mod_locations.asciidoc §8.2.1.1 GET Method"
)
S_X_LIMIT = (
    S_PAGINATION + " > Paginated Request (limit), Paginated Response (X-Limit), "
    "Pagination Examples (limit=2000)"
)
S_REALTIME = (
    "mod_tokens.asciidoc §12.2.2.2 POST Method (real-time authorization); "
    "eMSP platforms' 3 s timeout (issue 18)"
)

WALK_PAGES = 50
"""The walk under change cuts the list into about this many pages (at least one object each)."""
POLL_S = 0.1
"""How often the suite looks whether its change reached the Location."""
AUTHORIZE_CALLS = 20
HUGE_LIMIT = 1000
"""The `limit` the suite asks for to learn a member's maximum page size."""


# --- the walk under change ----------------------------------------------------------------------
@dataclass
class Change:
    """What the suite did to the member between two pages, and whether it showed."""

    what: str
    after_page: int
    seen: bool = False


@dataclass
class Walk:
    """One list walked page by page while the suite changed it."""

    pages: list[Exchange] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


def _eligible(ctx: Context, item: Any) -> tuple[str, str, str] | None:
    """(location id, EVSE uid, connector id) where the suite can start a session, if any."""
    if not isinstance(item, dict):
        return None
    owner = PartyRef(str(item.get("country_code", "")), str(item.get("party_id", "")))
    if ctx.member_party is not None and owner != ctx.member_party:
        return None
    for evse in item.get("evses") or []:
        if not isinstance(evse, dict) or evse.get("status") != EvseStatus.AVAILABLE.value:
            continue
        if Capability.REMOTE_START_STOP_CAPABLE.value not in (evse.get("capabilities") or []):
            continue
        connectors = [c for c in evse.get("connectors") or [] if isinstance(c, dict)]
        if connectors:
            return str(item.get("id")), str(evse.get("uid")), str(connectors[0].get("id"))
    return None


async def _stamp_of(ctx: Context, url: str) -> datetime | None:
    exchange = await ctx.call("GET", url)
    return stamp(exchange.envelope.data) if exchange.ok else None


async def _changed(ctx: Context, url: str, before: datetime | None) -> datetime | None:
    """Wait (up to --wait) until the Location at `url` has a new last_updated; the new one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.config.wait
    while True:
        now = await _stamp_of(ctx, url)
        if now is not None and now != before:
            return now
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(POLL_S)


class Charger:
    """The suite's remote session at one EVSE: started and stopped to change its Location."""

    def __init__(self, ctx: Context, location_url: str, target: tuple[str, str, str]) -> None:
        self.ctx = ctx
        self.url = location_url
        self.target = target
        self.reference = f"CONF{secrets.token_hex(6).upper()}"
        self.since = 0
        self.stamp: datetime | None = None

    async def start(self) -> bool:
        ctx = self.ctx
        self.stamp = await _stamp_of(ctx, self.url)
        location_id, evse_uid, connector_id = self.target
        fields = {
            "token": suite_token(ctx).to_json(),
            "location_id": location_id,
            "evse_uid": evse_uid,
            "connector_id": connector_id,
            "authorization_reference": self.reference,
        }
        self.since = len(ctx.server.inbound)
        exchange, response, _, _ = await send_command(ctx, "START_SESSION", fields)
        if response.result is not CommandResponseType.ACCEPTED:
            raise CheckFailed(
                f"START_SESSION at {location_id}/{evse_uid} (to change the location between "
                f"pages) answered {response.result.value}",
                exchange,
            )
        return await self._seen()

    async def stop(self) -> bool:
        ctx = self.ctx
        pushed = await ctx.server.wait_for(self._ours, ctx.config.wait, self.since)
        if pushed is None or not isinstance(pushed.payload, dict):
            return False
        fields = {"session_id": pushed.payload.get("id")}
        exchange, response, _, _ = await send_command(ctx, "STOP_SESSION", fields)
        if response.result is not CommandResponseType.ACCEPTED:
            raise CheckFailed(
                f"STOP_SESSION of the suite's session {fields['session_id']} answered "
                f"{response.result.value}",
                exchange,
            )
        return await self._seen()

    def _ours(self, item: Any) -> bool:
        payload = item.payload
        return (
            item.module == ModuleID.SESSIONS.value
            and item.method == "PUT"
            and isinstance(payload, dict)
            and payload.get("authorization_reference") == self.reference
        )

    async def _seen(self) -> bool:
        now = await _changed(self.ctx, self.url, self.stamp)
        if now is None:
            return False
        self.stamp = now
        return True


async def _walk_changing(
    ctx: Context, url: str, size: int, count: int, target_id: str, charger: Charger
) -> Walk:
    """Follow Link from `?limit=size`; START after the page holding the target, STOP after
    the next one (or after the last page)."""
    done = Walk()
    next_url: str | None = url
    query: dict[str, str] | None = {"limit": str(size)}
    actions = [("START_SESSION", charger.start), ("STOP_SESSION", charger.stop)]
    seen: set[str] = set()
    while next_url is not None:
        if len(done.pages) > 2 * count + 10:  # a page holds at least one object
            raise CheckFailed(
                f"Link led on for {len(done.pages)} pages; the list held {count} objects",
                done.pages[-1],
            )
        page = await ctx.call("GET", next_url, params=query)
        query = None
        done.pages.append(page)
        ctx.expect_ok(page, f"GET locations page {len(done.pages)}")
        data = page.envelope.data
        if not isinstance(data, list):
            raise CheckFailed("the locations list's data is not a JSON array", page)
        done.ids += [identity(ModuleID.LOCATIONS, item) for item in data]
        seen.add(page.url)
        following = parse_link_header(page.header(LINK), "next")
        if following is not None and following in seen:
            raise CheckFailed(f"pagination loops: Link points back to {following}", page)
        next_url = following if data else None
        due = target_id in done.ids and next_url is not None
        if actions and (due or len(done.changes) == 1):
            what, act = actions.pop(0)
            done.changes.append(Change(what, len(done.pages), await act()))
    for what, act in actions:  # the target was on the last page, or one page was left
        done.changes.append(Change(what, len(done.pages), await act()))
    return done


def apparent_order(ids: list[str], stamps: Mapping[str, datetime | None]) -> str:
    """What the list's order looks like (only what the objects show)."""
    known = [stamps.get(i) for i in ids]
    if len(ids) < 2:
        return "too short to tell an order"
    if all(s is not None for s in known):
        times = [s for s in known if s is not None]
        if times == sorted(times) and len(set(times)) > 1:
            return "as sorted by last_updated, oldest first"
        if times == sorted(times, reverse=True) and len(set(times)) > 1:
            return "as sorted by last_updated, newest first"
    if ids == sorted(ids):
        return "as sorted by id"
    return "as sorted by no field the objects show (creation order?)"


@check(
    "load.pagination_under_change",
    "Locations walked to the end while the suite changes one: each object exactly once",
    S_UNDER_CHANGE,
    roles=CPO,
    needs=["cpo.session"],
)
async def pagination_under_change(ctx: Context) -> str | None:
    url = ctx.require_endpoint(ModuleID.LOCATIONS, InterfaceRole.SENDER)
    module = ModuleID.LOCATIONS.value
    pages, before = await walk(ctx, module, url, base_params(module))
    ids = [identity(module, item) for item in before]
    place = next(
        ((index, found) for index, item in enumerate(before) if (found := _eligible(ctx, item))),
        None,
    )
    if place is None:
        raise CheckSkipped("no published EVSE is AVAILABLE and REMOTE_START_STOP_CAPABLE now")
    if len(ids) < 2:
        raise CheckSkipped("the member lists one location: a walk cannot lose or repeat one")
    index, target = place
    largest = header_int(pages[0], X_LIMIT) or len(ids)
    size = max(1, min(largest, math.ceil(len(ids) / WALK_PAGES)))
    charger = Charger(ctx, "/".join([url.rstrip("/"), target[0]]), target)
    walked = await _walk_changing(ctx, url, size, len(ids), target[0], charger)
    _, after = await walk(ctx, module, url, base_params(module))

    stamps_before = {identity(module, x): stamp(x) for x in before}
    stamps_after = {identity(module, x): stamp(x) for x in after}
    throughout = [i for i in ids if i in stamps_after]
    counts = Counter(walked.ids)
    lost = [i for i in throughout if counts[i] == 0]
    repeated = [f"{i} ({counts[i]} times)" for i in throughout if counts[i] > 1]
    changed = sorted(i for i in throughout if stamps_before[i] != stamps_after[i])
    after_ids = [identity(module, x) for x in after]
    kept = target[0] in after_ids and after_ids.index(target[0]) == index
    where = f"#{after_ids.index(target[0]) + 1}" if target[0] in after_ids else "nowhere"
    ordering = (
        f"stable, the changed {target[0]} kept its place (#{index + 1})"
        if kept
        else f"not stable under change, the changed {target[0]} moved from #{index + 1} to {where}"
    )
    done = ", ".join(
        f"{c.what} after page {c.after_page}" + ("" if c.seen else " (no change seen)")
        for c in walked.changes
    )
    report = (
        f"{len(ids)} locations in {len(walked.pages)} pages of limit={size}; {done}; "
        f"changed: {', '.join(changed) or 'none'}; ordering: {ordering}; before the walk the "
        f"list read {apparent_order(ids, stamps_before)}"
    )
    if lost or repeated:
        parts = ([f"lost {', '.join(lost)}"] if lost else []) + (
            [f"repeated {', '.join(repeated)}"] if repeated else []
        )
        raise CheckFailed(
            f"walking the locations while {target[0]} changed: {'; '.join(parts)} "
            f"(every location there before and after the walk must come exactly once; a hub "
            f"treats one missing from a full walk as deleted). {report}",
            *walked.pages,
        )
    if not any(c.seen for c in walked.changes):
        return f"no change reached {target[0]} within {ctx.config.wait:g} s; {report}"
    return report


# --- X-Limit ------------------------------------------------------------------------------------
def _page_size(exchange: Exchange) -> int:
    data = exchange.envelope.data
    return len(data) if isinstance(data, list) else 0


@check(
    "load.x_limit",
    "limit honoured up to the member's maximum page size (X-Limit)",
    S_X_LIMIT,
    needs=[HANDSHAKE],
    phase=Phase.PROBE,
)
async def x_limit(ctx: Context) -> str | None:
    notes = []
    for module in LISTS[ctx.config.role]:
        url = ctx.endpoint(module, InterfaceRole.SENDER)
        if url is None:
            continue
        base = base_params(module.value)
        huge = await ctx.call("GET", url, params={**base, "limit": str(HUGE_LIMIT)})
        ctx.expect_ok(huge, f"GET {module.value}?limit={HUGE_LIMIT}")
        # How many objects there are: what following Link gave (X-Total-Count is judged by
        # pagination.headers, one fault one check; it is only a second opinion here).
        total = len((await listing(ctx, module)).items)
        stated = header_int(huge, X_LIMIT)
        if stated is None or stated < 1:
            raise CheckFailed(f"{module.value}: X-Limit missing or not a positive int", huge)
        largest = min(stated, HUGE_LIMIT)
        asks = sorted({1, 2, largest, largest + 1} - {0})
        answers: list[str] = []
        for limit, page in [(HUGE_LIMIT, huge)] + [
            (ask, await ctx.call("GET", url, params={**base, "limit": str(ask)})) for ask in asks
        ]:
            ctx.expect_ok(page, f"GET {module.value}?limit={limit}")
            size, said = _page_size(page), header_int(page, X_LIMIT)
            wanted = min(limit, largest, total)
            # A live member's list may have grown since it was pulled: its own count then.
            now = header_int(page, X_TOTAL_COUNT)
            if size != wanted and (now is None or size != min(limit, largest, now)):
                raise CheckFailed(
                    f"{module.value}?limit={limit}: {size} objects on the page, expected "
                    f"{wanted} (the member holds {total}; its maximum page size is {largest}, "
                    f"as X-Limit said for limit={HUGE_LIMIT}; fewer than asked only when the "
                    "objects run out)",
                    page,
                )
            if said is None or not size <= said <= largest:
                raise CheckFailed(
                    f"{module.value}?limit={limit}: X-Limit {said}, expected between the page's "
                    f"{size} objects and the member's maximum {largest}",
                    page,
                )
            answers.append(f"{limit}->{size}")
        notes.append(f"{module.value} max {largest} ({', '.join(answers)} of {total})")
    if not notes:
        raise CheckSkipped("the member publishes no Sender list endpoint")
    return "; ".join(notes)


# --- real-time authorization in time -----------------------------------------------------------
def p95(values: list[float]) -> float:
    """The 95th percentile, nearest rank (of 20 values: the second largest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@check(
    "load.authorize_time",
    f"Real-time authorization answered within the limit, p95 over {AUTHORIZE_CALLS} calls",
    S_REALTIME,
    roles=EMSP,
    needs=["emsp.authorize_known"],
)
async def authorize_time(ctx: Context) -> str | None:
    token = next((t for t in ctx.learned.tokens if t.valid), ctx.learned.tokens[0])
    base = ctx.require_endpoint(ModuleID.TOKENS, InterfaceRole.SENDER)
    where = ctx.learned.pushed_location or suite_location(ctx, "CONF-T1")
    body = LocationReferences(location_id=where.id, evse_uids=["CONF-EVSE1"])
    url = "/".join([base.rstrip("/"), token.uid, "authorize"])
    calls: list[Exchange] = []
    for _ in range(AUTHORIZE_CALLS):
        exchange = await ctx.call("POST", url, body=body, params={"type": token.type.value})
        calls.append(exchange)
        ctx.expect_ok(exchange, f"authorization {len(calls)} of token {token.uid}")
    times = [c.elapsed for c in calls]
    limit = ctx.config.realtime_limit
    measured = (
        f"p95 {p95(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s, "
        f"slowest {max(times):.3f} s over {len(times)} calls"
    )
    if p95(times) > limit:
        slow = [c for c in calls if c.elapsed > limit]
        raise CheckFailed(
            f"real-time authorization too slow: {measured}; {len(slow)} calls over the "
            f"{limit:g} s an eMSP platform waits",
            *slow[:3],
        )
    return measured


CHECKS: tuple[Check, ...] = (x_limit, pagination_under_change, authorize_time)
