"""Checks of money (issue 18, group 4): a CPO's running Session `total_cost` against its
tariff, the credit CDR a CPO issues for a CDR, and an eMSP that takes a credit CDR.

A CDR's own price is `cpo.cdr_priced`; every message here names the tariff in words and the
difference in the currency's minor unit (costing.py). OCPI has no message that asks a CPO for
a credit CDR (an operator decides to credit): with a credit hook (`--credit-command`, or
`SuiteConfig(credit=...)` in tests) the suite asks the member's back office for one, as it asks
an eMSP's app for a START_SESSION; without one `money.credit_cdr` is skipped, saying so.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any

from ocpi.pricing import PricingError, minor_units, price_session
from ocpi.pricing.cdr import usage_from_periods
from ocpi.v221 import (
    CDR,
    InterfaceRole,
    ModuleID,
    Price,
    Session,
    SessionStatus,
    Tariff,
)
from ocpi.v221.types import format_datetime
from roam.conformance.checks import CPO, EMSP, Check, CheckFailed, CheckSkipped, check
from roam.conformance.context import Context, CreditInfo
from roam.conformance.costing import describe_tariff, minor_difference, price_gaps
from roam.conformance.cpo_role import suite_token
from roam.conformance.edge import WireObject
from roam.conformance.emsp_role import suite_cdr
from roam.conformance.exchange import Exchange, Inbound
from roam.conformance.validation import check_value

S_RUNNING = (
    "mod_sessions.asciidoc §9.3.1 Session Object (total_cost, charging_periods), "
    "§9.2.2.3 PATCH Method; mod_tariffs.asciidoc §11.3.1 Tariff Object"
)
S_CREDIT = "mod_cdrs.asciidoc §10.1.1 Credit CDRs, §10.3.1 CDR Object (credit, credit_reference_id)"
S_CREDIT_RECEIVED = (
    "mod_cdrs.asciidoc §10.1.1 Credit CDRs, §10.2.2.2 POST Method, §10.2.2.1 GET Method, "
    "§10.3.1 CDR Object (credit, credit_reference_id)"
)
CREDIT_SUFFIX = "-C"


# --- money.session_cost ------------------------------------------------------------------------
def _session_updates(ctx: Context) -> list[tuple[Inbound, dict[str, Any]]]:
    """Every Session PUT/PATCH of the suite's token, with the Session as it stood after it
    (a PATCH's charging_periods are appended, spec mod_sessions PATCH)."""
    uid = suite_token(ctx).uid
    ours: set[str] = set()
    state: dict[str, dict[str, Any]] = {}
    updates: list[tuple[Inbound, dict[str, Any]]] = []
    for item in list(ctx.server.inbound):
        if item.module != "sessions" or item.method not in ("PUT", "PATCH") or not item.segments:
            continue
        if not isinstance(item.payload, dict):
            continue
        session_id = item.segments[-1]
        if item.method == "PUT":
            token = item.payload.get("cdr_token")
            if isinstance(token, dict) and token.get("uid") == uid:
                ours.add(session_id)
                state[session_id] = dict(item.payload)
        elif session_id in ours:
            merged = dict(state[session_id])
            periods = list(merged.get("charging_periods") or [])
            merged.update(item.payload)
            merged["charging_periods"] = periods + list(item.payload.get("charging_periods") or [])
            state[session_id] = merged
        else:
            continue
        updates.append((item, dict(state[session_id])))
    return updates


def _time_zone(ctx: Context, location_id: str) -> str:
    for location in ctx.learned.locations:
        if location.id == location_id and location.time_zone:
            return location.time_zone
    return "UTC"


def _judge_update(
    ctx: Context, item: Inbound, stood: dict[str, Any], tariffs: dict[str, Tariff]
) -> str | None:
    """The problem with one update's total_cost, or None; CheckSkipped-worthy cases raise
    LookupError with the reason (they are counted, not failed)."""
    checked = check_value(Session, stood, "Session")
    if checked.value is None:
        raise LookupError("not a valid Session (transport.pushes_valid reports it)")
    session: Session = checked.value
    if session.total_cost is None or not session.charging_periods:
        raise LookupError("no total_cost with charging periods")
    named = {p.tariff_id for p in session.charging_periods if p.tariff_id}
    if len(named) != 1:
        raise LookupError(f"its periods name {len(named)} tariffs")
    (tariff_id,) = named
    tariff = tariffs.get(tariff_id)
    where = f"Session {session.id} ({item.method} #{item.seq}, {session.status.value})"
    if tariff is None:
        for raw in ctx.learned.raw_tariffs:
            if isinstance(raw, WireObject) and raw.get("id") == tariff_id and raw.untranslatable:
                # Valid in the member's version, but not priced by the 2.2.1 engine.
                raise LookupError(f"its tariff {tariff_id}: {raw.untranslatable}")
        return f"{where}: its periods name tariff {tariff_id}, which is not on the Tariffs list"
    done = session.status is SessionStatus.COMPLETED and session.end_date_time is not None
    end: datetime = session.last_updated
    if done and session.end_date_time is not None:
        end = session.end_date_time
    try:
        usage = usage_from_periods(
            session.charging_periods, end, _time_zone(ctx, session.location_id)
        )
        priced = price_session(tariff, usage)
    except PricingError as exc:
        raise LookupError(f"the suite's engine cannot price it: {exc}") from None
    expected = priced.total.rounded(priced.currency)
    tolerance = Decimal(1).scaleb(-minor_units(session.currency))
    gaps = price_gaps(session.total_cost, expected, session.currency, tolerance)
    if not gaps:
        return None
    return (
        f"{where}: {'; '.join(gaps)} ({describe_tariff(tariff)}, for "
        f"{priced.total_energy} kWh, periods until {format_datetime(end)})"
    )


@check(
    "money.session_cost",
    "A Session's running total_cost is what the tariff gives for its periods so far",
    S_RUNNING,
    roles=CPO,
    needs=["cpo.session", "cpo.tariffs"],
)
async def session_cost(ctx: Context) -> str | None:
    tariffs = {t.id: t for t in ctx.learned.tariffs}
    updates = _session_updates(ctx)
    judged = 0
    problems: list[str] = []
    evidence: list[Inbound] = []
    reasons: set[str] = set()
    for item, stood in updates:
        if "total_cost" not in item.payload:
            reasons.add("no total_cost")
            continue
        try:
            problem = _judge_update(ctx, item, stood, tariffs)
        except LookupError as exc:
            reasons.add(str(exc))
            continue
        judged += 1
        if problem is not None:
            problems.append(problem)
            evidence.append(item)
    if problems:
        raise CheckFailed(
            "total_cost disagrees with the tariff (more than one minor unit): "
            + "; ".join(problems[:3]),
            *evidence[:3],
        )
    if not judged:
        raise CheckSkipped(
            f"none of the {len(updates)} Session updates could be judged ("
            + "; ".join(sorted(reasons))
            + "): total_cost is optional, but without it the driver sees no running cost"
        )
    return f"{judged} of {len(updates)} Session updates judged"


# --- money.credit_cdr --------------------------------------------------------------------------
def _negated(price: Price) -> Price:
    return Price(
        excl_vat=-price.excl_vat,
        incl_vat=None if price.incl_vat is None else -price.incl_vat,
    )


def _credit_problems(credit: CDR, original: CDR) -> list[str]:
    problems: list[str] = []
    if credit.id == original.id:
        problems.append(f"the credit CDR has the original's id {original.id} (it needs its own)")
    if credit.credit is not True:
        problems.append("credit is not true")
    if credit.credit_reference_id != original.id:
        problems.append(
            f"credit_reference_id is {credit.credit_reference_id!r}, the original is "
            f"{original.id!r}"
        )
    if credit.currency != original.currency:
        problems.append(f"currency {credit.currency}, the original's is {original.currency}")
    wanted = _negated(original.total_cost)
    for name, got, want in (
        ("excl. VAT", credit.total_cost.excl_vat, wanted.excl_vat),
        ("incl. VAT", credit.total_cost.incl_vat, wanted.incl_vat),
    ):
        if got is not None and want is not None and got != want:
            problems.append(
                f"total_cost {name} {got} {credit.currency}, the original's negated is {want}: "
                + minor_difference(got, want, credit.currency)
            )
        elif got is None and want is not None:
            problems.append(f"total_cost {name} is missing (the original has {-want})")
    same = [
        ("session_id", credit.session_id, original.session_id),
        ("cdr_token.uid", credit.cdr_token.uid, original.cdr_token.uid),
        ("cdr_location.id", credit.cdr_location.id, original.cdr_location.id),
        ("cdr_location.evse_uid", credit.cdr_location.evse_uid, original.cdr_location.evse_uid),
        ("start_date_time", credit.start_date_time, original.start_date_time),
        ("end_date_time", credit.end_date_time, original.end_date_time),
        ("total_energy", credit.total_energy, original.total_energy),
    ]
    problems += [
        f"{name} is {got!r}, the original's is {want!r} (a credit CDR carries its data)"
        for name, got, want in same
        if got != want
    ]
    return problems


@check(
    "money.credit_cdr",
    "A credit CDR: new id, credit, credit_reference_id, the original's data, total_cost negated",
    S_CREDIT,
    roles=CPO,
    needs=["cpo.cdr"],
)
async def credit_cdr(ctx: Context) -> str | None:
    original = ctx.learned.cdr
    assert original is not None
    hook = ctx.config.credit
    if hook is None:
        raise CheckSkipped(
            f"no --credit-command was given to make the member credit CDR {original.id} "
            "(no OCPI message asks a CPO for a credit CDR)"
        )
    info = CreditInfo(original.country_code, original.party_id, original.id)

    def is_credit(item: Inbound) -> bool:
        if item.module != "cdrs" or item.method != "POST" or not isinstance(item.payload, dict):
            return False
        body = item.payload
        return body.get("id") != original.id and (
            body.get("credit_reference_id") == original.id
            or (body.get("credit") is True and body.get("session_id") == original.session_id)
        )

    since = len(ctx.server.inbound)
    waiting = asyncio.ensure_future(ctx.server.wait_for(is_credit, ctx.config.wait, since))
    try:
        await asyncio.wait_for(hook(info), ctx.config.wait)
    except Exception as exc:  # the hook is the user's: its failure is reported, not raised
        waiting.cancel()
        raise CheckSkipped(f"the credit hook failed: {type(exc).__name__}: {exc}") from None
    item = await waiting
    if item is None:
        raise CheckSkipped(
            f"no credit CDR for {original.id} arrived within {ctx.config.wait:g} s of the hook"
        )
    item.judged_by = "money.credit_cdr"
    if not isinstance(item.parsed, CDR):
        raise CheckFailed("the credit CDR is not valid: " + "; ".join(item.problems), item)
    problems = _credit_problems(item.parsed, original)
    to = item.addressee
    if to is not None and to != ctx.config.other:
        problems.append(f"it is addressed to {to}, not to the token's eMSP {ctx.config.other}")
    if problems:
        raise CheckFailed(f"credit CDR {item.parsed.id}: " + "; ".join(problems), item)
    return f"credit CDR {item.parsed.id}: {item.parsed.total_cost.excl_vat} {item.parsed.currency}"


# --- money.credit_received ---------------------------------------------------------------------
async def _post_cdr(ctx: Context, url: str, cdr: CDR, what: str) -> tuple[Exchange, str]:
    posted = await ctx.call("POST", url, body=cdr)
    ctx.expect_ok(posted, f"POST {what}")
    where = posted.header("Location")
    if not where:
        raise CheckFailed(f"the answer to the POST of {what} has no Location header", posted)
    return posted, where


@check(
    "money.credit_received",
    "A credit CDR is accepted and read back as a credit, the original CDR kept as it was",
    S_CREDIT_RECEIVED,
    roles=EMSP,
    needs=["emsp.cdr_location_header"],
)
async def credit_received(ctx: Context) -> str | None:
    location = ctx.learned.pushed_location
    assert location is not None
    url = ctx.require_endpoint(ModuleID.CDRS, InterfaceRole.RECEIVER)
    original = suite_cdr(ctx, location)
    _, original_at = await _post_cdr(ctx, url, original, f"CDR {original.id}")
    credit = CDR.model_validate(
        {
            **original.model_dump(),
            "id": original.id + CREDIT_SUFFIX,
            "credit": True,
            "credit_reference_id": original.id,
            "total_cost": _negated(original.total_cost).model_dump(),
        }
    )
    _, credit_at = await _post_cdr(ctx, url, credit, f"credit CDR {credit.id}")
    got = await ctx.call("GET", credit_at)
    ctx.expect_ok(got, "GET the credit CDR at its Location URL")
    stored: CDR = ctx.parse(CDR, got.envelope.data, "data", got)
    problems: list[str] = []
    if stored.id != credit.id:
        problems.append(f"the Location URL serves CDR {stored.id}, not {credit.id}")
    if stored.credit is not True or stored.credit_reference_id != original.id:
        problems.append(
            f"it is read back with credit {stored.credit!r} and credit_reference_id "
            f"{stored.credit_reference_id!r}: the eMSP would bill it as a charge"
        )
    problems += [
        f"total_cost read back: {gap}"
        for gap in price_gaps(stored.total_cost, credit.total_cost, credit.currency)
    ]
    if problems:
        raise CheckFailed("; ".join(problems), got)
    kept = await ctx.call("GET", original_at)
    ctx.expect_ok(kept, "GET the credited CDR at its Location URL")
    before: CDR = ctx.parse(CDR, kept.envelope.data, "data", kept)
    if before.id != original.id or before.credit or before.total_cost != original.total_cost:
        raise CheckFailed(
            f"after the credit the original CDR {original.id} reads {before.id} with "
            f"total_cost {before.total_cost.excl_vat} and credit {before.credit!r}: a CDR is "
            "never changed, only credited",
            kept,
        )
    return f"credit CDR {credit.id} of {original.id}"


CHECKS: tuple[Check, ...] = (session_cost, credit_cdr, credit_received)
