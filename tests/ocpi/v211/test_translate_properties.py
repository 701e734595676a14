"""Property tests of the 2.1.1 translation over generated 2.2.1 objects.

For every generated object: either it is refused (Untranslatable, with a path and a reason),
or it goes down to 2.1.1 and back up without a refusal, every Loss names a field of the
original, every field that changed is named by a Loss, and a lossless trip comes back equal.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from hypothesis import given
from hypothesis import strategies as st

from ocpi import v221
from ocpi.translate import Translated, Untranslatable
from ocpi.translate import v211 as translate
from tests.ocpi.v211.roundtrip import uncovered, wire
from tests.ocpi.v211.strategies import (
    BUSINESSES,
    DISPLAY_TEXTS,
    IDS,
    INSTANTS,
    SETTINGS,
    TOKENS,
    cdrs,
    locations,
    optional,
    rarely,
    sessions,
    tariffs,
)

S = TypeVar("S", bound=v221.OcpiModel)


# --- the property -------------------------------------------------------------------------
def _resolves(document: Any, path: str) -> bool:
    """Whether a Loss path names something in the original's JSON."""
    for part in path.split(".") if path else []:
        if isinstance(document, dict) and part in document:
            document = document[part]
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return False
    return True


def round_trip(
    original: S,
    down: Callable[[S], Translated[Any]],
    up: Callable[[Any], Translated[S]],
) -> Translated[Any] | None:
    """Check the property; the downward translation, or None when it was refused."""
    try:
        lowered = down(original)
    except Untranslatable as exc:
        refusal: Untranslatable | None = exc
    else:
        refusal = None
    if refusal is not None:
        assert refusal.reason
        return None
    back = up(lowered.value)  # whatever went down must come back up without a refusal

    assert all(_resolves(original.to_json(), loss.path) for loss in lowered.lost), lowered.lost
    assert uncovered(original, back.value, lowered.lost) == []
    if lowered.lossless:
        assert wire(back.value) == wire(original)
    return lowered


@SETTINGS
@given(
    locations(),
    st.dictionaries(
        st.sampled_from(["T1", "T2", "T3"]), st.none() | st.sampled_from(list(v221.TariffType))
    ),
    st.booleans(),
)
def test_location_round_trip_reports_every_change(
    location: v221.Location, tariff_types: dict[str, v221.TariffType | None], know_tariffs: bool
) -> None:
    known = None
    if know_tariffs:
        known = {
            tariff_id: v221.Tariff(
                country_code=location.country_code,
                party_id=location.party_id,
                id=tariff_id,
                currency="EUR",
                type=kind,
                elements=[
                    v221.TariffElement(
                        price_components=[
                            v221.PriceComponent(
                                type=v221.TariffDimensionType.FLAT,
                                price=Decimal(0),
                                step_size=1,
                            )
                        ]
                    )
                ],
                last_updated=location.last_updated,
            )
            for tariff_id, kind in tariff_types.items()
        }
    round_trip(
        location,
        lambda original: translate.location_to_v211(original, tariffs=known),
        lambda lowered: translate.location_to_v221(
            lowered, country_code=location.country_code, party_id=location.party_id
        ),
    )


@SETTINGS
@given(tariffs())
def test_tariff_round_trip_reports_every_change(tariff: v221.Tariff) -> None:
    round_trip(
        tariff,
        translate.tariff_to_v211,
        lambda lowered: translate.tariff_to_v221(
            lowered, country_code=tariff.country_code, party_id=tariff.party_id
        ),
    )


@SETTINGS
@given(TOKENS)
def test_token_round_trip_reports_every_change(token: v221.Token) -> None:
    round_trip(
        token,
        translate.token_to_v211,
        lambda lowered: translate.token_to_v221(
            lowered, country_code=token.country_code, party_id=token.party_id
        ),
    )


@SETTINGS
@given(sessions())
def test_session_round_trip_reports_every_change(drawn: tuple[v221.Session, v221.Location]) -> None:
    session, location = drawn
    round_trip(
        session,
        lambda original: translate.session_to_v211(original, location=location),
        lambda lowered: translate.session_to_v221(
            lowered,
            country_code=session.country_code,
            party_id=session.party_id,
            cdr_token=session.cdr_token,
        ),
    )


@SETTINGS
@given(cdrs())
def test_cdr_round_trip_reports_every_change(drawn: tuple[v221.CDR, v221.Location]) -> None:
    cdr, location = drawn
    round_trip(
        cdr,
        lambda original: translate.cdr_to_v211(original, location=location),
        lambda lowered: translate.cdr_to_v221(
            lowered,
            country_code=cdr.country_code,
            party_id=cdr.party_id,
            cdr_token=cdr.cdr_token,
        ),
    )


CREDENTIALS_ROLES = st.builds(
    v221.CredentialsRole,
    role=st.sampled_from(list(v221.Role)),
    business_details=BUSINESSES,
    party_id=st.sampled_from(["EXA", "HUB"]),
    country_code=st.sampled_from(["NL", "BE"]),
)


@SETTINGS
@given(
    st.lists(
        CREDENTIALS_ROLES,
        min_size=1,
        max_size=3,
        unique_by=lambda r: (r.role, r.country_code, r.party_id),
    )
)
def test_credentials_round_trip_reports_every_change(roles: list[v221.CredentialsRole]) -> None:
    credentials = v221.Credentials(token="abc-123", url="https://example.com/versions", roles=roles)
    round_trip(
        credentials,
        translate.credentials_to_v211,
        lambda lowered: translate.credentials_to_v221(lowered, role=roles[0].role),
    )


@SETTINGS
@given(
    st.builds(
        v221.StartSession,
        response_url=st.just("https://emsp.example.com/commands/START_SESSION/1"),
        token=TOKENS,
        location_id=IDS,
        evse_uid=st.just("3256"),
        connector_id=optional(IDS),
        authorization_reference=rarely(IDS),
    )
)
def test_start_session_round_trip_reports_every_change(command: v221.StartSession) -> None:
    round_trip(
        command,
        translate.start_session_to_v211,
        lambda lowered: translate.start_session_to_v221(
            lowered, country_code=command.token.country_code, party_id=command.token.party_id
        ),
    )


@SETTINGS
@given(
    st.builds(
        v221.ReserveNow,
        response_url=st.just("https://emsp.example.com/commands/RESERVE_NOW/1"),
        token=TOKENS,
        expiry_date=INSTANTS,
        reservation_id=st.integers(-5, 10**12).map(str) | IDS,
        location_id=IDS,
        evse_uid=optional(IDS),
        authorization_reference=rarely(IDS),
    )
)
def test_reserve_now_round_trip_reports_every_change(command: v221.ReserveNow) -> None:
    round_trip(
        command,
        translate.reserve_now_to_v211,
        lambda lowered: translate.reserve_now_to_v221(
            lowered, country_code=command.token.country_code, party_id=command.token.party_id
        ),
    )


@SETTINGS
@given(
    st.builds(
        v221.CommandResult,
        result=st.sampled_from(list(v221.CommandResultType)),
        message=optional(st.lists(DISPLAY_TEXTS, min_size=1, max_size=1)),
    )
)
def test_command_result_round_trip_reports_every_change(result: v221.CommandResult) -> None:
    round_trip(result, translate.command_result_to_v211, translate.command_result_to_v221)
