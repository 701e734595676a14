"""One conformance run's shared state: its configuration, what the member said about itself
(endpoints, party, the token to use), what the checks pulled or received and hand on to each
other, the suite server, and the helpers checks use to call the member and judge answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ocpi.headers import PartyRef, RoutingHeaders
from ocpi.platform.adapters import (
    MessageContext,
    ObjectKind,
    V211Context,
    VersionAdapter,
    driver_with,
)
from ocpi.v221 import (
    CDR,
    EVSE,
    CdrToken,
    Connector,
    Endpoint,
    InterfaceRole,
    Location,
    ModuleID,
    Role,
    Session,
    Tariff,
    Token,
)
from ocpi.v221.types import OcpiModel
from roam.conformance.checks import CheckFailed, CheckSkipped
from roam.conformance.edge import MemberEdge, WireObject
from roam.conformance.exchange import Evidence, Exchange, Inbound
from roam.conformance.member import DEFAULT, MemberClient
from roam.conformance.suite_server import SuiteServer
from roam.conformance.validation import Finding, check_value
from roam.conformance.versions import DEFAULT_VERSION, SuiteVersion, suite_version

if TYPE_CHECKING:
    from roam.conformance.pagination import Listing

T = TypeVar("T")
M = TypeVar("M", bound=OcpiModel)

SUITE_HUB = PartyRef("ZZ", "HUB")
SUITE_EMSP = PartyRef("ZZ", "EMS")
SUITE_CPO = PartyRef("ZZ", "CPO")


@dataclass(frozen=True)
class TriggerInfo:
    """Where the suite (as CPO) asks an eMSP under test to start a session."""

    country_code: str
    party_id: str
    location_id: str
    evse_uid: str
    connector_id: str

    def environment(self) -> dict[str, str]:
        """The variables a `--trigger-command` sees."""
        return {
            "OCPI_CONFORMANCE_COUNTRY_CODE": self.country_code,
            "OCPI_CONFORMANCE_PARTY_ID": self.party_id,
            "OCPI_CONFORMANCE_LOCATION_ID": self.location_id,
            "OCPI_CONFORMANCE_EVSE_UID": self.evse_uid,
            "OCPI_CONFORMANCE_CONNECTOR_ID": self.connector_id,
        }


Trigger = Callable[[TriggerInfo], Awaitable[None]]


@dataclass(frozen=True)
class MemberAction:
    """What the suite asks the member's operator to do where OCPI has no message for it.

    `register`: start the credentials handshake toward the suite (member-initiated) at
    `versions_url` with `token_a`; `rotate`: PUT fresh credentials to the suite (the
    member-initiated token rotation). docs/conformance.md, "Lifecycle".
    """

    action: str
    versions_url: str
    token_a: str | None = None

    def environment(self) -> dict[str, str]:
        """The variables a `--member-command` sees."""
        values = {
            "OCPI_CONFORMANCE_ACTION": self.action,
            "OCPI_CONFORMANCE_VERSIONS_URL": self.versions_url,
        }
        if self.token_a is not None:
            values["OCPI_CONFORMANCE_TOKEN_A"] = self.token_a
        return values


MemberHook = Callable[[MemberAction], Awaitable[None]]


@dataclass(frozen=True)
class CreditInfo:
    """Which CDR the suite (as eMSP) asks a CPO under test to credit (money.credit_cdr)."""

    country_code: str
    party_id: str
    cdr_id: str

    def environment(self) -> dict[str, str]:
        """The variables a `--credit-command` sees."""
        return {
            "OCPI_CONFORMANCE_COUNTRY_CODE": self.country_code,
            "OCPI_CONFORMANCE_PARTY_ID": self.party_id,
            "OCPI_CONFORMANCE_CDR_ID": self.cdr_id,
        }


CreditHook = Callable[[CreditInfo], Awaitable[None]]


@dataclass(frozen=True)
class SuiteConfig:
    """What `roam conformance` was asked to do."""

    versions_url: str
    token_a: str
    role: Role
    public_url: str
    """Where the member reaches the suite's own OCPI endpoints."""
    party: PartyRef | None = None
    """The member's party under test (default: its first role of `role`)."""
    suite_party: PartyRef = SUITE_HUB
    counterpart: PartyRef | None = None
    """The party the suite plays behind its hub (default ZZ/EMS for a CPO, ZZ/CPO for an eMSP)."""
    timeout: float = 10.0
    """Seconds each request to the member may take."""
    wait: float = 30.0
    """Seconds the suite waits for something the member pushes (a Session, a result…)."""
    charge_seconds: float = 2.0
    """Seconds a remotely started session charges before the suite stops it."""
    trigger: Trigger | None = None
    """Makes an eMSP under test send a START_SESSION (else that check is skipped)."""
    realtime_limit: float = 3.0
    """Seconds within which an eMSP must answer real-time authorization (p95, load checks)."""
    member_hook: MemberHook | None = None
    """Makes the member register with the suite or rotate its credentials (else the
    lifecycle checks that need it are skipped)."""
    credit: CreditHook | None = None
    """Makes a CPO under test issue a credit CDR for a CDR (else money.credit_cdr skips)."""
    version: str = DEFAULT_VERSION
    """The OCPI version the suite speaks to the member (versions.SUITE_VERSIONS)."""

    def __post_init__(self) -> None:
        if self.role not in (Role.CPO, Role.EMSP):
            raise ValueError(f"the suite tests a CPO or an EMSP, not a {self.role.value}")
        suite_version(self.version)

    @property
    def speaks(self) -> SuiteVersion:
        """The version the run speaks."""
        return suite_version(self.version)

    @property
    def other(self) -> PartyRef:
        """The counterpart party: the eMSP a CPO serves, the CPO an eMSP's drivers use."""
        if self.counterpart is not None:
            return self.counterpart
        return SUITE_EMSP if self.role is Role.CPO else SUITE_CPO

    @property
    def other_role(self) -> Role:
        return Role.EMSP if self.role is Role.CPO else Role.CPO


