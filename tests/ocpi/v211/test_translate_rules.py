"""The 2.1.1 <-> 2.2.1 translation's choices, one rule per test (docs/versions.md lists them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ocpi import v211, v221
from ocpi.translate import Untranslatable
from ocpi.translate import v211 as translate
from tests.ocpi.v211.factories import (
    NOW,
    cdr221,
    cdr_token,
    connector221,
    evse221,
    location211,
    location221,
    paths,
    session221,
    tariff221,
    token221,
)


# --- Locations ----------------------------------------------------------------------------
def test_a_plain_location_goes_down_and_up_unchanged() -> None:
    original = location221()

    down = translate.location_to_v211(original)
    up = translate.location_to_v221(down.value, country_code="BE", party_id="BEC")

    assert down.lossless and up.lossless
    assert up.value == original


def test_several_tariff_ids_without_their_tariffs_are_untranslatable() -> None:
    location = location221(evses=[evse221(connectors=[connector221(tariff_ids=["T1", "T2"])])])

    with pytest.raises(Untranslatable) as caught:
        translate.location_to_v211(location)

    assert caught.value.path == "evses.0.connectors.0.tariff_ids"


def test_several_tariff_ids_keep_the_regular_one_and_lose_the_others() -> None:
    location = location221(evses=[evse221(connectors=[connector221(tariff_ids=["ADHOC", "REG"])])])
    tariffs = {
        "ADHOC": tariff221("ADHOC", v221.TariffType.AD_HOC_PAYMENT),
        "REG": tariff221("REG", v221.TariffType.REGULAR),
    }

    down = translate.location_to_v211(location, tariffs=tariffs)

    assert down.value.evses is not None
    assert down.value.evses[0].connectors[0].tariff_id == "REG"
    assert paths(down.lost) == ["evses.0.connectors.0.tariff_ids.0"]


def test_two_regular_tariffs_are_untranslatable() -> None:
    location = location221(evses=[evse221(connectors=[connector221(tariff_ids=["A", "B"])])])
    tariffs = {"A": tariff221("A"), "B": tariff221("B", v221.TariffType.REGULAR)}

    with pytest.raises(Untranslatable, match="2 of the 2"):
        translate.location_to_v211(location, tariffs=tariffs)


def test_one_tariff_id_goes_up_as_a_list_of_one() -> None:
    up = translate.connector_to_v221(
        v211.Connector(
            id="1",
            standard=v211.ConnectorType.CHADEMO,
            format=v211.ConnectorFormat.CABLE,
            power_type=v211.PowerType.DC,
            voltage=400,
            amperage=125,
            tariff_id="T9",
            last_updated=NOW,
        )
    )

    assert up.value.tariff_ids == ["T9"]
    assert (up.value.max_voltage, up.value.max_amperage) == (400, 125)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"standard": v221.ConnectorType.GBT_DC}, "evses.0.connectors.0.standard"),
        ({"power_type": v221.PowerType.AC_2_PHASE}, "evses.0.connectors.0.power_type"),
    ],
)
def test_connector_values_2_1_1_lacks_are_untranslatable(change: dict[str, Any], path: str) -> None:
    location = location221(evses=[evse221(connectors=[connector221(**change)])])

    with pytest.raises(Untranslatable) as caught:
        translate.location_to_v211(location)

    assert caught.value.path == path


def test_unpublished_location_is_untranslatable() -> None:
    with pytest.raises(Untranslatable, match="every driver"):
        translate.location_to_v211(location221(publish=False))


def test_address_longer_than_45_characters_is_untranslatable() -> None:
    with pytest.raises(Untranslatable) as caught:
        translate.location_to_v211(location221(address="A" * 46))

    assert caught.value.path == "address"


def test_capabilities_and_facilities_2_1_1_lacks_are_lost_one_by_one() -> None:
    location = location221(
        facilities=[v221.Facility.HOTEL, v221.Facility.METRO_STATION],
        evses=[evse221(capabilities=[v221.Capability.PED_TERMINAL, v221.Capability.RESERVABLE])],
    )

    down = translate.location_to_v211(location)

    assert down.value.facilities == [v211.Facility.HOTEL]
    assert paths(down.lost) == ["evses.0.capabilities.0", "facilities.1"]


@pytest.mark.parametrize(
    ("parking_type", "location_type", "lost"),
    [
        (None, v211.LocationType.UNKNOWN, []),
        (v221.ParkingType.PARKING_LOT, v211.LocationType.PARKING_LOT, []),
        (v221.ParkingType.ALONG_MOTORWAY, v211.LocationType.OTHER, ["parking_type"]),
    ],
)
def test_parking_type_becomes_location_type(
    parking_type: v221.ParkingType | None, location_type: v211.LocationType, lost: list[str]
) -> None:
    down = translate.location_to_v211(location221(parking_type=parking_type))

    assert down.value.type is location_type
    assert paths(down.lost) == lost


def test_missing_postal_code_travels_as_empty_and_comes_back_absent() -> None:
    down = translate.location_to_v211(location221(postal_code=None))
    up = translate.location_to_v221(down.value, country_code="BE", party_id="BEC")

    assert down.value.postal_code == ""
    assert up.value.postal_code is None


def test_environmental_impact_category_becomes_source() -> None:
    mix = v221.EnergyMix(
        is_green_energy=False,
        environ_impact=[
            v221.EnvironmentalImpact(
                category=v221.EnvironmentalImpactCategory.CARBON_DIOXIDE, amount=Decimal(372)
            )
        ],
    )

    down = translate.location_to_v211(location221(energy_mix=mix))

    assert down.value.energy_mix is not None
    assert down.value.energy_mix.to_json()["environ_impact"] == [
        {"source": "CARBON_DIOXIDE", "amount": 372.0}
    ]


def test_2_1_1_location_goes_up_owned_by_the_sender_and_published() -> None:
    up = translate.location_to_v221(location211(), country_code="NL", party_id="XYZ")

    assert (up.value.country_code, up.value.party_id, up.value.publish) == ("NL", "XYZ", True)


def test_2_1_1_location_without_time_zone_needs_one_from_the_caller() -> None:
    location = location211(time_zone=None)

    with pytest.raises(Untranslatable) as caught:
        translate.location_to_v221(location, country_code="BE", party_id="BEC")
    up = translate.location_to_v221(
        location, country_code="BE", party_id="BEC", time_zone="Europe/Amsterdam"
    )

    assert caught.value.path == "time_zone"
    assert up.value.time_zone == "Europe/Amsterdam"


def test_2_1_1_location_type_other_is_lost_going_up() -> None:
    up = translate.location_to_v221(
        location211(type=v211.LocationType.OTHER), country_code="BE", party_id="BEC"
    )

    assert up.value.parking_type is None
    assert paths(up.lost) == ["type"]


def test_2_1_1_location_id_of_39_characters_is_untranslatable_going_up() -> None:
    with pytest.raises(Untranslatable) as caught:
        translate.location_to_v221(location211(id="L" * 39), country_code="BE", party_id="BEC")

    assert caught.value.path == "id"


def test_2_1_1_regular_hours_without_twentyfourseven_go_up_as_not_24_7() -> None:
    hours = v211.Hours(
        regular_hours=[v211.RegularHours(weekday=1, period_begin="08:00", period_end="20:00")]
    )

    up = translate.location_to_v221(
        location211(opening_times=hours), country_code="BE", party_id="BEC"
    )

    assert up.value.opening_times is not None
    assert up.value.opening_times.twentyfourseven is False


# --- Tariffs ------------------------------------------------------------------------------
def test_tariff_restrictions_2_1_1_lacks_are_untranslatable() -> None:
    tariff = tariff221(
        "T1",
        elements=[
            v221.TariffElement(
                price_components=[
                    v221.PriceComponent(
                        type=v221.TariffDimensionType.TIME, price=Decimal(2), step_size=300
                    )
                ],
                restrictions=v221.TariffRestrictions(max_current=Decimal(16)),
            )
        ],
    )

    with pytest.raises(Untranslatable) as caught:
        translate.tariff_to_v211(tariff)

    assert caught.value.path == "elements.0.restrictions.max_current"


def test_tariff_type_limits_and_validity_are_lost() -> None:
    tariff = tariff221(
        "T1",
        v221.TariffType.REGULAR,
        max_price=v221.Price(excl_vat=Decimal(10)),
        end_date_time=NOW,
    )

    down = translate.tariff_to_v211(tariff)

    assert paths(down.lost) == ["type", "max_price", "end_date_time"]


def test_2_1_1_restriction_time_24_00_is_untranslatable_going_up() -> None:
    tariff = v211.Tariff(
        id="T1",
        currency="EUR",
        elements=[
            v211.TariffElement(
                price_components=[
                    v211.PriceComponent(
                        type=v211.TariffDimensionType.FLAT, price=Decimal(1), step_size=1
                    )
                ],
                restrictions=v211.TariffRestrictions(end_time="24:00"),
            )
        ],
        last_updated=NOW,
    )

    with pytest.raises(Untranslatable) as caught:
        translate.tariff_to_v221(tariff, country_code="BE", party_id="BEC")

    assert caught.value.path == "elements.0.restrictions.end_time"


# --- Tokens -------------------------------------------------------------------------------
def test_token_contract_id_becomes_auth_id_and_back() -> None:
    down = translate.token_to_v211(token221())
    up = translate.token_to_v221(down.value, country_code="DE", party_id="TNM")

    assert down.value.auth_id == "DE8ACC12E46L89"
    assert down.lossless
    assert up.value == token221()


def test_token_fields_2_1_1_lacks_are_lost() -> None:
    token = token221(
        type=v221.TokenType.AD_HOC_USER,
        group_id="G1",
        energy_contract=v221.EnergyContract(supplier_name="Greenpeace Energy"),
    )

    down = translate.token_to_v211(token)

    assert down.value.type is v211.TokenType.OTHER
    assert paths(down.lost) == ["type", "group_id", "energy_contract"]


def test_authorization_info_drops_the_token_and_reference() -> None:
    info = v221.AuthorizationInfo(
        allowed=v221.AllowedType.ALLOWED,
        token=token221(),
        location=v221.LocationReferences(location_id="LOC1", evse_uids=["3256"]),
        authorization_reference="REF1",
    )

    down = translate.authorization_info_to_v211(info)

    assert down.value.allowed is v211.Allowed.ALLOWED
    assert paths(down.lost) == ["token", "authorization_reference"]


def test_authorization_info_goes_up_with_the_token_asked_about() -> None:
    info = v211.AuthorizationInfo(
        allowed=v211.Allowed.NOT_ALLOWED,
        location=v211.LocationReferences(location_id="LOC1", connector_ids=["1"]),
    )

    up = translate.authorization_info_to_v221(info, token=token221())

    assert up.value.token == token221()
    assert paths(up.lost) == ["location.connector_ids"]


# --- Sessions -----------------------------------------------------------------------------
def test_session_embeds_only_the_evse_and_connector_used() -> None:
    location = location221(
        evses=[
            evse221(uid="OTHER"),
            evse221(connectors=[connector221(id="2"), connector221()]),
        ]
    )

    down = translate.session_to_v211(session221(), location=location)

    embedded = down.value.location.evses
    assert embedded is not None
    assert [(e.uid, [c.id for c in e.connectors]) for e in embedded] == [("3256", ["1"])]
    assert down.value.auth_id == "DE8ACC12E46L89"


def test_session_location_must_be_the_sessions_location() -> None:
    with pytest.raises(Untranslatable, match="LOC2"):
        translate.session_to_v211(session221(location_id="LOC2"), location=location221())


def test_session_reservation_and_command_become_pending_and_auth_request() -> None:
    session = session221(status=v221.SessionStatus.RESERVATION, auth_method=v221.AuthMethod.COMMAND)

    down = translate.session_to_v211(session, location=location221())

    assert down.value.status is v211.SessionStatus.PENDING
    assert down.value.auth_method is v211.AuthMethod.AUTH_REQUEST
    assert set(paths(down.lost)) == {"cdr_token", "status", "auth_method"}


def test_session_total_cost_keeps_excl_vat_and_loses_incl_vat() -> None:
    session = session221(total_cost=v221.Price(excl_vat=Decimal("2.50"), incl_vat=Decimal("3.03")))

    down = translate.session_to_v211(session, location=location221())

    assert down.value.total_cost == Decimal("2.50")
    assert "total_cost.incl_vat" in paths(down.lost)


def test_2_1_1_session_goes_up_with_ids_from_its_embedded_location() -> None:
    down = translate.session_to_v211(session221(), location=location221())

    up = translate.session_to_v221(
        down.value, country_code="BE", party_id="BEC", cdr_token=cdr_token()
    )

    assert (up.value.location_id, up.value.evse_uid, up.value.connector_id) == (
        "LOC1",
        "3256",
        "1",
    )
    assert up.value == session221()


def test_2_1_1_session_with_two_evses_is_untranslatable_going_up() -> None:
    session = translate.session_to_v211(session221(), location=location221()).value
    two = session.location.model_copy(update={"evses": [*(session.location.evses or [])] * 2})

    with pytest.raises(Untranslatable) as caught:
        translate.session_to_v221(
            session.model_copy(update={"location": two}),
            country_code="BE",
            party_id="BEC",
            cdr_token=cdr_token(),
        )

    assert caught.value.path == "location.evses"


def test_2_1_1_session_needs_the_token_of_its_auth_id() -> None:
    session = translate.session_to_v211(session221(), location=location221()).value
    other = cdr_token().model_copy(update={"contract_id": "NL-TNM-OTHER"})

    with pytest.raises(Untranslatable) as caught:
        translate.session_to_v221(session, country_code="BE", party_id="BEC", cdr_token=other)

    assert caught.value.path == "auth_id"


def test_2_1_1_flat_dimension_is_lost_going_up() -> None:
    session = translate.session_to_v211(session221(), location=location221()).value
    period = v211.ChargingPeriod(
        start_date_time=NOW,
        dimensions=[
            v211.CdrDimension(type=v211.CdrDimensionType.FLAT, volume=Decimal(1)),
            v211.CdrDimension(type=v211.CdrDimensionType.ENERGY, volume=Decimal(3)),
        ],
    )

    up = translate.session_to_v221(
        session.model_copy(update={"charging_periods": [period]}),
        country_code="BE",
        party_id="BEC",
        cdr_token=cdr_token(),
    )

    assert up.value.charging_periods is not None
    assert [d.type for d in up.value.charging_periods[0].dimensions] == [
        v221.CdrDimensionType.ENERGY
    ]
    assert "charging_periods.0.dimensions.0" in paths(up.lost)


# --- CDRs ---------------------------------------------------------------------------------
def test_cdr_end_becomes_stop_and_total_cost_a_number() -> None:
    down = translate.cdr_to_v211(cdr221(), location=location221())

    assert down.value.stop_date_time == NOW
    assert down.value.total_cost == Decimal("1.00")
    assert paths(down.lost) == ["cdr_token"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"credit": True, "credit_reference_id": "CDR0"}, "credit"),
        ({"home_charging_compensation": True}, "home_charging_compensation"),
    ],
)
def test_cdr_paying_the_driver_is_untranslatable(change: dict[str, Any], path: str) -> None:
    with pytest.raises(Untranslatable) as caught:
        translate.cdr_to_v211(cdr221(**change), location=location221())

    assert caught.value.path == path


def test_cdr_snapshot_connector_2_1_1_lacks_is_untranslatable_at_its_own_path() -> None:
    snapshot = cdr221().cdr_location.model_copy(
        update={"connector_standard": v221.ConnectorType.NEMA_14_50}
    )

    with pytest.raises(Untranslatable) as caught:
        translate.cdr_to_v211(cdr221(cdr_location=snapshot), location=location221())

    assert caught.value.path == "cdr_location.connector_standard"


def test_cdr_cost_breakdown_is_lost() -> None:
    cdr = cdr221(
        total_energy_cost=v221.Price(excl_vat=Decimal("0.80")),
        session_id="101",
        cdr_location=cdr221().cdr_location.model_copy(update={"state": "Oost-Vlaanderen"}),
    )

    down = translate.cdr_to_v211(cdr, location=location221())

    assert set(paths(down.lost)) == {
        "session_id",
        "total_energy_cost",
        "cdr_location.state",
        "cdr_token",
    }


def test_2_1_1_cdr_goes_up_with_a_cdr_location_from_its_embedded_location() -> None:
    down = translate.cdr_to_v211(cdr221(), location=location221())

    up = translate.cdr_to_v221(down.value, country_code="BE", party_id="BEC", cdr_token=cdr_token())

    assert up.value == cdr221()
    # The embedded Location's own fields (time zone, tariff of the connector...) have no place.
    assert set(paths(up.lost)) == {
        "location.time_zone",
        "location.evses.0.status",
        "location.evses.0.connectors.0.voltage",
        "location.evses.0.connectors.0.amperage",
        "location.evses.0.connectors.0.tariff_id",
    }


def test_2_1_1_cdr_without_evse_id_is_untranslatable_going_up() -> None:
    down = translate.cdr_to_v211(cdr221(), location=location221()).value
    assert down.location.evses is not None
    evse = down.location.evses[0].model_copy(update={"evse_id": None})
    cdr = down.model_copy(update={"location": down.location.model_copy(update={"evses": [evse]})})

    with pytest.raises(Untranslatable) as caught:
        translate.cdr_to_v221(cdr, country_code="BE", party_id="BEC", cdr_token=cdr_token())

    assert caught.value.path == "location.evses.0.evse_id"


# --- Credentials --------------------------------------------------------------------------
def credentials221() -> v221.Credentials:
    return v221.Credentials(
        token="ebf3b399-779f-4497-9b9d-ac6ad3cc44d2",
        url="https://example.com/ocpi/versions",
        roles=[
            v221.CredentialsRole(
                role=role,
                business_details=v221.BusinessDetails(name="Example"),
                party_id=party,
                country_code="NL",
            )
            for role, party in [(v221.Role.CPO, "EXA"), (v221.Role.EMSP, "EXM")]
        ],
    )


def test_credentials_keep_the_role_asked_for_and_lose_the_others() -> None:
    down = translate.credentials_to_v211(credentials221(), role=v221.Role.EMSP)

    assert (down.value.country_code, down.value.party_id) == ("NL", "EXM")
    assert paths(down.lost) == ["roles.0"]


def test_credentials_without_the_role_asked_for_are_untranslatable() -> None:
    with pytest.raises(Untranslatable, match="HUB"):
        translate.credentials_to_v211(credentials221(), role=v221.Role.HUB)


# --- Commands -----------------------------------------------------------------------------
def test_cancel_reservation_has_no_2_1_1_command() -> None:
    assert translate.command_type_to_v211(v221.CommandType.STOP_SESSION) is (
        v211.CommandType.STOP_SESSION
    )
    with pytest.raises(Untranslatable, match="CANCEL_RESERVATION"):
        translate.command_type_to_v211(v221.CommandType.CANCEL_RESERVATION)


def test_start_session_loses_connector_id() -> None:
    command = v221.StartSession(
        response_url="https://emsp.example.com/commands/START_SESSION/1",
        token=token221(),
        location_id="LOC1",
        evse_uid="3256",
        connector_id="1",
    )

    down = translate.start_session_to_v211(command)

    assert down.value.token.auth_id == "DE8ACC12E46L89"
    assert paths(down.lost) == ["connector_id"]


@pytest.mark.parametrize("reservation_id", ["R-17", "007", ""])
def test_reservation_id_that_is_no_integer_is_untranslatable(reservation_id: str) -> None:
    command = v221.ReserveNow(
        response_url="https://emsp.example.com/commands/RESERVE_NOW/1",
        token=token221(),
        expiry_date=NOW,
        reservation_id=reservation_id,
        location_id="LOC1",
    )

    with pytest.raises(Untranslatable) as caught:
        translate.reserve_now_to_v211(command)

    assert caught.value.path == "reservation_id"


def test_2_1_1_timeout_answer_becomes_rejected_with_the_callers_timeout() -> None:
    up = translate.command_response_to_v221(v211.CommandResponseType.TIMEOUT, timeout=30)
    accepted = translate.command_response_to_v221(v211.CommandResponseType.ACCEPTED, timeout=30)

    assert (up.value.result, up.value.timeout) == (v221.CommandResponseType.REJECTED, 30)
    assert not up.lossless
    assert accepted.lossless
    assert accepted.value.result is v221.CommandResponseType.ACCEPTED


def test_2_2_1_command_response_loses_its_timeout() -> None:
    down = translate.command_response_to_v211(
        v221.CommandResponse(result=v221.CommandResponseType.UNKNOWN_SESSION, timeout=30)
    )

    assert down.value is v211.CommandResponseType.UNKNOWN_SESSION
    assert paths(down.lost) == ["timeout"]


@pytest.mark.parametrize(
    ("result", "sent"),
    [
        (v221.CommandResultType.ACCEPTED, v211.CommandResponseType.ACCEPTED),
        (v221.CommandResultType.TIMEOUT, v211.CommandResponseType.TIMEOUT),
        (v221.CommandResultType.EVSE_OCCUPIED, v211.CommandResponseType.REJECTED),
        (v221.CommandResultType.CANCELED_RESERVATION, v211.CommandResponseType.ACCEPTED),
    ],
)
def test_command_result_becomes_a_2_1_1_command_response(
    result: v221.CommandResultType, sent: v211.CommandResponseType
) -> None:
    down = translate.command_result_to_v211(v221.CommandResult(result=result))

    assert down.value.result is sent
    assert down.lossless == (result.value == sent.value)


def test_2_1_1_unknown_session_result_becomes_failed() -> None:
    up = translate.command_result_to_v221(
        v211.CommandResponse(result=v211.CommandResponseType.UNKNOWN_SESSION)
    )

    assert up.value.result is v221.CommandResultType.FAILED
    assert paths(up.lost) == ["result"]


# --- Status codes -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "sent", "lossless"),
    [
        (1000, 1000, True),
        (2003, 2003, True),
        (3003, 3003, True),
        (2004, 2000, False),
        (4001, 3000, False),
        (4003, 3000, False),
    ],
)
def test_status_codes_2_1_1_lacks_become_their_class(code: int, sent: int, lossless: bool) -> None:
    down = translate.status_code_to_v211(code)

    assert (down.value, down.lossless) == (sent, lossless)


def test_authorization_request_references_lose_connector_ids_going_up() -> None:
    references = v211.LocationReferences(
        location_id="LOC1", evse_uids=["3256"], connector_ids=["1"]
    )

    up = translate.location_references_to_v221(references)
    down = translate.location_references_to_v211(up.value)

    assert up.value.to_json() == {"location_id": "LOC1", "evse_uids": ["3256"]}
    assert paths(up.lost) == ["connector_ids"]
    assert down.lossless
    assert down.value.to_json() == {"location_id": "LOC1", "evse_uids": ["3256"]}
