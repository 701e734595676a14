"""The spec examples through the 2.1.1 translation: 2.2.1 examples down and back, 2.1.1 up and back.

Each round trip either comes back equal, or every changed field is named by a reported Loss;
what cannot be carried at all raises Untranslatable (the three unpublished Location examples).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ocpi import v211, v221
from ocpi.translate import Untranslatable
from ocpi.translate import v211 as translate
from tests.ocpi.test_examples import _normalise
from tests.ocpi.v211.roundtrip import differences, uncovered, wire
from tests.ocpi.v211.test_examples import _payload

LOCATIONS = [
    "location_example.json",
    "location_example_parking_garage_opening_hours.json",
    "location_example_uc2_destination_charger.json",
]
UNPUBLISHED_LOCATIONS = [
    "location_example_uc3_destination_charger_not_published.json",
    "location_example_uc4_limited_visibility.json",
    "location_example_uc5_home_charge_point.json",
]
TARIFFS_WITHOUT_221_ONLY_PARTS = [
    "tariff_1_simple_2hour.json",
    "tariff_2_alt_text.json",
    "tariff_3_alt_url.json",
    "tariff_5_free_of_charge.json",
    "tariff_8_simple_025kwh.json",
    "tariff_9_025kwh_start.json",
    "tariff_13_simple_3hour_5parking.json",
    "tariff_14_step_size.json",
]
TOKENS = ["token_example_1_app_user.json", "token_example_2_full_rfid.json"]


def _load(examples_dir: Path, name: str, model: type[Any]) -> Any:
    return model.model_validate_json((examples_dir / name).read_text(encoding="utf-8"))


def test_round_trip_helpers_name_each_changed_leaf() -> None:
    before = {"a": 1, "b": [{"c": "x"}, {"c": "y"}], "d": "same"}
    after = {"a": 2, "b": [{"c": "x"}, {"c": "z"}], "d": "same", "e": True}

    assert differences(_normalise(before), _normalise(after)) == [("a",), ("b", "1", "c"), ("e",)]


@pytest.mark.parametrize("name", LOCATIONS)
def test_location_example_round_trips_with_every_change_reported(
    examples_dir: Path, name: str
) -> None:
    original = _load(examples_dir, name, v221.Location)

    down = translate.location_to_v211(original)
    back = translate.location_to_v221(
        down.value, country_code=original.country_code, party_id=original.party_id
    )

    assert uncovered(original, back.value, down.lost) == []
    assert down.lossless == (wire(back.value) == wire(original))


def test_main_location_example_keeps_everything_but_its_state_less_fields(
    examples_dir: Path,
) -> None:
    original = _load(examples_dir, "location_example.json", v221.Location)

    down = translate.location_to_v211(original)

    assert down.lossless
    assert down.value.type is v211.LocationType.ON_STREET
    assert down.value.evses is not None
    assert down.value.evses[0].connectors[0].tariff_id == "11"
    assert down.value.evses[0].connectors[0].voltage == 220


@pytest.mark.parametrize("name", UNPUBLISHED_LOCATIONS)
def test_unpublished_location_example_is_untranslatable(examples_dir: Path, name: str) -> None:
    with pytest.raises(Untranslatable) as caught:
        translate.location_to_v211(_load(examples_dir, name, v221.Location))

    assert caught.value.path == "publish"


@pytest.mark.parametrize("name", TARIFFS_WITHOUT_221_ONLY_PARTS)
def test_tariff_example_round_trips(examples_dir: Path, name: str) -> None:
    original = _load(examples_dir, name, v221.Tariff)

    down = translate.tariff_to_v211(original)
    back = translate.tariff_to_v221(
        down.value, country_code=original.country_code, party_id=original.party_id
    )

    assert uncovered(original, back.value, down.lost) == []
    assert down.lossless == (wire(back.value) == wire(original))


def test_tariff_example_with_vat_and_type_reports_both(examples_dir: Path) -> None:
    original = _load(examples_dir, "tariff_12_025kwh_min_price.json", v221.Tariff)

    down = translate.tariff_to_v211(original)

    assert {loss.path for loss in down.lost} >= {"min_price"}
    back = translate.tariff_to_v221(
        down.value, country_code=original.country_code, party_id=original.party_id
    )
    assert uncovered(original, back.value, down.lost) == []
    assert wire(back.value) != wire(original)


def test_reservation_tariff_example_is_untranslatable(examples_dir: Path) -> None:
    original = _load(examples_dir, "tariff_15_reservation_5_euro_per_hour.json", v221.Tariff)

    with pytest.raises(Untranslatable) as caught:
        translate.tariff_to_v211(original)

    assert caught.value.path.endswith("restrictions.reservation")


@pytest.mark.parametrize("name", TOKENS)
def test_token_example_round_trips(examples_dir: Path, name: str) -> None:
    original = _load(examples_dir, name, v221.Token)

    down = translate.token_to_v211(original)
    back = translate.token_to_v221(
        down.value, country_code=original.country_code, party_id=original.party_id
    )

    assert down.value.auth_id == original.contract_id
    assert uncovered(original, back.value, down.lost) == []
    assert down.lossless == (wire(back.value) == wire(original))


def test_app_user_token_example_becomes_other_with_a_loss(examples_dir: Path) -> None:
    down = translate.token_to_v211(_load(examples_dir, "token_example_1_app_user.json", v221.Token))

    assert down.value.type is v211.TokenType.OTHER
    assert [loss.path for loss in down.lost] == ["type"]


@pytest.mark.parametrize(
    ("name", "comes_back_equal"),
    [
        ("session_example_1_simple_start.json", True),
        # Its periods name tariffs and its total cost has VAT: 2.1.1 carries neither.
        ("session_example_2_short_finished.json", False),
    ],
)
def test_session_example_round_trips_through_the_embedded_location(
    examples_dir: Path, name: str, comes_back_equal: bool
) -> None:
    original = _load(examples_dir, name, v221.Session)
    location = _load(examples_dir, "location_example.json", v221.Location)

    down = translate.session_to_v211(original, location=location)
    back = translate.session_to_v221(
        down.value,
        country_code=original.country_code,
        party_id=original.party_id,
        cdr_token=original.cdr_token,
    )

    assert down.value.location.evses is not None
    assert [evse.uid for evse in down.value.location.evses] == [original.evse_uid]
    assert [c.id for c in down.value.location.evses[0].connectors] == [original.connector_id]
    assert uncovered(original, back.value, down.lost) == []
    assert (wire(back.value) == wire(original)) is comes_back_equal
    assert "cdr_token" in {loss.path for loss in down.lost}  # the token's uid and type


def test_cdr_example_round_trips_through_the_embedded_location(examples_dir: Path) -> None:
    original = _load(examples_dir, "cdr_example.json", v221.CDR)
    location = _load(examples_dir, "location_example.json", v221.Location)

    down = translate.cdr_to_v211(original, location=location)
    back = translate.cdr_to_v221(
        down.value,
        country_code=original.country_code,
        party_id=original.party_id,
        cdr_token=original.cdr_token,
    )

    # The snapshot wins over the Location as held now: the example's evse_id is "BE*BEC*...".
    assert down.value.location.evses is not None
    assert down.value.location.evses[0].evse_id == original.cdr_location.evse_id
    assert down.value.total_cost == original.total_cost.excl_vat
    assert uncovered(original, back.value, down.lost) == []
    assert {loss.path for loss in down.lost} >= {
        "cdr_token",
        "total_cost.incl_vat",
        "tariffs.0.elements.0.price_components.0.vat",
        "charging_periods.0.tariff_id",
    }


@pytest.mark.parametrize(
    "name",
    [
        "mod_tariffs_03_simple_tariff_2_euro_per_hour.json",
        "mod_tariffs_04_simple_tariff_with_alternative_multi_language_text.json",
        "mod_tariffs_05_simple_tariff_with_alternative_url.json",
        "mod_tariffs_06_complex_tariff.json",
        "mod_tariffs_07_free_of_charge_tariff.json",
    ],
)
def test_211_tariff_example_goes_up_and_back_unchanged(name: str) -> None:
    original = v211.Tariff.model_validate_json(json.dumps(_payload(name)))

    up = translate.tariff_to_v221(original, country_code="NL", party_id="TNM")
    down = translate.tariff_to_v211(up.value)

    assert up.lossless and down.lossless
    assert (up.value.country_code, up.value.party_id) == ("NL", "TNM")
    assert wire(down.value) == wire(original)


@pytest.mark.parametrize(
    "name", ["mod_tokens_01_put_a_new_token.json", "mod_tokens_03_example.json"]
)
def test_211_token_example_goes_up_and_back_unchanged(name: str) -> None:
    original = v211.Token.model_validate_json(json.dumps(_payload(name)))

    up = translate.token_to_v221(original, country_code="NL", party_id="TNM")
    down = translate.token_to_v211(up.value)

    assert up.value.contract_id == original.auth_id
    assert up.lossless and down.lossless
    assert wire(down.value) == wire(original)


def test_211_credentials_example_goes_up_as_one_role_and_back() -> None:
    original = v211.Credentials.model_validate_json(
        json.dumps(_payload("credentials_01_example.json"))
    )

    up = translate.credentials_to_v221(original, role=v221.Role.CPO)
    down = translate.credentials_to_v211(up.value)

    assert [(r.role, r.country_code, r.party_id) for r in up.value.roles] == [
        (v221.Role.CPO, "NL", "EXA")
    ]
    assert down.lossless
    assert wire(down.value) == wire(original)
