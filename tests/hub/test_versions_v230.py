"""Members on OCPI 2.3.0 and 2.2.1 at one hub (docs/hub.md "Members on other OCPI versions").

The federation of tests/hub/federation.py (a 2.2.1 CPO DE/CPB and a 2.2.1 eMSP NL/EMA, the
tests/doubles member) plus 2.3.0 doubles (tests/doubles/v230_member.py): a CPO FR/NEW and an
eMSP BE/NXT. What a 2.2.1 member receives is read with the 2.2.1 models, what a 2.3.0 member
receives with the 2.3.0 models.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest

from hub.app import create_app
from hub.service import Hub
from hub.translation import PIVOT, V230, Codec, carry, request_kind, response_kind
from ocpi import v221, v230
from ocpi.errors import OcpiError
from ocpi.headers import PartyRef, encode_authorization
from ocpi.translate import Translated, Untranslatable
from ocpi.translate import v230 as t230
from ocpi.v221.types import Role
from tests.databases import postgres_database
from tests.doubles import factories as f
from tests.doubles.member import join_url
from tests.doubles.v230_member import V230Member
from tests.hub.conftest import hub_settings, invite
from tests.hub.federation import CPO, EMSP, Federation, federation, start_hub
from tests.network import Network

NEW_CPO = PartyRef("FR", "NEW")
NEW_EMSP = PartyRef("BE", "NXT")


@dataclass
class Mixed:
    fed: Federation
    cpo3: V230Member
    emsp3: V230Member

    async def messages(self, **params: str) -> list[dict[str, Any]]:
        await self.fed.hub.drain()
        found: list[dict[str, Any]] = await self.fed.admin("messages", **params)
        return found


async def _member(fed: Federation, role: Role, party: PartyRef, host: str) -> V230Member:
    member = V230Member(role, party, f"http://{host}", fed.network.client(), name=f"{party}")
    fed.network.add(host, member.app)
    response = await member.register(
        "http://hub.test/ocpi/versions", invite(fed.hub, (role, party))
    )
    assert response.json()["status_code"] == 1000, response.json()
    return member


@pytest.fixture
async def mixed(tmp_path: Path) -> AsyncIterator[Mixed]:
    async with federation(tmp_path) as fed:
        cpo3 = await _member(fed, Role.CPO, NEW_CPO, "cpo3.test")
        emsp3 = await _member(fed, Role.EMSP, NEW_EMSP, "emsp3.test")
        await fed.settle()
        try:
            yield Mixed(fed, cpo3, emsp3)
        finally:
            await cpo3.http.aclose()
            await emsp3.http.aclose()


def location_v230(location_id: str = "LOC9") -> dict[str, Any]:
    """A 2.3.0 Location of FR/NEW with what 2.2.1 lacks: parking places (linked from the
    first EVSE), a help phone, and a second EVSE whose only connector is an MCS."""
    data = f.location(location_id, party=NEW_CPO).to_json()
    data["parking_places"] = [
        {
            "id": "P1",
            "vehicle_types": ["PERSONAL_VEHICLE"],
            "restricted_to_type": False,
            "reservation_required": False,
        }
    ]
    data["help_phone"] = "+33100000000"
    data["evses"][0]["parking"] = [{"parking_id": "P1"}]
    mcs = {**data["evses"][0], "uid": "MCS1", "evse_id": "FR*NEW*EMCS1"}
    mcs.pop("parking")
    mcs["connectors"] = [{**data["evses"][0]["connectors"][0], "id": "9", "standard": "MCS"}]
    data["evses"].append(mcs)
    v230.Location.model_validate(data)  # a valid 2.3.0 object
    return data


def tariff_v230(tax_included: str, tariff_id: str = "T9") -> dict[str, Any]:
    data = f.tariff(tariff_id, party=NEW_CPO).to_json()
    data["tax_included"] = tax_included
    v230.Tariff.model_validate(data)
    return data


# --- registration, versions, the admin API, restart --------------------------------------
async def test_versions_and_2_3_0_details_offer_the_same_modules_at_2_3_0_urls(
    mixed: Mixed,
) -> None:
    async with mixed.fed.network.client() as client:
        token = invite(mixed.fed.hub)
        auth = {"Authorization": encode_authorization(token)}
        versions = (await client.get("http://hub.test/ocpi/versions", headers=auth)).json()
        details_221 = (await client.get("http://hub.test/ocpi/2.2.1", headers=auth)).json()
        details_230 = (await client.get("http://hub.test/ocpi/2.3.0", headers=auth)).json()
    assert [v["version"] for v in versions["data"]] == ["2.1.1", "2.2.1", "2.3.0"]
    assert details_230["data"]["version"] == "2.3.0"
    offered_221 = {(e["identifier"], e["role"]): e["url"] for e in details_221["data"]["endpoints"]}
    offered_230 = {(e["identifier"], e["role"]): e["url"] for e in details_230["data"]["endpoints"]}
    assert offered_230.keys() == offered_221.keys()
    assert offered_230 == {
        key: url.replace("/ocpi/2.2.1/", "/ocpi/2.3.0/") for key, url in offered_221.items()
    }


async def test_a_2_3_0_member_gets_hub_party_id_and_the_reachable_parties_as_roles(
    mixed: Mixed,
) -> None:
    credentials = mixed.emsp3.hub_credentials
    assert credentials is not None
    assert credentials.hub_party_id == "EUHUB"
    assert credentials.url == "http://hub.test/ocpi/versions"
    listed = {(r.role.value, r.country_code, r.party_id) for r in credentials.roles}
    # Everyone registered before it but itself; no HUB role (2.3.0 has none).
    assert listed == {("CPO", "DE", "CPB"), ("EMSP", "NL", "EMA"), ("CPO", "FR", "NEW")}
    # Its token works on the 2.3.0 URLs, and GET credentials answers in 2.3.0's shape too.
    response = await mixed.emsp3.send("GET", "credentials", "SENDER")
    again = v230.Credentials.model_validate(response.json()["data"])
    assert again.hub_party_id == "EUHUB" and again.token == mixed.emsp3.token_c


async def test_the_hub_connects_to_a_2_3_0_member_in_2_3_0(mixed: Mixed) -> None:
    """Hub-initiated handshake: the hub picks the newest version both speak (2.3.0), POSTs its
    credentials in 2.3.0's shape and reads the member's answer with the 2.3.0 model."""
    member = V230Member(
        Role.EMSP, PartyRef("IT", "CON"), "http://con.test", mixed.fed.network.client()
    )
    mixed.fed.network.add("con.test", member.app)
    member.token_a = "token-a-of-the-member"
    try:
        async with mixed.fed.network.client() as client:
            response = await client.post(
                "http://hub.test/admin/connect",
                json={"versions_url": "http://con.test/ocpi/versions", "token": member.token_a},
                headers={"Authorization": "Bearer admin-secret"},
            )
        assert response.json()["status_code"] == 1000, response.json()
        assert member.hub_credentials is not None
        assert member.hub_credentials.hub_party_id == "EUHUB"
        assert ("CPO", "FR", "NEW") in {
            (r.role.value, r.country_code, r.party_id) for r in member.hub_credentials.roles
        }
        parties = await mixed.fed.admin("parties")
        assert {p["version"] for p in parties if p["party_id"] == "CON"} == {"2.3.0"}
        # The member uses the 2.3.0 URLs the hub gave it, with the token the hub gave it.
        listed = await member.send("GET", "tariffs", "SENDER", to=mixed.fed.hub.ref)
        assert listed.json()["status_code"] == 1000
    finally:
        await member.http.aclose()


async def test_the_first_member_on_2_3_0_gets_the_hub_itself_as_its_one_role(
    tmp_path: Path,
) -> None:
    network = Network()
    _, hub = await start_hub(tmp_path, network)
    member = V230Member(Role.CPO, NEW_CPO, "http://cpo3.test", network.client())
    network.add("cpo3.test", member.app)
    try:
        response = await member.register(
            "http://hub.test/ocpi/versions", invite(hub, (Role.CPO, NEW_CPO))
        )
        assert response.json()["status_code"] == 1000, response.json()
        assert member.hub_credentials is not None
        assert [
            (r.role.value, r.country_code, r.party_id) for r in member.hub_credentials.roles
        ] == [("OTHER", "EU", "HUB")]
    finally:
        await member.http.aclose()
        await hub.stop()


async def test_the_admin_api_shows_each_platforms_version(mixed: Mixed) -> None:
    parties = await mixed.fed.admin("parties")
    versions = {(p["country_code"], p["party_id"]): p["version"] for p in parties}
    assert versions == {
        ("DE", "CPB"): "2.2.1",
        ("NL", "EMA"): "2.2.1",
        ("FR", "NEW"): "2.3.0",
        ("BE", "NXT"): "2.3.0",
    }


async def test_a_2_3_0_member_cannot_use_the_2_2_1_urls(mixed: Mixed) -> None:
    assert mixed.cpo3.token_c is not None
    async with mixed.fed.network.client() as client:
        response = await client.get(
            "http://hub.test/ocpi/2.2.1/sender/locations",
            headers={
                "Authorization": encode_authorization(mixed.cpo3.token_c),
                "OCPI-from-country-code": "FR",
                "OCPI-from-party-id": "NEW",
            },
        )
    assert response.status_code == 404
    assert "registered OCPI 2.3.0" in response.json()["status_message"]


async def test_a_2_3_0_registration_with_a_hub_party_id_is_refused(mixed: Mixed) -> None:
    other = V230Member(
        Role.CPO, PartyRef("IT", "OTH"), "http://oth.test", mixed.fed.network.client()
    )
    mixed.fed.network.add("oth.test", other.app)
    original = other.own_credentials

    def as_a_hub() -> dict[str, Any]:
        return {**original(), "hub_party_id": "ITHUB"}

    other.own_credentials = as_a_hub  # type: ignore[method-assign]
    try:
        response = await other.register(
            "http://hub.test/ocpi/versions", invite(mixed.fed.hub, (Role.CPO, other.party))
        )
    finally:
        await other.http.aclose()
    body = response.json()
    assert body["status_code"] == 2001
    assert "hub_party_id" in body["status_message"]


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_a_restart_keeps_the_version_a_member_chose(tmp_path: Path, database: str) -> None:
    urls = postgres_database() if database == "postgresql" else _sqlite(tmp_path)
    url = next(urls)
    try:
        network = Network()
        _, hub = await start_hub(tmp_path, network, database_url=url)
        member = V230Member(Role.EMSP, NEW_EMSP, "http://emsp3.test", network.client())
        network.add("emsp3.test", member.app)
        await member.register("http://hub.test/ocpi/versions", invite(hub, (Role.EMSP, NEW_EMSP)))
        await hub.stop()

        restarted = create_app(hub_settings(tmp_path, database_url=url), http=network.client())
        again: Hub = restarted.state.hub
        await again.start()
        network.add("hub.test", restarted)
        try:
            platform = next(iter(again.directory.platforms.values()))
            assert platform.version == "2.3.0"
            # Still served on its 2.3.0 URLs (GET-all from the hub: TO = the hub)...
            response = await member.send("GET", "locations", "SENDER", to=again.ref)
            assert response.json()["status_code"] == 1000
            # ... and not on the 2.2.1 ones.
            async with network.client() as client:
                wrong = await client.get(
                    "http://hub.test/ocpi/2.2.1/sender/locations",
                    headers={
                        "Authorization": encode_authorization(member.token_c or ""),
                        "OCPI-from-country-code": "BE",
                        "OCPI-from-party-id": "NXT",
                    },
                )
            assert wrong.status_code == 404
        finally:
            await member.http.aclose()
            await again.stop()
    finally:
        next(urls, None)  # the database's clean-up (PostgreSQL: dropped)


def _sqlite(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path}/restart.db"


# --- broadcasts ---------------------------------------------------------------------------
async def test_a_2_3_0_cpos_location_broadcast_reaches_a_2_2_1_emsp_without_what_2_2_1_lacks(
    mixed: Mixed,
) -> None:
    response = await mixed.cpo3.send(
        "PUT", "locations", "RECEIVER", "/FR/NEW/LOC9", location_v230(), to=mixed.fed.hub.ref
    )
    assert response.json()["status_code"] == 1000
    assert response.status_code == 201
    await mixed.fed.settle()

    # The 2.2.1 eMSP has a valid 2.2.1 Location: the MCS EVSE and the parking are left out.
    received = mixed.fed.emsp.locations[(NEW_CPO.country_code, NEW_CPO.party_id, "LOC9")]
    assert isinstance(received, v221.Location)
    assert [e.uid for e in received.evses or []] == ["3256"]
    pushed = next(r for r in mixed.fed.emsp.received if r.path.endswith("/FR/NEW/LOC9"))
    assert "parking_places" not in pushed.body and "help_phone" not in pushed.body
    assert "parking" not in pushed.body["evses"][0]

    # The losses are noted on the sender's log line.
    inbound = [
        m
        for m in await mixed.messages(party="FR/NEW")
        if m["hop"] == "inbound" and m["method"] == "PUT"
    ]
    note = inbound[-1]["note"]
    assert "broadcast to" in note
    assert "translated OCPI 2.3.0 → 2.2.1" in note
    assert "parking_places" in note and "evses.1" in note


async def test_a_2_2_1_cpos_location_broadcast_reaches_a_2_3_0_emsp_as_2_3_0(mixed: Mixed) -> None:
    tariff = f.tariff("12")
    await mixed.fed.cpo.push_tariff(tariff)
    await mixed.fed.cpo.push_location(f.location("LOC1"))
    await mixed.fed.settle()
    by_path = {r.path: r for r in mixed.emsp3.received if r.method == "PUT"}
    location = v230.Location.model_validate(by_path["/receiver/locations/DE/CPB/LOC1"].body)
    assert location.id == "LOC1"
    pushed_tariff = by_path["/receiver/tariffs/DE/CPB/12"].body
    # Carried up: a 2.2.1 tariff's prices exclude VAT, so 2.3.0 says tax_included NO.
    assert pushed_tariff["tax_included"] == "NO"
    v230.Tariff.model_validate(pushed_tariff)
    # FROM = the hub, TO = the receiver, as for any broadcast.
    headers = by_path["/receiver/locations/DE/CPB/LOC1"].headers
    assert (headers["ocpi-to-country-code"], headers["ocpi-to-party-id"]) == ("BE", "NXT")
    # The 2.2.1 eMSP gets the CPO's bytes untouched (no translation between 2.2.1 members).
    sent = next(r for r in mixed.fed.emsp.received if r.path.endswith("/tariffs/DE/CPB/12"))
    assert "tax_included" not in sent.body
    assert json.loads(sent.raw_body) == tariff.to_json()


async def test_a_tariff_with_taxes_included_is_refused_toward_2_2_1_with_a_clear_message(
    mixed: Mixed,
) -> None:
    direct = await mixed.cpo3.send(
        "PUT", "tariffs", "RECEIVER", "/FR/NEW/T9", tariff_v230("YES"), to=EMSP
    )
    body = direct.json()
    assert body["status_code"] == 2001
    assert "tax_included" in body["status_message"]
    assert "2.2.1" in body["status_message"]
    # As a broadcast too: the hub keeps its copies in 2.2.1 (docs/hub.md).
    broadcast = await mixed.cpo3.send(
        "PUT", "tariffs", "RECEIVER", "/FR/NEW/T9", tariff_v230("YES"), to=mixed.fed.hub.ref
    )
    assert broadcast.json()["status_code"] == 2001
    await mixed.fed.settle()
    assert not any("/T9" in r.path for r in mixed.fed.emsp.received)
    assert not any("/T9" in r.path for r in mixed.emsp3.received)
    refused = [m for m in await mixed.messages(party="FR/NEW") if m["ocpi_status"] == 2001]
    assert len(refused) == 2 and all("tax_included" in m["note"] for m in refused)
    # NO is carried.
    accepted = await mixed.cpo3.send(
        "PUT", "tariffs", "RECEIVER", "/FR/NEW/T9", tariff_v230("NO"), to=EMSP
    )
    assert accepted.json()["status_code"] == 1000


# --- routed requests and their answers ------------------------------------------------
async def test_a_2_3_0_emsps_get_of_a_2_2_1_cpos_objects_gets_2_3_0_answers(mixed: Mixed) -> None:
    mixed.fed.cpo.locations[mixed.fed.cpo.own_key("LOC1")] = f.location("LOC1")
    mixed.fed.cpo.tariffs[mixed.fed.cpo.own_key("12")] = f.tariff("12")
    one = await mixed.emsp3.send("GET", "locations", "SENDER", "/LOC1", to=CPO)
    assert one.json()["status_code"] == 1000
    assert v230.Location.model_validate(one.json()["data"]).id == "LOC1"
    listed = await mixed.emsp3.send("GET", "tariffs", "SENDER", to=CPO)
    tariffs = listed.json()["data"]
    assert [t["id"] for t in tariffs] == ["12"]
    assert tariffs[0]["tax_included"] == "NO"
    assert tariffs[0]["elements"][0]["price_components"][0]["price"] == 0.25
    # The CPO got a plain 2.2.1 request, addressed from the 2.3.0 eMSP.
    asked = mixed.fed.cpo.received[-1]
    assert asked.routing.from_ == NEW_EMSP


async def test_a_2_2_1_emsps_get_of_a_2_3_0_cpos_location_is_carried_down_with_a_note(
    mixed: Mixed,
) -> None:
    mixed.cpo3.answers[("GET", "/sender/locations/LOC9")] = location_v230()
    response = await mixed.fed.emsp.send(
        "GET",
        join_url(
            mixed.fed.emsp.hub_endpoint(v221.ModuleID.LOCATIONS, v221.InterfaceRole.SENDER), "LOC9"
        ),
        to=NEW_CPO,
    )
    location = response.parse(v221.Location)
    assert [e.uid for e in location.evses or []] == ["3256"]
    lines = [m for m in await mixed.messages(party="NL/EMA") if m["hop"] == "inbound"]
    assert "translated OCPI 2.3.0 → 2.2.1" in lines[-1]["note"]
    assert "parking_places" in lines[-1]["note"]


async def test_the_hubs_list_is_carried_up_for_a_2_3_0_member(mixed: Mixed) -> None:
    await mixed.fed.cpo.push_tariff(f.tariff("12"))
    await mixed.fed.settle()
    response = await mixed.emsp3.send("GET", "tariffs", "SENDER", to=mixed.fed.hub.ref)
    tariffs = response.json()["data"]
    assert [t["id"] for t in tariffs] == ["12"] and tariffs[0]["tax_included"] == "NO"


# --- commands and their results --------------------------------------------------------
async def test_a_2_3_0_emsps_start_session_reaches_a_2_2_1_cpo_and_its_result_comes_back(
    mixed: Mixed,
) -> None:
    mixed.fed.cpo.locations[mixed.fed.cpo.own_key("LOC1")] = f.location("LOC1")
    token = {**f.token(party=NEW_EMSP).to_json(), "type": "EMAID"}
    own_url = "http://emsp3.test/ocpi/2.3.0/sender/commands/START_SESSION/c1"
    command = {
        "response_url": own_url,
        "token": token,
        "location_id": "LOC1",
        "evse_uid": "3256",
    }
    response = await mixed.emsp3.send(
        "POST", "commands", "RECEIVER", "/START_SESSION", command, to=CPO
    )
    assert response.json()["status_code"] == 1000
    assert response.json()["data"]["result"] == "ACCEPTED"
    await mixed.fed.settle()
    received = mixed.fed.cpo.commands_received[-1].body
    assert isinstance(received, v221.StartSession)
    # EMAID is 2.3.0's: carried as OTHER; the response_url is the hub's, in 2.2.1 URLs.
    assert received.token.type == v221.TokenType.OTHER
    assert received.response_url.startswith("http://hub.test/ocpi/2.2.1/sender/commands/")
    # The CPO's CommandResult reached the 2.3.0 eMSP at its own response_url.
    results = [r for r in mixed.emsp3.received if r.path == "/sender/commands/START_SESSION/c1"]
    assert [r.body["result"] for r in results] == ["ACCEPTED"]
    # The loss is noted on the eMSP's line (carried down to 2.2.1, which the CPO speaks).
    inbound = [
        m
        for m in await mixed.messages(module="commands", party="BE/NXT")
        if m["hop"] == "inbound" and m["path"].endswith("/START_SESSION")
    ]
    assert "token.type" in inbound[-1]["note"] and "EMAID" in inbound[-1]["note"]


async def test_a_2_2_1_emsps_command_to_a_2_3_0_cpo_gets_a_2_3_0_response_url(
    mixed: Mixed,
) -> None:
    mixed.cpo3.answers[("POST", "/receiver/commands/START_SESSION")] = {
        "result": "ACCEPTED",
        "timeout": 30,
    }
    response = await mixed.fed.emsp.start_session("LOC9", "3256", f.token(), to=NEW_CPO)
    assert response.result.value == "ACCEPTED"
    uid = mixed.fed.emsp.last_command_uid
    assert uid is not None
    sent = next(r for r in mixed.cpo3.received if r.path == "/receiver/commands/START_SESSION")
    v230.StartSession.model_validate(sent.body)
    hub_url = sent.body["response_url"]
    assert hub_url.startswith("http://hub.test/ocpi/2.3.0/sender/commands/START_SESSION/")
    # The 2.3.0 CPO posts its result to the hub's URL (its 2.3.0 path): the eMSP gets it.
    path = hub_url.removeprefix("http://hub.test/ocpi/2.3.0/sender/commands")
    posted = await mixed.cpo3.send(
        "POST", "commands", "SENDER", path, {"result": "ACCEPTED"}, to=EMSP
    )
    assert posted.json()["status_code"] == 1000
    result = await mixed.fed.emsp.wait_for_command_result(uid)
    assert result.result.value == "ACCEPTED"


# --- session trace -------------------------------------------------------------------
async def test_a_lossy_session_is_noted_in_the_session_trace(mixed: Mixed) -> None:
    session = f.session("S9", party=NEW_CPO).to_json()
    session["cdr_token"] = {**session["cdr_token"], "country_code": "NL", "party_id": "EMA"}
    session["total_cost"] = {
        "before_taxes": 10,
        "taxes": [{"name": "VAT", "amount": 2}, {"name": "City tax", "amount": 1}],
    }
    v230.Session.model_validate(session)
    response = await mixed.cpo3.send("PUT", "sessions", "RECEIVER", "/FR/NEW/S9", session, to=EMSP)
    assert response.json()["status_code"] == 1000
    stored = mixed.fed.emsp.sessions[("FR", "NEW", "S9")]
    assert stored.total_cost is not None and stored.total_cost.incl_vat == 13
    trace = await mixed.messages(session="S9")
    inbound = [m for m in trace if m["hop"] == "inbound"]
    assert inbound and "total_cost.taxes" in inbound[-1]["note"]


async def test_a_broadcast_a_receiver_cannot_carry_goes_to_the_others_with_a_note(
    mixed: Mixed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Carrying up from 2.2.1 to 2.3.0 never fails today; a version whose up-translation can
    (2.1.1) must not block a broadcast for everyone: the receivers that can carry it get it,
    the others get a line in the log. Simulated here with a tariff translation that refuses."""

    def refuse(_tariff: object, _situation: object) -> Translated[object]:
        raise Untranslatable("elements", "this receiver's version cannot carry it")

    codecs = cast(dict[str, Codec], V230.codecs)
    monkeypatch.setitem(codecs, "tariff", replace(codecs["tariff"], up=refuse))
    response = await mixed.fed.cpo.push_tariff(f.tariff("12"))
    assert response.status_code == 1000
    await mixed.fed.settle()
    assert any(r.path.endswith("/tariffs/DE/CPB/12") for r in mixed.fed.emsp.received)
    assert not any(r.path.endswith("/tariffs/DE/CPB/12") for r in mixed.emsp3.received)
    lines = [
        m
        for m in await mixed.messages(module="tariffs")
        if m["hop"] == "outbound" and m["to"] == "BE/NXT"
    ]
    assert len(lines) == 1
    assert lines[0]["note"].startswith("not delivered: ")
    assert "cannot carry it" in lines[0]["note"]


