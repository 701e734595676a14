"""What the CPO owes the eMSPs and how it catches up: Session pushes that must not be lost,
CDRs (retried with backoff until delivered or refused), CommandResults, and the re-sync of a
party the hub reports CONNECTED again. Functions over `CpoState`; the sending is the link's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from cpo_mock.link import NOT_CONNECTED, Message, Outcome
from cpo_mock.state import RECEIVING_ROLES, CpoState, parse_party, party_text
from cpo_mock.store import CdrDelivery, PendingResult, ResultState
from ocpi.headers import PartyRef
from ocpi.v221.commands import CommandResult, CommandResultType
from ocpi.v221.locations import Location
from ocpi.v221.tariffs import Tariff
from ocpi.v221.types import DisplayText, Role
from ocpi.v221.versions import ModuleID

log = logging.getLogger("cpo_mock")

PUSH_AGAIN_FIRST_S = 2.0
"""Real seconds after which a broadcast the hub did not answer is sent again (a whole PUT);
twice as long after each round that failed too, up to `PUSH_AGAIN_MAX_S`."""
PUSH_AGAIN_MAX_S = 60.0


def send_session(state: CpoState, session_id: str, method: str, body: Any, to: PartyRef) -> None:
    """Queue a Session PUT/PATCH; when it does not arrive, the next push is a PUT in full."""
    segments = (*state.own, session_id)

    async def then(outcome: Outcome) -> None:
        if outcome.ok:
            return
        log.info(
            "session %s %s not delivered (%s): next push is a PUT",
            method,
            session_id,
            outcome.error,
        )
        async with state.lock:
            sim = state.sessions[session_id]
            sim.needs_put = True
            await state.save_session(sim)

    message = Message(method, ModuleID.SESSIONS, segments, body, to)
    state.link.queue(f"{method} session {session_id}", message, then)


def publish_all(state: CpoState) -> None:
    """Broadcast every tariff, then every location (after registration): side by side within
    each kind, every tariff delivered before the first location goes. Each is marked as not
    pushed first (one write), so a publish cut short by a kill is finished at the next start."""
    tariffs = [(t.id, state.next_push_version()) for t in state.tariffs.values()]
    locations = [(x.id, state.next_push_version()) for x in state.locations.values()]
    marked = state.mark_unpushed(
        [("tariffs", i, v) for i, v in tariffs] + [("locations", i, v) for i, v in locations]
    )
    _put_all(state, tariffs, locations, marked)


def push_unpushed(state: CpoState) -> int:
    """At start-up, connected to a hub: PUT every location and tariff whose last change the
    hub may not have (marked and not acknowledged when the process stopped: killed, or the
    hub unreachable), as it is now. How many were queued."""
    tariffs: list[tuple[str, int]] = []
    locations: list[tuple[str, int]] = []
    for (module, object_id), version in sorted(state.unpushed.items()):
        kind = tariffs if module == "tariffs" else locations
        kind.append((object_id, version))
    _put_all(state, tariffs, locations)
    if tariffs or locations:
        log.info("re-sending %d changes the hub had not acknowledged", len(tariffs + locations))
    return len(tariffs) + len(locations)


def push_again(state: CpoState) -> int:
    """While running, connected to a hub: PUT every location and tariff whose broadcast went
    unanswered (`CpoState.push_lost`) as it is now, each under a new version marked first.
    How many were queued; called every few seconds (`Cpo._push_again`)."""
    owed = sorted(key for key in state.push_failed if key not in state.pushing_again)
    if not owed:
        return 0
    state.pushing_again.update(owed)
    versions = [(module, object_id, state.next_push_version()) for module, object_id in owed]
    marked = state.mark_unpushed(versions)
    tariffs = [(object_id, v) for module, object_id, v in versions if module == "tariffs"]
    locations = [(object_id, v) for module, object_id, v in versions if module != "tariffs"]
    _put_all(state, tariffs, locations, marked)
    log.info("sending again %d changes the hub did not answer", len(versions))
    return len(versions)


def _put_all(
    state: CpoState,
    tariffs: list[tuple[str, int]],
    locations: list[tuple[str, int]],
    after: asyncio.Future[None] | None = None,
) -> None:
    """PUT (object id, version) pairs, every tariff before the first location; each one's
    answer clears its mark (`CpoState.pushed`), as does an object no longer held."""
    _put(state, ModuleID.TARIFFS, state.tariffs, tariffs, after)
    state.link.barrier("tariffs published")
    _put(state, ModuleID.LOCATIONS, state.locations, locations, after)


def _put(
    state: CpoState,
    module: ModuleID,
    held: Mapping[str, Location | Tariff],
    items: list[tuple[str, int]],
    after: asyncio.Future[None] | None,
) -> None:
    for object_id, version in items:
        answered = functools.partial(state.pushed, module.value, object_id, version, True)
        lost = functools.partial(state.push_lost, module.value, object_id, version)
        found = held.get(object_id)
        if found is None:  # no longer held: nothing to send
            answered()
            continue
        segments = (*state.own, object_id)
        state.link.broadcast("PUT", module, segments, found.to_json(), after, answered, lost)


def schedule_deliveries(state: CpoState, now: datetime) -> None:
    """Queue every CDR and CommandResult that is due and not on its way yet."""
    for entry in state.cdrs.values():
        cdr_id = entry.cdr.id
        due = entry.next_attempt_at
        ready = entry.delivery is CdrDelivery.PENDING and due is not None and due <= now
        if ready and cdr_id not in state.in_flight:
            state.in_flight.add(cdr_id)
            _deliver_cdr(state, cdr_id)
    for item in state.results.values():
        ready = item.state is ResultState.DUE and item.due_at <= now
        if ready and item.id not in state.in_flight:
            state.in_flight.add(item.id)
            _post_result(state, item.id)


def backoff(state: CpoState, attempts: int) -> timedelta:
    """Simulated time before the next attempt of a CDR tried `attempts` times."""
    sim = state.sim
    return timedelta(seconds=min(sim.retry_initial * 2 ** max(attempts - 1, 0), sim.retry_max))


def _deliver_cdr(state: CpoState, cdr_id: str) -> None:
    entry = state.cdrs[cdr_id]
    to = PartyRef.parse(entry.emsp)

    async def then(outcome: Outcome) -> None:
        error = outcome.error
        if outcome.unsent and outcome.error != NOT_CONNECTED:
            error = f"{error} (it is retried when it is back)"
        async with state.lock:
            state.in_flight.discard(cdr_id)
            entry.last_error = error
            if outcome.ok or outcome.refused:
                # Refused (2xxx): the eMSP read the CDR and refused it. A CDR is immutable (spec
                # mod_cdrs), so sending it again cannot help: an operator must credit it.
                entry.delivery = CdrDelivery.DELIVERED if outcome.ok else CdrDelivery.REJECTED
                entry.next_attempt_at = None
                entry.location_url = outcome.location
                if outcome.ok:
                    entry.attempts += 1
            else:
                entry.attempts += 1
                entry.next_attempt_at = state.now() + backoff(state, entry.attempts)
                log.info(
                    "CDR %s not delivered (%s); next attempt %s",
                    cdr_id,
                    error,
                    entry.next_attempt_at,
                )
            await state.save_cdr(entry)

    message = Message("POST", ModuleID.CDRS, (), entry.cdr, to)
    state.link.queue(f"POST cdr {cdr_id}", message, then)


def _post_result(state: CpoState, result_id: str) -> None:
    item = state.results[result_id]

    async def then(outcome: Outcome) -> None:
        async with state.lock:
            state.in_flight.discard(result_id)
            item.state = ResultState.FAILED if outcome.error else ResultState.SENT
            item.note = outcome.error
            await state.save_result(item)
            state.results.pop(result_id, None)
        if outcome.error:
            log.warning("CommandResult to %s failed: %s", item.response_url, outcome.error)

    to = parse_party(item.requester)
    message = Message("POST", None, body=item.result, to=to, url=item.response_url)
    state.link.queue(f"POST result {item.id}", message, then)


async def queue_result(
    state: CpoState,
    command: str,
    response_url: str,
    requester: PartyRef | None,
    result: CommandResultType,
    message: str | None = None,
    delay: float = 0.0,
) -> None:
    """Persist a CommandResult and send it at once (or after `delay` simulated seconds,
    for a charger that does not answer)."""
    body = CommandResult(
        result=result,
        message=[DisplayText(language="en", text=message)] if message else None,
    )
    await queue_reply(state, command, response_url, requester, body.to_json(), delay)


async def queue_reply(
    state: CpoState,
    kind: str,
    response_url: str,
    requester: PartyRef | None,
    body: dict[str, Any],
    delay: float = 0.0,
) -> None:
    """Persist an asynchronous result (a CommandResult, a ChargingProfile result) for the
    `response_url` the requester gave, and send it when due."""
    state.require_lock()
    at = state.now()
    item = PendingResult(
        id=uuid.uuid4().hex,
        command=kind,
        response_url=response_url,
        requester=party_text(requester),
        result=body,
        due_at=at + timedelta(seconds=delay),
    )
    state.results[item.id] = item
    await state.save_result(item)
    schedule_deliveries(state, at)


def resync(state: CpoState, party: PartyRef, role: Role, since: datetime | None) -> None:
    """A party is CONNECTED again: send it what it missed (sessions in full, pending CDRs
    at once, locations and tariffs changed while it was away)."""
    state.require_lock()
    now = state.now()
    text = str(party)
    for sim in state.sessions.values():
        if sim.emsp == text and (sim.needs_put or (since and sim.session.last_updated >= since)):
            sim.needs_put = False
            send_session(state, sim.session.id, "PUT", sim.session.to_json(), party)
    for entry in state.cdrs.values():
        if entry.emsp == text and entry.delivery is CdrDelivery.PENDING:
            entry.next_attempt_at = now
    if role in RECEIVING_ROLES and since is not None:
        for tariff in state.tariffs.values():
            if tariff.last_updated >= since:
                segments = (*state.own, tariff.id)
                state.link.direct("PUT", ModuleID.TARIFFS, segments, tariff.to_json(), party)
        for location in state.locations.values():
            if location.last_updated >= since:
                segments = (*state.own, location.id)
                state.link.direct("PUT", ModuleID.LOCATIONS, segments, location.to_json(), party)
    schedule_deliveries(state, now)
