"""Recovery checks: after the suite reports the member's counterpart OFFLINE and then
CONNECTED again (HubClientInfo), the member sends it nothing meanwhile and gets back in sync.

During the outage the suite, as the counterpart, changes objects it owns and serves on its
Sender interface (it cannot push them: the party is offline). Once CONNECTED, the member must
GET them (with a `date_from` no later than the change, or everything) and its copy must end
equal to the suite's: a CPO the counterpart eMSP's Token, an eMSP the counterpart CPO's
Location and Tariff. The reading of the spec this takes is in docs/conformance.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ocpi.v221 import DisplayText, InterfaceRole, Location, ModuleID, Role, Tariff, Token
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import format_datetime, parse_datetime
from roam.conformance.checks import Check, CheckFailed, CheckSkipped, check
from roam.conformance.context import Context
from roam.conformance.exchange import Evidence, Exchange, Inbound
from roam.conformance.registration import HANDSHAKE
from roam.conformance.validation import check_value

S_RESYNC = (
    "mod_hub_client_info.asciidoc §15.1.1 Another Party becomes CONNECTED, §15.1.2 Another "
    "Party goes OFFLINE; transport_and_format.asciidoc §4.1.4.1 GET (date_from)"
)
_MODELS: dict[ModuleID, type[Token | Location | Tariff]] = {
    ModuleID.TOKENS: Token,
    ModuleID.LOCATIONS: Location,
    ModuleID.TARIFFS: Tariff,
}
POLL = 0.05
"""Seconds between two read-backs while the member applies what it pulled."""


@dataclass(frozen=True)
class Changed:
    """An object of the counterpart's the suite changed during the outage."""

    module: ModuleID
    name: str
    body: dict[str, Any]
    """The suite's copy as it serves it."""
    read_back: str
    """The member's Receiver URL of that object."""
    params: dict[str, str] | None
    field: str
    """The field the suite changed (compared with `last_updated`)."""


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def _changes(ctx: Context, stamp: datetime) -> list[Changed]:
    """Change the suite's own objects (stamped `stamp`) and serve them on its Sender lists."""
    store = ctx.server.objects
    when = format_datetime(stamp)
    note = DisplayText(language="en", text="changed while offline (roam conformance)")
    if ctx.config.role is Role.CPO:
        token = ctx.learned.suite_token
        if token is None:
            raise CheckSkipped("needs the suite's Token stored by cpo.tokens_receiver")
        base = ctx.require_endpoint(ModuleID.TOKENS, InterfaceRole.RECEIVER)
        body = token.model_copy(update={"visual_number": "CONF-RESYNC"}).to_json()
        body["last_updated"] = when
        store["tokens"][(token.country_code, token.party_id, token.uid, token.type.value)] = body
        url = _join(base, token.country_code, token.party_id, token.uid)
        return [
            Changed(
                ModuleID.TOKENS,
                f"Token {token.uid}",
                body,
                url,
                {"type": token.type.value},
                "visual_number",
            )
        ]
    location, tariff = ctx.learned.pushed_location, ctx.learned.pushed_tariff
    if location is None or tariff is None:
        raise CheckSkipped("needs the Location and Tariff of emsp.push_location and push_tariff")
    changed = []
    for module, model, field_name, value in (
        (ModuleID.LOCATIONS, location, "name", "CONF location, renamed while offline"),
        (ModuleID.TARIFFS, tariff, "tariff_alt_text", [note]),
    ):
        body = model.model_copy(update={field_name: value}).to_json()
        body["last_updated"] = when
        key = (model.country_code, model.party_id, model.id)
        store[module.value][key] = body
        base = ctx.require_endpoint(module, InterfaceRole.RECEIVER)
        name = f"{type(model).__name__} {model.id}"
        url = _join(base, *key)
        changed.append(Changed(module, name, body, url, None, field_name))
    return changed


async def _status(ctx: Context, status: ConnectionStatus) -> Exchange:
    base = ctx.require_endpoint(ModuleID.HUBCLIENTINFO, InterfaceRole.RECEIVER)
    info = ctx.server.client_info().model_copy(
        update={"status": status, "last_updated": datetime.now(UTC)}
    )
    exchange = await ctx.call(
        "PUT", _join(base, info.country_code, info.party_id), body=info, routed=False
    )
    ctx.expect_ok(exchange, f"PUT ClientInfo {info.country_code}/{info.party_id} {status}")
    return exchange