async def test_a_2_3_0_body_is_checked_against_the_2_3_0_models(mixed: Mixed) -> None:
    """2.3.0's own rule: an EVSE's parking must name one of the Location's parking places."""
    location = location_v230()
    location["evses"][0]["parking"] = [{"parking_id": "P7"}]
    response = await mixed.cpo3.send(
        "PUT", "locations", "RECEIVER", "/FR/NEW/LOC9", location, to=mixed.fed.hub.ref
    )
    body = response.json()
    assert body["status_code"] == 2001
    assert "P7" in body["status_message"] and "2.3.0" in body["status_message"]
    await mixed.fed.settle()
    assert not any("LOC9" in r.path for r in mixed.fed.emsp.received)


async def test_an_answer_that_is_no_object_of_the_receivers_version_is_4000(
    mixed: Mixed,
) -> None:
    mixed.cpo3.answers[("GET", "/sender/locations/LOC9")] = {"id": "LOC9"}
    with pytest.raises(OcpiError) as refused:
        await mixed.fed.emsp.send(
            "GET",
            join_url(
                mixed.fed.emsp.hub_endpoint(v221.ModuleID.LOCATIONS, v221.InterfaceRole.SENDER),
                "LOC9",
            ),
            to=NEW_CPO,
        )
    assert refused.value.status_code == 4000
    assert "cannot be carried to OCPI 2.2.1" in refused.value.message


