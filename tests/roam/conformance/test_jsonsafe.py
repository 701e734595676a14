"""jsonsafe: the one conversion of evidence to JSON data, and text made safe for a terminal and
for XML. Whatever goes in, `json.dumps(..., allow_nan=False)` writes it as UTF-8 JSON that
parses back strictly, and nothing raises."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ocpi.v221 import Version, VersionNumber
from roam.conformance.jsonsafe import MAX_DEPTH, json_safe, printable, xml_text
from tests.roam.conformance.conftest import strict_json

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def written(value: Any) -> Any:
    """json_safe's result written as strict UTF-8 JSON and read back."""
    text = json.dumps(json_safe(value), ensure_ascii=False, allow_nan=False)
    return strict_json(text.encode("utf-8").decode("utf-8"))


class Level(IntEnum):
    HIGH = 3


class Shape(Enum):
    ROUND = ("r", 1)


@dataclass
class Point:
    x: Decimal
    at: datetime


class Loose(BaseModel):
    value: Any = None


def test_values_json_cannot_hold_become_what_pydantic_json_mode_would_write() -> None:
    assert written(Version(version=VersionNumber.V2_2_1, url="http://x/2.2.1")) == {
        "version": "2.2.1",
        "url": "http://x/2.2.1",
    }
    assert written(Decimal("0.10")) == "0.10"  # exact, not a float
    assert written(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2025-01-02T03:04:05+00:00"
    assert written(date(2025, 1, 2)) == "2025-01-02"
    assert written(timedelta(minutes=1)) == 60.0
    assert written(b"\xffok") == "\ufffdok"
    assert written(bytearray(b"ab")) == "ab"
    assert written(Level.HIGH) == 3 and written(Shape.ROUND) == ["r", 1]
    assert written({3, 1, 2}) == [1, 2, 3] and written(frozenset({"b", "a"})) == ["a", "b"]
    assert written((1, (2,))) == [1, [2]]
    assert written(Point(Decimal("1"), datetime(2025, 1, 1))) == {
        "x": "1",
        "at": "2025-01-01T00:00:00",
    }
    assert written(UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert written({1: "a", None: "b", Level.HIGH: "c"}) == {"1": "a", "null": "b", "3": "c"}
    # a model is shown in its JSON mode (as it goes on the wire), where NaN is null
    assert written(Loose(value=[math.nan, Decimal("2")])) == {"value": [None, "2"]}


def test_numbers_json_has_no_words_for_become_strings() -> None:
    assert written([math.nan, math.inf, -math.inf]) == ["NaN", "Infinity", "-Infinity"]
    assert written(Decimal("NaN")) == "NaN" and written(Decimal("-Infinity")) == "-Infinity"
    assert written(10**5000) == "<an integer of 16610 bits>"  # past Python's digit limit
    assert written(10**30) == 10**30 and written(True) is True and written(0.5) == 0.5


def test_lone_surrogates_are_escaped_and_pairs_joined() -> None:
    assert written("a\ud800b") == "a\\ud800b"
    assert written("\udfff") == "\\udfff"
    assert written("\ud83d\ude00") == "\U0001f600"  # a pair that never became one character
    assert written({"k\udc00": ["\ud800"]}) == {"k\\udc00": ["\\ud800"]}


def test_nesting_cycles_and_objects_that_cannot_be_shown_are_described() -> None:
    deep: list[Any] = []
    for _ in range(10_000):
        deep = [deep]
    out = written(deep)
    for _ in range(MAX_DEPTH):
        (out,) = out
    assert out == f"<list nested deeper than {MAX_DEPTH} levels: not shown>"
    loop: dict[str, Any] = {"a": 1}
    loop["self"] = loop
    assert written(loop) == {"a": 1, "self": "<dict containing itself: not shown again>"}
    shared = [1]
    assert written([shared, shared]) == [[1], [1]]  # shared is not a cycle

    class NoRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    class Huge:
        def __str__(self) -> str:
            return "x" * 10_000

    assert written(NoRepr()) == "<NoRepr that cannot be shown: RuntimeError>"
    assert written(Huge()).endswith("… (8000 more characters)")
    assert written(object()).startswith("<object object at")
    assert written(Level) == "<enum 'Level'>"


def test_printable_and_xml_text_escape_what_a_terminal_or_xml_cannot_take() -> None:
    assert (
        printable("a\x1b[2Jb\tc\nd\x00\x7f\x85\ud800") == "a\\x1b[2Jb\tc\nd\\x00\\x7f\\x85\\ud800"
    )
    assert xml_text("a\x00b\x0bc\td\ne\r\ufffe\ud800") == "a\\x00b\\x0bc\td\ne\r\\ufffe\\ud800"


_TEXT = st.lists(st.characters() | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)).map(
    "".join
)
"""Any text, lone surrogates included (as a member's JSON "\\ud800" gives)."""
_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _TEXT | st.binary()
    | st.decimals() | st.datetimes() | st.timedeltas(),
    lambda inner: st.lists(inner) | st.dictionaries(_TEXT | st.integers(), inner)
    | st.tuples(inner, inner) | st.frozensets(st.integers() | _TEXT),
    max_leaves=30,
)  # fmt: skip


@SETTINGS
@given(_ANY)
def test_anything_is_written_as_strict_utf8_json(value: Any) -> None:
    written(value)


@SETTINGS
@given(_TEXT)
def test_any_text_is_valid_xml_and_printable_utf8(text: str) -> None:
    element = ET.Element("failure", message=xml_text(text))
    element.text = xml_text(text)
    ET.fromstring(ET.tostring(element, encoding="unicode").encode("utf-8"))
    printable(text).encode("utf-8")
    assert not any(ord(c) < 0x20 and c not in "\t\n" for c in printable(text))
