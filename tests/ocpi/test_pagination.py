"""Pagination (spec transport_and_format "Pagination"): parameters, page cutting, Link headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpi.pagination import (
    PageRequest,
    format_link,
    next_link_url,
    page_headers,
    paginate,
    parse_link_header,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ITEMS = [(i, T0 + timedelta(minutes=i)) for i in range(25)]


def _stamp(item: tuple[int, datetime]) -> datetime:
    return item[1]


def test_date_from_is_inclusive_and_date_to_exclusive() -> None:
    request = PageRequest(date_from=T0 + timedelta(minutes=5), date_to=T0 + timedelta(minutes=10))
    page = paginate(ITEMS, request, max_limit=100, last_updated=_stamp)
    assert [i for i, _ in page.items] == [5, 6, 7, 8, 9]
    assert page.total == 5


def test_server_caps_the_limit_and_reports_it() -> None:
    # Spec example: client asks limit=2000, server caps at 100 -> X-Limit: 100.
    page = paginate(ITEMS, PageRequest(limit=2000), max_limit=10, last_updated=_stamp)
    assert len(page.items) == 10
    headers = page_headers(page, "https://hub/ocpi/2.2.1/locations?limit=2000")
    assert headers["X-Limit"] == "10"
    assert headers["X-Total-Count"] == "25"
    assert parse_link_header(headers["Link"]) == (
        "https://hub/ocpi/2.2.1/locations?offset=10&limit=10"
    )


def test_last_page_has_no_link() -> None:
    page = paginate(ITEMS, PageRequest(offset=20, limit=10), max_limit=10, last_updated=_stamp)
    assert [i for i, _ in page.items] == [20, 21, 22, 23, 24]
    assert "Link" not in page_headers(page, "https://x/l?offset=20&limit=10")


def test_offset_past_the_end_gives_an_empty_last_page() -> None:
    page = paginate(ITEMS, PageRequest(offset=99), max_limit=10, last_updated=_stamp)
    assert page.items == []
    assert page.total == 25
    assert page.next_offset is None


def test_walking_links_visits_every_item_once() -> None:
    url = "https://hub/ocpi/2.2.1/tariffs?date_from=2024-01-01T00:03:00Z&limit=4"
    seen = []
    request = PageRequest.parse({k: v[0] for k, v in parse_qs(urlsplit(url).query).items()})
    while True:
        page = paginate(ITEMS, request, max_limit=100, last_updated=_stamp)
        seen += [i for i, _ in page.items]
        link = parse_link_header(page_headers(page, url).get("Link"))
        if link is None:
            break
        assert "date_from=2024-01-01T00%3A03%3A00Z" in link  # the filter is kept
        url = link
        request = PageRequest.parse({k: v[0] for k, v in parse_qs(urlsplit(url).query).items()})
    assert seen == list(range(3, 25))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"offset": "-1"}, "offset must be at least 0"),
        ({"limit": "0"}, "limit must be at least 1"),
        ({"limit": "ten"}, "limit must be an integer"),
        ({"date_from": "2024-01-01T00:00:00+01:00"}, "date_from: DateTime must be UTC"),
    ],
)
def test_bad_page_parameters_name_the_parameter(query: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PageRequest.parse(query)


QUERY_VALUES = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)


@given(
    st.dictionaries(st.sampled_from(["date_from", "date_to", "type", "x"]), QUERY_VALUES),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=1, max_value=10**4),
)
def test_next_link_round_trips_and_keeps_the_filters(
    filters: dict[str, str], offset: int, limit: int
) -> None:
    base = "https://hub.example/ocpi/2.2.1/locations"
    from urllib.parse import urlencode

    request_url = f"{base}?{urlencode({**filters, 'offset': '0', 'limit': '5'})}"
    header = format_link(next_link_url(request_url, offset, limit))
    url = parse_link_header(header)
    assert url is not None
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == base
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    assert query == {**filters, "offset": str(offset), "limit": str(limit)}


def test_link_parser_picks_next_among_several_relations() -> None:
    header = '<https://a/prev>; rel="prev", <https://a/next?x=1>; rel="next"'
    assert parse_link_header(header) == "https://a/next?x=1"
    assert parse_link_header(header, rel="prev") == "https://a/prev"
    assert parse_link_header("<https://a/n>; rel=next") == "https://a/n"
    assert parse_link_header(None) is None
    assert parse_link_header("garbage") is None