# --- CDRs, settlement and real-time authorization across versions ----------------------
async def test_a_2_3_0_cpos_cdr_reaches_a_2_2_1_emsp_counts_in_settlement_and_reads_back(
    mixed: Mixed,
) -> None:
    cdr = t230.cdr_to_v230(f.cdr("CDR9", party=NEW_CPO)).value.to_json()
    assert cdr["total_cost"] == {
        "before_taxes": 5.0,
        "taxes": [{"name": "VAT", "amount": 0.5}],
    }
    response = await mixed.cpo3.send("POST", "cdrs", "RECEIVER", "", cdr, to=EMSP)
    assert response.json()["status_code"] == 1000
    # The eMSP has the CDR in 2.2.1 (excl/incl VAT), the hub counts it in settlement.
    stored = mixed.fed.emsp.cdrs[("FR", "NEW", "CDR9")]
    assert stored.total_cost.excl_vat == 5 and stored.total_cost.incl_vat == Decimal("5.5")
    await mixed.fed.hub.drain()
    lines = await mixed.fed.admin("settlement")
    assert [
        (line["emsp"], line["cpo"], line["cdr_count"], line["excl_vat"], line["incl_vat"])
        for line in lines
    ] == [("NL/EMA", "FR/NEW", 1, "5.0", "5.5")]
    # The Location the CPO got is a hub URL in 2.3.0; what it reads there is a 2.3.0 CDR.
    location = response.headers["location"]
    assert location.startswith("http://hub.test/ocpi/2.3.0/receiver/cdrs/")
    read = await mixed.cpo3.send(
        "GET",
        "cdrs",
        "RECEIVER",
        location.removeprefix("http://hub.test/ocpi/2.3.0/receiver/cdrs"),
        to=EMSP,
    )
    again = v230.CDR.model_validate(read.json()["data"])
    assert again.total_cost.before_taxes == 5


