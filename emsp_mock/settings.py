"""Configuration of a mock eMSP: who it is, its hub, its drivers and their tokens.

`roam emsp run --config FILE` reads a TOML file (docs/emsp_mock.md gives the format); tests and
the federation build `EmspSettings` directly. Relative SQLite paths are read from the file's
folder.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ocpi.headers import PartyRef
from ocpi.v221.tokens import TokenType, WhitelistType


class _Section(BaseModel):
    # A misspelt key in a config file must fail, not be ignored.
    model_config = ConfigDict(extra="forbid")


class HubConnection(_Section):
    """Where the hub is and the token A its operator handed out (`roam hub invite`)."""

    versions_url: str
    token_a: str | None = None
    """Needed only until the first registration; afterwards the stored tokens are used."""


class TokenSettings(_Section):
    """One of a driver's tokens (spec mod_tokens Token; the eMSP's party is added)."""

    uid: Annotated[str, Field(min_length=1, max_length=36)]
    type: TokenType = TokenType.APP_USER
    contract_id: Annotated[str, Field(min_length=1, max_length=36)]
    visual_number: str | None = None
    valid: bool = True
    whitelist: WhitelistType | None = None
    """Default: NEVER for APP_USER/AD_HOC_USER (spec recommendation), ALLOWED for RFID."""
    allowed: str = "ALLOWED"
    """What real-time authorization answers while valid: ALLOWED, BLOCKED, EXPIRED,
    NO_CREDIT or NOT_ALLOWED (a driver whose card was blocked, who ran out of credit...)."""


class DriverSettings(_Section):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    name: str = ""
    tokens: list[TokenSettings] = Field(default_factory=list)


class EmspSettings(_Section):
    """Everything `create_app` needs."""

    country_code: Annotated[str, Field(min_length=2, max_length=2)] = "NL"
    party_id: Annotated[str, Field(min_length=3, max_length=3)] = "EMA"
    name: str = "Mock eMSP"
    """The brand: business_details.name in credentials; Token.issuer."""
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8201
    base_url: str | None = None
    """Public URL the hub reaches the eMSP at (default http://HOST:PORT)."""
    database_url: str = "sqlite:///var/emsp.db"
    hub: HubConnection | None = None
    accept_token_a: str | None = None
    """A token A for a hub-initiated handshake (`roam hub connect`)."""
    app_token: str | None = None
    """Bearer token of the app API (None: no token needed; bind to loopback then)."""
    page_limit: Annotated[int, Field(ge=1)] = 100
    command_timeout: Annotated[float, Field(gt=0)] = 60.0
    """Longest real seconds a command waits for its CommandResult (the CPO's `timeout` in
    its CommandResponse is used when shorter)."""
    push_tokens_on_register: bool = True
    """Broadcast every driver token right after the first registration."""
    resync_on_start: bool = True
    """Re-sync (pull locations, tariffs, sessions and CDRs from the hub) when starting already
    registered: incrementally from the pull marks, completely for a module never pulled."""
    drivers: list[DriverSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> EmspSettings:
        PartyRef(self.country_code, self.party_id)  # raises naming what is wrong
        object.__setattr__(self, "country_code", self.country_code.upper())
        object.__setattr__(self, "party_id", self.party_id.upper())
        seen: set[tuple[str, TokenType]] = set()
        drivers: set[str] = set()
        for driver in self.drivers:
            if driver.id in drivers:
                raise ValueError(f"driver {driver.id} is configured twice")
            drivers.add(driver.id)
            for token in driver.tokens:
                key = (token.uid, token.type)
                if key in seen:
                    raise ValueError(f"token {token.uid} ({token.type.value}) is configured twice")
                seen.add(key)
        return self

    @property
    def party(self) -> PartyRef:
        return PartyRef(self.country_code, self.party_id)

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


class ConfigError(ValueError):
    """The config file cannot be used; the message names the file and the problem."""


def load_config(path: Path) -> EmspSettings:
    """Read a TOML config file: `[emsp]`, `[hub]`, `[[drivers]]` with `[[drivers.tokens]]`."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    values = dict(raw.pop("emsp", {}))
    values.update(raw)
    try:
        settings = EmspSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    database = settings.database_url
    if database.startswith("sqlite:///") and not database.startswith("sqlite:////"):
        relative = database.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            resolved = (path.parent / relative).resolve()
            settings = settings.model_copy(update={"database_url": f"sqlite:///{resolved}"})
    return settings
