"""A driver's whole journey through the hub, against the real mock CPO: map, quote, start,
live session, stop, CDR, invoice — with invoice = CDR total = quote for what was delivered."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.emsp_mock.conftest import Federation


async def start(fed: Federation, evse_uid: str = "DC1", **extra: Any) -> dict[str, Any]:
    body = {"country_code": "DE", "party_id": "CPB", "location_id": "LOC1", "evse_uid": evse_uid}
    body.update(extra)
    response = await fed.app("POST", "/drivers/alice/start", body)
    assert response.status_code == 200, response.text
    await fed.settle()
    command: dict[str, Any] = (await fed.app("GET", f"/commands/{response.json()['id']}")).json()
    return command


async def test_map_shows_the_cpo_locations_broadcast_through_the_hub(fed: Federation) -> None:
    response = await fed.app("GET", "/map?lat=52.52&lon=13.40&radius_km=5&status=AVAILABLE")
    found = response.json()
    assert response.status_code == 200
    assert [x["id"] for x in found["locations"]] == ["LOC1", "LOC2"]
    assert {e["uid"] for e in found["locations"][0]["evses"]} == {"DC1", "AC1", "PLAIN"}
    fast = (await fed.app("GET", "/map?lat=52.52&lon=13.40&min_power_kw=100")).json()
    assert {e["uid"] for x in fast["locations"] for e in x["evses"]} == {"DC1"}
    far = (await fed.app("GET", "/map?lat=48.85&lon=2.35&radius_km=50")).json()
    assert far["count"] == 0


async def test_quote_start_update_stop_cdr_invoice(fed: Federation) -> None:
    command = await start(fed, connector_id="1")
    assert (command["state"], command["response"], command["result"]) == (
        "ACCEPTED",
        "ACCEPTED",
        "ACCEPTED",
    )
    plugged = await fed.control("POST", "/evses/LOC1/DC1/plug", {"vehicle": {"preset": "sedan"}})
    assert plugged.status_code == 200, plugged.text
    await fed.settle()
    await fed.step(600)
    live = (await fed.app("GET", "/drivers/alice/sessions?active=true")).json()
    assert len(live) == 1
    session = live[0]
    assert session["status"] == "ACTIVE" and session["kwh"] > 0
    assert session["power_kw"] > 0 and Decimal(str(session["cost_so_far"]["excl_vat"])) > 0
    # Live status: DC1 is taken (BLOCKED then CHARGING, both stamped at the same simulated
    # instant), so it no longer shows among the AVAILABLE EVSEs.
    map_now = (await fed.app("GET", "/map?lat=52.52&lon=13.40&status=AVAILABLE")).json()
    assert {e["uid"] for e in map_now["locations"][0]["evses"]} == {"AC1", "PLAIN"}

    stop = await fed.app("POST", "/drivers/alice/stop", {"session_id": session["id"]})
    assert stop.status_code == 200, stop.text
    await fed.settle()
    await fed.step(60)
    assert (await fed.app("GET", f"/commands/{stop.json()['id']}")).json()["result"] == "ACCEPTED"

    invoices = (await fed.app("GET", "/drivers/alice/invoices")).json()
    assert len(invoices) == 1
    invoice = invoices[0]
    cdr = next(iter(fed.emsp.cdrs.values()))
    assert invoice["status"] == "INVOICED", invoice["reason"]
    assert invoice["total"] == cdr.total_cost.to_json()
    assert invoice["expected"] == invoice["total"]
    assert {line["dimension"] for line in invoice["lines"]} >= {"FLAT", "ENERGY"}
    # The quote for the session actually delivered (energy, charging and parking time) is
    # exactly what the driver paid: no fee on top.
    parking = Decimal(cdr.total_parking_time or 0)
    asked = {
        "country_code": "DE",
        "party_id": "CPB",
        "location_id": "LOC1",
        "evse_uid": "DC1",
        "connector_id": "1",
        "energy_kwh": str(cdr.total_energy),
        "charging_minutes": str((Decimal(cdr.total_time) - parking) * 60),
        "parking_minutes": str(parking * 60),
        "start": cdr.start_date_time.isoformat(),
    }
    quoted = (await fed.app("POST", "/quote", asked)).json()
    assert quoted["price"] == invoice["total"] == cdr.total_cost.to_json()
    history = (await fed.app("GET", "/drivers/alice/sessions")).json()
    assert [s["status"] for s in history] == ["COMPLETED"]


async def test_the_same_cdr_twice_gives_one_invoice(fed: Federation) -> None:
    await start(fed)
    await fed.control("POST", "/evses/LOC1/DC1/plug", {"vehicle": {"preset": "sedan"}})
    await fed.step(300)
    await fed.control("POST", "/evses/LOC1/DC1/unplug")
    await fed.step(60)
    assert len(fed.emsp.invoices) == 1
    cdr = next(iter(fed.emsp.cdrs.values()))
    assert not await fed.emsp.receive_cdr(cdr)
    await fed.restart_emsp()  # from the database: still one CDR, one invoice
    assert len(fed.emsp.cdrs) == 1 and len(fed.emsp.invoices) == 1


async def test_a_cdr_without_session_id_is_invoiced_under_its_session(fed: Federation) -> None:
    """2.2.1 makes a CDR's session_id optional (a CPO on 2.1.1 has none to give): the eMSP
    files the invoice under the one session of that CPO, EVSE, token and start."""
    await start(fed)
    await fed.control("POST", "/evses/LOC1/DC1/plug", {"vehicle": {"preset": "sedan"}})
    await fed.step(300)
    await fed.control("POST", "/evses/LOC1/DC1/unplug")
    await fed.step(60)
    cdr = next(iter(fed.emsp.cdrs.values()))
    assert cdr.session_id
    bare = cdr.model_copy(update={"id": cdr.id + "-B", "session_id": None})
    assert await fed.emsp.receive_cdr(bare)
    invoices = (await fed.app("GET", "/drivers/alice/invoices")).json()
    assert [i["session_id"] for i in invoices] == [cdr.session_id, cdr.session_id]


async def test_start_refused_by_the_cpo_is_reported_to_the_driver(fed: Federation) -> None:
    # PLAIN has no REMOTE_START_STOP_CAPABLE: the CPO answers, the driver is told.
    command = await start(fed, evse_uid="PLAIN")
    assert command["state"] not in ("PENDING", "SENDING", "ACCEPTED")
    assert command["message"]


async def test_app_api_refuses_unknown_drivers_and_evses(fed: Federation) -> None:
    body = {"country_code": "DE", "party_id": "CPB", "location_id": "LOC1", "evse_uid": "DC1"}
    response = await fed.app("POST", "/drivers/nobody/start", body)
    assert response.status_code == 404 and "driver nobody" in response.json()["error"]
    response = await fed.app("POST", "/drivers/alice/start", {**body, "evse_uid": "NOPE"})
    assert response.status_code == 404 and "no EVSE NOPE" in response.json()["error"]
    response = await fed.app("GET", "/drivers/alice/sessions/S404")
    assert response.status_code == 404
    response = await fed.app("GET", "/map?lat=91&lon=0")
    assert response.status_code == 400 and "latitude" in response.json()["error"]
    response = await fed.app("POST", "/drivers/alice/start", {"evse_uid": "DC1"})
    assert response.status_code == 400 and "location_id" in response.json()["error"]


async def test_a_reservation_through_the_hub_holds_the_evse_for_the_driver(fed: Federation) -> None:
    body = {
        "country_code": "DE",
        "party_id": "CPB",
        "location_id": "LOC1",
        "evse_uid": "DC1",
        "expiry_date": "2025-03-03T08:30:00Z",
    }
    response = await fed.app("POST", "/drivers/alice/reserve", body)
    assert response.status_code == 200, response.text
    await fed.settle()
    command = (await fed.app("GET", f"/commands/{response.json()['id']}")).json()
    assert (command["command"], command["state"]) == ("RESERVE_NOW", "ACCEPTED")
    evse = (await fed.control("GET", "/evses/LOC1/DC1")).json()
    assert evse["status"] == "RESERVED"
    # The reserving driver's start goes to the reserved EVSE.
    started = await start(fed)
    assert started["state"] == "ACCEPTED"
    response = await fed.app("POST", "/drivers/alice/reserve", {**body, "expiry_date": "soon"})
    assert response.status_code == 400 and "expiry_date" in response.json()["error"]


# --- what the eMSP holds, and a raw OCPI request through the hub (scenario runner) ----------
async def test_the_app_api_lists_the_sessions_and_cdrs_the_emsp_holds(fed: Federation) -> None:
    await start(fed)
    await fed.control("POST", "/evses/LOC1/DC1/plug", {"vehicle": {"preset": "sedan"}})
    await fed.step(300)
    await fed.control("POST", "/evses/LOC1/DC1/unplug")
    await fed.step(60)
    sessions = (await fed.app("GET", "/sessions")).json()
    assert len(sessions) == 1
    session = sessions[0]
    assert (session["country_code"], session["party_id"], session["location_id"]) == (
        "DE",
        "CPB",
        "LOC1",
    )
    assert session["status"] == "COMPLETED" and session["auth_method"] == "COMMAND"
    by_key = (await fed.app("GET", f"/sessions?country_code=DE&id={session['id']}")).json()
    assert [s["id"] for s in by_key] == [session["id"]]
    assert (await fed.app("GET", "/sessions?evse_uid=AC1")).json() == []
    cdrs = (await fed.app("GET", f"/cdrs?session_id={session['id']}")).json()
    assert (
        len(cdrs) == 1
        and cdrs[0]["total_cost"] == next(iter(fed.emsp.cdrs.values())).total_cost.to_json()
    )
    assert (await fed.app("GET", "/cdrs?session_id=S404")).json() == []
    for path in ("/sessions?colour=red", "/cdrs?location_id=LOC1"):
        refused = await fed.app("GET", path)
        assert refused.status_code == 400 and "unknown filter" in refused.json()["error"]


async def test_the_app_api_sends_a_raw_request_through_the_hub(fed: Federation) -> None:
    lost = await fed.app("POST", "/send", {"to": "ZZ/ZZZ", "module": "locations"})
    assert lost.status_code == 200, lost.text
    assert lost.json()["ocpi_status"] == 4001
    found = await fed.app(
        "POST",
        "/send",
        {"to": "DE/CPB", "module": "locations", "interface": "SENDER", "path": "LOC1"},
    )
    assert found.status_code == 200, found.text
    assert (found.json()["ocpi_status"], found.json()["data"]["id"]) == (1000, "LOC1")
    for body, status, problem in (
        ({"to": "ZZ/ZZZ", "module": "teleport"}, 400, "module"),
        ({"to": "ZZ/ZZZ", "module": "tokens", "method": "FETCH"}, 400, "method"),
        ({"module": "tokens"}, 400, "to"),
        ({"to": "Z", "module": "tokens"}, 400, "to: give the receiver"),
        ({"to": "ZZ/ZZZ", "module": "credentials"}, 409, "no credentials RECEIVER"),
    ):
        refused = await fed.app("POST", "/send", body)
        assert refused.status_code == status, (body, refused.text)
        assert problem in refused.json()["error"]
    peer, fed.emsp.registration.peer = fed.emsp.registration.peer, None
    try:
        refused = await fed.app("POST", "/send", {"to": "DE/CPB", "module": "locations"})
    finally:
        fed.emsp.registration.peer = peer
    assert refused.status_code == 503 and "not connected to a hub" in refused.json()["error"]


async def test_all_invoices_include_those_of_a_card_no_driver_holds(fed: Federation) -> None:
    """`GET /app/invoices` lists every invoice, also one whose token is no driver's (only
    there: no driver's list shows it), as the dashboard's CDR/invoice table needs."""
    await start(fed)
    await fed.control("POST", "/evses/LOC1/DC1/plug", {"vehicle": {"preset": "sedan"}})
    await fed.step(300)
    await fed.control("POST", "/evses/LOC1/DC1/unplug")
    await fed.step(60)
    cdr = next(iter(fed.emsp.cdrs.values()))
    card = cdr.cdr_token.model_copy(update={"uid": "CARD-NOBODY"})
    assert await fed.emsp.receive_cdr(cdr.model_copy(update={"id": "CARD1", "cdr_token": card}))
    everything = (await fed.app("GET", "/invoices")).json()
    alices = (await fed.app("GET", "/drivers/alice/invoices")).json()
    assert sorted(i["cdr"]["id"] for i in everything) == sorted([cdr.id, "CARD1"])
    assert [i["cdr"]["id"] for i in alices] == [cdr.id]
    assert next(i for i in everything if i["cdr"]["id"] == "CARD1")["driver_id"] is None
