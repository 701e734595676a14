"""Members on OCPI 2.1.1 at one hub (docs/hub.md "Members on OCPI 2.1.1").

The federation of tests/hub/federation.py (a 2.2.1 CPO DE/CPB and a 2.2.1 eMSP NL/EMA, the
tests/doubles member) plus 2.1.1 doubles (tests/doubles/v211_member.py): a CPO FR/OLD and an
eMSP IT/OLE, and a 2.3.0 eMSP BE/NXT (tests/doubles/v230_member.py). What a 2.1.1 member sends
is built from the 2.2.1 factories carried down with ocpi.translate.v211 (the pure translation,
tested on its own in tests/ocpi/v211/) and checked against the 2.1.1 models.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.app import create_app
from hub.service import Hub
from ocpi import v211, v221, v230
from ocpi.headers import PartyRef, RoutingHeaders, encode_authorization, new_request_id
from ocpi.translate import v211 as t211
from ocpi.v221.types import Role
from tests.doubles import factories as f
from tests.doubles.factories import T0
from tests.doubles.v211_member import V211Member
from tests.doubles.v230_member import V230Member
from tests.hub.conftest import hub_settings, invite
from tests.hub.federation import CPO, EMSP, Federation, federation, start_hub
from tests.network import Network

OLD_CPO = PartyRef("FR", "OLD")
OLD_EMSP = PartyRef("IT", "OLE")
NEW_EMSP = PartyRef("BE", "NXT")
HUB_URL = "http://hub.test/ocpi/versions"
MODULES_211 = ("credentials", "cdrs", "commands", "locations", "sessions", "tariffs", "tokens")


@dataclass
class Mixed:
    fed: Federation
    cpo1: V211Member
    emsp1: V211Member
    emsp3: V230Member

    async def messages(self, **params: str) -> list[dict[str, Any]]:
        await self.fed.hub.drain()
        found: list[dict[str, Any]] = await self.fed.admin("messages", **params)
        return found


async def _member(fed: Federation, role: Role, party: PartyRef, host: str) -> V211Member:
    member = V211Member(role.value, party, f"http://{host}", fed.network.client(), name=str(party))
    fed.network.add(host, member.app)
    response = await member.register(HUB_URL, invite(fed.hub, (role, party)))
    assert response.json()["status_code"] == 1000, response.json()
    return member


@pytest.fixture
async def mixed(tmp_path: Path) -> AsyncIterator[Mixed]:
    async with federation(tmp_path) as fed:
        cpo1 = await _member(fed, Role.CPO, OLD_CPO, "cpo1.test")
        emsp1 = await _member(fed, Role.EMSP, OLD_EMSP, "emsp1.test")
        emsp3 = V230Member(Role.EMSP, NEW_EMSP, "http://emsp3.test", fed.network.client())
        fed.network.add("emsp3.test", emsp3.app)
        registered = await emsp3.register(HUB_URL, invite(fed.hub, (Role.EMSP, NEW_EMSP)))
        assert registered.json()["status_code"] == 1000
        await fed.settle()
        try:
            yield Mixed(fed, cpo1, emsp1, emsp3)
        finally:
            for member in (cpo1, emsp1, emsp3):
                await member.http.aclose()


def location_221() -> v221.Location:
    return f.location("LOC7", party=OLD_CPO)


def location_211() -> dict[str, Any]:
    """The 2.1.1 CPO's Location (no owner fields: 2.1.1 puts the owner in the URL)."""
    data = t211.location_to_v211(location_221()).value.to_json()
    v211.Location.model_validate(data)
    assert "country_code" not in data and data["evses"][0]["connectors"][0]["tariff_id"] == "12"
    return data


def _routing_headers(headers: dict[str, str]) -> list[str]:
    return [name for name in headers if name.lower().startswith("ocpi-")]


