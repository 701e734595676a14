"""The expectations of a scenario (docs/scenarios.md, "Expectations"): what each subject
looks like now, and whether every wanted key holds, retried until `within` has passed."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from emsp_mock.service import AppError
from ocpi.pricing import PlannedSession
from ocpi.v221.cdrs import CDR
from roam.federation.runtime import settlement_table
from roam.scenario.format import Expectation, Step, match
from roam.scenario.state import Charge, RunState, StepError
from roam.scenario.timeline import Timeline


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


class Checks:
    """Checks a scenario's expectations against the run's state and the hub's log."""

    def __init__(self, state: RunState, timeline: Timeline) -> None:
        self.state = state
        self.timeline = timeline

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
            await self.state.fed.settle(1)
            await asyncio.sleep(0.05)

    async def observe(self, e: Expectation) -> dict[str, Any]:
        subject, target, wanted = e.subject, e.target, e.wanted
        if subject == "command":
            charge = self.state.charge(str(target))
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
            charge = self.state.charge(str(target))
            if not charge.swipes:
                raise StepError(f"nobody swiped a card for charge {charge.name}")
            swipe = charge.swipes[-1]
            return {
                "result": swipe.result,
                "auth_method": swipe.auth_method.value if swipe.auth_method else None,
                "reason_contains": _contains(wanted, "reason_contains", swipe.reason),
            }
        if subject == "session":
            return self._session(self.state.charge(str(target)), str(wanted.get("seen_by", "app")))
        if subject == "cdr":
            return self._cdr(self.state.charge(str(target)))
        if subject == "invoice":
            return self._invoice(self.state.charge(str(target)))
        if subject == "quote":
            charge = self.state.charge(str(target))
            if charge.quote is None:
                return {"incl_vat": None, "excl_vat": None}
            return {
                "incl_vat": charge.quote.price.incl_vat,
                "excl_vat": charge.quote.price.excl_vat,
            }
        if subject == "settlement":
            return await self._settlement(target)
        if subject == "hub_saw":
            return {"count": await self._count(dict(target))}
        if subject == "client_info":
            return self._client_info(dict(target))
        if subject == "response":
            found = self.state.responses.get(str(target))
            if found is None:
                raise StepError(f"no send step named {target!r}")
            return {
                "ocpi_status": found.ocpi_status,
                "http_status": found.http_status,
                "message_contains": _contains(wanted, "message_contains", found.message),
            }
        if subject == "evse":
            return self._evse(self.state.charge(str(target)), str(wanted.get("seen_by", "app")))
        raise StepError(f"cannot observe {subject}")  # pragma: no cover

    def _session(self, charge: Charge, seen_by: str) -> dict[str, Any]:
        session_id = self.state.session_of(charge)
        member, kind = self.state.viewer(charge, seen_by)
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
        session_id = self.state.session_of(charge)
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
        session_id = self.state.session_of(charge)
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

    async def _settlement(self, target: Any) -> dict[str, Any]:
        if target == "balanced":
            return {"balanced": (await settlement_table(self.state.fed))[1]}
        if not isinstance(target, dict) or set(target) - {"emsp", "cpo"}:
            raise StepError("settlement: say balanced, or {emsp: <member>, cpo: <member>}")
        lines = self.state.fed.settlement()
        if "emsp" in target:
            emsp = self.state.member(str(target["emsp"])).spec.emsp
            lines = [line for line in lines if line.emsp == emsp]
        if "cpo" in target:
            cpo = self.state.member(str(target["cpo"])).spec.cpo
            lines = [line for line in lines if line.cpo == cpo]
        return {
            "cdrs": sum(line.cdr_count for line in lines),
            "incl_vat": sum((line.incl_vat for line in lines), Decimal(0)),
            "excl_vat": sum((line.excl_vat for line in lines), Decimal(0)),
            "balanced": (await settlement_table(self.state.fed))[1],
        }

    async def _count(self, where: dict[str, Any]) -> int:
        rows = await self.timeline.messages_seen()
        hop = str(where.get("hop", "inbound"))
        parties = {k: str(self.state.party(str(where[k]))) for k in ("from", "to") if k in where}
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
        member, kind = self.state.platform(str(where["seen_by"]))
        if kind != "emsp":
            raise StepError("client_info: seen_by names an app ('<member> app')")
        party = self.state.party(str(where["party"]))
        for info in member.emsp.parties.values():
            if (info.country_code, info.party_id) == (party.country_code, party.party_id):
                return {"status": info.status.value}
        return {"status": None}

    def _evse(self, charge: Charge, seen_by: str) -> dict[str, Any]:
        member, kind = self.state.viewer(charge, seen_by)
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


def _contains(wanted: dict[str, Any], key: str, text: str | None) -> str | None:
    """The text a `*_contains` check looks in (the check is a substring test)."""
    return text if key in wanted else None


def _holds(key: str, wanted: Any, actual: Any) -> bool:
    if key.endswith("_contains"):
        return actual is not None and str(wanted) in str(actual)
    return match(wanted, actual)


def _show(value: Any) -> str:
    return "nothing" if value is None else str(value)
