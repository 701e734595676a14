"""The `roam` command loads a command's module only when that command runs: `roam hub …` does
not import the bench (uvloop, the aiohttp load generator), the conformance suite or the mocks."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from roam.cli import COMMANDS, app
from tests.processes import ROOT

HEAVY = ("roam.bench", "uvloop", "roam.conformance", "cpo_mock", "emsp_mock", "roam.federation")


def _modules_after(args: list[str]) -> list[str]:
    script = (
        "import json, sys; from typer.testing import CliRunner; from roam.cli import app; "
        f"result = CliRunner().invoke(app, {args!r}); assert result.exit_code == 0, result.output; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({HEAVY!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_roam_hub_imports_no_bench_conformance_suite_or_mock() -> None:
    assert _modules_after(["hub", "--help"]) == []
    assert _modules_after(["hub", "invite", "--help"]) == []
    assert _modules_after(["hub", "bench", "--help"]) == []  # the bench loads when it runs


def test_roam_conformance_loads_the_suite_and_nothing_else_heavy() -> None:
    loaded = _modules_after(["conformance", "--help"])
    assert "roam.conformance" in loaded
    assert [m for m in loaded if not m.startswith("roam.conformance")] == []


def test_roam_help_lists_every_command_in_order() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[1] for line in result.output.splitlines() if line.startswith("│ ")]
    assert [name for name in listed if name in COMMANDS] == list(COMMANDS)


def test_a_mistyped_command_gets_a_suggestion() -> None:
    result = CliRunner().invoke(app, ["hubb"])
    assert result.exit_code == 2
    assert "Did you mean 'hub'?" in result.output
