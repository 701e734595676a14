"""The network generator (alliance-sized, real cities, deterministic) and the config file."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from cpo_mock.network import (
    ALLIANCE_COUNTRIES,
    MEMBER_STATIONS,
    Network,
    european_cities,
    generate_network,
)
from cpo_mock.settings import ConfigError, load_config
from ocpi.pricing import compile_tariff
from ocpi.v221 import ConnectorType, PowerType

EMI3 = re.compile(r"^[A-Z]{2}\*[A-Z0-9]{3}\*E[A-Z0-9*]{1,30}$")


@pytest.fixture(scope="module")
def member() -> Network:
    return generate_network("DE", "CPB", "Spark", seed=7)


def test_a_member_network_has_the_alliance_share(member: Network) -> None:
    assert len(member.locations) == MEMBER_STATIONS == 425
    evses = member.evse_count
    assert 5.5 <= evses / len(member.locations) <= 7.5  # 11,000 / 1,700 = 6.5 per station
    countries = {location.country for location in member.locations}
    assert len(countries) == len(ALLIANCE_COUNTRIES) == 25


def test_stations_sit_near_real_cities(member: Network) -> None:
    cities = {
        (c.name[:45], c.time_zone) for c in european_cities(tuple(sorted(ALLIANCE_COUNTRIES)))
    }
    for location in member.locations:
        assert (location.city, location.time_zone) in cities
    biggest = sorted(
        european_cities(tuple(sorted(ALLIANCE_COUNTRIES))), key=lambda c: -c.population
    )
    big_names = {city.name for city in biggest[:10]}
    # Weighted by population: the ten biggest cities (of some 6,000) get far more than 10/6000.
    assert sum(1 for loc in member.locations if loc.city in big_names) >= 10
    berlin = next(loc for loc in member.locations if loc.city == "Berlin")
    assert abs(float(berlin.coordinates.latitude) - 52.52) < 0.3
    assert berlin.country == "DEU"


def test_hpc_brand_power_levels_connectors_and_ids(member: Network) -> None:
    connectors = [c for loc in member.locations for e in loc.evses or [] for c in e.connectors]
    ccs = [c for c in connectors if c.standard is ConnectorType.IEC_62196_T2_COMBO]
    assert ccs and all(c.power_type is PowerType.DC for c in ccs)
    assert {c.max_electric_power for c in ccs} <= {300000, 350000, 400000}
    ids = [e.evse_id for loc in member.locations for e in loc.evses or []]
    assert all(i is not None and EMI3.match(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert all(i is not None and i.startswith("DE*CPB*E") for i in ids)


def test_urban_brand_mixes_ac_and_chademo() -> None:
    network = generate_network("NL", "FST", "Urban", stations=120, seed=3, profile="urban")
    standards = Counter(
        c.standard for loc in network.locations for e in loc.evses or [] for c in e.connectors
    )
    assert standards[ConnectorType.IEC_62196_T2] > 0  # 22 kW AC
    assert standards[ConnectorType.CHADEMO] > 0
    ac = [
        c
        for loc in network.locations
        for e in loc.evses or []
        for c in e.connectors
        if c.power_type is PowerType.AC_3_PHASE
    ]
    assert {c.max_electric_power for c in ac} == {22080}
    shop = [
        loc
        for loc in network.locations
        if loc.opening_times and not loc.opening_times.twentyfourseven
    ]
    assert shop and all(loc.charging_when_closed is False for loc in shop)
    assert all(len(loc.opening_times.regular_hours or []) == 6 for loc in shop if loc.opening_times)


def test_tariffs_are_priceable_in_local_currency_and_vat(member: Network) -> None:
    by_id = {t.id: t for t in member.tariffs}
    for tariff in member.tariffs:
        compile_tariff(tariff)
    assert by_id["DC-DE"].currency == "EUR"
    assert by_id["DC-DE"].elements[0].price_components[0].vat == Decimal(19)
    assert by_id["DC-SE"].currency == "SEK"
    used = {
        t
        for loc in member.locations
        for e in loc.evses or []
        for c in e.connectors
        for t in c.tariff_ids or []
    }
    assert used == set(by_id)


def test_same_seed_same_network_other_seed_other_network(tmp_path: Path) -> None:
    one = generate_network("DE", "CPB", "Spark", stations=40, seed=11)
    two = generate_network("DE", "CPB", "Spark", stations=40, seed=11)
    three = generate_network("DE", "CPB", "Spark", stations=40, seed=12)
    assert one.to_json() == two.to_json()
    assert one.to_json() != three.to_json()
    path = tmp_path / "network.json"
    one.write(path)
    assert Network.read(path).to_json() == one.to_json()


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        generate_network("DE", "CPB", "X", stations=1, profile="rocket")


def test_config_file_is_read_and_paths_are_relative_to_it(tmp_path: Path) -> None:
    config = tmp_path / "cpo.toml"
    config.write_text(
        """
[cpo]
country_code = "de"
party_id = "cpb"
name = "Spark"
database_url = "sqlite:///state/cpo.db"

[hub]
versions_url = "http://127.0.0.1:8080/ocpi/versions"
token_a = "abc"

[clock]
mode = "accelerated"
speed = 120

[network]
file = "network.json"
""",
        encoding="utf-8",
    )
    settings = load_config(config)
    assert (settings.country_code, settings.party_id) == ("DE", "CPB")
    assert settings.network.file == tmp_path / "network.json"
    assert settings.database_url == f"sqlite:///{tmp_path / 'state' / 'cpo.db'}"
    assert settings.clock.speed == 120


def test_config_errors_name_the_file_and_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[cpo]\nparty_id = "TOOLONG"\n[clock]\nmode = "warp"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml: party_id.*clock\.mode"):
        load_config(config)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "missing.toml")
