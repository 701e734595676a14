"""The suite passes against this project's mock CPO and mock eMSP; what it skips, it skips
for the reason it gives (no car at the charger, no way to make the eMSP send a command)."""

from __future__ import annotations

from pathlib import Path

from ocpi.v221 import Role
from roam.conformance import Outcome, checks_for
from tests.roam.conformance.conftest import conformance, explain, member, outcomes


async def test_the_mock_cpo_passes_every_check(tmp_path: Path) -> None:
    async with member(Role.CPO, tmp_path) as cpo:
        report = await conformance(cpo)
    assert outcomes(report, Outcome.PASS) == {c.id for c in checks_for(Role.CPO)}, explain(report)
    assert report.exit_code == 0
    assert report.member_party == "DE/CPB"
    cpo_checks = [r for r in report.results if r.check.group == "cpo"]
    assert "C000001" in next(r.message for r in cpo_checks if r.check.id == "cpo.cdr")
    walked = next(r.message for r in report.results if r.check.id == "load.pagination_under_change")
    assert "ordering: stable, the changed LOC1 kept its place (#1)" in walked, walked
    assert "START_SESSION after page 1, STOP_SESSION after page 2" in walked


async def test_the_mock_emsp_passes_every_check(tmp_path: Path) -> None:
    async with member(Role.EMSP, tmp_path) as emsp:
        report = await conformance(emsp)
        commands = emsp.app.state.emsp.commands
    assert outcomes(report, Outcome.PASS) == {c.id for c in checks_for(Role.EMSP)}, explain(report)
    assert [c.state for c in commands.values()] == ["ACCEPTED"]  # our CommandResult arrived
    timed = next(r.message for r in report.results if r.check.id == "load.authorize_time")
    assert timed.startswith("p95 ") and "over 20 calls" in timed


async def test_without_a_car_the_session_checks_skip_saying_why(tmp_path: Path) -> None:
    async with member(Role.CPO, tmp_path, simulation={"auto_plug": False}) as cpo:
        report = await conformance(cpo, wait=0.5)
    skipped = outcomes(report, Outcome.SKIP)
    assert skipped == {
        "cpo.session",
        "cpo.stop_session",
        "cpo.cdr",
        "cpo.cdr_priced",
        "load.pagination_under_change",  # the suite's start changes nothing without a car
        "reservation.start_reserved",  # a reservation needs no car; charging does
        "profiles.set",
        "profiles.get",
        "profiles.clear",
        "profiles.charging_preferences",
        "money.session_cost",
        "money.credit_cdr",
    }
    assert not report.failed, explain(report)
    for check_id in ("cpo.session", "reservation.start_reserved"):
        reason = next(r.message for r in report.results if r.check.id == check_id)
        assert "does your test charger need a car plugged in?" in reason
    assert report.exit_code == 0


async def test_without_a_credit_hook_the_credit_check_skips_saying_why(tmp_path: Path) -> None:
    async with member(Role.CPO, tmp_path) as cpo:
        report = await conformance(cpo, credit=None)
    assert outcomes(report, Outcome.SKIP) == {"money.credit_cdr"}
    assert not report.failed, explain(report)
    reason = next(r.message for r in report.results if r.check.id == "money.credit_cdr")
    assert "--credit-command" in reason and "C000001" in reason


async def test_without_a_trigger_the_command_checks_skip(tmp_path: Path) -> None:
    async with member(Role.EMSP, tmp_path) as emsp:
        report = await conformance(emsp, trigger=None)
    assert outcomes(report, Outcome.SKIP) == {"emsp.command_sent", "emsp.command_result"}
    assert not report.failed, explain(report)
    reason = next(r.message for r in report.results if r.check.id == "emsp.command_sent")
    assert "--trigger-command" in reason and "CONF-LOC1" in reason
