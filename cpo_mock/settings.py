"""Configuration of a mock CPO: who it is, its hub, its clock, its network, its patience.

`roam cpo run --config FILE` reads a TOML file (docs/cpo_mock.md gives the format); tests and
the federation build `CpoSettings` directly. Relative paths in a file are read from the
file's folder.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import AwareDatetime, Field

from cpo_mock.clock import ClockMode
from ocpi.platform.settings import ConfigError, ConfigSection, HubConnection, MemberSettings
from ocpi.platform.settings import load_config as load_member_config

__all__ = [
    "ClockSettings",
    "ConfigError",
    "CpoSettings",
    "HubConnection",
    "NetworkSettings",
    "SimulationSettings",
    "load_config",
]


class ClockSettings(ConfigSection):
    mode: ClockMode = ClockMode.REAL
    speed: Annotated[float, Field(gt=0)] = 60.0
    """For `accelerated`: simulated seconds per real second."""
    start: AwareDatetime | None = None
    """Where simulated time begins for `accelerated` and `stepped` (default: now)."""
    tick: Annotated[float, Field(gt=0)] = 1.0
    """Real seconds between two simulation steps for `real` and `accelerated`."""


class SimulationSettings(ConfigSection):
    session_update_interval: Annotated[int, Field(ge=1)] = 300
    """Simulated seconds between two Session PATCHes with charging periods."""
    meter_step: Annotated[int, Field(ge=1)] = 10
    """Simulated seconds between two re-evaluations of charging power."""
    command_timeout: Annotated[int, Field(ge=1)] = 30
    """CommandResponse.timeout: seconds the eMSP should wait for the result."""
    charger_timeout: Annotated[int, Field(ge=1)] = 20
    """Seconds after which a charger that does not answer yields a TIMEOUT result."""
    connection_timeout: Annotated[int, Field(ge=1)] = 180
    """Seconds a started (or RFID-authorized) EVSE waits for a car to be plugged in."""
    retry_initial: Annotated[float, Field(gt=0)] = 30.0
    """First retry of an undelivered CDR, simulated seconds; doubles each time."""
    retry_max: Annotated[float, Field(gt=0)] = 3600.0
    default_vehicle: str = "sedan"
    auto_plug: bool = False
    """A remote start (START_SESSION) on a free EVSE plugs in a virtual car (the default
    vehicle) at once, so the session begins without a driver: for contract tests
    (`roam conformance`). Off by default: a real charger waits for a car."""


class NetworkSettings(ConfigSection):
    """The CPO's locations and tariffs: a data file, the generator, or both."""

    file: Path | None = None
    """JSON `{"locations": [...], "tariffs": [...]}` (what `roam cpo generate` writes)."""
    stations: Annotated[int, Field(ge=0)] = 0
    """Generate this many stations when no file is given."""
    seed: int = 1
    profile: str = "hpc"
    countries: list[str] = Field(default_factory=list)


class CpoSettings(MemberSettings):
    """Everything `create_app` needs (who it is and how the hub reaches it: MemberSettings)."""

    country_code: Annotated[str, Field(min_length=2, max_length=2)] = "DE"
    party_id: Annotated[str, Field(min_length=3, max_length=3)] = "CPB"
    name: str = "Mock CPO"
    """The brand: business_details.name in credentials and Location.operator."""
    port: Annotated[int, Field(ge=0, le=65535)] = 8101
    database_url: str = "sqlite:///var/cpo.db"
    control_token: str | None = None
    """Bearer token of the control API (None: no token needed; bind to loopback then)."""
    currency: Annotated[str, Field(min_length=3, max_length=3)] = "EUR"
    """Currency of sessions at connectors without a tariff (they are free of charge)."""
    shutdown_grace: Annotated[float, Field(ge=0)] = 5.0
    """Real seconds a stopping CPO waits for queued pushes to go out."""
    push_on_register: bool = True
    """Broadcast every tariff and location right after the first registration."""
    clock: ClockSettings = Field(default_factory=ClockSettings)
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    tariffs: list[dict[str, Any]] = Field(default_factory=list)
    """Extra OCPI Tariff objects (cc/pid/last_updated may be left out)."""
    locations: list[dict[str, Any]] = Field(default_factory=list)
    """Extra OCPI Location objects (cc/pid/last_updated may be left out)."""

    @property
    def clock_start(self) -> datetime | None:
        return self.clock.start


def load_config(path: Path) -> CpoSettings:
    """Read a TOML config file (`[cpo]`, `[hub]`, `[clock]`, `[simulation]`, `[network]`,
    `[[tariffs]]`, `[[locations]]`); relative paths in it are relative to the file."""
    settings = load_member_config(path, CpoSettings, "cpo")
    file = settings.network.file
    if file is not None and not file.is_absolute():
        network = settings.network.model_copy(update={"file": path.parent / file})
        settings = settings.model_copy(update={"network": network})
    return settings
