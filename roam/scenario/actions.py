"""The steps of a scenario (docs/scenarios.md, "Steps"): each action carried out on the
federation the way a person uses the control and app APIs, or flips a platform's faults."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from cpo_mock.service import ControlError, Cpo, SwipeOutcome
from emsp_mock.service import CommandState, Emsp
from ocpi.errors import OcpiError
from ocpi.pricing import PlannedSession
from ocpi.v221.versions import InterfaceRole, ModuleID
from roam.federation.runtime import Member
from roam.scenario.format import (
    Advance,
    Fail,
    Heal,
    Join,
    Offline,
    Online,
    Plug,
    Reserve,
    Resync,
    Send,
    Slow,
    Start,
    Step,
    Stop,
    Swipe,
    Unplug,
    Wait,
    seconds,
)
from roam.scenario.format import (
    Quote as QuoteStep,
)
from roam.scenario.state import Charge, Response, RunState, StepError

COMMAND_WAIT = 30.0
"""Real seconds a start, stop or reservation may take before the runner gives up on it."""


class Actions:
    """Carries out a scenario's action steps on the run's state."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    async def act(self, step: Step) -> None:
        action = step.action
        fed = self.state.fed
        if isinstance(action, QuoteStep):
            charge = self.state.named(action)
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
                self.state.echo(
                    f"             quote {price.excl_vat} excl. VAT / {price.incl_vat} incl. VAT "
                    f"{charge.quote.currency} (tariff {charge.quote.tariff_id})"
                )
        elif isinstance(action, Start):
            charge = self.state.named(action)
            emsp = self._app_of(charge)
            cc, pid = charge.cpo.spec.cpo.country_code, charge.cpo.spec.cpo.party_id
            command = await emsp.start_charging(
                charge.driver_id, cc, pid, charge.location_id, charge.evse_uid, charge.connector_id
            )
            await self._command(charge, "start", emsp, command)
        elif isinstance(action, Reserve):
            charge = self.state.named(action)
            emsp = self._app_of(charge)
            cc, pid = charge.cpo.spec.cpo.country_code, charge.cpo.spec.cpo.party_id
            until = charge.cpo.cpo.now() + timedelta(minutes=float(action.minutes))
            evse = None if action.whole_location else charge.evse_uid
            command = await emsp.reserve(charge.driver_id, cc, pid, charge.location_id, evse, until)
            await self._command(charge, "reserve", emsp, command)
        elif isinstance(action, Stop):
            charge = self.state.charge(action.charge)
            emsp = self._app_of(charge)
            session_id = self.state.session_of(charge)
            if session_id is None:
                raise StepError(f"charge {charge.name} has no session to stop")
            command = await emsp.stop_charging(charge.driver_id, session_id)
            await self._command(charge, "stop", emsp, command)
        elif isinstance(action, Plug):
            charge = self.state.named(action)
            car = {"preset": action.car} if isinstance(action.car, str) else dict(action.car)
            await self._cpo_call(
                charge,
                lambda cpo: cpo.plug(charge.location_id, charge.evse_uid, charge.connector_id, car),
            )
        elif isinstance(action, Unplug):
            charge = self.state.charge(action.charge)
            self.state.session_of(charge)
            await self._cpo_call(
                charge, lambda cpo: cpo.unplug(charge.location_id, charge.evse_uid)
            )
        elif isinstance(action, Swipe):
            charge = self.state.named(action, action.card)
            member, driver_id = (
                self.state.driver(action.card) if action.card else (charge.driver, charge.driver_id)
            )
            uid = _card_of(member, driver_id)
            outcome: SwipeOutcome = await self._cpo_call(
                charge, lambda cpo: cpo.swipe(charge.location_id, charge.evse_uid, uid)
            )
            charge.swipes.append(outcome)
            if outcome.session_id:
                charge.session_id = outcome.session_id
            self.state.echo(f"             the charger says {outcome.result}: {outcome.reason}")
        elif isinstance(action, Advance):
            await self._advance(action)
        elif isinstance(action, Offline):
            served = self.state.served(action.platform)
            await fed.settle(1)
            await served.stop()
        elif isinstance(action, Online):
            member, kind = self.state.platform(action.platform)
            await (member.start_cpo() if kind == "cpo" else member.start_emsp())
        elif isinstance(action, Slow):
            self.state.served(action.platform).faults.delay = action.seconds
        elif isinstance(action, Fail):
            faults = self.state.served(action.platform).faults
            faults.answer = (action.http_status, action.ocpi_status, action.message)
        elif isinstance(action, Heal):
            self.state.served(action.platform).faults.clear()
        elif isinstance(action, Resync):
            member, kind = self.state.platform(action.platform)
            if kind != "emsp":
                raise StepError("resync is what an eMSP app does: name '<member> app'")
            report = await member.emsp.resync()
            self.state.echo(f"             pulled {_inline_report(report)}")
        elif isinstance(action, Send):
            await self._send(action)
        elif isinstance(action, Join):
            await fed.join(action, self.state.echo)
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
        self.state.echo(f"             the app sees {kind} {done.state}{detail}")

    async def _advance(self, action: Advance) -> None:
        running = [m for m in self.state.fed.members if m.online]
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
            await self.state.fed.step(chunk)
            total -= chunk

    async def _send(self, action: Send) -> None:
        member, kind = self.state.platform(action.from_)
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
                action.method, url, json_body=action.body, to=self.state.party(action.to)
            )
            response = Response(answer.status_code, answer.http_status, answer.status_message or "")
        except OcpiError as exc:
            response = Response(exc.status_code, exc.http_status, exc.message)
        self.state.responses[action.name] = response
        self.state.echo(
            f"             {action.from_} got {response.ocpi_status}: {response.message}"
        )


def _card_of(member: Member | None, driver_id: str) -> str:
    if member is None:
        raise StepError("whose card? say card: <member> or <member>/<driver>")
    for driver in member.spec.drivers():
        if driver["id"] == driver_id:
            for token in driver["tokens"]:
                if token["type"] == "RFID":
                    return str(token["uid"])
    raise StepError(f"{member.spec.name} driver {driver_id} has no RFID card")


def _inline_report(report: dict[str, Any]) -> str:
    parts = []
    for key, value in report.items():
        if isinstance(value, dict):
            parts.append(f"{key} {value.get('pulled', '')}")
    return ", ".join(parts)
