"""The dashboard server's pure parts, without a browser: station classes and aggregation,
message rates and traces, SSE framing, tariffs in words, the Europe outlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dashboard import flow, sse
from dashboard.config import DashboardConfig, MemberLink
from dashboard.geography import europe, outlines
from dashboard.stations import (
    Station,
    apply_busy,
    count_classes,
    grid_aggregate,
    member_totals,
    station_class,
    station_from_hit,
)
from dashboard.words import (
    price_in_words,
    restrictions_in_words,
    tariff_elements_in_words,
    tariff_in_words,
)


def _station(key: str, member: int, lat: float, lon: float, *statuses: str) -> Station:
    evses = {f"{key}-{i}": s for i, s in enumerate(statuses)}
    return Station(key, member, lat, lon, key, evses, {})


def test_blocked_and_reserved_count_as_in_use_and_inoperative_as_out_of_order() -> None:
    counts = count_classes(["AVAILABLE", "BLOCKED", "RESERVED", "INOPERATIVE", "PLANNED"])
    assert counts == (1, 2, 1, 1)
    assert station_class(counts) == "charging"
    assert station_class((0, 0, 2, 0)) == "out_of_order"
    assert station_class((3, 0, 1, 0)) == "available"


def test_an_evse_missing_from_the_busy_poll_is_available_again() -> None:
    stations = {"NL/FNC/A": _station("NL/FNC/A", 0, 52, 5, "AVAILABLE", "OUTOFORDER")}
    changed = apply_busy(stations, {"NL/FNC/A": {"NL/FNC/A-0": "CHARGING"}})
    assert [s.key for s in changed] == ["NL/FNC/A"]
    assert stations["NL/FNC/A"].evse_status == {"NL/FNC/A-0": "CHARGING", "NL/FNC/A-1": "AVAILABLE"}
    assert apply_busy(stations, {"NL/FNC/A": {"NL/FNC/A-0": "CHARGING"}}) == []


def test_stations_are_counted_per_member_and_binned_per_grid_cell() -> None:
    stations = [
        _station("a", 0, 52.1, 5.1, "AVAILABLE"),
        _station("b", 1, 52.2, 5.2, "CHARGING", "OUTOFORDER"),
        _station("c", 1, 48.1, 11.5, "AVAILABLE"),
        _station("d", -1, 48.2, 11.6, "UNKNOWN"),
    ]
    totals = member_totals(stations, 2)
    assert totals[0]["stations"] == 1 and totals[1]["stations"] == 2
    assert totals[1]["out_of_order"] == 1 and totals[1]["charging"] == 1
    cells = grid_aggregate(stations, 1.0, 2)
    assert [(c.stations, c.per_member) for c in cells] == [(2, (0, 1)), (2, (1, 1))]
    assert cells[1].counts == (1, 1, 1, 0)
    with pytest.raises(ValueError, match="positive"):
        grid_aggregate(stations, 0, 2)


def test_a_map_hit_becomes_a_station_of_its_member() -> None:
    hit = {
        "country_code": "FR",
        "party_id": "ELC",
        "id": "L1",
        "name": "Lyon",
        "coordinates": {"latitude": "45.75", "longitude": "4.85"},
        "evses": [{"uid": "E1", "status": "CHARGING"}],
    }
    station = station_from_hit(hit, {"FR/ELC": 1})
    assert station.compact() == ["FR/ELC/L1", 45.75, 4.85, 1, [0, 1, 0, 0]]
    assert station_from_hit(hit, {}).member == -1


def _message(
    at: datetime, hop: str, module: str, sender: str, to: str, rid: str, **extra: Any
) -> dict[str, Any]:
    return {
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "hop": hop,
        "module": module,
        "from": sender,
        "to": to,
        "request_id": rid,
        "correlation_id": extra.pop("correlation_id", "c1"),
        "ocpi_status": extra.pop("ocpi_status", 1000),
        "method": "POST",
        "path": "/x",
        **extra,
    }


NOW = datetime(2025, 3, 4, 9, 0, 10, tzinfo=UTC)
MEMBERS = {"NL/FNC": "Fastned", "NL/FNA": "Fastned", "FR/ELC": "Electra", "FR/ELA": "Electra"}


def test_rates_count_routed_hops_by_module_and_member_pair_naming_the_real_sender() -> None:
    log = flow.MessageLog()
    rows = [
        _message(NOW - timedelta(seconds=3), "inbound", "locations", "FR/ELC", "EU/HUB", "in1"),
        _message(
            NOW - timedelta(seconds=3),
            "outbound",
            "locations",
            "EU/HUB",
            "NL/FNA",
            "o1",
            parent_request_id="in1",
        ),
        _message(
            NOW - timedelta(seconds=2),
            "outbound",
            "commands",
            "NL/FNA",
            "FR/ELC",
            "o2",
            ocpi_status=2001,
        ),
        _message(NOW - timedelta(seconds=30), "outbound", "commands", "NL/FNA", "FR/ELC", "o3"),
    ]
    assert len(log.add(rows)) == 4
    assert log.add(rows) == []  # overlapping polls add nothing twice
    rates = flow.rates(log, MEMBERS, NOW)
    assert rates["per_second"] == 0.2 and rates["errors_per_second"] == 0.1
    assert {r["module"]: r["per_second"] for r in rates["by_module"]} == {
        "locations": 0.1,
        "commands": 0.1,
    }
    assert {(r["from"], r["to"]) for r in rates["by_pair"]} == {
        ("Electra", "Fastned"),
        ("Fastned", "Electra"),
    }
    assert sum(rates["series"]) == 3


def test_the_log_search_filters_and_a_trace_orders_hops_with_offsets() -> None:
    log = flow.MessageLog()
    log.add(
        [
            _message(NOW, "inbound", "commands", "NL/FNA", "FR/ELC", "i", latency_ms=9.0),
            _message(
                NOW + timedelta(milliseconds=1),
                "outbound",
                "commands",
                "NL/FNA",
                "FR/ELC",
                "o",
                latency_ms=7.0,
            ),
            _message(
                NOW,
                "outbound",
                "locations",
                "EU/HUB",
                "NL/FNA",
                "x",
                correlation_id="c2",
                ocpi_status=3000,
            ),
        ]
    )
    found = flow.search(log, MEMBERS, flow.Search(member="electra", module="commands"))
    assert [m["hop"] for m in found] == ["outbound", "inbound"]
    assert [m["module"] for m in flow.search(log, MEMBERS, flow.Search(status="error"))] == [
        "locations"
    ]
    assert flow.search(log, MEMBERS, flow.Search(text="c2"))[0]["ocpi_status"] == 3000
    # A line is stamped when its answer is back: the inbound (9 ms) started at -9 ms, the
    # outbound (7 ms, stamped at +1 ms) at -6 ms.
    trace = flow.trace([m.raw for m in log.messages()][:2], MEMBERS)
    assert [(h["hop"], h["offset_ms"]) for h in trace["hops"]] == [
        ("inbound", 0.0),
        ("outbound", 3.0),
    ]
    assert trace["total_ms"] == 10.0 and trace["hops"][0]["from_member"] == "Fastned"


def test_a_session_trace_labels_each_message_and_keeps_its_bodies() -> None:
    def line(at_ms: int, module: str, method: str, path: str, **extra: Any) -> dict[str, Any]:
        return {
            **_message(
                NOW + timedelta(milliseconds=at_ms), "outbound", module, "NL/FNA", "FR/ELC", path
            ),
            "method": method,
            "path": path,
            **extra,
        }

    rows = [
        line(
            0,
            "commands",
            "POST",
            "http://cpo/ocpi/cpo/2.2.1/commands/START_SESSION",
            authorization_reference="R1",
            request_body='{"authorization_reference":"R1"}',
            response_body='{"data":{"result":"ACCEPTED"}}',
        ),
        line(
            5,
            "commands",
            "POST",
            "http://emsp/ocpi/emsp/2.2.1/commands/START_SESSION/u1",
            authorization_reference="R1",
            session_id="S1",
        ),
        line(9, "sessions", "PUT", "http://emsp/ocpi/2.2.1/sessions/FR/ELC/S1", session_id="S1"),
        line(20, "cdrs", "POST", "http://emsp/ocpi/2.2.1/cdrs", session_id="S1"),
        line(30, "locations", "PUT", "http://emsp/ocpi/2.2.1/locations/FR/ELC/L1"),
    ]
    hops = flow.trace(rows, MEMBERS)["hops"]
    assert [h["label"] for h in hops] == [
        "START_SESSION",
        "CommandResult of START_SESSION",
        "Session PUT",
        "CDR POST",
        "locations PUT",
    ]
    assert [h["session"] for h in hops] == ["R1", "S1", "S1", "S1", None]
    assert hops[0]["request_body"] == '{"authorization_reference":"R1"}'
    assert hops[0]["response_body"] == '{"data":{"result":"ACCEPTED"}}'
    log = flow.MessageLog()
    log.add(rows)
    assert [r["path"] for r in flow.session_lines(log, "S1")] == [r["path"] for r in rows[1:4]]


def test_an_sse_event_is_framed_with_one_data_line_per_line() -> None:
    assert sse.frame("flow", {"a": 1}, "7") == b'event: flow\nid: 7\ndata: {"a":1}\n\n'
    assert sse.frame("note", "one\ntwo") == b"event: note\ndata: one\ndata: two\n\n"
    assert sse.retry(1000) == b"retry: 1000\n\n"
    with pytest.raises(ValueError, match="line break"):
        sse.frame("a\nb", {})


def test_a_tariff_and_a_price_are_put_in_words() -> None:
    quote = {
        "tariff_id": "DC-AT",
        "currency": "EUR",
        "price": {"excl_vat": 17.7, "incl_vat": 21.24},
        "items": [
            {
                "label": "Start fee",
                "dimension": "FLAT",
                "unit_price": 1.5,
                "unit": None,
                "vat": 20.0,
            },
            {
                "label": "Energy",
                "dimension": "ENERGY",
                "unit_price": 0.54,
                "unit": "kWh",
                "vat": 20.0,
            },
            {
                "label": "Parking time",
                "dimension": "PARKING_TIME",
                "unit_price": 0.125,
                "unit": "h",
                "vat": 20.0,
            },
        ],
        "free": False,
    }
    assert tariff_in_words(quote) == (
        "Start fee 1.50 EUR (VAT 20 %); Energy 0.54 EUR per kWh (VAT 20 %); "
        "Parking time 0.125 EUR per hour (VAT 20 %)"
    )
    assert price_in_words(quote, 30, 30) == "30 kWh in 30 min: 21.24 EUR (17.70 EUR excl. VAT)"
    free = {"tariff_id": None, "free": True, "price": {"excl_vat": 0, "incl_vat": 0}}
    assert tariff_in_words(free) == "free of charge"
    assert price_in_words(free, 10, 5) == "10 kWh in 5 min: free"


def test_topojson_arcs_are_decoded_and_only_european_polygons_kept() -> None:
    topology = {
        "type": "Topology",
        "transform": {"scale": [1, 1], "translate": [0, 40]},
        "arcs": [[[0, 0], [10, 0], [0, 10], [-10, 0], [0, -10]], [[100, 0], [1, 0], [0, 1]]],
        "objects": {
            "countries": {
                "type": "GeometryCollection",
                "geometries": [
                    {"type": "Polygon", "arcs": [[0]], "properties": {"name": "Here"}},
                    {"type": "Polygon", "arcs": [[~1]], "properties": {"name": "Far"}},
                ],
            }
        },
    }
    countries = outlines(topology)
    assert [c["name"] for c in countries] == ["Here"]
    assert countries[0]["polygons"][0][0] == [[0, 40], [10, 40], [10, 50], [0, 50], [0, 40]]
    shipped = europe()
    assert b'"France"' in shipped and b'"Japan"' not in shipped


def test_members_are_given_as_tuples_or_links_and_a_bad_role_is_refused() -> None:
    config = DashboardConfig(
        "http://hub/", "t", [("A", "cpo", "http://a/"), MemberLink("A", "EMSP", "http://b")]
    )
    assert config.hub_url == "http://hub"
    assert [(m.role, m.url) for m in config.links] == [("CPO", "http://a"), ("EMSP", "http://b")]
    assert config.member_names() == ["A"]
    with pytest.raises(ValueError, match="not CPO or EMSP"):
        DashboardConfig("http://hub", "t", [("A", "NSP", "http://a")])


def _element(*components: tuple[str, float], **restrictions: Any) -> dict[str, Any]:
    return {
        "price_components": [
            {"type": kind, "price": price, "vat": 20, "step_size": 1} for kind, price in components
        ],
        **({"restrictions": restrictions} if restrictions else {}),
    }


def test_a_tariff_in_words_spells_out_every_restriction() -> None:
    """Issue 15: "0.39 EUR/kWh 00:00–10:00, 0.69 EUR/kWh otherwise", "0.10 EUR/min after
    60 min": no element and no restriction may be dropped."""
    tariff = {
        "currency": "EUR",
        "elements": [
            _element(("ENERGY", 0.39), start_time="00:00", end_time="10:00"),
            _element(("ENERGY", 0.69)),
            _element(("TIME", 6.0), min_duration=3600),
            _element(("FLAT", 1.0), day_of_week=["SATURDAY", "SUNDAY"]),
            _element(
                ("PARKING_TIME", 5.0),
                day_of_week=["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
                start_time="08:00",
                end_time="18:00",
            ),
        ],
    }
    assert tariff_elements_in_words(tariff) == (
        "0.39 EUR/kWh 00:00–10:00; 0.69 EUR/kWh otherwise; 0.10 EUR/min after 60 min; "
        "1.00 EUR per session Sat, Sun; 5.00 EUR/h parking 08:00–18:00, Mon–Fri (VAT 20 %)"
    )


@pytest.mark.parametrize(
    ("restrictions", "words"),
    [
        ({"max_duration": 1800}, "for the first 30 min"),
        ({"min_duration": 1800, "max_duration": 3600}, "from 30 min to 60 min"),
        ({"min_kwh": 20}, "after 20 kWh"),
        ({"max_kwh": 50}, "up to 50 kWh"),
        ({"min_power": 50}, "at least 50 kW"),
        ({"max_current": 16}, "below 16 A"),
        (
            {"start_date": "2025-01-01", "end_date": "2025-04-01"},
            "from 2025-01-01 before 2025-04-01",
        ),
        ({"start_time": "18:00"}, "18:00–24:00"),
        ({"day_of_week": ["MONDAY", "WEDNESDAY"]}, "Mon, Wed"),
        ({"reservation": "RESERVATION"}, "while reserved"),
        ({"reservation": "RESERVATION_EXPIRES"}, "when a reservation expires"),
        ({}, ""),
    ],
)
def test_each_tariff_restriction_has_its_words(restrictions: dict[str, Any], words: str) -> None:
    assert restrictions_in_words(restrictions) == words
