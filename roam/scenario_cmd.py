"""`roam scenario run FILE...`: play scripted roaming scenarios (docs/scenarios.md).

Each file gets a federation of its own: the hub and every member's CPO and eMSP run as
processes of their own, supervised by this one (`--in-process`: all in this one process).
The timeline of steps, checks and routed messages is printed as it happens; `--junit` writes
one test case per expectation. Exit status 0 when every expectation of every file held, 1
when one failed (named in the summary), 2 when a file cannot be read.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Annotated

import typer

from roam.scenario.format import Scenario, ScenarioError, load_scenario
from roam.scenario.runner import Outcome, run_scenario

scenario_app = typer.Typer(
    help="Scripted roaming scenarios: steps on a simulated clock and what must then hold.",
    no_args_is_help=True,
)


def junit_xml(outcomes: list[Outcome]) -> str:
    """JUnit XML: a testsuite per scenario file, a testcase per expectation; a step that
    could not run is an error case of its own."""
    root = ET.Element("testsuites", name="roam scenarios")
    for outcome in outcomes:
        failures = sum(1 for r in outcome.results if not r.ok)
        errors = int(outcome.error is not None)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=outcome.scenario.name,
            file=outcome.scenario.origin,
            tests=str(len(outcome.results) + errors),
            failures=str(failures),
            errors=str(errors),
            time=f"{outcome.seconds:.3f}",
        )
        classname = Path(outcome.scenario.origin).stem or "scenario"
        for result in outcome.results:
            case = ET.SubElement(suite, "testcase", classname=classname, name=result.name)
            if not result.ok:
                failure = ET.SubElement(case, "failure", message=result.detail)
                failure.text = f"{result.name}\n{result.detail}"
        if outcome.error is not None:
            case = ET.SubElement(suite, "testcase", classname=classname, name="run")
            error = ET.SubElement(case, "error", message=outcome.error)
            error.text = outcome.error
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


async def run_all(
    scenarios: list[Scenario], keep: Path | None, processes: bool = True
) -> list[Outcome]:
    outcomes = []
    for scenario in scenarios:
        outcomes.append(await run_scenario(scenario, typer.echo, keep, processes=processes))
        typer.echo("")
    return outcomes


@scenario_app.command("run")
def run_command(
    files: Annotated[list[Path], typer.Argument(help="Scenario files (YAML).")],
    junit: Annotated[
        Path | None, typer.Option(help="Write JUnit XML here (a test case per expectation).")
    ] = None,
    keep: Annotated[
        Path | None,
        typer.Option(help="Keep the databases in this folder (emptied per scenario)."),
    ] = None,
    in_process: Annotated[
        bool,
        typer.Option(
            "--in-process",
            help="Run the hub and every platform in this process (one core) instead of each "
            "as a process of its own.",
        ),
    ] = False,
) -> None:
    """Run scenario files, each against a federation of its own; exit 1 if any expectation
    failed."""
    try:
        scenarios = [load_scenario(path) for path in files]
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        outcomes = asyncio.run(run_all(scenarios, keep, processes=not in_process))
    except KeyboardInterrupt:
        typer.echo("interrupted: everything stopped")
        raise typer.Exit(130) from None
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(outcomes), encoding="utf-8")
    passed = [o for o in outcomes if o.passed]
    checks = sum(len(o.results) for o in outcomes)
    held = sum(1 for o in outcomes for r in o.results if r.ok)
    typer.echo(
        f"scenarios: {len(passed)}/{len(outcomes)} passed, {held}/{checks} expectations held"
    )
    for outcome in outcomes:
        for failure in outcome.failures:
            typer.echo(f"FAILED {outcome.scenario.origin}: {failure}")
    raise typer.Exit(0 if len(passed) == len(outcomes) else 1)
