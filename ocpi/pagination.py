"""Pagination of list GETs (spec transport_and_format "Pagination"): parameters, pages, headers.

Pure functions: the server side cuts a page from an ordered sequence and says which headers go
with it; the client side reads `Link: <url>; rel="next"` to find the next page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ocpi.headers import LINK, X_LIMIT, X_TOTAL_COUNT
from ocpi.v221.types import format_datetime, parse_datetime

T = TypeVar("T")

PAGE_PARAMS = ("offset", "limit", "date_from", "date_to")


@dataclass(frozen=True)
class PageRequest:
    """What a client asked for. `limit` None means "the server's maximum"."""

    offset: int = 0
    limit: int | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> PageRequest:
        """Read the four parameters from a query string mapping; ValueError names the bad one."""
        return cls(
            offset=_parse_int(query, "offset", 0) or 0,
            limit=_parse_int(query, "limit", 1),
            date_from=_parse_date(query, "date_from"),
            date_to=_parse_date(query, "date_to"),
        )

    def to_query(self) -> dict[str, str]:
        """The parameters as query-string values (only those that are set)."""
        out: dict[str, str] = {}
        if self.date_from is not None:
            out["date_from"] = format_datetime(self.date_from)
        if self.date_to is not None:
            out["date_to"] = format_datetime(self.date_to)
        if self.offset:
            out["offset"] = str(self.offset)
        if self.limit is not None:
            out["limit"] = str(self.limit)
        return out

    def matches(self, last_updated: datetime) -> bool:
        """date_from is inclusive, date_to exclusive (spec)."""
        if self.date_from is not None and last_updated < self.date_from:
            return False
        return self.date_to is None or last_updated < self.date_to


def _parse_int(query: Mapping[str, str], name: str, minimum: int) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"query parameter {name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"query parameter {name} must be at least {minimum}, got {value}")
    return value


def _parse_date(query: Mapping[str, str], name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_datetime(raw)
    except ValueError as exc:
        raise ValueError(f"query parameter {name}: {exc}") from None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items, the total matching count and the limit in force."""

    items: list[T]
    offset: int
    limit: int
    total: int

    @property
    def next_offset(self) -> int | None:
        """Where the next page starts, or None when this is the last page."""
        end = self.offset + len(self.items)
        return end if end < self.total and self.items else None


def paginate(
    items: Sequence[T],
    request: PageRequest,
    *,
    max_limit: int,
    last_updated: Callable[[T], datetime],
) -> Page[T]:
    """Filter by date window and cut one page. `items` must already be in a stable order."""
    matching = [item for item in items if request.matches(last_updated(item))]
    limit = max_limit if request.limit is None else min(request.limit, max_limit)
    chunk = matching[request.offset : request.offset + limit]
    return Page(items=chunk, offset=request.offset, limit=limit, total=len(matching))


def page_headers(page: Page[T], request_url: str) -> dict[str, str]:
    """X-Total-Count, X-Limit and (unless this is the last page) Link for a served page."""
    headers = {X_TOTAL_COUNT: str(page.total), X_LIMIT: str(page.limit)}
    next_offset = page.next_offset
    if next_offset is not None:
        headers[LINK] = format_link(next_link_url(request_url, next_offset, page.limit))
    return headers


def next_link_url(request_url: str, offset: int, limit: int) -> str:
    """The URL of the next page: the request URL with every other parameter kept."""
    parts = urlsplit(request_url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = [(k, v) for k, v in kept if k not in ("offset", "limit")]
    kept += [("offset", str(offset)), ("limit", str(limit))]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def format_link(url: str, rel: str = "next") -> str:
    return f'<{url}>; rel="{rel}"'


_LINK_PART_RE = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL_RE = re.compile(r'rel\s*=\s*"?([^";,]+)"?', re.IGNORECASE)


def parse_link_header(value: str | None, rel: str = "next") -> str | None:
    """The URL with the given rel from a Link header (RFC 8288 subset), or None."""
    if not value:
        return None
    for match in _LINK_PART_RE.finditer(value):
        url, params = match.group(1), match.group(2)
        rels = _REL_RE.search(params or "")
        if rels and rel in rels.group(1).split():
            return url.strip()
    return None
