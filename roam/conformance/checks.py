"""The check registry's core: what a check is, how it ends (pass, fail, skip), the order.

A check is an async function of the run's Context decorated with `@check(id, title, spec)`.
It passes by returning (optionally a note), fails by raising CheckFailed with the exchanges
that showed the fault, and skips by raising CheckSkipped with the reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

from ocpi.v221.types import Role
from roam.conformance.exchange import Evidence, recorded

if TYPE_CHECKING:
    from roam.conformance.context import Context

CheckFn = Callable[["Context"], Awaitable[str | None]]

BOTH = frozenset({Role.CPO, Role.EMSP})
CPO = frozenset({Role.CPO})
EMSP = frozenset({Role.EMSP})


class Outcome(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


class Phase(IntEnum):
    """When a check runs: the handshake first, the destructive credentials calls last."""

    SETUP = 1
    """Registration: versions, details, the handshake."""
    PROBE = 2
    """Transport and pagination requests of the suite's own."""
    ROLE = 3
    """The member's behaviour as a CPO or an eMSP."""
    SCAN = 4
    """Rules judged over everything exchanged so far (envelopes, ids, routing, formats)."""
    CREDENTIALS = 5
    """Token rotations that keep the connection (lifecycle: interrupted, member-initiated)."""
    TEARDOWN = 6
    """Credentials PUT (token rotation), then DELETE, then re-registration."""


class CheckFailed(Exception):
    """The member broke the rule; `evidence` holds the requests and answers that show it."""

    def __init__(self, message: str, *evidence: Evidence) -> None:
        super().__init__(message)
        self.message = message
        self.evidence = list(evidence)


class CheckSkipped(Exception):
    """The rule could not be judged; the reason says why (a prerequisite, nothing arrived)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    spec: str
    """The section(s) of the OCPI 2.2.1-d2 text it enforces."""
    run: CheckFn
    roles: frozenset[Role] = BOTH
    needs: tuple[str, ...] = ()
    """Checks that must have passed; otherwise this one is skipped, naming them."""
    phase: Phase = Phase.ROLE
    versions: frozenset[str] | None = None
    """The OCPI versions whose runs have this check (None: every version); a rule a later
    version added, e.g. 2.3.0's non-specified JSON fields."""

    @property
    def group(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass
class CheckResult:
    check: Check
    outcome: Outcome
    message: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    """Recorded when the result is made (exchange.recorded): JSON-safe, whatever was shown."""
    duration: float = 0.0

    def __post_init__(self) -> None:
        self.evidence = [recorded(item) for item in self.evidence]


def check(
    id: str,
    title: str,
    spec: str,
    *,
    roles: frozenset[Role] = BOTH,
    needs: Iterable[str] = (),
    phase: Phase = Phase.ROLE,
    versions: Iterable[str] | None = None,
) -> Callable[[CheckFn], Check]:
    """Declare a check (the decorated function becomes a Check)."""
    only = frozenset(versions) if versions is not None else None

    def wrap(run: CheckFn) -> Check:
        return Check(id, title, spec, run, roles, tuple(needs), phase, only)

    return wrap


def ordered(checks: Iterable[Check], role: Role) -> list[Check]:
    """The checks that apply to `role`, in the order they run (by phase, then as listed)."""
    chosen = [c for c in checks if role in c.roles]
    ids = [c.id for c in chosen]
    if len(ids) != len(set(ids)):
        raise ValueError("two checks share an id")
    return sorted(chosen, key=lambda c: c.phase)
