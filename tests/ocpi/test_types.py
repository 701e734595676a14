"""Base types: DateTime (UTC only, Z), CiString/string length and character rules, numbers."""

from __future__ import annotations

from collections.abc import Callable
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
    datetime_by_rule,
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


def _outcome(parse: Callable[[str], datetime], text: str) -> tuple[str, object]:
    try:
        value = parse(text)
    except ValueError as exc:
        return ("refused", str(exc))
    return ("taken", (value, value.tzinfo is UTC))


def _mutated(text: str, at: int, how: int, char: str) -> str:
    at %= len(text) + 1
    return [
        text,
        text[:at] + char + text[at + 1 :],  # replaced
        text[:at] + char + text[at:],  # inserted
        text[:at] + text[at + 1 :],  # removed
    ][how]


NEAR_DATETIMES = st.builds(
    _mutated,
    st.builds(
        lambda value, fraction, end: value.strftime("%Y-%m-%dT%H:%M:%S") + fraction + end,
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
        st.one_of(st.just(""), st.text("0123456789", max_size=9).map(lambda f: "." + f)),
        st.sampled_from(["Z", "Z", "Z", "", "z", "+00:00", "Z\n"]),
    ),
    st.integers(0, 30),
    st.integers(0, 3),
    # ASCII digits and signs, and digits that are not ASCII (Arabic-Indic, full-width)
    st.sampled_from("0123456789 TZ+-:.\u0662\uff11"),
)


@given(st.one_of(NEAR_DATETIMES, UTC_DATETIMES.map(format_datetime), st.text(max_size=30)))
def test_the_fast_path_decides_as_the_rule(text: str) -> None:
    """parse_datetime reads the common shapes through `datetime.fromisoformat`: the same
    value (aware, UTC) or the same refusal, with the same reason, as the rule in full."""
    assert _outcome(parse_datetime, text) == _outcome(datetime_by_rule, text)


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-04T09:00:00.1234Z",  # 25 characters: taken
        "2025-03-04T09:00:00.12345Z",  # 26: refused
        "2025-03-04T09:00:00.123456Z",
        "2025-02-29T09:00:00Z",  # no such day
        "2024-02-29T24:00:00Z",
        "0000-01-01T00:00:00Z",
        "\u0662025-03-04T09:00:00Z",  # a digit, but not ASCII: the rule takes it
    ],
)
def test_the_fast_path_decides_as_the_rule_at_its_edges(text: str) -> None:
    assert _outcome(parse_datetime, text) == _outcome(datetime_by_rule, text)


def _format_by_strftime(value: datetime) -> str:
    """format_datetime as it was written first (strftime)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    millis = value.microsecond // 1000
    if millis:
        text += f".{millis:03d}".rstrip("0")
    return text + "Z"


@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.one_of(
            st.none(),
            st.just(UTC),
            st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
        ),
    ),
    st.sampled_from([None, 0, 999, 1000, 100_000, 120_000, 123_456]),
)
def test_format_datetime_writes_what_strftime_wrote(value: datetime, micro: int | None) -> None:
    """isoformat() in place of strftime: the same text, years below 1000 included."""
    if micro is not None:
        value = value.replace(microsecond=micro)
    assert format_datetime(value) == _format_by_strftime(value)


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
