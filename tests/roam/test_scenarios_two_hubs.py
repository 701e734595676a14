"""The shipped scenarios pass with the hub as two instances on one PostgreSQL database, the
members spread over both (issue 14; docs/hub.md "Several instances"): member i registers with
instance i mod 2, so every roaming story crosses instances (a command accepted by one, its
result posted to the other; a broadcast accepted by one, delivered by the lane holder).

PostgreSQL only: skipped, saying so, without ROAM_TEST_POSTGRES_URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roam.scenario.format import load_scenario
from roam.scenario.runner import run_scenario
from tests.databases import postgres_database
from tests.roam.test_scenarios import SHIPPED

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_database()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
async def test_shipped_scenario_passes_on_two_hub_instances(
    path: Path, tmp_path: Path, pg_url: str
) -> None:
    lines: list[str] = []
    outcome = await run_scenario(
        load_scenario(path), lines.append, keep=tmp_path, hub_database_url=pg_url, hub_instances=2
    )
    text = "\n".join(lines)
    assert outcome.passed, text
    assert outcome.results and all(r.ok for r in outcome.results)
