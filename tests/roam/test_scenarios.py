"""The shipped scenarios (scenarios/*.yaml) run against a real federation on loopback, and
each has a failing twin — the same scenario with one expectation deliberately wrong, cut
after that step — that must fail naming exactly that expectation."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from typer.testing import CliRunner

from roam.cli import app
from roam.scenario.format import ScenarioError, load_scenario, match, parse_scenario, seconds
from roam.scenario.runner import run_scenario

FOLDER = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = sorted(FOLDER.glob("*.yaml"))

TWINS: dict[str, tuple[int, str, Any]] = {
    "app_start_stop.yaml": (14, "cdrs", 2),
    "blocked_token.yaml": (3, "result", "ALLOWED"),
    "emsp_offline_resync.yaml": (6, "status", "CHARGING"),
    "idle_fee.yaml": (9, "parking_hours", 0),
    "member_offline.yaml": (3, "message_contains", "4002"),
    "mixed_versions.yaml": (1, "version", "2.2.1"),
    "onboarding_mid_run.yaml": (17, "cdrs", 0),
    "reservation_then_start.yaml": (7, "state", "ACCEPTED"),
    "rfid_realtime_authorization.yaml": (3, "auth_method", "WHITELIST"),
    "rfid_start_app_stop.yaml": (7, "state", "REJECTED"),
    "slow_member.yaml": (3, "message_contains", "4003"),
    "tariff_time_of_day.yaml": (11, "total_excl_vat", "11.70"),
    "unknown_receiver.yaml": (2, "ocpi_status", 4003),
}
"""Scenario file -> (step number, key of its expectation, the wrong value the twin wants)."""


def _twin(name: str) -> tuple[dict[str, Any], int, str, Any]:
    data = yaml.safe_load((FOLDER / name).read_text(encoding="utf-8"))
    step, key, wrong = TWINS[name]
    twin = copy.deepcopy(data)
    expectation = twin["steps"][step - 1]["expect"]
    assert key in expectation, f"{name} step {step} checks no {key}"
    assert str(expectation[key]) != str(wrong)
    expectation[key] = wrong
    twin["steps"] = twin["steps"][:step]
    return twin, step, key, wrong


def test_the_twelve_scenarios_of_the_issue_ship_each_with_a_twin() -> None:
    assert len(SHIPPED) >= 12
    assert {p.name for p in SHIPPED} == set(TWINS)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
async def test_shipped_scenario_passes(path: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    outcome = await run_scenario(load_scenario(path), lines.append, keep=tmp_path)
    assert outcome.passed, "\n".join(lines)
    assert outcome.results and all(r.ok for r in outcome.results)
    assert "[FAILED]" not in "\n".join(lines)


@pytest.mark.parametrize("name", sorted(TWINS), ids=lambda n: Path(n).stem)
async def test_failing_twin_fails_naming_the_broken_expectation(name: str, tmp_path: Path) -> None:
    data, step, key, wrong = _twin(name)
    lines: list[str] = []
    scenario = parse_scenario(data, f"{name} (twin)", FOLDER)
    outcome = await run_scenario(scenario, lines.append, keep=tmp_path)
    text = "\n".join(lines)
    assert not outcome.passed, text
    assert outcome.error is None, outcome.error
    failed = [r for r in outcome.results if not r.ok]
    assert [r.step for r in failed] == [step], text
    assert f"{key}: wanted {wrong}" in failed[0].detail
    assert f"FAILED step {step}: " in text


def test_the_command_exits_1_naming_the_expectation_and_writes_junit(tmp_path: Path) -> None:
    data, step, key, _ = _twin("unknown_receiver.yaml")
    twin = tmp_path / "twin.yaml"
    twin.write_text(yaml.safe_dump(data), encoding="utf-8")
    junit = tmp_path / "out" / "scenarios.xml"
    result = CliRunner().invoke(
        app,
        [
            "scenario",
            "run",
            str(FOLDER / "unknown_receiver.yaml"),
            str(twin),
            "--junit",
            str(junit),
            "--in-process",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "scenarios: 1/2 passed" in result.output
    assert f"FAILED {twin}: step {step}: response lost" in result.output
    root = ET.parse(junit).getroot()
    suites = root.findall("testsuite")
    assert [s.get("failures") for s in suites] == ["0", "1"]
    cases = suites[1].findall("testcase")
    assert len(cases) == sum(1 for raw in data["steps"] if "expect" in raw)
    failure = suites[1].find("testcase/failure")
    assert failure is not None and key in (failure.get("message") or "")


def test_the_command_refuses_a_broken_file_before_starting_anything(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nsteps:\n  - plug: s1\n  - teleport: s1\n  - expect: {cdr: s1, exists: true}\n"
    )
    result = CliRunner().invoke(app, ["scenario", "run", str(bad)])
    assert result.exit_code == 2
    assert "step 2: unknown action 'teleport'" in result.output


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ([{"advance": "25m", "plug": "s1"}], "step 1: one action per step"),
        ([{"advance": "soon"}], "step 1 (advance): 'soon' is not a duration"),
        ([{"expect": {"status": "ACTIVE"}}], "step 1: expect needs exactly one subject"),
        ([{"expect": {"session": "s1", "colour": "red"}}], "expect session cannot check colour"),
        ([{"expect": {"session": "s1", "seen_by": "cpo"}}], "says nothing that must hold"),
        ([{"expect": {"hub_saw": {"planet": "x"}}}], "hub_saw cannot filter on planet"),
        ([{"slow": {"platform": "IONITY CPO"}}], "step 1 (slow): seconds: Field required"),
        ([{"plug": "s1"}], "no expect step"),
    ],
)
def test_a_scenario_file_is_checked_step_by_step(steps: list[Any], problem: str) -> None:
    with pytest.raises(ScenarioError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_scenario({"name": "x", "steps": steps}, "x.yaml")


def test_the_federation_section_is_checked() -> None:
    with pytest.raises(ScenarioError, match="federation: scale"):
        parse_scenario(
            {
                "name": "x",
                "federation": {"scale": 0},
                "steps": [{"expect": {"cdr": "a", "exists": True}}],
            },
            "x",
        )
    member = {"name": "Volta", "country_code": "DE", "cpo_party_id": "VOC"}
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(
            {
                "name": "x",
                "federation": {"members": [{**member, "emsp_party_id": "VOA", "version": "9"}]},
                "steps": [{"expect": {"cdr": "a", "exists": True}}],
            },
            "x.yaml",
        )
    assert "x.yaml: federation: members.0 (Volta).version: Value error, unknown OCPI version" in (
        str(caught.value)
    )


@pytest.mark.parametrize(
    ("wanted", "actual", "holds"),
    [
        (">0", Decimal("0.01"), True),
        (">0", 0, False),
        (">=2", 2, True),
        ("<4", Decimal("3.99"), True),
        ("!=ACTIVE", "COMPLETED", True),
        ("!=ACTIVE", "ACTIVE", False),
        (16.2, Decimal("16.20"), True),
        ("16.20", Decimal("16.2"), True),
        (4001, 4001, True),
        ("ACTIVE", "active", False),
        (True, True, True),
        (True, 1, False),
        (">0", None, False),
    ],
)
def test_expected_values_compare_as_documented(wanted: Any, actual: Any, holds: bool) -> None:
    assert match(wanted, actual) is holds


def test_durations() -> None:
    assert [seconds(x) for x in ("90s", "25m", "1h30m", "2h", 45)] == [90, 1500, 5400, 7200, 45]
