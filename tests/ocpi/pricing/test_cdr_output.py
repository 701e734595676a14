"""The CDR's cost fields and charging periods (spec mod_cdrs), rounded only at this edge."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from ocpi.pricing import minor_units, round_money
from ocpi.v221.cdrs import CDR, SESSION_ONLY_DIMENSIONS, CdrDimensionType
from tests.ocpi.pricing.factories import (
    charging,
    component,
    element,
    example_tariff,
    local,
    make_tariff,
    parking,
    price,
)
from tests.ocpi.pricing.factories import reservation as reserved


def test_cdr_fields_complete_the_spec_example_cdr_into_a_valid_cdr(examples_dir: Path) -> None:
    tariff = example_tariff(examples_dir, "tariff_4_complex")
    priced = price(
        tariff, charging(165, 25, start=local("2024-03-04T09:30"), current=16), parking(42)
    )
    fields = priced.cdr_fields()
    cdr_data = json.loads((examples_dir / "cdr_example.json").read_text(encoding="utf-8"))
    cdr_data.update(fields.to_json())
    cdr = CDR.model_validate(cdr_data)
    assert cdr.total_cost.excl_vat == Decimal("9.00")
    assert cdr.total_cost.incl_vat == Decimal("10.30")
    assert cdr.total_fixed_cost is not None and cdr.total_fixed_cost.excl_vat == Decimal("2.50")
    assert cdr.total_time_cost is not None and cdr.total_time_cost.excl_vat == Decimal("2.75")
    assert cdr.total_parking_cost is not None
    assert cdr.total_parking_cost.incl_vat == Decimal("4.13")  # 4.125 half-up
    assert cdr.total_energy_cost is None  # the tariff prices no energy
    assert cdr.total_energy == Decimal(25)
    assert cdr.total_time == Decimal("3.45")  # 165 + 42 minutes, parking included
    assert cdr.total_parking_time == Decimal("0.7")
    assert cdr.start_date_time.isoformat() == "2024-03-04T08:30:00+00:00"


def test_cdr_fields_splat_into_the_cdr_model(examples_dir: Path) -> None:
    tariff = example_tariff(examples_dir, "tariff_9_025kwh_start")
    priced = price(tariff, charging(60, 20, start=local("2024-03-04T09:00")))
    cdr_data = json.loads((examples_dir / "cdr_example.json").read_text(encoding="utf-8"))
    other = CDR.model_validate(cdr_data)
    cdr = CDR(
        **{**dict(other), **dict(priced.cdr_fields())},
    )
    assert cdr.total_cost.excl_vat == Decimal("5.50")


def test_a_new_charging_period_starts_where_a_price_component_changes() -> None:
    tariff = make_tariff(
        element(component("ENERGY", "0.2"), start_time="00:00", end_time="17:00"),
        element(component("ENERGY", "0.3")),
    )
    priced = price(tariff, charging(120, 10, start=local("2024-03-04T16:00")))
    periods = priced.charging_periods()
    assert [p.start_date_time.isoformat() for p in periods] == [
        "2024-03-04T15:00:00+00:00",
        "2024-03-04T16:00:00+00:00",
    ]
    assert [[(d.type, d.volume) for d in p.dimensions] for p in periods] == [
        [(CdrDimensionType.ENERGY, Decimal(5)), (CdrDimensionType.TIME, Decimal(1))],
        [(CdrDimensionType.ENERGY, Decimal(5)), (CdrDimensionType.TIME, Decimal(1))],
    ]
    assert {p.tariff_id for p in periods} == {"T1"}


def test_cuts_that_change_no_price_do_not_make_charging_periods() -> None:
    # Midnight and the restriction's own boundaries cut the timeline, but with one element
    # winning throughout the CDR shows one period per state.
    tariff = make_tariff(
        element(component("ENERGY", "0.2"), component("PARKING_TIME", 1)),
        element(component("TIME", 1), start_time="10:00", end_time="11:00"),
    )
    priced = price(tariff, charging(180, 30, start=local("2024-03-04T23:00")), parking(30))
    periods = priced.charging_periods()
    assert len(periods) == 2
    assert [d.type for d in periods[1].dimensions] == [CdrDimensionType.PARKING_TIME]


def test_charging_periods_use_only_dimensions_a_cdr_may_carry() -> None:
    tariff = make_tariff(
        element(component("TIME", 2), reservation="RESERVATION"),
        element(component("ENERGY", "0.3"), component("PARKING_TIME", 1)),
    )
    priced = price(
        tariff,
        reserved(10, start=local("2024-03-04T09:00")),
        charging(60, 10, power=10, current=16),
        parking(15),
    )
    periods = priced.charging_periods()
    used = {d.type for p in periods for d in p.dimensions}
    assert used == {
        CdrDimensionType.RESERVATION_TIME,
        CdrDimensionType.ENERGY,
        CdrDimensionType.TIME,
        CdrDimensionType.PARKING_TIME,
    }
    assert not used & SESSION_ONLY_DIMENSIONS
    fields = priced.cdr_fields()
    assert fields.total_reservation_cost is not None
    assert fields.total_reservation_cost.excl_vat == Decimal("0.33")  # 0.333… half-up
    assert fields.start_date_time == priced.start_date_time  # the reservation's start
    assert fields.total_time == Decimal("1.25")  # reservation time is not session time


def test_money_is_rounded_half_up_to_the_currencys_minor_unit() -> None:
    assert round_money(Decimal("5.625"), "EUR") == Decimal("5.63")
    assert round_money(Decimal("5.635"), "EUR") == Decimal("5.64")
    assert round_money(Decimal("-5.625"), "EUR") == Decimal("-5.63")
    assert round_money(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert round_money(Decimal("1.2345"), "KWD") == Decimal("1.235")
    assert (minor_units("eur"), minor_units("XYZ")) == (2, 2)


def test_exact_values_stay_in_the_result_and_the_json(examples_dir: Path) -> None:
    tariff = example_tariff(examples_dir, "tariff_3_alt_url")
    priced = price(tariff, charging(120, "20.45", start=local("2024-03-04T09:00")))
    shown = priced.to_dict()
    # Numbers stay Decimal (no float on the way out either); exact amounts are text.
    assert shown["cdr"]["total_cost"] == {"excl_vat": Decimal("5.63"), "incl_vat": Decimal("6.24")}
    assert shown["exact"]["total_cost"] == {"excl_vat": "5.625", "incl_vat": "6.2375"}
    assert [line["billed"] for line in shown["breakdown"]] == [Decimal(1), Decimal("20.5")]
    assert all(not isinstance(line["billed"], float) for line in shown["breakdown"])
    # to_json() is the same, ready for json.dumps (the eMSP stores invoice lines with it)
    as_json = priced.to_json()
    assert as_json["cdr"]["total_cost"] == {"excl_vat": 5.63, "incl_vat": 6.24}
    assert as_json["exact"] == shown["exact"]
    json.dumps(as_json)