async def test_a_2_3_0_emsps_authorization_is_carried_down_for_a_2_2_1_cpo(mixed: Mixed) -> None:
    token = {**f.token("EMA1", party=NEW_EMSP).to_json(), "type": "EMAID"}
    mixed.emsp3.answers[("POST", "/sender/tokens/EMA1/authorize?type=EMAID")] = {
        "allowed": "ALLOWED",
        "token": token,
        "authorization_reference": "AUTH1",
    }
    url = join_url(
        mixed.fed.cpo.hub_endpoint(v221.ModuleID.TOKENS, v221.InterfaceRole.SENDER),
        "EMA1",
        "authorize",
    )
    response = await mixed.fed.cpo.send("POST", url, to=NEW_EMSP, params={"type": "EMAID"})
    info = response.parse(v221.AuthorizationInfo)
    assert info.token.type == v221.TokenType.OTHER and info.authorization_reference == "AUTH1"
    lines = [m for m in await mixed.messages(party="DE/CPB") if m["module"] == "tokens"]
    assert "token.type" in lines[-1]["note"]


async def test_a_credentials_put_at_the_2_3_0_endpoint_switches_a_member_to_2_3_0(
    mixed: Mixed,
) -> None:
    member = V230Member(
        Role.EMSP,
        PartyRef("IT", "SWI"),
        "http://swi.test",
        mixed.fed.network.client(),
        versions=("2.2.1", "2.3.0"),
    )
    mixed.fed.network.add("swi.test", member.app)

    async def version_at_hub() -> str:
        parties = await mixed.fed.admin("parties")
        return str(next(p["version"] for p in parties if p["party_id"] == "SWI"))

    try:
        first = await member.register(
            "http://hub.test/ocpi/versions",
            invite(mixed.fed.hub, (Role.EMSP, member.party)),
            version="2.2.1",
        )
        assert [r["role"] for r in first.json()["data"]["roles"]] == ["HUB"]
        assert await version_at_hub() == "2.2.1"
        await mixed.fed.cpo.push_tariff(f.tariff("12"))
        await mixed.fed.settle()
        as_221 = [r for r in member.received if r.path == "/receiver/tariffs/DE/CPB/12"]
        assert [(r.version, "tax_included" in r.body) for r in as_221] == [("2.2.1", False)]

        old_token = member.token_c
        switched = await member.update_credentials("2.3.0")
        assert switched.json()["status_code"] == 1000, switched.json()
        assert member.hub_credentials is not None
        assert member.hub_credentials.hub_party_id == "EUHUB"
        assert member.token_c != old_token
        assert await version_at_hub() == "2.3.0"
        await mixed.fed.cpo.push_tariff(f.tariff("12"))
        await mixed.fed.settle()
        as_230 = [r for r in member.received if r.path == "/receiver/tariffs/DE/CPB/12"][1:]
        assert [(r.version, r.body.get("tax_included")) for r in as_230] == [("2.3.0", "NO")]
    finally:
        await member.http.aclose()


