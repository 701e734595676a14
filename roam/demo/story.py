"""The roaming story `roam demo` plays, step by step, checking what must hold after each.

1. Drivers of every member's app charge at every other member's stations, in rounds (in
   round k every member's driver charges at the member k places on, all at once): START
   through the hub, a car plugs in, charging on the simulated clock, STOP, CDR, invoice;
   invoice = CDR total = the quote for the session delivered. With members on different
   OCPI versions (docs/versions.md) every pair of versions meets.
2. An RFID card of one member at another member's charger, authorized in real time through
   the hub (whitelist NEVER), stopped with the same card; invoiced like the others.
3. A card the issuer refuses (NO_CREDIT): the charger stays blocked, no session.
4. One member's platform goes offline: a start at its station fails with 4003 from the hub;
   it comes back (warm start), the hub sees it again, and a session there completes.

Every step goes through the platforms' own HTTP interfaces (roam/federation/clients.py: the
CPOs' control API, the eMSPs' app API, the hub's admin API), so the story plays the same
whether the platforms run in this process or each as a process of its own.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from roam.federation.runtime import Echo, Federation, Member

CHARGE_MINUTES = 25
DRIVER = "driver"
"""The app driver every member's eMSP has (roam/federation/spec.py `drivers`)."""


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


async def pick_evse(member: Member, used: set[tuple[str, str, str]]) -> tuple[str, str, str]:
    """A free DC EVSE that can be started remotely (location id, EVSE uid, connector id)."""
    for evse in await member.control.evses(free=True, power_type="DC", limit=500):
        key = (str(member.spec.cpo), evse["location_id"], evse["evse_uid"])
        if key in used or "REMOTE_START_STOP_CAPABLE" not in evse["capabilities"]:
            continue
        for connector in evse["connectors"]:
            if connector["power_type"] == "DC" and connector["tariff_ids"]:
                used.add(key)
                return evse["location_id"], evse["evse_uid"], connector["id"]
    raise LookupError(f"{member.spec.name} has no free DC EVSE left")


async def _wait(
    condition: Callable[[], Awaitable[bool]], fed: Federation, within: float = 30
) -> bool:
    deadline = time.monotonic() + within
    while not await condition():
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
            story.echo("  " + await fed.live_line())


async def _invoice_check(
    story: Story,
    step: str,
    driver: Member,
    driver_id: str,
    cpo_member: Member,
    session_id: str,
    where: tuple[str, str, str],
) -> bool:
    """The driver's invoice = the CDR the CPO issued = the eMSP's quote for that session."""
    cdr = next(
        (e["cdr"] for e in await cpo_member.control.cdrs() if e["cdr"]["session_id"] == session_id),
        None,
    )
    invoice = next(
        (i for i in await driver.app.invoices(driver_id) if i["session_id"] == session_id), None
    )
    if cdr is None or invoice is None:
        return story.check(step, False, f"session {session_id}: no CDR or no invoice")
    parking = Decimal(str(cdr.get("total_parking_time") or 0))
    charging = (Decimal(str(cdr["total_time"])) - parking) * 60
    quote = await driver.app.quote(
        {
            "country_code": cpo_member.spec.cpo.country_code,
            "party_id": cpo_member.spec.cpo.party_id,
            "location_id": where[0],
            "evse_uid": where[1],
            "connector_id": where[2],
            "energy_kwh": cdr["total_energy"],
            "charging_minutes": float(charging),
            "parking_minutes": float(parking * 60),
            "start": cdr["start_date_time"],
        }
    )
    quoted = None if quote.get("free") else quote.get("price")
    total = cdr["total_cost"]
    vat = "incl. VAT"
    if cpo_member.spec.cpo_ocpi_version == "2.1.1":
        # A 2.1.1 CDR states its cost excluding VAT only (and 2.1.1 Tariffs carry no VAT):
        # what the CPO issued through the hub, and what the app can quote, is excl. VAT.
        total, vat = {"excl_vat": total["excl_vat"]}, "excl. VAT"
        quoted = None if quoted is None else {"excl_vat": quoted.get("excl_vat")}
    ok = invoice["status"] == "INVOICED" and invoice.get("total") == total == quoted
    return story.check(
        step,
        ok,
        f"{cdr['total_energy']} kWh, invoice {invoice['status']} "
        f"{total.get('incl_vat', total['excl_vat'])} {cdr['currency']} {vat} = CDR total = quote"
        if ok
        else f"invoice {invoice['status']} {invoice.get('total')} / CDR {total} / "
        f"quote {quoted} ({invoice.get('reason', '')})",
    )


