"""Pagination checks on every list endpoint of the member (spec transport_and_format, GET >
Pagination): X-Total-Count and X-Limit, offset and limit, Link that keeps the filters,
date_from inclusive and date_to exclusive, one stable order across pages.

A CPO lists locations, tariffs, sessions and CDRs; an eMSP lists tokens. `listing()` pulls a
whole list once (following Link) and keeps it for the role checks too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ocpi.headers import LINK, X_LIMIT, X_TOTAL_COUNT
from ocpi.pagination import parse_link_header
from ocpi.v221 import InterfaceRole, ModuleID, Role
from ocpi.v221.types import format_datetime, parse_datetime
from roam.conformance.checks import Check, CheckFailed, CheckSkipped, Phase, check
from roam.conformance.context import Context
from roam.conformance.exchange import Exchange
from roam.conformance.registration import HANDSHAKE

S_PAGINATION = "transport_and_format.asciidoc §4.1.4.1 GET > Pagination"
S_RESPONSE = S_PAGINATION + " > Paginated Response (X-Total-Count, X-Limit, Link)"
S_REQUEST = S_PAGINATION + " > Paginated Request (date_from, date_to, offset, limit)"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_PAGES = 200
WALK_ITEMS = 12
"""How many objects the page-by-page walk (limit=1) compares with the full list."""

LISTS: dict[Role, tuple[ModuleID, ...]] = {
    Role.CPO: (ModuleID.LOCATIONS, ModuleID.TARIFFS, ModuleID.SESSIONS, ModuleID.CDRS),
    Role.EMSP: (ModuleID.TOKENS,),
}


def identity(module: str, item: Any) -> str:
    """How an object of a list is told apart (tokens: uid and type)."""
    if not isinstance(item, dict):
        return repr(item)
    if module == ModuleID.TOKENS:
        return f"{item.get('uid')}|{item.get('type')}"
    return str(item.get("id"))


def stamp(item: Any) -> datetime | None:
    value = item.get("last_updated") if isinstance(item, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        try:  # a broken DateTime is the DateTime check's business; read what it means
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Listing:
    """One list endpoint pulled completely: its pages and its objects in order."""

    module: str
    url: str
    base: dict[str, str]
    pages: list[Exchange] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [identity(self.module, item) for item in self.items]

    @property
    def first(self) -> Exchange:
        return self.pages[0]


def header_int(exchange: Exchange, name: str) -> int | None:
    raw = exchange.header(name)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


async def walk(
    ctx: Context, module: str, url: str, params: dict[str, str], limit: int = MAX_PAGES
) -> tuple[list[Exchange], list[Any]]:
    """GET a list and every page its Link headers lead to (at most `limit` pages)."""
    pages: list[Exchange] = []
    items: list[Any] = []
    seen: set[str] = set()
    next_url: str | None = url
    query: dict[str, str] | None = params
    while next_url is not None and len(pages) < limit:
        exchange = await ctx.call("GET", next_url, params=query)
        pages.append(exchange)
        ctx.expect_ok(exchange, f"GET {module} list")
        data = exchange.envelope.data
        if not isinstance(data, list):
            raise CheckFailed(f"the {module} list's data is not a JSON array", exchange)
        items.extend(data)
        seen.add(exchange.url)
        query = None
        following = parse_link_header(exchange.header(LINK), "next")
        if following is not None and following in seen:
            raise CheckFailed(f"pagination loops: Link points back to {following}", exchange)
        next_url = following if data else None
    return pages, items


def base_params(module: str) -> dict[str, str]:
    # Spec mod_sessions: date_from is required on the Sessions Sender list.
    return {"date_from": format_datetime(EPOCH)} if module == ModuleID.SESSIONS else {}


async def listing(ctx: Context, module: ModuleID) -> Listing:
    """The whole list of one Sender endpoint, pulled once per run."""
    cached = ctx.learned.listings.get(module.value)
    if cached is not None:
        return cached
    url = ctx.require_endpoint(module, InterfaceRole.SENDER)
    params = base_params(module.value)
    pages, items = await walk(ctx, module.value, url, params)
    result = Listing(module.value, url, params, pages, items)
    ctx.learned.listings[module.value] = result
    return result


async def listings(ctx: Context) -> list[Listing]:
    found = []
    for module in LISTS[ctx.config.role]:
        if ctx.endpoint(module, InterfaceRole.SENDER) is not None:
            found.append(await listing(ctx, module))
    if not found:
        raise CheckSkipped("the member publishes no Sender list endpoint")
    return found


def _query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


@check(
    "pagination.headers",
    "X-Total-Count and X-Limit on every page, the count right",
    S_RESPONSE,
    needs=[HANDSHAKE],
    phase=Phase.PROBE,
)
async def headers(ctx: Context) -> str | None:
    notes = []
    for item in await listings(ctx):
        for page in item.pages:
            total, limit = header_int(page, X_TOTAL_COUNT), header_int(page, X_LIMIT)
            if total is None or total < 0:
                raise CheckFailed(f"{item.module}: X-Total-Count missing or not an int", page)
            if limit is None or limit < 1:
                raise CheckFailed(f"{item.module}: X-Limit missing or not a positive int", page)
            size = len(page.envelope.data or [])
            if size > limit:
                raise CheckFailed(f"{item.module}: {size} objects on a page, X-Limit {limit}", page)
        total = header_int(item.first, X_TOTAL_COUNT)
        if total != len(item.items):
            raise CheckFailed(
                f"{item.module}: X-Total-Count says {total}, following Link gave "
                f"{len(item.items)} objects",
                *item.pages,
            )
        notes.append(f"{item.module} {total}")
    return ", ".join(notes)


@check(
    "pagination.offset_limit",
    "offset and limit select the objects asked for",
    S_REQUEST,
    needs=[HANDSHAKE],
    phase=Phase.PROBE,
)
async def offset_limit(ctx: Context) -> str | None:
    judged = []
    for item in await listings(ctx):
        if len(item.items) < 2:
            continue
        one = await ctx.call("GET", item.url, params={**item.base, "limit": "1"})
        ctx.expect_ok(one, f"GET {item.module}?limit=1")
        got = [identity(item.module, x) for x in one.envelope.data or []]
        if got != item.ids[:1]:
            raise CheckFailed(
                f"{item.module}?limit=1 returned {got}, expected the list's first {item.ids[:1]}",
                one,
            )
        second = await ctx.call("GET", item.url, params={**item.base, "offset": "1", "limit": "1"})
        ctx.expect_ok(second, f"GET {item.module}?offset=1&limit=1")
        got = [identity(item.module, x) for x in second.envelope.data or []]
        if got != item.ids[1:2]:
            raise CheckFailed(
                f"{item.module}?offset=1&limit=1 returned {got}, expected the second object "
                f"{item.ids[1:2]}",
                second,
            )
        judged.append(item.module)
    if not judged:
        raise CheckSkipped("no list holds two objects: offset cannot be judged")
    return "judged on " + ", ".join(judged)


@check(
    "pagination.link",
    "Link rel=next on every page but the last, keeping the filters",
    S_RESPONSE,
    needs=[HANDSHAKE],
    phase=Phase.PROBE,
)
async def link(ctx: Context) -> str | None:
    judged = []
    for item in await listings(ctx):
        for page in item.pages[:-1]:
            if parse_link_header(page.header(LINK), "next") is None:
                raise CheckFailed(f"{item.module}: a page before the last has no Link", page)
        if parse_link_header(item.pages[-1].header(LINK), "next") is not None:
            raise CheckFailed(f"{item.module}: the last page still has a Link", item.pages[-1])
        stamps = [s for s in (stamp(x) for x in item.items) if s is not None]
        if len(item.items) < 2 or not stamps:
            continue
        filters = {
            **item.base,
            "date_from": format_datetime(min(stamps)),
            "date_to": "2999-01-01T00:00:00Z",
        }
        first = await ctx.call("GET", item.url, params={**filters, "limit": "1"})
        ctx.expect_ok(first, f"GET {item.module} with date_from, date_to and limit=1")
        following = parse_link_header(first.header(LINK), "next")
        if following is None:
            raise CheckFailed(
                f"{item.module}: limit=1 of {len(item.items)} objects answered without a Link",
                first,
            )
        kept = _query_of(following)
        lost = [
            name
            for name in ("date_from", "date_to")
            if name not in kept or _same_time(kept[name], filters[name]) is False
        ]
        if lost:
            raise CheckFailed(
                f"{item.module}: the Link {following} lost {' and '.join(lost)} "
                "(spec: the URL keeps the original filters)",
                first,
            )
        judged.append(item.module)
    return ("filters judged on " + ", ".join(judged)) if judged else "single-page lists only"


def _same_time(a: str, b: str) -> bool:
    try:
        return parse_datetime(a) == parse_datetime(b)
    except ValueError:
        return a == b


@check(
    "pagination.date_filters",
    "date_from is inclusive, date_to exclusive",
    S_REQUEST,
    needs=[HANDSHAKE],
    phase=Phase.PROBE,
)
async def date_filters(ctx: Context) -> str | None:
    judged = []
    for item in await listings(ctx):
        stamped = [(identity(item.module, x), stamp(x)) for x in item.items]
        known = [(i, s) for i, s in stamped if s is not None]
        if not known:
            continue
        pivot = max(s for _, s in known)
        at = format_datetime(pivot)
        for name in ("date_from", "date_to"):
            pages, items = await walk(ctx, item.module, item.url, {**item.base, name: at})
            got = sorted(identity(item.module, x) for x in items)
            # date_from keeps last_updated >= it (inclusive), date_to keeps < it (exclusive)
            expected = sorted(i for i, s in known if (s >= pivot) == (name == "date_from"))
            if got != expected:
                rule = "inclusive" if name == "date_from" else "exclusive"
                raise CheckFailed(
                    f"{item.module}?{name}={at} returned {got}, expected {expected} "
                    f"({name} is {rule})",
                    *pages,
                )
        judged.append(item.module)
    if not judged:
        raise CheckSkipped("no list holds an object with a readable last_updated")
    return "judged on " + ", ".join(judged)


@check(
    "pagination.stable_order",
    "Page by page (limit=1) gives the same objects in order",
    S_PAGINATION,
    needs=[HANDSHAKE],
    phase=Phase.PROBE,
)
async def stable_order(ctx: Context) -> str | None:
    judged = []
    for item in await listings(ctx):
        if len(item.items) < 2:
            continue
        count = min(len(item.items), WALK_ITEMS)
        pages, items = await walk(ctx, item.module, item.url, {**item.base, "limit": "1"}, count)
        got = [identity(item.module, x) for x in items][:count]
        if got != item.ids[:count]:
            raise CheckFailed(
                f"{item.module} page by page gave {got}, the whole list {item.ids[:count]}",
                *pages,
            )
        judged.append(item.module)
    if not judged:
        raise CheckSkipped("no list holds two objects: order across pages cannot be judged")
    return "judged on " + ", ".join(judged)


CHECKS: tuple[Check, ...] = (headers, offset_limit, link, date_filters, stable_order)
