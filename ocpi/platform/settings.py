"""What every member platform's configuration holds, and the TOML loader both mocks use.

A service's settings class derives from `MemberSettings` (who it is, where it listens, its
database, its hub) and adds its own sections, redeclaring a field to change its default.
`load_config(path, Settings, "cpo")` reads `[cpo]` plus the other top-level tables of a TOML
file into it; every problem becomes one `ConfigError` naming the file and the keys.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ocpi.headers import PartyRef
from ocpi.platform.adapters import adapter_for


class ConfigSection(BaseModel):
    """Base of every settings section: a misspelt key in a config file fails, never ignored."""

    model_config = ConfigDict(extra="forbid")


class HubConnection(ConfigSection):
    """Where the hub is and the token A its operator handed out (`roam hub invite`)."""

    versions_url: str
    token_a: str | None = None
    """Needed only until the first registration; afterwards the stored tokens are used."""


class MemberSettings(ConfigSection):
    """Who a member platform is and how the hub reaches it (subclasses set the defaults)."""

    country_code: Annotated[str, Field(min_length=2, max_length=2)]
    party_id: Annotated[str, Field(min_length=3, max_length=3)]
    name: str
    """The brand: business_details.name in credentials."""
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)]
    base_url: str | None = None
    """Public URL the hub reaches the platform at (default http://HOST:PORT)."""
    database_url: str
    hub: HubConnection | None = None
    accept_token_a: str | None = None
    """A token A for a hub-initiated handshake (`roam hub connect`)."""
    page_limit: Annotated[int, Field(ge=1)] = 100
    version: str = "2.2.1"
    """The OCPI version the platform speaks to its hub: "2.1.1", "2.2.1" or "2.3.0"
    (docs/versions.md, "Mock members on 2.1.1" and "on 2.3.0"); its versions endpoint offers
    only this one."""

    raw_tokens: bool | None = None
    """Send the credentials token as it is, `Token <token>`, as OCPI 2.1.1 does
    (transport_and_format "Request format"), instead of 2.2's Base64 encoding. Unset: the
    rule of `version` (raw on 2.1.1, Base64 on 2.2.1 and 2.3.0). A platform on 2.1.1 takes raw
    tokens whatever this says (docs/versions.md, "Mock members on 2.1.1")."""

    @property
    def sends_raw_tokens(self) -> bool:
        return self.raw_tokens if self.raw_tokens is not None else self.version == "2.1.1"

    @field_validator("version")
    @classmethod
    def _version_is_supported(cls, value: str) -> str:
        adapter_for(value)  # raises naming the supported versions
        return value

    @model_validator(mode="after")
    def _party_is_valid(self) -> Self:
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

    def configured_hub(self) -> tuple[str, str]:
        """(versions URL, token A) of the hub to register with (member-initiated handshake);
        ValueError when the file names none, which the registration retry reports."""
        if self.hub is None or not self.hub.token_a:
            raise ValueError("no hub configured (hub.versions_url and hub.token_a)")
        return self.hub.versions_url, self.hub.token_a


class ConfigError(ValueError):
    """The config file cannot be used; the message names the file and the problem."""


S = TypeVar("S", bound=MemberSettings)


def load_config(path: Path, settings: type[S], section: str) -> S:
    """Read a TOML file: `[section]` holds the top-level keys, other tables are sections. A
    file named `*.json` is read as JSON with the same layout (what `roam demo` writes for the
    platforms it runs as processes).

    A relative SQLite path in `database_url` is read from the file's folder (other relative
    paths are the service's to resolve: it knows which fields are paths).
    """
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the file must hold one object (table) of settings")
    values = dict(raw.pop(section, {}))
    values.update(raw)
    try:
        loaded = settings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    database = loaded.database_url
    if database.startswith("sqlite:///") and not database.startswith("sqlite:////"):
        relative = database.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            resolved = (path.parent / relative).resolve()
            loaded = loaded.model_copy(update={"database_url": f"sqlite:///{resolved}"})
    return loaded
