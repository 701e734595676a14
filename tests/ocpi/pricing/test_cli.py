"""`roam tariff price TARIFF.json SESSION.json`, run through typer's CliRunner."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from roam.tariff_cmd import tariff_app

runner = CliRunner()

TARIFF_4_MONDAY = {
    "time_zone": "Europe/Amsterdam",
    "periods": [
        {
            "state": "CHARGING",
            "start_date_time": "2024-03-04T09:30:00+01:00",
            "duration": "PT2H45M",
            "energy": 25,
            "current": 16,
        },
        {"state": "PARKING", "duration": "PT42M"},
    ],
}


def write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_price_prints_the_tariff_4_monday_example_as_json(
    examples_dir: Path, tmp_path: Path
) -> None:
    session = write(tmp_path, "session.json", TARIFF_4_MONDAY)
    result = runner.invoke(
        tariff_app, ["price", str(examples_dir / "tariff_4_complex.json"), str(session)]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout, parse_float=Decimal)
    assert printed["cdr"]["total_cost"] == {
        "excl_vat": Decimal("9.00"),
        "incl_vat": Decimal("10.30"),
    }
    assert '"excl_vat": 9.00' in result.stdout  # the currency's 2 decimals, as a JSON number
    # exact values keep at least the currency's decimals (issue 12 item 4: it printed "9")
    assert printed["exact"]["total_cost"] == {"excl_vat": "9.00", "incl_vat": "10.30"}
    assert [line["dimension"] for line in printed["breakdown"]] == ["FLAT", "TIME", "PARKING_TIME"]


def test_a_tariff_that_cannot_be_priced_exits_1_with_one_line(
    tmp_path: Path, examples_dir: Path
) -> None:
    tariff = json.loads((examples_dir / "tariff_4_complex.json").read_text(encoding="utf-8"))
    tariff["elements"][1]["price_components"][0]["price"] = -1
    result = runner.invoke(
        tariff_app,
        [
            "price",
            str(write(tmp_path, "tariff.json", tariff)),
            str(write(tmp_path, "session.json", TARIFF_4_MONDAY)),
        ],
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: elements[1].price_components[0].price -1 is negative\n"


def test_a_session_file_with_a_typo_names_the_field(examples_dir: Path, tmp_path: Path) -> None:
    session = {"time_zon": "Europe/Amsterdam", "periods": TARIFF_4_MONDAY["periods"]}
    result = runner.invoke(
        tariff_app,
        [
            "price",
            str(examples_dir / "tariff_4_complex.json"),
            str(write(tmp_path, "session.json", session)),
        ],
    )
    assert result.exit_code == 1
    assert "is not a valid session file: time_zone: Field required (and 1 more problem)" in (
        result.stderr
    )
    assert result.stderr.count("\n") == 1


def test_a_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    result = runner.invoke(tariff_app, ["price", str(tmp_path / "no.json"), str(tmp_path / "x")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot read ")
