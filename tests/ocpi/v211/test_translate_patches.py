"""PATCH bodies through the 2.1.1 translation.

The property: translating commutes with patching. For a 2.2.1 object and a PATCH of it,
applying the translated PATCH to the translated object gives the translation of the patched
object; and a PATCH is refused only when the patched object would be refused too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpi import v211, v221
from ocpi.translate import Untranslatable
from ocpi.translate import v211 as translate
from tests.ocpi.v211.factories import (
    NOW,
    cdr_token,
    connector221,
    location221,
    paths,
    session221,
)
from tests.ocpi.v211.roundtrip import wire
from tests.ocpi.v211.strategies import SETTINGS, TOKENS, locations, sessions


def _patch_of(source: v221.OcpiModel, names: list[str], patch_model: type[Any]) -> Any:
    """A PATCH setting `names` to their values in `source` (and last_updated, as 2.2.1 asks)."""
    body = {name: getattr(source, name) for name in [*names, "last_updated"]}
    return patch_model.model_validate(body)


def _apply(model: v221.OcpiModel, patch: v221.OcpiModel) -> Any:
    return model.model_copy(update={name: getattr(patch, name) for name in patch.model_fields_set})


def _down_or_none(translation: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return translation(*args, **kwargs).value
    except Untranslatable:
        return None


LOCATION_FIELDS = [
    name
    for name in v221.Location.model_fields
    if name not in ("country_code", "party_id", "id", "last_updated")
]


@SETTINGS
@given(locations(), locations(), st.sets(st.sampled_from(LOCATION_FIELDS), min_size=1))
def test_location_patch_translation_commutes_with_patching(
    location: v221.Location, other: v221.Location, names: set[str]
) -> None:
    patch = _patch_of(other, sorted(names), v221.LocationPatch)

    before = _down_or_none(translate.location_to_v211, location)
    after = _down_or_none(translate.location_to_v211, _apply(location, patch))
    lowered = _down_or_none(translate.location_patch_to_v211, patch)

    if after is not None:  # what the patched object can carry, the patch can carry
        assert lowered is not None
        if before is not None:
            assert wire(_apply(before, lowered)) == wire(after)


SESSION_FIELDS = [
    name
    for name in v221.Session.model_fields
    if name
    not in (
        "country_code",
        "party_id",
        "id",
        "last_updated",
        "location_id",
        "evse_uid",
        "connector_id",
    )
]


@SETTINGS
@given(sessions(), st.data())
def test_session_patch_translation_commutes_with_patching(
    drawn: tuple[v221.Session, v221.Location], data: st.DataObject
) -> None:
    session, location = drawn
    other, _ = data.draw(sessions())
    names = data.draw(st.sets(st.sampled_from(SESSION_FIELDS), min_size=1))
    patch = _patch_of(other, sorted(names), v221.SessionPatch)

    before = _down_or_none(translate.session_to_v211, session, location=location)
    after = _down_or_none(translate.session_to_v211, _apply(session, patch), location=location)
    lowered = _down_or_none(translate.session_patch_to_v211, patch)

    if after is not None:  # what the patched object can carry, the patch can carry
        assert lowered is not None
        if before is not None:
            assert wire(_apply(before, lowered)) == wire(after)


TOKEN_FIELDS = [
    name
    for name in v221.Token.model_fields
    if name not in ("country_code", "party_id", "uid", "last_updated")
]


@SETTINGS
@given(TOKENS, TOKENS, st.sets(st.sampled_from(TOKEN_FIELDS), min_size=1))
def test_token_patch_translation_commutes_with_patching(
    token: v221.Token, other: v221.Token, names: set[str]
) -> None:
    patch = _patch_of(other, sorted(names), v221.TokenPatch)

    before = translate.token_to_v211(token).value
    after = translate.token_to_v211(_apply(token, patch)).value
    lowered = translate.token_patch_to_v211(patch).value

    assert wire(_apply(before, lowered)) == wire(after)


# --- rules --------------------------------------------------------------------------------
def test_status_patch_goes_down_and_up_with_the_receivers_time() -> None:
    down = translate.evse_patch_to_v211(
        v221.EVSEPatch.model_validate({"status": "CHARGING", "last_updated": NOW})
    )
    received = datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)
    up_without_time = v211.EVSEPatch.model_validate({"status": "CHARGING"})

    up = translate.evse_patch_to_v221(up_without_time, last_updated=received)

    assert down.value.model_dump(exclude_unset=True) == {
        "status": v221.Status.CHARGING,
        "last_updated": NOW,
    }
    assert up.value.model_dump(exclude_unset=True) == {
        "status": v221.Status.CHARGING,
        "last_updated": received,
    }


def test_2_1_1_patch_without_last_updated_needs_the_callers_time() -> None:
    with pytest.raises(Untranslatable) as caught:
        translate.evse_patch_to_v221(v211.EVSEPatch.model_validate({"status": "BLOCKED"}))

    assert caught.value.path == "last_updated"


def test_connector_tariff_patch_renames_and_wraps_the_id() -> None:
    up = translate.connector_patch_to_v221(
        v211.ConnectorPatch.model_validate({"tariff_id": "15"}), last_updated=NOW
    )
    down = translate.connector_patch_to_v211(
        v221.ConnectorPatch.model_validate(
            {"max_voltage": 400, "max_electric_power": 50000, "last_updated": NOW}
        )
    )

    assert up.value.model_dump(exclude_unset=True) == {"tariff_ids": ["15"], "last_updated": NOW}
    assert down.value.model_dump(exclude_unset=True) == {"voltage": 400, "last_updated": NOW}
    assert paths(down.lost) == ["max_electric_power"]


def test_location_patch_unpublishing_is_untranslatable() -> None:
    with pytest.raises(Untranslatable) as caught:
        translate.location_patch_to_v211(
            v221.LocationPatch.model_validate({"publish": False, "last_updated": NOW})
        )

    assert caught.value.path == "publish"


def test_session_patch_of_costs_keeps_excl_vat() -> None:
    down = translate.session_patch_to_v211(
        v221.SessionPatch.model_validate(
            {"total_cost": {"excl_vat": 0.6, "incl_vat": 0.73}, "kwh": 1.2, "last_updated": NOW}
        )
    )

    assert down.value.model_dump(exclude_unset=True) == {
        "total_cost": Decimal("0.6"),
        "kwh": Decimal("1.2"),
        "last_updated": NOW,
    }
    assert paths(down.lost) == ["total_cost.incl_vat"]


def test_session_patch_moving_the_session_needs_the_location_and_all_three_ids() -> None:
    partial = v221.SessionPatch.model_validate({"evse_uid": "3256", "last_updated": NOW})
    whole = v221.SessionPatch.model_validate(
        {"location_id": "LOC1", "evse_uid": "3256", "connector_id": "1", "last_updated": NOW}
    )

    with pytest.raises(Untranslatable) as caught:
        translate.session_patch_to_v211(partial, location=location221())
    down = translate.session_patch_to_v211(whole, location=location221())

    assert caught.value.path == "evse_uid"
    embedded = down.value.model_dump(exclude_unset=True)["location"]
    assert [evse["uid"] for evse in embedded["evses"]] == ["3256"]


def test_2_1_1_session_patch_of_auth_id_needs_the_token() -> None:
    patch = v211.SessionPatch.model_validate({"auth_id": "DE8ACC12E46L89"})

    with pytest.raises(Untranslatable) as caught:
        translate.session_patch_to_v221(patch, last_updated=NOW)
    up = translate.session_patch_to_v221(patch, cdr_token=cdr_token(), last_updated=NOW)

    assert caught.value.path == "auth_id"
    assert up.value.model_dump(exclude_unset=True)["cdr_token"] == cdr_token().model_dump()


def test_2_1_1_session_patch_of_total_cost_goes_up_as_a_price() -> None:
    up = translate.session_patch_to_v221(
        v211.SessionPatch.model_validate({"total_cost": 0.60}), last_updated=NOW
    )

    assert up.value.model_dump(exclude_unset=True)["total_cost"] == {"excl_vat": Decimal("0.6")}


def test_token_patch_goes_down_without_2_2_1_only_fields() -> None:
    down = translate.token_patch_to_v211(
        v221.TokenPatch.model_validate(
            {"valid": False, "contract_id": "NL-X-1", "group_id": "G", "last_updated": NOW}
        )
    )

    assert down.value.model_dump(exclude_unset=True) == {
        "valid": False,
        "auth_id": "NL-X-1",
        "last_updated": NOW,
    }
    assert paths(down.lost) == ["group_id"]


def test_whole_objects_still_translate_as_before() -> None:
    # The field-by-field rules serve whole objects too: a plain Session and Connector come back.
    session = translate.session_to_v211(session221(), location=location221()).value
    up = translate.session_to_v221(
        session, country_code="BE", party_id="BEC", cdr_token=cdr_token()
    )
    connector = translate.connector_to_v221(translate.connector_to_v211(connector221()).value)

    assert up.value == session221()
    assert connector.value == connector221()
