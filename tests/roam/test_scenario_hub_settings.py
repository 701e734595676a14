"""A scenario's hub settings go through `Hub.reconfigure`: only those a running hub can change
fully are accepted, and the rest stop the run before anything starts (docs/scenarios.md)."""

from __future__ import annotations

from typing import Any

import pytest

from roam.scenario.format import parse_scenario
from roam.scenario.runner import run_scenario

STEPS = [{"advance": "1m"}, {"expect": {"settlement": "balanced", "balanced": True}}]


@pytest.mark.parametrize(
    ("hub", "problem"),
    [
        ({"port": 9000}, "federation.hub: port cannot change on a running hub"),
        ({"accept_raw_tokens": True}, "accept_raw_tokens cannot change on a running hub"),
        ({"planet": "x"}, "federation.hub: unknown hub settings planet"),
        ({"forward_timeout": 0}, "forward_timeout"),
    ],
)
async def test_hub_settings_a_running_hub_cannot_take_stop_the_run_first(
    hub: dict[str, Any], problem: str
) -> None:
    scenario = parse_scenario({"name": "x", "federation": {"hub": hub}, "steps": STEPS}, "x.yaml")
    lines: list[str] = []
    outcome = await run_scenario(scenario, lines.append)
    assert outcome.error is not None and problem in outcome.error, outcome.error
    assert not outcome.results
    assert not any("federation up" in line for line in lines)  # nothing was started
