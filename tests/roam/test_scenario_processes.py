"""`roam scenario run` runs the hub and every member's CPO and eMSP as processes of their own
(issue 13), the runner driving them only through their HTTP APIs: representative shipped
scenarios pass that way. Fault switches set over HTTP in front of a CPO process and hub
settings changed through the admin API (slow_member), a member joining mid-run as two new
processes (onboarding_mid_run). The two run side by side to keep the test short (each brings
up a federation of nine processes; a third, 27 processes starting on two cores, took the test
past a minute). A process stopped and started again is the demo's story 4
(tests/roam/test_demo_processes.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from roam import scenario_cmd
from roam.cli import app
from roam.scenario.format import Scenario, load_scenario
from roam.scenario.runner import Outcome, run_scenario
from tests.roam.test_scenarios import FOLDER

REPRESENTATIVE = ("slow_member.yaml", "onboarding_mid_run.yaml")


async def test_representative_scenarios_pass_with_every_platform_a_process(
    tmp_path: Path,
) -> None:
    lines: dict[str, list[str]] = {name: [] for name in REPRESENTATIVE}
    outcomes = await asyncio.gather(
        *(
            run_scenario(
                load_scenario(FOLDER / name),
                lines[name].append,
                keep=tmp_path / Path(name).stem,
                processes=True,
            )
            for name in REPRESENTATIVE
        )
    )
    for name, outcome in zip(REPRESENTATIVE, outcomes, strict=True):
        text = "\n".join(lines[name])
        assert outcome.passed, f"{name}\n{text}"
        assert outcome.results and all(r.ok for r in outcome.results)
    # Every platform was a process of its own, logging to the run's folder: the hub and four
    # members' CPO and eMSP, and for onboarding_mid_run the joining member's two.
    logs = {
        name: sorted(p.name for p in (tmp_path / Path(name).stem / "logs").glob("*.log"))
        for name in REPRESENTATIVE
    }
    assert len(logs["slow_member.yaml"]) == 9, logs
    assert "ionity-cpo.log" in logs["slow_member.yaml"]
    assert len(logs["onboarding_mid_run.yaml"]) == 11, logs
    assert {"nordlys-cpo.log", "nordlys-emsp.log"} <= set(logs["onboarding_mid_run.yaml"])


@pytest.mark.parametrize(("flags", "processes"), [([], True), (["--in-process"], False)])
def test_the_command_runs_platforms_as_processes_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], processes: bool
) -> None:
    seen: list[bool] = []

    async def fake_run(scenario: Scenario, *args: Any, **options: Any) -> Outcome:
        seen.append(options["processes"])
        return Outcome(scenario, error="not run (test)")

    monkeypatch.setattr(scenario_cmd, "run_scenario", fake_run)
    result = CliRunner().invoke(
        app, ["scenario", "run", str(FOLDER / "unknown_receiver.yaml"), *flags]
    )
    assert result.exit_code == 1, result.output
    assert seen == [processes]
