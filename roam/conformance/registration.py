"""Registration checks: versions, 2.2.1 details, the credentials handshake both ways, token A
afterwards, a second POST, HubClientInfo, and (last of the run) PUT rotation and DELETE.

The suite is the Sender of the credentials module (spec credentials, Registration): it reads
the member's versions with the token A the member handed out, POSTs its own credentials with
a fresh token B, and expects the member to call back with B before answering with token C.
"""

from __future__ import annotations

from ocpi.headers import PartyRef
from ocpi.platform.registration import new_token
from ocpi.status import OcpiStatus
from ocpi.v221 import (
    Credentials,
    InterfaceRole,
    ModuleID,
    Role,
    Version,
)
from roam.conformance.checks import Check, CheckFailed, Phase, check
from roam.conformance.context import Context
from roam.conformance.exchange import Exchange, Inbound

S_VERSIONS = "version_information_endpoint.asciidoc §6.1 Version information endpoint, §6.1.3 GET"
S_DETAILS = (
    "version_information_endpoint.asciidoc §6.2 Version details endpoint, §6.2.2 Endpoint "
    "class; transport_and_format.asciidoc §4.3 Interface endpoints"
)
S_REGISTRATION = "credentials.asciidoc §7.1.1 Registration, §7.2.2 POST Method"
S_CREDENTIALS = "credentials.asciidoc §7.2.2 POST Method, §7.3.1 Credentials object"
S_TOKEN_A = (
    "credentials.asciidoc §7.1.1 Registration; transport_and_format.asciidoc §4.1.2 "
    "Authorization header"
)
S_SECOND_POST = "credentials.asciidoc §7.2.2 POST Method (405 when already registered)"
S_CLIENTINFO = "mod_hub_client_info.asciidoc §15.3.1.2 PUT Method, §15.4.1 ClientInfo Object"
S_PUT = (
    "credentials.asciidoc §7.1.4 Updating the credentials and resetting the credentials "
    "token, §7.2.3 PUT Method"
)
S_DELETE = "credentials.asciidoc §7.2.4 DELETE Method"

REQUIRED: dict[Role, tuple[tuple[ModuleID, InterfaceRole | None], ...]] = {
    Role.CPO: (
        (ModuleID.CREDENTIALS, None),
        (ModuleID.LOCATIONS, InterfaceRole.SENDER),
        (ModuleID.TARIFFS, InterfaceRole.SENDER),
        (ModuleID.SESSIONS, InterfaceRole.SENDER),
        (ModuleID.CDRS, InterfaceRole.SENDER),
        (ModuleID.TOKENS, InterfaceRole.RECEIVER),
        (ModuleID.COMMANDS, InterfaceRole.RECEIVER),
        (ModuleID.HUBCLIENTINFO, InterfaceRole.RECEIVER),
    ),
    Role.EMSP: (
        (ModuleID.CREDENTIALS, None),
        (ModuleID.LOCATIONS, InterfaceRole.RECEIVER),
        (ModuleID.TARIFFS, InterfaceRole.RECEIVER),
        (ModuleID.SESSIONS, InterfaceRole.RECEIVER),
        (ModuleID.CDRS, InterfaceRole.RECEIVER),
        (ModuleID.TOKENS, InterfaceRole.SENDER),
        (ModuleID.COMMANDS, InterfaceRole.SENDER),
        (ModuleID.HUBCLIENTINFO, InterfaceRole.RECEIVER),
    ),
}
"""The interfaces a member of each role publishes to a hub (spec module tables; digest §2.1)."""

HANDSHAKE = "registration.handshake"
REFUSED = (401, 403)
"""A token is refused when the answer is 401 (or 403): which of the two is the exact status is
judged once, by transport.unknown_token_401, so that one fault fails one check."""


def own_list_url(ctx: Context) -> str:
    """A functional endpoint of the member any caller may GET (its Sender list)."""
    module = ModuleID.LOCATIONS if ctx.config.role is Role.CPO else ModuleID.TOKENS
    return ctx.require_endpoint(module, InterfaceRole.SENDER)


def credentials_url(ctx: Context) -> str:
    return ctx.require_endpoint(ModuleID.CREDENTIALS)


def read_credentials(ctx: Context, exchange: Exchange) -> Credentials:
    """The member's Credentials in the answer, valid in the run's version, as 2.2.1."""
    spoken = ctx.config.speaks
    where = "data" if not spoken.translates else f"data (OCPI {spoken.number} Credentials)"
    theirs = ctx.parse(spoken.credentials_type(), exchange.envelope.data, where, exchange)
    return spoken.credentials_down(theirs, ctx.config.role)


@check(
    "registration.versions", "Versions: an envelope listing 2.2.1", S_VERSIONS, phase=Phase.SETUP
)
async def versions(ctx: Context) -> str | None:
    exchange = await ctx.call(
        "GET", ctx.config.versions_url, token=ctx.config.token_a, routed=False
    )
    ctx.expect_ok(exchange, "GET versions with token A")
    listed: list[Version] = ctx.parse(list[Version], exchange.envelope.data, "data", exchange)
    if not listed:
        raise CheckFailed("the versions list is empty (spec: at least one Version)", exchange)
    number = ctx.config.version
    chosen = [v for v in listed if str(v.version) == number]
    offered = ", ".join(str(v.version) for v in listed)
    if not chosen:
        raise CheckFailed(f"{number} is not offered (the member offers {offered})", exchange)
    ctx.learned.details_url = chosen[0].url
    return f"offers {offered}"


