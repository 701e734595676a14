"""The eMSP's OCPI interfaces as the hub calls them: receiver validation, parent last_updated,
EVSE REMOVED, CDR POST with Location, real-time authorization, command results, token list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from ocpi.headers import PartyRef, RoutingHeaders, encode_authorization
from ocpi.v221 import CommandType, Location, TokenType
from tests.cpo_mock.conftest import CPO, T0, location, tariff
from tests.cpo_mock.test_control_evse import stack_unavailable
from tests.emsp_mock.conftest import EMSP, Federation

BASE = "http://emsp.test/ocpi/emsp/2.2.1"


async def call(fed: Federation, method: str, path: str, body: Any = None) -> httpx.Response:
    """A request as the hub forwards it: the hub's token, routing headers CPO -> eMSP."""
    peer = fed.emsp.registration.peer
    assert peer is not None
    headers = RoutingHeaders(to=EMSP, from_=CPO).to_headers()
    headers["Authorization"] = encode_authorization(peer.issued_token)
    async with fed.network.client() as client:
        return await client.request(method, BASE + path, json=body, headers=headers)


def status(response: httpx.Response) -> int:
    code: int = response.json()["status_code"]
    return code


def stamp(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def test_location_put_with_another_party_in_the_body_is_2001(fed: Federation) -> None:
    body = location("LOC9").to_json()
    response = await call(fed, "PUT", "/locations/DE/XYZ/LOC9", body)
    assert status(response) == 2001 and "party_id" in response.json()["status_message"]
    assert fed.emsp.location("DE", "XYZ", "LOC9") is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/locations/DE/CPB/LOC9"),
        ("PATCH", "/locations/DE/CPB/LOC1/DC1"),
        ("PUT", "/tariffs/DE/CPB/T9"),
        ("PUT", "/sessions/DE/CPB/S9"),
        ("POST", "/cdrs"),
    ],
)
async def test_receivers_check_the_token_and_the_addressee_before_the_body(
    fed: Federation, method: str, path: str
) -> None:
    """The receiving routes are plain routes (ocpi/server/plain.py): the peer's token and
    OCPI-to are checked by explicit guards, before anything is read or stored."""
    body = location("LOC9").to_json()
    async with fed.network.client() as client:
        unknown = await client.request(
            method, BASE + path, json=body, headers={"Authorization": encode_authorization("x")}
        )
    assert unknown.status_code == 401 and "token" in unknown.json()["status_message"]
    peer = fed.emsp.registration.peer
    assert peer is not None
    elsewhere = RoutingHeaders(to=PartyRef("NL", "ZZZ"), from_=CPO).to_headers()
    elsewhere["Authorization"] = encode_authorization(peer.issued_token)
    async with fed.network.client() as client:
        misrouted = await client.request(method, BASE + path, json=body, headers=elsewhere)
    assert status(misrouted) == 2001 and "NL/ZZZ" in misrouted.json()["status_message"]
    assert fed.emsp.location("DE", "CPB", "LOC9") is None


async def patch_dc1(fed: Federation, new_status: str, minutes: int) -> httpx.Response:
    """An EVSE PATCH of LOC1's DC1, answered 1000."""
    body = {"status": new_status, "last_updated": stamp(minutes)}
    patched = await call(fed, "PATCH", "/locations/DE/CPB/LOC1/DC1", body)
    assert status(patched) == 1000
    return patched


async def test_receiving_routes_are_served_ahead_of_the_app_stack(fed: Federation) -> None:
    """What a CPO pushes (PUT/PATCH/POST) skips FastAPI's stack, keeping the request ids and
    the reversed routing headers (front middleware); other requests still go through it."""
    fed.emsp_app.middleware_stack = stack_unavailable
    patched = await patch_dc1(fed, "OUTOFORDER", 5)
    assert patched.headers["ocpi-to-party-id"] == "CPB"
    assert patched.headers["ocpi-from-party-id"] == "EMA"
    assert "x-request-id" in patched.headers
    stored = fed.emsp.location("DE", "CPB", "LOC1")
    assert stored is not None and stored.evses is not None
    assert [e.status.value for e in stored.evses if e.uid == "DC1"] == ["OUTOFORDER"]
    assert (await call(fed, "GET", "/locations/DE/CPB/LOC1")).status_code == 503


