"""Mutants of money (issue 18, group 4): each breaks one rule of a mock member, and the run
must fail exactly the check of that rule, its message giving the difference in cents."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ocpi.v221 import Role
from tests.roam.conformance.conftest import conformance, member
from tests.roam.conformance.mutants import Answer, outbound, rebuilt, rewrite
from tests.roam.conformance.test_mutants import MUTANTS as ALL_MUTANTS
from tests.roam.conformance.test_mutants import Mutant, run_mutant


def _changed(request: httpx.Request, change: Any) -> httpx.Request:
    body = json.loads(request.content)
    change(body)
    return rebuilt(request, dict(request.headers), json.dumps(body).encode())


def _plus(amount: str) -> Any:
    def change(body: dict[str, Any]) -> None:
        cost = body.get("total_cost")
        if isinstance(cost, dict):
            for key in ("excl_vat", "incl_vat"):
                if key in cost:
                    cost[key] = float(Decimal(str(cost[key])) + Decimal(amount))

    return change


def _session_cost_too_high(request: httpx.Request) -> httpx.Request:
    if request.method not in ("PUT", "PATCH") or "/sessions/" not in request.url.path:
        return request
    return _changed(request, _plus("0.25"))


def _credit_not_negated(request: httpx.Request) -> httpx.Request:
    if request.method != "POST" or b'"credit":true' not in request.content.replace(b" ", b""):
        return request

    def positive(body: dict[str, Any]) -> None:
        cost = body["total_cost"]
        for key in ("excl_vat", "incl_vat"):
            cost[key] = abs(float(cost[key]))

    return _changed(request, positive)


def _credit_read_back_as_a_charge(answer: Answer) -> None:
    if answer.method == "GET" and "/cdrs/" in answer.path:
        body = answer.json()
        if isinstance(body.get("data"), dict):
            body["data"].pop("credit", None)
            body["data"].pop("credit_reference_id", None)
            answer.set_json(body)


MUTANTS = [
    Mutant("running total_cost 25 cents too high", Role.CPO, "money.session_cost",
           outbound=outbound(_session_cost_too_high)),
    Mutant("credit CDR with a positive total_cost", Role.CPO, "money.credit_cdr",
           outbound=outbound(_credit_not_negated)),
    Mutant("credit CDR read back without credit", Role.EMSP, "money.credit_received",
           rewrite(_credit_read_back_as_a_charge)),
]  # fmt: skip

CENTS = {
    "money.session_cost": "25 cents too high",
    "money.credit_cdr": "too high",
    "money.credit_received": "would bill it as a charge",
}


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
async def test_a_money_mutant_fails_exactly_its_check(
    mutant: Mutant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, _ = await run_mutant(mutant, tmp_path, monkeypatch)
    failed = report.failed[0]
    assert failed.check.spec and failed.evidence
    assert CENTS[mutant.breaks] in failed.message, failed.message


def test_every_money_check_has_a_mutant() -> None:
    from roam.conformance.money import CHECKS

    assert {m.breaks for m in MUTANTS} == {c.id for c in CHECKS}


async def test_a_mispriced_cdr_is_flagged_with_the_cent_difference_and_the_tariff(
    tmp_path: Path,
) -> None:
    (mutant,) = [m for m in ALL_MUTANTS if m.breaks == "cpo.cdr_priced"]
    async with member(mutant.role, tmp_path, outbound=mutant.outbound) as target:
        report = await conformance(target)
    (failed,) = report.failed
    assert "excl. VAT" in failed.message and "100 cents too high" in failed.message
    assert "tariff T1 (EUR: 1.0 per session + 19.0 % VAT, 0.5 per kWh" in failed.message
