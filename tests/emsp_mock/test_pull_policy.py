"""How the eMSP pulls (issue 12 item 6): a first sync, or one asked for, pulls everything; every
other re-sync pulls only what changed since the last complete pull (`date_from`); the Sessions
list is never asked for without `date_from` (spec mod_sessions: it is required there).

The hub here is a double that serves the four lists from memory, two objects a page, records
every query, refuses a Sessions GET without `date_from` with 2001 and can fail a chosen page.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emsp_mock import resync
from emsp_mock.app import create_app
from emsp_mock.service import Emsp
from emsp_mock.store import Store, make_engine
from ocpi.envelope import encode_envelope
from ocpi.errors import OcpiError
from ocpi.pagination import PageRequest, page_headers, paginate
from ocpi.platform import PeerState
from ocpi.status import OcpiStatus
from ocpi.v221 import Role, Status
from ocpi.v221.credentials import CredentialsRole
from ocpi.v221.locations import BusinessDetails
from ocpi.v221.versions import Endpoint, InterfaceRole, ModuleID
from tests.doubles import factories as f
from tests.doubles.factories import T0
from tests.emsp_mock.conftest import emsp_settings
from tests.network import Network

HUB_BASE = "http://hub.test/ocpi/hub/2.2.1"
PULLED = ("locations", "tariffs", "sessions", "cdrs")
EPOCH = "1970-01-01T00:00:00Z"
PAGE = 2


@dataclass
class PullHub:
    """The eMSP's hub, as far as pulling goes."""

    lists: dict[str, list[Any]] = field(default_factory=lambda: {m: [] for m in PULLED})
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    """(module, query parameters) of every list GET, pages included."""
    failing: dict[str, int] = field(default_factory=dict)
    """module -> the page number (1-based) answered with 3000."""
    after_page: Callable[[str, int], None] | None = None
    """Called after a page is served (a change while the eMSP is pulling)."""

    def first_queries(self) -> dict[str, dict[str, str]]:
        """The query each module's pull started with (later pages follow the Link)."""
        return {m: q for m, q in self.requests if "offset" not in q}

    def date_from(self) -> dict[str, str | None]:
        return {m: q.get("date_from") for m, q in self.first_queries().items()}

    def put(self, module: str, item: Any) -> None:
        """Add or replace an object (same country, party and id)."""
        key = (item.country_code, item.party_id, item.id)
        held = [o for o in self.lists[module] if (o.country_code, o.party_id, o.id) != key]
        self.lists[module] = [*held, item]

    async def listing(self, request: Request) -> Response:
        module = request.path_params["module"]
        query = dict(request.query_params)
        self.requests.append((module, query))
        if module == "sessions" and not query.get("date_from"):
            return _answer(
                None, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, "date_from is required here"
            )
        try:
            asked = PageRequest.parse(query)
        except ValueError as exc:
            return _answer(None, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, str(exc))
        number = asked.offset // PAGE + 1
        if self.failing.get(module) == number:
            return _answer(None, OcpiStatus.SERVER_ERROR, "injected fault")
        ordered = sorted(self.lists[module], key=lambda o: (o.last_updated, o.id))
        cut = paginate(ordered, asked, max_limit=PAGE, last_updated=lambda o: o.last_updated)
        response = _answer(
            [o.to_json() for o in cut.items], headers=page_headers(cut, str(request.url))
        )
        if self.after_page is not None:
            self.after_page(module, number)
        return response

    async def accept(self, request: Request) -> Response:
        return _answer(None)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/ocpi/hub/2.2.1/{module}", self.listing, methods=["GET"]),
                Route("/ocpi/hub/2.2.1/{rest:path}", self.accept, methods=["PUT", "POST"]),
            ]
        )


def _answer(
    data: Any,
    status: int = OcpiStatus.SUCCESS,
    message: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        encode_envelope(data, status, message),
        media_type="application/json",
        headers=headers,
    )


def _peer() -> PeerState:
    """The connection to the double, as if the handshake had been done before."""
    endpoints = [
        Endpoint(identifier=m, role=InterfaceRole.SENDER, url=f"{HUB_BASE}/{m.value}")
        for m in (ModuleID.LOCATIONS, ModuleID.TARIFFS, ModuleID.SESSIONS, ModuleID.CDRS)
    ]
    endpoints += [
        Endpoint(identifier=m, role=InterfaceRole.RECEIVER, url=f"{HUB_BASE}/{m.value}")
        for m in (ModuleID.TOKENS, ModuleID.COMMANDS)
    ]
    return PeerState(
        token="token-c",
        issued_token="token-b",
        versions_url="http://hub.test/ocpi/versions",
        endpoints=endpoints,
        roles=[
            CredentialsRole(
                role=Role.HUB,
                business_details=BusinessDetails(name="Hub double"),
                country_code="NL",
                party_id="HUB",
            )
        ],
    )


