"""The EVSE state machine: which OCPI Status follows which event (pure, no I/O).

Statuses are the spec's (mod_locations Status). The simulator's reading of them:

* AVAILABLE   free; a car may plug in, a session may start.
* BLOCKED     a car is plugged in but no session runs (waiting for authorization, or the
              session was stopped and the car is still there): "not accessible because of a
              physical barrier, i.e. a car".
* CHARGING    a session runs ("in use"), also while the full car idles (parking time).
* RESERVED    held for one driver by RESERVE_NOW.
* OUTOFORDER  broken (fault); INOPERATIVE switched off by the operator.
* REMOVED     gone for good: no event leaves it.

`next_status(status, event, plugged)` returns the status after `event`, `plugged` telling
whether a car is connected afterwards, or raises TransitionError naming what is wrong.
"""

from __future__ import annotations

from enum import StrEnum

from ocpi.v221.locations import Status


class EvseEvent(StrEnum):
    PLUG = "PLUG"
    UNPLUG = "UNPLUG"
    START = "START"
    """A session starts (an authorized car is plugged in)."""
    STOP = "STOP"
    """The session ends while the car stays plugged in."""
    RESERVE = "RESERVE"
    RELEASE = "RELEASE"
    """The reservation ends (expired, cancelled, or turned into a session)."""
    FAULT = "FAULT"
    DISABLE = "DISABLE"
    REPAIR = "REPAIR"
    """Back in service after FAULT or DISABLE."""
    REMOVE = "REMOVE"


class TransitionError(ValueError):
    """The event cannot happen in this status."""


_DOWN = frozenset({Status.OUTOFORDER, Status.INOPERATIVE, Status.PLANNED, Status.UNKNOWN})


def _idle(plugged: bool) -> Status:
    return Status.BLOCKED if plugged else Status.AVAILABLE


def next_status(status: Status, event: EvseEvent, plugged: bool) -> Status:
    """The status after `event` (see the module docstring for the meaning of each)."""
    if status is Status.REMOVED:
        raise TransitionError("the EVSE is REMOVED: nothing happens to it any more")
    if event is EvseEvent.REMOVE:
        if status is Status.CHARGING:
            raise TransitionError("the EVSE is CHARGING: stop the session before removing it")
        return Status.REMOVED
    if event is EvseEvent.FAULT:
        return Status.OUTOFORDER
    if event is EvseEvent.DISABLE:
        if status is Status.CHARGING:
            raise TransitionError("the EVSE is CHARGING: stop the session before disabling it")
        return Status.INOPERATIVE
    if event is EvseEvent.REPAIR:
        if status not in _DOWN:
            raise TransitionError(f"the EVSE is {status.value}, not out of service")
        return _idle(plugged)
    if status in _DOWN:
        if event in (EvseEvent.PLUG, EvseEvent.UNPLUG):
            return status  # a car may stand at a broken charger; nothing else changes
        raise TransitionError(f"the EVSE is {status.value}")
    return _in_service(status, event, plugged)


def _in_service(status: Status, event: EvseEvent, plugged: bool) -> Status:
    match (status, event):
        case (Status.AVAILABLE, EvseEvent.PLUG):
            return Status.BLOCKED
        case (Status.AVAILABLE, EvseEvent.RESERVE) if not plugged:
            return Status.RESERVED
        case (Status.BLOCKED, EvseEvent.UNPLUG):
            return Status.AVAILABLE
        case (Status.AVAILABLE | Status.BLOCKED | Status.RESERVED, EvseEvent.START) if plugged:
            return Status.CHARGING
        case (Status.CHARGING, EvseEvent.STOP):
            return _idle(plugged)
        case (Status.CHARGING, EvseEvent.UNPLUG):
            return Status.AVAILABLE
        case (Status.RESERVED, EvseEvent.PLUG | EvseEvent.UNPLUG):
            return Status.RESERVED  # only the reserving driver's session may start here
        case (Status.RESERVED, EvseEvent.RELEASE):
            return _idle(plugged)
    raise TransitionError(_refusal(status, event, plugged))


def _refusal(status: Status, event: EvseEvent, plugged: bool) -> str:
    if event is EvseEvent.START and not plugged:
        return "no car is plugged in"
    if event is EvseEvent.PLUG and status in (Status.BLOCKED, Status.CHARGING):
        return "a car is already plugged in"
    if event is EvseEvent.UNPLUG:
        return "no car is plugged in"
    if event is EvseEvent.RESERVE:
        return f"the EVSE is {status.value} and cannot be reserved"
    return f"{event.value} is not possible while the EVSE is {status.value}"
