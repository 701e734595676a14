"""Energy flowing into one car over simulated time (pure, deterministic).

Power is re-evaluated on a fixed grid anchored at the start of charging (every `step`
seconds) and held constant in between: P = min(connector limit, what the car accepts at the
state of charge of that grid point). The energy at any instant is the energy at the last grid
point plus P × the time since, so the result does not depend on how a scenario chops time
into steps: advancing 10 minutes at once or 600 × 1 s gives the same meter readings. The
instant the car reaches its target is computed exactly (then it stops drawing power).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from cpo_mock.clock import to_millis
from cpo_mock.vehicle import Vehicle
from ocpi.v221.locations import Connector, PowerType

WH = Decimal("0.001")


def connector_kw(connector: Connector) -> float:
    """The connector's limit: max_electric_power, else voltage × amperage (× 3 for 3-phase AC:
    the spec gives max_voltage line-to-neutral for AC_3_PHASE)."""
    if connector.max_electric_power is not None:
        return int(connector.max_electric_power) / 1000
    phases = 3 if connector.power_type is PowerType.AC_3_PHASE else 1
    return int(connector.max_voltage) * int(connector.max_amperage) * phases / 1000


def current_amperes(
    power_kw: float, power_type: PowerType, max_voltage: int, vehicle: Vehicle
) -> float:
    """Current summed over the phases (spec CdrDimensionType CURRENT / MIN_CURRENT)."""
    if power_kw <= 0:
        return 0.0
    if power_type is PowerType.DC:
        return power_kw * 1000 / vehicle.dc_voltage
    # P = V_ln × I per phase, summed over the phases: the sum of the currents is P / V_ln.
    return power_kw * 1000 / max(max_voltage, 1)


@dataclass(frozen=True)
class ChargeState:
    """Where charging stands. Only grid-point values are stored; `at` is how far it got."""

    anchor: datetime
    """When charging began; the grid counts from here."""
    step: int
    """Seconds between power re-evaluations."""
    index: int
    """Grid point the current step started at."""
    step_energy: float
    """kWh delivered up to grid point `index`."""
    step_soc: float
    step_kw: float
    """Power during the current step."""
    at: datetime
    full_at: datetime | None = None
    """When the car reached its target (it draws nothing after that)."""

    @property
    def step_start(self) -> datetime:
        return self.anchor + timedelta(seconds=self.index * self.step)

    def energy_at(self, moment: datetime) -> float:
        """kWh delivered up to `moment`, which must lie in the current step (or after full)."""
        end = min(moment, self.full_at) if self.full_at is not None else moment
        seconds = max((end - self.step_start).total_seconds(), 0.0)
        return self.step_energy + self.step_kw * seconds / 3600

    @property
    def energy(self) -> float:
        return self.energy_at(self.at)

    def soc_at(self, moment: datetime, vehicle: Vehicle) -> float:
        return self.step_soc + (self.energy_at(moment) - self.step_energy) / vehicle.battery_kwh

    def kw(self) -> float:
        return 0.0 if self.full_at is not None else self.step_kw


def _power(vehicle: Vehicle, soc: float, limit_kw: float, power_type: PowerType) -> float:
    return max(0.0, min(limit_kw, vehicle.accepted_kw(soc, power_type)))


def begin(
    vehicle: Vehicle, soc: float, limit_kw: float, power_type: PowerType, at: datetime, step: int
) -> ChargeState:
    """Charging starts at `at` with the car at `soc`."""
    state = ChargeState(at, step, 0, 0.0, soc, _power(vehicle, soc, limit_kw, power_type), at)
    if state.step_kw <= 0:
        return replace(state, full_at=at)
    return state


def advance(
    state: ChargeState, vehicle: Vehicle, limit_kw: float, power_type: PowerType, until: datetime
) -> ChargeState:
    """The state at `until` (no change if `until` is not later than `state.at`)."""
    while state.at < until and state.full_at is None:
        step_end = state.step_start + timedelta(seconds=state.step)
        horizon = min(step_end, until)
        need = (vehicle.target_soc - state.step_soc) * vehicle.battery_kwh
        seconds_to_full = (need * 3600 / state.step_kw) if state.step_kw > 0 else 0.0
        full = state.step_start + timedelta(seconds=seconds_to_full)
        if full <= horizon:
            # Reaching the target is an instant of its own; rounded up to a whole millisecond
            # (the meter never reports more than the car took).
            full = to_millis(full + timedelta(microseconds=999))
            return replace(state, at=max(full, state.at), full_at=max(full, state.at))
        if horizon < step_end:
            return replace(state, at=horizon)
        energy = state.energy_at(step_end)
        soc = state.step_soc + (energy - state.step_energy) / vehicle.battery_kwh
        kw = _power(vehicle, soc, limit_kw, power_type)
        state = ChargeState(
            state.anchor, state.step, state.index + 1, energy, soc, kw, step_end, None
        )
        if kw <= 0:
            state = replace(state, full_at=step_end)
    if state.full_at is not None and state.at < until:
        state = replace(state, at=until)
    return state


def meter_kwh(value: float) -> Decimal:
    """A meter reading: kWh rounded down to whole watt-hours, as an exact Decimal."""
    return Decimal(math.floor(value * 1000 + 1e-6)) * WH
