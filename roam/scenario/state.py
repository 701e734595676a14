"""The state a scenario run shares between its parts (roam/scenario/runner.py): the federation, the
charges named so far, the answers to `send` steps, the fault switches set, and the lookups of
names in a scenario (members, platforms, parties, drivers, charges, places) that steps and
expectations use.

Everything is read through the platforms' HTTP APIs (roam/federation/clients.py), so a run
plays the same with the platforms in this process or each a process of its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocpi.headers import PartyRef
from ocpi.v221.types import parse_datetime
from roam.federation.clients import ApiError
from roam.federation.runtime import Echo, FaultAnswer, Federation, Member, Platform
from roam.scenario.format import ChargeStep, Place, Scenario

PICK_LIMIT = 100_000
"""EVSEs asked of a CPO's control API when a free one is chosen (all of them, at any scale a
scenario runs at)."""


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
    commands: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each command sent for the charge ("start", "stop", "reserve") as the app reports it."""
    last_command: str = ""
    swipes: list[dict[str, Any]] = field(default_factory=list)
    """What the charger said to each swipe (control API `swipe`)."""
    session_id: str | None = None
    quote: dict[str, Any] | None = None
    """The app's quote (app API `quote`); None for a free charge or none asked."""


@dataclass
class Frozen:
    """What an eMSP app showed as it went offline (its copies change no more while it is
    down): expectations that look in an offline app look here."""

    state: dict[str, Any]
    evses: dict[tuple[str, str, str], dict[str, str]]
    """(country code, party id, location id) -> EVSE uid -> status (the app's map)."""
    sessions: list[dict[str, Any]]
    cdrs: list[dict[str, Any]]
    invoices: dict[str, list[dict[str, Any]]]
    """Per driver."""


def _where(items: list[dict[str, Any]], where: dict[str, str]) -> list[dict[str, Any]]:
    return [i for i in items if all(str(i.get(k)) == v for k, v in where.items())]


@dataclass
class Response:
    """What a `send` step got back."""

    ocpi_status: int | None
    http_status: int | None
    message: str