# --- the pure parts: which object a message carries, carrying parts of a Location -------
@pytest.mark.parametrize(
    ("module", "interface", "method", "segments", "kind"),
    [
        ("locations", "RECEIVER", "PUT", ("FR", "NEW", "L"), "location"),
        ("locations", "RECEIVER", "PUT", ("FR", "NEW", "L", "E"), "evse"),
        ("locations", "RECEIVER", "PATCH", ("FR", "NEW", "L", "E", "1"), "connector_patch"),
        ("tariffs", "RECEIVER", "PUT", ("FR", "NEW", "T"), "tariff"),
        ("tariffs", "RECEIVER", "DELETE", ("FR", "NEW", "T"), None),
        ("tokens", "RECEIVER", "PATCH", ("BE", "NXT", "U"), "token_patch"),
        ("sessions", "RECEIVER", "PUT", ("FR", "NEW", "S"), "session"),
        ("sessions", "SENDER", "PUT", ("S", "charging_preferences"), None),
        ("cdrs", "RECEIVER", "POST", (), "cdr"),
        ("commands", "RECEIVER", "POST", ("START_SESSION",), "start_session"),
        ("commands", "RECEIVER", "POST", ("RESERVE_NOW",), "reserve_now"),
        ("commands", "RECEIVER", "POST", ("STOP_SESSION",), "stop_session"),
        ("commands", "RECEIVER", "POST", ("CANCEL_RESERVATION",), "cancel_reservation"),
        ("commands", "SENDER", "POST", ("START_SESSION", "uid"), None),
        ("tokens", "SENDER", "POST", ("U", "authorize"), "location_references"),
        ("tokens", "SENDER", "GET", (), None),
    ],
)
def test_request_kind(
    module: str, interface: str, method: str, segments: tuple[str, ...], kind: str | None
) -> None:
    assert (
        request_kind(v221.ModuleID(module), v221.InterfaceRole(interface), method, segments) == kind
    )