def _date_from(pull: Inbound) -> datetime | None:
    raw = dict(parse_qsl(urlsplit(pull.url).query)).get("date_from")
    if raw is None:
        return None
    try:
        return parse_datetime(raw)
    except ValueError:
        raise CheckFailed(f"the pull's date_from {raw!r} is no DateTime", pull) from None


async def _copy(ctx: Context, item: Changed) -> tuple[str | None, Exchange]:
    """What differs between the member's copy and the suite's (None: equal). Both are read
    as wire models (a DateTime format fault is transport.datetime_format's, not this one's)."""
    got = await ctx.call("GET", item.read_back, params=item.params)
    if not got.ok:
        return f"GET {item.name}: {got.outcome()}", got
    model = _MODELS[item.module]
    theirs = check_value(model, got.envelope.data, "data").value
    ours = check_value(model, item.body, "suite").value
    if theirs is None:
        return f"GET {item.name}: not a valid {model.__name__}", got
    wrong = [
        f"{name} {_shown(getattr(theirs, name))}, the suite's {_shown(getattr(ours, name))}"
        for name in (item.field, "last_updated")
        if getattr(theirs, name) != getattr(ours, name)
    ]
    return ("; ".join(wrong) or None), got


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, list):
        return repr([v.to_json() if hasattr(v, "to_json") else v for v in value])
    return repr(value)


def _get_of(path: str) -> Callable[[Inbound], bool]:
    return lambda item: item.method == "GET" and item.path == path


@check(
    "recovery.resync",
    "After the counterpart was OFFLINE, the member pulls what it missed",
    S_RESYNC,
    needs=[HANDSHAKE, "registration.hubclientinfo"],
)
async def resync(ctx: Context) -> str | None:
    counterpart = ctx.config.other
    offline = await _status(ctx, ConnectionStatus.OFFLINE)
    quiet_from = len(ctx.server.inbound)
    stamp = datetime.now(UTC)
    changed = _changes(ctx, stamp)
    await asyncio.sleep(0)  # let anything the member had under way go out (and be judged)
    since = len(ctx.server.inbound)
    spoke = [i for i in ctx.server.inbound[quiet_from:since] if i.addressee == counterpart]
    back = await _status(ctx, ConnectionStatus.CONNECTED)
    if spoke:
        raise CheckFailed(
            f"while {counterpart} was OFFLINE the member sent it {len(spoke)} requests (spec: "
            "no requests can be sent, push messages are not queued)",
            offline,
            *spoke[:5],
        )
    deadline = time.monotonic() + ctx.config.wait
    pulls: list[Inbound] = []
    for module in dict.fromkeys(c.module for c in changed):
        path = f"2.2.1/sender/{module.value}"
        pull = await ctx.server.wait_for(_get_of(path), max(deadline - time.monotonic(), 0), since)
        if pull is None:
            raise CheckFailed(
                f"{counterpart} changed its {module.value} while OFFLINE; within "
                f"{ctx.config.wait:g} s of CONNECTED the member did not GET them from the "
                "suite (spec: when the party is back, a GET gets back in sync)",
                offline,
                back,
            )
        after = _date_from(pull)
        if after is not None and after > stamp:
            raise CheckFailed(
                f"the member pulled {module.value} with date_from {format_datetime(after)}, "
                f"after the change it missed ({format_datetime(stamp)}): the pull cannot see it",
                pull,
            )
        pulls.append(pull)
    differences: list[tuple[str, Exchange]] = []
    while True:
        differences = []
        for item in changed:
            problem, got = await _copy(ctx, item)
            if problem is not None:
                differences.append((f"{item.name}: {problem}", got))
        if not differences or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL)
    if differences:
        evidence: list[Evidence] = [*pulls, *(e for _, e in differences)]
        raise CheckFailed(
            "after the pull the member's copy is not the suite's: "
            + "; ".join(text for text, _ in differences),
            *evidence,
        )
    used = [p for p in pulls if _date_from(p) is not None]
    how = "with date_from" if len(used) == len(pulls) else "in full" if not used else "mixed"
    return f"pulled {', '.join(c.module.value for c in changed)} {how}; copies equal"


CHECKS: tuple[Check, ...] = (resync,)
