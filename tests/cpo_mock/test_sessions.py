"""The mock CPO charging real sessions through the hub for an eMSP test double.

Each test holds one rule of the issue: a remote start reaches CHARGING and sends Session
updates; a stop gives a CDR priced exactly as the shared engine prices the session; RFID
swipes are authorized in real time (ALLOWED, BLOCKED) or locally by whitelist; a restart
mid-session loses nothing; an undelivered CDR is retried with backoff and re-sent when the
eMSP is CONNECTED again.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from cpo_mock import link as cpo_link
from hub.clientinfo import still_alive_round
from hub.store import MessageFilter
from ocpi.client import OcpiClient
from ocpi.pricing import SessionUsage, UsagePeriod, UsageState, price_session
from ocpi.v221 import (
    CDR,
    AuthMethod,
    CdrDimensionType,
    ConnectionStatus,
    Session,
    SessionStatus,
    TokenType,
    WhitelistType,
)
from tests.cpo_mock.conftest import CPO, EMSP, T0, Federation, start_federation, tariff
from tests.doubles import factories as f


def usage_of(session: Session) -> SessionUsage:
    """The usage an eMSP can read off the Session it received: each ChargingPeriod lasts
    until the next one starts (the last until end_date_time)."""
    periods = session.charging_periods or []
    assert session.end_date_time is not None
    ends = [p.start_date_time for p in periods[1:]] + [session.end_date_time]
    items = []
    for period, end in zip(periods, ends, strict=True):
        volumes = {d.type: d.volume for d in period.dimensions}
        if CdrDimensionType.ENERGY in volumes:
            state, energy = UsageState.CHARGING, volumes[CdrDimensionType.ENERGY]
        elif CdrDimensionType.PARKING_TIME in volumes:
            state, energy = UsageState.PARKING, Decimal(0)
        else:
            state, energy = UsageState.RESERVATION, Decimal(0)
        items.append(
            UsagePeriod(
                state=state,
                start_date_time=period.start_date_time,
                end_date_time=end,
                energy=energy,
                current=volumes.get(CdrDimensionType.CURRENT),
            )
        )
    return SessionUsage(time_zone="Europe/Berlin", periods=items)


def received_session(fed: Federation, session_id: str) -> Session:
    return fed.emsp.sessions[("DE", "CPB", session_id)]


def received_cdr(fed: Federation, cdr_id: str) -> CDR:
    return fed.emsp.cdrs[("DE", "CPB", cdr_id)]


def evse_patches(fed: Federation, evse_uid: str) -> list[str]:
    return [
        r.body["status"]
        for r in fed.emsp.received
        if r.method == "PATCH" and r.path.endswith(f"/locations/DE/CPB/LOC1/{evse_uid}")
    ]


async def plug(fed: Federation, evse_uid: str, **vehicle: object) -> dict[str, object]:
    response = await fed.control(
        "POST", f"/evses/LOC1/{evse_uid}/plug", {"vehicle": vehicle or {"preset": "sedan"}}
    )
    assert response.status_code == 200, response.text
    await fed.settle()
    body: dict[str, object] = response.json()
    return body


async def remote_start(fed: Federation, evse_uid: str) -> str:
    response = await fed.emsp.start_session("LOC1", evse_uid, f.token(), to=CPO)
    assert response.result.value == "ACCEPTED"
    uid = fed.emsp.last_command_uid
    assert uid is not None
    await fed.settle()
    assert (await fed.emsp.wait_for_command_result(uid)).result.value == "ACCEPTED"
    return uid


# --- remote start, updates, stop, CDR ------------------------------------------------------
async def test_remote_start_reaches_charging_and_sends_session_updates(fed: Federation) -> None:
    await remote_start(fed, "DC1")
    assert not fed.emsp.sessions  # accepted, but no session before a car is plugged in
    await plug(fed, "DC1")
    assert evse_patches(fed, "DC1") == ["BLOCKED", "CHARGING"]
    session = received_session(fed, "S000001")
    assert (session.status, session.auth_method) == (SessionStatus.ACTIVE, AuthMethod.COMMAND)
    assert (session.cdr_token.party_id, session.cdr_token.uid) == ("EMA", "app-7f3a")
    assert session.start_date_time == T0
    await fed.step(600)  # two update intervals of 300 s
    session = received_session(fed, "S000001")
    periods = session.charging_periods or []
    assert [p.start_date_time for p in periods] == [T0, T0 + timedelta(minutes=5)]
    power = {d.type: d.volume for d in periods[0].dimensions}
    assert power[CdrDimensionType.POWER] == Decimal(150)  # connector-limited (car: 175 kW)
    assert power[CdrDimensionType.ENERGY] == Decimal("12.5")  # 150 kW for 5 minutes
    assert session.kwh == Decimal(25)
    assert session.total_cost is not None
    assert session.total_cost.excl_vat == Decimal("13.50")  # 1.00 + 25 kWh x 0.50
    patches = fed.emsp.find_received("PATCH", "/sessions/DE/CPB/S000001")
    assert len(patches) == 2
    assert all(p.header("OCPI-from-party-id") == "CPB" for p in patches)


async def test_stop_gives_a_cdr_priced_exactly_by_the_engine(fed: Federation) -> None:
    await remote_start(fed, "AC1")
    await plug(fed, "AC1", preset="city", soc=0.9)  # 4.2 kWh to go at 11 kW, then idle
    await fed.step(3600)
    sim = fed.cpo.sessions["S000001"]
    assert sim.open_state is UsageState.PARKING  # the car is full and idles
    await fed.emsp.stop_session("S000001", to=CPO)
    await fed.settle()
    session = received_session(fed, "S000001")
    assert session.status is SessionStatus.COMPLETED
    assert session.end_date_time == T0 + timedelta(hours=1)
    cdr = received_cdr(fed, "C000001")
    priced = price_session(tariff(), usage_of(session))
    assert cdr.total_cost == priced.total.rounded("EUR")
    assert cdr.charging_periods == priced.charging_periods()
    assert cdr.total_parking_time is not None and cdr.total_parking_time > 0
    assert cdr.total_parking_cost is not None
    assert cdr.total_energy == session.kwh
    assert cdr.cdr_location.evse_id == "DE*CPB*EAC1"
    assert [t.id for t in cdr.tariffs or []] == ["T1"]
    entry = fed.cpo.cdrs["C000001"]
    assert entry.delivery == "delivered"
    assert entry.location_url.startswith("http://hub.test/ocpi/2.2.1/receiver/cdrs/")
    # The car is still plugged in: BLOCKED until it leaves.
    assert evse_patches(fed, "AC1")[-1] == "BLOCKED"
    await fed.control("POST", "/evses/LOC1/AC1/unplug")
    await fed.settle()
    assert evse_patches(fed, "AC1")[-1] == "AVAILABLE"


async def test_unplugging_ends_the_session(fed: Federation) -> None:
    await remote_start(fed, "DC1")
    await plug(fed, "DC1")
    await fed.step(120)
    await fed.control("POST", "/evses/LOC1/DC1/unplug")
    await fed.settle()
    session = received_session(fed, "S000001")
    assert session.status is SessionStatus.COMPLETED
    assert session.kwh == Decimal(5)  # 2 minutes at 150 kW
    assert received_cdr(fed, "C000001").total_energy == Decimal(5)
    assert evse_patches(fed, "DC1")[-1] == "AVAILABLE"


async def test_start_without_a_car_is_dropped_after_the_connection_timeout(
    fed: Federation,
) -> None:
    await remote_start(fed, "DC1")
    await fed.step(fed.settings.simulation.connection_timeout + 1)
    await plug(fed, "DC1")
    assert not fed.emsp.sessions
    assert evse_patches(fed, "DC1") == ["BLOCKED"]


# --- RFID and real-time authorization -------------------------------------------------------
async def swipe(fed: Federation, uid: str, evse_uid: str = "DC1") -> dict[str, str]:
    response = await fed.control("POST", f"/evses/LOC1/{evse_uid}/swipe", {"uid": uid})
    assert response.status_code == 200, response.text
    await fed.settle()
    body: dict[str, str] = response.json()
    return body


async def test_rfid_with_real_time_authorization_allowed(fed: Federation) -> None:
    card = f.token(uid="RFID-1", type=TokenType.RFID, whitelist=WhitelistType.NEVER)
    await fed.emsp.push_token(card)  # broadcast: the hub and the CPO learn who issued it
    await fed.settle()
    await plug(fed, "DC1")
    outcome = await swipe(fed, "RFID-1")
    assert (outcome["result"], outcome["auth_method"]) == ("ALLOWED", "AUTH_REQUEST")
    [asked] = fed.emsp.find_received("POST", "/tokens/RFID-1/authorize")
    assert asked.query == {"type": "RFID"}
    assert asked.body == {"location_id": "LOC1", "evse_uids": ["DC1"]}
    assert asked.header("OCPI-to-party-id") == "EMA"
    session = received_session(fed, "S000001")
    assert session.auth_method is AuthMethod.AUTH_REQUEST
    assert session.authorization_reference == outcome["authorization_reference"]
    assert session.authorization_reference == fed.emsp.authorizations[0].authorization_reference
    # The same card stops it.
    await fed.step(60)
    assert (await swipe(fed, "RFID-1"))["result"] == "STOPPED"
    assert received_session(fed, "S000001").status is SessionStatus.COMPLETED


async def test_rfid_blocked_by_the_emsp_starts_nothing(fed: Federation) -> None:
    card = f.token(uid="RFID-2", type=TokenType.RFID, valid=False)
    await fed.emsp.push_token(card)
    await fed.settle()
    await plug(fed, "DC1")
    outcome = await swipe(fed, "RFID-2")
    assert outcome["result"] == "BLOCKED"
    assert "BLOCKED" in outcome["reason"]
    assert fed.emsp.find_received("POST", "/tokens/RFID-2/authorize")
    assert not fed.emsp.sessions
    assert evse_patches(fed, "DC1") == ["BLOCKED"]


async def test_unknown_card_is_blocked(fed: Federation) -> None:
    outcome = await swipe(fed, "NOBODY")
    assert outcome["result"] == "BLOCKED"
    assert "not known" in outcome["reason"]


async def test_whitelisted_card_starts_locally_and_swipe_then_plug_works(
    fed: Federation,
) -> None:
    card = f.token(uid="RFID-3", type=TokenType.RFID, whitelist=WhitelistType.ALWAYS)
    await fed.emsp.push_token(card)
    await fed.settle()
    outcome = await swipe(fed, "RFID-3")  # no car yet: the charger waits for one
    assert (outcome["result"], outcome["auth_method"]) == ("ALLOWED", "WHITELIST")
    await plug(fed, "DC1")
    assert received_session(fed, "S000001").auth_method is AuthMethod.WHITELIST
    assert not fed.emsp.find_received("POST", "/authorize")


async def test_allowed_offline_card_starts_when_the_emsp_is_unreachable(
    fed: Federation,
) -> None:
    card = f.token(uid="RFID-4", type=TokenType.RFID, whitelist=WhitelistType.ALLOWED_OFFLINE)
    await fed.emsp.push_token(card)
    await fed.settle()
    fed.network.down.add("emsp.test")
    await plug(fed, "DC1")
    outcome = await swipe(fed, "RFID-4")
    assert (outcome["result"], outcome["auth_method"]) == ("ALLOWED", "WHITELIST")
    assert fed.cpo.sessions["S000001"].session.auth_method is AuthMethod.WHITELIST


# --- restart, retries, HubClientInfo ----------------------------------------------------------
async def _charge_and_stop(fed: Federation, restart_at: float | None) -> CDR:
    await remote_start(fed, "DC1")
    await plug(fed, "DC1", preset="compact", soc=0.3)
    for elapsed in range(0, 1800, 450):
        if restart_at is not None and elapsed == restart_at:
            await fed.restart_cpo()
        await fed.step(450)
    await fed.emsp.stop_session("S000001", to=CPO)
    await fed.settle()
    return received_cdr(fed, "C000001")


async def test_a_restart_mid_session_resumes_without_loss(fed: Federation, tmp_path: Path) -> None:
    restarted = await _charge_and_stop(fed, restart_at=900)
    twin = await start_federation(tmp_path / "twin")
    try:
        uninterrupted = await _charge_and_stop(twin, restart_at=None)
    finally:
        await twin.emsp.close()
        await twin.cpo.stop()
        await twin.hub.stop()
    assert restarted.total_energy == uninterrupted.total_energy
    assert restarted.total_cost == uninterrupted.total_cost
    assert restarted.charging_periods == uninterrupted.charging_periods
    session = received_session(fed, "S000001")
    starts = [p.start_date_time for p in session.charging_periods or []]
    assert starts == [T0 + timedelta(seconds=300 * i) for i in range(6)]  # no gap, no repeat


async def _offline_then_back(fed: Federation) -> None:
    for platform in fed.hub.directory.platforms.values():
        platform.last_seen -= 10_000
    await still_alive_round(fed.hub)
    await fed.settle()


async def test_undelivered_cdr_is_retried_with_backoff_and_resent_on_reconnect(
    fed: Federation,
) -> None:
    await remote_start(fed, "DC1")
    await plug(fed, "DC1")
    await fed.step(300)
    fed.network.down.add("emsp.test")
    await fed.control("POST", "/evses/LOC1/DC1/unplug")  # ends the session
    await fed.settle()
    entry = fed.cpo.cdrs["C000001"]
    assert (entry.delivery, entry.attempts) == ("pending", 1)
    assert entry.next_attempt_at == T0 + timedelta(seconds=300 + 30)
    # The hub found the eMSP unreachable and said so: the CPO stops pushing to it.
    assert fed.cpo.reachable(EMSP) is False
    # The CDR is on the Sender interface all the same.
    peer = fed.cpo.registration.peer
    assert peer is not None
    client = OcpiClient(fed.network.client(), peer.issued_token)
    listed = await client.get_all("http://cpo.test/ocpi/cpo/2.2.1/cdrs", CDR)
    assert [c.id for c in listed] == ["C000001"]
    await fed.step(30)
    assert entry.attempts == 2  # tried again, still refused (eMSP OFFLINE): next in 60 s
    assert entry.next_attempt_at == T0 + timedelta(seconds=330 + 60)
    fed.network.down.discard("emsp.test")
    await _offline_then_back(fed)  # still-alive: CONNECTED again, ClientInfo to the CPO
    assert fed.cpo.reachable(EMSP) is True
    assert entry.delivery == "delivered"
    assert received_cdr(fed, "C000001").total_cost == entry.cdr.total_cost
    # The session missed its final PATCH: it was re-sent in full.
    assert received_session(fed, "S000001").status is SessionStatus.COMPLETED


async def session_messages(fed: Federation) -> int:
    await fed.hub.writer.flush()
    return len(fed.hub.store.messages(MessageFilter(module="sessions")))


async def test_nothing_is_pushed_to_an_offline_emsp_and_it_is_resynced(fed: Federation) -> None:
    await remote_start(fed, "DC1")
    await plug(fed, "DC1")
    fed.network.down.add("emsp.test")
    await fed.step(300)  # this PATCH fails at the hub (4003): the eMSP turns OFFLINE
    infos = [p.info.status for p in fed.cpo.parties.values() if p.info.party_id == "EMA"]
    assert infos == [ConnectionStatus.OFFLINE]
    tried = await session_messages(fed)
    await fed.step(600)  # two more updates: not even tried
    assert await session_messages(fed) == tried
    assert fed.cpo.sessions["S000001"].needs_put
    fed.network.down.discard("emsp.test")
    await _offline_then_back(fed)
    session = received_session(fed, "S000001")
    assert len(session.charging_periods or []) == 3  # the full PUT carried all periods
    assert session.kwh == fed.cpo.sessions["S000001"].session.kwh


async def test_a_full_car_idles_from_the_start_and_pays_parking(fed: Federation) -> None:
    await remote_start(fed, "AC1")
    await plug(fed, "AC1", preset="city", soc=1.0)
    await fed.step(600)
    sim = fed.cpo.sessions["S000001"]
    assert sim.open_state is UsageState.PARKING
    assert [p.state for p in sim.periods] == [UsageState.PARKING, UsageState.PARKING]
    session = received_session(fed, "S000001")
    assert session.kwh == 0
    assert session.total_cost is not None
    assert session.total_cost.excl_vat == Decimal("2.00")  # 1.00 start + 10 min x 6.00/h


async def test_auto_plug_starts_the_session_on_a_remote_start(tmp_path: Path) -> None:
    # simulation.auto_plug (for roam conformance): a virtual car is there at once.
    twin = await start_federation(
        tmp_path, simulation={"session_update_interval": 300, "auto_plug": True}
    )
    try:
        await remote_start(twin, "DC1")
        session = received_session(twin, "S000001")
        assert session.status is SessionStatus.ACTIVE
        assert session.auth_method is AuthMethod.COMMAND
        assert evse_patches(twin, "DC1") == ["BLOCKED", "CHARGING"]
    finally:
        await twin.emsp.close()
        await twin.cpo.stop()
        await twin.hub.stop()


async def test_a_broadcast_whose_connection_dropped_is_sent_again(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpo_link, "BROADCAST_RETRY_DELAY", 0.3)
    fed.network.down.add("hub.test")
    await fed.cpo.plug("LOC1", "AC1", None, {"preset": "city"})
    await asyncio.sleep(0.1)  # the first try has met a closed port by now
    fed.network.down.discard("hub.test")
    await fed.settle()
    await asyncio.sleep(0.4)
    await fed.settle()
    assert fed.emsp.find_received("PATCH", "/locations/DE/CPB/LOC1/AC1")


# --- the EVSE list of the control API (what the demo's story picks a charger from) --------
async def test_the_evse_list_filters_free_evses_and_power_type(fed: Federation) -> None:
    every = (await fed.control("GET", "/evses")).json()
    assert [(e["location_id"], e["evse_uid"]) for e in every] == [
        (location, evse) for location in ("LOC1", "LOC2") for evse in ("DC1", "AC1", "PLAIN")
    ]
    dc = (await fed.control("GET", "/evses?power_type=DC")).json()
    assert [(e["location_id"], e["evse_uid"]) for e in dc] == [("LOC1", "DC1"), ("LOC2", "DC1")]
    assert dc[0]["connectors"][0]["power_type"] == "DC"
    assert "REMOTE_START_STOP_CAPABLE" in dc[0]["capabilities"]
    await remote_start(fed, "DC1")
    await plug(fed, "DC1")
    free = (await fed.control("GET", "/evses?free=true&power_type=DC")).json()
    assert [(e["location_id"], e["evse_uid"]) for e in free] == [("LOC2", "DC1")]  # LOC1's charges
    busy = (await fed.control("GET", "/evses")).json()[0]
    assert busy["status"] == "CHARGING" and busy["session_id"] == "S000001"
    assert len((await fed.control("GET", "/evses?limit=1")).json()) == 1
    for query, problem in (("free=maybe", "free must be"), ("limit=0", "limit must be at least")):
        refused = await fed.control("GET", f"/evses?{query}")
        assert refused.status_code == 400 and problem in refused.json()["error"]


async def test_the_evse_list_of_one_location(fed: Federation) -> None:
    at = (await fed.control("GET", "/evses?location_id=LOC2")).json()
    assert [(e["location_id"], e["evse_uid"]) for e in at] == [
        ("LOC2", evse) for evse in ("DC1", "AC1", "PLAIN")
    ]
    unknown = await fed.control("GET", "/evses?location_id=NOPE")
    assert unknown.status_code == 404 and "NOPE" in unknown.json()["error"]


# --- a raw OCPI request through the hub (a scenario's `send` step) ------------------------
async def test_send_passes_a_raw_request_through_the_hub_and_reports_its_answer(
    fed: Federation,
) -> None:
    lost = await fed.control(
        "POST",
        "/send",
        {"to": "ZZ/ZZZ", "module": "tokens", "interface": "SENDER", "method": "GET"},
    )
    assert lost.status_code == 200, lost.text
    assert lost.json()["ocpi_status"] == 4001 and "ZZ/ZZZ" in lost.json()["message"]
    found = await fed.control(
        "POST", "/send", {"to": str(EMSP), "module": "tokens", "interface": "SENDER"}
    )
    assert found.status_code == 200, found.text
    assert (found.json()["ocpi_status"], found.json()["http_status"]) == (1000, 200)
    assert isinstance(found.json()["data"], list)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"to": "ZZ/ZZZ", "module": "teleport"}, "unknown module 'teleport'"),
        ({"to": "ZZ/ZZZ", "module": "tokens", "interface": "BOTH"}, "interface is SENDER"),
        ({"to": "ZZ/ZZZ", "module": "tokens", "method": "FETCH"}, "method is one of"),
        ({"to": "ZZ/ZZZ", "module": "tokens", "path": 3}, "path must be a string"),
        ({"to": "Z", "module": "tokens"}, "to: give the receiver"),
        ({"to": "ZZ/ZZZ", "module": "tokens", "colour": "red"}, "unknown fields: colour"),
    ],
)
async def test_send_refuses_a_request_it_cannot_make(
    fed: Federation, body: dict[str, object], problem: str
) -> None:
    refused = await fed.control("POST", "/send", body)
    assert refused.status_code == 400, refused.text
    assert problem in refused.json()["error"]


async def test_send_needs_a_hub_offering_the_interface(fed: Federation) -> None:
    body = {"to": str(EMSP), "module": "credentials"}  # the hub offers it as SENDER only
    refused = await fed.control("POST", "/send", body)
    assert refused.status_code == 409 and "no credentials RECEIVER" in refused.json()["error"]
    peer, fed.cpo.registration.peer = fed.cpo.registration.peer, None
    try:
        refused = await fed.control("POST", "/send", {**body, "module": "tokens"})
    finally:
        fed.cpo.registration.peer = peer
    assert refused.status_code == 409 and "not connected to a hub" in refused.json()["error"]