class RunState:
    """One scenario against one running federation: what the steps built up so far."""

    def __init__(self, scenario: Scenario, fed: Federation, echo: Echo) -> None:
        self.scenario = scenario
        self.fed = fed
        self.echo = echo
        self.hub = PartyRef("EU", "HUB")
        """The hub's own party (read from its admin API when the run begins)."""
        self.charges: dict[str, Charge] = {}
        self.responses: dict[str, Response] = {}
        self.used: set[tuple[str, str, str]] = set()
        self.faults: dict[tuple[str, str], tuple[float, FaultAnswer | None]] = {}
        """The fault switches the run set per (member, platform kind): (delay, answer)."""
        self.last_free: dict[str, list[dict[str, Any]]] = {}
        """Each CPO's free EVSEs as it went offline: where a driver may still head for."""
        self.frozen: dict[str, Frozen] = {}
        """Each offline app as it went offline (by member name)."""

    async def prepare(self) -> None:
        settings = await self.fed.admin.settings()
        self.hub = PartyRef(str(settings["country_code"]), str(settings["party_id"]))

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

    def served(self, text: str) -> Platform:
        """The platform as it runs now (in this process or as a process of its own)."""
        member, kind = self.platform(text)
        return member.cpo_served if kind == "cpo" else member.emsp_served

    def faults_of(self, text: str) -> tuple[float, FaultAnswer | None]:
        """The platform's fault switches as the run set them: (delay, answer)."""
        member, kind = self.platform(text)
        return self.faults.get((member.spec.name, kind), (0.0, None))

    async def switch(self, text: str, delay: float, answer: FaultAnswer | None) -> None:
        """Set the platform's fault switches (over HTTP for a platform in a process)."""
        member, kind = self.platform(text)
        self.faults[(member.spec.name, kind)] = (delay, answer)
        await self.served(text).switch(delay, answer)

    async def remember_free(self, member: Member) -> None:
        """Note the CPO's free EVSEs (before it goes offline)."""
        if member.online:
            self.last_free[member.spec.name] = await member.control.evses(
                free=True, limit=PICK_LIMIT
            )

    async def freeze_app(self, member: Member) -> None:
        """Note what the member's app shows (before it goes offline)."""
        if not member.emsp_served.running:
            return
        app = member.app
        drivers = [str(d["id"]) for d in member.spec.drivers()]
        state, found, sessions, cdrs, *invoices = await asyncio.gather(
            app.state(),
            app.map(limit=str(PICK_LIMIT)),
            app.held_sessions(),
            app.held_cdrs(),
            *(app.invoices(driver) for driver in drivers),
        )
        evses = {
            (str(h["country_code"]), str(h["party_id"]), str(h["id"])): {
                str(e["uid"]): str(e["status"]) for e in h["evses"]
            }
            for h in found["locations"]
        }
        self.frozen[member.spec.name] = Frozen(
            state, evses, sessions, cdrs, dict(zip(drivers, invoices, strict=True))
        )

    def _frozen(self, member: Member) -> Frozen | None:
        """None while the app runs (ask it); what it showed if it is offline."""
        if member.emsp_served.running:
            return None
        frozen = self.frozen.get(member.spec.name)
        if frozen is None:
            raise StepError(f"{member.spec.name} app is offline: nothing to look at")
        return frozen

    # What an app shows: asked over its app API, or (offline) what it showed as it went down.
    async def app_sessions(self, member: Member, **where: str) -> list[dict[str, Any]]:
        frozen = self._frozen(member)
        if frozen is not None:
            return _where(frozen.sessions, where)
        return await member.app.held_sessions(**where)

    async def app_cdrs(self, member: Member, **where: str) -> list[dict[str, Any]]:
        frozen = self._frozen(member)
        if frozen is not None:
            return _where(frozen.cdrs, where)
        return await member.app.held_cdrs(**where)

    async def app_invoices(self, member: Member, driver_id: str) -> list[dict[str, Any]]:
        frozen = self._frozen(member)
        if frozen is not None:
            return frozen.invoices.get(driver_id, [])
        return await member.app.invoices(driver_id)

    async def app_party_status(self, member: Member, party: PartyRef) -> str | None:
        """What the hub last told the app about `party` (HubClientInfo)."""
        frozen = self._frozen(member)
        if frozen is None:
            return await member.app.status_of(party)
        for info in frozen.state.get("parties", []):
            if (info["country_code"], info["party_id"]) == (party.country_code, party.party_id):
                return str(info["status"])
        return None

    async def app_evse_status(
        self, member: Member, at: PartyRef, location_id: str, evse_uid: str
    ) -> str | None:
        """The EVSE's status in the app's copy of the location."""
        frozen = self._frozen(member)
        if frozen is not None:
            key = (at.country_code, at.party_id, location_id)
            return frozen.evses.get(key, {}).get(evse_uid)
        location = await member.app.location(at, location_id)
        evses = (location or {}).get("evses") or []
        return next((str(e["status"]) for e in evses if e["uid"] == evse_uid), None)

    def party(self, text: str) -> PartyRef:
        """A platform name, `hub`, or a party (`ZZ/ZZZ`)."""
        if text.strip().lower() == "hub":
            return self.hub
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

    async def clock(self, member: Member | None = None) -> datetime:
        """The simulated time: `member`'s CPO clock, or (it offline, or none named) the
        latest of the running CPOs' clocks."""
        if member is not None and member.online:
            return parse_datetime(await member.control.now())
        running = [m for m in self.fed.members if m.online]
        if not running:
            raise StepError("no CPO is online: no clock to read")
        clocks = await asyncio.gather(*(m.control.now() for m in running))
        return max(parse_datetime(c) for c in clocks)

    async def _evses(self, member: Member, location_id: str | None) -> list[dict[str, Any]]:
        """The CPO's free EVSEs (of one location), or those it had as it went offline."""
        if not member.online:
            remembered = self.last_free.get(member.spec.name)
            if remembered is None:
                raise StepError(f"{member.spec.name} CPO is offline: its chargers are not known")
            if location_id is not None:
                return [e for e in remembered if e["location_id"] == location_id]
            return remembered
        try:
            if location_id is not None:
                return await member.control.evses_at(location_id, free=True)
            return await member.control.evses(free=True, limit=PICK_LIMIT)
        except ApiError as exc:
            raise StepError(f"{member.spec.name}: {exc}") from None

    async def _pick(self, place: Place) -> tuple[Member, str, str, str]:
        if place.evse_of is not None:
            other = self.charge(place.evse_of)
            return other.cpo, other.location_id, other.evse_uid, other.connector_id
        if place.member is None:
            raise StepError("at: name a member (at: IONITY) or an earlier charge (evse_of: s1)")
        member = self.member(place.member)
        if place.evse is not None:
            if place.location is None:
                raise StepError("at: an evse needs its location")
            if not member.online:
                raise StepError(f"{member.spec.name} CPO is offline: its chargers are not known")
            try:
                evses = await member.control.evses_at(place.location)
            except ApiError:
                evses = []
            evse = next((e for e in evses if e["evse_uid"] == place.evse), None)
            if evse is None or not evse["connectors"]:
                raise StepError(f"{member.spec.name} has no EVSE {place.location}/{place.evse}")
            connector = place.connector or str(evse["connectors"][0]["id"])
            return member, place.location, place.evse, connector
        dc_wanted = place.power == "DC"
        for evse in await self._evses(member, place.location):
            key = (str(member.spec.cpo), evse["location_id"], evse["evse_uid"])
            if key in self.used or "REMOTE_START_STOP_CAPABLE" not in evse["capabilities"]:
                continue
            for conn in evse["connectors"]:
                if (conn["power_type"] == "DC") == dc_wanted and conn["tariff_ids"]:
                    self.used.add(key)
                    return member, evse["location_id"], evse["evse_uid"], str(conn["id"])
        raise StepError(f"{member.spec.name} has no free {place.power} EVSE left")

    async def named(self, step: ChargeStep, card: str | None = None) -> Charge:
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
        driver_member, driver_id = self.driver(who)
        cpo_member, location_id, evse_uid, connector_id = await self._pick(step.at)
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

    async def session_of(self, charge: Charge) -> str | None:
        """The charge's session id, once its CPO has one (for a reservation: the
        RESERVATION session)."""
        if charge.session_id is None and charge.cpo.online:
            sim = await charge.cpo.control.evse(charge.location_id, charge.evse_uid)
            if sim is not None and sim.get("session_id"):
                charge.session_id = str(sim["session_id"])
            elif sim is not None and sim.get("reservation") and "reserve" in charge.commands:
                charge.session_id = str(sim["reservation"]["session_id"])  # spec: RESERVATION
        return charge.session_id
