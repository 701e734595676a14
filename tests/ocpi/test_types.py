"""Base types: DateTime (UTC only, Z), CiString/string length and character rules, numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from ocpi.v221.types import (
    CiString3,
    CiString36,
    DateTime,
    Number,
    String10,
    format_datetime,
    parse_datetime,
)

DATETIME = TypeAdapter(DateTime)
UTC_DATETIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


@pytest.mark.parametrize(
    "text",
    [
        "2015-06-29T20:39:09Z",
        "2015-06-29T20:39:09",
        "2016-12-29T17:45:09.2Z",
        "2016-12-29T17:45:09.2",
        "2018-01-01T01:08:01.123Z",
        "2018-01-01T01:08:01.123",
    ],
)
def test_spec_datetime_shapes_parse_as_utc(text: str) -> None:
    value = parse_datetime(text)
    assert value.tzinfo is UTC
    assert format_datetime(value).endswith("Z")
    assert parse_datetime(format_datetime(value)) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2015-06-29T20:39:09+00:00", "offset"),
        ("2015-06-29T20:39:09+0200", "offset"),
        ("2015-06-29T20:39:09-05:00", "offset"),
        ("2015-06-29 20:39:09Z", "must look like"),
        ("2015-06-29", "must look like"),
        ("2015-06-29T20:39:09Z\n", "must look like"),
        ("2015-13-29T20:39:09Z", "not a real date"),
        ("2015-06-29T20:39:09.12345678Z", "longer than 25"),
    ],
)
def test_bad_datetimes_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_datetime(text)
    with pytest.raises(ValidationError, match=reason):
        DATETIME.validate_python(text)


@given(UTC_DATETIMES)
def test_datetime_round_trips_at_millisecond_precision(value: datetime) -> None:
    text = format_datetime(value)
    assert len(text) <= 25
    assert text.endswith("Z")
    truncated = value.replace(microsecond=value.microsecond // 1000 * 1000)
    assert parse_datetime(text) == truncated
    assert DATETIME.dump_python(DATETIME.validate_python(text), mode="json") == text


@given(UTC_DATETIMES, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_aware_python_datetimes_are_converted_to_utc(value: datetime, offset_min: int) -> None:
    local = value.astimezone(timezone(timedelta(minutes=offset_min)))
    assert DATETIME.validate_python(local) == value
    assert DATETIME.validate_python(local).tzinfo is UTC


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=36))
def test_cistring36_accepts_printable_ascii_up_to_36(text: str) -> None:
    assert TypeAdapter(CiString36).validate_python(text) == text


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=37, max_size=80))
def test_cistring36_refuses_longer_strings(text: str) -> None:
    with pytest.raises(ValidationError, match="at most 36"):
        TypeAdapter(CiString36).validate_python(text)


@given(st.text(min_size=1, max_size=3).filter(lambda s: any(ord(c) > 0x7E for c in s)))
def test_cistring_refuses_non_ascii(text: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(CiString3).validate_python(text)


@given(
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs")),  # printable UTF-8 (no controls)
        max_size=10,
    )
)
def test_string10_accepts_printable_unicode_up_to_10(text: str) -> None:
    assert TypeAdapter(String10).validate_python(text) == text


@pytest.mark.parametrize("text", ["a\nb", "tab\there", "cr\r", "\x00"])
def test_string_refuses_control_characters(text: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(String10).validate_python(text)


def test_number_is_exact_decimal_and_a_json_number_on_the_wire() -> None:
    adapter = TypeAdapter(Number)
    assert adapter.validate_python(0.1) == Decimal("0.1")
    assert adapter.validate_json("0.25") == Decimal("0.25")
    assert adapter.dump_json(Decimal("5.63")) == b"5.63"


@pytest.mark.parametrize("value", ["1.5", True, float("nan"), float("inf")])
def test_number_refuses_strings_booleans_and_non_finite(value: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Number).validate_python(value)
