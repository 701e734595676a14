"""The timeline of a scenario run: the CPOs' simulated time, and every message the hub saw
since the last step, printed as `sender -> receiver` with the hub's own hops under it. Reads
the hub's message log through its admin API (`GET /admin/messages`, docs/hub.md)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ocpi.headers import PartyRef
from ocpi.v221.types import parse_datetime
from roam.federation.runtime import Echo, Federation

PAGE = 10_000
"""Lines asked of the admin API at a time (its most)."""


@dataclass(frozen=True)
class Message:
    """One line of the hub's message log (hub/api/admin.py `message_json`)."""

    id: int
    hop: str
    method: str
    path: str
    module: str = ""
    request_id: str = ""
    parent_request_id: str = ""
    from_party: str = ""
    to_party: str = ""
    platform_id: int | None = None
    ocpi_status: int | None = None
    latency_ms: float | None = None

    @classmethod
    def of(cls, line: dict[str, Any]) -> Message:
        return cls(
            id=int(line["id"]),
            hop=str(line["hop"]),
            method=str(line["method"]),
            path=str(line["path"]),
            module=line.get("module") or "",
            request_id=line.get("request_id") or "",
            parent_request_id=line.get("parent_request_id") or "",
            from_party=line.get("from") or "",
            to_party=line.get("to") or "",
            platform_id=line.get("platform_id"),
            ocpi_status=line.get("ocpi_status"),
            latency_ms=line.get("latency_ms"),
        )


class Timeline:
    """Follows the hub's message log as the run goes."""

    def __init__(self, fed: Federation, echo: Echo) -> None:
        self.fed = fed
        self.echo = echo
        self.hub = PartyRef("EU", "HUB")
        self.first_message_id = 0
        self.last_message_id = 0

    def _party_label(self) -> dict[str, str]:
        names = {str(self.hub): "hub"}
        for m in self.fed.members:
            names[str(m.spec.cpo)] = f"{m.spec.name} CPO"
            names[str(m.spec.emsp)] = f"{m.spec.name} app"
        return names

    async def now(self) -> str:
        running = [m for m in self.fed.members if m.online]
        clocks = await asyncio.gather(*(m.control.now() for m in running))
        if not clocks:
            return "--:--:--Z"
        return max(parse_datetime(c) for c in clocks).strftime("%H:%M:%SZ")

    async def start(self, hub: PartyRef) -> None:
        """From here on: what the federation's start-up logged is not shown or counted."""
        self.hub = hub
        await self.new_messages()
        self.first_message_id = self.last_message_id

    async def _after(self, after_id: int) -> list[Message]:
        """Every line logged after the line `after_id`, oldest first (paged)."""
        rows: list[Message] = []
        while True:
            page = [Message.of(line) for line in await self.fed.admin.messages(after_id, PAGE)]
            rows.extend(page)
            if len(page) < PAGE:
                break
            after_id = max(row.id for row in page)
        return sorted(rows, key=lambda r: r.id)

    async def new_messages(self) -> list[Message]:
        rows = await self._after(self.last_message_id)
        if rows:
            self.last_message_id = max(self.last_message_id, rows[-1].id)
        return rows

    async def print_messages(self) -> None:
        """The messages since the last step: each request a member sent the hub, and under
        it the hub's requests to members on its behalf (forwarded, fanned out)."""
        names = self._party_label()
        rows = await self.new_messages()
        inbound = {row.request_id for row in rows if row.hop == "inbound"}
        children: dict[str, list[Message]] = {}
        for row in rows:
            if row.hop != "inbound" and row.parent_request_id in inbound:
                children.setdefault(row.parent_request_id, []).append(row)
        platforms: dict[int, list[str]] | None = None
        for row in rows:
            if row.hop == "inbound":
                sender = names.get(row.from_party, row.from_party or "?")
                receiver = names.get(row.to_party, row.to_party or "?")
                self.echo(_line(f"{sender} -> {receiver}", row, 13))
                for child in children.get(row.request_id, []):
                    target = names.get(child.to_party, child.to_party or "?")
                    self.echo(_line(f"hub -> {target}", child, 15))
            elif row.parent_request_id not in inbound:
                target = names.get(row.to_party, row.to_party)
                if not target:
                    if platforms is None:
                        platforms = await self._platforms()
                    hosted = platforms.get(row.platform_id or -1, [])
                    target = " + ".join(names.get(ref, ref) for ref in hosted) or "?"
                self.echo(_line(f"hub -> {target}", row, 13))

    async def _platforms(self) -> dict[int, list[str]]:
        """The parties each registered platform hosts (admin API `parties`)."""
        hosted: dict[int, list[str]] = {}
        for row in await self.fed.admin.parties():
            if row.get("platform_id") is not None:
                ref = f"{row['country_code']}/{row['party_id']}"
                parties = hosted.setdefault(int(row["platform_id"]), [])
                if ref not in parties:
                    parties.append(ref)
        return hosted

    async def messages_seen(self) -> list[Message]:
        """Every message since the story began (`start`)."""
        return await self._after(self.first_message_id)


def _short(path: str) -> str:
    marker = "/2.2.1/"
    return path.split(marker, 1)[1] if marker in path else path


def _line(route: str, row: Message, indent: int) -> str:
    status = row.ocpi_status if row.ocpi_status is not None else "-"
    latency = f" {row.latency_ms:.0f} ms" if row.latency_ms is not None else ""
    route = " " * indent + route
    return f"{route:<48} {row.method:<6} {_short(row.path)}  {status}{latency}"
