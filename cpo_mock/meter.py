"""A session's meter: the charge advanced to a time, and the meter periods it is billed by.

Pure functions over a `SessionSim` (no lock, no I/O): the simulation and the session steps
call them while they hold the CPO's lock.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from cpo_mock import charging
from cpo_mock.model import ChargeSnapshot, MeterPeriod, SessionSim
from cpo_mock.vehicle import Vehicle
from ocpi.pricing import UsageState


def charge_of(sim: SessionSim) -> charging.ChargeState | None:
    return sim.charge.state() if sim.charge is not None else None


def advance_charge(sim: SessionSim, until: datetime) -> charging.ChargeState | None:
    """Charge the car up to `until` and keep the result in the session."""
    state = charge_of(sim)
    if state is None or sim.vehicle is None:
        return state
    power_type = sim.cdr_location.connector_power_type
    state = charging.advance(state, sim.vehicle, sim.limit_kw, power_type, until)
    sim.charge = ChargeSnapshot.of(state)
    return state


def meter(sim: SessionSim, at: datetime) -> Decimal:
    """The meter reading (kWh) at `at`."""
    state = charge_of(sim)
    if state is None:
        return sim.open_meter
    return charging.meter_kwh(state.energy_at(at))


def close_period(sim: SessionSim, at: datetime, reopen: UsageState | None) -> None:
    """End the open meter period at `at` (kept if it lasted) and open `reopen` there."""
    if sim.open_state is not None and sim.open_start is not None and at > sim.open_start:
        reading = meter(sim, at)
        charged = sim.open_state is UsageState.CHARGING
        energy = reading - sim.open_meter if charged else Decimal(0)
        current = None
        soc = None
        state = charge_of(sim)
        if state is not None and sim.vehicle is not None:
            soc = min(state.soc_at(at, sim.vehicle), 1.0)
        if charged:
            seconds = (at - sim.open_start).total_seconds()
            average_kw = float(energy) * 3600 / seconds if seconds > 0 else 0.0
            power_type = sim.cdr_location.connector_power_type
            amps = charging.current_amperes(
                average_kw, power_type, sim.voltage, sim.vehicle or Vehicle()
            )
            current = Decimal(str(round(amps, 2)))
        sim.periods.append(
            MeterPeriod(
                state=sim.open_state,
                start=sim.open_start,
                end=at,
                energy=energy,
                current=current,
                soc=soc,
            )
        )
        sim.open_meter = reading
    elif sim.open_state is not None:
        sim.open_meter = meter(sim, at)
    sim.open_state = reopen
    sim.open_start = at if reopen is not None else None