# --- registration, versions, restart ------------------------------------------------------
async def test_a_2_1_1_cpo_and_emsp_register_with_the_role_of_their_invitation(
    mixed: Mixed,
) -> None:
    # The hub's 2.1.1 details: one URL per 2.1.1 module, no role (2.1.1 endpoints have none).
    endpoints = mixed.cpo1.hub_details["endpoints"]
    assert all(set(e) == {"identifier", "url"} for e in endpoints)
    assert {e["identifier"]: e["url"] for e in endpoints} == {
        module: f"http://hub.test/ocpi/2.1.1/{module}" for module in MODULES_211
    }
    # The hub's credentials in 2.1.1's shape: its own one party.
    credentials = mixed.emsp1.hub_credentials
    assert credentials is not None
    assert (credentials.country_code, credentials.party_id) == ("EU", "HUB")
    assert credentials.url == HUB_URL
    # The role came from the invitation; the version is kept with the platform.
    parties = await mixed.fed.admin("parties")
    found = {
        (p["country_code"], p["party_id"]): (p["role"], p["version"])
        for p in parties
        if p["party_id"] in ("OLD", "OLE")
    }
    assert found == {("FR", "OLD"): ("CPO", "2.1.1"), ("IT", "OLE"): ("EMSP", "2.1.1")}
    # The member's endpoints are kept under the interface its role implements: the hub
    # delivers Locations to the 2.1.1 eMSP's locations URL, reads a 2.1.1 CPO's from its own.
    platforms = {p.parties[0].ref: p for p in mixed.fed.hub.directory.platforms.values()}
    assert platforms[OLD_EMSP].endpoint(v221.ModuleID.LOCATIONS, v221.InterfaceRole.RECEIVER)
    assert platforms[OLD_CPO].endpoint(v221.ModuleID.LOCATIONS, v221.InterfaceRole.SENDER)
    assert platforms[OLD_CPO].endpoint(v221.ModuleID.TOKENS, v221.InterfaceRole.RECEIVER)


async def test_tokens_go_unencoded_between_the_hub_and_a_2_1_1_member(mixed: Mixed) -> None:
    """2.1.1 sends `Token <token>` as it is (transport_and_format "Request format"; Base64
    came with 2.2). The 2.1.1 double takes only that form, so it registered and is delivered
    to only if the hub speaks it; the hub takes it on its 2.1.1 paths and versions list, and
    on its 2.2.1 paths only Base64 (unless accept_raw_tokens)."""
    await mixed.fed.hub.drain()
    assert mixed.cpo1.token_c is not None
    await mixed.cpo1.call("PUT", "http://hub.test/ocpi/2.1.1/locations/FR/OLD/LOC7", location_211())
    await mixed.fed.settle()
    assert [r.method for r in mixed.emsp1.received if r.path == "/locations/FR/OLD/LOC7"] == ["PUT"]
    token = mixed.cpo1.token_c
    async with mixed.fed.network.client() as client:
        for url, given, status in [
            ("http://hub.test/ocpi/versions", f"Token {token}", 200),
            ("http://hub.test/ocpi/2.1.1", f"Token {token}", 200),
            ("http://hub.test/ocpi/2.2.1", f"Token {token}", 401),
            ("http://hub.test/ocpi/2.2.1", encode_authorization(token), 200),
        ]:
            response = await client.get(url, headers={"Authorization": given})
            assert response.status_code == status, (url, given)


async def test_a_2_1_1_registration_needs_an_invitation_naming_its_party(mixed: Mixed) -> None:
    other = V211Member("CPO", PartyRef("ES", "ANY"), "http://any.test", mixed.fed.network.client())
    mixed.fed.network.add("any.test", other.app)
    try:
        response = await other.register(HUB_URL, invite(mixed.fed.hub))
    finally:
        await other.http.aclose()
    body = response.json()
    assert body["status_code"] == 2001
    assert "2.1.1 credentials name no role" in body["status_message"]
    assert all(p["party_id"] != "ANY" for p in await mixed.fed.admin("parties"))


