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

from ocpi import v211, v221, v230
from ocpi.headers import encode_authorization
from ocpi.platform.adapters import V211Adapter, V211Context, VersionAdapter, adapter_for
from ocpi.translate import v211 as to211
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
    files: Mapping[str, str] = field(default_factory=dict)
    """2.2.1-d2 file -> this text's file, where it has another name (2.1.1: Markdown)."""
    titles: Mapping[str, str] = field(default_factory=dict)
    """Check id -> its title in this version, where the rule it judges differs."""
    lacks: frozenset[str] = frozenset()
    """2.2.1 fields this version's objects do not have: the checks expect nothing of them."""
    remote_start_method: v221.AuthMethod = v221.AuthMethod.COMMAND
    """The auth_method of a Session started by a command (2.1.1 has no COMMAND: AUTH_REQUEST,
    mod_cdrs.md §4.1 AuthMethod enum)."""

    @property
    def adapter(self) -> VersionAdapter:
        return adapter_for(self.number)

    def adapter_of(self, own: v221.Role, context: V211Context | None = None) -> VersionAdapter:
        """The adapter of the suite playing `own` (2.1.1 needs the role and the suite's
        state; the other versions need neither)."""
        return adapter_for(self.number, own, context)

    @property
    def raw_tokens(self) -> bool:
        """Whether the Authorization header carries the token as it is (2.1.1 transport_and_
        format "Request format": `Token <token>`) rather than its Base64 encoding."""
        return self.number == "2.1.1"

    @property
    def one_interface(self) -> bool:
        """Whether a module has one endpoint without a role (2.1.1 version details)."""
        return self.number == "2.1.1"

    def authorization(self, token: str) -> str:
        """The Authorization header this version's rule gives for `token`."""
        return f"Token {token}" if self.raw_tokens else encode_authorization(token)

    @property
    def translates(self) -> bool:
        return self.number != DEFAULT_VERSION

    def cite(self, spec: str) -> str:
        """A check's 2.2.1-d2 citation with this version's section numbers."""
        if not self.renumbered and not self.files:
            return spec
        current = ""

        def number(match: re.Match[str]) -> str:
            nonlocal current
            if match.group(1):
                current = match.group(1)
                return self.files.get(current, current)
            section = self.renumbered.get((current, match.group(2)), match.group(2))
            # A number is cited as §n; a heading of a text without numbers as it is.
            return "§" + section if section[:1].isdigit() else section

        return _SECTION.sub(number, spec)

    # --- the handshake in this version --------------------------------------------------------
    def details_type(self) -> Any:
        return {"2.1.1": v211.VersionDetails, "2.3.0": v230.VersionDetails}.get(
            self.number, v221.VersionDetails
        )

    def endpoints(self, details: Any, own: v221.Role) -> list[v221.Endpoint]:
        """The endpoints of a member's valid details (`details_type`) as 2.2.1 Endpoints;
        2.1.1's, which have no role, in the role the suite playing `own` calls them in."""
        if isinstance(details, v211.VersionDetails):
            adapter = self.adapter_of(own)
            assert isinstance(adapter, V211Adapter)
            return adapter.endpoints_of(details)
        return list(details.endpoints)

    def credentials_type(self) -> Any:
        """The model a member's Credentials must fit in this version."""
        return {"2.1.1": v211.Credentials, "2.3.0": v230.Credentials}.get(
            self.number, v221.Credentials
        )

    def credentials_down(self, theirs: Any, role: v221.Role) -> v221.Credentials:
        """A member's Credentials (validated with `credentials_type`) as 2.2.1; a 2.1.1
        member's one party has the `role` the suite tests (2.1.1 credentials name none)."""
        if isinstance(theirs, v221.Credentials):
            return theirs
        if isinstance(theirs, v211.Credentials):
            return to211.credentials_to_v221(theirs, role=role).value
        return to230.credentials_to_v221(theirs).value

    def suite_credentials(
        self, own: v221.Credentials, counterpart: v221.CredentialsRole
    ) -> dict[str, Any]:
        """The suite's credentials (2.2.1: one HUB role) as this version's JSON. 2.3.0 has no
        HUB role: `hub_party_id` names the suite's hub and `roles` lists the party reachable
        through it, the suite's counterpart (2.3.0 credentials, Credentials object)."""
        if not self.translates:
            return own.to_json()
        try:
            if self.number == "2.1.1":
                # 2.1.1 names one party, and has no hubs: the suite is its counterpart.
                one = own.model_copy(update={"roles": [counterpart]})
                return to211.credentials_to_v211(one, role=counterpart.role).value.to_json()
            reachable = v230.CredentialsRole.model_validate(counterpart.to_json())
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

