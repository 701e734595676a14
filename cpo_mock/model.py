"""The simulation's state objects: an EVSE's car, pending start, reservation and fault; a
session's meter periods and charging progress. Pydantic models, so they persist as JSON."""

from __future__ import annotations

import weakref
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from cpo_mock.charging import ChargeState
from cpo_mock.vehicle import Vehicle
from ocpi.pricing import UsageState
from ocpi.v221.cdrs import AuthMethod, CdrLocation
from ocpi.v221.chargingprofiles import ChargingProfile
from ocpi.v221.locations import Status
from ocpi.v221.sessions import Session
from ocpi.v221.tariffs import Tariff
from ocpi.v221.tokens import Token


class FaultKind(StrEnum):
    """What `fault` does to an EVSE (control API)."""

    OUTOFORDER = "OUTOFORDER"
    """Broken: status OUTOFORDER, a running session ends, a reservation is cancelled."""
    INOPERATIVE = "INOPERATIVE"
    """Switched off by the operator: status INOPERATIVE (likewise)."""
    UNRESPONSIVE = "UNRESPONSIVE"
    """The charger stops answering the CPO: commands end in TIMEOUT, status unchanged."""
    FAILING = "FAILING"
    """The charger answers but cannot carry out commands: results are FAILED."""


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Plug(_State):
    """A car connected to one connector of the EVSE."""

    connector_id: str
    vehicle: Vehicle
    soc: float
    """Its state of charge now (updated when a session ends)."""
    plugged_at: datetime


class PendingStart(_State):
    """A start that was authorized (command or RFID) and waits for a car until `until`."""

    token: Token
    auth_method: AuthMethod
    authorization_reference: str | None = None
    requester: str = ""
    """The eMSP party ("NL/EMA") the session goes to."""
    connector_id: str | None = None
    until: datetime


class Reservation(_State):
    reservation_id: str
    requester: str
    token: Token
    expiry: datetime
    response_url: str
    session_id: str
    authorization_reference: str | None = None


_TIMED: dict[int, weakref.ref[EvseSim]] = {}
"""The EVSEs (of every CPO in this process) that were given a pending start or a
reservation, each a deadline `simulation.next_event` must see: it looks at these instead of
every EVSE on every request (a CPO at scale 10 has ~26,000). Kept by `EvseSim` itself, so no
place that sets a timer can forget it; entries whose EVSE is gone or has no timer any more
are dropped when read."""

_TIMERS = frozenset({"pending", "reservation"})


def timed_evses() -> list[EvseSim]:
    """Every EvseSim alive in this process with a pending start or a reservation."""
    found = []
    for ident, ref in list(_TIMED.items()):
        evse = ref()
        if evse is None or (evse.pending is None and evse.reservation is None):
            del _TIMED[ident]
        else:
            found.append(evse)
    return found


class EvseSim(_State):
    location_id: str
    evse_uid: str
    status: Status
    plug: Plug | None = None
    pending: PendingStart | None = None
    reservation: Reservation | None = None
    session_id: str | None = None
    fault: FaultKind | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.location_id, self.evse_uid)

    def model_post_init(self, context: Any, /) -> None:
        self._note_timer()  # built or loaded with a timer

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in _TIMERS:
            self._note_timer()

    def _note_timer(self) -> None:
        if self.pending is not None or self.reservation is not None:
            _TIMED[id(self)] = weakref.ref(self)


class MeterPeriod(_State):
    """A closed stretch of a session in one state (a Session ChargingPeriod)."""

    state: UsageState
    start: datetime
    end: datetime
    energy: Decimal = Decimal(0)
    current: Decimal | None = None
    """Average current summed over the phases, A (CHARGING only)."""
    soc: float | None = None
    """State of charge at the end, 0..1 (CHARGING and PARKING)."""


class ChargeSnapshot(_State):
    anchor: datetime
    step: int
    index: int
    step_energy: float
    step_soc: float
    step_kw: float
    at: datetime
    full_at: datetime | None = None

    @classmethod
    def of(cls, state: ChargeState) -> ChargeSnapshot:
        return cls(**{name: getattr(state, name) for name in cls.model_fields})

    def state(self) -> ChargeState:
        return ChargeState(**self.model_dump())


class SessionSim(_State):
    """Everything the CPO knows about one session besides the Session object itself."""

    session: Session
    emsp: str
    cdr_location: CdrLocation
    """The location as at the start (the CDR reports it as it was, spec mod_cdrs)."""
    time_zone: str
    tariff: Tariff | None = None
    """The tariff as at the start; None: free of charge."""
    limit_kw: float = 0.0
    voltage: int = 230
    """The connector's max_voltage (line-to-neutral for AC): what the current is derived from."""
    vehicle: Vehicle | None = None
    charge: ChargeSnapshot | None = None
    periods: list[MeterPeriod] = []
    open_state: UsageState | None = None
    open_start: datetime | None = None
    open_meter: Decimal = Decimal(0)
    """Meter reading (kWh) when the open period began."""
    sent_periods: int = 0
    next_update: datetime | None = None
    reservation_id: str | None = None
    reservation_expired: bool = False
    needs_put: bool = True
    """The eMSP does not have the latest Session: the next push is a full PUT."""
    cdr_start: datetime
    """Start of what the CDR covers: the reservation's start or the session's."""
    stop_reason: str = ""
    profile: ChargingProfile | None = None
    """The ChargingProfile the eMSP set (spec mod_charging_profiles); it caps `limit_kw`."""