async def test_a_restart_keeps_a_2_1_1_members_version_and_role(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/restart.db"
    network = Network()
    _, hub = await start_hub(tmp_path, network, database_url=url)
    member = V211Member("EMSP", OLD_EMSP, "http://emsp1.test", network.client())
    network.add("emsp1.test", member.app)
    await member.register(HUB_URL, invite(hub, (Role.EMSP, OLD_EMSP)))
    await hub.stop()

    restarted = create_app(hub_settings(tmp_path, database_url=url), http=network.client())
    again: Hub = restarted.state.hub
    await again.start()
    network.add("hub.test", restarted)
    try:
        platform = next(iter(again.directory.platforms.values()))
        assert platform.version == "2.1.1"
        assert [(p.role, p.ref) for p in platform.parties] == [(Role.EMSP, OLD_EMSP)]
        # Still served on its 2.1.1 URL (the eMSP reads the hub's Sender: GET-all)...
        response = await member.send("GET", "locations")
        assert response.json()["status_code"] == 1000
        assert _routing_headers(dict(response.headers)) == []
        # ... and not on the 2.2.1 ones.
        async with network.client() as client:
            wrong = await client.get(
                "http://hub.test/ocpi/2.2.1/sender/locations",
                headers={
                    "Authorization": encode_authorization(member.token_c or ""),
                    "OCPI-from-country-code": "IT",
                    "OCPI-from-party-id": "OLE",
                },
            )
        assert wrong.status_code == 404
    finally:
        await member.http.aclose()
        await again.stop()


# --- broadcasts -----------------------------------------------------------------------------
async def test_a_2_1_1_cpos_location_broadcast_reaches_2_2_1_and_2_3_0_emsps(
    mixed: Mixed,
) -> None:
    response = await mixed.cpo1.send("PUT", "locations", "/FR/OLD/LOC7", location_211())
    assert response.json()["status_code"] == 1000, response.json()
    assert _routing_headers(dict(response.headers)) == []
    await mixed.fed.settle()

    # The 2.2.1 eMSP has the Location with its owner (from the URL) and its tariff as a list.
    received = mixed.fed.emsp.locations[("FR", "OLD", "LOC7")]
    assert isinstance(received, v221.Location)
    assert (received.country_code, received.party_id) == ("FR", "OLD")
    assert received.time_zone == "Europe/Berlin"
    assert (received.evses or [])[0].connectors[0].tariff_ids == ["12"]
    # The 2.3.0 eMSP has it as 2.3.0.
    pushed = next(r for r in mixed.emsp3.received if r.path == "/receiver/locations/FR/OLD/LOC7")
    as_230 = v230.Location.model_validate(pushed.body)
    assert (as_230.country_code, as_230.party_id, as_230.id) == ("FR", "OLD", "LOC7")
    # The other 2.1.1 eMSP gets the CPO's own 2.1.1 object, with no routing headers.
    to_211 = next(r for r in mixed.emsp1.received if r.path == "/locations/FR/OLD/LOC7")
    assert to_211.body == location_211()
    assert _routing_headers(to_211.headers) == []
    # The CPO's party is the sender in the log (2.1.1 has no OCPI-from: its one party).
    inbound = [
        m
        for m in await mixed.messages(party="FR/OLD")
        if m["hop"] == "inbound" and m["method"] == "PUT"
    ]
    assert inbound[-1]["from"] == "FR/OLD" and "broadcast to" in inbound[-1]["note"]


async def test_a_2_2_1_cpos_location_reaches_a_2_1_1_emsp_as_2_1_1_with_the_losses_noted(
    mixed: Mixed,
) -> None:
    location = f.location("LOC1")
    location = location.model_copy(update={"publish_allowed_to": None, "state": "Bayern"})
    await mixed.fed.cpo.push_location(location)
    await mixed.fed.settle()
    pushed = next(r for r in mixed.emsp1.received if r.path == "/locations/DE/CPB/LOC1")
    as_211 = v211.Location.model_validate(pushed.body)
    assert as_211.id == "LOC1" and "country_code" not in pushed.body
    assert _routing_headers(pushed.headers) == []
    outbound = [
        m
        for m in await mixed.messages(module="locations")
        if m["hop"] == "outbound" and m["to"] == "IT/OLE"
    ]
    assert "translated OCPI 2.2.1 → 2.1.1" in outbound[-1]["note"]
    assert "state" in outbound[-1]["note"]


# --- commands -------------------------------------------------------------------------------
async def test_a_2_2_1_emsps_start_session_reaches_a_2_1_1_cpo_and_the_result_comes_back(
    mixed: Mixed,
) -> None:
    await mixed.cpo1.send("PUT", "locations", "/FR/OLD/LOC7", location_211())
    await mixed.fed.settle()
    mixed.cpo1.answers[("POST", "/commands/START_SESSION")] = "ACCEPTED"

    response = await mixed.fed.emsp.start_session("LOC7", "3256", f.token(), to=OLD_CPO)
    # 2.1.1 answers with a bare CommandResponseType: carried up with the hub's timeout.
    assert response.result == v221.CommandResponseType.ACCEPTED
    assert response.timeout == 60
    uid = mixed.fed.emsp.last_command_uid
    assert uid is not None

    sent = next(r for r in mixed.cpo1.received if r.path == "/commands/START_SESSION")
    command = v211.StartSession.model_validate(sent.body)
    assert "country_code" not in sent.body["token"]  # 2.1.1 Tokens name no owner
    assert command.token.uid == f.token().uid and command.location_id == "LOC7"
    assert _routing_headers(sent.headers) == []
    # The response_url is the hub's, in 2.1.1's URLs (one per module).
    assert command.response_url.startswith("http://hub.test/ocpi/2.1.1/commands/START_SESSION/")

    # The 2.1.1 CPO POSTs a 2.1.1 CommandResponse there; the 2.2.1 eMSP gets a CommandResult.
    posted = await mixed.cpo1.call("POST", command.response_url, {"result": "UNKNOWN_SESSION"})
    assert posted.json()["status_code"] == 1000, posted.json()
    assert _routing_headers(dict(posted.headers)) == []
    result = await mixed.fed.emsp.wait_for_command_result(uid)
    assert result.result == v221.CommandResultType.FAILED
    assert [m.text for m in result.message or []] == ["UNKNOWN_SESSION"]


async def test_a_command_2_1_1_cannot_carry_is_refused_with_the_reason(mixed: Mixed) -> None:
    await mixed.cpo1.send("PUT", "locations", "/FR/OLD/LOC7", location_211())
    await mixed.fed.settle()
    body = {"response_url": "http://emsp.test/ocpi/2.2.1/commands/x", "reservation_id": "R1"}
    async with mixed.fed.network.client() as client:
        response = await client.post(
            mixed.fed.emsp.hub_endpoint(v221.ModuleID.COMMANDS, v221.InterfaceRole.RECEIVER)
            + "/CANCEL_RESERVATION",
            json=body,
            headers={
                "Authorization": encode_authorization(mixed.fed.emsp.require_peer().token),
                "X-Request-ID": new_request_id(),
                "X-Correlation-ID": new_request_id(),
                **RoutingHeaders(to=OLD_CPO, from_=EMSP).to_headers(),
            },
        )
    envelope = response.json()
    assert envelope["status_code"] == 2001
    assert "2.1.1 has no CANCEL_RESERVATION" in envelope["status_message"]
    assert not [r for r in mixed.cpo1.received if "CANCEL" in r.path]


# --- sessions and CDRs ------------------------------------------------------------------------
async def test_a_2_1_1_cpos_session_and_cdr_reach_a_2_2_1_emsp_with_the_price(
    mixed: Mixed,
) -> None:
    token = f.token()
    await mixed.fed.emsp.push_token(token)  # the hub learns whose contract id it is
    await mixed.cpo1.send("PUT", "locations", "/FR/OLD/LOC7", location_211())
    await mixed.fed.settle()

    session = f.session("S7", party=OLD_CPO, of_token=token, location_id="LOC7", kwh=Decimal(5))
    session = session.model_copy(update={"total_cost": v221.Price(excl_vat=Decimal("4.50"))})
    session_211 = t211.session_to_v211(session, location=location_221()).value.to_json()
    assert "cdr_token" not in session_211 and session_211["auth_id"] == token.contract_id
    response = await mixed.cpo1.send("PUT", "sessions", "/FR/OLD/S7", session_211)
    assert response.json()["status_code"] == 1000, response.json()
    assert _routing_headers(dict(response.headers)) == []

    # Routed by content to the eMSP whose Token has that contract id; the price carried.
    stored = mixed.fed.emsp.sessions[("FR", "OLD", "S7")]
    assert stored.total_cost == v221.Price(excl_vat=Decimal("4.50"))
    assert (stored.cdr_token.uid, stored.cdr_token.party_id) == (token.uid, "EMA")
    assert stored.location_id == "LOC7" and stored.kwh == 5

    cdr = f.cdr("CDR7", party=OLD_CPO, of_location=location_221(), kwh=Decimal(5))
    cdr_211 = t211.cdr_to_v211(cdr, location=location_221()).value.to_json()
    response = await mixed.cpo1.send("POST", "cdrs", "", cdr_211)
    assert response.json()["status_code"] == 1000, response.json()
    stored_cdr = mixed.fed.emsp.cdrs[("FR", "OLD", "CDR7")]
    assert stored_cdr.total_cost.excl_vat == cdr.total_cost.excl_vat
    assert stored_cdr.total_cost.incl_vat is None  # 2.1.1 knows no VAT: left out, not guessed
    assert stored_cdr.cdr_location.evse_id == "FR*OLD*E3256"
    # The CDR's Location is a hub URL in 2.1.1's shape; reading it gives the 2.1.1 CDR back,
    # its Location embedded from the hub's copy.
    location_url = response.headers["location"]
    assert location_url.startswith("http://hub.test/ocpi/2.1.1/cdrs/")
    again = await mixed.cpo1.call("GET", location_url)
    read_back = v211.CDR.model_validate(again.json()["data"])
    assert read_back.id == "CDR7" and read_back.total_cost == cdr.total_cost.excl_vat
    assert read_back.location.id == "LOC7"


async def _sessions_then_cdr(
    mixed: Mixed, spans: dict[str, tuple[datetime, datetime | None]]
) -> dict[str, Any]:
    """The 2.1.1 CPO sends a Session per id (one token, one EVSE, each its (start, end)), then
    a CDR of that token and EVSE started at T0; the CDR as the 2.2.1 eMSP received it."""
    token = f.token()
    await mixed.fed.emsp.push_token(token)
    await mixed.cpo1.send("PUT", "locations", "/FR/OLD/LOC7", location_211())
    await mixed.fed.settle()
    for session_id, (start, end) in spans.items():
        session = f.session(session_id, party=OLD_CPO, of_token=token, location_id="LOC7")
        session = session.model_copy(update={"start_date_time": start, "end_date_time": end})
        session_211 = t211.session_to_v211(session, location=location_221()).value.to_json()
        response = await mixed.cpo1.send("PUT", "sessions", f"/FR/OLD/{session_id}", session_211)
        assert response.json()["status_code"] == 1000, response.json()
    cdr = f.cdr("CDR9", party=OLD_CPO, of_token=token, of_location=location_221(), start=T0)
    cdr_211 = t211.cdr_to_v211(cdr, location=location_221()).value.to_json()
    assert "session_id" not in cdr_211
    response = await mixed.cpo1.send("POST", "cdrs", "", cdr_211)
    assert response.json()["status_code"] == 1000, response.json()
    return mixed.fed.emsp.cdrs[("FR", "OLD", "CDR9")].to_json()


async def test_a_2_1_1_cdr_gets_the_session_id_of_the_one_session_the_hub_holds_for_it(
    mixed: Mixed,
) -> None:
    """2.1.1 CDRs name no session; eMSPs file CDRs by it. No session started when the CDR
    starts: the one running then is its session (S-OLD ended before)."""
    old = (T0 - timedelta(hours=3), T0 - timedelta(hours=2))
    now = (T0 - timedelta(minutes=5), None)
    cdr = await _sessions_then_cdr(mixed, {"S-OLD": old, "S-NOW": now})
    assert cdr["session_id"] == "S-NOW"


async def test_a_2_1_1_cdr_that_matches_two_sessions_goes_without_session_id_saying_why(
    mixed: Mixed,
) -> None:
    cdr = await _sessions_then_cdr(mixed, {"S-ONE": (T0, None), "S-TWO": (T0, None)})
    assert "session_id" not in cdr
    inbound = [
        m
        for m in await mixed.messages(module="cdrs", party="FR/OLD")
        if m["hop"] == "inbound" and m["method"] == "POST"
    ]
    assert "session_id: 2.1.1 names no session, and 2 Session(s)" in inbound[-1]["note"]


async def test_a_2_1_1_session_for_an_unknown_contract_is_refused_with_the_reason(
    mixed: Mixed,
) -> None:
    await mixed.cpo1.send("PUT", "locations", "/FR/OLD/LOC7", location_211())
    await mixed.fed.settle()
    session = f.session("S8", party=OLD_CPO, location_id="LOC7")
    session_211 = t211.session_to_v211(session, location=location_221()).value.to_json()
    response = await mixed.cpo1.send("PUT", "sessions", "/FR/OLD/S8", session_211)
    envelope = response.json()
    assert envelope["status_code"] == 2001
    assert "no Token with contract_id" in envelope["status_message"]
    assert ("FR", "OLD", "S8") not in mixed.fed.emsp.sessions


async def test_a_2_2_1_cpos_session_reaches_a_2_1_1_emsp_with_the_location_embedded(
    mixed: Mixed,
) -> None:
    await mixed.fed.cpo.push_location(f.location("LOC1"))
    await mixed.fed.settle()
    token = f.token(party=OLD_EMSP)
    session = f.session("S1", of_token=token, kwh=Decimal(3))
    response = await mixed.fed.cpo.put_session(session, to=OLD_EMSP)
    assert response.status_code == 1000
    pushed = next(r for r in mixed.emsp1.received if r.path == "/sessions/DE/CPB/S1")
    as_211 = v211.Session.model_validate(pushed.body)
    assert as_211.auth_id == token.contract_id
    assert as_211.location.id == "LOC1"
    assert [e.uid for e in as_211.location.evses or []] == ["3256"]


# --- 2.2.1 between 2.2.1 members: untouched ---------------------------------------------------
async def test_a_2_2_1_exchange_is_relayed_byte_for_byte(mixed: Mixed) -> None:
    """With 2.1.1 members at the hub, a Session between two 2.2.1 members is forwarded as the
    CPO wrote it: indentation, key order and `5.50` included (any re-serialising would
    change them), with its routing headers."""
    session = f.session("S2", kwh=Decimal(5)).to_json()
    session["total_cost"] = {"excl_vat": 1}
    raw = json.dumps(dict(reversed(list(session.items()))), indent=3).replace('": 1', '": 5.50')
    raw_bytes = raw.encode()
    async with mixed.fed.network.client() as client:
        response = await client.put(
            mixed.fed.cpo.hub_endpoint(v221.ModuleID.SESSIONS, v221.InterfaceRole.RECEIVER)
            + "/DE/CPB/S2",
            content=raw_bytes,
            headers={
                "Authorization": encode_authorization(mixed.fed.cpo.require_peer().token),
                "Content-Type": "application/json",
                "X-Request-ID": new_request_id(),
                "X-Correlation-ID": new_request_id(),
                **RoutingHeaders(to=EMSP, from_=CPO).to_headers(),
            },
        )
    assert response.json()["status_code"] == 1000, response.json()
    assert response.headers["ocpi-from-party-id"] == "EMA"
    received = next(r for r in mixed.fed.emsp.received if r.path.endswith("/DE/CPB/S2"))
    assert received.raw_body == raw_bytes
    assert received.headers["ocpi-from-party-id"] == "CPB"


# --- tokens and real-time authorization ---------------------------------------------------------
async def test_a_2_1_1_emsps_token_reaches_a_2_2_1_cpo_and_its_authorization_comes_back(
    mixed: Mixed,
) -> None:
    token = f.token("AB12", party=OLD_EMSP)
    token_211 = t211.token_to_v211(token).value.to_json()
    assert "country_code" not in token_211
    response = await mixed.emsp1.send("PUT", "tokens", "/IT/OLE/AB12", token_211)
    assert response.json()["status_code"] == 1000, response.json()
    await mixed.fed.settle()
    # The 2.2.1 CPO has the Token, owned by the 2.1.1 eMSP's party.
    received = next(r for r in mixed.fed.cpo.received if r.path.endswith("/IT/OLE/AB12"))
    as_221 = v221.Token.model_validate(received.body)
    assert (as_221.country_code, as_221.party_id, as_221.uid) == ("IT", "OLE", "AB12")
    # 2.1.1 has no APP_USER (sent as OTHER) and no type in its URL: the hub keeps the token
    # by its body's type and tells the 2.2.1 CPO that type in the query, as 2.2.1 does.
    assert as_221.type == v221.TokenType.OTHER and received.query == {"type": "OTHER"}

    # Real-time authorization from the 2.2.1 CPO, open-routed to the eMSP that broadcast it.
    mixed.emsp1.answers[("POST", "/tokens/AB12/authorize?type=OTHER")] = {"allowed": "ALLOWED"}
    async with mixed.fed.network.client() as client:
        answer = await client.post(
            mixed.fed.cpo.hub_endpoint(v221.ModuleID.TOKENS, v221.InterfaceRole.SENDER)
            + "/AB12/authorize?type=OTHER",
            json={"location_id": "LOC1", "evse_uids": ["3256"]},
            headers={
                "Authorization": encode_authorization(mixed.fed.cpo.require_peer().token),
                "X-Request-ID": new_request_id(),
                "X-Correlation-ID": new_request_id(),
                **RoutingHeaders(from_=CPO).to_headers(),
            },
        )
    envelope = answer.json()
    assert envelope["status_code"] == 1000, envelope
    info = v221.AuthorizationInfo.model_validate(envelope["data"])
    # 2.1.1 does not echo the Token: the hub's copy of it is put back.
    assert info.allowed == v221.AllowedType.ALLOWED
    assert (info.token.uid, info.token.party_id) == ("AB12", "OLE")
    asked = next(r for r in mixed.emsp1.received if r.path == "/tokens/AB12/authorize?type=OTHER")
    assert v211.LocationReferences.model_validate(asked.body).location_id == "LOC1"
    assert _routing_headers(asked.headers) == []


# --- status codes a 2.1.1 member can read --------------------------------------------------------
async def test_a_2_1_1_member_gets_3000_where_the_hub_would_say_4001(mixed: Mixed) -> None:
    """2.1.1 has no hub errors: "no party owns Location NOPE" (4001) reaches it as 3000."""
    response = await mixed.emsp1.send("GET", "locations", "/NOPE")
    envelope = response.json()
    assert envelope["status_code"] == 3000
    message = envelope["status_message"]
    assert "cannot tell the receiver" in message and "by their content" in message
    assert "OCPI-to" not in message  # 2.1.1 has no such headers to set
    assert _routing_headers(dict(response.headers)) == []


async def test_a_2_1_1_cpos_authorization_reaches_a_2_2_1_emsp_and_reads_2_1_1_answers(
    mixed: Mixed,
) -> None:
    token = f.token()
    await mixed.fed.emsp.push_token(token)
    await mixed.fed.settle()
    asked = {"location_id": "LOC7", "evse_uids": ["3256"], "connector_ids": ["1"]}
    # The CPO got this APP_USER token as OTHER (2.1.1 has no APP_USER) and asks with that.
    response = await mixed.cpo1.send(
        "POST", "tokens", f"/{token.uid}/authorize", asked, params={"type": "OTHER"}
    )
    envelope = response.json()
    assert envelope["status_code"] == 1000, envelope
    # The 2.1.1 answer: no Token echoed, no authorization_reference (2.1.1 has neither).
    answer = v211.AuthorizationInfo.model_validate(envelope["data"])
    assert answer.allowed == v211.Allowed.ALLOWED
    assert "token" not in envelope["data"] and "authorization_reference" not in envelope["data"]
    # The 2.2.1 eMSP got 2.2.1 LocationReferences: connector_ids is 2.1.1's only, noted.
    references = mixed.fed.emsp.authorizations[-1].location
    assert references is not None and references.location_id == "LOC7"
    inbound = [
        m
        for m in await mixed.messages(module="tokens", party="FR/OLD")
        if m["hop"] == "inbound" and m["method"] == "POST"
    ]
    assert "connector_ids" in inbound[-1]["note"]
    # A token the eMSP does not know: 2004 in 2.2.1, which 2.1.1 lacks: 2000.
    mixed.fed.emsp.tokens.clear()
    unknown = await mixed.cpo1.send(
        "POST", "tokens", f"/{token.uid}/authorize", asked, params={"type": "OTHER"}
    )
    assert unknown.json()["status_code"] == 2000


async def test_a_2_2_1_emsps_token_reaches_a_2_1_1_cpo_by_uid_only(mixed: Mixed) -> None:
    await mixed.fed.emsp.push_token(f.token())  # an APP_USER token
    await mixed.fed.settle()
    pushed = next(r for r in mixed.cpo1.received if r.method == "PUT")
    # 2.1.1's Token URL has no type, and 2.1.1 has no APP_USER.
    assert pushed.path == f"/tokens/NL/EMA/{f.token().uid}"
    token = v211.Token.model_validate(pushed.body)
    assert token.type == v211.TokenType.OTHER and "country_code" not in pushed.body
    assert _routing_headers(pushed.headers) == []


async def test_a_2_1_1_emsps_start_session_reaches_a_2_2_1_cpo_and_the_result_comes_back(
    mixed: Mixed,
) -> None:
    mixed.fed.cpo.locations[mixed.fed.cpo.own_key("LOC1")] = f.location("LOC1")
    await mixed.fed.cpo.push_location(f.location("LOC1"))  # the hub learns who owns LOC1
    await mixed.fed.settle()
    mixed.fed.cpo.command_result = v221.CommandResultType.EVSE_OCCUPIED  # 2.1.1 lacks it
    token = t211.token_to_v211(f.token("OLE1", party=OLD_EMSP, type=v221.TokenType.RFID))
    own_url = "http://emsp1.test/ocpi/2.1.1/commands/START_SESSION/c1"
    command = {"response_url": own_url, "token": token.value.to_json(), "location_id": "LOC1"}
    response = await mixed.emsp1.send("POST", "commands", "/START_SESSION", command)
    envelope = response.json()
    # Open-routed to the CPO owning LOC1; its 2.2.1 CommandResponse reaches 2.1.1 bare.
    assert envelope["status_code"] == 1000, envelope
    assert envelope["data"] == "ACCEPTED"
    await mixed.fed.settle()
    received = mixed.fed.cpo.commands_received[-1].body
    assert isinstance(received, v221.StartSession)
    assert (received.token.country_code, received.token.party_id) == ("IT", "OLE")
    # The CPO's CommandResult reached the 2.1.1 eMSP at its own URL as a 2.1.1
    # CommandResponse (`result` only; EVSE_OCCUPIED as REJECTED), with no routing headers.
    results = [r for r in mixed.emsp1.received if r.path == "/commands/START_SESSION/c1"]
    assert [r.body for r in results] == [{"result": "REJECTED"}]
    assert _routing_headers(results[0].headers) == []


async def test_a_2_1_1_patch_without_last_updated_gets_the_time_the_hub_received_it(
    mixed: Mixed,
) -> None:
    await mixed.cpo1.send("PUT", "locations", "/FR/OLD/LOC7", location_211())
    await mixed.fed.settle()
    before = datetime.now(UTC)
    # 2.1.1's PATCH needs no last_updated (its PATCH examples have none); 2.2.1's does.
    response = await mixed.cpo1.send(
        "PATCH", "locations", "/FR/OLD/LOC7/3256", {"status": "CHARGING"}
    )
    assert response.json()["status_code"] == 1000, response.json()
    await mixed.fed.settle()
    patched = next(
        r for r in mixed.fed.emsp.received if r.method == "PATCH" and r.path.endswith("/3256")
    )
    v221.EVSEPatch.model_validate(patched.body)
    assert patched.body["status"] == "CHARGING"
    stamped = datetime.fromisoformat(patched.body["last_updated"])
    assert stamped >= before.replace(microsecond=0)
    evse = (mixed.fed.emsp.locations[("FR", "OLD", "LOC7")].evses or [])[0]
    assert evse.status == v221.Status.CHARGING
