"""Rules of the OCPI 2.1.1 wire models where they differ from 2.2.1, one rule per test."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from ocpi.v211 import (
    EVSE,
    Connector,
    EnergyMix,
    Hours,
    Location,
    LocationPatch,
    ReserveNow,
    Token,
    VersionDetails,
)


def connector(**changes: Any) -> dict[str, Any]:
    return {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "voltage": 230,
        "amperage": 16,
        "tariff_id": "11",
        "last_updated": "2015-03-16T10:10:02Z",
    } | changes


def location(**changes: Any) -> dict[str, Any]:
    return {
        "id": "LOC1",
        "type": "ON_STREET",
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "last_updated": "2015-06-29T20:39:09Z",
    } | changes


def test_location_needs_type_and_postal_code_but_no_owner_or_time_zone() -> None:
    parsed = Location.model_validate(location())
    assert parsed.time_zone is None
    for field in ("type", "postal_code"):
        payload = location()
        del payload[field]
        with pytest.raises(ValidationError, match=field):
            Location.model_validate(payload)


def test_location_id_may_have_39_characters_and_address_only_45() -> None:
    Location.model_validate(location(id="L" * 39))
    with pytest.raises(ValidationError, match="id"):
        Location.model_validate(location(id="L" * 40))
    with pytest.raises(ValidationError, match="address"):
        Location.model_validate(location(address="A" * 46))


def test_connector_has_voltage_amperage_and_one_tariff_id() -> None:
    parsed = Connector.model_validate(connector())
    assert (parsed.voltage, parsed.amperage, parsed.tariff_id) == (230, 16, "11")
    with pytest.raises(ValidationError, match="tariff_id"):
        Connector.model_validate(connector(tariff_id=["11"]))


@pytest.mark.parametrize(
    ("field", "value_of_221_only"),
    [("standard", "GBT_DC"), ("power_type", "AC_2_PHASE")],
)
def test_connector_refuses_221_only_values(field: str, value_of_221_only: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Connector.model_validate(connector(**{field: value_of_221_only}))


def test_evse_refuses_221_only_capabilities() -> None:
    evse = {
        "uid": "3256",
        "status": "AVAILABLE",
        "capabilities": ["RESERVABLE", "PED_TERMINAL"],
        "connectors": [connector()],
        "last_updated": "2015-06-29T20:39:09Z",
    }
    with pytest.raises(ValidationError, match=r"capabilities\.1"):
        EVSE.model_validate(evse)


def test_hours_is_regular_hours_or_twentyfourseven() -> None:
    regular = [{"weekday": 1, "period_begin": "08:00", "period_end": "20:00"}]
    assert Hours.model_validate({"regular_hours": regular}).twentyfourseven is None
    Hours.model_validate({"twentyfourseven": True})
    Hours.model_validate({"regular_hours": regular, "twentyfourseven": False})  # spec example
    with pytest.raises(ValidationError, match="one of two"):
        Hours.model_validate({"exceptional_openings": []})
    with pytest.raises(ValidationError, match="not both"):
        Hours.model_validate({"regular_hours": regular, "twentyfourseven": True})


def test_environmental_impact_names_its_category_source() -> None:
    mix = EnergyMix.model_validate(
        {"is_green_energy": False, "environ_impact": [{"source": "NUCLEAR_WASTE", "amount": 0.1}]}
    )
    assert mix.environ_impact is not None
    assert mix.environ_impact[0].source == "NUCLEAR_WASTE"
    with pytest.raises(ValidationError, match="source"):
        EnergyMix.model_validate(
            {
                "is_green_energy": False,
                "environ_impact": [{"category": "NUCLEAR_WASTE", "amount": 1}],
            }
        )


def test_token_has_auth_id_and_only_rfid_or_other() -> None:
    token = {
        "uid": "012345678",
        "type": "RFID",
        "auth_id": "DE8ACC12E46L89",
        "issuer": "TheNewMotion",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2015-06-29T22:39:09Z",
    }
    assert Token.model_validate(token).auth_id == "DE8ACC12E46L89"
    with pytest.raises(ValidationError, match="type"):
        Token.model_validate(token | {"type": "APP_USER"})


def test_reserve_now_reservation_id_is_an_int() -> None:
    body = {
        "response_url": "https://emsp.example.com/ocpi/2.1.1/commands/RESERVE_NOW/1",
        "token": {
            "uid": "1",
            "type": "RFID",
            "auth_id": "A",
            "issuer": "I",
            "valid": True,
            "whitelist": "ALWAYS",
            "last_updated": "2015-06-29T22:39:09Z",
        },
        "expiry_date": "2015-06-29T23:39:09Z",
        "reservation_id": 7,
        "location_id": "LOC1",
    }
    assert ReserveNow.model_validate(body).reservation_id == 7
    with pytest.raises(ValidationError, match="reservation_id"):
        ReserveNow.model_validate_json(json.dumps(body | {"reservation_id": "7"}))


def test_patch_needs_no_last_updated_but_refuses_null_for_required_fields() -> None:
    assert LocationPatch.model_validate({"name": "Interparking Gent Zuid"}).model_dump(
        exclude_unset=True
    ) == {"name": "Interparking Gent Zuid"}
    with pytest.raises(ValidationError, match="not sent as null"):
        LocationPatch.model_validate({"address": None})


def test_version_details_endpoints_have_no_role() -> None:
    details = VersionDetails.model_validate(
        {
            "version": "2.1.1",
            "endpoints": [
                {"identifier": "credentials", "url": "https://x.example/2.1.1/credentials"},
                {"identifier": "nltnm-tokens", "url": "https://x.example/2.1.1/tokens"},
            ],
        }
    )
    assert [endpoint.identifier for endpoint in details.endpoints] == [
        "credentials",
        "nltnm-tokens",
    ]
