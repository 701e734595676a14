"""The state a scenario run shares between its parts (roam/scenario/runner.py): the federation, the
charges named so far, the answers to `send` steps, and the lookups of names in a scenario
(members, platforms, parties, drivers, charges, places) that steps and expectations use."""

from __future__ import annotations

from dataclasses import dataclass, field

from cpo_mock.service import SwipeOutcome
from emsp_mock.service import CommandState
from ocpi.headers import PartyRef
from ocpi.pricing import Quote
from ocpi.v221.locations import Capability, PowerType
from roam.federation.runtime import Echo, Federation, Member, Served
from roam.scenario.format import ChargeStep, Place, Scenario


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


class RunState:
    """One scenario against one running federation: what the steps built up so far."""

    def __init__(self, scenario: Scenario, fed: Federation, echo: Echo) -> None:
        self.scenario = scenario
        self.fed = fed
        self.echo = echo
        self.charges: dict[str, Charge] = {}
        self.responses: dict[str, Response] = {}
        self.used: set[tuple[str, str, str]] = set()

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
        """The platform as served in this process (scenarios run in-process)."""
        member, kind = self.platform(text)
        served = member.cpo_served if kind == "cpo" else member.emsp_served
        if not isinstance(served, Served):
            raise StepError(f"{text}: runs as a process; scenarios run their platforms in-process")
        return served

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
