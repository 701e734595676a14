"""`roam conformance --version 2.3.0` against the mock members configured on 2.3.0."""

from __future__ import annotations

from pathlib import Path

from ocpi.v221 import Role
from roam.conformance import Outcome, checks_for
from tests.roam.conformance.conftest import conformance, explain, member, outcomes


async def test_the_mock_cpo_on_230_passes_every_230_check(tmp_path: Path) -> None:
    async with member(Role.CPO, tmp_path, version="2.3.0") as cpo:
        report = await conformance(cpo, version="2.3.0")
    expected = {c.id for c in checks_for(Role.CPO, "2.3.0")}
    assert outcomes(report, Outcome.PASS) == expected, explain(report)


async def test_the_mock_emsp_on_230_passes_every_230_check(tmp_path: Path) -> None:
    async with member(Role.EMSP, tmp_path, version="2.3.0") as emsp:
        report = await conformance(emsp, version="2.3.0")
    expected = {c.id for c in checks_for(Role.EMSP, "2.3.0")}
    assert outcomes(report, Outcome.PASS) == expected, explain(report)