@check(
    "registration.version_details",
    "2.2.1 details: every interface of the role",
    S_DETAILS,
    needs=["registration.versions"],
    phase=Phase.SETUP,
)
async def version_details(ctx: Context) -> str | None:
    url = ctx.learned.details_url
    assert url is not None
    exchange = await ctx.call("GET", url, token=ctx.config.token_a, routed=False)
    number = ctx.config.version
    ctx.expect_ok(exchange, f"GET the {number} version details with token A")
    details_type = ctx.config.speaks.details_type()
    details = ctx.parse(details_type, exchange.envelope.data, "data", exchange)
    ctx.learned.endpoints = ctx.config.speaks.endpoints(details, ctx.config.other_role)
    problems = []
    if str(details.version) != number:
        problems.append(f"version is {details.version}, not {number}")
    for module, role in REQUIRED[ctx.config.role]:
        if not ctx.config.speaks.adapter.serves(module):
            continue  # a module the version does not have (2.1.1: hubclientinfo)
        if ctx.endpoint(module, role) is None:
            interface = f" {role.value}" if role is not None else ""
            problems.append(f"no {module.value}{interface} endpoint")
    for endpoint in details.endpoints:
        if not endpoint.url.startswith(("http://", "https://")):
            problems.append(f"{endpoint.identifier} URL {endpoint.url!r} is not absolute")
    if problems:
        who = "a CPO" if ctx.config.role is Role.CPO else "an eMSP"
        raise CheckFailed(f"as {who}: " + "; ".join(problems), exchange)
    return f"{len(details.endpoints)} endpoints"


@check(
    HANDSHAKE,
    "Credentials POST with token A answered with token C and the roles",
    S_CREDENTIALS,
    needs=["registration.version_details"],
    phase=Phase.SETUP,
)
async def handshake(ctx: Context) -> str | None:
    url = credentials_url(ctx)
    token_b = new_token()
    ctx.server.tokens[token_b] = "B"
    first = len(ctx.server.inbound)
    exchange = await ctx.call(
        "POST",
        url,
        token=ctx.config.token_a,
        body=ctx.server.credentials_body(token_b),
        routed=False,
    )
    ctx.learned.handshake = (first, len(ctx.server.inbound))
    if exchange.envelope.status_code == OcpiStatus.UNABLE_TO_USE_CLIENT_API:
        raise CheckFailed(
            "the member answered 3001: it could not use the suite's API. Is the suite "
            f"reachable from the member at {ctx.server.versions_url}? (--public-url)",
            exchange,
        )
    ctx.expect_ok(exchange, "POST credentials with token A")
    theirs = read_credentials(ctx, exchange)
    if theirs.token in (ctx.config.token_a, token_b):
        raise CheckFailed("the answer's token must be a new token C", exchange)
    ctx.token = theirs.token
    ctx.member_parties = {PartyRef(r.country_code, r.party_id) for r in theirs.roles}
    mine = [PartyRef(r.country_code, r.party_id) for r in theirs.roles if r.role is ctx.config.role]
    if any(r.role is Role.HUB for r in theirs.roles):
        raise CheckFailed("a member's credentials must not list the HUB role", exchange)
    wanted = ctx.config.party
    if wanted is not None and wanted not in mine:
        roles = ", ".join(f"{r.role.value} {r.country_code}/{r.party_id}" for r in theirs.roles)
        raise CheckFailed(
            f"the credentials list no {ctx.config.role.value} role for {wanted} (roles: {roles})",
            exchange,
        )
    if not mine:
        raise CheckFailed(f"the credentials list no {ctx.config.role.value} role", exchange)
    ctx.member_party = wanted or mine[0]
    return f"member {ctx.member_party}, token C received"


def _callbacks(ctx: Context) -> list[Inbound]:
    window = ctx.learned.handshake
    if window is None:
        return []
    return ctx.server.inbound[window[0] : window[1]]


@check(
    "registration.callback",
    "The member fetched the suite's versions and details with token B",
    S_REGISTRATION,
    needs=[HANDSHAKE],
    phase=Phase.SETUP,
)
async def callback(ctx: Context) -> str | None:
    calls = _callbacks(ctx)
    token_b = next(t for t, label in ctx.server.tokens.items() if label == "B")
    versions_path, details_path = "versions", "2.2.1"  # the inner path of the version's details
    seen = {item.path for item in calls if item.method == "GET" and item.token == token_b}
    missing = [p for p in (versions_path, details_path) if p not in seen]
    if missing:
        names = {versions_path: "versions", details_path: f"{ctx.config.version} details"}
        raise CheckFailed(
            "before answering the POST the member did not GET the suite's "
            + " and ".join(names[p] for p in missing)
            + " with token B (spec: the Receiver uses token B for any request to the Sender, "
            "including the version information and details)",
            *calls,
        )
    return None


