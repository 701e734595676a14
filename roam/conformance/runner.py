"""Runs the checks of one role against one member, in order, and never lets one escape.

`Suite(config, http)` owns the run: its `app` is the suite's OCPI server (serve it where
`config.public_url` points before calling `run()`), `run()` returns the Report. A check that
raises anything but CheckFailed/CheckSkipped, or runs past its time bound, fails cleanly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import httpx
from starlette.types import ASGIApp

from ocpi.v221 import Role
from roam.conformance import (
    cpo_role,
    emsp_role,
    lifecycle,
    load,
    money,
    pagination,
    recovery,
    registration,
    smart,
    transport,
)
from roam.conformance.checks import (
    Check,
    CheckFailed,
    CheckResult,
    CheckSkipped,
    Outcome,
    ordered,
)
from roam.conformance.context import Context, SuiteConfig
from roam.conformance.report import Report
from roam.conformance.versions import DEFAULT_VERSION, suite_version

ALL_CHECKS: tuple[Check, ...] = (
    *registration.CHECKS,
    *transport.CHECKS,
    *pagination.CHECKS,
    *cpo_role.CHECKS,
    *emsp_role.CHECKS,
    *smart.CHECKS,
    *money.CHECKS,
    *load.CHECKS,
    *recovery.CHECKS,
    *lifecycle.CHECKS,
)
"""Every check, in the order a report lists them (they run by phase: see checks.Phase)."""


def checks_for(role: Role, version: str = DEFAULT_VERSION) -> list[Check]:
    """The checks of one role in report order, as a run in `version` has them: the ones the
    version leaves out are not there, the others cite the version's sections."""
    return [c for c in version_checks(version) if role in c.roles]


def version_checks(version: str) -> tuple[Check, ...]:
    """ALL_CHECKS as a run in `version` has them (versions.SuiteVersion)."""
    spoken = suite_version(version)
    kept = [
        c
        for c in ALL_CHECKS
        if c.id not in spoken.left_out and (c.versions is None or version in c.versions)
    ]
    if not spoken.translates:
        return tuple(kept)
    return tuple(
        replace(
            c,
            spec=spoken.cite(c.spec),
            title=spoken.titles.get(c.id, c.title.replace("2.2.1", spoken.number)),
        )
        for c in kept
    )


class Suite:
    """One conformance run."""

    def __init__(self, config: SuiteConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.context = Context(config, http)
        self.all_checks = version_checks(config.version)
        self.checks = ordered(self.all_checks, config.role)

    @property
    def app(self) -> ASGIApp:
        return self.context.server.app

    def time_bound(self) -> float:
        """How long one check may take, all its requests and waits included."""
        config = self.config
        return config.timeout * 30 + config.wait * 3 + config.charge_seconds + 5

    async def run(self, progress: Callable[[CheckResult], None] | None = None) -> Report:
        started = datetime.now(UTC)
        began = time.monotonic()
        results: dict[str, CheckResult] = {}
        for item in self.checks:
            result = await self._run_one(item, results)
            results[item.id] = result
            if progress is not None:
                progress(result)
        rank = {c.id: index for index, c in enumerate(self.all_checks)}
        shown = sorted(results.values(), key=lambda r: rank.get(r.check.id, len(rank)))
        ctx = self.context
        return Report(
            role=self.config.role.value,
            versions_url=self.config.versions_url,
            suite_url=ctx.server.versions_url,
            member_party=str(ctx.member_party) if ctx.member_party else None,
            results=shown,
            started=started,
            duration=time.monotonic() - began,
            version=self.config.version,
            spec_text=self.config.speaks.text,
        )

    async def _run_one(self, item: Check, done: dict[str, CheckResult]) -> CheckResult:
        unmet = [
            f"{need} ({done[need].outcome.value if need in done else 'not run'})"
            for need in item.needs
            if need not in done or done[need].outcome is not Outcome.PASS
        ]
        if unmet:
            return CheckResult(item, Outcome.SKIP, "needs " + ", ".join(unmet) + " to pass")
        began = time.monotonic()
        before = len(self.context.member.exchanges)
        try:
            note = await asyncio.wait_for(item.run(self.context), self.time_bound())
        except CheckFailed as exc:
            result = CheckResult(item, Outcome.FAIL, exc.message, exc.evidence)
        except CheckSkipped as exc:
            result = CheckResult(item, Outcome.SKIP, exc.reason)
        except TimeoutError:
            result = CheckResult(
                item, Outcome.FAIL, f"the check did not finish within {self.time_bound():g} s"
            )
        except Exception as exc:  # a member's answer the suite did not foresee: still a FAIL
            sent = self.context.member.exchanges[before:]
            result = CheckResult(
                item,
                Outcome.FAIL,
                f"the suite could not finish this check ({type(exc).__name__}: {exc})",
                list(sent[-1:]),
            )
        else:
            result = CheckResult(item, Outcome.PASS, note or "")
        result.duration = time.monotonic() - began
        return result
