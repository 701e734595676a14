"""Where the suite's 2.2.1 inside meets a member speaking another OCPI version (`--version`).

What the member sends (answers to the suite's requests, pushes to the suite's endpoints) is
validated against the version's own model of the object (`VersionAdapter.model`) and only
then carried down to 2.2.1 (`VersionAdapter.down`): an object invalid in its version is kept as
sent, in a `WireObject` naming the version's rule it breaks, and the check that reads it fails
with that (Context.parse). One the 2.2.1 inside cannot carry (a 2.3.0 Tariff with
`tax_included: YES`) is kept too, with the reason: the check reading it skips, a list leaves it
out. DateTime and string findings are kept for their own checks, as in 2.2.1. What the suite
sends goes up (`VersionAdapter.up`); a body that is not a valid 2.2.1 object (a probe that is
wrong on purpose) goes as it is. Which object a body carries: `adapters.exchange`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pydantic_core

from ocpi.headers import PartyRef
from ocpi.platform.adapters import (
    NO_CONTEXT,
    Carried,
    MessageContext,
    ObjectKind,
    VersionAdapter,
    exchange,
)
from ocpi.platform.edge import endpoint_under
from ocpi.status import is_success
from ocpi.translate.notes import Untranslatable
from ocpi.v221 import Endpoint, InterfaceRole, ModuleID, Role
from ocpi.wire_json import read_json
from roam.conformance.validation import Finding, check_value


class WireObject(dict[str, Any]):
    """An object as the member sent it, which the suite could not carry down to 2.2.1."""

    def __init__(
        self,
        data: dict[str, Any],
        kind: ObjectKind,
        number: str,
        *,
        problem: str | None = None,
        untranslatable: str | None = None,
    ) -> None:
        super().__init__(data)
        self.kind = kind
        self.number = number
        self.problem = problem
        """Why it is not a valid object of its version (the rule it breaks)."""
        self.untranslatable = untranslatable
        """Why the 2.2.1 inside cannot carry it (a valid object of its version)."""


def carry_down(
    adapter: VersionAdapter,
    kind: ObjectKind,
    data: Any,
    where: str,
    context: MessageContext = NO_CONTEXT,
) -> tuple[Any, list[Finding]]:
    """One object of the member's version as 2.2.1 JSON, or a WireObject saying why not;
    with the DateTime and string findings of the version's model. `context`: what the
    message says about the object outside it (2.1.1 objects name no owner)."""
    if isinstance(data, str) and kind is ObjectKind.COMMAND_RESPONSE and adapter.translates:
        # 2.1.1: the CPO answers a command with a bare CommandResponseType.
        try:
            return adapter.down(kind, data, context).value, []
        except (ValueError, Untranslatable):
            return data, []
    if not isinstance(data, dict):
        return data, []  # not an object: the check's own parse names that
    checked = check_value(adapter.model(kind), data, where)
    if checked.problems or checked.value is None:
        problem = f"not a valid OCPI {adapter.number} {kind.value}: " + "; ".join(checked.problems)
        return WireObject(data, kind, adapter.number, problem=problem), checked.findings
    try:
        result = adapter.down(kind, checked.value.to_json(), context)
    except Untranslatable as exc:
        reason = f"this {adapter.number} {kind.value} cannot be carried to OCPI 2.2.1: {exc}"
        return WireObject(data, kind, adapter.number, untranslatable=reason), checked.findings
    return result.value, checked.findings


def carry_all_down(
    adapter: VersionAdapter,
    carried: Carried,
    data: Any,
    where: str,
    context: MessageContext = NO_CONTEXT,
) -> tuple[Any, list[Finding]]:
    """`data` of an answer or a body: one object, or (`carried.many`) a list of them."""
    if carried.many:
        if not isinstance(data, list):
            return data, []
        items: list[Any] = []
        findings: list[Finding] = []
        for index, item in enumerate(data):
            value, found = carry_down(adapter, carried.kind, item, f"{where}[{index}]", context)
            items.append(value)
            findings.extend(found)
        return items, findings
    return carry_down(adapter, carried.kind, data, where, context)


OWNER_IN_PATH = frozenset(
    {ModuleID.LOCATIONS, ModuleID.TARIFFS, ModuleID.SESSIONS, ModuleID.TOKENS}
)
"""Receiver interfaces whose URLs name the object's owner: {url}/{country_code}/{party_id}/…"""


