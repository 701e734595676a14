"""The dashboard's live state: loops that poll the hub's admin API and the members' public
APIs with httpx, keep what the page shows, and push every change to the browsers connected
by Server-Sent Events. Started on the first request (so it also runs when the app is mounted
inside another app, whose lifespan would not reach it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from dashboard import flow, money, sse
from dashboard.config import DashboardConfig, MemberLink
from dashboard.sources import HubAdmin, MemberApi, SourceError
from dashboard.stations import (
    BUSY_STATUSES,
    Station,
    apply_busy,
    member_totals,
    station_from_hit,
)
from ocpi.aio import wait_set

log = logging.getLogger("dashboard")

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C6D1F", "#444")
ACTIVE_SESSION = frozenset({"ACTIVE", "PENDING", "RESERVATION"})
MESSAGE_PAGE = 10_000
"""Log lines per `GET /admin/messages` (the hub's most)."""
MESSAGE_PAGES = 5
"""Pages read in one poll when the log grows faster than that."""


def _now() -> datetime:
    return datetime.now(UTC)


def _ocpi_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Live:
    def __init__(self, config: DashboardConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(timeout=config.timeout)
        self.hub = HubAdmin(self.client, config.hub_url, config.admin_token)
        self.apis = [MemberApi(self.client, link) for link in config.links]
        self.member_names = config.member_names()
        self.party_of: dict[MemberLink, str] = {}
        self.member_of_party: dict[str, str] = {}
        self.stations: dict[str, Station] = {}
        self.stations_version = 0
        self.stations_source: str | None = None
        self.log = flow.MessageLog()
        self.last_message_id: int | None = None
        """The id of the newest log line read (the next poll asks for those after it)."""
        self.parties: list[dict[str, Any]] = []
        self.settlement: list[dict[str, Any]] = []
        self.sessions: list[dict[str, Any]] = []
        self.invoices: dict[str, Any] = money.invoice_rows([], [], [], [], {})
        """CDRs beside the eMSPs' invoices (`money.invoice_rows`)."""
        self.rates: dict[str, Any] = flow.rates(self.log, {}, _now())
        self.problems: dict[str, str] = {}
        self.subscribers: set[asyncio.Queue[bytes]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._reload_stations = asyncio.Event()
        self._event_id = 0

    # ---- lifecycle -------------------------------------------------------------------------

    def ensure_started(self) -> None:
        if self._tasks:
            return
        loops: list[tuple[Callable[[], Awaitable[None]], float]] = [
            (self._identify, self.config.slow_interval),
            (self._poll_messages, self.config.message_interval),
            (self._poll_statuses, self.config.status_interval),
            (self._poll_slow, self.config.slow_interval),
        ]
        self._tasks = [asyncio.create_task(self._every(step, wait)) for step, wait in loops]
        self._tasks.append(asyncio.create_task(self._station_loop()))

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._own_client:
            await self.client.aclose()

    async def _every(self, step: Callable[[], Awaitable[None]], seconds: float) -> None:
        while True:
            name = getattr(step, "__name__", "poll")
            try:
                await step()
                self.problems.pop(name, None)
            except SourceError as exc:
                if self.problems.get(name) != str(exc):
                    self.problems[name] = str(exc)
                    self.publish("problems", self.problems)
            except Exception:  # a bug in one loop must not stop the others
                log.exception("dashboard: %s failed", name)
            await asyncio.sleep(seconds)

    # ---- SSE ---------------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
        self.subscribers.add(queue)
        queue.put_nowait(sse.retry(1000))
        queue.put_nowait(sse.frame("hello", self.overview(), self._next_id()))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes]) -> None:
        self.subscribers.discard(queue)

    def _next_id(self) -> str:
        self._event_id += 1
        return str(self._event_id)

    def publish(self, event: str, data: Any) -> None:
        frame = sse.frame(event, data, self._next_id())
        for queue in list(self.subscribers):
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:  # a browser that stopped reading: drop it
                self.subscribers.discard(queue)

    # ---- what the page reads -----------------------------------------------------------------

    def member_index(self) -> dict[str, int]:
        index = {name: i for i, name in enumerate(self.member_names)}
        return {party: index[name] for party, name in self.member_of_party.items()}

    def members_json(self) -> list[dict[str, Any]]:
        rows = []
        totals = member_totals(self.stations.values(), len(self.member_names))
        for i, name in enumerate(self.member_names):
            links = [link for link in self.config.links if link.name == name]
            rows.append(
                {
                    "name": name,
                    "colour": PALETTE[i % len(PALETTE)],
                    "parties": [
                        {"role": link.role, "party": self.party_of.get(link)} for link in links
                    ],
                    "drivers": [d for link in links if link.role == "EMSP" for d in link.drivers],
                    "can_drive": any(link.role == "EMSP" for link in links),
                    "totals": totals[i],
                }
            )
        return rows

    def overview(self) -> dict[str, Any]:
        return {
            "members": self.members_json(),
            "parties": self.parties_json(),
            "rates": self.rates,
            "settlement": self.settlement,
            "sessions": self.sessions,
            "invoices": self.invoices,
            "stations_version": self.stations_version,
            "stations_source": self.stations_source,
            "problems": self.problems,
            "allow_actions": self.config.allow_actions,
            "federation_control": self.federation_control,
        }

    @property
    def federation_control(self) -> bool:
        """Whether the page shows the fault switches (a control API and actions allowed)."""
        return self.config.allow_actions and self.config.federation_url is not None

    def parties_json(self) -> list[dict[str, Any]]:
        return [
            {
                **party,
                "party": f"{party.get('country_code')}/{party.get('party_id')}",
                "member": self.member_of_party.get(
                    f"{party.get('country_code')}/{party.get('party_id')}"
                ),
            }
            for party in self.parties
        ]

    def stations_json(self) -> dict[str, Any]:
        return {
            "version": self.stations_version,
            "source": self.stations_source,
            "stations": [s.compact() for s in self.stations.values()],
        }

    # ---- polling -------------------------------------------------------------------------------

    async def _identify(self) -> None:
        """Learn each platform's party ("NL/FNC") from its own API, until all are known."""
        missing = [api for api in self.apis if api.link not in self.party_of]
        if not missing:
            return
        for api in missing:
            party = await api.party()
            self.party_of[api.link] = party
            self.member_of_party[party] = api.link.name
            self._reload_stations.set()
        self.publish("members", self.members_json())

    def _map_api(self) -> MemberApi | None:
        return next(
            (api for api in self.apis if api.link.role == "EMSP" and api.link in self.party_of),
            None,
        )

    async def _station_loop(self) -> None:
        while True:
            try:
                await self._load_stations()
            except SourceError as exc:
                self.problems["stations"] = str(exc)
                self.publish("problems", self.problems)
            except Exception:
                log.exception("dashboard: loading stations failed")
            wait = self.config.stations_interval if self.stations else self.config.slow_interval
            await wait_set(self._reload_stations, wait)
            self._reload_stations.clear()

    async def _load_stations(self) -> None:
        api = self._map_api()
        if api is None:
            return
        hits = await api.map()
        members = self.member_index()
        stations = {}
        for hit in hits:
            station = station_from_hit(hit, members)
            stations[station.key] = station
        self.stations = stations
        self.stations_source = f"{api.link.name} app ({self.party_of[api.link]})"
        self.stations_version += 1
        self.problems.pop("stations", None)
        self.publish(
            "stations-reload",
            {"version": self.stations_version, "members": self.members_json()},
        )

    async def _poll_statuses(self) -> None:
        api = self._map_api()
        if api is None or not self.stations:
            return
        hits = await api.map(BUSY_STATUSES)
        busy: dict[str, dict[str, str]] = {}
        for hit in hits:
            key = f"{hit['country_code']}/{hit['party_id']}/{hit['id']}"
            busy[key] = {str(e["uid"]): str(e["status"]) for e in hit.get("evses", [])}
            if key not in self.stations:
                self._reload_stations.set()
        changed = apply_busy(self.stations, busy)
        if changed:
            self.stations_version += 1
            self.publish(
                "stations",
                {
                    "version": self.stations_version,
                    "stations": [s.compact() for s in changed],
                    "members": self.members_json(),
                },
            )

    async def _poll_messages(self) -> None:
        added = self.log.add(await self._new_lines())
        if any(m.module == "locations" and m.raw.get("method") == "PUT" for m in added):
            self._reload_stations.set()
        self.rates = flow.rates(self.log, self.member_of_party, _now())
        self.publish(
            "flow",
            {
                "rates": self.rates,
                "new": [flow.row(m, self.log, self.member_of_party) for m in added[-50:]],
            },
        )

    async def _new_lines(self) -> list[dict[str, Any]]:
        """The log lines written since the last poll, followed by id (`after_id`); the first
        poll reads the last minute (`since`). A full page is followed by the next one at
        once, up to MESSAGE_PAGES pages a poll."""
        rows: list[dict[str, Any]] = []
        for _ in range(MESSAGE_PAGES):
            if self.last_message_id is None:
                since = _ocpi_time(_now() - timedelta(seconds=flow.SERIES_S))
                page = await self.hub.messages(since=since, limit=MESSAGE_PAGE)
            else:
                page = await self.hub.messages(after_id=self.last_message_id, limit=MESSAGE_PAGE)
            rows += page
            ids = [row["id"] for row in page if isinstance(row.get("id"), int)]
            if ids:
                self.last_message_id = max([*ids, self.last_message_id or 0])
            if len(page) < MESSAGE_PAGE or not ids:
                break
        return rows

    async def _poll_slow(self) -> None:
        parties = await self.hub.parties()
        if parties != self.parties:
            self.parties = parties
            self.publish("parties", self.parties_json())
        settlement = await self.hub.settlement()
        if settlement != self.settlement:
            self.settlement = settlement
            self.publish("settlement", settlement)
        sessions = await self._sessions()
        if sessions != self.sessions:
            self.sessions = sessions
            self.publish("sessions", sessions)
        invoices = await self._invoices()
        if invoices != self.invoices:
            self.invoices = invoices
            self.publish("invoices", invoices)

    async def _sessions(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for api in self.apis:
            if api.link.role != "CPO":
                continue
            try:
                found = await api.sessions()
            except SourceError as exc:
                self.problems[f"sessions {api.link.name}"] = str(exc)
                continue
            self.problems.pop(f"sessions {api.link.name}", None)
            for entry in found:
                session = entry.get("session") or {}
                if session.get("status") not in ACTIVE_SESSION:
                    continue
                token = session.get("cdr_token") or {}
                driver_party = f"{token.get('country_code')}/{token.get('party_id')}"
                live = entry.get("live") or {}
                cost = session.get("total_cost") or {}
                rows.append(
                    {
                        "id": session.get("id"),
                        "cpo": api.link.name,
                        "emsp": self.member_of_party.get(driver_party, driver_party),
                        "location": f"{session.get('location_id')} / {session.get('evse_uid')}",
                        "status": session.get("status"),
                        "start": session.get("start_date_time"),
                        "kwh": session.get("kwh"),
                        "kw": live.get("kw"),
                        "cost": cost.get("incl_vat"),
                        "currency": session.get("currency"),
                    }
                )
        rows.sort(key=lambda r: str(r.get("start")))
        return rows

    async def _invoices(self) -> dict[str, Any]:
        """Every CPO's CDRs (`GET /control/cdrs`), every eMSP's CDRs and invoices (`GET
        /app/cdrs`, `GET /app/invoices`), side by side. A platform that fails is named in
        the problems and left out (its eMSP's CDRs then say "not read", not "no invoice")."""
        cpo_cdrs: list[dict[str, Any]] = []
        emsp_cdrs: list[dict[str, Any]] = []
        invoices: list[dict[str, Any]] = []
        read: list[str] = []
        for api in self.apis:
            problem = f"CDRs and invoices {api.link.name} {api.link.role}"
            try:
                if api.link.role == "CPO":
                    cpo_cdrs += [entry["cdr"] for entry in await api.get("/cdrs")]
                else:
                    found = list(await api.get("/invoices"))
                    emsp_cdrs += list(await api.get("/cdrs"))
                    invoices += found
                    if api.link in self.party_of:
                        read.append(self.party_of[api.link])
            except SourceError as exc:
                self.problems[problem] = str(exc)
                continue
            self.problems.pop(problem, None)
        return money.invoice_rows(cpo_cdrs, emsp_cdrs, invoices, read, self.member_of_party)

    # ---- on demand -------------------------------------------------------------------------------

    async def trace(self, correlation_id: str) -> dict[str, Any]:
        try:
            rows = await self.hub.messages(correlation_id=correlation_id)
        except SourceError:
            rows = [
                dict(m.raw)
                for m in self.log.messages()
                if m.raw.get("correlation_id") == correlation_id
            ]
        return {"correlation_id": correlation_id, **flow.trace(rows, self.member_of_party)}

    async def session_trace(self, key: str) -> dict[str, Any]:
        """Every hop of one charging session (a session id or an authorization_reference),
        joined by the hub (`GET /admin/messages?session=&bodies=true`); from the held log,
        without bodies, when the hub cannot be asked."""
        try:
            rows = await self.hub.messages(session=key, bodies=True)
        except SourceError:
            rows = [dict(raw) for raw in flow.session_lines(self.log, key)]
        return {"session": key, **flow.trace(rows, self.member_of_party)}

    def emsp(self, member: str) -> MemberApi | None:
        return next(
            (api for api in self.apis if api.link.name == member and api.link.role == "EMSP"),
            None,
        )

    def emsps(self) -> list[MemberApi]:
        return [api for api in self.apis if api.link.role == "EMSP"]
