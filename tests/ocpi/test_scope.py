"""ocpi.server.scope gives what Starlette's Request gives, read straight from the scope.

The hub's relay logs `request.url.path` and passes `request.url.query` on, and reads its
headers with `request.headers.get`: the cheaper readers must agree with those for any
request, hostile ones included (escaped and control characters, repeated headers).
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from starlette.datastructures import URL, Headers

from ocpi.server.scope import HeaderValues, url_path_and_query

PATH_TEXT = st.text(
    st.one_of(
        st.sampled_from(list("?#\\/%\t\r\n :[]@")),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
)
QUERY_BYTES = st.text(
    st.one_of(
        st.sampled_from(list("&=#?%+ \t")), st.characters(min_codepoint=0x21, max_codepoint=0x7E)
    ),
    max_size=40,
).map(str.encode)


def _scope(path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "path": path,
        "query_string": query,
        "headers": headers,
    }


@given(rest=PATH_TEXT, query=QUERY_BYTES, host=st.sampled_from([b"hub.example:9000", b"a b", b""]))
@example(rest="LOC1\\x?y#z\tw", query=b"type=RFID#frag", host=b"hub.example:9000")
def test_path_and_query_are_starlettes(rest: str, query: bytes, host: bytes) -> None:
    scope = _scope("/ocpi/2.2.1/sender/locations/" + rest, query, [(b"host", host)])
    url = URL(scope=scope)
    assert url_path_and_query(scope) == (url.path, url.query)


NAMES = st.sampled_from(
    [b"authorization", b"ocpi-to-party-id", b"OCPI-to-party-id", b"x-request-id", b"host"]
)
VALUES = st.binary(max_size=12)


@given(raw=st.lists(st.tuples(NAMES, VALUES), max_size=8))
def test_header_values_are_starlettes_first_values(raw: list[tuple[bytes, bytes]]) -> None:
    ours, theirs = HeaderValues(raw), Headers(raw=raw)
    for name in ("Authorization", "OCPI-to-party-id", "ocpi-to-party-id", "X-Request-ID", "absent"):
        assert ours.get(name) == theirs.get(name)
