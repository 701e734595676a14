"""What the dashboard needs to know: the hub's URL and admin token, and the members' public
APIs (a CPO's control API, an eMSP's app API). Nothing else: it is a client of those."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["CPO", "EMSP"]


@dataclass(frozen=True, slots=True)
class MemberLink:
    """One platform of a member: `url` is the base of its control API (role CPO, the calls
    live under `{url}/control/…`) or of its app API (role EMSP, `{url}/app/…`)."""

    name: str
    role: Role
    url: str
    token: str | None = None
    """Bearer token of that API, when it has one (`control_token` / `app_token`)."""
    drivers: tuple[str, ...] = ("driver",)
    """eMSP only: the app's driver ids the page may start sessions for."""


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    hub_url: str
    """The hub's base URL (its admin API is `{hub_url}/admin/…`)."""
    admin_token: str
    members: Sequence[MemberLink | tuple[str, str, str]] = ()
    """`MemberLink`s, or `(name, "CPO" | "EMSP", url)` tuples."""
    access_token: str | None = None
    """When set, the page and its API need it (the operator view behind the admin token)."""
    allow_actions: bool = True
    """Whether the page may start sessions (the demo: yes; an operator's hub: no)."""
    federation_url: str | None = None
    """Base URL of a federation control API (`roam demo` serves one: `POST
    {federation_url}/federation/members/{name}/offline|online|slow|heal`). When set, and
    actions are allowed, the page has buttons per member for those fault switches."""
    federation_token: str | None = None
    """Bearer token of the federation control API, when it has one."""
    status_interval: float = 0.5
    """Seconds between polls of EVSE statuses (a change reaches the page within about this
    plus the member's own delivery time)."""
    message_interval: float = 0.5
    slow_interval: float = 2.0
    """Parties, settlement, sessions."""
    stations_interval: float = 30.0
    """Full re-read of the station list (new or removed locations)."""
    timeout: float = 10.0
    links: tuple[MemberLink, ...] = field(init=False)

    def __post_init__(self) -> None:
        links: list[MemberLink] = []
        for member in self.members:
            if isinstance(member, MemberLink):
                links.append(member)
                continue
            name, role, url = member
            upper = role.upper()
            if upper not in ("CPO", "EMSP"):
                raise ValueError(f"member {name!r}: role {role!r} is not CPO or EMSP")
            links.append(MemberLink(name, "CPO" if upper == "CPO" else "EMSP", url))
        object.__setattr__(self, "hub_url", self.hub_url.rstrip("/"))
        if self.federation_url is not None:
            object.__setattr__(self, "federation_url", self.federation_url.rstrip("/"))
        object.__setattr__(
            self,
            "links",
            tuple(MemberLink(m.name, m.role, m.url.rstrip("/"), m.token, m.drivers) for m in links),
        )

    def member_names(self) -> list[str]:
        """Members in the order first named (a member is a name; it may have two links)."""
        return list(dict.fromkeys(link.name for link in self.links))