_MD = {
    name + ".asciidoc": name + ".md"
    for name in (
        "credentials",
        "mod_cdrs",
        "mod_commands",
        "mod_locations",
        "mod_sessions",
        "mod_tariffs",
        "mod_tokens",
        "status_codes",
        "transport_and_format",
        "types",
        "version_information_endpoint",
    )
}

_NO_HUBCLIENTINFO = (
    '2.1.1 has no HubClientInfo module (version_information_endpoint.md "ModuleID enum")'
)
_NO_PROFILES = (
    '2.1.1 has no ChargingProfiles module (version_information_endpoint.md "ModuleID enum")'
)
_NO_ROUTING = (
    '2.1.1 has no message routing headers (transport_and_format.md "Request format" names '
    "only Authorization)"
)
_NO_IDS = '2.1.1 has no X-Request-ID or X-Correlation-ID (transport_and_format.md "Request format")'
_NO_RESERVATION = (
    "2.1.1 has no Session status RESERVATION (mod_sessions.md §4.1 SessionStatus enum)"
)
_NO_CREDIT = "2.1.1 CDRs have no credit or credit_reference_id (mod_cdrs.md §3.1 CDR Object)"

V211 = SuiteVersion(
    "2.1.1",
    "OCPI 2.1.1 (tag 2.1.1)",
    files=_MD,
    # Found by reading the headings of the 2.1.1 text (Markdown, tag 2.1.1): each file
    # numbers its own sections (credentials §1.2 POST), and transport_and_format,
    # version_information_endpoint and status_codes number none: those are cited by heading.
    renumbered={
        ("version_information_endpoint.asciidoc", "6.1"): '"Version information endpoint"',
        ("version_information_endpoint.asciidoc", "6.1.3"): '"GET"',
        ("version_information_endpoint.asciidoc", "6.2"): '"Version details endpoint"',
        ("version_information_endpoint.asciidoc", "6.2.2"): '"Endpoint class"',
        ("credentials.asciidoc", "7.1.1"): "3.1",
        ("credentials.asciidoc", "7.1.4"): "3.4",
        ("credentials.asciidoc", "7.2.2"): "1.2",
        ("credentials.asciidoc", "7.2.3"): "1.3",
        ("credentials.asciidoc", "7.2.4"): "1.4",
        ("credentials.asciidoc", "7.3.1"): "2.1",
        ("transport_and_format.asciidoc", "4.1.2"): '"Request format"',
        ("transport_and_format.asciidoc", "4.1.4.1"): '"Pagination"',
        ("transport_and_format.asciidoc", "4.1.5"): '"Client owned object push"',
        ("transport_and_format.asciidoc", "4.1.7"): '"Response format"',
        ("transport_and_format.asciidoc", "4.3"): '"Interface endpoints"',
        ("status_codes.asciidoc", "5"): '"Status codes"',
        ("status_codes.asciidoc", "5.2"): '"2xxx: Client errors"',
        ("types.asciidoc", "16.1"): "1.1",
        ("types.asciidoc", "16.2"): "1.2",
        ("types.asciidoc", "16.7"): "1.5",
        ("mod_locations.asciidoc", "8.2.1.1"): "2.1.1",
        ("mod_locations.asciidoc", "8.2.2.1"): "2.2.1",
        ("mod_locations.asciidoc", "8.2.2.2"): "2.2.2",
        ("mod_locations.asciidoc", "8.2.2.3"): "2.2.3",
        ("mod_locations.asciidoc", "8.3.1"): "3.1",
        ("mod_locations.asciidoc", "8.3.3"): "3.3",
        ("mod_locations.asciidoc", "8.4.22"): "4.20",
        ("mod_sessions.asciidoc", "9.2.2.1"): "2.2.1",
        ("mod_sessions.asciidoc", "9.2.2.2"): "2.2.2",
        ("mod_sessions.asciidoc", "9.2.2.3"): "2.2.3",
        ("mod_sessions.asciidoc", "9.3.1"): "3.1",
        ("mod_cdrs.asciidoc", "10.2.2.1"): "2.2.1",
        ("mod_cdrs.asciidoc", "10.2.2.2"): "2.2.2",
        ("mod_cdrs.asciidoc", "10.3.1"): "3.1",
        ("mod_tariffs.asciidoc", "11.1"): "1",
        ("mod_tariffs.asciidoc", "11.2.1.1"): "2.1.1",
        ("mod_tariffs.asciidoc", "11.2.2.1"): "2.2.1",
        ("mod_tariffs.asciidoc", "11.2.2.2"): "2.2.2",
        ("mod_tariffs.asciidoc", "11.2.2.3"): "2.2.4",
        ("mod_tariffs.asciidoc", "11.3.1"): "3.1",
        ("mod_tokens.asciidoc", "12.2.1.1"): "2.1.1",
        ("mod_tokens.asciidoc", "12.2.1.2"): "2.1.2",
        ("mod_tokens.asciidoc", "12.2.2.1"): "2.2.1",
        ("mod_tokens.asciidoc", "12.2.2.2"): "2.2.2",
        ("mod_tokens.asciidoc", "12.3.1"): "3.1",
        ("mod_tokens.asciidoc", "12.3.2"): "3.2",
        # The CPO answers a command with a bare CommandResponseType (§4.1; 2.2.1's
        # CommandResponse object) and POSTs a CommandResponse object (§3.1; 2.2.1's
        # CommandResult) to the response_url.
        ("mod_commands.asciidoc", "13.2.1.1"): "2.1.1",
        ("mod_commands.asciidoc", "13.2.2.1"): "2.2.1",
        ("mod_commands.asciidoc", "13.3.2"): "4.1",
        ("mod_commands.asciidoc", "13.3.3"): "3.1",
        ("mod_commands.asciidoc", "13.3.4"): "3.2",
        ("mod_commands.asciidoc", "13.3.5"): "3.3",
    },
    # mod_sessions.md §3.1 Session Object, mod_cdrs.md §3.1 CDR Object
    lacks=frozenset({"authorization_reference", "session_id"}),
    remote_start_method=v221.AuthMethod.AUTH_REQUEST,
    titles={
        "transport.authorization_base64": "The member accepts 'Token <token>' (not encoded)",
        "transport.member_authorization": "The member sends 'Token <token>' (not encoded)",
    },
    left_out={
        "registration.hubclientinfo": _NO_HUBCLIENTINFO,
        "recovery.resync": "it makes the counterpart OFFLINE through HubClientInfo: "
        + _NO_HUBCLIENTINFO,
        "transport.routing_answers": _NO_ROUTING,
        "transport.routing_requests": _NO_ROUTING,
        "transport.request_ids": _NO_IDS,
        "transport.member_request_ids": _NO_IDS,
        "profiles.set": _NO_PROFILES,
        "profiles.get": _NO_PROFILES,
        "profiles.clear": _NO_PROFILES,
        "profiles.charging_preferences": "2.1.1 Sessions have no charging preferences "
        "(mod_sessions.md §2.1 CPO Interface: GET only)",
        "reservation.reserve_now": "it expects a Session in status RESERVATION: " + _NO_RESERVATION,
        "reservation.start_reserved": "it needs reservation.reserve_now's RESERVATION Session: "
        + _NO_RESERVATION,
        "reservation.cancel": "2.1.1 has no CANCEL_RESERVATION (mod_commands.md §4.2 "
        "CommandType enum)",
        "reservation.emsp_session": _NO_RESERVATION,
        "emsp.authorize_unknown": "2.1.1 has no status 2004 Unknown Token (status_codes.md "
        '"2xxx: Client errors") and says nothing of an unknown token (mod_tokens.md §2.2.2)',
        "money.session_cost": "2.1.1 charging periods name no tariff (mod_cdrs.md §4.4 "
        "ChargingPeriod class), so the periods of a Session cannot be priced",
        "money.credit_cdr": _NO_CREDIT,
        "money.credit_received": _NO_CREDIT,
    },
)

SUITE_VERSIONS: dict[str, SuiteVersion] = {v.number: v for v in (V211, V221, V230)}
"""The versions `--version` accepts (docs/conformance.md, "Other OCPI versions")."""


def suite_version(number: str) -> SuiteVersion:
    """The SuiteVersion of `number`; ValueError naming the ones the suite speaks."""
    found = SUITE_VERSIONS.get(number)
    if found is None:
        raise ValueError(
            f"the suite does not speak OCPI {number!r} (it speaks {', '.join(SUITE_VERSIONS)})"
        )
    return found