@dataclass
class Puller:
    network: Network
    hub: PullHub
    tmp_path: Path
    emsp: Emsp = field(init=False)

    async def restart(self, **overrides: Any) -> Emsp:
        """Stop the eMSP and start a new one on the same database."""
        await self.emsp.stop()
        return await self.start(**overrides)

    async def start(self, **overrides: Any) -> Emsp:
        settings = emsp_settings(
            self.tmp_path, None, **{"resync_on_start": False, "drivers": [], **overrides}
        )
        app = create_app(settings, http=self.network.client())
        self.network.add("emsp.test", app)
        self.emsp = app.state.emsp
        await self.emsp.start()
        await self.emsp.drain()
        return self.emsp

    async def app(self, method: str, path: str) -> httpx.Response:
        async with self.network.client() as client:
            return await client.request(method, f"http://emsp.test/app{path}")


@pytest.fixture
async def puller(tmp_path: Path) -> AsyncIterator[Puller]:
    network = Network()
    hub = PullHub()
    hub.put("locations", f.location("LOC1"))
    hub.put("locations", f.location("LOC2"))
    hub.put("locations", f.location("LOC3"))
    hub.put("tariffs", f.tariff("12"))
    hub.put("sessions", f.session("S-1", last_updated=T0 + timedelta(minutes=5)))
    hub.put("cdrs", f.cdr("CDR-1", session_id="S-1"))  # last_updated T0 + 1 h
    network.add("hub.test", hub.app())
    store = Store(make_engine(f"sqlite:///{tmp_path / 'emsp.db'}"))
    store.set_state("peer", json.dumps(_peer().to_json()))
    store.engine.dispose()
    harness = Puller(network, hub, tmp_path)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.emsp.stop()


