"""The roaming story `roam demo` plays, step by step, checking what must hold after each.

1. Drivers of every member's app charge at the next member's station (all at once): START
   through the hub, a car plugs in, charging on the simulated clock, STOP, CDR, invoice;
   invoice = CDR total = the quote for the session delivered.
2. An RFID card of one member at another member's charger, authorized in real time through
   the hub (whitelist NEVER), stopped with the same card; invoiced like the others.
3. A card the issuer refuses (NO_CREDIT): the charger stays blocked, no session.
4. One member's platform goes offline: a start at its station fails with 4003 from the hub;
   it comes back (warm start), the hub sees it again, and a session there completes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from cpo_mock.service import Cpo
from emsp_mock.service import Emsp
from ocpi.pricing import PlannedSession
from ocpi.v221.cdrs import AuthMethod
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.locations import Capability, PowerType
from ocpi.v221.sessions import SessionStatus
from roam.federation.runtime import Echo, Federation, Member

CHARGE_MINUTES = 25


@dataclass
class Check:
    step: str
    ok: bool
    detail: str


@dataclass
class Story:
    echo: Echo
    live_every: float = 1.0
    checks: list[Check] = field(default_factory=list)
    used: set[tuple[str, str, str]] = field(default_factory=set)

    def check(self, step: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(step, ok, detail))
        self.echo(f"  [{'ok' if ok else 'FAILED'}] {step}: {detail}")
        return ok

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


def pick_evse(member: Member, used: set[tuple[str, str, str]]) -> tuple[str, str, str]:
    """A free DC EVSE that can be started remotely (location id, EVSE uid, connector id)."""
    cpo = member.cpo
    for location_id in sorted(cpo.locations):
        location = cpo.locations[location_id]
        for evse in location.evses or []:
            key = (str(member.spec.cpo), location_id, evse.uid)
            if key in used or Capability.REMOTE_START_STOP_CAPABLE not in (evse.capabilities or []):
                continue
            sim = cpo.evses.get((location_id, evse.uid))
            if sim is None or sim.plug is not None or sim.session_id:
                continue
            for connector in evse.connectors:
                if connector.power_type is PowerType.DC and connector.tariff_ids:
                    used.add(key)
                    return location_id, evse.uid, connector.id
    raise LookupError(f"{member.spec.name} has no free DC EVSE left")


async def _wait(condition: Callable[[], bool], fed: Federation, within: float = 30) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        await fed.settle(1)
    return True


async def run_clock(fed: Federation, story: Story, minutes: int) -> None:
    """Simulated minutes on every CPO, a minute per step, with the live view now and then."""
    last = time.monotonic()
    for _ in range(minutes):
        await fed.step(60)
        if time.monotonic() - last >= story.live_every:
            last = time.monotonic()
            story.echo("  " + fed.live_line())


def _invoice_check(
    story: Story,
    step: str,
    emsp: Emsp,
    cpo_member: Member,
    session_id: str,
    where: tuple[str, str, str],
) -> bool:
    cdr = next((c for c in emsp.cdrs.values() if c.session_id == session_id), None)
    invoice = next((i for i in emsp.invoices if i.session_id == session_id), None)
    if cdr is None or invoice is None:
        return story.check(step, False, f"session {session_id}: no CDR or no invoice")
    parking = Decimal(cdr.total_parking_time or 0)
    plan = PlannedSession(
        start_date_time=cdr.start_date_time,
        energy=cdr.total_energy,
        charging_duration=timedelta(minutes=float((Decimal(cdr.total_time) - parking) * 60)),
        parking_duration=timedelta(minutes=float(parking * 60)),
    )
    cc, pid = cpo_member.spec.cpo.country_code, cpo_member.spec.cpo.party_id
    quote = emsp.quote(cc, pid, where[0], where[1], where[2], plan)
    quoted = quote.to_json()["price"] if quote is not None else None
    total = cdr.total_cost.to_json()
    ok = invoice.status == "INVOICED" and invoice.body.get("total") == total == quoted
    return story.check(
        step,
        ok,
        f"{cdr.total_energy} kWh, invoice {invoice.status} {total.get('incl_vat')} "
        f"{cdr.currency} incl. VAT = CDR total = quote"
        if ok
        else f"invoice {invoice.status} {invoice.body.get('total')} / CDR {total} / "
        f"quote {quoted} ({invoice.body.get('reason', '')})",
    )


def _invoiced(emsp: Emsp, session_id: str) -> Callable[[], bool]:
    return lambda: any(i.session_id == session_id for i in emsp.invoices)


async def app_sessions(fed: Federation, story: Story, pairs: list[tuple[Member, Member]]) -> None:
    """Drivers of `driver_member`'s app charge at `cpo_member`'s stations, all at once."""
    started: list[tuple[Member, Member, tuple[str, str, str]]] = []
    for driver_member, cpo_member in pairs:
        where = pick_evse(cpo_member, story.used)
        step = f"{driver_member.spec.name} app driver starts at {cpo_member.spec.name}"
        cc, pid = cpo_member.spec.cpo.country_code, cpo_member.spec.cpo.party_id
        emsp = driver_member.emsp
        command = await emsp.start_charging("driver", cc, pid, where[0], where[1], where[2])
        command = await emsp.wait_command(command.id, within=30)
        if not story.check(
            step,
            command.state == "ACCEPTED",
            f"{where[0]}/{where[1]}: {command.state}"
            + ("" if command.state == "ACCEPTED" else f" ({command.message or 'no message'})"),
        ):
            continue
        await cpo_member.cpo.plug(where[0], where[1], where[2], {"preset": "sedan"})
        started.append((driver_member, cpo_member, where))
    await fed.settle()
    await run_clock(fed, story, CHARGE_MINUTES)
    for driver_member, cpo_member, where in started:
        emsp = driver_member.emsp
        step = f"{driver_member.spec.name} app driver at {cpo_member.spec.name}"
        active = [
            s
            for s in emsp.driver_sessions("driver")
            if s.status is SessionStatus.ACTIVE and s.location_id == where[0]
        ]
        if not story.check(step + ": live session", len(active) == 1, f"{len(active)} active"):
            continue
        session = active[0]
        cost = session.total_cost.to_json() if session.total_cost else None
        story.check(
            step + ": live session", session.kwh > 0, f"{session.kwh} kWh so far, cost {cost}"
        )
        command = await emsp.stop_charging("driver", session.id)
        command = await emsp.wait_command(command.id, within=30)
        story.check(step + ": stop", command.state == "ACCEPTED", command.state)
    await run_clock(fed, story, 2)
    for driver_member, cpo_member, where in started:
        emsp = driver_member.emsp
        await cpo_member.cpo.unplug(where[0], where[1])
        ended = next((s for s in emsp.driver_sessions("driver") if s.location_id == where[0]), None)
        if ended is None:
            continue
        await _wait(_invoiced(emsp, ended.id), fed)
        _invoice_check(
            story,
            f"{driver_member.spec.name} app driver at {cpo_member.spec.name}: invoice",
            emsp,
            cpo_member,
            ended.id,
            where,
        )


async def rfid_session(fed: Federation, story: Story, driver: Member, at: Member) -> None:
    step = f"{driver.spec.name} RFID card at {at.spec.name} (real-time authorization)"
    cpo: Cpo = at.cpo
    where = pick_evse(at, story.used)
    uid = next(t["uid"] for t in driver.spec.drivers()[0]["tokens"] if t["type"] == "RFID")
    await cpo.plug(where[0], where[1], where[2], {"preset": "compact"})
    outcome = await cpo.swipe(where[0], where[1], uid)
    if not story.check(
        step,
        outcome.result == "ALLOWED" and outcome.auth_method is AuthMethod.AUTH_REQUEST,
        f"{outcome.result} ({outcome.auth_method.value if outcome.auth_method else '-'}, "
        f"reference {outcome.authorization_reference})",
    ):
        await cpo.unplug(where[0], where[1])
        return
    session_id = outcome.session_id or ""
    await run_clock(fed, story, CHARGE_MINUTES)
    stopped = await cpo.swipe(where[0], where[1], uid)
    story.check(step + ": card stops it", stopped.result == "STOPPED", stopped.result)
    await run_clock(fed, story, 2)
    await cpo.unplug(where[0], where[1])
    emsp = driver.emsp
    await _wait(_invoiced(emsp, session_id), fed)
    _invoice_check(story, step + ": invoice", emsp, at, session_id, where)


async def refused_token(fed: Federation, story: Story, driver: Member, at: Member) -> None:
    step = f"{driver.spec.name} card without credit at {at.spec.name}"
    cpo = at.cpo
    where = pick_evse(at, story.used)
    uid = driver.spec.drivers()[1]["tokens"][0]["uid"]
    before = len(cpo.sessions)
    await cpo.plug(where[0], where[1], where[2], {"preset": "city"})
    outcome = await cpo.swipe(where[0], where[1], uid)
    await fed.settle()
    no_session = len(cpo.sessions) == before and outcome.session_id is None
    no_app_session = not driver.emsp.driver_sessions("no-credit")
    story.check(
        step,
        outcome.result == "BLOCKED" and no_session and no_app_session,
        f"{outcome.result} ({outcome.reason}); no session started",
    )
    await cpo.unplug(where[0], where[1])


def _status_at(emsp: Emsp, member: Member) -> ConnectionStatus | None:
    party = member.spec.cpo
    for info in emsp.parties.values():
        if (info.country_code, info.party_id) == (party.country_code, party.party_id):
            return info.status
    return None


async def offline_and_back(fed: Federation, story: Story, driver: Member, gone: Member) -> None:
    step = f"{gone.spec.name} CPO goes offline"
    where = pick_evse(gone, story.used)
    await gone.cpo_served.stop()
    story.echo(f"  {gone.spec.name} CPO platform stopped (port {gone.cpo_settings.port} closed)")
    cc, pid = gone.spec.cpo.country_code, gone.spec.cpo.party_id
    emsp = driver.emsp
    command = await emsp.start_charging("driver", cc, pid, where[0], where[1], where[2])
    command = await emsp.wait_command(command.id, within=30)
    message = command.message or ""
    story.check(
        step + f": {driver.spec.name} app start is refused",
        command.state in ("FAILED", "REJECTED") and "4003" in message,
        f"{command.state}: {message}",
    )
    await fed.settle()
    told = await _wait(lambda: _status_at(emsp, gone) is ConnectionStatus.OFFLINE, fed, 15)
    story.check(step + ": the hub tells the eMSPs", told, f"status {_status_at(emsp, gone)}")

    await gone.restart_cpo()
    story.echo(f"  {gone.spec.name} CPO platform started again (same database, no new handshake)")
    back = await _wait(lambda: _status_at(emsp, gone) is ConnectionStatus.CONNECTED, fed, 30)
    story.check(f"{gone.spec.name} CPO comes back", back, f"status {_status_at(emsp, gone)}")
    story.used.discard((str(gone.spec.cpo), where[0], where[1]))
    await app_sessions(fed, story, [(driver, gone)])


async def play(fed: Federation, story: Story) -> bool:
    members = fed.members
    n = len(members)
    story.echo(f"story 1: every member's app drivers charge at the next member ({n} sessions)")
    await app_sessions(fed, story, [(members[i], members[(i + 1) % n]) for i in range(n)])
    story.echo("story 2: an RFID card roams, authorized in real time through the hub")
    await rfid_session(fed, story, members[0], members[2 % n])
    story.echo("story 3: a card its issuer refuses")
    await refused_token(fed, story, members[1 % n], members[3 % n])
    story.echo("story 4: a member goes offline and comes back")
    gone = members[2 % n]
    driver = members[0] if gone is not members[0] else members[1]
    await offline_and_back(fed, story, driver, gone)
    await asyncio.sleep(0)
    return story.passed
