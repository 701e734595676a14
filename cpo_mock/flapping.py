"""Flapping chargers: EVSEs whose status changes at a steady rate, made by the CPO itself.

A real charger reports its status changes to its CPO (over OCPP, not over OCPI), and the CPO
pushes each one to the hub as a Location EVSE PATCH. The control API's `fault` and `repair`
calls stand in for one such report each; `POST /control/flap` stands in for many at once:
for `seconds`, `rate` changes a second, round-robin over the given EVSEs, each change a fault
(OUTOFORDER) or a repair (back to AVAILABLE) of its EVSE, alternating per EVSE, made through
the same `fault`/`repair` as the control calls (so the same persistence, outbox and PATCH).

It exists for `roam bench storm` (issue 13): driven by one control call per change, the
status storm spent as much CPU in the load generator and in the CPOs' control endpoints as
in the whole hub, none of it part of the path the storm measures (CPO send to eMSP receipt).

Open loop, like a charger park: a change is made when its slot comes, whatever the earlier
ones are doing; an EVSE whose previous change is still being made is passed over for the
next one (its changes stay in order); a change made later than its slot shows as lag. Every
change is recorded (`FlapChange`): the EVSE, the status it set, its slot and when it was made
(wall clock, seconds), or why it failed; `report()` gives them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from cpo_mock import physical
from cpo_mock.model import FaultKind
from cpo_mock.state import CpoState
from ocpi.platform import OperationError
from ocpi.v221.locations import Status

MAX_CHANGES = 1_000_000
"""The most changes one flap may plan (rate x seconds)."""


@dataclass
class FlapChange:
    location_id: str
    evse_uid: str
    status: str
    """The status this change sets: OUTOFORDER or AVAILABLE."""
    due: float
    """Its slot (wall clock, seconds since the epoch)."""
    made: float = 0.0
    """When the CPO began making it (wall clock)."""
    done: float = 0.0
    """When it was made: stored, and queued for the hub (wall clock)."""
    error: str = ""


@dataclass
class _Evse:
    location_id: str
    uid: str
    faulty: bool
    busy: bool = False


@dataclass
class Flap:
    """One flap: its plan and what it did so far."""

    evses: list[_Evse]
    rate: float
    seconds: float
    start_at: float
    changes: list[FlapChange] = field(default_factory=list)
    running: bool = True

    @property
    def planned(self) -> int:
        return round(self.rate * self.seconds)

    def report(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "planned": self.planned,
            "rate": self.rate,
            "seconds": self.seconds,
            "start_at": self.start_at,
            "changes": [asdict(change) for change in self.changes],
        }


def plan(state: CpoState, args: dict[str, Any], now: float) -> Flap:
    """A flap from the control call's body; OperationError 400/404 naming what is wrong."""
    listed = args.get("evses")
    if not isinstance(listed, list) or not listed:
        raise OperationError(
            'give the EVSEs as {"evses": [{"location_id": "...", "evse_uid": "..."}, ...]}', 400
        )
    rate, seconds = args.get("rate"), args.get("seconds")
    for name, value in (("rate", rate), ("seconds", seconds)):
        if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
            raise OperationError(f'give "{name}" as a number above 0', 400)
    assert isinstance(rate, int | float) and isinstance(seconds, int | float)
    if rate * seconds > MAX_CHANGES:
        raise OperationError(f"at most {MAX_CHANGES} changes (rate x seconds) in one flap", 400)
    start_at = args.get("start_at", now)
    if not isinstance(start_at, int | float) or isinstance(start_at, bool):
        raise OperationError('give "start_at" as seconds since the epoch', 400)
    evses: list[_Evse] = []
    seen: set[tuple[str, str]] = set()
    for item in listed:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(key), str) for key in ("location_id", "evse_uid")
        ):
            raise OperationError(
                'each EVSE is {"location_id": "...", "evse_uid": "..."}: got ' + repr(item)[:80],
                400,
            )
        key = (item["location_id"], item["evse_uid"])
        if key in seen:
            raise OperationError(f"EVSE {key[0]}/{key[1]} is listed twice", 400)
        seen.add(key)
        _, _, sim = state.evse_parts(*key)  # 404 naming an unknown one
        if sim.status is Status.REMOVED:
            raise OperationError(f"{key[0]}/{key[1]} is REMOVED", 409)
        faulty = sim.fault is not None or sim.status in (Status.OUTOFORDER, Status.INOPERATIVE)
        evses.append(_Evse(key[0], key[1], faulty))
    return Flap(evses, float(rate), float(seconds), float(start_at))


async def run(state: CpoState, flap: Flap) -> None:
    """Make the flap's changes on its timetable (see the module's docstring)."""
    tasks: set[asyncio.Task[None]] = set()

    async def one(evse: _Evse, change: FlapChange) -> None:
        change.made = time.time()
        try:
            if evse.faulty:
                await physical.repair(state, evse.location_id, evse.uid)
            else:
                await physical.fault(state, evse.location_id, evse.uid, FaultKind.OUTOFORDER)
            evse.faulty = not evse.faulty
        except OperationError as exc:
            change.error = exc.message
        finally:
            change.done = time.time()
            evse.busy = False

    turn = 0
    try:
        for n in range(flap.planned):
            due = flap.start_at + n / flap.rate
            wait = due - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            evse = None
            for _ in range(len(flap.evses)):
                candidate = flap.evses[turn]
                turn = (turn + 1) % len(flap.evses)
                if not candidate.busy:
                    evse = candidate
                    break
            if evse is None:
                continue  # every EVSE still busy: this slot passes (the report shows it)
            evse.busy = True
            change = FlapChange(
                evse.location_id,
                evse.uid,
                (Status.AVAILABLE if evse.faulty else Status.OUTOFORDER).value,
                due,
            )
            flap.changes.append(change)
            task = asyncio.create_task(one(evse, change))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(set(tasks))
    finally:
        for task in tasks:
            task.cancel()
        flap.running = False
