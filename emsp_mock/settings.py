"""Configuration of a mock eMSP: who it is, its hub, its drivers and their tokens.

`roam emsp run --config FILE` reads a TOML file (docs/emsp_mock.md gives the format); tests and
the federation build `EmspSettings` directly. Relative SQLite paths are read from the file's
folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, model_validator

from ocpi.platform.settings import ConfigError, ConfigSection, HubConnection, MemberSettings
from ocpi.platform.settings import load_config as load_member_config
from ocpi.v221.tokens import TokenType, WhitelistType

__all__ = [
    "ConfigError",
    "DriverSettings",
    "EmspSettings",
    "HubConnection",
    "TokenSettings",
    "load_config",
]


class TokenSettings(ConfigSection):
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


class DriverSettings(ConfigSection):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    name: str = ""
    tokens: list[TokenSettings] = Field(default_factory=list)


class EmspSettings(MemberSettings):
    """Everything `create_app` needs (who it is and how the hub reaches it: MemberSettings)."""

    country_code: Annotated[str, Field(min_length=2, max_length=2)] = "NL"
    party_id: Annotated[str, Field(min_length=3, max_length=3)] = "EMA"
    name: str = "Mock eMSP"
    """The brand: business_details.name in credentials; Token.issuer."""
    port: Annotated[int, Field(ge=0, le=65535)] = 8201
    database_url: str = "sqlite:///var/emsp.db"
    app_token: str | None = None
    """Bearer token of the app API (None: no token needed; bind to loopback then)."""
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
    def _tokens_are_unique(self) -> Self:
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


def load_config(path: Path) -> EmspSettings:
    """Read a TOML config file: `[emsp]`, `[hub]`, `[[drivers]]` with `[[drivers.tokens]]`."""
    return load_member_config(path, EmspSettings, "emsp")