async def test_an_evse_patch_is_in_the_database_when_it_is_answered(fed: Federation) -> None:
    """Acknowledged means kept: the location's row holds the PATCH before the 1000."""
    await patch_dc1(fed, "BLOCKED", 7)
    [row] = [r for r in fed.emsp.state.store.load_objects("location") if r.key[2] == "LOC1"]
    held = Location.model_validate_json(row.body)
    assert [e.status.value for e in held.evses or [] if e.uid == "DC1"] == ["BLOCKED"]
    assert row.last_updated == held.last_updated == T0 + timedelta(minutes=7)
    assert row.body == fed.emsp.state.locations.text(row.key)


async def test_patch_without_last_updated_is_2001(fed: Federation) -> None:
    response = await call(fed, "PATCH", "/locations/DE/CPB/LOC1/DC1", {"status": "CHARGING"})
    assert status(response) == 2001 and "last_updated" in response.json()["status_message"]


async def test_evse_patch_updates_the_location_last_updated_and_the_map(fed: Federation) -> None:
    response = await call(
        fed, "PATCH", "/locations/DE/CPB/LOC1/DC1", {"status": "REMOVED", "last_updated": stamp(5)}
    )
    assert status(response) == 1000
    stored = fed.emsp.location("DE", "CPB", "LOC1")
    assert stored is not None and stored.last_updated == T0 + timedelta(minutes=5)
    found = (await fed.app("GET", "/map?lat=52.52&lon=13.40")).json()
    assert {e["uid"] for e in found["locations"][0]["evses"]} == {"AC1", "PLAIN"}
    for uid in ("AC1", "PLAIN"):
        await call(
            fed,
            "PATCH",
            f"/locations/DE/CPB/LOC1/{uid}",
            {"status": "REMOVED", "last_updated": stamp(6)},
        )
    found = (await fed.app("GET", "/map?lat=52.52&lon=13.40")).json()
    assert [x["id"] for x in found["locations"]] == ["LOC2"]  # LOC1 expired
    got = await call(fed, "GET", "/locations/DE/CPB/LOC1/DC1")
    assert got.json()["data"]["status"] == "REMOVED"  # kept, retired


async def test_connector_put_updates_evse_and_location(fed: Federation) -> None:
    connector = location().evses[0].connectors[0]  # type: ignore[index]
    body = {**connector.to_json(), "tariff_ids": ["T2"], "last_updated": stamp(9)}
    assert status(await call(fed, "PUT", "/locations/DE/CPB/LOC1/DC1/1", body)) == 1000
    stored = fed.emsp.location("DE", "CPB", "LOC1")
    assert stored is not None and stored.evses is not None
    dc1 = next(e for e in stored.evses if e.uid == "DC1")
    assert dc1.connectors[0].tariff_ids == ["T2"]
    assert dc1.last_updated == stored.last_updated == T0 + timedelta(minutes=9)
    unknown = await call(fed, "PUT", "/locations/DE/CPB/NOPE/DC1/1", body)
    assert status(unknown) == 2003


async def test_tariff_put_and_delete(fed: Federation) -> None:
    body = {**tariff("T7").to_json()}
    response = await call(fed, "PUT", "/tariffs/DE/CPB/T7", body)
    assert (response.status_code, status(response)) == (201, 1000)
    assert status(await call(fed, "PUT", "/tariffs/DE/CPB/T8", body)) == 2001  # id mismatch
    assert status(await call(fed, "DELETE", "/tariffs/DE/CPB/T7")) == 1000
    assert (await call(fed, "GET", "/tariffs/DE/CPB/T7")).status_code == 404


async def test_cdr_post_answers_with_its_location(fed: Federation) -> None:
    from tests.doubles import factories as f

    cdr = f.cdr().to_json()
    response = await call(fed, "POST", "/cdrs", cdr)
    assert (response.status_code, status(response)) == (201, 1000)
    where = response.headers["Location"]
    assert where.endswith(f"/cdrs/{cdr['country_code']}/{cdr['party_id']}/{cdr['id']}")
    async with fed.network.client() as client:
        peer = fed.emsp.registration.peer
        assert peer is not None
        got = await client.get(
            where,
            headers={
                "Authorization": encode_authorization(peer.issued_token),
                "OCPI-from-country-code": "DE",
                "OCPI-from-party-id": "CPB",
            },
        )
    assert got.json()["data"]["id"] == cdr["id"]
    again = await call(fed, "POST", "/cdrs", cdr)
    assert (again.status_code, again.headers["Location"]) == (200, where)
    assert len(fed.emsp.invoices) == 1


