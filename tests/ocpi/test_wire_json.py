"""Strict reading of JSON from the wire (ocpi.wire_json) and the guard every service runs it in.

Property tests: whatever bytes arrive, the reader either returns data that can be stored as
UTF-8 and re-emitted as RFC 8259 JSON, or raises ValueError naming the problem — never
RecursionError, never a value with NaN, Infinity or a lone surrogate in it.
"""

import json
import math
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Body
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpi.server import OcpiResponse, ocpi_app, ocpi_response
from ocpi.wire_json import MAX_DEPTH, JsonRefused, JsonSyntaxError, read_json

# JSON values as a member could honestly send them (finite numbers, real characters).
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=30,
)


def _storable(value: Any) -> None:
    """What every accepted value must be: UTF-8 encodable and RFC 8259 re-emittable."""
    json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")


@given(_values)
def test_honest_json_reads_back_unchanged(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        assert read_json(text.encode()) == value


@given(st.binary(max_size=200))
def test_any_bytes_either_read_as_storable_json_or_refused_with_a_reason(raw: bytes) -> None:
    try:
        value = read_json(raw)
    except ValueError as exc:
        reason = str(exc)
    else:
        _storable(value)
        return
    assert reason


_tokens = st.sampled_from(
    ["NaN", "-Infinity", "Infinity", "1e999", '"\\ud800"', '"\\udfff x"', "[", "{", "]", "}"]
)


@settings(max_examples=300)
@given(_values, st.lists(_tokens, min_size=1, max_size=3), st.data())
def test_poisoned_json_is_refused_or_stays_storable(
    value: Any, tokens: list[str], data: st.DataObject
) -> None:
    """Splice hostile tokens into honest JSON anywhere: never an unstorable value."""
    text = json.dumps(value)
    for token in tokens:
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + token + text[at:]
    try:
        result = read_json(text.encode())
    except ValueError:
        return
    _storable(result)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_non_finite_numbers_are_refused(constant: str) -> None:
    with pytest.raises(JsonRefused, match=r"NaN or Infinity|out of range"):
        read_json(f'{{"total_energy": {constant}}}'.encode())


def test_large_but_finite_numbers_are_fine() -> None:
    assert read_json(b"[1e308, -1.5e-320, 123456789012345678901234567890]")[0] == 1e308
    assert not math.isinf(read_json(b"1.7976931348623157e308"))


def test_lone_surrogates_are_refused_naming_where() -> None:
    with pytest.raises(JsonRefused, match=r"cdr_location\.address holds a lone UTF-16"):
        read_json(b'{"cdr_location": {"address": "x\\ud800y"}}')
    with pytest.raises(JsonRefused, match="lone UTF-16"):
        read_json(b'{"\\udc00": 1}')
    with pytest.raises(JsonRefused, match=r"\[1\] holds a lone"):
        read_json(b'["a", "\\uDBFF"]')
    assert read_json(b'"\\ud83d\\udd0c"') == "\U0001f50c"  # a pair is one character
    assert read_json(b'"\\\\ud800"') == "\\ud800"  # an escaped backslash, not an escape


def test_nesting_is_capped_without_recursion_errors() -> None:
    assert read_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    for depth in (MAX_DEPTH + 1, 500, 100_000):
        with pytest.raises(JsonRefused, match="nested deeper than"):
            read_json(b"[" * depth + b"]" * depth)
    with pytest.raises(JsonRefused, match="nested deeper than"):
        read_json(b'{"a":' * 3000 + b"1" + b"}" * 3000)


def test_syntax_errors_and_bad_encodings_are_syntax_errors() -> None:
    for raw in (b"{", b"\xff\xfe{}", b"\xef\xbb\xbf{}", b"{'a': 1}", b"[1,]"):
        with pytest.raises(JsonSyntaxError):
            read_json(raw)


# --- the guard every ocpi_app() runs --------------------------------------------------------
@pytest.fixture
def app_client() -> httpx.AsyncClient:
    app = ocpi_app("guarded", max_body_bytes=10_000)
    seen: list[Any] = []
    app.state.seen = seen

    @app.post("/echo")
    async def echo(body: Annotated[Any, Body()]) -> OcpiResponse:
        seen.append(body)
        return ocpi_response({"got": body})

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize(
    ("raw", "http_status", "status_code", "words"),
    [
        (b'{"x": NaN}', 400, 2001, "NaN or Infinity"),
        (b'{"x": "\\ud800"}', 400, 2001, "lone UTF-16 surrogate"),
        (b"[" * 200 + b"]" * 200, 400, 2001, "nested deeper than"),
        (b'{"x": ', 400, 2000, "not valid JSON"),
        (b'{"x": "' + b"a" * 20_000 + b'"}', 413, 2001, "larger than 10000 bytes"),
    ],
)
async def test_the_guard_answers_hostile_bodies_before_any_endpoint(
    app_client: httpx.AsyncClient, raw: bytes, http_status: int, status_code: int, words: str
) -> None:
    async with app_client as client:
        response = await client.post(
            "/echo", content=raw, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == http_status
    body = response.json()
    assert body["status_code"] == status_code
    assert words in body["status_message"]
    assert response.headers["x-request-id"]


async def test_the_guard_passes_good_bodies_through(app_client: httpx.AsyncClient) -> None:
    async with app_client as client:
        response = await client.post("/echo", json={"x": [1, 2.5, "\u00e9"]})
    assert response.status_code == 200
    assert response.json()["data"]["got"] == {"x": [1, 2.5, "\u00e9"]}
