"""The 2.1.1 spec's own JSON examples against the 2.1.1 wire models.

21 parse and serialise back equal; 9 are not valid 2.1.1 and are refused for exactly the
fields named below; one is not JSON and one is an error envelope without data.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from ocpi.v211 import (
    CDR,
    EVSE,
    ConnectorPatch,
    Credentials,
    EnergyMix,
    EVSEPatch,
    Hours,
    Location,
    LocationPatch,
    Session,
    SessionPatch,
    Tariff,
    TariffPatch,
    Token,
    TokenPatch,
    Version,
    VersionDetails,
)
from ocpi.v221.types import parse_datetime
from tests.ocpi.test_examples import _normalise, _to_wire

EXAMPLES = Path(__file__).parent / "examples"

VALID: dict[str, Any] = {
    "credentials_01_example.json": Credentials,
    # The version examples still say 2.0 (and 1.9 in transport_and_format): the versions list
    # takes any version string, VersionDetails the known VersionNumbers.
    "version_information_endpoint_01_example.json": list[Version],
    "version_information_endpoint_02_example.json": VersionDetails,
    "mod_locations_01_a_simple_status_update.json": EVSEPatch,
    "mod_locations_02_change_the_location_name.json": LocationPatch,
    "mod_locations_03_set_tariff_update.json": ConnectorPatch,
    "mod_locations_05_delete_an_evse.json": EVSEPatch,
    "mod_locations_07_simple.json": EnergyMix,
    "mod_locations_08_tariff_name_based.json": EnergyMix,
    "mod_sessions_01_update_the_total_cost.json": SessionPatch,
    # Spec quirk: headed "Change Tariff", under the PATCH method, but says "PUT To URL".
    "mod_tariffs_02_change_tariff_to_2_50.json": TariffPatch,
    "mod_tariffs_03_simple_tariff_2_euro_per_hour.json": Tariff,
    "mod_tariffs_04_simple_tariff_with_alternative_multi_language_text.json": Tariff,
    "mod_tariffs_05_simple_tariff_with_alternative_url.json": Tariff,
    "mod_tariffs_06_complex_tariff.json": Tariff,
    "mod_tariffs_07_free_of_charge_tariff.json": Tariff,
    "mod_tokens_01_put_a_new_token.json": Token,
    "mod_tokens_02_invalidate_a_token.json": TokenPatch,
    "mod_tokens_03_example.json": Token,
    "transport_and_format_01_version_information_response_list_of_objects.json": list[Version],
    "transport_and_format_02_version_details_response_one_object.json": VersionDetails,
}

# Each invalid example with the exact error locations a strict 2.1.1 reader reports.
INVALID: dict[str, tuple[Any, set[tuple[int | str, ...]]]] = {
    # location: lower-case type, "STATUS" for status; tariff: price as a string, no last_updated.
    "mod_cdrs_01_of_a_cdr.json": (
        CDR,
        {
            ("location", "type"),
            ("location", "evses", 0, "status"),
            ("tariffs", 0, "elements", 0, "price_components", 0, "price"),
            ("tariffs", 0, "last_updated"),
        },
    ),
    # `floor` for floor_level, numeric physical_reference, a connector missing four fields.
    "mod_locations_04_add_an_evse.json": (
        EVSE,
        {
            ("connectors", 0, "power_type"),
            ("connectors", 0, "voltage"),
            ("connectors", 0, "amperage"),
            ("connectors", 0, "last_updated"),
            ("physical_reference",),
            ("last_updated",),
        },
    ),
    # The second EVSE's connector has no last_updated (and a "status", a field 2.1 removed).
    "mod_locations_06_example.json": (
        Location,
        {("evses", 1, "connectors", 0, "last_updated")},
    ),
    # Exceptional periods with +02:00 offsets, which the 2.1.1 DateTime type forbids.
    "mod_locations_10_regular_hours.json": (
        Hours,
        {
            (kind, 0, edge)
            for kind in ("exceptional_openings", "exceptional_closings")
            for edge in ("period_begin", "period_end")
        },
    ),
    # No auth_method, lower-case location type, "STATUS" for the EVSE status.
    "mod_sessions_02_simple_session_of_a_just_starting_session.json": (
        Session,
        {("auth_method",), ("location", "type"), ("location", "evses", 0, "status")},
    ),
    # The same, plus a dimension type "energy" in lower case.
    "mod_sessions_03_simple_session_of_a_short_finished_session.json": (
        Session,
        {
            ("auth_method",),
            ("location", "type"),
            ("location", "evses", 0, "status"),
            ("charging_periods", 1, "dimensions", 0, "type"),
        },
    ),
    "mod_tariffs_01_new_tariff_2_euro_per_hour.json": (Tariff, {("last_updated",)}),
    # 2.0's `allow_whitelist` instead of whitelist, and no last_updated.
    "transport_and_format_03_tokens_get_response_with_one_token_object_cpo_end.json": (
        Token,
        {("whitelist",), ("last_updated",)},
    ),
    "transport_and_format_04_tokens_get_response_with_list_of_token_objects_ems.json": (
        list[Token],
        {(index, field) for index in range(3) for field in ("whitelist", "last_updated")},
    ),
}

NOT_PAYLOADS = {
    # Trailing commas: not JSON.
    "mod_locations_09_complete.json",
    # An error envelope: status only, no data to parse.
    "transport_and_format_05_response_with_an_error_contains_no_data_field.json",
}


def _text(name: str) -> str:
    """The block without the `PUT To URL: …` line that some examples start with."""
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    return re.sub(r"\A(PUT|PATCH) To URL: \S+\n", "", text)


def _payload(name: str, *, exact: bool = False) -> Any:
    """The part of a file that is the object: fragments are unwrapped, envelopes opened."""
    text = _text(name)
    if text.lstrip().startswith('"'):  # a fragment such as `"energy_mix": {...}`
        text = "{" + text + "}"
    document = json.loads(text, parse_float=Decimal) if exact else json.loads(text)
    if isinstance(document, dict) and "status_code" in document:
        assert isinstance(document["status_code"], int)
        parse_datetime(document["timestamp"])
        return document.get("data")
    if isinstance(document, dict) and list(document) in (["energy_mix"], ["opening_times"]):
        return next(iter(document.values()))
    return document


def _validate(shape: Any, payload: Any) -> Any:
    return TypeAdapter(shape).validate_json(json.dumps(payload))


def test_every_example_file_is_mapped() -> None:
    on_disk = {path.name for path in EXAMPLES.glob("*.json")}
    groups = [set(VALID), set(INVALID), NOT_PAYLOADS]
    assert sum(len(group) for group in groups) == len(on_disk) == 32
    assert set().union(*groups) == on_disk


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_example_parses_and_serialises_back_equal(name: str) -> None:
    parsed = _validate(VALID[name], _payload(name))

    assert _normalise(_to_wire(parsed)) == _normalise(_payload(name, exact=True))


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_example_is_refused_for_exactly_its_faults(name: str) -> None:
    shape, expected = INVALID[name]

    with pytest.raises(ValidationError) as caught:
        _validate(shape, _payload(name))

    assert {tuple(error["loc"]) for error in caught.value.errors()} == expected


def test_complete_energy_mix_example_is_not_json() -> None:
    with pytest.raises(json.JSONDecodeError):
        _payload("mod_locations_09_complete.json")


def test_error_envelope_example_has_no_data() -> None:
    assert (
        _payload("transport_and_format_05_response_with_an_error_contains_no_data_field.json")
        is None
    )