@pytest.mark.parametrize(
    ("module", "interface", "method", "segments", "kind"),
    [
        ("locations", "SENDER", "GET", (), ("location", True)),
        ("locations", "SENDER", "GET", ("L", "E"), ("evse", False)),
        ("locations", "RECEIVER", "GET", ("FR", "NEW", "L", "E", "1"), ("connector", False)),
        ("tariffs", "SENDER", "GET", (), ("tariff", True)),
        ("tokens", "RECEIVER", "GET", ("BE", "NXT", "U"), ("token", False)),
        ("tokens", "SENDER", "POST", ("U", "authorize"), ("authorization_info", False)),
        ("commands", "RECEIVER", "POST", ("START_SESSION",), ("command_response", False)),
        ("commands", "RECEIVER", "GET", ("START_SESSION",), None),
        ("sessions", "RECEIVER", "PUT", ("FR", "NEW", "S"), None),
    ],
)
def test_response_kind(
    module: str,
    interface: str,
    method: str,
    segments: tuple[str, ...],
    kind: tuple[str, bool] | None,
) -> None:
    found = response_kind(v221.ModuleID(module), v221.InterfaceRole(interface), method, segments)
    assert found == kind


def test_an_evse_keeps_the_connectors_2_2_1_knows_and_a_lone_mcs_connector_is_refused() -> None:
    evse = location_v230()["evses"][0]
    evse["connectors"].append({**evse["connectors"][0], "id": "9", "standard": "MCS"})
    carried = carry("evse", evse, "2.3.0", PIVOT)
    assert [c["id"] for c in carried.value["connectors"]] == ["1"]
    assert "parking" not in carried.value
    assert {loss.path for loss in carried.lost} == {
        "2.3.0 → 2.2.1: parking",
        "2.3.0 → 2.2.1: connectors.1",
    }
    v221.EVSE.model_validate(carried.value)
    with pytest.raises(Untranslatable, match="MCS"):
        carry("connector", evse["connectors"][1], "2.3.0", PIVOT)
    # Up, nothing is lost, and the same version is not touched at all.
    assert carry("evse", carried.value, PIVOT, "2.3.0").lost == ()
    assert carry("evse", evse, "2.3.0", "2.3.0").value is evse
