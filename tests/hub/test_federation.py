"""The hub between two members it did not write (tests/doubles), all in one event loop.

Each test holds one rule of docs/hub.md: handshake, broadcast, direct and open routing,
callback and pagination rewriting, hub errors, HubClientInfo, tracing, settlement, restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.clientinfo import still_alive_round
from ocpi.errors import (
    ConnectionProblem,
    ForwardTimeout,
    HubError,
    InvalidParameters,
    NotFound,
    UnknownLocation,
    UnknownReceiver,
)
from ocpi.headers import PartyRef, encode_authorization
from ocpi.v221 import ConnectionStatus, Location, Role, Status, TokenType
from ocpi.v221.versions import InterfaceRole, ModuleID
from tests.doubles import factories as f
from tests.doubles.member import Member, MemberConfig
from tests.hub.conftest import invite
from tests.hub.federation import Federation, federation, start_hub

CPO, EMSP = f.CPO, f.EMSP


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[Federation]:
    async with federation(tmp_path) as started:
        yield started


def _routing(request: Any) -> tuple[str | None, ...]:
    return tuple(
        request.header(name)
        for name in (
            "OCPI-to-country-code",
            "OCPI-to-party-id",
            "OCPI-from-country-code",
            "OCPI-from-party-id",
        )
    )


# --- onboarding ---------------------------------------------------------------------------
async def test_handshake_registers_both_and_hub_lists_only_the_hub_role(fed: Federation) -> None:
    assert fed.cpo.peer is not None
    assert [(r.role, r.country_code, r.party_id) for r in fed.cpo.peer.roles] == [
        (Role.HUB, "EU", "HUB")
    ]
    # The hub fetched the member's versions and details with the member's token B.
    fetched = fed.cpo.find_received("GET", "/ocpi/versions")
    assert fetched
    assert fetched[0].token == fed.cpo.issued_token
    parties = await fed.admin("parties")
    assert {(p["role"], p["party_id"], p["status"]) for p in parties} == {
        ("CPO", "CPB", "CONNECTED"),
        ("EMSP", "EMA", "CONNECTED"),
    }


async def test_token_a_is_dead_after_registration(fed: Federation, tmp_path: Path) -> None:
    token_a = invite(fed.hub)
    late = Member(
        MemberConfig(Role.EMSP, PartyRef("IT", "ATL"), base_url="http://late.test"),
        http=fed.network.client(),
    )
    fed.network.add("late.test", late.app)
    await late.register("http://hub.test/ocpi/versions", token_a)
    async with fed.network.client() as client:
        again = await client.get(
            "http://hub.test/ocpi/versions",
            headers={"Authorization": encode_authorization(token_a)},
        )
    assert again.status_code == 401
    await late.close()


async def test_refused_configuration_requests_are_logged(fed: Federation) -> None:
    async with fed.network.client() as client:
        await client.get(
            "http://hub.test/ocpi/versions",
            headers={"Authorization": encode_authorization("wrong"), "X-Request-ID": "r-401"},
        )
    rows = await fed.admin("messages", module="versions")
    [refused] = [row for row in rows if row["request_id"] == "r-401"]
    assert (refused["http_status"], refused["ocpi_status"]) == (401, 2000)
    assert "not known" in refused["note"]


async def test_token_a_may_not_use_functional_modules(fed: Federation) -> None:
    async with fed.network.client() as client:
        response = await client.get(
            "http://hub.test/ocpi/2.2.1/sender/locations",
            headers={"Authorization": encode_authorization(invite(fed.hub))},
        )
    assert response.status_code == 401
    assert "token A" in response.json()["status_message"]


async def test_second_post_is_405_and_put_rotates_the_token(fed: Federation) -> None:
    assert fed.cpo.peer is not None
    old_c = fed.cpo.peer.token
    async with fed.network.client() as client:
        again = await client.post(
            "http://hub.test/ocpi/2.2.1/credentials",
            json=fed.cpo.own_credentials("another-b").to_json(),
            headers={"Authorization": encode_authorization(old_c)},
        )
    assert again.status_code == 405
    fetches_before = len(fed.cpo.find_received("GET", "/ocpi/2.2.1"))
    await fed.cpo.update_credentials()
    assert fed.cpo.peer.token != old_c
    assert len(fed.cpo.find_received("GET", "/ocpi/2.2.1")) > fetches_before  # refetched
    async with fed.network.client() as client:
        stale = await client.get(
            "http://hub.test/ocpi/2.2.1/credentials",
            headers={"Authorization": encode_authorization(old_c)},
        )
        fresh = await client.get(
            "http://hub.test/ocpi/2.2.1/credentials",
            headers={"Authorization": encode_authorization(fed.cpo.peer.token)},
        )
    assert stale.status_code == 401
    assert fresh.json()["data"]["token"] == fed.cpo.peer.token


async def test_put_and_delete_without_registration_are_405(fed: Federation) -> None:
    token_a = invite(fed.hub)
    async with fed.network.client() as client:
        for method in ("PUT", "DELETE"):
            response = await client.request(
                method,
                "http://hub.test/ocpi/2.2.1/credentials",
                json=fed.cpo.own_credentials("x-token").to_json() if method == "PUT" else None,
                headers={"Authorization": encode_authorization(token_a)},
            )
            assert response.status_code == 405, method


async def test_registration_fails_with_3001_when_member_versions_are_unreachable(
    fed: Federation,
) -> None:
    async with fed.network.client() as client:
        response = await client.post(
            "http://hub.test/ocpi/2.2.1/credentials",
            json={
                "token": "some-token-b",
                "url": "http://nowhere.test/ocpi/versions",
                "roles": [
                    {
                        "role": "CPO",
                        "country_code": "FR",
                        "party_id": "ELC",
                        "business_details": {"name": "Electra"},
                    }
                ],
            },
            headers={"Authorization": encode_authorization(invite(fed.hub))},
        )
    body = response.json()
    assert body["status_code"] == 3001
    assert "nowhere.test" in body["status_message"]


async def test_invitation_limited_to_a_party_refuses_others(fed: Federation) -> None:
    other = Member(
        MemberConfig(Role.CPO, PartyRef("FR", "ELC"), base_url="http://elc.test"),
        http=fed.network.client(),
    )
    fed.network.add("elc.test", other.app)
    with pytest.raises(InvalidParameters, match="allows only CPO IT/ATL"):
        await other.register(
            "http://hub.test/ocpi/versions", invite(fed.hub, (Role.CPO, PartyRef("IT", "ATL")))
        )
    await other.close()


async def test_hub_initiated_handshake(fed: Federation) -> None:
    member = Member(
        MemberConfig(Role.EMSP, PartyRef("FR", "ELC"), base_url="http://elc.test"),
        http=fed.network.client(),
    )
    fed.network.add("elc.test", member.app)
    member.accept_token_a("member-token-a")
    async with fed.network.client() as client:
        response = await client.post(
            "http://hub.test/admin/connect",
            json={"versions_url": "http://elc.test/ocpi/versions", "token": "member-token-a"},
            headers={"Authorization": "Bearer admin-secret"},
        )
    assert response.json()["status_code"] == 1000, response.json()
    await fed.settle()
    assert member.is_registered
    assert (EMSP.country_code, EMSP.party_id) in set(member.client_info)
    await member.close()


# --- HubClientInfo --------------------------------------------------------------------------
async def test_client_info_is_pushed_both_ways_on_connect(fed: Federation) -> None:
    assert fed.cpo.client_info[("NL", "EMA")].status == ConnectionStatus.CONNECTED
    assert fed.emsp.client_info[("DE", "CPB")].status == ConnectionStatus.CONNECTED
    put = fed.emsp.find_received("PUT", "/hubclientinfo/DE/CPB")[0]
    assert _routing(put) == (None, None, None, None)  # configuration module: not routed


async def test_unregister_suspends_and_announces(fed: Federation) -> None:
    await fed.emsp.unregister()
    await fed.settle()
    assert fed.cpo.client_info[("NL", "EMA")].status == ConnectionStatus.SUSPENDED
    with pytest.raises(ConnectionProblem, match="SUSPENDED"):
        await fed.cpo.put_session(f.session(), to=EMSP)


async def test_still_alive_flips_offline_and_back(fed: Federation) -> None:
    fed.network.down.add("emsp.test")
    await still_alive_round(fed.hub)  # OFFLINE platforms are checked every round
    for platform in fed.hub.directory.platforms.values():
        platform.last_seen -= 10_000  # both silent for longer than still_alive_after
    await still_alive_round(fed.hub)
    await fed.settle()
    statuses = [fed.cpo.client_info[("NL", "EMA")].status]
    fed.network.down.discard("emsp.test")
    await still_alive_round(fed.hub)
    await fed.settle()
    statuses.append(fed.cpo.client_info[("NL", "EMA")].status)
    assert statuses == [ConnectionStatus.OFFLINE, ConnectionStatus.CONNECTED]


async def test_hubclientinfo_sender_list_is_paginated(fed: Federation) -> None:
    assert fed.cpo.peer is not None
    async with fed.network.client() as client:
        response = await client.get(
            "http://hub.test/ocpi/2.2.1/hubclientinfo",
            params={"limit": "1"},
            headers={"Authorization": encode_authorization(fed.cpo.peer.token)},
        )
    assert response.headers["X-Total-Count"] == "2"
    assert len(response.json()["data"]) == 1
    assert "offset=1" in response.headers["Link"]


# --- broadcast ------------------------------------------------------------------------------
async def test_tariff_and_location_broadcast(fed: Federation) -> None:
    answer = await fed.cpo.push_tariff(f.tariff())
    assert answer.status_code == 1000
    assert answer.http_status == 201
    assert (answer.headers["OCPI-from-party-id"], answer.headers["OCPI-to-party-id"]) == (
        "HUB",
        "CPB",
    )
    await fed.cpo.push_location(f.location())
    await fed.settle()
    [put] = fed.emsp.find_received("PUT", "/tariffs/DE/CPB/12")
    assert _routing(put) == ("NL", "EMA", "EU", "HUB")
    assert put.body["last_updated"] == "2024-05-01T12:00:00Z"
    assert fed.emsp.tariffs  # stored at the eMSP
    assert fed.emsp.find_location("LOC1") is not None


async def test_invalid_broadcast_gets_2001_naming_the_field(fed: Federation) -> None:
    bad = f.location().to_json()
    del bad["city"]
    assert fed.cpo.peer is not None
    async with fed.network.client() as client:
        response = await client.put(
            "http://hub.test/ocpi/2.2.1/receiver/locations/DE/CPB/LOC1",
            json=bad,
            headers={
                "Authorization": encode_authorization(fed.cpo.peer.token),
                "OCPI-to-country-code": "EU",
                "OCPI-to-party-id": "HUB",
                "OCPI-from-country-code": "DE",
                "OCPI-from-party-id": "CPB",
            },
        )
    body = response.json()
    assert body["status_code"] == 2001
    assert "city" in body["status_message"]
    assert not fed.emsp.find_received("PUT", "/locations/")


async def test_token_broadcast_reaches_the_cpo(fed: Federation) -> None:
    await fed.emsp.push_token(f.token(uid="RFID-1", type=TokenType.RFID))
    await fed.settle()
    [put] = fed.cpo.find_received("PUT", "/tokens/NL/EMA/RFID-1")
    assert put.query == {"type": "RFID"}


async def test_broadcasts_reach_a_receiver_in_the_order_the_hub_accepted_them(
    fed: Federation,
) -> None:
    fed.network.delay_next["emsp.test"] = [0.2, 0.0]  # the first delivery is slow
    await fed.cpo.push_location(f.location())
    await fed.cpo.patch_evse_status("LOC1", "3256", Status.CHARGING)
    await fed.settle()
    deliveries = [r.method for r in fed.emsp.received if "/locations/DE/CPB/LOC1" in r.path]
    assert deliveries == ["PUT", "PATCH"]
    stored = fed.emsp.find_location("LOC1")
    assert stored is not None
    assert (stored.evses or [])[0].status == Status.CHARGING


async def test_broadcast_recipient_errors_are_not_relayed(fed: Federation) -> None:
    fed.network.down.add("emsp.test")
    answer = await fed.cpo.push_tariff(f.tariff())
    assert answer.status_code == 1000
    await fed.settle()


# --- direct and open routing -----------------------------------------------------------------
async def test_direct_evse_patch_keeps_headers_and_gets_a_new_request_id(fed: Federation) -> None:
    await fed.cpo.push_location(f.location())
    await fed.settle()
    await fed.cpo.patch_evse_status("LOC1", "3256", Status.CHARGING, to=EMSP)
    await fed.settle()
    [patch] = fed.emsp.find_received("PATCH", "/locations/DE/CPB/LOC1/3256")
    sent = fed.cpo.sent[-1]
    assert _routing(patch) == ("NL", "EMA", "DE", "CPB")
    assert patch.header("X-Correlation-ID") == sent.correlation_id
    assert patch.header("X-Request-ID") != sent.request_id
    assert patch.body["status"] == "CHARGING"


async def test_paginated_location_get_is_rewritten_to_hub_urls(fed: Federation) -> None:
    for i in range(5):
        fed.cpo.add_location(f.location(f"L{i}"))
    client = fed.emsp.client()
    url = fed.emsp.hub_endpoint(ModuleID.LOCATIONS, InterfaceRole.SENDER)
    first = await client.get(url, to=CPO)
    assert first.next_url is not None
    assert first.next_url.startswith("http://hub.test/ocpi/2.2.1/pages/")
    everything = await client.get_all(url, Location, to=CPO)
    assert [loc.id for loc in everything] == [f"L{i}" for i in range(5)]
    assert all(r.path.startswith("/ocpi/cpo/") for r in fed.cpo.find_received("GET", "locations"))


async def test_get_all_via_hub_serves_the_copies(fed: Federation) -> None:
    await fed.cpo.push_location(f.location("A"))
    await fed.cpo.push_location(f.location("B"))
    pulled = await fed.emsp.pull(ModuleID.LOCATIONS, Location)
    assert sorted(loc.id for loc in pulled) == ["A", "B"]
    assert not fed.cpo.find_received("GET", "/locations")  # answered by the hub itself


async def test_start_session_result_comes_back_through_the_hub(fed: Federation) -> None:
    fed.cpo.add_location(f.location())
    response = await fed.emsp.start_session("LOC1", "3256", f.token(), to=CPO)
    assert response.result.value == "ACCEPTED"
    [command] = fed.cpo.find_received("POST", "/commands/START_SESSION")
    assert command.body["response_url"].startswith("http://hub.test/ocpi/2.2.1/sender/commands/")
    uid = fed.emsp.last_command_uid
    assert uid is not None
    result = await fed.emsp.wait_for_command_result(uid)
    assert result.result.value == "ACCEPTED"


async def test_unknown_location_2003_is_relayed_unchanged(fed: Federation) -> None:
    with pytest.raises(UnknownLocation) as caught:
        await fed.emsp.start_session("NOPE", "1", f.token(), to=CPO)
    assert caught.value.status_code == 2003


async def test_open_routing_of_start_session_by_location(fed: Federation) -> None:
    await fed.cpo.push_location(f.location())
    await fed.settle()
    client = fed.emsp.client()
    url = fed.emsp.hub_endpoint(ModuleID.COMMANDS, InterfaceRole.RECEIVER) + "/START_SESSION"
    body = {
        "response_url": "http://emsp.test/ocpi/emsp/2.2.1/commands/START_SESSION/x1",
        "token": f.token().to_json(),
        "location_id": "LOC1",
        "evse_uid": "3256",
    }
    response = await client.post(url, body)  # no OCPI-to headers
    assert response.data["result"] == "ACCEPTED"
    [command] = fed.cpo.find_received("POST", "/commands/START_SESSION")
    assert _routing(command) == ("DE", "CPB", "NL", "EMA")


async def test_session_put_patch_and_cdr_with_location_rewrite(fed: Federation) -> None:
    await fed.cpo.put_session(f.session(), to=EMSP)
    await fed.cpo.patch_session(
        "S-1001", {"kwh": 5, "charging_periods": [f.charging_period().to_json()]}
    )
    await fed.cpo.patch_session(
        "S-1001", {"kwh": 9, "charging_periods": [f.charging_period().to_json()]}
    )
    stored = next(iter(fed.emsp.sessions.values()))
    assert stored.kwh == Decimal(9)
    assert len(stored.charging_periods or []) == 2
    location = await fed.cpo.post_cdr(f.cdr())
    assert location.startswith("http://hub.test/ocpi/2.2.1/receiver/cdrs/")
    cdr = await fed.cpo.get_cdr(location, to=EMSP)
    assert cdr.id == "CDR-1001"
    await fed.settle()
    # The hub keeps party-specific copies only for the parties concerned.
    sessions = await fed.emsp.pull(ModuleID.SESSIONS, dict)
    assert [s["id"] for s in sessions] == ["S-1001"]
    assert len(sessions[0]["charging_periods"]) == 2


async def test_cdr_location_url_is_only_for_the_poster(fed: Federation) -> None:
    location = await fed.cpo.post_cdr(f.cdr())
    with pytest.raises(NotFound) as caught:
        await fed.emsp.get_cdr(location, to=CPO)
    assert caught.value.http_status == 404


# --- hub errors -----------------------------------------------------------------------------
async def test_unknown_receiver_is_4001(fed: Federation) -> None:
    with pytest.raises(UnknownReceiver):
        await fed.cpo.put_session(f.session(), to=PartyRef("XX", "NOP"))


async def test_unreachable_receiver_is_4003_and_goes_offline(fed: Federation) -> None:
    fed.network.down.add("emsp.test")
    with pytest.raises(ConnectionProblem):
        await fed.cpo.put_session(f.session(), to=EMSP)
    await fed.settle()
    assert fed.cpo.client_info[("NL", "EMA")].status == ConnectionStatus.OFFLINE
    with pytest.raises(ConnectionProblem, match="OFFLINE"):
        await fed.cpo.put_session(f.session(), to=EMSP)


async def test_slow_receiver_is_4002(fed: Federation) -> None:
    fed.network.delay["emsp.test"] = 2.0  # forward_timeout is 0.5 s in this federation
    with pytest.raises(ForwardTimeout):
        await fed.cpo.put_session(f.session(), to=EMSP)


async def test_garbage_answer_is_4000(fed: Federation) -> None:
    async def garbage(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"<html>oops</html>"})

    fed.network.add("emsp.test", garbage)
    with pytest.raises(HubError, match="without an OCPI envelope") as caught:
        await fed.cpo.put_session(f.session(), to=EMSP)
    assert caught.value.status_code == 4000


async def test_impersonation_is_refused_and_recorded(fed: Federation) -> None:
    client = fed.cpo.client()
    url = fed.cpo.hub_endpoint(ModuleID.SESSIONS, InterfaceRole.RECEIVER) + "/DE/CPB/S1"
    with pytest.raises(InvalidParameters, match="not a party of the platform"):
        await client.put(url, f.session("S1"), to=EMSP, from_party=PartyRef("FR", "ELC"))
    log = await fed.admin("messages", module="sessions")
    assert any("not a party of the platform" in row["note"] for row in log)


# --- tracing, settlement, restart -------------------------------------------------------------
async def test_one_session_can_be_traced_across_hops(fed: Federation) -> None:
    await fed.cpo.put_session(f.session(), to=EMSP)
    correlation = fed.cpo.sent[-1].correlation_id
    assert correlation is not None
    rows = await fed.admin("messages", correlation_id=correlation)
    assert [row["hop"] for row in rows] == ["outbound", "inbound"]
    outbound, inbound = rows
    assert outbound["parent_request_id"] == inbound["request_id"]
    assert outbound["request_id"] != inbound["request_id"]
    assert (inbound["from"], inbound["to"], inbound["ocpi_status"]) == ("DE/CPB", "NL/EMA", 1000)


async def test_one_charging_session_is_joined_across_its_correlation_ids(
    fed: Federation,
) -> None:
    """START_SESSION (its authorization_reference), its CommandResult (through the hub's
    response URL), the Session PUT and PATCH, STOP_SESSION (the session id), its result and
    the CDR POST each travel under a correlation id of their own: `session=` joins them."""
    fed.cpo.add_location(f.location())
    await fed.emsp.start_session("LOC1", "3256", f.token(), to=CPO, authorization_reference="R1")
    start_uid = fed.emsp.last_command_uid
    assert start_uid is not None
    await fed.emsp.wait_for_command_result(start_uid)
    await fed.cpo.put_session(f.session(authorization_reference="R1"), to=EMSP)
    await fed.cpo.patch_session("S-1001", {"kwh": 5})
    await fed.cpo.put_session(f.session("S-2", authorization_reference="R2"), to=EMSP)
    await fed.emsp.stop_session("S-1001", to=CPO)
    stop_uid = fed.emsp.last_command_uid
    assert stop_uid is not None
    await fed.emsp.wait_for_command_result(stop_uid)
    await fed.cpo.post_cdr(f.cdr())
    await fed.settle()
    for key in ("S-1001", "R1"):
        rows = await fed.admin("messages", session=key, bodies="true")
        # The hops to the receivers (a result goes to the eMSP's own response_url).
        outbound = [
            (r["module"], r["method"], r["path"].split("/")[-1])
            for r in rows
            if r["hop"] == "outbound"
        ]
        assert outbound == [
            ("commands", "POST", "START_SESSION"),
            ("commands", "POST", start_uid),
            ("sessions", "PUT", "S-1001"),
            ("sessions", "PATCH", "S-1001"),
            ("commands", "POST", "STOP_SESSION"),
            ("commands", "POST", stop_uid),
            ("cdrs", "POST", "cdrs"),
        ], key
        assert len(rows) == 14  # each with its outbound hop
        assert len({r["correlation_id"] for r in rows}) == 7
        assert {r["session_id"] for r in rows if r["module"] != "commands"} == {"S-1001"}
        assert all(r["authorization_reference"] == "R1" for r in rows[:4])  # command + result
        start = next(r for r in rows if r["hop"] == "outbound")
        assert '"authorization_reference":"R1"' in start["request_body"].replace(" ", "")
        assert '"result":"ACCEPTED"' in start["response_body"].replace(" ", "")
    # Without bodies= the lines name their session, not their bodies; other modules neither.
    plain = await fed.admin("messages", module="sessions")
    assert {r.get("session_id") for r in plain} == {"S-1001", "S-2"}
    assert not any("request_body" in r for r in plain)
    assert not any("session_id" in r for r in await fed.admin("messages", module="locations"))


async def test_a_bad_session_filter_is_refused_with_400(fed: Federation) -> None:
    async with fed.network.client() as client:
        answer = await client.get(
            "http://hub.test/admin/messages",
            params={"session": "x" * 37},
            headers={"Authorization": "Bearer admin-secret"},
        )
    assert answer.status_code == 400
    assert "session" in answer.json()["status_message"]


async def test_the_admin_api_shows_a_broadcast_tariff(fed: Federation) -> None:
    await fed.cpo.push_tariff(f.tariff())
    await fed.settle()
    tariff = await fed.admin(f"tariffs/DE/CPB/{f.tariff().id}")
    assert tariff["id"] == f.tariff().id and tariff["elements"]
    async with fed.network.client() as client:
        headers = {"Authorization": "Bearer admin-secret"}
        missing = await client.get("http://hub.test/admin/tariffs/DE/CPB/NOPE", headers=headers)
        bad = await client.get("http://hub.test/admin/tariffs/DEU/CPB/T1", headers=headers)
    assert missing.status_code == 404 and "NOPE" in missing.json()["status_message"]
    assert bad.status_code == 400 and "party" in bad.json()["status_message"]


async def test_settlement_sums_cdrs_per_emsp_and_cpo(fed: Federation) -> None:
    await fed.cpo.post_cdr(f.cdr("C1"))
    await fed.cpo.post_cdr(f.cdr("C2"))
    lines = await fed.admin("settlement")
    assert lines == [
        {
            "emsp": "NL/EMA",
            "cpo": "DE/CPB",
            "currency": "EUR",
            "cdr_count": 2,
            "excl_vat": "10.0",
            "incl_vat": "11.0",
        }
    ]


async def test_a_restarted_hub_has_lost_nothing(fed: Federation) -> None:
    await fed.cpo.push_location(f.location())
    await fed.cpo.put_session(f.session(), to=EMSP)
    await fed.settle()
    await fed.hub.stop()
    _, hub = await start_hub(fed.tmp_path, fed.network)
    fed.hub = hub
    assert {p.ref for p in hub.directory.all_parties()} == {CPO, EMSP}
    pulled = await fed.emsp.pull(ModuleID.LOCATIONS, Location)  # token C still valid
    assert [loc.id for loc in pulled] == ["LOC1"]
    rows = await fed.admin("messages", module="sessions")
    assert rows


async def test_restart_keeps_pending_command_callbacks(fed: Federation) -> None:
    fed.cpo.add_location(f.location())
    fed.cpo.command_result_delay = 0.3
    await fed.emsp.start_session("LOC1", "3256", f.token(), to=CPO)
    await fed.hub.writer.flush()
    await fed.hub.stop()
    _, fed.hub = await start_hub(fed.tmp_path, fed.network)
    uid = fed.emsp.last_command_uid
    assert uid is not None
    assert (await fed.emsp.wait_for_command_result(uid)).result.value == "ACCEPTED"


async def test_chargingprofiles_response_url_in_the_query_is_rewritten(fed: Federation) -> None:
    # The double implements no chargingprofiles module; give the hub an endpoint for it so the
    # request reaches the CPO (which answers 404) and the rewritten query can be inspected.
    [cpo_platform] = [p for p in fed.hub.directory.platforms.values() if p.hosts(CPO)]
    cpo_platform.endpoints[("chargingprofiles", InterfaceRole.RECEIVER)] = (
        "http://cpo.test/ocpi/cpo/2.2.1/chargingprofiles"
    )
    client = fed.emsp.client()
    url = fed.emsp.hub_endpoint(ModuleID.CHARGINGPROFILES, InterfaceRole.RECEIVER) + "/S-1001"
    original = "http://emsp.test/ocpi/emsp/2.2.1/chargingprofiles/result/77"
    with pytest.raises(NotFound):
        await client.get(url, to=CPO, params={"duration": "900", "response_url": original})
    [received] = fed.cpo.find_received("GET", "/chargingprofiles/S-1001")
    assert received.query["duration"] == "900"
    rewritten = received.query["response_url"]
    assert rewritten.startswith("http://hub.test/ocpi/2.2.1/sender/chargingprofiles/")
    uid = rewritten.rsplit("/", 1)[1]
    assert fed.hub.callbacks[uid].original_url == original
