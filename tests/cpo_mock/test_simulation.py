"""The pure parts of the simulation: clock, EVSE state machine, vehicle, energy, whitelist."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from cpo_mock import charging
from cpo_mock.authorization import Decision, allows, offline_fallback, whitelist_decision
from cpo_mock.clock import AcceleratedClock, ClockMode, RealClock, SteppedClock, make_clock
from cpo_mock.evse import EvseEvent, TransitionError, next_status
from cpo_mock.model import EvseSim, PendingStart, Reservation
from cpo_mock.simulation import ReservationExpired, StartExpired, next_event
from cpo_mock.vehicle import Vehicle, interpolate, vehicle_from
from ocpi.v221 import (
    AllowedType,
    AuthMethod,
    AuthorizationInfo,
    LocationReferences,
    PowerType,
    Status,
    TokenType,
    WhitelistType,
)
from tests.doubles import factories as f

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


# --- clock ------------------------------------------------------------------------------------
def test_stepped_clock_moves_only_when_stepped() -> None:
    clock = SteppedClock(T0)
    assert clock.now() == T0
    assert clock.advance(timedelta(seconds=90)) == T0 + timedelta(seconds=90)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))


def test_accelerated_clock_runs_n_times_faster() -> None:
    ticks = iter([100.0, 102.5])
    clock = AcceleratedClock(T0, speed=60, monotonic=lambda: next(ticks))
    assert clock.now() == T0 + timedelta(seconds=150)  # 2.5 s of wall time at x60
    with pytest.raises(ValueError, match="cannot be stepped"):
        clock.advance(timedelta(seconds=1))


def test_real_clock_keeps_milliseconds_only() -> None:
    clock = RealClock(lambda: datetime(2025, 1, 1, 0, 0, 0, 123456, tzinfo=UTC))
    assert clock.now().microsecond == 123000
    assert make_clock(ClockMode.STEPPED, T0, 1).now() == T0


# --- EVSE state machine -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "event", "plugged", "after"),
    [
        (Status.AVAILABLE, EvseEvent.PLUG, True, Status.BLOCKED),
        (Status.BLOCKED, EvseEvent.START, True, Status.CHARGING),
        (Status.CHARGING, EvseEvent.STOP, True, Status.BLOCKED),
        (Status.CHARGING, EvseEvent.UNPLUG, False, Status.AVAILABLE),
        (Status.BLOCKED, EvseEvent.UNPLUG, False, Status.AVAILABLE),
        (Status.AVAILABLE, EvseEvent.RESERVE, False, Status.RESERVED),
        (Status.RESERVED, EvseEvent.PLUG, True, Status.RESERVED),
        (Status.RESERVED, EvseEvent.START, True, Status.CHARGING),
        (Status.RESERVED, EvseEvent.RELEASE, True, Status.BLOCKED),
        (Status.RESERVED, EvseEvent.RELEASE, False, Status.AVAILABLE),
        (Status.CHARGING, EvseEvent.FAULT, True, Status.OUTOFORDER),
        (Status.OUTOFORDER, EvseEvent.PLUG, True, Status.OUTOFORDER),
        (Status.OUTOFORDER, EvseEvent.REPAIR, True, Status.BLOCKED),
        (Status.AVAILABLE, EvseEvent.DISABLE, False, Status.INOPERATIVE),
        (Status.INOPERATIVE, EvseEvent.REPAIR, False, Status.AVAILABLE),
        (Status.AVAILABLE, EvseEvent.REMOVE, False, Status.REMOVED),
    ],
)
def test_evse_transitions(status: Status, event: EvseEvent, plugged: bool, after: Status) -> None:
    assert next_status(status, event, plugged) is after


@pytest.mark.parametrize(
    ("status", "event", "plugged", "message"),
    [
        (Status.AVAILABLE, EvseEvent.START, False, "no car is plugged in"),
        (Status.CHARGING, EvseEvent.PLUG, True, "already plugged in"),
        (Status.BLOCKED, EvseEvent.RESERVE, True, "cannot be reserved"),
        (Status.OUTOFORDER, EvseEvent.START, True, "OUTOFORDER"),
        (Status.REMOVED, EvseEvent.REPAIR, False, "REMOVED"),
        (Status.AVAILABLE, EvseEvent.REPAIR, False, "not out of service"),
        (Status.CHARGING, EvseEvent.DISABLE, True, "stop the session"),
    ],
)
def test_impossible_transitions_say_why(
    status: Status, event: EvseEvent, plugged: bool, message: str
) -> None:
    with pytest.raises(TransitionError, match=message):
        next_status(status, event, plugged)


# --- vehicle and energy -------------------------------------------------------------------------
def test_dc_taper_and_target() -> None:
    car = Vehicle(max_dc_kw=200, target_soc=0.8)
    assert car.accepted_kw(0.3, PowerType.DC) == 200
    assert car.accepted_kw(0.65, PowerType.DC) == pytest.approx(200 * 0.725)
    assert car.accepted_kw(0.8, PowerType.DC) == 0
    assert car.accepted_kw(0.5, PowerType.AC_3_PHASE) == car.max_ac_kw
    assert interpolate(((0.0, 1.0), (1.0, 0.0)), 2.0) == 0.0


def test_vehicle_presets_and_bad_vehicles() -> None:
    assert vehicle_from({"preset": "hpc800", "soc": 0.1}).dc_voltage == 800
    with pytest.raises(ValueError, match="unknown vehicle preset"):
        vehicle_from({"preset": "tank"})
    with pytest.raises(ValueError, match="dc_taper"):
        Vehicle(dc_taper=((0.0, 1.0), (0.5, 1.0)))


def _run(steps: list[int], car: Vehicle, limit: float = 150.0) -> charging.ChargeState:
    state = charging.begin(car, car.soc, limit, PowerType.DC, T0, step=10)
    at = T0
    for seconds in steps:
        at += timedelta(seconds=seconds)
        state = charging.advance(state, car, limit, PowerType.DC, at)
    return state


def test_energy_does_not_depend_on_how_time_is_stepped() -> None:
    car = Vehicle(battery_kwh=60, soc=0.45, max_dc_kw=120)
    whole = _run([1805], car)
    chopped = _run([7, 13, 600, 1, 1184], car)
    assert whole.at == chopped.at == T0 + timedelta(seconds=1805)
    assert whole.energy == chopped.energy
    assert whole.full_at == chopped.full_at


def test_power_is_limited_by_connector_and_car_and_stops_at_target() -> None:
    car = Vehicle(battery_kwh=50, soc=0.2, max_dc_kw=100, target_soc=0.8)
    first = _run([60], car, limit=50.0)
    assert first.kw() == 50  # the connector is the limit
    assert charging.meter_kwh(first.energy) == Decimal("0.833")  # 50 kW for a minute, in Wh
    full = _run([7200], car, limit=50.0)
    assert full.full_at is not None
    assert full.soc_at(full.at, car) == pytest.approx(0.8)
    assert full.kw() == 0
    later = charging.advance(full, car, 50.0, PowerType.DC, full.at + timedelta(hours=1))
    assert later.energy == full.energy  # a full car idles


def test_connector_limit_and_current() -> None:
    connector = f.connector()  # 230 V, 32 A, 22 kW, 3-phase
    assert charging.connector_kw(connector) == 22.0
    no_power = connector.model_copy(update={"max_electric_power": None})
    assert charging.connector_kw(no_power) == pytest.approx(22.08)
    assert charging.current_amperes(11.04, PowerType.AC_3_PHASE, 230, Vehicle()) == 48
    assert charging.current_amperes(100, PowerType.DC, 920, Vehicle()) == 250


# --- whitelist decisions --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("whitelist", "valid", "decision", "fallback"),
    [
        (WhitelistType.ALWAYS, True, Decision.ALLOW_LOCALLY, False),
        (WhitelistType.ALWAYS, False, Decision.BLOCK_LOCALLY, False),
        (WhitelistType.ALLOWED, True, Decision.ALLOW_LOCALLY, True),
        (WhitelistType.ALLOWED, False, Decision.ASK_EMSP, False),
        (WhitelistType.ALLOWED_OFFLINE, True, Decision.ASK_EMSP, True),
        (WhitelistType.NEVER, True, Decision.ASK_EMSP, False),
        (WhitelistType.NEVER, False, Decision.ASK_EMSP, False),
    ],
)
def test_whitelist_rules(
    whitelist: WhitelistType, valid: bool, decision: Decision, fallback: bool
) -> None:
    token = f.token(type=TokenType.RFID, whitelist=whitelist, valid=valid)
    assert whitelist_decision(token) is decision
    assert offline_fallback(token) is fallback
    assert whitelist_decision(None) is Decision.ASK_EMSP


def test_an_answer_narrowed_to_other_evses_does_not_allow_this_one() -> None:
    info = AuthorizationInfo(
        allowed=AllowedType.ALLOWED,
        token=f.token(),
        location=LocationReferences(location_id="LOC1", evse_uids=["A"]),
    )
    assert allows(info, "LOC1", "A")
    assert not allows(info, "LOC1", "B")
    assert not allows(info, "LOC2", "A")
    blocked = info.model_copy(update={"allowed": AllowedType.NO_CREDIT, "location": None})
    assert not allows(blocked, "LOC1", "A")


# --- due events -------------------------------------------------------------------------------
def test_the_next_event_finds_every_timer_however_it_was_set_and_only_this_cpos() -> None:
    """`next_event` looks only at EVSEs that were given a pending start or a reservation
    (not at every EVSE on every request); those are noted by EvseSim itself, whether the timer
    was assigned, or loaded with the EVSE from the database."""

    def sim(uid: str) -> EvseSim:
        return EvseSim(location_id="LOC1", evse_uid=uid, status=Status.AVAILABLE)

    token = f.token()
    evses = {("LOC1", uid): sim(uid) for uid in ("A", "B", "C")}
    reservation = Reservation(
        reservation_id="R1",
        requester="NL/EMA",
        token=token,
        expiry=T0 + timedelta(minutes=30),
        response_url="http://emsp.test/r",
        session_id="S1",
    )
    # As read back from the database: built with its reservation, never assigned one.
    stored = sim("R").model_dump(mode="json") | {"reservation": reservation.model_dump(mode="json")}
    loaded = EvseSim.model_validate_json(json.dumps(stored))
    evses[loaded.key] = loaded
    state: Any = SimpleNamespace(evses=evses, open_sessions=list)
    other_cpo = sim("A")  # same key, another CPO's EVSE in this process: not ours
    other_cpo.pending = PendingStart(
        token=token, auth_method=AuthMethod.COMMAND, until=T0 + timedelta(minutes=1)
    )
    far = T0 + timedelta(hours=1)

    assert next_event(state, far) == ReservationExpired(T0 + timedelta(minutes=30), loaded.key)
    evses[("LOC1", "B")].pending = PendingStart(
        token=token, auth_method=AuthMethod.COMMAND, until=T0 + timedelta(minutes=5)
    )
    assert next_event(state, far) == StartExpired(T0 + timedelta(minutes=5), ("LOC1", "B"))
    assert next_event(state, T0 + timedelta(minutes=4)) is None
    evses[("LOC1", "B")].pending = None
    loaded.reservation = None
    assert next_event(state, far) is None
