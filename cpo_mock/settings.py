"""Configuration of a mock CPO: who it is, its hub, its clock, its network, its patience.

`roam cpo run --config FILE` reads a TOML file (docs/cpo_mock.md gives the format); tests and
the federation build `CpoSettings` directly. Relative paths in a file are read from the
file's folder.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from cpo_mock.clock import ClockMode
from ocpi.headers import PartyRef


class _Section(BaseModel):
    # A misspelt key in a config file must fail, not be ignored.
    model_config = ConfigDict(extra="forbid")


class HubConnection(_Section):
    """Where the hub is and the token A its operator handed out (`roam hub invite`)."""

    versions_url: str
    token_a: str | None = None
    """Needed only until the first registration; afterwards the stored tokens are used."""


class ClockSettings(_Section):
    mode: ClockMode = ClockMode.REAL
    speed: Annotated[float, Field(gt=0)] = 60.0
    """For `accelerated`: simulated seconds per real second."""
    start: AwareDatetime | None = None
    """Where simulated time begins for `accelerated` and `stepped` (default: now)."""
    tick: Annotated[float, Field(gt=0)] = 1.0
    """Real seconds between two simulation steps for `real` and `accelerated`."""


class SimulationSettings(_Section):
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


class NetworkSettings(_Section):
    """The CPO's locations and tariffs: a data file, the generator, or both."""

    file: Path | None = None
    """JSON `{"locations": [...], "tariffs": [...]}` (what `roam cpo generate` writes)."""
    stations: Annotated[int, Field(ge=0)] = 0
    """Generate this many stations when no file is given."""
    seed: int = 1
    profile: str = "hpc"
    countries: list[str] = Field(default_factory=list)


class CpoSettings(_Section):
    """Everything `create_app` needs."""

    country_code: Annotated[str, Field(min_length=2, max_length=2)] = "DE"
    party_id: Annotated[str, Field(min_length=3, max_length=3)] = "CPB"
    name: str = "Mock CPO"
    """The brand: business_details.name in credentials and Location.operator."""
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8101
    base_url: str | None = None
    """Public URL the hub reaches the CPO at (default http://HOST:PORT)."""
    database_url: str = "sqlite:///var/cpo.db"
    hub: HubConnection | None = None
    accept_token_a: str | None = None
    """A token A for a hub-initiated handshake (`roam hub connect`)."""
    control_token: str | None = None
    """Bearer token of the control API (None: no token needed; bind to loopback then)."""
    page_limit: Annotated[int, Field(ge=1)] = 100
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

    @model_validator(mode="after")
    def _party_is_valid(self) -> CpoSettings:
        PartyRef(self.country_code, self.party_id)  # raises naming what is wrong
        object.__setattr__(self, "country_code", self.country_code.upper())
        object.__setattr__(self, "party_id", self.party_id.upper())
        return self

    @property
    def party(self) -> PartyRef:
        return PartyRef(self.country_code, self.party_id)

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def clock_start(self) -> datetime | None:
        return self.clock.start


class ConfigError(ValueError):
    """The config file cannot be used; the message names the file and the problem."""


def load_config(path: Path) -> CpoSettings:
    """Read a TOML config file; relative paths in it are relative to the file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    values = dict(raw.pop("cpo", {}))
    values.update(raw)  # [hub], [clock], [simulation], [network], [[tariffs]], [[locations]]
    try:
        settings = CpoSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    file = settings.network.file
    if file is not None and not file.is_absolute():
        network = settings.network.model_copy(update={"file": path.parent / file})
        settings = settings.model_copy(update={"network": network})
    database = settings.database_url
    if database.startswith("sqlite:///") and not database.startswith("sqlite:////"):
        relative = database.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            resolved = (path.parent / relative).resolve()
            settings = settings.model_copy(update={"database_url": f"sqlite:///{resolved}"})
    return settings
