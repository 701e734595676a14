"""The expectations of a scenario (docs/scenarios.md, "Expectations"): what each subject
looks like now, and whether every wanted key holds, retried until `within` has passed. Each
is observed through the platforms' HTTP APIs (the CPOs' control API, the eMSPs' app API, the
hub's admin API)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from roam.federation.clients import ApiError
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
            except (StepError, ApiError) as exc:
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
                "state": command["state"],
                "response": command.get("response"),
                "message_contains": _contains(wanted, "message_contains", command.get("message")),
            }
        if subject == "swipe":
            charge = self.state.charge(str(target))
            if not charge.swipes:
                raise StepError(f"nobody swiped a card for charge {charge.name}")
            swipe = charge.swipes[-1]
            return {
                "result": swipe["result"],
                "auth_method": swipe.get("auth_method"),
                "reason_contains": _contains(wanted, "reason_contains", swipe.get("reason")),
            }
        if subject == "session":
            charge = self.state.charge(str(target))
            return await self._session(charge, str(wanted.get("seen_by", "app")))
        if subject == "cdr":
            return await self._cdr(self.state.charge(str(target)))
        if subject == "invoice":
            return await self._invoice(self.state.charge(str(target)))
        if subject == "quote":
            charge = self.state.charge(str(target))
            if charge.quote is None:
                return {"incl_vat": None, "excl_vat": None}
            price = charge.quote["price"]
            return {"incl_vat": price.get("incl_vat"), "excl_vat": price.get("excl_vat")}
        if subject == "settlement":
            return await self._settlement(target)
        if subject == "hub_saw":
            return {"count": await self._count(dict(target))}
        if subject == "client_info":
            return await self._client_info(dict(target))
        if subject == "platform":
            return await self._platform(str(target))
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
            charge = self.state.charge(str(target))
            return await self._evse(charge, str(wanted.get("seen_by", "app")))
        raise StepError(f"cannot observe {subject}")  # pragma: no cover

    async def _session(self, charge: Charge, seen_by: str) -> dict[str, Any]:
        session_id = await self.state.session_of(charge)
        member, kind = self.state.viewer(charge, seen_by)
        session: dict[str, Any] | None = None
        if kind == "cpo":
            if member.online and session_id is not None:
                found = await member.control.session(session_id)
                session = found["session"] if found is not None else None
        else:
            cpo = charge.cpo.spec.cpo
            where = {"country_code": cpo.country_code, "party_id": cpo.party_id}
            if session_id is not None:
                where["id"] = session_id
            else:
                where.update(location_id=charge.location_id, evse_uid=charge.evse_uid)
            held = await self.state.app_sessions(member, **where)
            session = held[0] if held else None
        if session is None:
            return {"exists": False, "status": None, "kwh": None, "auth_method": None}
        return {
            "exists": True,
            "status": session["status"],
            "kwh": session["kwh"],
            "auth_method": session["auth_method"],
        }

    async def _cdr_of(self, charge: Charge) -> dict[str, Any] | None:
        """The CDR of the charge's session as the driver's eMSP holds it."""
        session_id = await self.state.session_of(charge)
        if charge.driver is None or session_id is None:
            return None
        held = await self.state.app_cdrs(charge.driver, session_id=session_id)
        return held[0] if held else None

    async def _cdr(self, charge: Charge) -> dict[str, Any]:
        cdr = await self._cdr_of(charge)
        if cdr is None:
            return {"exists": False}
        total = cdr["total_cost"]
        return {
            "exists": True,
            "total_incl_vat": total.get("incl_vat"),
            "total_excl_vat": total.get("excl_vat"),
            "currency": cdr["currency"],
            "energy": cdr["total_energy"],
            "parking_hours": cdr.get("total_parking_time") or 0,
            "equals_quote": await self._requote(charge, cdr),
            "periods": len(cdr["charging_periods"]),
        }

    async def _requote(self, charge: Charge, cdr: dict[str, Any]) -> bool:
        """Whether the CDR's total is what the app quotes for the session delivered."""
        if charge.driver is None:
            return False
        if not charge.driver.emsp_served.running:
            raise StepError(f"{charge.driver.spec.name} app is offline: it quotes nothing")
        parking = Decimal(str(cdr.get("total_parking_time") or 0))
        charging = Decimal(str(cdr["total_time"])) - parking
        cpo = charge.cpo.spec.cpo
        try:
            quote = await charge.driver.app.quote(
                {
                    "country_code": cpo.country_code,
                    "party_id": cpo.party_id,
                    "location_id": charge.location_id,
                    "evse_uid": charge.evse_uid,
                    "connector_id": charge.connector_id,
                    "energy_kwh": str(cdr["total_energy"]),
                    "charging_minutes": str(charging * 60),
                    "parking_minutes": str(parking * 60),
                    "start": cdr["start_date_time"],
                }
            )
        except ApiError:
            return False
        if quote.get("free"):
            return False
        price, total = quote.get("price") or {}, cdr["total_cost"]
        if "incl_vat" not in total:
            # A CDR from a 2.1.1 CPO states its cost excluding VAT only: that is compared.
            return bool(price.get("excl_vat") == total["excl_vat"])
        return bool(price == total)

    async def _invoice(self, charge: Charge) -> dict[str, Any]:
        session_id = await self.state.session_of(charge)
        none = {"status": None, "total_incl_vat": None, "equals_cdr": False}
        if charge.driver is None or session_id is None:
            return none
        invoices = await self.state.app_invoices(charge.driver, charge.driver_id)
        invoice = next((i for i in invoices if i.get("session_id") == session_id), None)
        if invoice is None:
            return none
        total = invoice.get("total") or {}
        cdr = await self._cdr_of(charge)
        return {
            "status": invoice["status"],
            "total_incl_vat": total.get("incl_vat"),
            "equals_cdr": cdr is not None and total == cdr["total_cost"],
        }

    async def _settlement(self, target: Any) -> dict[str, Any]:
        if target == "balanced":
            return {"balanced": (await settlement_table(self.state.fed))[1]}
        if not isinstance(target, dict) or set(target) - {"emsp", "cpo"}:
            raise StepError("settlement: say balanced, or {emsp: <member>, cpo: <member>}")
        lines = await self.state.fed.admin.settlement()
        if "emsp" in target:
            emsp = str(self.state.member(str(target["emsp"])).spec.emsp)
            lines = [line for line in lines if line["emsp"] == emsp]
        if "cpo" in target:
            cpo = str(self.state.member(str(target["cpo"])).spec.cpo)
            lines = [line for line in lines if line["cpo"] == cpo]
        return {
            "cdrs": sum(int(line["cdr_count"]) for line in lines),
            "incl_vat": sum((Decimal(str(line["incl_vat"])) for line in lines), Decimal(0)),
            "excl_vat": sum((Decimal(str(line["excl_vat"])) for line in lines), Decimal(0)),
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

    async def _client_info(self, where: dict[str, Any]) -> dict[str, Any]:
        if set(where) != {"seen_by", "party"}:
            raise StepError("client_info: say {seen_by: <member> app, party: <platform>}")
        member, kind = self.state.platform(str(where["seen_by"]))
        if kind != "emsp":
            raise StepError("client_info: seen_by names an app ('<member> app')")
        party = self.state.party(str(where["party"]))
        return {"status": await self.state.app_party_status(member, party)}

    async def _platform(self, text: str) -> dict[str, Any]:
        """The hub's view of a member platform (admin API `GET /admin/parties`): the OCPI
        version it registered with and its party's status."""
        party = self.state.party(text)
        for admin in self.state.fed.admins:  # the hub instance it registered with knows
            for row in await admin.parties():
                if (row["country_code"], row["party_id"]) == (party.country_code, party.party_id):
                    return {"version": row["version"], "status": row["status"]}
        return {"version": None, "status": None}

    async def _evse(self, charge: Charge, seen_by: str) -> dict[str, Any]:
        member, kind = self.state.viewer(charge, seen_by)
        status = None
        if kind == "cpo":
            if member.online:
                sim = await member.control.evse(charge.location_id, charge.evse_uid)
                status = sim["status"] if sim is not None else None
        else:
            status = await self.state.app_evse_status(
                member, charge.cpo.spec.cpo, charge.location_id, charge.evse_uid
            )
        return {"status": status}


def _contains(wanted: dict[str, Any], key: str, text: str | None) -> str | None:
    """The text a `*_contains` check looks in (the check is a substring test)."""
    return text if key in wanted else None


def _holds(key: str, wanted: Any, actual: Any) -> bool:
    if key.endswith("_contains"):
        return actual is not None and str(wanted) in str(actual)
    return match(wanted, actual)


def _show(value: Any) -> str:
    return "nothing" if value is None else str(value)
