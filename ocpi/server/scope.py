"""What a hot path reads of a request, straight from its ASGI scope.

Starlette's `Request.headers.get` walks the raw header list on every call, and `request.url`
builds and re-parses a whole URL to give back the path and the query. The hub's relay reads
five headers and both URL parts of every routed message: profiled per routed GET (issue 13),
that was several per cent of the hub's CPU. These give the same values, read once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from starlette.types import Scope

_DROPPED = str.maketrans("", "", "\t\r\n")
"""What `urllib.parse.urlsplit` removes from a URL wherever it is (Starlette's URL uses it)."""


class HeaderValues(Mapping[str, str]):
    """A request's headers, the first value of each name, looked up case-insensitively: what
    Starlette's `request.headers.get(name)` gives, for a scope whose header names are lower
    case (as ASGI servers send them)."""

    __slots__ = ("_values",)

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        values: dict[str, str] = {}
        for name, value in raw:
            key = name.decode("latin-1")
            if key not in values:
                values[key] = value.decode("latin-1")
        self._values = values

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def url_path_and_query(scope: Scope) -> tuple[str, str]:
    """`request.url.path` and `request.url.query` of a request whose path starts with a
    single "/": Starlette escapes "?", "#" and "\\" in the path; `urlsplit` drops tabs and
    line breaks, and ends the query at a "#"."""
    path = scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    query: str = scope.get("query_string", b"").decode()
    return path.translate(_DROPPED), query.translate(_DROPPED).partition("#")[0]