@check(
    "registration.token_a_refused",
    "Token A refused after the handshake",
    S_TOKEN_A,
    needs=[HANDSHAKE],
    phase=Phase.SETUP,
)
async def token_a_refused(ctx: Context) -> str | None:
    header = ctx.member.authorization(ctx.config.token_a)
    accepted: list[Exchange] = []
    for url, routed in ((own_list_url(ctx), True), (ctx.config.versions_url, False)):
        exchange = await ctx.call("GET", url, routed=routed, authorization=header, probe=True)
        if exchange.status not in REFUSED:
            accepted.append(exchange)
    if accepted:
        raise CheckFailed(
            "token A still works after the handshake: "
            + "; ".join(f"GET {e.url} -> {e.outcome()}" for e in accepted)
            + " (expected HTTP 401: refused)",
            *accepted,
        )
    return None


@check(
    "registration.hubclientinfo",
    "HubClientInfo PUT of the suite's party accepted",
    S_CLIENTINFO,
    needs=[HANDSHAKE],
    phase=Phase.SETUP,
)
async def hubclientinfo(ctx: Context) -> str | None:
    base = ctx.require_endpoint(ModuleID.HUBCLIENTINFO, InterfaceRole.RECEIVER)
    info = ctx.server.client_info()
    url = f"{base.rstrip('/')}/{info.country_code}/{info.party_id}"
    exchange = await ctx.call("PUT", url, body=info, routed=False)
    ctx.expect_ok(exchange, f"PUT ClientInfo {info.country_code}/{info.party_id} CONNECTED")
    return None


@check(
    "registration.second_post",
    "A second credentials POST is refused with HTTP 405",
    S_SECOND_POST,
    needs=[HANDSHAKE],
    phase=Phase.SETUP,
)
async def second_post(ctx: Context) -> str | None:
    token = new_token()
    ctx.server.tokens[token] = "B (second POST)"
    exchange = await ctx.call(
        "POST", credentials_url(ctx), body=ctx.server.credentials_body(token), routed=False
    )
    if exchange.status == 405:
        del ctx.server.tokens[token]
        return None
    if exchange.ok and isinstance(exchange.envelope.data, dict):
        # The member registered us again: carry on with the token it just gave.
        new = exchange.envelope.data.get("token")
        if isinstance(new, str):
            ctx.token = new
    raise CheckFailed(f"expected HTTP 405, got {exchange.outcome()}", exchange)


@check(
    "registration.put_rotation",
    "Credentials PUT rotates both tokens and re-reads endpoints",
    S_PUT,
    needs=[HANDSHAKE],
    phase=Phase.TEARDOWN,
)
async def put_rotation(ctx: Context) -> str | None:
    old = ctx.token
    assert old is not None
    token_b2 = new_token()
    ctx.server.tokens[token_b2] = "B2"
    first = len(ctx.server.inbound)
    exchange = await ctx.call(
        "PUT", credentials_url(ctx), body=ctx.server.credentials_body(token_b2), routed=False
    )
    ctx.expect_ok(exchange, "PUT credentials with token C")
    theirs = read_credentials(ctx, exchange)
    calls = ctx.server.inbound[first:]
    if theirs.token == old:
        raise CheckFailed("the PUT answer must carry a new token (spec: MUST)", exchange)
    ctx.token = theirs.token
    for label in [t for t, name in ctx.server.tokens.items() if name != "B2"]:
        del ctx.server.tokens[label]
    fetched = {i.path for i in calls if i.method == "GET" and i.token == token_b2}
    if not {"versions", "2.2.1"} <= fetched:
        raise CheckFailed(
            "during the PUT the member did not GET the suite's versions and details with the "
            "new token (spec: the server must fetch the client's endpoints again)",
            exchange,
            *calls,
        )
    works = await ctx.call("GET", own_list_url(ctx))
    ctx.expect_ok(works, "the new token C")
    stale = await ctx.call(
        "GET", own_list_url(ctx), authorization=ctx.member.authorization(old), probe=True
    )
    if stale.status not in REFUSED:
        raise CheckFailed(
            f"the replaced token still works: {stale.outcome()} (expected HTTP 401)", stale
        )
    return None


@check(
    "registration.delete",
    "Credentials DELETE ends the connection",
    S_DELETE,
    needs=[HANDSHAKE],
    phase=Phase.TEARDOWN,
)
async def delete(ctx: Context) -> str | None:
    exchange = await ctx.call("DELETE", credentials_url(ctx), routed=False)
    ctx.expect_ok(exchange, "DELETE credentials")
    after = await ctx.call("GET", own_list_url(ctx), probe=True)
    ctx.server.tokens.clear()
    if after.status not in REFUSED:
        raise CheckFailed(
            f"the token still works after DELETE: {after.outcome()} (expected HTTP 401)", after
        )
    return None


CHECKS: tuple[Check, ...] = (
    versions,
    version_details,
    handshake,
    callback,
    token_a_refused,
    hubclientinfo,
    second_post,
    put_rotation,
    delete,
)
