"""Rules of the OCPI 2.3.0 wire models that 2.2.1 did not have, one rule per test."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ocpi import v221, v230
from ocpi.v230 import (
    ClientInfo,
    Connector,
    ConnectorType,
    Credentials,
    Facility,
    Location,
    Price,
    Tariff,
    Token,
    TokenType,
    VersionDetails,
    VersionNumber,
)


def connector(**changes: Any) -> Any:
    body = {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "last_updated": "2024-01-01T00:00:00Z",
    }
    body.update(changes)
    return body


def evse(**changes: Any) -> Any:
    body = {
        "uid": "3256",
        "status": "AVAILABLE",
        "connectors": [connector()],
        "last_updated": "2024-01-01T00:00:00Z",
    }
    body.update(changes)
    return body


def parking(parking_id: str = "P1", **changes: Any) -> Any:
    body = {
        "id": parking_id,
        "vehicle_types": ["PERSONAL_VEHICLE"],
        "restricted_to_type": False,
        "reservation_required": False,
    }
    body.update(changes)
    return body


def location(**changes: Any) -> Any:
    body = {
        "country_code": "NL",
        "party_id": "CPA",
        "id": "LOC1",
        "publish": True,
        "address": "Main street 1",
        "city": "Utrecht",
        "country": "NLD",
        "coordinates": {"latitude": "52.090736", "longitude": "5.121420"},
        "time_zone": "Europe/Amsterdam",
        "last_updated": "2024-01-01T00:00:00Z",
    }
    body.update(changes)
    return body


def credentials(**changes: Any) -> Any:
    body = {
        "token": "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2",
        "url": "https://example.com/ocpi/versions",
        "roles": [
            {
                "role": "CPO",
                "country_code": "NL",
                "party_id": "CPA",
                "business_details": {"name": "Example"},
            }
        ],
    }
    body.update(changes)
    return body


def test_open_enum_keeps_a_known_value_as_the_enum_member() -> None:
    parsed = Connector.model_validate_json(Connector(**connector()).model_dump_json())
    assert parsed.standard is ConnectorType.IEC_62196_T2
    assert Connector.model_validate(connector(standard="MCS")).standard is ConnectorType.MCS


def test_open_enum_keeps_an_unknown_value_as_a_string() -> None:
    parsed = Connector.model_validate(connector(standard="ACME_PLUG_9"))
    assert parsed.standard == "ACME_PLUG_9"
    assert not isinstance(parsed.standard, ConnectorType)
    assert parsed.to_json()["standard"] == "ACME_PLUG_9"


def test_open_enum_refuses_an_empty_string() -> None:
    with pytest.raises(ValidationError):
        Connector.model_validate(connector(standard=""))


def test_open_enum_in_a_list_keeps_known_and_unknown_values() -> None:
    parsed = Location.model_validate(location(facilities=["CAFE", "EV_LOUNGE"]))
    assert parsed.facilities == [Facility.CAFE, "EV_LOUNGE"]


def test_closed_enums_stay_closed() -> None:
    with pytest.raises(ValidationError):
        Location.model_validate(location(evses=[evse(status="SLEEPING")]))


def test_token_type_emaid_is_known() -> None:
    token = {
        "country_code": "DE",
        "party_id": "EMA",
        "uid": "DE8ACC12E46L89",
        "type": "EMAID",
        "contract_id": "DE-8AC-C12E46L89-2",
        "issuer": "EMA",
        "valid": True,
        "whitelist": "NEVER",
        "last_updated": "2024-01-01T00:00:00Z",
    }
    assert Token.model_validate(token).type is TokenType.EMAID


def test_role_hub_is_gone() -> None:
    role = credentials()["roles"][0] | {"role": "HUB"}
    with pytest.raises(ValidationError, match=r"roles\.0\.role"):
        Credentials.model_validate(credentials(roles=[role]))
    with pytest.raises(ValidationError, match="role"):
        ClientInfo.model_validate(
            {
                "party_id": "HUB",
                "country_code": "NL",
                "role": "HUB",
                "status": "CONNECTED",
                "last_updated": "2024-01-01T00:00:00Z",
            }
        )


def test_hub_party_id_is_exactly_five_characters() -> None:
    assert Credentials.model_validate(credentials(hub_party_id="NLHUB")).hub_party_id == "NLHUB"
    for wrong in ("NLHU", "NLHUBX"):
        with pytest.raises(ValidationError, match="hub_party_id"):
            Credentials.model_validate(credentials(hub_party_id=wrong))


def test_evse_parking_must_name_a_parking_place_of_the_location() -> None:
    ok = location(
        parking_places=[parking("P1")], evses=[evse(parking=[{"parking_id": "p1"}])]
    )  # CiString: case-insensitive
    assert Location.model_validate(ok).parking_places is not None

    with pytest.raises(ValidationError, match=r"evses\[0\]\.parking\[0\] names parking_id P2"):
        Location.model_validate(
            location(parking_places=[parking("P1")], evses=[evse(parking=[{"parking_id": "P2"}])])
        )


def test_parking_ids_are_unique_in_a_location() -> None:
    with pytest.raises(ValidationError, match=r"parking_places\[1\] repeats id p1"):
        Location.model_validate(location(parking_places=[parking("P1"), parking("p1")]))


def test_parking_needs_at_least_one_vehicle_type() -> None:
    with pytest.raises(ValidationError, match="vehicle_types"):
        Location.model_validate(location(parking_places=[parking(vehicle_types=[])]))


def test_price_has_before_taxes_and_a_list_of_taxes() -> None:
    price = Price.model_validate_json(
        '{"before_taxes": 4.00, "taxes": [{"name": "VAT", "percentage": 10, "amount": 0.40}]}'
    )
    assert price.taxes is not None
    assert str(price.taxes[0].amount) == "0.4"
    with pytest.raises(ValidationError, match="before_taxes"):
        Price.model_validate_json('{"excl_vat": 4.00, "incl_vat": 4.40}')


def test_tariff_requires_tax_included() -> None:
    body = {
        "country_code": "CA",
        "party_id": "FLO",
        "id": "12",
        "currency": "CAD",
        "elements": [{"price_components": [{"type": "TIME", "price": 2, "step_size": 1}]}],
        "last_updated": "2024-12-05T18:30:14Z",
    }
    with pytest.raises(ValidationError, match="tax_included"):
        Tariff.model_validate(body)
    assert Tariff.model_validate(body | {"tax_included": "N/A"}).to_json()["tax_included"] == "N/A"


def test_version_2_3_0_is_known() -> None:
    details = VersionDetails.model_validate(
        {
            "version": "2.3.0",
            "endpoints": [
                {"identifier": "payments", "role": "SENDER", "url": "https://x.example/p"}
            ],
        }
    )
    assert details.version is VersionNumber.V2_3_0
    assert details.endpoints[0].identifier == "payments"


def test_classes_2_3_0_left_unchanged_are_the_2_2_1_classes() -> None:
    for name in ["TariffElement", "PriceComponent", "ChargingPeriod", "Hours", "ChargingProfile"]:
        assert getattr(v230, name) is getattr(v221, name), name
    for name in ["Location", "EVSE", "Tariff", "Token", "Session", "CDR", "Credentials", "Price"]:
        assert getattr(v230, name) is not getattr(v221, name), name
        assert not issubclass(getattr(v230, name), getattr(v221, name)), name
