"""The federation file of `roam demo`: who the members are (YAML, docs/demo.md).

Pure: reading and checking the file, and deriving from it what each member runs (party
references, network size at a scale, the drivers of its app). The default file,
`roam/federation/federation.yaml`, is the four-member alliance (simulation data).
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml  # type: ignore[import-untyped]
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from hub.translation import VERSIONS as HUB_VERSIONS
from ocpi.headers import PartyRef
from ocpi.platform.adapters import SUPPORTED_VERSIONS

MEMBER_VERSIONS = tuple(v for v in SUPPORTED_VERSIONS if v in HUB_VERSIONS)
"""The OCPI versions a member of a federation may speak: the mock platforms' and the hub's."""

DEFAULT_START = datetime.fromisoformat("2025-03-04T09:00:00+00:00")


class FederationError(ValueError):
    """The federation file cannot be used; the message says why."""


class MemberSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=100)]
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    cpo_party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$")]
    emsp_party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$")]
    stations: Annotated[int, Field(ge=1)] = 425
    profile: str = "hpc"
    seed: int = 1
    countries: list[str] = Field(default_factory=list)
    tariffs: list[dict[str, Any]] = Field(default_factory=list)
    """Extra tariffs of the CPO (OCPI Tariff objects; country_code/party_id filled in)."""
    locations: list[dict[str, Any]] = Field(default_factory=list)
    """Extra locations of the CPO (OCPI Location objects), published besides the network."""
    version: str = "2.2.1"
    """The OCPI version both platforms of the member speak to the hub (docs/versions.md,
    "A mixed-version alliance")."""
    cpo_version: str | None = None
    """The CPO platform's version, when it differs from `version`."""
    emsp_version: str | None = None
    """The eMSP platform's version, when it differs from `version`."""

    @field_validator("version", "cpo_version", "emsp_version", mode="before")
    @classmethod
    def _version_is_supported(cls, value: Any) -> Any:
        if value is None or value in MEMBER_VERSIONS:
            return value
        speaks = ", ".join(MEMBER_VERSIONS)
        if value in SUPPORTED_VERSIONS or value in HUB_VERSIONS:
            lacking = "the hub" if value in SUPPORTED_VERSIONS else "the member platforms"
            raise ValueError(f"OCPI {value} is not spoken by {lacking} yet (both speak {speaks})")
        raise ValueError(f"unknown OCPI version {value!r} (hub and members speak {speaks})")

    @property
    def cpo_ocpi_version(self) -> str:
        """The OCPI version the member's CPO platform speaks."""
        return self.cpo_version or self.version

    @property
    def emsp_ocpi_version(self) -> str:
        """The OCPI version the member's eMSP platform speaks."""
        return self.emsp_version or self.version

    @property
    def cpo(self) -> PartyRef:
        return PartyRef(self.country_code, self.cpo_party_id)

    @property
    def emsp(self) -> PartyRef:
        return PartyRef(self.country_code, self.emsp_party_id)

    def stations_at(self, scale: float) -> int:
        return max(1, round(self.stations * scale))

    def drivers(self) -> list[dict[str, Any]]:
        """The member's app: one driver with an app token and an RFID card (authorized in
        real time: whitelist NEVER), and one whose card is refused (NO_CREDIT)."""
        cc, pid = self.country_code, self.emsp_party_id
        return [
            {
                "id": "driver",
                "name": f"{self.name} driver",
                "tokens": [
                    {"uid": f"APP-{pid}-1", "type": "APP_USER", "contract_id": f"{cc}-{pid}-C1"},
                    {
                        "uid": f"RFID-{pid}-1",
                        "type": "RFID",
                        "contract_id": f"{cc}-{pid}-C1",
                        "whitelist": "NEVER",
                    },
                ],
            },
            {
                "id": "no-credit",
                "name": f"{self.name} driver without credit",
                "tokens": [
                    {
                        "uid": f"RFID-{pid}-9",
                        "type": "RFID",
                        "contract_id": f"{cc}-{pid}-C9",
                        "whitelist": "NEVER",
                        "allowed": "NO_CREDIT",
                    }
                ],
            },
        ]


class FederationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alliance: str = "Federation"
    start: AwareDatetime = DEFAULT_START
    members: Annotated[list[MemberSpec], Field(min_length=2)]


def _check_unique(spec: FederationSpec) -> None:
    seen: set[PartyRef] = set()
    for member in spec.members:
        for party in (member.cpo, member.emsp):
            if party in seen:
                raise FederationError(f"party {party} appears twice")
            seen.add(party)


def error_place(data: Any, loc: tuple[int | str, ...]) -> str:
    """An error's place in the file, `members.2 (Electra).version`: the member's name helps
    more than its index."""
    where = ".".join(str(p) for p in loc)
    if len(loc) >= 2 and loc[0] == "members" and isinstance(loc[1], int):
        try:
            name = data["members"][loc[1]]["name"]
        except (KeyError, IndexError, TypeError):
            return where
        rest = "".join(f".{p}" for p in loc[2:])
        return f"members.{loc[1]} ({name}){rest}"
    return where


def parse_federation(text: str, origin: str = "federation file") -> FederationSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FederationError(f"{origin}: not valid YAML: {exc}") from None
    try:
        spec = FederationSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{error_place(data, err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise FederationError(f"{origin}: {problems}") from None
    _check_unique(spec)
    return spec


def default_federation_text() -> str:
    return (
        resources.files("roam.federation").joinpath("federation.yaml").read_text(encoding="utf-8")
    )


def load_federation(path: Path | None = None) -> FederationSpec:
    """The file at `path`, or the default alliance."""
    if path is None:
        return parse_federation(default_federation_text(), "roam/federation/federation.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FederationError(f"{path}: cannot be read: {exc.strerror}") from None
    return parse_federation(text, str(path))
