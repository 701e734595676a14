"""Lifecycle checks: the credentials of a connection over its life, beyond the first handshake.

A rotation whose answer is lost (the suite PUTs, drops the member's answer, PUTs again with
the old token), a rotation the member starts (its PUT to the suite), and registering again
after DELETE with the member starting the handshake toward the suite. What OCPI has no
message for (make the member register or rotate) the suite asks through the member hook
(`SuiteConfig.member_hook`, `--member-command`); without one those checks are skipped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import NoReturn

from ocpi.headers import PartyRef
from ocpi.platform.registration import new_token
from ocpi.status import OcpiStatus
from ocpi.v221 import Credentials, Role, Version
from roam.conformance.checks import Check, CheckFailed, CheckSkipped, Phase, check
from roam.conformance.context import Context, MemberAction
from roam.conformance.exchange import Evidence, Exchange, Inbound
from roam.conformance.registration import (
    HANDSHAKE,
    REFUSED,
    S_DELETE,
    credentials_url,
    own_list_url,
    read_credentials,
)
from roam.conformance.suite_server import Answer, reply
from roam.conformance.validation import check_value

S_INTERRUPTED = (
    "credentials.asciidoc §7.1.4 Updating the credentials and resetting the credentials "
    "token, §7.2.3 PUT Method (silent on the old token: see docs/conformance.md)"
)
S_MEMBER_PUT = (
    "credentials.asciidoc §7.1.4 Updating the credentials and resetting the credentials "
    "token, §7.2.3 PUT Method (the member as the client)"
)
S_REREGISTER = (
    f"{S_DELETE}; credentials.asciidoc §7.1.1 Registration, §7.2.2 POST Method (the member as "
    "the Sender)"
)
CREDENTIALS_PATH = "2.2.1/credentials"
DELETED = "registration.delete"


@dataclass
class Received:
    """A credentials POST or PUT the member sent the suite, and what the suite made of it."""

    item: Inbound
    fetched: list[Exchange] = field(default_factory=list)
    """The suite's GETs of the member's versions and details with the token it sent."""
    problem: str | None = None
    """Why the suite refused it (None: accepted)."""
    status: int = 0
    """The OCPI status the suite answered with."""
    credentials: Credentials | None = None
    issued: str | None = None
    """The token the suite answered with."""

    @property
    def evidence(self) -> list[Evidence]:
        return [self.item, *self.fetched]


class Desk:
    """The suite's credentials endpoint for calls the member starts: a POST with the token A
    the suite handed out, a PUT with the token the member holds. It answers as a hub would
    (fetch the member's versions and details with the member's token, answer with a new
    token of its own) and keeps every call for the check that asked for it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.received: list[Received] = []

    def install(self) -> None:
        self.ctx.server.credentials_handler = self.answer

    async def answer(self, item: Inbound) -> Answer:
        record = Received(item)
        self.received.append(record)
        answer = await self._answer(record)
        record.status = answer[1]
        if answer[1] != OcpiStatus.SUCCESS:
            record.problem = answer[3]
        return answer

    async def _answer(self, record: Received) -> Answer:
        ctx, item = self.ctx, record.item
        label = ctx.server.tokens.get(item.token or "", "")
        with_a = label.startswith("A")
        if item.method == "POST" and not with_a:
            return reply(
                None, OcpiStatus.CLIENT_ERROR, "already registered: PUT to update", http=405
            )
        if item.method == "PUT" and with_a:
            return reply(None, OcpiStatus.CLIENT_ERROR, "not registered: POST first", http=405)
        checked = check_value(Credentials, item.payload, "body")
        if not isinstance(checked.value, Credentials):
            problems = "; ".join(checked.problems) or "not a Credentials object"
            return reply(None, OcpiStatus.INVALID_OR_MISSING_PARAMETERS, problems)
        theirs = record.credentials = checked.value
        if any(r.role is Role.HUB for r in theirs.roles):
            return reply(
                None,
                OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
                "a member's credentials must not list the HUB role",
            )
        versions = await ctx.call("GET", theirs.url, token=theirs.token, routed=False, probe=True)
        record.fetched.append(versions)
        if not versions.ok:
            return _unusable(f"GET {theirs.url} with the token sent: {versions.outcome()}")
        listed = check_value(list[Version], versions.envelope.data, "data")
        number = ctx.config.version
        chosen = [v for v in listed.value or [] if str(v.version) == number]
        if not chosen:
            return reply(
                None, OcpiStatus.UNSUPPORTED_VERSION, f"{theirs.url} offers no OCPI {number}"
            )
        details = await ctx.call("GET", chosen[0].url, token=theirs.token, routed=False, probe=True)
        record.fetched.append(details)
        parsed = check_value(ctx.config.speaks.details_type(), details.envelope.data, "data")
        if not details.ok or parsed.value is None:
            return _unusable(f"GET {chosen[0].url} with the token sent: {details.outcome()}")
        issued = record.issued = new_token()
        # The member holds only the token of this answer from now on.
        ctx.server.tokens.clear()
        ctx.server.tokens[issued] = "C (member's " + item.method + ")"
        ctx.token = theirs.token
        ctx.learned.endpoints = ctx.config.speaks.endpoints(parsed.value, ctx.config.other_role)
        ctx.member_parties = {PartyRef(r.country_code, r.party_id) for r in theirs.roles}
        return reply(ctx.server.credentials(issued))

    def since(self, index: int, method: str) -> list[Received]:
        return [r for r in self.received[index:] if r.item.method == method]


