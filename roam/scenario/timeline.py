"""The timeline of a scenario run: the CPOs' simulated time, and every message the hub saw
since the last step, printed as `sender -> receiver` with the hub's own hops under it. Reads
the hub's message log through `Hub.messages` (docs/hub.md)."""

from __future__ import annotations

from hub.messages import LoggedMessage, MessageFilter
from roam.federation.runtime import Echo, Federation


def _party_label(fed: Federation) -> dict[str, str]:
    names = {str(fed.hub.ref): "hub"}
    for m in fed.members:
        names[str(m.spec.cpo)] = f"{m.spec.name} CPO"
        names[str(m.spec.emsp)] = f"{m.spec.name} app"
    return names


class Timeline:
    """Follows the hub's message log as the run goes."""

    def __init__(self, fed: Federation, echo: Echo) -> None:
        self.fed = fed
        self.echo = echo
        self.first_message_id = 0
        self.last_message_id = 0

    def now(self) -> str:
        clocks = [m.cpo.now() for m in self.fed.members if m.online]
        return max(clocks).strftime("%H:%M:%SZ") if clocks else "--:--:--Z"

    async def start(self) -> None:
        """From here on: what the federation's start-up logged is not shown or counted."""
        await self.new_messages()
        self.first_message_id = self.last_message_id

    async def new_messages(self) -> list[LoggedMessage]:
        rows = await self.fed.hub.messages(
            MessageFilter(after_id=self.last_message_id, limit=100_000)
        )
        rows.sort(key=lambda r: r.id)
        if rows:
            self.last_message_id = max(r.id for r in rows)
        return rows

    async def print_messages(self) -> None:
        """The messages since the last step: each request a member sent the hub, and under
        it the hub's requests to members on its behalf (forwarded, fanned out)."""
        names = _party_label(self.fed)
        rows = await self.new_messages()
        inbound = {row.request_id for row in rows if row.hop == "inbound"}
        children: dict[str, list[LoggedMessage]] = {}
        for row in rows:
            if row.hop != "inbound" and row.parent_request_id in inbound:
                children.setdefault(row.parent_request_id, []).append(row)
        for row in rows:
            if row.hop == "inbound":
                sender = names.get(row.from_party, row.from_party or "?")
                receiver = names.get(row.to_party, row.to_party or "?")
                self.echo(_line(f"{sender} -> {receiver}", row, 13))
                for child in children.get(row.request_id, []):
                    target = names.get(child.to_party, child.to_party or "?")
                    self.echo(_line(f"hub -> {target}", child, 15))
            elif row.parent_request_id not in inbound:
                target = names.get(row.to_party, row.to_party) or self._platform_label(row)
                self.echo(_line(f"hub -> {target}", row, 13))

    def _platform_label(self, row: LoggedMessage) -> str:
        parties = self.fed.hub.platform_parties(row.platform_id or -1)
        names = _party_label(self.fed)
        return " + ".join(names.get(str(ref), str(ref)) for ref in parties) or "?"

    async def messages_seen(self) -> list[LoggedMessage]:
        """Every message since the story began (`start`)."""
        return await self.fed.hub.messages(
            MessageFilter(after_id=self.first_message_id, limit=1_000_000)
        )


def _short(path: str) -> str:
    marker = "/2.2.1/"
    return path.split(marker, 1)[1] if marker in path else path


def _line(route: str, row: LoggedMessage, indent: int) -> str:
    status = row.ocpi_status if row.ocpi_status is not None else "-"
    latency = f" {row.latency_ms:.0f} ms" if row.latency_ms is not None else ""
    route = " " * indent + route
    return f"{route:<48} {row.method:<6} {_short(row.path)}  {status}{latency}"
