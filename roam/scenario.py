"""Running a scenario (docs/scenarios.md): a federation comes up, the steps play on the CPOs'
simulated clocks, every expectation is checked, and every message the hub saw is printed on
a timeline.

The federation is `roam demo`'s (roam/demo_runtime.py): hub and members under uvicorn on
loopback ports, real HTTP and real handshakes. The runner drives the services' Python
objects the way a person drives the control and app APIs, and flips the fault switches in
front of each platform (offline, slow, failing).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from cpo_mock.service import ControlError, Cpo, SwipeOutcome
from emsp_mock.service import AppError, CommandState, Emsp
from hub.records import MessageRecord
from hub.settings import HubSettings
from hub.store import MessageFilter
from ocpi.errors import OcpiError
from ocpi.headers import PartyRef
from ocpi.pricing import PlannedSession, Quote
from ocpi.v221.cdrs import CDR
from ocpi.v221.locations import Capability, PowerType
from ocpi.v221.versions import InterfaceRole, ModuleID
from roam.demo_federation import FederationSpec, load_federation
from roam.demo_runtime import (
    DemoError,
    Echo,
    Federation,
    Member,
    Served,
    demo_folder,
    settlement_table,
    start_federation,
)
from roam.scenario_format import (
    Advance,
    ChargeStep,
    Expectation,
    Fail,
    Heal,
    Join,
    Offline,
    Online,
    Place,
    Plug,
    Reserve,
    Resync,
    Scenario,
    Send,
    Slow,
    Start,
    Step,
    Stop,
    Swipe,
    Unplug,
    Wait,
    match,
    seconds,
)
from roam.scenario_format import (
    Quote as QuoteStep,
)

COMMAND_WAIT = 30.0
"""Real seconds a start, stop or reservation may take before the runner gives up on it."""


class StepError(RuntimeError):
    """A step could not be carried out (not an expectation failing): the run stops there."""


@dataclass
class Charge:
    """One charging attempt named in the scenario (`charge: s1`)."""

    name: str
    cpo: Member
    location_id: str
    evse_uid: str
    connector_id: str
    driver: Member | None = None
    driver_id: str = "driver"
    commands: dict[str, CommandState] = field(default_factory=dict)
    last_command: str = ""
    swipes: list[SwipeOutcome] = field(default_factory=list)
    session_id: str | None = None
    quote: Quote | None = None


@dataclass
class Response:
    """What a `send` step got back."""

    ocpi_status: int | None
    http_status: int | None
    message: str


@dataclass
class Result:
    step: int
    label: str
    ok: bool
    detail: str
    note: str = ""

    @property
    def name(self) -> str:
        return f"step {self.step}: {self.label}"


@dataclass
class Outcome:
    scenario: Scenario
    results: list[Result] = field(default_factory=list)
    error: str | None = None
    """Why the run stopped early (a step that could not run, a federation that did not
    come up); None when every step ran."""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.results) and all(r.ok for r in self.results)

    @property
    def failures(self) -> list[str]:
        found = [f"{r.name} — {r.detail}" for r in self.results if not r.ok]
        if self.error is not None:
            found.append(self.error)
        return found


def _party_label(fed: Federation) -> dict[str, str]:
    names = {str(fed.hub.ref): "hub"}
    for m in fed.members:
        names[str(m.spec.cpo)] = f"{m.spec.name} CPO"
        names[str(m.spec.emsp)] = f"{m.spec.name} app"
    return names


class Run:
    """One scenario against one running federation."""

    def __init__(self, scenario: Scenario, fed: Federation, echo: Echo) -> None:
        self.scenario = scenario
        self.fed = fed
        self.echo = echo
        self.charges: dict[str, Charge] = {}
        self.responses: dict[str, Response] = {}
        self.used: set[tuple[str, str, str]] = set()
        self.outcome = Outcome(scenario)
        self.first_message_id = 0
        self.last_message_id = 0

    # --- lookups -------------------------------------------------------------------------
    def member(self, name: str) -> Member:
        for m in self.fed.members:
            if m.spec.name.lower() == name.strip().lower():
                return m
        known = ", ".join(m.spec.name for m in self.fed.members)
        raise StepError(f"no member called {name!r} (members: {known})")

    def platform(self, text: str) -> tuple[Member, str]:
        """`Electra CPO` -> (Electra, "cpo"); `Electra app` / `Electra eMSP` -> "emsp"."""
        name, _, kind = text.strip().rpartition(" ")
        kinds = {"cpo": "cpo", "app": "emsp", "emsp": "emsp"}
        if kind.lower() not in kinds or not name:
            raise StepError(f"{text!r}: name a platform as '<member> CPO' or '<member> app'")
        return self.member(name), kinds[kind.lower()]

    def served(self, text: str) -> Served:
        member, kind = self.platform(text)
        return member.cpo_served if kind == "cpo" else member.emsp_served

    def party(self, text: str) -> PartyRef:
        """A platform name, `hub`, or a party (`ZZ/ZZZ`)."""
        if text.strip().lower() == "hub":
            return self.fed.hub.ref
        if "/" in text:
            try:
                return PartyRef.parse(text)
            except ValueError as exc:
                raise StepError(f"{text!r}: {exc}") from None
        member, kind = self.platform(text)
        return member.spec.cpo if kind == "cpo" else member.spec.emsp

    def driver(self, text: str) -> tuple[Member, str]:
        name, _, driver_id = text.partition("/")
        member = self.member(name)
        driver_id = driver_id or "driver"
        if not any(d["id"] == driver_id for d in member.spec.drivers()):
            raise StepError(f"{member.spec.name} has no driver {driver_id!r}")
        return member, driver_id

    def charge(self, name: str) -> Charge:
        found = self.charges.get(name)
        if found is None:
            raise StepError(f"no charge {name!r} yet: name it with driver/card and at first")
        return found

    def _pick(self, place: Place) -> tuple[Member, str, str, str]:
        if place.evse_of is not None:
            other = self.charge(place.evse_of)
            return other.cpo, other.location_id, other.evse_uid, other.connector_id
        if place.member is None:
            raise StepError("at: name a member (at: IONITY) or an earlier charge (evse_of: s1)")
        member = self.member(place.member)
        cpo = member.cpo
        if place.evse is not None:
            if place.location is None:
                raise StepError("at: an evse needs its location")
            location = cpo.location(place.location)
            evse = cpo.find_evse(location, place.evse) if location is not None else None
            if evse is None:
                raise StepError(f"{member.spec.name} has no EVSE {place.location}/{place.evse}")
            connector = place.connector or evse.connectors[0].id
            return member, place.location, place.evse, connector
        power = PowerType.DC if place.power == "DC" else None
        ids = [place.location] if place.location is not None else sorted(cpo.locations)
        for location_id in ids:
            location = cpo.locations.get(location_id)
            if location is None:
                raise StepError(f"{member.spec.name} has no location {location_id}")
            for evse in location.evses or []:
                key = (str(member.spec.cpo), location_id, evse.uid)
                if key in self.used:
                    continue
                if Capability.REMOTE_START_STOP_CAPABLE not in (evse.capabilities or []):
                    continue
                sim = cpo.evses.get((location_id, evse.uid))
                if sim is None or sim.plug is not None or sim.session_id or sim.reservation:
                    continue
                for conn in evse.connectors:
                    dc = conn.power_type is PowerType.DC
                    if (dc if power is PowerType.DC else not dc) and conn.tariff_ids:
                        self.used.add(key)
                        return member, location_id, evse.uid, conn.id
        raise StepError(f"{member.spec.name} has no free {place.power} EVSE left")

    def named(self, step: ChargeStep, card: str | None = None) -> Charge:
        """The step's charge; created (EVSE chosen) on its first mention."""
        who = step.driver or card
        existing = self.charges.get(step.charge)
        if existing is not None:
            if step.at is not None:
                raise StepError(f"charge {step.charge} has its place already (drop at:)")
            if who is not None:
                member, driver_id = self.driver(who)
                if existing.driver is not None and (existing.driver, existing.driver_id) != (
                    member,
                    driver_id,
                ):
                    raise StepError(f"charge {step.charge} belongs to another driver")
                existing.driver, existing.driver_id = member, driver_id
            return existing
        if step.at is None or who is None:
            raise StepError(f"charge {step.charge} is new: say who (driver or card) and where (at)")
        cpo_member, location_id, evse_uid, connector_id = self._pick(step.at)
        driver_member, driver_id = self.driver(who)
        made = Charge(
            step.charge,
            cpo_member,
            location_id,
            evse_uid,
            connector_id,
            driver=driver_member,
            driver_id=driver_id,
        )
        self.charges[step.charge] = made
        return made

    def viewer(self, charge: Charge, seen_by: str) -> tuple[Member, str]:
        """Whose copy an expectation looks at: `cpo` (the charge's CPO), `app` (the driver's
        app), or any platform by name (`Fastned app`)."""
        if seen_by == "cpo":
            return charge.cpo, "cpo"
        if seen_by == "app":
            if charge.driver is None:
                raise StepError(f"charge {charge.name} has no app to look in")
            return charge.driver, "emsp"
        return self.platform(seen_by)

    def session_of(self, charge: Charge) -> str | None:
        if charge.session_id is None:
            if not charge.cpo.online:
                return None
            sim = charge.cpo.cpo.evses.get((charge.location_id, charge.evse_uid))
            if sim is not None and sim.session_id:
                charge.session_id = sim.session_id
            elif sim is not None and sim.reservation is not None and "reserve" in charge.commands:
                charge.session_id = sim.reservation.session_id  # spec: a RESERVATION session
        return charge.session_id

    # --- the timeline --------------------------------------------------------------------
    def now(self) -> str:
        clocks = [m.cpo.now() for m in self.fed.members if m.online]
        return max(clocks).strftime("%H:%M:%SZ") if clocks else "--:--:--Z"

    async def new_messages(self) -> list[MessageRecord]:
        await self.fed.hub.writer.flush()
        rows = await asyncio.to_thread(
            self.fed.hub.store.messages,
            MessageFilter(after_id=self.last_message_id, limit=100_000),
        )
        rows.sort(key=lambda r: r.id or 0)
        if rows:
            self.last_message_id = max(r.id or 0 for r in rows)
        return rows

    async def print_messages(self) -> None:
        """The messages since the last step: each request a member sent the hub, and under
        it the hub's requests to members on its behalf (forwarded, fanned out)."""
        names = _party_label(self.fed)
        rows = await self.new_messages()
        inbound = {row.request_id for row in rows if row.hop == "inbound"}
        children: dict[str, list[MessageRecord]] = {}
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

    def _platform_label(self, row: MessageRecord) -> str:
        platform = self.fed.hub.directory.platforms.get(row.platform_id or -1)
        if platform is None:
            return "?"
        names = _party_label(self.fed)
        return " + ".join(names.get(str(p.ref), str(p.ref)) for p in platform.parties) or "?"

    async def messages_seen(self) -> list[MessageRecord]:
        await self.fed.hub.writer.flush()
        return await asyncio.to_thread(
            self.fed.hub.store.messages,
            MessageFilter(after_id=self.first_message_id, limit=1_000_000),
        )

    # --- playing -------------------------------------------------------------------------
    async def play(self) -> Outcome:
        await self.new_messages()
        self.first_message_id = self.last_message_id
        for step in self.scenario.steps:
            note = f"  ({step.note})" if step.note else ""
            if isinstance(step.action, Expectation):
                result = await self.check(step, step.action)
                self.outcome.results.append(result)
                mark = "ok" if result.ok else "FAILED"
                self.echo(f"  {self.now()}  step {step.number:>2}  [{mark}] {result.label}{note}")
                if not result.ok:
                    self.echo(f"                          {result.detail}")
                continue
            self.echo(f"  {self.now()}  step {step.number:>2}  {step.describe()}{note}")
            try:
                await self.act(step)
                await self.fed.settle(2)
            except StepError as exc:
                self.outcome.error = f"step {step.number} ({step.describe()}): {exc}"
            except (AppError, OcpiError, httpx.HTTPError, DemoError, LookupError) as exc:
                self.outcome.error = f"step {step.number} ({step.describe()}): {exc}"
            await self.print_messages()
            if self.outcome.error is not None:
                self.echo(f"  stopped: {self.outcome.error}")
                break
        return self.outcome

    async def act(self, step: Step) -> None:
        action = step.action
        fed = self.fed
        if isinstance(action, QuoteStep):
            charge = self.named(action)
            emsp = self._app_of(charge)
            plan = PlannedSession(
                start_date_time=charge.cpo.cpo.now(),
                energy=action.kwh,
                charging_duration=timedelta(minutes=float(action.minutes)),
                parking_duration=timedelta(minutes=float(action.idle_minutes)),
            )
            cc, pid = charge.cpo.spec.cpo.country_code, charge.cpo.spec.cpo.party_id
            charge.quote = emsp.quote(
                cc, pid, charge.location_id, charge.evse_uid, charge.connector_id, plan
            )
            if charge.quote is not None:
                price = charge.quote.price
                self.echo(
                    f"             quote {price.excl_vat} excl. VAT / {price.incl_vat} incl. VAT "
                    f"{charge.quote.currency} (tariff {charge.quote.tariff_id})"
                )
        elif isinstance(action, Start):
            charge = self.named(action)
            emsp = self._app_of(charge)
            cc, pid = charge.cpo.spec.cpo.country_code, charge.cpo.spec.cpo.party_id
            command = await emsp.start_charging(
                charge.driver_id, cc, pid, charge.location_id, charge.evse_uid, charge.connector_id
            )
            await self._command(charge, "start", emsp, command)
        elif isinstance(action, Reserve):
            charge = self.named(action)
            emsp = self._app_of(charge)
            cc, pid = charge.cpo.spec.cpo.country_code, charge.cpo.spec.cpo.party_id
            until = charge.cpo.cpo.now() + timedelta(minutes=float(action.minutes))
            evse = None if action.whole_location else charge.evse_uid
            command = await emsp.reserve(charge.driver_id, cc, pid, charge.location_id, evse, until)
            await self._command(charge, "reserve", emsp, command)
        elif isinstance(action, Stop):
            charge = self.charge(action.charge)
            emsp = self._app_of(charge)
            session_id = self.session_of(charge)
            if session_id is None:
                raise StepError(f"charge {charge.name} has no session to stop")
            command = await emsp.stop_charging(charge.driver_id, session_id)
            await self._command(charge, "stop", emsp, command)
        elif isinstance(action, Plug):
            charge = self.named(action)
            car = {"preset": action.car} if isinstance(action.car, str) else dict(action.car)
            await self._cpo_call(
                charge,
                lambda cpo: cpo.plug(charge.location_id, charge.evse_uid, charge.connector_id, car),
            )
        elif isinstance(action, Unplug):
            charge = self.charge(action.charge)
            self.session_of(charge)
            await self._cpo_call(
                charge, lambda cpo: cpo.unplug(charge.location_id, charge.evse_uid)
            )
        elif isinstance(action, Swipe):
            charge = self.named(action, action.card)
            member, driver_id = (
                self.driver(action.card) if action.card else (charge.driver, charge.driver_id)
            )
            uid = _card_of(member, driver_id)
            outcome: SwipeOutcome = await self._cpo_call(
                charge, lambda cpo: cpo.swipe(charge.location_id, charge.evse_uid, uid)
            )
            charge.swipes.append(outcome)
            if outcome.session_id:
                charge.session_id = outcome.session_id
            self.echo(f"             the charger says {outcome.result}: {outcome.reason}")
        elif isinstance(action, Advance):
            await self._advance(action)
        elif isinstance(action, Offline):
            served = self.served(action.platform)
            await fed.settle(1)
            await served.stop()
        elif isinstance(action, Online):
            member, kind = self.platform(action.platform)
            await (member.start_cpo() if kind == "cpo" else member.start_emsp())
        elif isinstance(action, Slow):
            self.served(action.platform).faults.delay = action.seconds
        elif isinstance(action, Fail):
            faults = self.served(action.platform).faults
            faults.answer = (action.http_status, action.ocpi_status, action.message)
        elif isinstance(action, Heal):
            self.served(action.platform).faults.clear()
        elif isinstance(action, Resync):
            member, kind = self.platform(action.platform)
            if kind != "emsp":
                raise StepError("resync is what an eMSP app does: name '<member> app'")
            report = await member.emsp.resync()
            self.echo(f"             pulled {_inline_report(report)}")
        elif isinstance(action, Send):
            await self._send(action)
        elif isinstance(action, Join):
            await fed.join(action, self.echo)
        elif isinstance(action, Wait):
            await asyncio.sleep(seconds(action.real))
        else:  # pragma: no cover - parse_scenario knows every action
            raise StepError(f"cannot run {step.kind}")

    def _app_of(self, charge: Charge) -> Emsp:
        if charge.driver is None:
            raise StepError(f"charge {charge.name} has no app driver")
        if not charge.driver.emsp_served.running:
            raise StepError(f"{charge.driver.spec.name} app is offline")
        return charge.driver.emsp

    async def _cpo_call(self, charge: Charge, call: Callable[[Cpo], Any]) -> Any:
        if not charge.cpo.online:
            raise StepError(f"{charge.cpo.spec.name} CPO is offline: nobody is at the charger")
        try:
            return await call(charge.cpo.cpo)
        except ControlError as exc:
            raise StepError(str(exc)) from None

    async def _command(self, charge: Charge, kind: str, emsp: Emsp, command: CommandState) -> None:
        charge.commands[kind] = await emsp.wait_command(command.id, within=COMMAND_WAIT)
        charge.last_command = kind
        done = charge.commands[kind]
        detail = f" ({done.message})" if done.message else ""
        self.echo(f"             the app sees {kind} {done.state}{detail}")

    async def _advance(self, action: Advance) -> None:
        running = [m for m in self.fed.members if m.online]
        if not running:
            raise StepError("no CPO is online: no clock to advance")
        now = max(m.cpo.now() for m in running)
        if action.until is not None:
            total = (action.until - now).total_seconds()
            if total < 0:
                raise StepError(f"the clocks are past {action.until.isoformat()} already")
        else:
            total = seconds(action.by or 0)
        while total > 0:
            chunk = min(60.0, total)
            await self.fed.step(chunk)
            total -= chunk

    async def _send(self, action: Send) -> None:
        member, kind = self.platform(action.from_)
        platform = member.cpo if kind == "cpo" else member.emsp
        party = member.spec.cpo if kind == "cpo" else member.spec.emsp
        peer = platform.registration.peer
        if peer is None:
            raise StepError(f"{action.from_} is not connected to the hub")
        try:
            module = ModuleID(action.module)
        except ValueError:
            raise StepError(f"unknown module {action.module!r}") from None
        base = peer.endpoint(module, InterfaceRole(action.interface))
        if base is None:
            raise StepError(f"the hub offers {action.from_} no {action.module} {action.interface}")
        url = base.rstrip("/") + ("/" + action.path.lstrip("/") if action.path else "")
        client = platform.registration.client(party)
        try:
            answer = await client.request(
                action.method, url, json_body=action.body, to=self.party(action.to)
            )
            response = Response(answer.status_code, answer.http_status, answer.status_message or "")
        except OcpiError as exc:
            response = Response(exc.status_code, exc.http_status, exc.message)
        self.responses[action.name] = response
        self.echo(f"             {action.from_} got {response.ocpi_status}: {response.message}")

    # --- checking ------------------------------------------------------------------------
    async def check(self, step: Step, expectation: Expectation) -> Result:
        deadline = time.monotonic() + expectation.within
        label = expectation.label()
        while True:
            try:
                actual = await self.observe(expectation)
            except StepError as exc:
                problem = str(exc)
            else:
                wrong = [
                    f"{key}: wanted {wanted}, got {_show(actual.get(key))}"
                    for key, wanted in expectation.wanted.items()
                    if key not in ("of", "seen_by") and not _holds(key, wanted, actual.get(key))
                ]
                if not wrong:
                    shown = ", ".join(
                        f"{k} {_show(actual.get(k))}"
                        for k in expectation.wanted
                        if k not in ("of", "seen_by") and not k.endswith("_contains")
                    )
                    return Result(step.number, label, True, shown, step.note)
                problem = "; ".join(wrong)
            if time.monotonic() >= deadline:
                return Result(step.number, label, False, problem, step.note)
            await self.fed.settle(1)
            await asyncio.sleep(0.05)

    async def observe(self, e: Expectation) -> dict[str, Any]:
        subject, target, wanted = e.subject, e.target, e.wanted
        if subject == "command":
            charge = self.charge(str(target))
            kind = str(wanted.get("of") or charge.last_command)
            command = charge.commands.get(kind)
            if command is None:
                raise StepError(f"charge {charge.name} sent no {kind or 'command'}")
            return {
                "state": command.state,
                "response": command.response,
                "message_contains": _contains(wanted, "message_contains", command.message),
            }
        if subject == "swipe":
            charge = self.charge(str(target))
            if not charge.swipes:
                raise StepError(f"nobody swiped a card for charge {charge.name}")
            swipe = charge.swipes[-1]
            return {
                "result": swipe.result,
                "auth_method": swipe.auth_method.value if swipe.auth_method else None,
                "reason_contains": _contains(wanted, "reason_contains", swipe.reason),
            }
        if subject == "session":
            return self._session(self.charge(str(target)), str(wanted.get("seen_by", "app")))
        if subject == "cdr":
            return self._cdr(self.charge(str(target)))
        if subject == "invoice":
            return self._invoice(self.charge(str(target)))
        if subject == "quote":
            charge = self.charge(str(target))
            if charge.quote is None:
                return {"incl_vat": None, "excl_vat": None}
            return {
                "incl_vat": charge.quote.price.incl_vat,
                "excl_vat": charge.quote.price.excl_vat,
            }
        if subject == "settlement":
            return self._settlement(target)
        if subject == "hub_saw":
            return {"count": await self._count(dict(target))}
        if subject == "client_info":
            return self._client_info(dict(target))
        if subject == "response":
            found = self.responses.get(str(target))
            if found is None:
                raise StepError(f"no send step named {target!r}")
            return {
                "ocpi_status": found.ocpi_status,
                "http_status": found.http_status,
                "message_contains": _contains(wanted, "message_contains", found.message),
            }
        if subject == "evse":
            return self._evse(self.charge(str(target)), str(wanted.get("seen_by", "app")))
        raise StepError(f"cannot observe {subject}")  # pragma: no cover

    def _session(self, charge: Charge, seen_by: str) -> dict[str, Any]:
        session_id = self.session_of(charge)
        member, kind = self.viewer(charge, seen_by)
        if kind == "cpo":
            sim = member.cpo.sessions.get(session_id or "") if member.online else None
            session = sim.session if sim is not None else None
        else:
            cpo = charge.cpo.spec.cpo
            session = next(
                (
                    s
                    for s in member.emsp.sessions.values()
                    if (s.country_code, s.party_id) == (cpo.country_code, cpo.party_id)
                    and (
                        s.id == session_id
                        if session_id is not None
                        else (s.location_id, s.evse_uid) == (charge.location_id, charge.evse_uid)
                    )
                ),
                None,
            )
        if session is None:
            return {"exists": False, "status": None, "kwh": None, "auth_method": None}
        return {
            "exists": True,
            "status": session.status.value,
            "kwh": session.kwh,
            "auth_method": session.auth_method.value,
        }

    def _cdr_of(self, charge: Charge) -> CDR | None:
        session_id = self.session_of(charge)
        if charge.driver is None or session_id is None:
            return None
        return next(
            (c for c in charge.driver.emsp.cdrs.values() if c.session_id == session_id), None
        )

    def _cdr(self, charge: Charge) -> dict[str, Any]:
        cdr = self._cdr_of(charge)
        if cdr is None:
            return {"exists": False}
        return {
            "exists": True,
            "total_incl_vat": cdr.total_cost.incl_vat,
            "total_excl_vat": cdr.total_cost.excl_vat,
            "currency": cdr.currency,
            "energy": cdr.total_energy,
            "parking_hours": cdr.total_parking_time or 0,
            "equals_quote": self._requote(charge, cdr),
            "periods": len(cdr.charging_periods),
        }

    def _requote(self, charge: Charge, cdr: CDR) -> bool:
        """Whether the CDR's total is what the app quotes for the session delivered."""
        if charge.driver is None:
            return False
        parking = Decimal(cdr.total_parking_time or 0)
        plan = PlannedSession(
            start_date_time=cdr.start_date_time,
            energy=cdr.total_energy,
            charging_duration=timedelta(hours=float(Decimal(cdr.total_time) - parking)),
            parking_duration=timedelta(hours=float(parking)),
        )
        cc, pid = charge.cpo.spec.cpo.country_code, charge.cpo.spec.cpo.party_id
        try:
            quote = charge.driver.emsp.quote(
                cc, pid, charge.location_id, charge.evse_uid, charge.connector_id, plan
            )
        except AppError:
            return False
        return quote is not None and quote.price.to_json() == cdr.total_cost.to_json()

    def _invoice(self, charge: Charge) -> dict[str, Any]:
        session_id = self.session_of(charge)
        if charge.driver is None or session_id is None:
            return {"status": None, "total_incl_vat": None, "equals_cdr": False}
        invoice = next((i for i in charge.driver.emsp.invoices if i.session_id == session_id), None)
        if invoice is None:
            return {"status": None, "total_incl_vat": None, "equals_cdr": False}
        total = invoice.body.get("total") or {}
        cdr = self._cdr_of(charge)
        return {
            "status": invoice.status,
            "total_incl_vat": total.get("incl_vat"),
            "equals_cdr": cdr is not None and total == cdr.total_cost.to_json(),
        }

    def _settlement(self, target: Any) -> dict[str, Any]:
        if target == "balanced":
            return {"balanced": settlement_table(self.fed)[1]}
        if not isinstance(target, dict) or set(target) - {"emsp", "cpo"}:
            raise StepError("settlement: say balanced, or {emsp: <member>, cpo: <member>}")
        lines = self.fed.settlement()
        if "emsp" in target:
            emsp = self.member(str(target["emsp"])).spec.emsp
            lines = [line for line in lines if line.emsp == emsp]
        if "cpo" in target:
            cpo = self.member(str(target["cpo"])).spec.cpo
            lines = [line for line in lines if line.cpo == cpo]
        return {
            "cdrs": sum(line.cdr_count for line in lines),
            "incl_vat": sum((line.incl_vat for line in lines), Decimal(0)),
            "excl_vat": sum((line.excl_vat for line in lines), Decimal(0)),
            "balanced": settlement_table(self.fed)[1],
        }

    async def _count(self, where: dict[str, Any]) -> int:
        rows = await self.messages_seen()
        hop = str(where.get("hop", "inbound"))
        parties = {k: str(self.party(str(where[k]))) for k in ("from", "to") if k in where}
        found = 0
        for row in rows:
            if row.hop != hop:
                continue
            if "from" in parties and row.from_party != parties["from"]:
                continue
            if "to" in parties and row.to_party != parties["to"]:
                continue
            if "module" in where and row.module != str(where["module"]):
                continue
            if "method" in where and row.method != str(where["method"]).upper():
                continue
            if "path_contains" in where and str(where["path_contains"]) not in row.path:
                continue
            if "ocpi_status" in where and not match(where["ocpi_status"], row.ocpi_status):
                continue
            found += 1
        return found

    def _client_info(self, where: dict[str, Any]) -> dict[str, Any]:
        if set(where) != {"seen_by", "party"}:
            raise StepError("client_info: say {seen_by: <member> app, party: <platform>}")
        member, kind = self.platform(str(where["seen_by"]))
        if kind != "emsp":
            raise StepError("client_info: seen_by names an app ('<member> app')")
        party = self.party(str(where["party"]))
        for info in member.emsp.parties.values():
            if (info.country_code, info.party_id) == (party.country_code, party.party_id):
                return {"status": info.status.value}
        return {"status": None}

    def _evse(self, charge: Charge, seen_by: str) -> dict[str, Any]:
        member, kind = self.viewer(charge, seen_by)
        if kind == "cpo":
            location = member.cpo.location(charge.location_id) if member.online else None
        else:
            spec = charge.cpo.spec.cpo
            location = member.emsp.location(spec.country_code, spec.party_id, charge.location_id)
        evse = (
            next((e for e in (location.evses or []) if e.uid == charge.evse_uid), None)
            if (location is not None)
            else None
        )
        return {"status": evse.status.value if evse is not None else None}


