"""The steps of a scenario (docs/scenarios.md, "Steps"): each action carried out on the
federation through the platforms' own HTTP APIs (the CPOs' control API, the eMSPs' app API,
the hub's admin API: roam/federation/clients.py), or a platform's fault switches flipped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from ocpi.v221.types import format_datetime
from roam.federation.clients import ApiError, CpoControl, EmspApp
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


class Actions:
    """Carries out a scenario's action steps on the run's state."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    async def act(self, step: Step) -> None:
        action = step.action
        fed = self.state.fed
        if isinstance(action, QuoteStep):
            charge = await self.state.named(action)
            app = self._app_of(charge)
            cpo = charge.cpo.spec.cpo
            quote = await app.quote(
                {
                    "country_code": cpo.country_code,
                    "party_id": cpo.party_id,
                    "location_id": charge.location_id,
                    "evse_uid": charge.evse_uid,
                    "connector_id": charge.connector_id,
                    "energy_kwh": str(action.kwh),
                    "charging_minutes": str(action.minutes),
                    "parking_minutes": str(action.idle_minutes),
                    "start": format_datetime(await self.state.clock(charge.cpo)),
                }
            )
            charge.quote = None if quote.get("free") else quote
            if charge.quote is not None:
                price = charge.quote["price"]
                self.state.echo(
                    f"             quote {price.get('excl_vat')} excl. VAT / "
                    f"{price.get('incl_vat')} incl. VAT {charge.quote['currency']} "
                    f"(tariff {charge.quote['tariff_id']})"
                )
        elif isinstance(action, Start):
            charge = await self.state.named(action)
            app = self._app_of(charge)
            command = await app.start(
                charge.driver_id,
                charge.cpo.spec.cpo,
                charge.location_id,
                charge.evse_uid,
                charge.connector_id,
            )
            self._command(charge, "start", command)
        elif isinstance(action, Reserve):
            charge = await self.state.named(action)
            app = self._app_of(charge)
            until = await self.state.clock(charge.cpo) + timedelta(minutes=float(action.minutes))
            evse = None if action.whole_location else charge.evse_uid
            command = await app.reserve(
                charge.driver_id,
                charge.cpo.spec.cpo,
                charge.location_id,
                evse,
                format_datetime(until),
            )
            self._command(charge, "reserve", command)
        elif isinstance(action, Stop):
            charge = self.state.charge(action.charge)
            app = self._app_of(charge)
            session_id = await self.state.session_of(charge)
            if session_id is None:
                raise StepError(f"charge {charge.name} has no session to stop")
            self._command(charge, "stop", await app.stop(charge.driver_id, session_id))
        elif isinstance(action, Plug):
            charge = await self.state.named(action)
            car = {"preset": action.car} if isinstance(action.car, str) else dict(action.car)
            await self._cpo_call(
                charge,
                lambda cpo: cpo.plug(charge.location_id, charge.evse_uid, charge.connector_id, car),
            )
        elif isinstance(action, Unplug):
            charge = self.state.charge(action.charge)
            await self.state.session_of(charge)
            await self._cpo_call(
                charge, lambda cpo: cpo.unplug(charge.location_id, charge.evse_uid)
            )
        elif isinstance(action, Swipe):
            charge = await self.state.named(action, action.card)
            member, driver_id = (
                self.state.driver(action.card) if action.card else (charge.driver, charge.driver_id)
            )
            uid = _card_of(member, driver_id)
            outcome: dict[str, Any] = await self._cpo_call(
                charge, lambda cpo: cpo.swipe(charge.location_id, charge.evse_uid, uid)
            )
            charge.swipes.append(outcome)
            if outcome.get("session_id"):
                charge.session_id = str(outcome["session_id"])
            self.state.echo(
                f"             the charger says {outcome['result']}: {outcome['reason']}"
            )
        elif isinstance(action, Advance):
            await self._advance(action)
        elif isinstance(action, Offline):
            member, kind = self.state.platform(action.platform)
            await fed.settle(1)
            if kind == "cpo":
                await self.state.remember_free(member)
            else:
                await self.state.freeze_app(member)
            await self.state.served(action.platform).stop()
        elif isinstance(action, Online):
            member, kind = self.state.platform(action.platform)
            await (member.start_cpo() if kind == "cpo" else member.start_emsp())
        elif isinstance(action, Slow):
            _, answer = self.state.faults_of(action.platform)
            await self.state.switch(action.platform, action.seconds, answer)
        elif isinstance(action, Fail):
            delay, _ = self.state.faults_of(action.platform)
            answer = (action.http_status, action.ocpi_status, action.message)
            await self.state.switch(action.platform, delay, answer)
        elif isinstance(action, Heal):
            await self.state.switch(action.platform, 0.0, None)
        elif isinstance(action, Resync):
            member, kind = self.state.platform(action.platform)
            if kind != "emsp":
                raise StepError("resync is what an eMSP app does: name '<member> app'")
            if not member.emsp_served.running:
                raise StepError(f"{member.spec.name} app is offline")
            report = await member.app.resync()
            self.state.echo(f"             pulled {_inline_report(report)}")
        elif isinstance(action, Send):
            await self._send(action)
        elif isinstance(action, Join):
            await fed.join(action, self.state.echo)
        elif isinstance(action, Wait):
            await asyncio.sleep(seconds(action.real))
        else:  # pragma: no cover - parse_scenario knows every action
            raise StepError(f"cannot run {step.kind}")

    def _app_of(self, charge: Charge) -> EmspApp:
        if charge.driver is None:
            raise StepError(f"charge {charge.name} has no app driver")
        if not charge.driver.emsp_served.running:
            raise StepError(f"{charge.driver.spec.name} app is offline")
        return charge.driver.app

    async def _cpo_call(
        self, charge: Charge, call: Callable[[CpoControl], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        if not charge.cpo.online:
            raise StepError(f"{charge.cpo.spec.name} CPO is offline: nobody is at the charger")
        try:
            return await call(charge.cpo.control)
        except ApiError as exc:
            raise StepError(str(exc)) from None

    def _command(self, charge: Charge, kind: str, command: dict[str, Any]) -> None:
        """Note the command as the app reports it once it has an outcome (the app waits for
        the CommandResult, or its command timeout)."""
        charge.commands[kind] = command
        charge.last_command = kind
        detail = f" ({command['message']})" if command.get("message") else ""
        self.state.echo(f"             the app sees {kind} {command['state']}{detail}")

    async def _advance(self, action: Advance) -> None:
        now = await self.state.clock()
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
        if not self.state.served(action.from_).running:
            raise StepError(f"{action.from_} is offline")
        request = {
            "to": str(self.state.party(action.to)),
            "module": action.module,
            "interface": action.interface,
            "method": action.method,
            "path": action.path,
            "body": action.body,
        }
        try:
            if kind == "cpo":
                answer = await member.control.send(request)
            else:
                answer = await member.app.send(request)
        except ApiError as exc:
            raise StepError(str(exc)) from None
        response = Response(answer["ocpi_status"], answer["http_status"], answer["message"])
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
