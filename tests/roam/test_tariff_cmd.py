"""`roam tariff price` reads numbers exactly and shows what it computed (issue 12, item 4).

Files are written as JSON text, not with json.dumps of floats, so that a number reaches the
command exactly as a user typed it; output is read back with parse_float=Decimal.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from roam.tariff_cmd import tariff_app

runner = CliRunner()

START = "2024-03-04T09:30:00+01:00"


def tariff_text(components: str, currency: str = "EUR") -> str:
    return (
        '{"country_code": "NL", "party_id": "TNM", "id": "T1", "currency": "'
        + currency
        + '", "last_updated": "2024-01-01T00:00:00Z", "elements": [{"price_components": ['
        + components
        + "]}]}"
    )


def session_text(periods: str, time_zone: str = "Europe/Amsterdam") -> str:
    return '{"time_zone": "' + time_zone + '", "periods": [' + periods + "]}"


def run(tmp_path: Path, tariff: str, session: str) -> Any:
    tariff_path = tmp_path / "tariff.json"
    session_path = tmp_path / "session.json"
    tariff_path.write_text(tariff, encoding="utf-8")
    session_path.write_text(session, encoding="utf-8")
    return runner.invoke(tariff_app, ["price", str(tariff_path), str(session_path)])


def printed(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.stdout, parse_float=Decimal)
    return found


# --- numbers are read as Decimals, never as binary floats ---------------------------------


PRICE = "0.123456789012345678"  # 18 significant digits: a float keeps about 16
ENERGY = "12.3456789012345678"


def test_a_price_and_energy_beyond_float_precision_are_priced_exactly(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        tariff_text(f'{{"type": "ENERGY", "price": {PRICE}, "step_size": 0}}'),
        session_text(f'{{"start_date_time": "{START}", "duration": 3600, "energy": {ENERGY}}}'),
    )
    shown = printed(result)
    with localcontext(prec=100):
        exact_product = Decimal(PRICE) * Decimal(ENERGY)
    assert exact_product == Decimal("1.5241578753238836527968299765279684")
    at_20 = exact_product.quantize(Decimal("1e-20"), rounding=ROUND_HALF_UP)
    assert shown["exact"]["total_cost"] == {
        "excl_vat": "1.5241578753238836528",
        "incl_vat": "1.5241578753238836528",
    }
    assert Decimal(shown["exact"]["total_cost"]["excl_vat"]) == at_20
    line = shown["breakdown"][0]
    assert line["price"] == Decimal(PRICE)
    assert "0.123456789012345678" in result.stdout  # printed as written, not as 0.1234…568
    assert line["exact_cost"]["excl_vat"] == "1.5241578753238836528"
    assert shown["cdr"]["total_cost"] == {"excl_vat": Decimal("1.52"), "incl_vat": Decimal("1.52")}


def test_the_function_the_command_calls_prices_exactly(tmp_path: Path) -> None:
    from roam.tariff_cmd import price_files  # imported here: the function is new

    tariff_path = tmp_path / "tariff.json"
    session_path = tmp_path / "session.json"
    tariff_path.write_text(
        tariff_text(f'{{"type": "ENERGY", "price": {PRICE}, "vat": 21, "step_size": 0}}')
    )
    session_path.write_text(
        session_text(f'{{"start_date_time": "{START}", "duration": 3600, "energy": {ENERGY}}}')
    )
    priced = price_files(tariff_path, session_path)
    assert priced.total.excl_vat == Decimal("1.5241578753238836527968299765279684")
    assert priced.total.incl_vat == Decimal("1.844231029141899219884164271598841764")
    assert priced.total_energy == Decimal(ENERGY)


def test_rounded_cdr_fields_are_printed_with_every_digit(tmp_path: Path) -> None:
    # 17 significant digits: as a float it would print 1234567890123.4568.
    result = run(
        tmp_path,
        tariff_text('{"type": "ENERGY", "price": 1, "step_size": 0}'),
        session_text(
            f'{{"start_date_time": "{START}", "duration": 3600, "energy": 1234567890123.4567}}'
        ),
    )
    shown = printed(result)
    assert shown["cdr"]["total_energy"] == Decimal("1234567890123.4567")
    assert shown["cdr"]["total_cost"]["excl_vat"] == Decimal("1234567890123.46")
    assert '"total_energy": 1234567890123.4567' in result.stdout


def test_a_fractional_duration_in_seconds_is_read_exactly(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        tariff_text('{"type": "TIME", "price": 3600, "step_size": 0}'),
        session_text(f'{{"start_date_time": "{START}", "duration": 0.1}}'),
    )
    assert printed(result)["exact"]["total_cost"]["excl_vat"] == "0.10"


def test_an_integer_field_given_as_a_decimal_number_is_still_refused(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        tariff_text('{"type": "ENERGY", "price": 1, "step_size": 1.0}'),
        session_text(f'{{"start_date_time": "{START}", "duration": 60, "energy": 1}}'),
    )
    assert result.exit_code == 1
    assert "step_size: Input should be a valid integer" in result.stderr


# --- NaN and Infinity -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tariff", "session", "file", "constant"),
    [
        (
            tariff_text('{"type": "ENERGY", "price": NaN, "step_size": 1}'),
            session_text(f'{{"start_date_time": "{START}", "duration": 60, "energy": 1}}'),
            "tariff.json",
            "NaN",
        ),
        (
            tariff_text('{"type": "ENERGY", "price": 1, "step_size": 1}'),
            session_text(f'{{"start_date_time": "{START}", "duration": 60, "energy": Infinity}}'),
            "session.json",
            "Infinity",
        ),
        (
            tariff_text('{"type": "ENERGY", "price": 1, "step_size": 1}'),
            session_text(f'{{"start_date_time": "{START}", "duration": 60, "power": -Infinity}}'),
            "session.json",
            "-Infinity",
        ),
        (  # even where no model would look: an unknown field the tariff reader ignores
            tariff_text('{"type": "ENERGY", "price": 1, "step_size": 1, "x_note": NaN}'),
            session_text(f'{{"start_date_time": "{START}", "duration": 60, "energy": 1}}'),
            "tariff.json",
            "NaN",
        ),
    ],
)
def test_nan_and_infinity_are_refused_as_not_json(
    tmp_path: Path, tariff: str, session: str, file: str, constant: str
) -> None:
    result = run(tmp_path, tariff, session)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {tmp_path / file} is not JSON: {constant} is not a JSON number "
        "(JSON has no NaN or Infinity; write a finite number)\n"
    )


@pytest.mark.parametrize(
    ("price", "energy", "file", "problem"),
    [
        ("1e999999", "1", "tariff.json", "the number 1e999999 has more than 15 digits before"),
        ("1e30", "1", "tariff.json", "the number 1e30 has more than 15 digits before"),
        ("1", "1000000000000000", "session.json", "the number 1000000000000000 has more than"),
        ("1", "-1000000000000000", "session.json", "the number -1000000000000000 has more"),
        (
            "0.000000000000000000001",
            "1",
            "tariff.json",
            "the number 0.000000000000000000001 has more than 20 decimals",
        ),
    ],
)
def test_a_number_out_of_range_is_refused_in_one_line(
    tmp_path: Path, price: str, energy: str, file: str, problem: str
) -> None:
    # 1e30 used to end in a decimal.InvalidOperation traceback; 1e999999 was a float inf.
    result = run(
        tmp_path,
        tariff_text(f'{{"type": "ENERGY", "price": {price}, "step_size": 1}}'),
        session_text(f'{{"start_date_time": "{START}", "duration": 60, "energy": {energy}}}'),
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {tmp_path / file}: {problem}")
    assert result.stderr.count("\n") == 1


def test_the_largest_and_finest_numbers_in_range_are_priced(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        tariff_text('{"type": "ENERGY", "price": 0.00000000000000000001, "step_size": 0}'),
        session_text(
            f'{{"start_date_time": "{START}", "duration": 60, "energy": 999999999999999}}'
        ),
    )
    assert printed(result)["exact"]["total_cost"]["excl_vat"] == "0.00000999999999999999"


# --- exact values at a stated precision ------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "expected"), [("EUR", "9.00"), ("JPY", "9"), ("KWD", "9.000")]
)
def test_exact_totals_keep_the_currencys_decimals(
    tmp_path: Path, currency: str, expected: str
) -> None:
    result = run(
        tmp_path,
        tariff_text('{"type": "FLAT", "price": 9, "step_size": 0}', currency=currency),
        session_text(f'{{"start_date_time": "{START}", "duration": 60}}'),
    )
    shown = printed(result)
    assert shown["exact"]["total_cost"] == {"excl_vat": expected, "incl_vat": expected}
    assert shown["breakdown"][0]["exact_cost"] == {"excl_vat": expected, "incl_vat": expected}


def test_exact_values_keep_significant_digits_beyond_the_minor_unit(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        tariff_text('{"type": "ENERGY", "price": 0.25, "vat": 19, "step_size": 0}'),
        session_text(f'{{"start_date_time": "{START}", "duration": 3600, "energy": 20.5}}'),
    )
    assert printed(result)["exact"]["total_cost"] == {"excl_vat": "5.125", "incl_vat": "6.09875"}


def test_a_non_terminating_exact_value_is_shown_at_the_stated_precision(tmp_path: Path) -> None:
    # 20 minutes at 1.00 an hour: 1/3, which no number of decimals holds exactly.
    result = run(
        tmp_path,
        tariff_text('{"type": "TIME", "price": 1.00, "step_size": 0}'),
        session_text(f'{{"start_date_time": "{START}", "duration": "PT20M"}}'),
    )
    shown = printed(result)
    assert shown["exact"]["total_cost"]["excl_vat"] == "0." + "3" * 20
    assert shown["exact_precision"] == (
        "exact values are shown to 20 decimal places (rounded half-up), "
        "trailing zeros left out down to the currency's 2 decimals"
    )


# --- gap and overlap errors in the user's own UTC offset --------------------------------------


def test_a_gap_is_reported_in_the_offset_the_user_wrote(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        tariff_text('{"type": "ENERGY", "price": 1, "step_size": 1}'),
        session_text(
            f'{{"start_date_time": "{START}", "duration": "PT1H", "energy": 1}}, '
            '{"start_date_time": "2024-03-04T10:45:00+01:00", "duration": 60, "energy": 1}'
        ),
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "error: periods[1] starts at 2024-03-04T10:45:00+01:00 but the period before ends at "
        "2024-03-04T10:30:00+01:00, a gap of 15 minutes; periods must follow each other "
        "without gaps or overlaps\n"
    )


def test_an_overlap_is_reported_in_the_offsets_the_user_wrote(tmp_path: Path) -> None:
    # Clocks go forward in Amsterdam at 02:00 on 31 March 2024: the first period's end is
    # written in summer time, the second period's start (wrongly) still in winter time.
    result = run(
        tmp_path,
        tariff_text('{"type": "ENERGY", "price": 1, "step_size": 1}'),
        session_text(
            '{"start_date_time": "2024-03-31T01:00:00+01:00", '
            '"end_date_time": "2024-03-31T03:30:00+02:00", "energy": 1}, '
            '{"start_date_time": "2024-03-31T01:45:00+01:00", "duration": 60, "energy": 1}'
        ),
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "error: periods[1] starts at 2024-03-31T01:45:00+01:00 but the period before ends at "
        "2024-03-31T03:30:00+02:00, an overlap of 45 minutes; periods must follow each other "
        "without gaps or overlaps\n"
    )


def test_an_end_computed_from_a_duration_is_shown_in_the_offset_of_its_period(
    tmp_path: Path,
) -> None:
    result = run(
        tmp_path,
        tariff_text('{"type": "ENERGY", "price": 1, "step_size": 1}'),
        session_text(
            '{"start_date_time": "2024-03-04T05:30:00-05:00", "duration": "PT1H"}, '
            '{"duration": "PT30M"}, '
            '{"start_date_time": "2024-03-04T06:59:59-05:00", "duration": 60}',
            time_zone="America/New_York",
        ),
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "error: periods[2] starts at 2024-03-04T06:59:59-05:00 but the period before ends at "
        "2024-03-04T07:00:00-05:00, an overlap of 1 second; periods must follow each other "
        "without gaps or overlaps\n"
    )


def test_the_writer_prints_decimals_exactly_and_everything_else_like_json_dumps() -> None:
    from roam.tariff_cmd import dumps  # imported here: the writer is new

    plain = {"a": [], "b": {}, "c": [1, "x", None, True, {"d": 'é"'}], "e": {"f": [[]]}}
    assert dumps(plain) == json.dumps(plain, indent=2)
    assert dumps([Decimal("9.00"), Decimal("1E-20"), Decimal("1E+3")]) == (
        "[\n  9.00,\n  0.00000000000000000001,\n  1000\n]"
    )
    with pytest.raises(TypeError):
        dumps({"price": 0.1})