def _unusable(what: str) -> Answer:
    return reply(
        None,
        OcpiStatus.UNABLE_TO_USE_CLIENT_API,
        f"the suite could not use the member's API ({what})",
    )


def _desk(ctx: Context) -> Desk:
    handler = ctx.server.credentials_handler
    owner = getattr(handler, "__self__", None)
    if isinstance(owner, Desk):
        return owner
    desk = Desk(ctx)
    desk.install()
    return desk


async def _ask(ctx: Context, action: MemberAction) -> str | None:
    """Run the member hook; None when it finished, else why not (the check judges what
    arrived either way: a member whose handshake the suite refused may well fail its hook)."""
    hook = ctx.config.member_hook
    if hook is None:
        raise CheckSkipped(
            f"the suite cannot ask the member to {action.action} over OCPI: give "
            "--member-command (a command that does it, see docs/conformance.md)"
        )
    try:
        await asyncio.wait_for(hook(action), ctx.config.wait + ctx.config.timeout)
    except TimeoutError:
        return f"the member hook ({action.action}) did not finish in time"
    except Exception as exc:  # the operator's hook: whatever it raises is its report
        return f"the member hook ({action.action}) failed: {type(exc).__name__}: {exc}"
    return None


def _position(ctx: Context, item: Inbound) -> int:
    """Where `item` is in the suite's inbound list (recorded once answered, so requests that
    came while the suite handled it stand before it)."""
    return next(n for n, seen in enumerate(ctx.server.inbound) if seen is item)


def _judge_accepted(record: Received, what: str) -> None:
    if record.problem is not None:
        raise CheckFailed(
            f"{what}: the suite refused it (HTTP {record.item.status}, status "
            f"{record.status}: {record.problem})",
            *record.evidence,
        )


def _none_arrived(
    ctx: Context, since: int, method: str, asked: str, failed: str | None
) -> NoReturn:
    """Nothing reached the credentials Desk: fail on a call refused before it (not JSON, an
    unknown token), skip when the hook failed, fail otherwise."""
    refused = [
        i for i in ctx.server.inbound[since:] if i.method == method and i.path == CREDENTIALS_PATH
    ]
    if refused:
        raise CheckFailed(
            f"the member's credentials {method} was refused before it could be judged: HTTP "
            f"{refused[-1].status} (a token the suite did not issue, or a body that is not JSON)",
            *refused[-3:],
        )
    if failed is not None:
        raise CheckSkipped(failed)
    raise CheckFailed(f"{asked}: no credentials {method} arrived", *ctx.server.inbound[since:][:5])


async def _refused(ctx: Context, token: str) -> Exchange | None:
    """The exchange where `token` still worked on the member's API (None: refused)."""
    stale = await ctx.call(
        "GET", own_list_url(ctx), authorization=ctx.member.authorization(token), probe=True
    )
    return None if stale.status in REFUSED else stale


@check(
    "lifecycle.interrupted_rotation",
    "A rotation whose answer was lost can be retried with the old token",
    S_INTERRUPTED,
    needs=[HANDSHAKE],
    phase=Phase.CREDENTIALS,
)
async def interrupted_rotation(ctx: Context) -> str | None:
    old = ctx.token
    assert old is not None
    url = credentials_url(ctx)
    first_b = new_token()
    ctx.server.tokens[first_b] = "B (PUT answer lost)"
    first = await ctx.call("PUT", url, body=ctx.server.credentials_body(first_b), routed=False)
    ctx.expect_ok(first, "PUT credentials with token C")
    lost = first.envelope.data.get("token") if isinstance(first.envelope.data, dict) else None
    # The answer is "lost": the suite still holds only the old token, and sends the PUT again.
    retry_b = new_token()
    ctx.server.tokens[retry_b] = "B (PUT retried)"
    retry = await ctx.call(
        "PUT", url, body=ctx.server.credentials_body(retry_b), routed=False, probe=True
    )
    if not retry.ok:
        raise CheckFailed(
            "the answer to a credentials PUT was lost, so the suite retried it with the token "
            f"it still holds, the old one: {retry.outcome()}. The pair cannot recover in OCPI "
            "(only a new token A out of band would): keep accepting the old token until the "
            "new one is used",
            first,
            retry,
        )
    theirs = read_credentials(ctx, retry)
    if theirs.token in (old, lost):
        raise CheckFailed("the retried PUT must be answered with a new token", first, retry)
    ctx.token = theirs.token
    for token in [t for t in ctx.server.tokens if t != retry_b]:
        del ctx.server.tokens[token]
    works = await ctx.call("GET", own_list_url(ctx))
    ctx.expect_ok(works, "the token of the retried PUT")
    stale = [
        (name, exchange)
        for name, token in (("the old token", old), ("the lost answer's token", lost))
        if isinstance(token, str) and (exchange := await _refused(ctx, token)) is not None
    ]
    if stale:
        raise CheckFailed(
            "once the new token is in use, the tokens it replaced must be refused: "
            + "; ".join(f"{name} still works ({e.outcome()})" for name, e in stale),
            first,
            retry,
            *(e for _, e in stale),
        )
    return "retry accepted; old tokens refused once the new one was used"