@pytest.mark.parametrize(
    ("uid", "kind", "allowed"),
    [
        ("app-alice", "APP_USER", "ALLOWED"),
        ("04B0B0B0", "RFID", "NO_CREDIT"),
        ("04DEAD00", "RFID", "BLOCKED"),
    ],
)
async def test_authorize_answers_per_token(
    fed: Federation, uid: str, kind: str, allowed: str
) -> None:
    where = {"location_id": "LOC1", "evse_uids": ["DC1"]}
    response = await call(fed, "POST", f"/tokens/{uid}/authorize?type={kind}", where)
    data = response.json()["data"]
    assert data["allowed"] == allowed and data["token"]["uid"] == uid
    assert ("authorization_reference" in data) == (allowed == "ALLOWED")


async def test_authorize_unknown_token_is_404_with_2004(fed: Federation) -> None:
    response = await call(fed, "POST", "/tokens/NOPE/authorize?type=RFID")
    assert (response.status_code, status(response)) == (404, 2004)
    assert "data" not in response.json() or response.json()["data"] is None


async def test_command_result_for_an_unknown_command_is_refused(fed: Federation) -> None:
    response = await call(fed, "POST", "/commands/START_SESSION/nope", {"result": "ACCEPTED"})
    assert response.status_code == 404
    assert "no START_SESSION command nope" in response.json()["status_message"]


async def test_token_list_is_paginated(fed: Federation) -> None:
    first = await call(fed, "GET", "/tokens")
    assert first.headers["X-Total-Count"] == "4" and len(first.json()["data"]) == 2
    assert "offset=2" in first.headers["Link"]


async def test_tokens_were_broadcast_to_the_cpo(fed: Federation) -> None:
    assert {t.uid for t in fed.cpo.tokens.values()} == {
        "app-alice",
        "04A1B2C3",
        "04B0B0B0",
        "04DEAD00",
    }


async def test_rfid_swipe_is_authorized_in_real_time(fed: Federation) -> None:
    response = await fed.control("POST", "/evses/LOC1/AC1/swipe", {"uid": "04B0B0B0"})
    assert response.json()["result"] == "BLOCKED"


async def test_a_command_without_result_times_out(fed: Federation) -> None:
    fed.emsp.settings.command_timeout = 0.05
    # An UNRESPONSIVE charger answers nothing until the CPO's charger_timeout (simulated).
    await fed.control("POST", "/evses/LOC1/DC1/fault", {"kind": "UNRESPONSIVE"})
    body = {"country_code": "DE", "party_id": "CPB", "location_id": "LOC1", "evse_uid": "DC1"}
    sent = (await fed.app("POST", "/drivers/alice/start", body)).json()
    assert sent["state"] == "PENDING"
    command = await fed.emsp.wait_command(sent["id"], within=2.0)
    assert command.state == "TIMEOUT" and command.command is CommandType.START_SESSION
    await fed.step(30)  # the CPO's TIMEOUT result arrives late: recorded, outcome unchanged
    view = (await fed.app("GET", f"/commands/{sent['id']}")).json()
    assert (view["state"], view["late_result"]) == ("TIMEOUT", "TIMEOUT")


async def test_a_credit_cdr_refunds_the_invoice_it_credits(fed: Federation) -> None:
    from tests.doubles import factories as f

    cdr = f.cdr()
    alice = cdr.cdr_token.model_copy(update={"uid": "app-alice", "type": TokenType.APP_USER})
    original = cdr.model_copy(update={"cdr_token": alice})
    await call(fed, "POST", "/cdrs", original.to_json())
    credit = original.to_json() | {
        "id": original.id + "-C",
        "credit": True,
        "credit_reference_id": original.id,
        "total_cost": {k: -v for k, v in original.total_cost.to_json().items()},
    }
    response = await call(fed, "POST", "/cdrs", credit)
    assert (response.status_code, status(response)) == (201, 1000)
    invoices = {i.cdr_key[2]: i for i in fed.emsp.invoices}
    paid, refund = invoices[original.id], invoices[original.id + "-C"]
    assert paid.status == "INVOICED", paid.body["reason"]
    assert (refund.status, refund.body["reason"]) == ("INVOICED", f"refund of CDR {original.id}")
    assert refund.body["total"] == {k: -v for k, v in paid.body["total"].items()}
    assert refund.driver_id == paid.driver_id
