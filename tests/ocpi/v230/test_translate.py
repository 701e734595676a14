"""Translation 2.2.1 <-> 2.3.0 (ocpi.translate.v230): spec examples, properties, and each rule.

The oracle for the spec's examples is the spec itself: the 2.2.1 example translated up equals
its 2.3.0 namesake, and the other way down, wherever 2.3.0 only changed the encoding.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, reject, settings

from ocpi import v221, v230
from ocpi.translate import Loss, Translated, Untranslatable
from ocpi.translate import v230 as translate
from tests.ocpi.test_examples import _load, _normalise, _validate
from tests.ocpi.v230.strategies import objects

V230_EXAMPLES = Path(__file__).parent / "examples"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Up = Callable[[Any], Translated[Any]]
Down = Callable[[Any], Translated[Any]]

PAIRS: dict[str, tuple[type[Any], type[Any], Up, Down]] = {
    "Price": (v221.Price, v230.Price, translate.price_to_v230, translate.price_to_v221),
    "Location": (
        v221.Location,
        v230.Location,
        translate.location_to_v230,
        translate.location_to_v221,
    ),
    "Tariff": (v221.Tariff, v230.Tariff, translate.tariff_to_v230, translate.tariff_to_v221),
    "Token": (v221.Token, v230.Token, translate.token_to_v230, translate.token_to_v221),
    "AuthorizationInfo": (
        v221.AuthorizationInfo,
        v230.AuthorizationInfo,
        translate.authorization_info_to_v230,
        translate.authorization_info_to_v221,
    ),
    "Session": (v221.Session, v230.Session, translate.session_to_v230, translate.session_to_v221),
    "CDR": (v221.CDR, v230.CDR, translate.cdr_to_v230, translate.cdr_to_v221),
    "StartSession": (
        v221.StartSession,
        v230.StartSession,
        translate.start_session_to_v230,
        translate.start_session_to_v221,
    ),
    "ReserveNow": (
        v221.ReserveNow,
        v230.ReserveNow,
        translate.reserve_now_to_v230,
        translate.reserve_now_to_v221,
    ),
    "Credentials": (
        v221.Credentials,
        v230.Credentials,
        translate.credentials_to_v230,
        translate.credentials_to_v221,
    ),
    "ClientInfo": (
        v221.ClientInfo,
        v230.ClientInfo,
        translate.client_info_to_v230,
        translate.client_info_to_v221,
    ),
    **{
        name: (
            getattr(v221, name),
            getattr(v230, name),
            getattr(translate, f"{snake}_to_v230"),
            getattr(translate, f"{snake}_to_v221"),
        )
        for name, snake in [
            ("LocationPatch", "location_patch"),
            ("EVSEPatch", "evse_patch"),
            ("ConnectorPatch", "connector_patch"),
            ("SessionPatch", "session_patch"),
            ("TokenPatch", "token_patch"),
        ]
    },
}


def _wire(model: v221.OcpiModel) -> Any:
    return _normalise(model.to_json())


def _paths(result: Translated[Any]) -> list[str]:
    return [loss.path for loss in result.lost]


# --- the spec's examples ----------------------------------------------------------------
SAME_BUT_ENCODING = [
    *(
        (f"{name}.json", v221.Tariff, v230.Tariff, "Tariff")
        for name in [
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
    ),
    ("session_example_1_simple_start.json", v221.Session, v230.Session, "Session"),
    ("session_example_2_short_finished.json", v221.Session, v230.Session, "Session"),
    *(
        (f"{name}.json", v221.Location, v230.Location, "Location")
        for name in [
            "location_example_uc2_destination_charger",
            "location_example_uc3_destination_charger_not_published",
            "location_example_uc4_limited_visibility",
            "location_example_uc5_home_charge_point",
        ]
    ),
    *(
        (f"{name}.json", v221.Token, v230.Token, "Token")
        for name in ["token_example_1_app_user", "token_example_2_full_rfid", "token_put_example"]
    ),
    *(
        (f"credentials_example{n}.json", v221.Credentials, v230.Credentials, "Credentials")
        for n in ["", "2", "3", "4"]
    ),
]


@pytest.mark.parametrize(
    ("name", "old", "new", "pair"), SAME_BUT_ENCODING, ids=[row[0] for row in SAME_BUT_ENCODING]
)
def test_spec_example_translates_up_to_its_2_3_0_namesake(
    examples_dir: Path, name: str, old: type[Any], new: type[Any], pair: str
) -> None:
    up = PAIRS[pair][2](_validate(old, _load(examples_dir, name)))

    assert up.lossless
    assert _wire(up.value) == _normalise(_load(V230_EXAMPLES, name, exact=True))


@pytest.mark.parametrize(
    ("name", "old", "new", "pair"), SAME_BUT_ENCODING, ids=[row[0] for row in SAME_BUT_ENCODING]
)
def test_2_3_0_spec_example_translates_down_to_its_2_2_1_namesake(
    examples_dir: Path, name: str, old: type[Any], new: type[Any], pair: str
) -> None:
    down = PAIRS[pair][3](_validate(new, _load(V230_EXAMPLES, name)))

    assert down.lossless
    assert _wire(down.value) == _normalise(_load(examples_dir, name, exact=True))


@pytest.mark.parametrize(
    ("name", "old", "pair"),
    [
        ("cdr_example.json", v221.CDR, "CDR"),
        ("location_example.json", v221.Location, "Location"),
        ("location_example_parking_garage_opening_hours.json", v221.Location, "Location"),
    ],
)
def test_2_2_1_example_goes_up_and_back_unchanged(
    examples_dir: Path, name: str, old: type[Any], pair: str
) -> None:
    original = _validate(old, _load(examples_dir, name))

    up = PAIRS[pair][2](original)
    down = PAIRS[pair][3](up.value)

    assert up.lossless and down.lossless
    assert down.value == original


def test_north_american_exclusive_tariff_goes_down_as_is() -> None:
    tariff = _validate(
        v230.Tariff, _load(V230_EXAMPLES, "tariff_19_simple_north_american_exclusive.json")
    )

    down = translate.tariff_to_v221(tariff)

    assert down.lossless
    assert down.value.elements[0].price_components[0].price == Decimal(2)


def test_north_american_inclusive_tariff_is_untranslatable() -> None:
    tariff = _validate(
        v230.Tariff, _load(V230_EXAMPLES, "tariff_20_simple_north_american_inclusive.json")
    )

    with pytest.raises(Untranslatable) as refused:
        translate.tariff_to_v221(tariff)

    assert refused.value.path == "tax_included"
    assert "excl. VAT" in refused.value.reason


# --- properties -------------------------------------------------------------------------
def _no_hub(value: Any) -> bool:
    if isinstance(value, v221.Credentials):
        return all(role.role != v221.Role.HUB for role in value.roles)
    if isinstance(value, v221.ClientInfo):
        return value.role != v221.Role.HUB
    return True


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_every_2_2_1_object_goes_up_and_back_unchanged_and_lossless(pair: str) -> None:
    old, _new, up, down = PAIRS[pair]

    @SETTINGS
    @given(objects(old))
    def check(original: Any) -> None:
        assume(_no_hub(original))
        there = up(original)
        back = down(there.value)
        assert there.lossless, there.lost
        assert back.lossless, back.lost
        assert back.value == original

    check()


REFUSALS = {
    ("Tariff", "tax_included"),
    ("CDR", "cdr_location.connector_standard"),
    ("ConnectorPatch", "standard"),
    ("EVSEPatch", "connectors"),
}


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_every_2_3_0_object_down_and_up_is_unchanged_unless_a_loss_was_noted(pair: str) -> None:
    _old, new, up, down = PAIRS[pair]

    @SETTINGS
    @given(objects(new))
    def check(original: Any) -> None:
        refusal: tuple[str, str] | None = None
        try:
            there = down(original)
        except Untranslatable as refused:
            refusal = (pair, refused.path)
        # Only the documented refusals (docs/versions.md), each at its own path.
        if refusal is not None:
            assert refusal in REFUSALS, refusal
            reject()
        back = up(there.value)
        assert back.lossless
        if there.lossless:
            assert _wire(back.value) == _wire(original)

    check()


# --- rules, one by one ------------------------------------------------------------------
def _tariff(**changes: Any) -> v230.Tariff:
    body = {
        "country_code": "CA",
        "party_id": "FLO",
        "id": "12",
        "currency": "CAD",
        "elements": [{"price_components": [{"type": "TIME", "price": 2, "step_size": 1}]}],
        "tax_included": "NO",
        "last_updated": "2024-12-05T18:30:14Z",
    }
    return v230.Tariff.model_validate(body | changes)


def test_price_with_several_taxes_goes_down_summed_and_noted() -> None:
    price = v230.Price.model_validate(
        {
            "before_taxes": Decimal("10.00"),
            "taxes": [
                {"name": "GST", "percentage": Decimal(5), "amount": Decimal("0.50")},
                {"name": "QST", "percentage": Decimal("9.975"), "amount": Decimal("0.9975")},
            ],
        }
    )

    down = translate.price_to_v221(price)

    assert down.value == v221.Price(excl_vat=Decimal(10), incl_vat=Decimal("11.4975"))
    assert _paths(down) == ["taxes"]


def test_price_with_one_plain_vat_goes_down_without_loss() -> None:
    price = v230.Price.model_validate(
        {"before_taxes": Decimal(4), "taxes": [{"name": "VAT", "amount": Decimal("0.40")}]}
    )

    down = translate.price_to_v221(price)

    assert down.lossless
    assert down.value == v221.Price(excl_vat=Decimal(4), incl_vat=Decimal("4.40"))


def test_price_without_incl_vat_goes_up_without_taxes() -> None:
    up = translate.price_to_v230(v221.Price(excl_vat=Decimal("2.5")))
    assert up.value == v230.Price(before_taxes=Decimal("2.5"))


def test_tariff_with_taxes_included_is_untranslatable_at_tax_included() -> None:
    with pytest.raises(Untranslatable) as refused:
        translate.tariff_to_v221(_tariff(tax_included="YES"))
    assert refused.value.path == "tax_included"


def test_tariff_with_no_taxes_applicable_goes_down_with_a_note() -> None:
    down = translate.tariff_to_v221(_tariff(tax_included="N/A"))
    assert _paths(down) == ["tax_included"]
    assert down.value.elements == _tariff().elements


def test_tariff_preauthorize_amount_is_lost_going_down() -> None:
    down = translate.tariff_to_v221(_tariff(preauthorize_amount=Decimal(50)))
    assert _paths(down) == ["preauthorize_amount"]


def test_tariff_goes_up_with_tax_included_no_and_price_limits() -> None:
    old = v221.Tariff.model_validate(
        _tariff().to_json()
        | {"min_price": {"excl_vat": 1, "incl_vat": 1.2}, "max_price": {"excl_vat": 9}}
    )

    up = translate.tariff_to_v230(old).value

    assert up.tax_included is v230.TaxIncluded.NO
    assert up.min_price == v230.PriceLimit(before_taxes=Decimal(1), after_taxes=Decimal("1.2"))
    assert up.max_price == v230.PriceLimit(before_taxes=Decimal(9))


def _connector(connector_id: str, standard: str, **changes: Any) -> Any:
    return {
        "id": connector_id,
        "standard": standard,
        "format": "CABLE",
        "power_type": "DC",
        "max_voltage": 1000,
        "max_amperage": 3000,
        "last_updated": "2024-01-01T00:00:00Z",
    } | changes


def _location(**changes: Any) -> v230.Location:
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
    return v230.Location.model_validate(body | changes)


def _evse(uid: str, *connectors: Any, **changes: Any) -> Any:
    return {
        "uid": uid,
        "status": "AVAILABLE",
        "connectors": list(connectors),
        "last_updated": "2024-01-01T00:00:00Z",
    } | changes


def test_location_going_down_drops_what_2_2_1_lacks_and_names_each_path() -> None:
    location = _location(
        help_phone="+31301234567",
        parking_places=[
            {
                "id": "P1",
                "vehicle_types": ["TRUCK_WITH_TRAILER"],
                "restricted_to_type": True,
                "reservation_required": False,
            }
        ],
        facilities=["CAFE", "EV_LOUNGE"],
        evses=[
            _evse(
                "E1",
                _connector("1", "IEC_62196_T2_COMBO", capabilities=["ISO_15118_2_PLUG_AND_CHARGE"]),
                _connector("2", "MCS"),
                parking=[{"parking_id": "P1", "evse_position": "LEFT"}],
                parking_restrictions=["EV_ONLY", "TAXIS"],
                accepted_service_providers=["Example eMSP"],
            ),
            _evse("E2", _connector("1", "SAE_J3400")),
        ],
    )

    down = translate.location_to_v221(location)

    assert sorted(_paths(down)) == sorted(
        [
            "parking_places",
            "help_phone",
            "facilities.1",
            "evses.0.parking_restrictions.1",
            "evses.0.parking",
            "evses.0.accepted_service_providers",
            "evses.0.connectors.0.capabilities",
            "evses.0.connectors.1",
            "evses.1.connectors.0",
            "evses.1",
        ]
    )
    assert down.value.facilities == [v221.Facility.CAFE]
    assert down.value.evses is not None
    assert [evse.uid for evse in down.value.evses] == ["E1"]
    assert [c.id for c in down.value.evses[0].connectors] == ["1"]
    assert down.value.evses[0].parking_restrictions == [v221.ParkingRestriction.EV_ONLY]


def test_image_with_an_unknown_category_is_left_out_going_down() -> None:
    image = {"url": "https://x.example/a.png", "category": "DRONE_VIEW", "type": "png"}
    location = _location(images=[image], operator={"name": "Op", "logo": image})

    down = translate.location_to_v221(location)

    assert sorted(_paths(down)) == ["images.0", "operator.logo"]
    assert down.value.operator == v221.BusinessDetails(name="Op")


def _token(**changes: Any) -> v230.Token:
    body = {
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
    return v230.Token.model_validate(body | changes)


def test_emaid_token_goes_down_as_other_with_a_note() -> None:
    down = translate.token_to_v221(_token())
    assert down.value.type is v221.TokenType.OTHER
    assert down.lost == (Loss("type", down.lost[0].reason),)
    assert "EMAID" in down.lost[0].reason


def test_start_session_carries_the_token_rule() -> None:
    command = v230.StartSession(
        response_url="https://emsp.example/cmd/1", token=_token(), location_id="LOC1"
    )
    down = translate.start_session_to_v221(command)
    assert _paths(down) == ["token.type"]
    assert down.value.token.type is v221.TokenType.OTHER


def _cdr(examples_dir: Path, **location: Any) -> v230.CDR:
    old = _validate(v221.CDR, _load(examples_dir, "cdr_example.json"))
    new = translate.cdr_to_v230(old).value
    return new.model_copy(update={"cdr_location": new.cdr_location.model_copy(update=location)})


def test_cdr_with_a_connector_standard_2_2_1_lacks_is_untranslatable(examples_dir: Path) -> None:
    with pytest.raises(Untranslatable) as refused:
        translate.cdr_to_v221(_cdr(examples_dir, connector_standard=v230.ConnectorType.MCS))
    assert refused.value.path == "cdr_location.connector_standard"


def test_cdr_keeps_its_costs_but_drops_a_tariff_whose_prices_include_taxes(
    examples_dir: Path,
) -> None:
    cdr = _cdr(examples_dir)
    assert cdr.tariffs is not None
    cdr = cdr.model_copy(
        update={
            "tariffs": [cdr.tariffs[0].model_copy(update={"tax_included": v230.TaxIncluded.YES})]
        }
    )

    down = translate.cdr_to_v221(cdr)

    assert _paths(down) == ["tariffs.0"]
    assert down.value.tariffs == []
    assert down.value.total_cost == v221.Price(excl_vat=Decimal(4), incl_vat=Decimal("4.4"))


def _role(role: str, country_code: str, party_id: str) -> dict[str, Any]:
    return {
        "role": role,
        "country_code": country_code,
        "party_id": party_id,
        "business_details": {"name": f"{country_code}{party_id}"},
    }


def _credentials(*roles: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "token": "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2",
        "url": "https://hub.example/ocpi/versions",
        "roles": list(roles),
    } | changes


def test_hub_credentials_go_up_as_hub_party_id_with_the_reachable_parties() -> None:
    hub = v221.Credentials.model_validate(_credentials(_role("HUB", "NL", "HUB")))
    reachable = [
        v230.CredentialsRole.model_validate(_role("CPO", "DE", "CPB")),
        v230.CredentialsRole.model_validate(_role("EMSP", "NL", "EMA")),
        v230.CredentialsRole.model_validate(_role("EMSP", "nl", "ema")),  # same party, once
    ]

    up = translate.credentials_to_v230(hub, reachable)

    assert up.value.hub_party_id == "NLHUB"
    assert [(r.role, r.country_code, r.party_id) for r in up.value.roles] == [
        (v230.Role.CPO, "DE", "CPB"),
        (v230.Role.EMSP, "NL", "EMA"),
    ]
    assert _paths(up) == ["roles.0"]


def test_hub_credentials_without_reachable_parties_are_untranslatable() -> None:
    hub = v221.Credentials.model_validate(_credentials(_role("HUB", "NL", "HUB")))
    with pytest.raises(Untranslatable, match="reachable"):
        translate.credentials_to_v230(hub)


def test_credentials_with_two_hub_roles_are_untranslatable() -> None:
    hubs = v221.Credentials.model_validate(
        _credentials(_role("HUB", "NL", "HUB"), _role("HUB", "DE", "HUB"))
    )
    with pytest.raises(Untranslatable, match="more than one HUB"):
        translate.credentials_to_v230(
            hubs, [v230.CredentialsRole.model_validate(_role("CPO", "DE", "CPB"))]
        )


def test_hub_party_id_is_lost_going_down_and_the_roles_are_kept() -> None:
    new = v230.Credentials.model_validate(
        _credentials(_role("CPO", "DE", "CPB"), hub_party_id="NLHUB")
    )

    down = translate.credentials_to_v221(new)

    assert _paths(down) == ["hub_party_id"]
    assert [(r.role, r.party_id) for r in down.value.roles] == [(v221.Role.CPO, "CPB")]


def test_client_info_of_a_hub_is_untranslatable_up() -> None:
    info = v221.ClientInfo.model_validate(
        {
            "party_id": "HUB",
            "country_code": "DE",
            "role": "HUB",
            "status": "CONNECTED",
            "last_updated": "2024-01-01T00:00:00Z",
        }
    )
    with pytest.raises(Untranslatable) as refused:
        translate.client_info_to_v230(info)
    assert refused.value.path == "role"


# --- PATCH bodies -----------------------------------------------------------------------
def test_spec_patch_examples_translate_to_their_2_3_0_namesakes(examples_dir: Path) -> None:
    for name in [
        "session_patch_example_charging_period.json",
        "session_patch_example_total_cost.json",
    ]:
        up = translate.session_patch_to_v230(
            _validate(v221.SessionPatch, _load(examples_dir, name))
        )
        assert up.lossless
        assert _wire(up.value) == _normalise(_load(V230_EXAMPLES, name, exact=True))


def test_evse_status_patch_goes_down_while_its_new_fields_are_noted() -> None:
    patch = v230.EVSEPatch.model_validate(
        {
            "status": "CHARGING",
            "parking_restrictions": ["TENANTS"],
            "accepted_service_providers": ["Example eMSP"],
            "last_updated": "2024-01-01T00:00:00Z",
        }
    )

    down = translate.evse_patch_to_v221(patch)

    assert sorted(_paths(down)) == ["accepted_service_providers", "parking_restrictions.0"]
    assert down.value.model_dump(exclude_unset=True) == {
        "status": v221.Status.CHARGING,
        "parking_restrictions": [],
        "last_updated": patch.model_dump()["last_updated"],
    }


def test_connector_patch_to_a_standard_2_2_1_lacks_is_untranslatable() -> None:
    patch = v230.ConnectorPatch.model_validate(
        {"standard": "SAE_J3400", "last_updated": "2024-01-01T00:00:00Z"}
    )
    with pytest.raises(Untranslatable) as refused:
        translate.connector_patch_to_v221(patch)
    assert refused.value.path == "standard"


def test_evse_patch_whose_connectors_2_2_1_all_lacks_is_untranslatable() -> None:
    patch = v230.EVSEPatch.model_validate(
        {"connectors": [_connector("1", "MCS")], "last_updated": "2024-01-01T00:00:00Z"}
    )
    with pytest.raises(Untranslatable) as refused:
        translate.evse_patch_to_v221(patch)
    assert refused.value.path == "connectors"