def clock(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    """The eMSP's clock reads `now` (the time a pull starts is taken from it)."""
    monkeypatch.setattr(resync, "utcnow", lambda: now)


async def test_the_first_resync_pulls_everything_and_sessions_from_the_epoch(
    puller: Puller,
) -> None:
    report = await puller.emsp.resync()
    assert puller.hub.date_from() == {
        "locations": None,
        "tariffs": None,
        "sessions": EPOCH,
        "cdrs": None,
    }
    assert report["full"] is True
    assert report["locations"]["pulled"] == 3 and report["sessions"]["pulled"] == 1
    assert puller.emsp.location("DE", "CPB", "LOC3") is not None
    assert ("DE", "CPB", "S-1") in puller.emsp.sessions
    assert ("DE", "CPB", "CDR-1") in puller.emsp.cdrs


async def test_a_second_resync_pulls_from_the_start_of_the_previous_complete_pull(
    puller: Puller, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Our clock and the senders' agree; the first pull starts at `began`, and while it runs
    # LOC3 changes (it is on the second page, so this pull returns the change).
    began = T0 + timedelta(hours=2, milliseconds=250)
    clock(monkeypatch, began)

    def change_during_pull(module: str, page: int) -> None:
        if (module, page) == ("locations", 1):
            puller.hub.put(
                "locations", f.location("LOC3", last_updated=began + timedelta(seconds=1))
            )

    puller.hub.after_page = change_during_pull
    await puller.emsp.resync()
    puller.hub.after_page = None
    puller.hub.requests.clear()
    clock(monkeypatch, began + timedelta(hours=1))

    report = await puller.emsp.resync()
    assert puller.hub.date_from() == {
        # the start of the previous pull (LOC3's newer stamp came in during that pull)
        "locations": "2024-05-01T14:00:00.25Z",
        # the newest stamp that pull returned, earlier than its start: nothing after it can be
        # stamped before it, and a sender's clock may lag ours
        "tariffs": "2024-05-01T12:00:00Z",
        "sessions": "2024-05-01T12:05:00Z",
        "cdrs": "2024-05-01T13:00:00Z",
    }
    assert report["full"] is False
    assert report["locations"] == {
        "date_from": "2024-05-01T14:00:00.25Z",
        "pulled": 1,
        "stored": 0,
        "gone": 0,
    }
    # Every page of the delta keeps the filter (the Link carries it).
    assert all(q.get("date_from") for m, q in puller.hub.requests)


async def test_a_lagging_sender_clock_does_not_hide_its_changes(puller: Puller) -> None:
    # The eMSP runs on real time (2026 or later); the hub's objects are stamped in 2024 (a
    # simulated CPO clock). A change made after the first pull is still pulled.
    await puller.emsp.resync()
    puller.hub.put(
        "locations",
        f.location("LOC2", status=Status.BLOCKED, last_updated=T0 + timedelta(minutes=1)),
    )
    puller.hub.requests.clear()
    report = await puller.emsp.resync()
    assert puller.hub.date_from()["locations"] == "2024-05-01T12:00:00Z"
    loc2 = puller.emsp.location("DE", "CPB", "LOC2")
    assert loc2 is not None and (loc2.evses or [])[0].status is Status.BLOCKED
    assert report["locations"]["stored"] == 1


async def test_a_pull_that_fails_half_way_leaves_the_mark_where_it_was(
    puller: Puller, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock(monkeypatch, T0 + timedelta(hours=2))
    puller.hub.failing["locations"] = 2
    with pytest.raises(OcpiError):
        await puller.emsp.resync()
    # Nothing was complete: the next pull is still a first (full) one.
    puller.hub.failing.clear()
    puller.hub.requests.clear()
    await puller.emsp.resync()
    first = puller.hub.date_from()
    assert first == {"locations": None, "tariffs": None, "sessions": EPOCH, "cdrs": None}

    # Complete pull done (marks at T0 .. T0 + 1 h); now one fails on the CDRs' second page,
    # after locations, tariffs and sessions were pulled completely: no mark moves.
    puller.hub.put("locations", f.location("LOC4", last_updated=T0 + timedelta(hours=3)))
    puller.hub.put("cdrs", f.cdr("CDR-2", session_id="S-1", last_updated=T0 + timedelta(hours=3)))
    puller.hub.put("cdrs", f.cdr("CDR-3", session_id="S-1", last_updated=T0 + timedelta(hours=3)))
    clock(monkeypatch, T0 + timedelta(hours=4))
    puller.hub.failing["cdrs"] = 2
    puller.hub.requests.clear()
    with pytest.raises(OcpiError):
        await puller.emsp.resync()
    assert puller.emsp.location("DE", "CPB", "LOC4") is None  # and nothing was applied
    puller.hub.failing.clear()
    puller.hub.requests.clear()
    await puller.emsp.resync()
    assert puller.hub.date_from() == {
        "locations": "2024-05-01T12:00:00Z",
        "tariffs": "2024-05-01T12:00:00Z",
        "sessions": "2024-05-01T12:05:00Z",
        "cdrs": "2024-05-01T13:00:00Z",
    }
    assert puller.emsp.location("DE", "CPB", "LOC4") is not None


async def test_the_mark_survives_a_restart(puller: Puller) -> None:
    await puller.emsp.resync()
    puller.hub.requests.clear()
    await puller.restart(resync_on_start=True)  # a new process on the same database
    assert puller.hub.date_from() == {
        "locations": "2024-05-01T12:00:00Z",
        "tariffs": "2024-05-01T12:00:00Z",
        "sessions": "2024-05-01T12:05:00Z",
        "cdrs": "2024-05-01T13:00:00Z",
    }
    state = (await puller.app("GET", "/state")).json()
    assert state["pull_marks"]["sessions"] == "2024-05-01T12:05:00Z"
    assert state["last_resync"]["full"] is False


async def test_an_explicit_full_resync_pulls_everything_and_drops_what_is_gone(
    puller: Puller,
) -> None:
    await puller.emsp.resync()
    puller.hub.lists["locations"] = [o for o in puller.hub.lists["locations"] if o.id != "LOC3"]

    # A delta holds changes only: what it lacks is not gone.
    puller.hub.requests.clear()
    report = await puller.emsp.resync()
    assert report["locations"]["gone"] == 0
    assert puller.emsp.location("DE", "CPB", "LOC3") is not None

    puller.hub.requests.clear()
    answer = await puller.app("POST", "/resync?full=true")
    assert answer.status_code == 200, answer.text
    assert puller.hub.date_from() == {
        "locations": None,
        "tariffs": None,
        "sessions": EPOCH,
        "cdrs": None,
    }
    assert answer.json()["full"] is True and answer.json()["locations"]["gone"] == 1
    assert puller.emsp.location("DE", "CPB", "LOC3") is None
    stored = await puller.restart()
    assert stored.location("DE", "CPB", "LOC3") is None


async def test_the_app_api_refuses_a_full_flag_it_cannot_read(puller: Puller) -> None:
    answer = await puller.app("POST", "/resync?full=maybe")
    assert answer.status_code == 400
    assert "full" in answer.json()["error"]
    assert puller.hub.requests == []