def _card_of(member: Member | None, driver_id: str) -> str:
    if member is None:
        raise StepError("whose card? say card: <member> or <member>/<driver>")
    for driver in member.spec.drivers():
        if driver["id"] == driver_id:
            for token in driver["tokens"]:
                if token["type"] == "RFID":
                    return str(token["uid"])
    raise StepError(f"{member.spec.name} driver {driver_id} has no RFID card")


def _contains(wanted: dict[str, Any], key: str, text: str | None) -> str | None:
    """The text a `*_contains` check looks in (the check is a substring test)."""
    return text if key in wanted else None


def _holds(key: str, wanted: Any, actual: Any) -> bool:
    if key.endswith("_contains"):
        return actual is not None and str(wanted) in str(actual)
    return match(wanted, actual)


def _show(value: Any) -> str:
    return "nothing" if value is None else str(value)


def _short(path: str) -> str:
    marker = "/2.2.1/"
    return path.split(marker, 1)[1] if marker in path else path


def _line(route: str, row: MessageRecord, indent: int) -> str:
    status = row.ocpi_status if row.ocpi_status is not None else "-"
    latency = f" {row.latency_ms:.0f} ms" if row.latency_ms is not None else ""
    route = " " * indent + route
    return f"{route:<48} {row.method:<6} {_short(row.path)}  {status}{latency}"


