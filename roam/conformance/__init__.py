"""`roam conformance`: contract tests for a new hub member, run by a suite acting as the hub.

`Suite(SuiteConfig(...), http)` builds a run; serve `suite.app` at `config.public_url`, then
`await suite.run()` gives the Report (docs/conformance.md lists every check).
"""

from roam.conformance.checks import Check, CheckResult, Outcome
from roam.conformance.context import SuiteConfig, TriggerInfo
from roam.conformance.report import Report
from roam.conformance.runner import ALL_CHECKS, Suite, checks_for

__all__ = [
    "ALL_CHECKS",
    "Check",
    "CheckResult",
    "Outcome",
    "Report",
    "Suite",
    "SuiteConfig",
    "TriggerInfo",
    "checks_for",
]