def message_context(
    module: ModuleID | str,
    role: InterfaceRole,
    segments: Sequence[str],
    other: PartyRef | None,
    token_type: str | None = None,
) -> MessageContext:
    """Who owns the object of a message below a `role` interface of `module` (`segments`:
    the path below its URL): the party a receiver URL names, else `other` (the party at the
    other end); for a real-time authorization, the token it is about."""
    if role is InterfaceRole.RECEIVER and module in OWNER_IN_PATH and len(segments) >= 2:
        named = segments[2] if len(segments) > 2 else None
        return MessageContext(owner=PartyRef(segments[0], segments[1]), object_id=named)
    if module == ModuleID.TOKENS and segments[-1:] == ["authorize"] and len(segments) >= 2:
        return MessageContext(owner=other, token_uid=segments[-2], token_type=token_type)
    return MessageContext(owner=other)


def carry_up(adapter: VersionAdapter, carried: Carried, data: Any) -> Any:
    """What the suite sends, as the version's JSON; as it is when it is no valid 2.2.1
    object (a probe) or cannot be given in the version."""
    if carried.many and isinstance(data, list):
        return [carry_up(adapter, Carried(carried.kind), item) for item in data]
    try:
        return adapter.up(carried.kind, data).value
    except (ValueError, Untranslatable):
        return data


_CPO_CALLS = {
    ModuleID.LOCATIONS: InterfaceRole.SENDER,
    ModuleID.TARIFFS: InterfaceRole.SENDER,
    ModuleID.SESSIONS: InterfaceRole.SENDER,
    ModuleID.CDRS: InterfaceRole.SENDER,
    ModuleID.TOKENS: InterfaceRole.RECEIVER,
    ModuleID.COMMANDS: InterfaceRole.RECEIVER,
    ModuleID.CHARGINGPROFILES: InterfaceRole.RECEIVER,
}
"""The interface of a CPO member the suite calls per module (an eMSP's: the other one)."""


class MemberEdge:
    """The suite's requests to the member and the member's answers, in the member's version.

    `endpoints` gives the member's endpoints as learned (its version details); a URL below
    none of them (versions, details) is the handshake's and passes as it is.
    """

    def __init__(
        self,
        adapter: VersionAdapter,
        endpoints: Callable[[], Sequence[Endpoint]],
        member_role: Role,
        findings: Callable[[list[Finding], Any], None],
        member_party: Callable[[], PartyRef | None] = lambda: None,
    ) -> None:
        self.adapter = adapter
        self.endpoints = endpoints
        self.member_role = member_role
        self.findings = findings
        """Where DateTime and string findings go, with the exchange that showed them."""
        self.member_party = member_party
        """The member's party: the owner of what it answers, unless the URL names one."""

    def _target(self, url: str) -> tuple[Endpoint, list[str]] | None:
        return endpoint_under(url, self.endpoints(), self._called)

    def _called(self, module: ModuleID | str) -> InterfaceRole | None:
        """The member's interface of `module` the suite calls (one URL for both)."""
        wanted = _CPO_CALLS.get(module) if isinstance(module, ModuleID) else None
        if wanted is not None and self.member_role is Role.EMSP:
            other = InterfaceRole.RECEIVER
            wanted = InterfaceRole.SENDER if wanted is other else other
        return wanted

    def carried(self, method: str, url: str) -> tuple[Carried | None, Carried | None]:
        """(request body, answer data) objects of a request to `url`."""
        target = self._target(url)
        if target is None:
            return None, None
        endpoint, segments = target
        found = exchange(endpoint.identifier, endpoint.role, method, segments)
        return found.request, found.response

    def context(self, url: str) -> MessageContext:
        """What a request to `url` says about the objects of its answer."""
        target = self._target(url)
        if target is None:
            return NO_CONTEXT
        endpoint, segments = target
        kind = httpx.URL(url).params.get("type")
        return message_context(
            endpoint.identifier, endpoint.role, segments, self.member_party(), kind
        )

    def request_up(self, method: str, url: str, content: bytes) -> bytes:
        carried, _ = self.carried(method, url)
        if carried is None:
            return content
        try:
            data = read_json(content)
        except ValueError:
            return content  # not JSON on purpose (transport.not_json_400)
        return pydantic_core.to_json(carry_up(self.adapter, carried, data))

    def answer_down(self, method: str, url: str, payload: Any, evidence: Any) -> Any:
        """An answer's envelope with its `data` carried down (or kept, see WireObject)."""
        _, carried = self.carried(method, url)
        if (
            carried is None
            or not isinstance(payload, dict)
            or not isinstance(payload.get("status_code"), int)
            or not is_success(payload["status_code"])
            or payload.get("data") is None
        ):
            return payload
        context = self.context(url)
        data, found = carry_all_down(self.adapter, carried, payload["data"], "data", context)
        self.findings(found, evidence)
        return {**payload, "data": data}
