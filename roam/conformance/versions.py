"""The OCPI versions the suite can test a member in (`--version`), and what differs per version.

The suite works in OCPI 2.2.1 inside. For another version it registers in that version and
translates at its edge (roam/conformance/edge.py) with the member kit's adapters
(ocpi.platform.adapters): what the member sends is validated against the version's own models
first (an object invalid in its version fails the check that asked for it, naming the
version's rule), then carried down to 2.2.1 for the checks; what the suite sends goes up.
A `SuiteVersion` says what else changes: the models of the handshake, the suite's own
credentials, the sections each check cites, and the checks a version leaves out.
docs/conformance.md, "Other OCPI versions".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ocpi import v221, v230
from ocpi.platform.adapters import VersionAdapter, adapter_for
from ocpi.translate import v230 as to230
from ocpi.translate.notes import Untranslatable

DEFAULT_VERSION = "2.2.1"

_SECTION = re.compile(r"([a-z_]+\.asciidoc)|§([0-9]+(?:\.[0-9]+)*)")


@dataclass(frozen=True)
class SuiteVersion:
    """One OCPI version the suite speaks to the member."""

    number: str
    text: str
    """The spec text the checks cite (repository ocpi/ocpi, the tag)."""
    renumbered: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(file, 2.2.1-d2 section) -> this version's number, where the text moved it."""
    left_out: Mapping[str, str] = field(default_factory=dict)
    """Check id -> why this version's run leaves it out."""

    @property
    def adapter(self) -> VersionAdapter:
        return adapter_for(self.number)

    @property
    def translates(self) -> bool:
        return self.number != DEFAULT_VERSION

    def cite(self, spec: str) -> str:
        """A check's 2.2.1-d2 citation with this version's section numbers."""
        if not self.renumbered:
            return spec
        current = ""

        def number(match: re.Match[str]) -> str:
            nonlocal current
            if match.group(1):
                current = match.group(1)
                return match.group(0)
            return "§" + self.renumbered.get((current, match.group(2)), match.group(2))

        return _SECTION.sub(number, spec)

    # --- the handshake in this version --------------------------------------------------------
    def details_type(self) -> Any:
        return v221.VersionDetails if not self.translates else v230.VersionDetails

    def credentials_type(self) -> Any:
        """The model a member's Credentials must fit in this version."""
        return v221.Credentials if not self.translates else v230.Credentials

    def credentials_down(self, theirs: Any) -> v221.Credentials:
        """A member's Credentials (validated with `credentials_type`) as 2.2.1."""
        if isinstance(theirs, v221.Credentials):
            return theirs
        return to230.credentials_to_v221(theirs).value

    def suite_credentials(
        self, own: v221.Credentials, counterpart: v221.CredentialsRole
    ) -> dict[str, Any]:
        """The suite's credentials (2.2.1: one HUB role) as this version's JSON. 2.3.0 has no
        HUB role: `hub_party_id` names the suite's hub and `roles` lists the party reachable
        through it, the suite's counterpart (2.3.0 credentials, Credentials object)."""
        if not self.translates:
            return own.to_json()
        reachable = v230.CredentialsRole.model_validate(counterpart.to_json())
        try:
            return to230.credentials_to_v230(own, [reachable]).value.to_json()
        except Untranslatable as exc:  # the suite's own credentials: a bug, not the member's
            reason = f"the suite's credentials cannot be given in {self.number}: {exc}"
            raise ValueError(reason) from None


V221 = SuiteVersion("2.2.1", "OCPI 2.2.1-d2 (tag v2.2.1-d2)")

V230 = SuiteVersion(
    "2.3.0",
    "OCPI 2.3.0 (tag v2.3.0)",
    # Found by numbering the headings of both texts in the order of scripts/merge.pl: 2.3.0
    # added mod_payments before types (§16 -> §17) and class, enum, OpenEnum at the head of
    # types; "Non-specified JSON fields" (§4.1.8) before Message Routing; four Location enums
    # and classes before Status. Every other section a check cites kept its number.
    renumbered={
        ("transport_and_format.asciidoc", "4.1.8.2"): "4.1.9.2",
        ("types.asciidoc", "16.1"): "17.4",
        ("types.asciidoc", "16.2"): "17.5",
        ("types.asciidoc", "16.7"): "17.11",
        ("mod_locations.asciidoc", "8.4.22"): "8.4.26",
    },
)

SUITE_VERSIONS: dict[str, SuiteVersion] = {v.number: v for v in (V221, V230)}
"""The versions `--version` accepts. 2.1.1 joins when the member kit has its adapter
(docs/conformance.md, "Other OCPI versions")."""


def suite_version(number: str) -> SuiteVersion:
    """The SuiteVersion of `number`; ValueError naming the ones the suite speaks."""
    found = SUITE_VERSIONS.get(number)
    if found is None:
        raise ValueError(
            f"the suite does not speak OCPI {number!r} (it speaks {', '.join(SUITE_VERSIONS)})"
        )
    return found
