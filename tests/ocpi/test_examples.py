"""The spec's 59 example files against the wire models: 57 parse and round-trip, 2 are rejected.

The files are read in place (examples_dir fixture); digest §6 maps each one to its object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from ocpi.v221 import (
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
    OcpiModel,
    Session,
    SessionPatch,
    Tariff,
    Token,
    TokenPatch,
    Version,
    VersionDetails,
)
from ocpi.v221.types import parse_datetime


@dataclass(frozen=True)
class Example:
    """How to read one example file.

    `shape` is the type the payload validates into. `fragment` names the single key of a file
    that holds a fragment of a bigger object (`{"energy_mix": {...}}`); `envelope` marks a
    whole response envelope whose `data` is the payload.
    """

    shape: Any
    fragment: str | None = None
    envelope: bool = False


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
    "tariffrestriction_example_max_duration",
    "tariffrestriction_example_max_power",
]

VALID: dict[str, Example] = {
    "cdr_example.json": Example(CDR),
    "credentials_example.json": Example(Credentials),
    "credentials_example2.json": Example(Credentials),
    "credentials_example3.json": Example(Credentials),
    "credentials_example4.json": Example(Credentials),
    "location_energymix_example_complete.json": Example(EnergyMix, fragment="energy_mix"),
    "location_energymix_example_energy_provider.json": Example(EnergyMix, fragment="energy_mix"),
    "location_energymix_example_simple.json": Example(EnergyMix, fragment="energy_mix"),
    "location_example.json": Example(Location),
    "location_example_parking_garage_opening_hours.json": Example(Location),
    "location_example_uc2_destination_charger.json": Example(Location),
    "location_example_uc3_destination_charger_not_published.json": Example(Location),
    "location_example_uc4_limited_visibility.json": Example(Location),
    "location_example_uc5_home_charge_point.json": Example(Location),
    "location_hours_247_open_exception_closing.json": Example(Hours),
    "location_hours_opening_hours_with_exceptional_closing.json": Example(Hours),
    "location_hours_opening_hours_with_exceptional_opening.json": Example(Hours),
    # PATCH bodies; the spec sends them to .../1012, .../1012/3256, .../1012/3255, .../3255/2.
    "location_patch_example_location.json": Example(LocationPatch),
    "location_patch_example_remove_evse.json": Example(EVSEPatch),
    "location_patch_example_status.json": Example(EVSEPatch),
    "location_patch_example_tariff.json": Example(ConnectorPatch),
    "location_regularhours_example.json": Example(Hours, fragment="opening_times"),
    # Spec quirk: example 2 and the charging-period PATCH give ENERGY volumes in Wh, not kWh;
    # valid in shape, so they parse.
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
    # Spec quirk: the version examples still say "2.2", which is a valid (deprecated) value.
    "version_details_example.json": Example(VersionDetails),
    "version_details_example2.json": Example(VersionDetails),
    "versions_info_example.json": Example(list[Version]),
}

INVALID: dict[str, Example] = {
    # `floor` for `floor_level`, numeric physical_reference, a connector missing four fields.
    "location_put_example_add_evse.json": Example(EVSE),
    # no last_updated
    "tariff_put_example.json": Example(Tariff),
}


def _load(examples_dir: Path, name: str, *, exact: bool = False) -> Any:
    """The file as JSON; `exact` keeps its numbers as Decimals, for comparing."""
    text = (examples_dir / name).read_text(encoding="utf-8")
    return json.loads(text, parse_float=Decimal) if exact else json.loads(text)


def _validate(shape: Any, payload: Any) -> Any:
    """Validate as a server does: from JSON text, so JSON-mode strictness applies."""
    return TypeAdapter(shape).validate_json(json.dumps(payload))


def _payload(example: Example, document: Any) -> Any:
    """The part of a file that validates into `example.shape`."""
    if example.envelope:
        assert isinstance(document, dict)
        assert isinstance(document["status_code"], int)
        parse_datetime(document["timestamp"])
        return document["data"]
    if example.fragment is not None:
        assert isinstance(document, dict)
        assert list(document) == [example.fragment], "a fragment file holds exactly one key"
        return document[example.fragment]
    return document


def _to_wire(value: Any) -> Any:
    if isinstance(value, OcpiModel):
        return value.to_json()
    if isinstance(value, list):
        return [_to_wire(item) for item in value]
    raise TypeError(f"unexpected parsed value {value!r}")


_ABSENT = object()


def _normalise(value: Any) -> Any:
    """Make JSON comparable: null, absent and [] are one thing; DateTimes are instants; numbers
    are compared by value (1, 1.0 and 1.00 are equal)."""
    if isinstance(value, dict):
        result = {key: _normalise(item) for key, item in value.items()}
        return {key: item for key, item in result.items() if item is not _ABSENT}
    if isinstance(value, list):
        return [_normalise(item) for item in value] if value else _ABSENT
    if value is None:
        return _ABSENT
    if isinstance(value, bool):
        return ("boolean", value)  # False == 0 in Python; JSON keeps them apart
    if isinstance(value, int | float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            return value
    return value


def test_every_example_file_is_mapped(examples_dir: Path) -> None:
    on_disk = {path.name for path in examples_dir.glob("*.json")}
    assert not set(VALID) & set(INVALID)
    assert set(VALID) | set(INVALID) == on_disk
    assert (len(on_disk), len(VALID), len(INVALID)) == (59, 57, 2)


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_example_parses_and_serialises_back_equal(examples_dir: Path, name: str) -> None:
    example = VALID[name]

    parsed = _validate(example.shape, _payload(example, _load(examples_dir, name)))

    original = _payload(example, _load(examples_dir, name, exact=True))
    assert _normalise(_to_wire(parsed)) == _normalise(original)


def test_normaliser_still_tells_different_documents_apart() -> None:
    assert _normalise({"a": [], "b": None}) == _normalise({})
    assert _normalise({"t": "2015-06-29T20:39:09Z"}) == _normalise({"t": "2015-06-29T20:39:09"})
    assert _normalise({"n": Decimal("8.50")}) == _normalise({"n": 8.5})
    assert _normalise({"t": "2015-06-29T20:39:09Z"}) != _normalise({"t": "2015-06-29T20:39:10Z"})
    assert _normalise({"n": Decimal("8.5")}) != _normalise({"n": "8.5"})
    assert _normalise({"b": False}) != _normalise({"b": 0})
    assert _normalise({"a": [1]}) != _normalise({})


def _error_locations(examples_dir: Path, name: str) -> set[tuple[int | str, ...]]:
    example = INVALID[name]
    with pytest.raises(ValidationError) as caught:
        _validate(example.shape, _load(examples_dir, name))
    return {tuple(error["loc"]) for error in caught.value.errors()}


def test_tariff_put_example_is_rejected_for_missing_last_updated(examples_dir: Path) -> None:
    assert _error_locations(examples_dir, "tariff_put_example.json") == {("last_updated",)}


def test_add_evse_example_is_rejected_for_its_connector_and_physical_reference(
    examples_dir: Path,
) -> None:
    locations = _error_locations(examples_dir, "location_put_example_add_evse.json")

    assert locations == {
        ("connectors", 0, "power_type"),
        ("connectors", 0, "max_voltage"),
        ("connectors", 0, "max_amperage"),
        ("connectors", 0, "last_updated"),
        ("physical_reference",),
    }
