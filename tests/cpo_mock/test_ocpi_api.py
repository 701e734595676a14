"""The mock CPO's OCPI interfaces as a new eMSP member sees them: registration, versions,
paginated lists, the Tokens receiver and its answers to bad input (spec status codes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from cpo_mock.app import create_app
from ocpi.client import OcpiClient
from ocpi.headers import encode_authorization
from ocpi.v221 import Location, Role, Session, Tariff, Token, TokenType, WhitelistType
from ocpi.v221.versions import InterfaceRole, ModuleID
from tests.cpo_mock.conftest import CPO, EMSP, Federation, cpo_settings
from tests.cpo_mock.test_sessions import plug, remote_start
from tests.doubles import factories as f

BASE = "http://cpo.test/ocpi/cpo/2.2.1"


def hub_headers(fed: Federation, **extra: str) -> dict[str, str]:
    """What the hub sends when it forwards a request from the eMSP to the CPO."""
    peer = fed.cpo.registration.peer
    assert peer is not None
    headers = {
        "Authorization": encode_authorization(peer.issued_token),
        "OCPI-to-country-code": "DE",
        "OCPI-to-party-id": "CPB",
        "OCPI-from-country-code": "NL",
        "OCPI-from-party-id": "EMA",
    }
    headers.update(extra)
    return headers


async def call(
    fed: Federation, method: str, path: str, body: Any = None, **headers: str
) -> httpx.Response:
    async with fed.network.client() as client:
        return await client.request(
            method, BASE + path, json=body, headers=hub_headers(fed, **headers)
        )


# --- registration and discovery -------------------------------------------------------------
async def test_registration_keeps_tokens_and_publishes_everything(fed: Federation) -> None:
    peer = fed.cpo.registration.peer
    assert peer is not None
    assert peer.hub_party is not None and str(peer.hub_party) == "EU/HUB"
    stored = fed.cpo.store.get_state("peer")
    assert stored is not None and peer.token in stored  # kept across restarts
    # Broadcast on registration: the hub's copies serve GET-all to the eMSP.
    pulled = await fed.emsp.pull(ModuleID.LOCATIONS, Location)
    assert sorted(loc.id for loc in pulled) == ["LOC1", "LOC2"]
    assert [t.id for t in await fed.emsp.pull(ModuleID.TARIFFS, Tariff)] == ["T1"]
    await fed.restart_cpo()
    assert fed.cpo.registration.peer is not None
    assert fed.cpo.registration.peer.token == peer.token  # not registered again


async def test_versions_and_details_list_the_cpo_interfaces(fed: Federation) -> None:
    peer = fed.cpo.registration.peer
    assert peer is not None
    async with fed.network.client() as client:
        auth = {"Authorization": encode_authorization(peer.issued_token)}
        versions = (await client.get("http://cpo.test/ocpi/versions", headers=auth)).json()
        details = (await client.get(versions["data"][0]["url"], headers=auth)).json()
        nobody = await client.get("http://cpo.test/ocpi/versions")
    assert versions["data"][0]["version"] == "2.2.1"
    offered = {(e["identifier"], e["role"]) for e in details["data"]["endpoints"]}
    assert {
        ("locations", "SENDER"),
        ("tariffs", "SENDER"),
        ("sessions", "SENDER"),
        ("cdrs", "SENDER"),
        ("tokens", "RECEIVER"),
        ("commands", "RECEIVER"),
        ("hubclientinfo", "RECEIVER"),
        ("credentials", "SENDER"),
    } <= offered
    assert nobody.status_code == 401


async def test_hub_initiated_handshake_with_token_a(fed: Federation) -> None:
    settings = cpo_settings(
        fed.tmp_path / "second",
        None,
        party_id="CPC",
        base_url="http://cpc.test",
        accept_token_a="cpc-token-a",
        hub=None,
        tariffs=[],
        locations=[],
    )
    app = create_app(settings, http=fed.network.client())
    fed.network.add("cpc.test", app)
    cpo = app.state.cpo
    await cpo.start()
    try:
        async with fed.network.client() as client:
            response = await client.post(
                "http://hub.test/admin/connect",
                json={"versions_url": "http://cpc.test/ocpi/versions", "token": "cpc-token-a"},
                headers={"Authorization": "Bearer admin-secret"},
            )
            assert response.json()["status_code"] == 1000, response.json()
            again = await client.get(
                "http://cpc.test/ocpi/versions",
                headers={"Authorization": encode_authorization("cpc-token-a")},
            )
        assert cpo.registration.peer is not None
        assert again.status_code == 401  # token A is spent
    finally:
        await cpo.stop()


# --- Sender lists ------------------------------------------------------------------------------
async def test_location_list_is_paginated_with_link_and_counts(fed: Federation) -> None:
    first = await call(fed, "GET", "/locations?limit=1")
    assert first.headers["X-Total-Count"] == "2"
    assert first.headers["X-Limit"] == "1"
    assert first.headers["Link"] == f'<{BASE}/locations?offset=1&limit=1>; rel="next"'
    assert first.headers["OCPI-to-party-id"] == "EMA"  # routing headers reversed
    assert first.headers["OCPI-from-party-id"] == "CPB"
    client = fed.emsp.client()
    url = fed.emsp.hub_endpoint(ModuleID.LOCATIONS, InterfaceRole.SENDER)
    everything = await client.get_all(url, Location, to=CPO)  # through the hub, Link rewritten
    assert [loc.id for loc in everything] == ["LOC1", "LOC2"]
    one = await call(fed, "GET", "/locations/LOC1/DC1/1")
    assert one.json()["data"]["standard"] == "IEC_62196_T2_COMBO"
    missing = await call(fed, "GET", "/locations/NOPE")
    assert missing.status_code == 404


async def test_date_filters_follow_status_changes(fed: Federation) -> None:
    await fed.step(60)
    await plug(fed, "DC1")
    since = "2025-03-03T08:00:00.001Z"
    changed = (await call(fed, "GET", f"/locations?date_from={since}")).json()["data"]
    assert [loc["id"] for loc in changed] == ["LOC1"]  # EVSE change bumps the Location
    before = (await call(fed, "GET", f"/locations?date_to={since}")).json()["data"]
    assert [loc["id"] for loc in before] == ["LOC2"]


async def test_sessions_list_needs_date_from_and_shows_only_own_sessions(
    fed: Federation,
) -> None:
    await remote_start(fed, "DC1")
    await plug(fed, "DC1")
    missing = await call(fed, "GET", "/sessions")
    assert missing.json()["status_code"] == 2001
    assert "date_from" in missing.json()["status_message"]
    own = await call(fed, "GET", "/sessions?date_from=2025-01-01T00:00:00Z")
    assert [Session.model_validate(s).id for s in own.json()["data"]] == ["S000001"]
    other = await call(
        fed,
        "GET",
        "/sessions?date_from=2025-01-01T00:00:00Z",
        **{"OCPI-from-country-code": "FR", "OCPI-from-party-id": "ELC"},
    )
    assert other.json()["data"] == []


async def test_charging_preferences_without_the_capability_is_404_2001(fed: Federation) -> None:
    await remote_start(fed, "DC1")
    await plug(fed, "DC1")
    response = await call(
        fed, "PUT", "/sessions/S000001/charging_preferences", {"profile_type": "FAST"}
    )
    assert (response.status_code, response.json()["status_code"]) == (404, 2001)


# --- Tokens receiver and bad input ------------------------------------------------------------
async def test_token_push_patch_and_get(fed: Federation) -> None:
    card = f.token(uid="CARD1", type=TokenType.RFID, whitelist=WhitelistType.ALWAYS)
    created = await call(fed, "PUT", "/tokens/NL/EMA/CARD1?type=RFID", card.to_json())
    assert (created.status_code, created.json()["status_code"]) == (201, 1000)
    again = await call(fed, "PUT", "/tokens/NL/EMA/CARD1?type=RFID", card.to_json())
    assert again.status_code == 200
    patched = await call(
        fed,
        "PATCH",
        "/tokens/NL/EMA/CARD1?type=RFID",
        {"valid": False, "last_updated": "2025-03-03T09:00:00Z"},
    )
    assert patched.json()["status_code"] == 1000
    stored = (await call(fed, "GET", "/tokens/NL/EMA/CARD1?type=RFID")).json()["data"]
    assert stored["valid"] is False
    # Survives a restart.
    await fed.restart_cpo()
    assert fed.cpo.tokens[("NL", "EMA", "CARD1", "RFID")].valid is False


async def test_malformed_token_push_is_2001_naming_the_field(fed: Federation) -> None:
    body = f.token(uid="CARD2", type=TokenType.RFID).to_json()
    del body["issuer"]
    body["whitelist"] = "SOMETIMES"
    response = await call(fed, "PUT", "/tokens/NL/EMA/CARD2?type=RFID", body)
    payload = response.json()
    assert (response.status_code, payload["status_code"]) == (200, 2001)
    assert "issuer" in payload["status_message"]
    assert "whitelist" in payload["status_message"]
    assert not fed.cpo.tokens


async def test_url_party_that_does_not_match_the_body_is_2001(fed: Federation) -> None:
    card = f.token(uid="CARD3", type=TokenType.RFID).to_json()
    response = await call(fed, "PUT", "/tokens/FR/ELC/CARD3?type=RFID", card)
    assert response.json()["status_code"] == 2001
    assert "country_code in the URL is 'FR'" in response.json()["status_message"]
    wrong_uid = await call(fed, "PUT", "/tokens/NL/EMA/OTHER?type=RFID", card)
    assert "token_uid in the URL is 'OTHER'" in wrong_uid.json()["status_message"]
    wrong_type = await call(fed, "PUT", "/tokens/NL/EMA/CARD3?type=APP_USER", card)
    assert "type in the URL is 'APP_USER'" in wrong_type.json()["status_message"]


async def test_patch_without_last_updated_is_2001(fed: Federation) -> None:
    card = f.token(uid="CARD4", type=TokenType.RFID).to_json()
    await call(fed, "PUT", "/tokens/NL/EMA/CARD4?type=RFID", card)
    response = await call(fed, "PATCH", "/tokens/NL/EMA/CARD4?type=RFID", {"valid": False})
    assert response.json()["status_code"] == 2001
    assert "last_updated: required field is missing" in response.json()["status_message"]
    unknown = await call(
        fed,
        "PATCH",
        "/tokens/NL/EMA/NOPE?type=RFID",
        {"valid": False, "last_updated": "2025-03-03T09:00:00Z"},
    )
    assert unknown.status_code == 404


async def test_request_for_another_party_and_unknown_token(fed: Federation) -> None:
    wrong = await call(fed, "GET", "/locations", **{"OCPI-to-party-id": "XYZ"})
    assert wrong.json()["status_code"] == 2001
    async with fed.network.client() as client:
        anonymous = await client.get(BASE + "/locations")
        token_a = await client.get(
            BASE + "/locations", headers={"Authorization": encode_authorization("token-a-x")}
        )
    assert (anonymous.status_code, token_a.status_code) == (401, 401)


async def test_hubclientinfo_is_kept_and_served(fed: Federation) -> None:
    peer = fed.cpo.registration.peer
    assert peer is not None
    async with fed.network.client() as client:
        stored = await client.get(
            "http://cpo.test/ocpi/2.2.1/hubclientinfo/NL/EMA",
            headers={"Authorization": encode_authorization(peer.issued_token)},
        )
    data = stored.json()["data"]
    assert (data["role"], data["status"]) == (Role.EMSP.value, "CONNECTED")
    assert "OCPI-from-party-id" not in stored.headers  # a configuration module: not routed


async def test_removed_evses_are_pushed_and_an_expired_location_leaves_the_list(
    fed: Federation,
) -> None:
    for uid in ("DC1", "AC1", "PLAIN"):
        response = await fed.control("POST", f"/evses/LOC2/{uid}/remove")
        assert response.status_code == 200, response.text
    await fed.settle()
    pushed = [r.body["status"] for r in fed.emsp.received if "/locations/DE/CPB/LOC2/" in r.path]
    assert pushed == ["REMOVED"] * 3
    listed = (await call(fed, "GET", "/locations")).json()["data"]
    assert [loc["id"] for loc in listed] == ["LOC1"]
    again = await fed.control("POST", "/evses/LOC2/DC1/remove")
    assert again.status_code == 409
    assert "REMOVED" in again.json()["error"]


async def test_tokens_pulled_from_a_returning_emsp_do_not_undo_a_newer_push(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An eMSP back from an outage is pulled (its tokens changed since the newest we hold);
    a push that overtook that pull (the token blocked meanwhile) is newer and stays."""
    blocked = f.token("RACE-1", party=EMSP, valid=False, last_updated=f.T0 + timedelta(hours=1))
    assert await fed.cpo.put_token(blocked)
    pulled = [
        f.token("RACE-1", party=EMSP, valid=True, last_updated=f.T0),
        f.token("RACE-2", party=EMSP, last_updated=f.T0),
    ]

    async def get_all(*args: Any, **kwargs: Any) -> list[Token]:
        return pulled

    monkeypatch.setattr(OcpiClient, "get_all", get_all)
    await fed.cpo._pull_tokens(EMSP)

    held = {t.uid: t for t in fed.cpo.tokens.values()}
    assert held["RACE-1"] == blocked and held["RACE-2"] == pulled[1]
