"""Cross-field and format rules of the OCPI 2.2.1 wire models, one rule per test."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ocpi.v221 import (
    CDR,
    ChargingProfilePeriod,
    Credentials,
    Endpoint,
    EVSEPatch,
    Location,
    LocationPatch,
    ModuleID,
    PublishTokenType,
    Session,
    SessionPatch,
    StartSession,
    TokenPatch,
    VersionDetails,
    VersionNumber,
)
from ocpi.v221.patches import partial_model

# --- factories: valid wire objects as JSON-ready dicts -------------------------------------


def credentials_role(role: str = "CPO", country_code: str = "NL", party_id: str = "EXA") -> Any:
    return {
        "role": role,
        "country_code": country_code,
        "party_id": party_id,
        "business_details": {"name": "Example"},
    }


def credentials(*roles: Any, token: str = "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2") -> Any:
    return {
        "token": token,
        "url": "https://example.com/ocpi/versions",
        "roles": list(roles) or [credentials_role()],
    }


def token() -> Any:
    return {
        "country_code": "NL",
        "party_id": "EMA",
        "uid": "app-7f3a",
        "type": "APP_USER",
        "contract_id": "NL-EMA-C12345678-X",
        "issuer": "EMA",
        "valid": True,
        "whitelist": "NEVER",
        "last_updated": "2024-01-01T00:00:00Z",
    }


def start_session(**changes: Any) -> Any:
    body = {
        "response_url": "https://emsp.example.com/ocpi/2.2.1/commands/START_SESSION/42",
        "token": token(),
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def cdr_token() -> Any:
    return {
        "country_code": "NL",
        "party_id": "EMA",
        "uid": "app-7f3a",
        "type": "APP_USER",
        "contract_id": "NL-EMA-C12345678-X",
    }


def charging_period(*dimensions: tuple[str, float]) -> Any:
    return {
        "start_date_time": "2024-01-01T10:00:00Z",
        "dimensions": [{"type": kind, "volume": volume} for kind, volume in dimensions]
        or [{"type": "ENERGY", "volume": 12.5}],
    }


def cdr(**changes: Any) -> Any:
    body = {
        "country_code": "DE",
        "party_id": "CPB",
        "id": "CDR-1001",
        "start_date_time": "2024-01-01T10:00:00Z",
        "end_date_time": "2024-01-01T11:00:00Z",
        "cdr_token": cdr_token(),
        "auth_method": "COMMAND",
        "cdr_location": {
            "id": "LOC1",
            "address": "Main street 1",
            "city": "Berlin",
            "country": "DEU",
            "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
            "evse_uid": "3256",
            "evse_id": "DE*CPB*E3256",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [charging_period()],
        "total_cost": {"excl_vat": 5.0, "incl_vat": 6.05},
        "total_energy": 12.5,
        "total_time": 1.0,
        "last_updated": "2024-01-01T11:05:00Z",
    }
    body.update(changes)
    return body


def session(**changes: Any) -> Any:
    body = {
        "country_code": "DE",
        "party_id": "CPB",
        "id": "S-1001",
        "start_date_time": "2024-01-01T10:00:00Z",
        "kwh": 0,
        "cdr_token": cdr_token(),
        "auth_method": "COMMAND",
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
        "currency": "EUR",
        "status": "ACTIVE",
        "last_updated": "2024-01-01T10:00:00Z",
    }
    body.update(changes)
    return body


def connector() -> Any:
    return {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "last_updated": "2024-01-01T00:00:00Z",
    }


def evse() -> Any:
    return {
        "uid": "3256",
        "status": "AVAILABLE",
        "connectors": [connector()],
        "last_updated": "2024-01-01T00:00:00Z",
    }


def location(**changes: Any) -> Any:
    body = {
        "country_code": "DE",
        "party_id": "CPB",
        "id": "LOC1",
        "publish": True,
        "address": "Main street 1",
        "city": "Berlin",
        "country": "DEU",
        "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
        "evses": [evse()],
        "time_zone": "Europe/Berlin",
        "last_updated": "2024-01-01T00:00:00Z",
    }
    body.update(changes)
    return body


def error_messages(caught: pytest.ExceptionInfo[ValidationError]) -> str:
    return " | ".join(str(error["msg"]) for error in caught.value.errors())


# --- factories are valid --------------------------------------------------------------------


def test_factories_build_valid_objects() -> None:
    Credentials.model_validate(credentials())
    StartSession.model_validate(start_session())
    CDR.model_validate(cdr())
    Session.model_validate(session())
    Location.model_validate(location())


# --- Credentials ----------------------------------------------------------------------------


def test_credentials_reject_a_repeated_role_country_party_triple() -> None:
    body = credentials(credentials_role("CPO", "NL", "EXA"), credentials_role("CPO", "NL", "EXA"))
    with pytest.raises(ValidationError) as caught:
        Credentials.model_validate(body)
    assert "roles[1] repeats role CPO" in error_messages(caught)


def test_credentials_compare_country_code_and_party_id_case_insensitively() -> None:
    body = credentials(credentials_role("CPO", "NL", "EXA"), credentials_role("CPO", "nl", "exa"))
    with pytest.raises(ValidationError, match="must be unique"):
        Credentials.model_validate(body)


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(("EMSP", "NL", "EXA"), id="same-party-other-role"),
        pytest.param(("CPO", "NL", "EXB"), id="white-label-cpo"),
        pytest.param(("CPO", "BE", "EXA"), id="same-party-id-other-country"),
    ],
)
def test_credentials_accept_roles_differing_in_one_part_of_the_triple(
    second: tuple[str, str, str],
) -> None:
    Credentials.model_validate(
        credentials(credentials_role("CPO", "NL", "EXA"), credentials_role(*second))
    )


def test_credentials_need_at_least_one_role() -> None:
    body = credentials()
    body["roles"] = []
    with pytest.raises(ValidationError) as caught:
        Credentials.model_validate(body)
    assert caught.value.errors()[0]["loc"] == ("roles",)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("!", id="lowest-printable-U+0021"),
        pytest.param("~", id="highest-printable-U+007E"),
        pytest.param("a" * 64, id="64-characters"),
        pytest.param("ZXhhbXBsZS10b2tlbg==", id="base64-looking"),
    ],
)
def test_credentials_token_accepts_printable_non_whitespace_ascii(value: str) -> None:
    assert Credentials.model_validate(credentials(token=value)).token == value


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("two words", id="space"),
        pytest.param("tab\there", id="tab"),
        pytest.param("example-token\n", id="trailing-newline"),
        pytest.param("tökén", id="non-ascii"),
        pytest.param("\x7f", id="DEL"),
        pytest.param("a" * 65, id="65-characters"),
    ],
)
def test_credentials_token_rejects_anything_else(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Credentials.model_validate(credentials(token=value))
    assert [error["loc"] for error in caught.value.errors()] == [("token",)]


# --- Versions -------------------------------------------------------------------------------


def test_endpoint_identifier_is_a_module_id_when_it_names_a_standard_module() -> None:
    endpoint = Endpoint.model_validate(
        {"identifier": "locations", "role": "SENDER", "url": "https://x/locations"}
    )
    assert endpoint.identifier is ModuleID.LOCATIONS


def test_endpoint_identifier_keeps_a_custom_module_as_a_string() -> None:
    endpoint = Endpoint.model_validate(
        {"identifier": "nltnm-tokens", "role": "SENDER", "url": "https://x/tokens"}
    )
    assert endpoint.identifier == "nltnm-tokens"
    assert not isinstance(endpoint.identifier, ModuleID)


def test_endpoint_role_must_be_sender_or_receiver() -> None:
    with pytest.raises(ValidationError):
        Endpoint.model_validate({"identifier": "cdrs", "role": "CPO", "url": "https://x/cdrs"})


def test_version_details_need_an_endpoint_and_a_known_version() -> None:
    with pytest.raises(ValidationError):
        VersionDetails.model_validate({"version": "2.2.1", "endpoints": []})
    with pytest.raises(ValidationError):
        VersionDetails.model_validate(
            {
                "version": "2.2.2",
                "endpoints": [{"identifier": "cdrs", "role": "SENDER", "url": "u"}],
            }
        )
    details = VersionDetails.model_validate(
        {"version": "2.2", "endpoints": [{"identifier": "cdrs", "role": "SENDER", "url": "u"}]}
    )
    assert details.version is VersionNumber.V2_2


# --- Commands -------------------------------------------------------------------------------


def test_start_session_with_connector_id_requires_evse_uid() -> None:
    with pytest.raises(ValidationError, match="connector_id is given, so evse_uid is required"):
        StartSession.model_validate(start_session(evse_uid=None))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="evse-and-connector"),
        pytest.param({"connector_id": None}, id="evse-only"),
        pytest.param({"connector_id": None, "evse_uid": None}, id="location-only"),
    ],
)
def test_start_session_without_connector_id_needs_no_evse_uid(changes: dict[str, Any]) -> None:
    StartSession.model_validate(start_session(**changes))


# --- ChargingProfiles -----------------------------------------------------------------------


def test_charging_profile_limit_allows_at_most_one_decimal() -> None:
    assert (
        str(ChargingProfilePeriod.model_validate({"start_period": 0, "limit": 8.1}).limit) == "8.1"
    )
    with pytest.raises(ValidationError):
        ChargingProfilePeriod.model_validate({"start_period": 0, "limit": 8.25})


# --- CDRs -----------------------------------------------------------------------------------


def test_credit_cdr_requires_credit_reference_id() -> None:
    with pytest.raises(ValidationError, match="credit_reference_id is required"):
        CDR.model_validate(cdr(credit=True))
    CDR.model_validate(cdr(credit=True, credit_reference_id="CDR-1000"))


def test_only_a_credit_cdr_may_use_a_37_to_39_character_id() -> None:
    long_id = "C" * 39
    with pytest.raises(ValidationError, match="only for a credit CDR"):
        CDR.model_validate(cdr(id=long_id))
    CDR.model_validate(cdr(id=long_id, credit=True, credit_reference_id="CDR-1000"))
    with pytest.raises(ValidationError):
        CDR.model_validate(cdr(id="C" * 40, credit=True, credit_reference_id="CDR-1000"))


@pytest.mark.parametrize(
    "dimension", ["CURRENT", "ENERGY_EXPORT", "ENERGY_IMPORT", "POWER", "STATE_OF_CHARGE"]
)
def test_cdr_rejects_session_only_dimensions_but_session_accepts_them(dimension: str) -> None:
    periods = [charging_period(("ENERGY", 1.0)), charging_period(("TIME", 0.5), (dimension, 3.0))]
    with pytest.raises(ValidationError, match=f"charging_periods\\[1\\] has dimension {dimension}"):
        CDR.model_validate(cdr(charging_periods=periods))
    Session.model_validate(session(charging_periods=periods))


def test_cdr_needs_at_least_one_charging_period() -> None:
    with pytest.raises(ValidationError):
        CDR.model_validate(cdr(charging_periods=[]))


# --- PublishTokenType (Locations) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({}, "needs at least one of uid, visual_number or group_id", id="empty"),
        pytest.param({"type": "RFID", "issuer": "X"}, "needs at least one", id="no-identifier"),
        pytest.param({"uid": "123"}, "uid is given, so type is required", id="uid-no-type"),
        pytest.param(
            {"visual_number": "12-3"}, "visual_number is given, so issuer is required", id="vn"
        ),
    ],
)
def test_publish_token_type_rules_reject(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PublishTokenType.model_validate(body)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"uid": "123", "type": "RFID"}, id="uid-with-type"),
        pytest.param({"visual_number": "12-3", "issuer": "ANWB"}, id="visual-number-with-issuer"),
        pytest.param({"group_id": "G1"}, id="group-only"),
    ],
)
def test_publish_token_type_rules_accept(body: dict[str, Any]) -> None:
    PublishTokenType.model_validate(body)


# --- PATCH models ---------------------------------------------------------------------------


@pytest.mark.parametrize("patch", [LocationPatch, EVSEPatch, SessionPatch, TokenPatch])
def test_patch_without_last_updated_is_rejected(patch: type[Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        patch.model_validate({})
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [
        (("last_updated",), "missing")
    ]


def test_patch_accepts_a_partial_body_and_reports_only_what_was_sent() -> None:
    patch = SessionPatch.model_validate(
        {"kwh": 15.0, "status": "COMPLETED", "last_updated": "2024-01-01T11:00:00Z"}
    )
    assert set(patch.model_dump(exclude_unset=True)) == {"kwh", "status", "last_updated"}
    assert patch.to_json() == {
        "kwh": 15.0,
        "status": "COMPLETED",
        "last_updated": "2024-01-01T11:00:00Z",
    }


def test_patch_fields_keep_their_constraints() -> None:
    with pytest.raises(ValidationError) as caught:
        LocationPatch.model_validate(
            {"country_code": "DEU", "publish": "yes", "last_updated": "2024-01-01T00:00:00+01:00"}
        )
    assert {e["loc"] for e in caught.value.errors()} == {
        ("country_code",),
        ("publish",),
        ("last_updated",),
    }
    with pytest.raises(ValidationError):
        EVSEPatch.model_validate({"status": "BROKEN", "last_updated": "2024-01-01T00:00:00Z"})
    with pytest.raises(ValidationError):  # `connectors` is a `+` list in EVSE
        EVSEPatch.model_validate({"connectors": [], "last_updated": "2024-01-01T00:00:00Z"})


def test_patch_validates_nested_objects_in_full() -> None:
    broken_evse = evse()
    del broken_evse["connectors"][0]["power_type"]
    with pytest.raises(ValidationError) as caught:
        LocationPatch.model_validate(
            {"evses": [evse(), broken_evse], "last_updated": "2024-01-01T00:00:00Z"}
        )
    assert [e["loc"] for e in caught.value.errors()] == [
        ("evses", 1, "connectors", 0, "power_type")
    ]
    with pytest.raises(ValidationError, match="uid is given, so type is required"):
        LocationPatch.model_validate(
            {"publish_allowed_to": [{"uid": "1"}], "last_updated": "2024-01-01T00:00:00Z"}
        )


def test_patch_may_not_null_a_field_the_full_object_requires() -> None:
    with pytest.raises(ValidationError) as caught:
        TokenPatch.model_validate({"valid": None, "last_updated": "2024-01-01T00:00:00Z"})
    assert [e["loc"] for e in caught.value.errors()] == [("valid",)]
    assert "not sent as null" in error_messages(caught)


def test_patch_may_send_null_for_an_optional_field() -> None:
    patch = SessionPatch.model_validate(
        {"end_date_time": None, "last_updated": "2024-01-01T00:00:00Z"}
    )
    assert patch.model_dump(exclude_unset=True, mode="json") == {
        "end_date_time": None,
        "last_updated": "2024-01-01T00:00:00Z",
    }


def test_partial_model_does_not_copy_the_full_models_validators() -> None:
    cdr_patch = partial_model(CDR, "CDRPatch")
    body = {"credit": True, "id": "C" * 39, "last_updated": "2024-01-01T00:00:00Z"}
    with pytest.raises(ValidationError):
        CDR.model_validate(cdr(**body))
    assert cdr_patch.model_validate(body).model_dump(exclude_unset=True)["credit"] is True


def test_versions_list_offering_an_unknown_newer_version_still_parses() -> None:
    from pydantic import TypeAdapter

    from ocpi.v221.versions import Version, VersionNumber

    versions = TypeAdapter(list[Version]).validate_python(
        [
            {"version": "2.3.0", "url": "https://x/2.3.0"},
            {"version": "2.2.1", "url": "https://x/221"},
        ]
    )
    assert versions[0].version == "2.3.0"
    assert versions[1].version is VersionNumber.V2_2_1