def _inline_report(report: dict[str, Any]) -> str:
    parts = []
    for key, value in report.items():
        if isinstance(value, dict):
            parts.append(f"{key} {value.get('pulled', '')}")
    return ", ".join(parts)


def federation_of(scenario: Scenario) -> FederationSpec:
    section = scenario.federation
    if section.members is not None:
        spec = FederationSpec(alliance=scenario.name, members=section.members)
    else:
        path = None
        if section.file is not None:
            path = (scenario.folder or Path.cwd()) / section.file
        spec = load_federation(path)
    if section.start is not None:
        spec = spec.model_copy(update={"start": section.start})
    return spec


async def run_scenario(scenario: Scenario, echo: Echo = print, keep: Path | None = None) -> Outcome:
    """Bring up the scenario's federation, play it, stop everything; never raises for a
    scenario that fails (the outcome says why)."""
    began = time.perf_counter()
    outcome = Outcome(scenario)
    echo(f"scenario: {scenario.name} ({scenario.origin})")
    if scenario.about:
        echo(f"  {scenario.about.strip()}")
    with demo_folder(keep) as folder:
        fed: Federation | None = None
        try:
            unknown = sorted(set(scenario.federation.hub) - set(HubSettings.model_fields))
            if unknown:
                raise ValueError(f"federation.hub: unknown hub settings {', '.join(unknown)}")
            spec = federation_of(scenario)
            quiet: list[str] = []
            fed, sync_s = await start_federation(
                spec, scenario.federation.scale, folder, quiet.append
            )
            if scenario.federation.hub:
                # Applied once everyone is connected and synced: a short forward_timeout is
                # for the story, not for sixteen platforms starting at once.
                fed.hub.settings = HubSettings.model_validate(
                    {**fed.hub.settings.model_dump(), **scenario.federation.hub}
                )
            stations = sum(len(m.cpo.locations) for m in fed.members)
            echo(
                f"  federation up: hub and {len(fed.members)} members, {stations} stations "
                f"synced in {sync_s:.1f} s ({fed.hub.hops_sent} messages, not shown)"
            )
            outcome = await Run(scenario, fed, echo).play()
        except (DemoError, ValueError, OSError) as exc:
            outcome.error = f"the federation did not come up: {exc}"
            echo(f"  {outcome.error}")
        finally:
            if fed is not None:
                with contextlib.suppress(Exception):
                    await fed.stop()
    outcome.seconds = time.perf_counter() - began
    held = sum(1 for r in outcome.results if r.ok)
    echo(
        f"  {'PASSED' if outcome.passed else 'FAILED'}: {held}/{len(outcome.results)} "
        f"expectations held ({outcome.seconds:.1f} s)"
    )
    for failure in outcome.failures:
        echo(f"    FAILED {failure}")
    return outcome