def _invoiced(member: Member, driver_id: str, session_id: str) -> Callable[[], Awaitable[bool]]:
    async def invoiced() -> bool:
        return any(i["session_id"] == session_id for i in await member.app.invoices(driver_id))

    return invoiced


async def _sessions_at(
    member: Member, cpo_member: Member, where: tuple[str, str, str]
) -> list[dict[str, Any]]:
    """The app driver's sessions at that EVSE of `cpo_member` (newest last)."""
    party = cpo_member.spec.cpo
    return [
        s
        for s in await member.app.sessions(DRIVER)
        if (s["country_code"], s["party_id"], s["location_id"], s["evse_uid"])
        == (party.country_code, party.party_id, where[0], where[1])
    ]


async def app_sessions(fed: Federation, story: Story, pairs: list[tuple[Member, Member]]) -> None:
    """Drivers of `driver_member`'s app charge at `cpo_member`'s stations, all at once; the
    EVSEs are free again afterwards."""
    started: list[tuple[Member, Member, tuple[str, str, str]]] = []
    for driver_member, cpo_member in pairs:
        where = await pick_evse(cpo_member, story.used)
        step = f"{driver_member.spec.name} app driver starts at {cpo_member.spec.name}"
        command = await driver_member.app.start(DRIVER, cpo_member.spec.cpo, *where)
        state = command["state"]
        if not story.check(
            step,
            state == "ACCEPTED",
            f"{where[0]}/{where[1]}: {state}"
            + ("" if state == "ACCEPTED" else f" ({command.get('message') or 'no message'})"),
        ):
            continue
        await cpo_member.control.plug(where[0], where[1], where[2], {"preset": "sedan"})
        started.append((driver_member, cpo_member, where))
    await fed.settle()
    await run_clock(fed, story, CHARGE_MINUTES)
    stopped: list[tuple[Member, Member, tuple[str, str, str], str]] = []
    for driver_member, cpo_member, where in started:
        step = f"{driver_member.spec.name} app driver at {cpo_member.spec.name}"
        active = [
            s
            for s in await _sessions_at(driver_member, cpo_member, where)
            if s["status"] == "ACTIVE"
        ]
        if not story.check(step + ": live session", len(active) == 1, f"{len(active)} active"):
            continue
        session = active[0]
        story.check(
            step + ": live session",
            session["kwh"] > 0,
            f"{session['kwh']} kWh so far, cost {session['cost_so_far']}",
        )
        command = await driver_member.app.stop(DRIVER, session["id"])
        story.check(step + ": stop", command["state"] == "ACCEPTED", command["state"])
        stopped.append((driver_member, cpo_member, where, session["id"]))
    await run_clock(fed, story, 2)
    for _, cpo_member, where in started:
        await cpo_member.control.unplug(where[0], where[1])
        story.used.discard((str(cpo_member.spec.cpo), where[0], where[1]))
    for driver_member, cpo_member, where, session_id in stopped:
        await _wait(_invoiced(driver_member, DRIVER, session_id), fed)
        await _invoice_check(
            story,
            f"{driver_member.spec.name} app driver at {cpo_member.spec.name}: invoice",
            driver_member,
            DRIVER,
            cpo_member,
            session_id,
            where,
        )


async def rfid_session(fed: Federation, story: Story, driver: Member, at: Member) -> None:
    step = f"{driver.spec.name} RFID card at {at.spec.name} (real-time authorization)"
    where = await pick_evse(at, story.used)
    card_holder = driver.spec.drivers()[0]
    uid = next(t["uid"] for t in card_holder["tokens"] if t["type"] == "RFID")
    await at.control.plug(where[0], where[1], where[2], {"preset": "compact"})
    outcome = await at.control.swipe(where[0], where[1], uid)
    if not story.check(
        step,
        outcome["result"] == "ALLOWED" and outcome["auth_method"] == "AUTH_REQUEST",
        f"{outcome['result']} ({outcome['auth_method'] or '-'}, "
        f"reference {outcome['authorization_reference']})",
    ):
        await at.control.unplug(where[0], where[1])
        return
    session_id = outcome["session_id"] or ""
    await run_clock(fed, story, CHARGE_MINUTES)
    stopped = await at.control.swipe(where[0], where[1], uid)
    story.check(step + ": card stops it", stopped["result"] == "STOPPED", stopped["result"])
    await run_clock(fed, story, 2)
    await at.control.unplug(where[0], where[1])
    await _wait(_invoiced(driver, card_holder["id"], session_id), fed)
    await _invoice_check(
        story, step + ": invoice", driver, card_holder["id"], at, session_id, where
    )


