"""Hypothesis strategies for valid OCPI 2.2.1 objects, leaning to values 2.1.1 also has.

Used by the 2.1.1 translation's property tests; every drawn object is a valid 2.2.1 model.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ocpi import v211, v221

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

T = TypeVar("T")

IDS = st.text(alphabet=string.ascii_uppercase + string.digits + "-", min_size=1, max_size=36)
INSTANTS = st.datetimes(
    min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
MONEY = st.decimals(min_value=0, max_value=1000, places=2)
LATITUDES = st.from_regex(r"\A-?[0-9]{1,2}\.[0-9]{5,7}\Z").filter(lambda s: len(s) <= 10)
LONGITUDES = st.from_regex(r"\A-?[0-9]{1,3}\.[0-9]{5,7}\Z").filter(lambda s: len(s) <= 11)
TIMES = st.from_regex(r"\A([01][0-9]|2[0-3]):[0-5][0-9]\Z")
DATES = st.dates(
    min_value=datetime(2015, 1, 1).date(), max_value=datetime(2999, 12, 31).date()
).map(lambda day: day.isoformat())


def text(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=string.ascii_letters + " -éü", min_size=1, max_size=size)


def optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


def rarely(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.one_of(st.none(), st.none(), st.none(), strategy)


def mostly_211(enum: type[StrEnum], known: type[StrEnum]) -> st.SearchStrategy[Any]:
    """Values of a 2.2.1 enum, mostly the ones 2.1.1 also has."""
    shared = [member for member in enum if member.value in {k.value for k in known}]
    return st.sampled_from(shared) | st.sampled_from(list(enum))


def subsets(enum: type[StrEnum]) -> st.SearchStrategy[list[Any] | None]:
    return optional(st.lists(st.sampled_from(list(enum)), unique=True, max_size=4))


DISPLAY_TEXTS = st.builds(v221.DisplayText, language=st.sampled_from(["en", "nl"]), text=text(40))
COORDINATES = st.builds(v221.GeoLocation, latitude=LATITUDES, longitude=LONGITUDES)
IMAGES = st.builds(
    v221.Image,
    url=st.just("https://example.com/img.jpg"),
    category=st.sampled_from(list(v221.ImageCategory)),
    type=st.just("jpeg"),
    width=optional(st.integers(0, 99999)),
)
BUSINESSES = st.builds(v221.BusinessDetails, name=text(100), logo=optional(IMAGES))
PERIODS = st.builds(v221.ExceptionalPeriod, period_begin=INSTANTS, period_end=INSTANTS)
PRICES = st.builds(v221.Price, excl_vat=MONEY, incl_vat=optional(MONEY))
ENERGY_MIXES = st.builds(
    v221.EnergyMix,
    is_green_energy=st.booleans(),
    energy_sources=optional(
        st.lists(
            st.builds(
                v221.EnergySource,
                source=st.sampled_from(list(v221.EnergySourceCategory)),
                percentage=st.decimals(min_value=0, max_value=100, places=1),
            ),
            max_size=3,
        )
    ),
    environ_impact=optional(
        st.lists(
            st.builds(
                v221.EnvironmentalImpact,
                category=st.sampled_from(list(v221.EnvironmentalImpactCategory)),
                amount=MONEY,
            ),
            max_size=2,
        )
    ),
    supplier_name=optional(text(64)),
)


@st.composite
def hours(draw: st.DrawFn) -> v221.Hours:
    always = draw(st.booleans())
    regular = None
    if not always:
        regular = draw(
            optional(
                st.lists(
                    st.builds(
                        v221.RegularHours,
                        weekday=st.integers(1, 7),
                        period_begin=TIMES,
                        period_end=TIMES,
                    ),
                    max_size=3,
                )
            )
        )
    return v221.Hours(
        twentyfourseven=always,
        regular_hours=regular,
        exceptional_openings=draw(optional(st.lists(PERIODS, max_size=2))),
        exceptional_closings=draw(optional(st.lists(PERIODS, max_size=2))),
    )


CONNECTORS = st.builds(
    v221.Connector,
    id=IDS,
    standard=mostly_211(v221.ConnectorType, v211.ConnectorType),
    format=st.sampled_from(list(v221.ConnectorFormat)),
    power_type=mostly_211(v221.PowerType, v211.PowerType),
    max_voltage=st.integers(0, 1000),
    max_amperage=st.integers(0, 500),
    max_electric_power=rarely(st.integers(0, 350000)),
    tariff_ids=optional(st.lists(st.sampled_from(["T1", "T2", "T3"]), unique=True, max_size=3)),
    terms_and_conditions=optional(st.just("https://example.com/terms")),
    last_updated=INSTANTS,
)

EVSES = st.builds(
    v221.EVSE,
    uid=IDS,
    evse_id=optional(st.just("BE*BEC*E041503001")),
    status=st.sampled_from(list(v221.Status)),
    status_schedule=optional(
        st.lists(
            st.builds(
                v221.StatusSchedule,
                period_begin=INSTANTS,
                period_end=optional(INSTANTS),
                status=st.sampled_from(list(v221.Status)),
            ),
            max_size=2,
        )
    ),
    capabilities=optional(
        st.lists(mostly_211(v221.Capability, v211.Capability), unique=True, max_size=3)
    ),
    connectors=st.lists(CONNECTORS, min_size=1, max_size=2, unique_by=lambda c: c.id),
    floor_level=optional(st.just("-1")),
    coordinates=optional(COORDINATES),
    physical_reference=optional(text(16)),
    directions=optional(st.lists(DISPLAY_TEXTS, max_size=2)),
    parking_restrictions=subsets(v221.ParkingRestriction),
    images=optional(st.lists(IMAGES, max_size=1)),
    last_updated=INSTANTS,
)


@st.composite
def locations(draw: st.DrawFn, *, with_evse: bool = False) -> v221.Location:
    publish = draw(st.sampled_from([True, True, True, False]))
    allowed = None
    if draw(st.booleans()):
        allowed = [v221.PublishTokenType(uid="012345678", type=v221.TokenType.RFID)]
    evses = st.lists(EVSES, min_size=1, max_size=2, unique_by=lambda e: e.uid)
    return v221.Location(
        country_code=draw(st.sampled_from(["NL", "BE"])),
        party_id=draw(st.sampled_from(["EXA", "BEC"])),
        id=draw(IDS),
        publish=publish,
        publish_allowed_to=allowed,
        name=draw(optional(text(255))),
        address=draw(text(60)),  # beyond 45 sometimes: too long for 2.1.1
        city=draw(text(45)),
        postal_code=draw(optional(st.from_regex(r"\A[0-9]{4}\Z"))),
        state=draw(rarely(text(20))),
        country="BEL",
        coordinates=draw(COORDINATES),
        related_locations=draw(
            optional(
                st.lists(
                    st.builds(
                        v221.AdditionalGeoLocation,
                        latitude=LATITUDES,
                        longitude=LONGITUDES,
                        name=optional(DISPLAY_TEXTS),
                    ),
                    max_size=2,
                )
            )
        ),
        parking_type=draw(optional(st.sampled_from(list(v221.ParkingType)))),
        evses=draw(evses if with_evse else optional(evses)),
        directions=draw(optional(st.lists(DISPLAY_TEXTS, max_size=2))),
        operator=draw(optional(BUSINESSES)),
        suboperator=draw(optional(BUSINESSES)),
        owner=draw(optional(BUSINESSES)),
        facilities=draw(optional(st.lists(mostly_211(v221.Facility, v211.Facility), unique=True))),
        time_zone="Europe/Brussels",
        opening_times=draw(optional(hours())),
        charging_when_closed=draw(optional(st.booleans())),
        images=draw(optional(st.lists(IMAGES, max_size=1))),
        energy_mix=draw(optional(ENERGY_MIXES)),
        last_updated=draw(INSTANTS),
    )


RESTRICTIONS = st.builds(
    v221.TariffRestrictions,
    start_time=optional(TIMES),
    end_time=optional(TIMES),
    start_date=optional(DATES),
    end_date=optional(DATES),
    min_kwh=optional(MONEY),
    max_kwh=optional(MONEY),
    min_current=rarely(MONEY),
    max_current=rarely(MONEY),
    min_power=optional(MONEY),
    max_power=optional(MONEY),
    min_duration=optional(st.integers(0, 86400)),
    max_duration=optional(st.integers(0, 86400)),
    day_of_week=subsets(v221.DayOfWeek),
    reservation=rarely(st.sampled_from(list(v221.ReservationRestrictionType))),
)


@st.composite
def tariffs(
    draw: st.DrawFn, *, country_code: str | None = None, party_id: str | None = None
) -> v221.Tariff:
    component = st.builds(
        v221.PriceComponent,
        type=st.sampled_from(list(v221.TariffDimensionType)),
        price=MONEY,
        vat=optional(st.decimals(min_value=0, max_value=25, places=1)),
        step_size=st.integers(0, 3600),
    )
    element = st.builds(
        v221.TariffElement,
        price_components=st.lists(component, min_size=1, max_size=3),
        restrictions=optional(RESTRICTIONS),
    )
    return v221.Tariff(
        country_code=country_code or draw(st.sampled_from(["NL", "BE"])),
        party_id=party_id or draw(st.sampled_from(["EXA", "BEC"])),
        id=draw(IDS),
        currency="EUR",
        type=draw(optional(st.sampled_from(list(v221.TariffType)))),
        tariff_alt_text=draw(optional(st.lists(DISPLAY_TEXTS, max_size=2))),
        tariff_alt_url=draw(optional(st.just("https://example.com/tariffs/1"))),
        min_price=draw(rarely(PRICES)),
        max_price=draw(rarely(PRICES)),
        elements=draw(st.lists(element, min_size=1, max_size=3)),
        start_date_time=draw(rarely(INSTANTS)),
        end_date_time=draw(rarely(INSTANTS)),
        energy_mix=draw(optional(ENERGY_MIXES)),
        last_updated=draw(INSTANTS),
    )


TOKENS = st.builds(
    v221.Token,
    country_code=st.sampled_from(["NL", "DE"]),
    party_id=st.sampled_from(["TNM", "EMA"]),
    uid=IDS,
    type=st.sampled_from(list(v221.TokenType)),
    contract_id=IDS,
    visual_number=optional(text(64)),
    issuer=text(64),
    group_id=rarely(IDS),
    valid=st.booleans(),
    whitelist=st.sampled_from(list(v221.WhitelistType)),
    language=optional(st.just("nl")),
    default_profile_type=rarely(st.sampled_from(list(v221.ProfileType))),
    energy_contract=rarely(st.builds(v221.EnergyContract, supplier_name=text(64))),
    last_updated=INSTANTS,
)

CDR_TOKENS = st.builds(
    v221.CdrToken,
    country_code=st.just("DE"),
    party_id=st.just("TNM"),
    uid=IDS,
    type=st.sampled_from(list(v221.TokenType)),
    contract_id=IDS,
)


def periods(*, for_cdr: bool) -> st.SearchStrategy[v221.ChargingPeriod]:
    kinds = [
        kind
        for kind in v221.CdrDimensionType
        if not (for_cdr and kind in v221.cdrs.SESSION_ONLY_DIMENSIONS)
    ]
    dimension = st.builds(
        v221.CdrDimension,
        type=mostly_211(v221.CdrDimensionType, v211.CdrDimensionType).filter(
            lambda kind: kind in kinds
        ),
        volume=MONEY,
    )
    return st.builds(
        v221.ChargingPeriod,
        start_date_time=INSTANTS,
        dimensions=st.lists(dimension, min_size=1, max_size=3),
        tariff_id=optional(IDS),
    )


@st.composite
def sessions(draw: st.DrawFn) -> tuple[v221.Session, v221.Location]:
    location = draw(locations(with_evse=True))
    assert location.evses is not None
    evse = draw(st.sampled_from(location.evses))
    connector = draw(st.sampled_from(evse.connectors))
    session = v221.Session(
        country_code=location.country_code,
        party_id=location.party_id,
        id=draw(IDS),
        start_date_time=draw(INSTANTS),
        end_date_time=draw(optional(INSTANTS)),
        kwh=draw(MONEY),
        cdr_token=draw(CDR_TOKENS),
        auth_method=draw(st.sampled_from(list(v221.AuthMethod))),
        authorization_reference=draw(rarely(IDS)),
        location_id=location.id,
        evse_uid=evse.uid,
        connector_id=connector.id,
        meter_id=draw(optional(text(20))),
        currency="EUR",
        charging_periods=draw(optional(st.lists(periods(for_cdr=False), max_size=3))),
        total_cost=draw(optional(PRICES)),
        status=draw(st.sampled_from(list(v221.SessionStatus))),
        last_updated=draw(INSTANTS),
    )
    return session, location


@st.composite
def cdrs(draw: st.DrawFn) -> tuple[v221.CDR, v221.Location]:
    location = draw(locations(with_evse=True))
    assert location.evses is not None
    evse = draw(st.sampled_from(location.evses))
    connector = draw(st.sampled_from(evse.connectors))
    snapshot = v221.CdrLocation(
        id=location.id,
        name=draw(optional(text(60))),
        address=draw(text(50)),
        city=location.city,
        postal_code=location.postal_code,
        state=draw(rarely(text(20))),
        country=location.country,
        coordinates=location.coordinates,
        evse_uid=evse.uid,
        evse_id=evse.evse_id or "BE*BEC*E0001",
        connector_id=connector.id,
        connector_standard=connector.standard,
        connector_format=connector.format,
        connector_power_type=connector.power_type,
    )
    credit = draw(rarely(st.booleans()))
    same_owner = tariffs(country_code=location.country_code, party_id=location.party_id)
    cdr = v221.CDR(
        country_code=location.country_code,
        party_id=location.party_id,
        id=draw(IDS),
        start_date_time=draw(INSTANTS),
        end_date_time=draw(INSTANTS),
        session_id=draw(rarely(IDS)),
        cdr_token=draw(CDR_TOKENS),
        auth_method=draw(st.sampled_from(list(v221.AuthMethod))),
        authorization_reference=draw(rarely(IDS)),
        cdr_location=snapshot,
        meter_id=draw(optional(text(20))),
        currency="EUR",
        tariffs=draw(optional(st.lists(same_owner | tariffs(), max_size=2))),
        charging_periods=draw(st.lists(periods(for_cdr=True), min_size=1, max_size=3)),
        signed_data=draw(
            rarely(
                st.builds(
                    v221.SignedData,
                    encoding_method=st.just("OCMF"),
                    signed_values=st.just(
                        [v221.SignedValue(nature="Start", plain_data="p", signed_data="s")]
                    ),
                )
            )
        ),
        total_cost=draw(PRICES),
        total_fixed_cost=draw(rarely(PRICES)),
        total_energy=draw(MONEY),
        total_energy_cost=draw(rarely(PRICES)),
        total_time=draw(MONEY),
        total_time_cost=draw(rarely(PRICES)),
        total_parking_time=draw(optional(MONEY)),
        total_parking_cost=draw(rarely(PRICES)),
        total_reservation_cost=draw(rarely(PRICES)),
        remark=draw(optional(text(100))),
        invoice_reference_id=draw(rarely(IDS)),
        credit=credit,
        credit_reference_id=draw(IDS) if credit else None,
        home_charging_compensation=draw(rarely(st.booleans())),
        last_updated=draw(INSTANTS),
    )
    return cdr, location