@dataclass
class Learned:
    """What checks find out and hand on to later checks."""

    details_url: str | None = None
    endpoints: list[Endpoint] = field(default_factory=list)
    handshake: tuple[int, int] | None = None
    """Which of the suite's inbound requests came while the member answered the POST."""
    listings: dict[str, Listing] = field(default_factory=dict)
    locations: list[Location] = field(default_factory=list)
    tariffs: list[Tariff] = field(default_factory=list)
    raw_tariffs: list[Any] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)
    suite_token: Token | None = None
    target: tuple[Location, EVSE, Connector] | None = None
    """Where the suite starts a session at a CPO under test."""
    start_reference: str | None = None
    start_result: str | None = None
    stop_index: int = 0
    """The suite's inbound requests from here on came after the STOP_SESSION."""
    session: Session | None = None
    cdr: CDR | None = None
    cdr_evidence: Inbound | None = None
    pushed_location: Location | None = None
    pushed_tariff: Tariff | None = None
    pushed_session: Session | None = None
    command: Inbound | None = None
    """The command an eMSP under test sent to the suite."""


class Context:
    """Everything a check needs. Created by the runner, one per run."""

    def __init__(self, config: SuiteConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.member = MemberClient(http, config.timeout)
        self.member.raw_tokens = config.speaks.raw_tokens
        self.learned = Learned()
        self.adapter: VersionAdapter = config.speaks.adapter_of(config.other_role, self._state())
        """The suite's adapter to the member's version (2.1.1: of the suite's role and state)."""
        self.server = SuiteServer(
            config.public_url,
            config.suite_party,
            config.other,
            config.other_role,
            config.speaks,
            adapter=self.adapter,
            member_party=lambda: self.member_party,
        )
        self.findings: list[tuple[Finding, Evidence]] = []
        if config.speaks.translates:
            self.member.edge = MemberEdge(
                self.adapter,
                lambda: self.learned.endpoints,
                config.role,
                self._found,
                lambda: self.member_party,
            )
        self.token: str | None = None
        """The token the suite calls the member with (token C, after the handshake)."""
        self.member_party: PartyRef | None = None
        self.member_parties: set[PartyRef] = set()

    # --- what 2.1.1 translations need from the run (V211Context) -------------------------------
    def _state(self) -> V211Context:
        return V211Context(
            location=self._location,
            tariffs=self._tariffs,
            driver=self._driver,
            token=self._token,
            now=lambda: datetime.now(UTC),
        )

    def _location(self, country_code: str, party_id: str, location_id: str) -> Location | None:
        """A Location the run holds: pushed by the suite, pulled, or pushed by the member."""
        held = [self.learned.pushed_location, *self.learned.locations]
        stored = self.server.objects["locations"].get((country_code, party_id, location_id))
        owner = (country_code, party_id)
        for place in held:
            same = place is not None and (place.country_code, place.party_id) == owner
            if place is not None and place.id == location_id and (same or not country_code):
                return place
        if stored is not None:
            try:
                return Location.model_validate(stored)
            except ValueError:
                return None
        return None

    def _tariffs(self, country_code: str, party_id: str) -> Mapping[str, Tariff]:
        held = [self.learned.pushed_tariff, *self.learned.tariffs]
        return {
            t.id: t
            for t in held
            if t is not None
            and (not country_code or (t.country_code, t.party_id) == (country_code, party_id))
        }

    def _held_tokens(self) -> list[Token]:
        tokens = [*self.server.driver_tokens.values(), *self.learned.tokens]
        for stored in self.server.objects["tokens"].values():
            try:
                tokens.append(Token.model_validate(stored))
            except ValueError:
                continue
        return tokens

    def _driver(self, auth_id: str) -> CdrToken | None:
        """The token whose contract_id is a 2.1.1 auth_id: the suite's own, or one it holds of
        the member (an eMSP's drivers)."""
        return driver_with(self._held_tokens(), auth_id)

    def _token(self, uid: str, token_type: str | None) -> Token | None:
        found = [
            t
            for t in self._held_tokens()
            if t.uid == uid and (token_type is None or t.type.value == token_type)
        ]
        return found[0] if found else None

    # --- the member's endpoints -----------------------------------------------------------------
    def endpoint(self, module: ModuleID, role: InterfaceRole | None = None) -> str | None:
        for item in self.learned.endpoints:
            if item.identifier == module and (role is None or item.role is role):
                return item.url
        return None

    def require_endpoint(self, module: ModuleID, role: InterfaceRole | None = None) -> str:
        url = self.endpoint(module, role)
        if url is None:
            interface = f" {role.value}" if role is not None else ""
            raise CheckSkipped(
                f"the member's {self.config.version} details publish no "
                f"{module.value}{interface} endpoint "
                "(see registration.version_details)"
            )
        return url

    def as_carried(self, kind: ObjectKind, value: M, owner: PartyRef) -> M:
        """`value` as the member's version can hold it: there and back through the version
        (what a 2.1.1 member stores of a 2.2.1 Tariff has no VAT); in 2.2.1 `value` itself."""
        if not self.adapter.translates:
            return value
        context = MessageContext(owner=owner)
        there = self.adapter.up(kind, value.to_json(), context).value
        back = self.adapter.down(kind, there, context).value
        return type(value).model_validate(back)

    def routed(self, from_party: PartyRef | None = None) -> RoutingHeaders:
        """Routing headers of a message from the suite's counterpart to the member."""
        return RoutingHeaders(to=self.member_party, from_=from_party or self.config.other)

    def _found(self, findings: list[Finding], evidence: Evidence) -> None:
        self.findings.extend((finding, evidence) for finding in findings)

    # --- calling the member ---------------------------------------------------------------------
    async def call(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        routed: bool = True,
        token: str | None = None,
        authorization: Any = DEFAULT,
        probe: bool = False,
        as_sent: bool = False,
    ) -> Exchange:
        """A request with the current token; functional modules get routing headers (in a
        version that has them). `as_sent`: the body is in the member's version already (not
        carried up)."""
        if not self.adapter.routing_headers:
            routed = False
        if (
            params
            and "type" in params
            and not self.adapter.token_type_in_url
            and not url.rstrip("/").endswith("/authorize")
        ):
            # 2.1.1 Token URLs name no type (mod_tokens.md §2.1.1, §2.1.2); its real-time
            # authorization does (§2.2.2, default RFID).
            params = {k: v for k, v in params.items() if k != "type"}
        return await self.member.call(
            method,
            url,
            token=token or self.token,
            body=body,
            content=content,
            params=params,
            routing=self.routed() if routed else None,
            authorization=authorization,
            probe=probe,
            as_sent=as_sent,
        )

    @staticmethod
    def expect_ok(exchange: Exchange, what: str) -> None:
        """Fail unless the answer is HTTP 2xx with a 1xxx status."""
        if not exchange.ok:
            raise CheckFailed(
                f"{what}: expected HTTP 2xx with status 1000, got {exchange.outcome()}", exchange
            )

    def parse(self, type_: Any, data: Any, where: str, evidence: Evidence) -> Any:
        """Validate data against a wire type; structural problems fail the check, DateTime
        and string findings are kept for their own checks. In another version the data was
        carried down at the edge: an object invalid in its version fails naming that version's
        rule, one 2.2.1 cannot carry skips the check."""
        if isinstance(data, WireObject):
            if data.problem is not None:
                raise CheckFailed(f"{where}: {data.problem}", evidence)
            raise CheckSkipped(f"{where}: {data.untranslatable}")
        checked = check_value(type_, data, where)
        self.findings.extend((finding, evidence) for finding in checked.findings)
        if checked.problems:
            raise CheckFailed("; ".join(checked.problems), evidence)
        return checked.value

    def parse_each(self, type_: type[T], items: Any, where: str, evidence: Evidence) -> list[T]:
        """A list whose items are validated one by one (every invalid item is named)."""
        if not isinstance(items, list):
            raise CheckFailed(f"{where} must be a list, got {type(items).__name__}", evidence)
        problems: list[str] = []
        parsed: list[T] = []
        for index, item in enumerate(items):
            if isinstance(item, WireObject):
                # Invalid in its version: a problem; valid but not carried: left out.
                if item.problem is not None:
                    problems.append(f"{where}[{index}]: {item.problem}")
                continue
            checked = check_value(type_, item, f"{where}[{index}]")
            self.findings.extend((finding, evidence) for finding in checked.findings)
            problems.extend(checked.problems)
            if checked.value is not None:
                parsed.append(checked.value)
        if problems:
            raise CheckFailed("; ".join(problems[:5]), evidence)
        return parsed