async def refused_token(fed: Federation, story: Story, driver: Member, at: Member) -> None:
    step = f"{driver.spec.name} card without credit at {at.spec.name}"
    where = await pick_evse(at, story.used)
    refused = driver.spec.drivers()[1]
    uid = refused["tokens"][0]["uid"]
    before = int((await at.control.state())["sessions"])
    await at.control.plug(where[0], where[1], where[2], {"preset": "city"})
    outcome = await at.control.swipe(where[0], where[1], uid)
    await fed.settle()
    no_session = (
        int((await at.control.state())["sessions"]) == before and outcome["session_id"] is None
    )
    no_app_session = not await driver.app.sessions(refused["id"])
    story.check(
        step,
        outcome["result"] == "BLOCKED" and no_session and no_app_session,
        f"{outcome['result']} ({outcome['reason']}); no session started",
    )
    await at.control.unplug(where[0], where[1])


async def offline_and_back(fed: Federation, story: Story, driver: Member, gone: Member) -> None:
    step = f"{gone.spec.name} CPO goes offline"
    where = await pick_evse(gone, story.used)
    await gone.cpo_served.stop()
    story.echo(f"  {gone.spec.name} CPO platform stopped (port {gone.cpo_settings.port} closed)")
    command = await driver.app.start(DRIVER, gone.spec.cpo, *where)
    message = command.get("message") or ""
    story.check(
        step + f": {driver.spec.name} app start is refused",
        command["state"] in ("FAILED", "REJECTED") and "4003" in message,
        f"{command['state']}: {message}",
    )
    await fed.settle()

    async def status(wanted: str) -> bool:
        return await driver.app.status_of(gone.spec.cpo) == wanted

    told = await _wait(lambda: status("OFFLINE"), fed, 15)
    story.check(
        step + ": the hub tells the eMSPs",
        told,
        f"status {await driver.app.status_of(gone.spec.cpo)}",
    )

    await gone.restart_cpo()
    story.echo(f"  {gone.spec.name} CPO platform started again (same database, no new handshake)")
    back = await _wait(lambda: status("CONNECTED"), fed, 30)
    story.check(
        f"{gone.spec.name} CPO comes back",
        back,
        f"status {await driver.app.status_of(gone.spec.cpo)}",
    )
    story.used.discard((str(gone.spec.cpo), where[0], where[1]))
    await app_sessions(fed, story, [(driver, gone)])


async def play(fed: Federation, story: Story) -> bool:
    members = fed.members
    n = len(members)
    story.echo(
        f"story 1: every member's app drivers charge at every other member "
        f"({n * (n - 1)} sessions, {n - 1} rounds)"
    )
    for k in range(1, n):
        versions = ", ".join(
            f"{members[i].spec.name} app ({members[i].spec.emsp_ocpi_version}) at "
            f"{members[(i + k) % n].spec.name} ({members[(i + k) % n].spec.cpo_ocpi_version})"
            for i in range(n)
        )
        story.echo(f"  round {k}: {versions}")
        await app_sessions(fed, story, [(members[i], members[(i + k) % n]) for i in range(n)])
    story.echo("story 2: an RFID card roams, authorized in real time through the hub")
    await rfid_session(fed, story, members[0], members[2 % n])
    story.echo("story 3: a card its issuer refuses")
    await refused_token(fed, story, members[1 % n], members[3 % n])
    story.echo("story 4: a member goes offline and comes back")
    gone = members[2 % n]
    driver = members[0] if gone is not members[0] else members[1]
    await offline_and_back(fed, story, driver, gone)
    return story.passed
