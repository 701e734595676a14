"""The 2.3.0 spec's 61 example files (payments left out) against the 2.3.0 wire models.

56 parse and serialise back equal; 5 are rejected, each for the fields the README names.
The files are in tests/ocpi/v230/examples (copied unmodified from the 2.3.0 tag).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ocpi.v230 import (
    CDR,
    EVSE,
    ConnectorPatch,
    Credentials,
    DisplayText,
    EnergyMix,
    EVSEPatch,
    Hours,
    Location,
    LocationPatch,
    Session,
    SessionPatch,
    Tariff,
    Token,
    TokenPatch,
    Version,
    VersionDetails,
)
from tests.ocpi.test_examples import Example, _load, _normalise, _payload, _to_wire, _validate

EXAMPLES = Path(__file__).parent / "examples"

TARIFF_FILES = [
    "tariff_1_simple_2hour",
    "tariff_2_alt_text",
    "tariff_3_alt_url",
    "tariff_4_complex",
    "tariff_5_free_of_charge",
    "tariff_6_025kwh_start_max_price",
    "tariff_8_simple_025kwh",
    "tariff_9_025kwh_start",
    "tariff_10_025kwh_parking_start",
    "tariff_11_not_possible_alt_text",
    "tariff_12_025kwh_min_price",
    "tariff_13_simple_3hour_5parking",
    "tariff_14_step_size",
    "tariff_15_reservation_5_euro_per_hour",
    "tariff_16_reservation_2_euro_fee_5_euro_per_hour",
    "tariff_17_reservation_with_expire_fee",
    "tariff_18_reservation_with_expire_time",
    "tariff_19_simple_north_american_exclusive",
    "tariff_20_simple_north_american_inclusive",
    "tariffrestriction_example_max_duration",
    "tariffrestriction_example_max_power",
]

VALID: dict[str, Example] = {
    "credentials_example.json": Example(Credentials),
    "credentials_example2.json": Example(Credentials),
    "credentials_example3.json": Example(Credentials),
    "credentials_example4.json": Example(Credentials),
    "location_energymix_example_complete.json": Example(EnergyMix, fragment="energy_mix"),
    "location_energymix_example_energy_provider.json": Example(EnergyMix, fragment="energy_mix"),
    "location_energymix_example_simple.json": Example(EnergyMix, fragment="energy_mix"),
    "location_example_uc2_destination_charger.json": Example(Location),
    "location_example_uc3_destination_charger_not_published.json": Example(Location),
    "location_example_uc4_limited_visibility.json": Example(Location),
    "location_example_uc5_home_charge_point.json": Example(Location),
    "location_hours_247_open_exception_closing.json": Example(Hours),
    "location_hours_opening_hours_with_exceptional_closing.json": Example(Hours),
    "location_hours_opening_hours_with_exceptional_opening.json": Example(Hours),
    "location_patch_example_location.json": Example(LocationPatch),
    "location_patch_example_remove_evse.json": Example(EVSEPatch),
    "location_patch_example_status.json": Example(EVSEPatch),
    "location_patch_example_tariff.json": Example(ConnectorPatch),
    "location_regularhours_example.json": Example(Hours, fragment="opening_times"),
    "session_example_1_simple_start.json": Example(Session),
    "session_example_2_short_finished.json": Example(Session),
    "session_patch_example_charging_period.json": Example(SessionPatch),
    "session_patch_example_total_cost.json": Example(SessionPatch),
    **{f"{name}.json": Example(Tariff) for name in TARIFF_FILES},
    "token_example_1_app_user.json": Example(Token),
    "token_example_2_full_rfid.json": Example(Token),
    "token_patch_example.json": Example(TokenPatch),
    "token_put_example.json": Example(Token),
    "transport_and_format_get_token_example.json": Example(Token, envelope=True),
    "transport_and_format_get_token_list_example.json": Example(list[Token], envelope=True),
    "transport_and_format_version_details_example.json": Example(VersionDetails, envelope=True),
    "transport_and_format_version_info_example.json": Example(list[Version], envelope=True),
    "type_displaytext_example.json": Example(DisplayText),
    "version_details_example.json": Example(VersionDetails),
    "version_details_example2.json": Example(VersionDetails),
    "versions_info_example.json": Example(list[Version]),
}

INVALID: dict[str, Example] = {
    # Its embedded Tariff has no tax_included, which 2.3.0 made required.
    "cdr_example.json": Example(CDR),
    # EVSE.parking as strings, where the text defines EVSEParking objects.
    "location_example.json": Example(Location),
    "location_example_parking_garage_opening_hours.json": Example(Location),
    # As in 2.2.1: `floor`, numeric physical_reference, a connector missing four fields.
    "location_put_example_add_evse.json": Example(EVSE),
    # As in 2.2.1: no last_updated.
    "tariff_put_example.json": Example(Tariff),
}


def test_every_example_file_is_mapped() -> None:
    on_disk = {path.name for path in EXAMPLES.glob("*.json")}
    assert not set(VALID) & set(INVALID)
    assert set(VALID) | set(INVALID) == on_disk
    assert (len(on_disk), len(VALID), len(INVALID)) == (61, 56, 5)


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_example_parses_and_serialises_back_equal(name: str) -> None:
    example = VALID[name]

    parsed = _validate(example.shape, _payload(example, _load(EXAMPLES, name)))

    original = _payload(example, _load(EXAMPLES, name, exact=True))
    assert _normalise(_to_wire(parsed)) == _normalise(original)


def _error_locations(name: str) -> set[tuple[int | str, ...]]:
    example = INVALID[name]
    with pytest.raises(ValidationError) as caught:
        _validate(example.shape, _load(EXAMPLES, name))
    return {tuple(error["loc"]) for error in caught.value.errors()}


def test_location_examples_with_parking_as_strings_are_rejected_there_only() -> None:
    assert _error_locations("location_example.json") == {
        ("evses", 0, "parking", 0),
        ("evses", 0, "parking", 1),
        ("evses", 1, "parking", 0),
        ("evses", 1, "parking", 1),
    }
    assert _error_locations("location_example_parking_garage_opening_hours.json") == {
        ("evses", 0, "parking", 0)
    }


def test_location_example_parses_once_parking_links_are_objects() -> None:
    document = _load(EXAMPLES, "location_example.json")
    for evse in document["evses"]:
        evse["parking"] = [{"parking_id": parking_id} for parking_id in evse["parking"]]

    location = _validate(Location, document)

    assert location.parking_places is not None
    assert [place.id for place in location.parking_places] == ["1", "2", "3"]
    assert location.evses is not None
    assert [link.parking_id for link in location.evses[1].parking or ()] == ["2", "3"]


def test_cdr_example_is_rejected_for_its_tariff_without_tax_included() -> None:
    assert _error_locations("cdr_example.json") == {("tariffs", 0, "tax_included")}


def test_tariff_put_example_is_rejected_for_missing_last_updated() -> None:
    assert _error_locations("tariff_put_example.json") == {("last_updated",)}


def test_add_evse_example_is_rejected_for_its_connector_and_physical_reference() -> None:
    assert _error_locations("location_put_example_add_evse.json") == {
        ("connectors", 0, "power_type"),
        ("connectors", 0, "max_voltage"),
        ("connectors", 0, "max_amperage"),
        ("connectors", 0, "last_updated"),
        ("physical_reference",),
    }
