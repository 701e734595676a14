"""Reading JSON that arrives over the wire: strict RFC 8259, bounded, safe to store and re-emit.

Python's `json.loads` accepts more than JSON: `NaN`, `Infinity` and `-Infinity` (and numbers
like `1e999`, which become an infinite float), lone UTF-16 surrogates written as `\\ud800`
(which no UTF-8 database column or encoder accepts later), and nesting deep enough to raise
`RecursionError`. A service that accepts such a body answers 1000 and then fails when it
stores, logs or re-emits it. Every service reads request bodies through `read_json`, so such
bodies are refused at the edge, with a message naming the problem.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted. The deepest OCPI 2.2.1 object (a CDR's
tariffs -> elements -> price_components -> restrictions, inside a response envelope) is about
ten levels deep; 64 leaves room for members' own extensions."""

MAX_BODY_BYTES = 4 * 1024 * 1024
"""Largest request body accepted (4 MiB): a Location with several hundred EVSEs fits."""

# A \uD800-\uDFFF escape: the only way a JSON text can carry a (possibly lone) surrogate, since
# the UTF-8 decoder refuses encoded surrogates. Only when one is present are strings walked.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class JsonSyntaxError(ValueError):
    """The body is not JSON at all (or not UTF-8)."""


class JsonRefused(ValueError):
    """The body parses, but holds something JSON interchange does not allow."""


def _refuse_constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number (RFC 8259 has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JsonRefused(f"the number {text[:40]} is out of range (it overflows a double)")
    return value


_decoder = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def read_json(raw: bytes | str, *, max_depth: int | None = MAX_DEPTH) -> Any:
    """Parse one JSON text strictly; JsonSyntaxError or JsonRefused (both ValueError) naming
    the problem. Valid surrogate pairs are fine; lone surrogates, NaN/Infinity, numbers that
    overflow a double and nesting deeper than `max_depth` are refused.

    `max_depth=None` skips the depth walk (nesting beyond the interpreter's recursion limit is
    still refused): for answers that are relayed as they are and never stored, where walking a
    page of a hundred Locations would cost ~2 ms (measured) against ~0.6 ms to parse it.
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonSyntaxError(
                f"the body is not UTF-8 (byte {exc.start}: {exc.reason})"
            ) from None
        escapes = _SURROGATE_ESCAPE.search(raw) is not None
    else:
        text = raw
        escapes = _SURROGATE_ESCAPE.search(raw.encode("utf-8", "surrogatepass")) is not None
    if text.startswith("\ufeff"):
        raise JsonSyntaxError("the body starts with a byte order mark, which JSON forbids")
    try:
        value = _decoder.decode(text)
    except RecursionError:
        limit = max_depth if max_depth is not None else "the parser's"
        raise JsonRefused(f"the JSON is nested deeper than {limit} levels") from None
    except JsonRefused:
        raise
    except ValueError as exc:
        raise JsonSyntaxError(f"the body is not valid JSON: {exc}") from None
    # Depth can exceed the limit only if there are more brackets than the limit.
    deep = max_depth is not None and text.count("{") + text.count("[") > max_depth
    if deep or escapes:
        _walk(value, max_depth if deep else None, escapes)
    return value


def _walk(value: Any, max_depth: int | None, strings: bool) -> None:
    """Iteratively check nesting depth and (when asked) strings for lone surrogates."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, where = stack.pop()
        if max_depth is not None and depth > max_depth:
            raise JsonRefused(f"the JSON is nested deeper than {max_depth} levels (at {where})")
        if isinstance(item, dict):
            for key, child in item.items():
                path = f"{where}.{key}" if where else str(key)
                if strings:
                    _check_string(key, path)
                if isinstance(child, dict | list):
                    stack.append((child, depth + 1, path))
                elif strings and isinstance(child, str):
                    _check_string(child, path)
        elif isinstance(item, list):
            for index, child in enumerate(item):
                path = f"{where}[{index}]"
                if isinstance(child, dict | list):
                    stack.append((child, depth + 1, path))
                elif strings and isinstance(child, str):
                    _check_string(child, path)
        elif strings and isinstance(item, str):
            _check_string(item, where or "the body")


def _check_string(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        safe = where.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
        raise JsonRefused(
            f"{safe or 'the body'} holds a lone UTF-16 surrogate "
            f"(\\u{ord(text[exc.start]):04x}), which is not a character"
        ) from None
