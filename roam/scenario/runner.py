"""Running a scenario (docs/scenarios.md): a federation comes up, the steps play on the CPOs'
simulated clocks, every expectation is checked, and every message the hub saw is printed on
a timeline.

The federation is `roam demo`'s (roam/federation/runtime.py): the hub and every member's CPO and
eMSP each a process of its own (or, `processes=False`, all served in this process), on
loopback ports, real HTTP and real handshakes. The runner drives them only through their own
HTTP APIs (roam/federation/clients.py: the CPOs' control API, the eMSPs' app API, the hub's
admin API), as a person would, and flips the fault switches in front of each platform
(offline, slow, failing), so a run plays the same in either mode.

Its parts: `scenario_state` (the run's shared state and name lookups), `scenario_actions`
(the steps), `scenario_checks` (the expectations), `scenario_timeline` (the hub's messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hub.settings import LIVE_SETTINGS, HubSettings
from roam.federation.clients import ApiError
from roam.federation.runtime import DemoError, Echo, Federation, demo_folder, start_federation
from roam.federation.spec import FederationSpec, load_federation
from roam.scenario.actions import Actions
from roam.scenario.checks import Checks, Result
from roam.scenario.format import Expectation, Scenario
from roam.scenario.state import RunState, StepError
from roam.scenario.timeline import Timeline


@dataclass
class Outcome:
    scenario: Scenario
    results: list[Result] = field(default_factory=list)
    error: str | None = None
    """Why the run stopped early (a step that could not run, a federation that did not
    come up); None when every step ran."""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.results) and all(r.ok for r in self.results)

    @property
    def failures(self) -> list[str]:
        found = [f"{r.name} — {r.detail}" for r in self.results if not r.ok]
        if self.error is not None:
            found.append(self.error)
        return found


class Run:
    """One scenario against one running federation: plays the steps in order."""

    def __init__(self, scenario: Scenario, fed: Federation, echo: Echo) -> None:
        self.scenario = scenario
        self.fed = fed
        self.echo = echo
        self.outcome = Outcome(scenario)
        self.state = RunState(scenario, fed, echo)
        self.timeline = Timeline(fed, echo)
        self.actions = Actions(self.state)
        self.checks = Checks(self.state, self.timeline)

    async def play(self) -> Outcome:
        await self.state.prepare()
        await self.timeline.start(self.state.hub)
        # The simulated time shown with each step: read again after each action (only actions
        # move the clocks), not before every expectation.
        now = await self.timeline.now()
        for step in self.scenario.steps:
            note = f"  ({step.note})" if step.note else ""
            if isinstance(step.action, Expectation):
                result = await self.checks.check(step, step.action)
                self.outcome.results.append(result)
                mark = "ok" if result.ok else "FAILED"
                self.echo(f"  {now}  step {step.number:>2}  [{mark}] {result.label}{note}")
                if not result.ok:
                    self.echo(f"                          {result.detail}")
                continue
            self.echo(f"  {now}  step {step.number:>2}  {step.describe()}{note}")
            try:
                await self.actions.act(step)
                await self.fed.settle(2)
            except StepError as exc:
                self.outcome.error = f"step {step.number} ({step.describe()}): {exc}"
            except (ApiError, httpx.HTTPError, DemoError, LookupError) as exc:
                self.outcome.error = f"step {step.number} ({step.describe()}): {exc}"
            await self.timeline.print_messages()
            if self.outcome.error is not None:
                self.echo(f"  stopped: {self.outcome.error}")
                break
            now = await self.timeline.now()
        return self.outcome


def _check_hub_settings(scenario: Scenario) -> None:
    """Before anything starts: the scenario's hub settings exist, may change on a running
    hub (they apply once everyone is connected) and have valid values."""
    wanted = scenario.federation.hub
    unknown = sorted(set(wanted) - set(HubSettings.model_fields))
    if unknown:
        raise ValueError(f"federation.hub: unknown hub settings {', '.join(unknown)}")
    fixed = sorted(set(wanted) - LIVE_SETTINGS)
    if fixed:
        raise ValueError(
            f"federation.hub: {', '.join(fixed)} cannot change on a running hub "
            f"(a scenario may set {', '.join(sorted(LIVE_SETTINGS))})"
        )
    HubSettings.model_validate(wanted)


def federation_of(scenario: Scenario) -> FederationSpec:
    section = scenario.federation
    if section.members is not None:
        spec = FederationSpec(alliance=scenario.name, members=section.members)
    else:
        path = None
        if section.file is not None:
            path = (scenario.folder or Path.cwd()) / section.file
        spec = load_federation(path)
    if section.start is not None:
        spec = spec.model_copy(update={"start": section.start})
    return spec


async def run_scenario(
    scenario: Scenario,
    echo: Echo = print,
    keep: Path | None = None,
    *,
    hub_database_url: str | None = None,
    hub_instances: int = 1,
    processes: bool = False,
) -> Outcome:
    """Bring up the scenario's federation, play it, stop everything; never raises for a
    scenario that fails (the outcome says why). `hub_database_url` puts the hub on that
    database (default: SQLite in the run's folder); `hub_instances` > 1 runs that many hub
    instances on it (PostgreSQL), the members spread over them; `processes` runs the hub
    and every member's CPO and eMSP as processes of their own (`roam scenario run` does),
    otherwise all in this process."""
    began = time.perf_counter()
    outcome = Outcome(scenario)
    echo(f"scenario: {scenario.name} ({scenario.origin})")
    if scenario.about:
        echo(f"  {scenario.about.strip()}")
    with demo_folder(keep) as folder:
        fed: Federation | None = None
        try:
            _check_hub_settings(scenario)
            spec = federation_of(scenario)
            quiet: list[str] = []
            fed, sync_s = await start_federation(
                spec,
                scenario.federation.scale,
                folder,
                quiet.append,
                hub_overrides={"database_url": hub_database_url} if hub_database_url else None,
                hub_instances=hub_instances,
                processes=processes,
            )
            if scenario.federation.hub:
                # Applied once everyone is connected and synced (admin API PATCH
                # /admin/settings): a short forward_timeout is for the story, not for the
                # platforms starting at once and syncing.
                await fed.reconfigure_hub(**scenario.federation.hub)
            states = await asyncio.gather(*(m.control.state() for m in fed.members))
            stations = sum(int(state["locations"]) for state in states)
            echo(
                f"  federation up: hub and {len(fed.members)} members, {stations} stations "
                f"synced in {sync_s:.1f} s ({await fed.hops_sent()} messages, not shown)"
            )
            outcome = await Run(scenario, fed, echo).play()
        except (DemoError, ApiError, ValueError, OSError) as exc:
            outcome.error = f"the federation did not come up: {exc}"
            echo(f"  {outcome.error}")
        finally:
            if fed is not None:
                with contextlib.suppress(Exception):
                    await fed.stop()
    outcome.seconds = time.perf_counter() - began
    held = sum(1 for r in outcome.results if r.ok)
    echo(
        f"  {'PASSED' if outcome.passed else 'FAILED'}: {held}/{len(outcome.results)} "
        f"expectations held ({outcome.seconds:.1f} s)"
    )
    for failure in outcome.failures:
        echo(f"    FAILED {failure}")
    return outcome