@check(
    "lifecycle.member_rotation",
    "The member rotates its credentials with a PUT to the suite",
    S_MEMBER_PUT,
    needs=[HANDSHAKE],
    phase=Phase.CREDENTIALS,
)
async def member_rotation(ctx: Context) -> str | None:
    old = ctx.token
    assert old is not None
    desk = _desk(ctx)
    index, since = len(desk.received), len(ctx.server.inbound)
    failed = await _ask(ctx, MemberAction("rotate", ctx.server.versions_url))
    puts = desk.since(index, "PUT")
    if not puts:
        _none_arrived(ctx, since, "PUT", "the member was asked to rotate its credentials", failed)
    record = puts[-1]
    _judge_accepted(record, "the member's credentials PUT")
    assert record.credentials is not None
    if record.credentials.token == old:
        raise CheckFailed(
            "asked to rotate, the member PUT the token the suite already held: it must send a "
            "new one (spec §7.1.4: the PUT resets the credentials token)",
            *record.evidence,
        )
    works = await ctx.call("GET", own_list_url(ctx))
    ctx.expect_ok(works, "the token the member sent in its PUT")
    stale = await _refused(ctx, old)
    if stale is not None:
        raise CheckFailed(
            f"the token the member rotated away from still works: {stale.outcome()}",
            *record.evidence,
            stale,
        )
    # After the answer the suite knows only the token it answered with (the Desk forgot the
    # one the PUT came with): anything the member sends with another is a stale token.
    later = [i for i in ctx.server.inbound[_position(ctx, record.item) + 1 :] if i.token is None]
    if later:
        raise CheckFailed(
            f"after the suite answered its PUT the member sent {len(later)} requests without "
            "the token of that answer",
            record.item,
            *later[:4],
        )
    return failed


@check(
    "lifecycle.reregistration",
    "After DELETE the member registers again, starting the handshake with the suite",
    S_REREGISTER,
    needs=[DELETED],
    phase=Phase.TEARDOWN,
)
async def reregistration(ctx: Context) -> str | None:
    desk = _desk(ctx)
    index = len(desk.received)
    since = len(ctx.server.inbound)
    token_a = new_token()
    ctx.server.tokens[token_a] = "A (re-registration)"
    action = MemberAction("register", ctx.server.versions_url, token_a)
    failed = await _ask(ctx, action)
    posts = desk.since(index, "POST")
    if not posts:
        asked = f"the member was asked to register with {action.versions_url} and a new token A"
        _none_arrived(ctx, since, "POST", asked, failed)
    record = posts[-1]
    if record.item.token != token_a:
        raise CheckFailed("the POST did not come with the token A the suite gave", record.item)
    posted = _position(ctx, record.item)
    before = [
        i.path for i in ctx.server.inbound[since:posted] if i.method == "GET" and i.token == token_a
    ]
    missing = [p for p in ("versions", "2.2.1") if p not in before]
    if missing:
        raise CheckFailed(
            "before its POST the member did not GET the suite's "
            + " and ".join(
                "versions" if p == "versions" else f"{ctx.config.version} details" for p in missing
            )
            + " with token A (spec: the Sender retrieves the version information and details)",
            *ctx.server.inbound[since : posted + 1],
        )
    _judge_accepted(record, "the member's credentials POST")
    assert record.credentials is not None
    mine = [
        PartyRef(r.country_code, r.party_id)
        for r in record.credentials.roles
        if r.role is ctx.config.role
    ]
    if ctx.member_party is not None and ctx.member_party not in mine:
        raise CheckFailed(
            f"the credentials of the new registration list no {ctx.config.role.value} role "
            f"for {ctx.member_party}",
            *record.evidence,
        )
    works = await ctx.call("GET", own_list_url(ctx))
    ctx.expect_ok(works, "the token the member sent in its POST")
    return failed


CHECKS: tuple[Check, ...] = (interrupted_rotation, member_rotation, reregistration)
