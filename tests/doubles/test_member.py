"""The member double behaves like an OCPI 2.2.1 CPO / eMSP platform behind a hub.

A `FakeHub` (an httpx MockTransport handler) plays the hub's side: it answers versions,
details and credentials (calling the double back as a real hub would) and captures every
request the double makes. The double itself is reached in-process through ASGITransport.
"""

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ocpi.client import OcpiClient
from ocpi.envelope import encode_envelope
from ocpi.errors import UnknownLocation
from ocpi.headers import PartyRef, RoutingHeaders, encode_authorization, token_candidates
from ocpi.v221 import (
    CommandResultType,
    InterfaceRole,
    Location,
    ModuleID,
    Role,
    SessionStatus,
    Status,
    Token,
    TokenType,
)
from ocpi.v221.types import format_datetime
from tests.doubles import factories
from tests.doubles.member import (
    HostRouter,
    Member,
    MemberConfig,
    create_member_app,
    member_of,
    object_key,
    token_key,
)
from tests.processes import free_port, running

HUB = factories.HUB
CPO = factories.CPO
EMSP = factories.EMSP
HUB_BASE = "http://hub.test"
HUB_VERSIONS = f"{HUB_BASE}/ocpi/versions"
HUB_CREDENTIALS = f"{HUB_BASE}/ocpi/2.2.1/credentials"
FUNCTIONAL = ("cdrs", "commands", "locations", "sessions", "tariffs", "tokens")


def hub_url(role: InterfaceRole, module: str) -> str:
    return f"{HUB_BASE}/ocpi/{role.value.lower()}/2.2.1/{module}"


HUB_ENDPOINTS = [
    {"identifier": "credentials", "role": "SENDER", "url": HUB_CREDENTIALS},
    {"identifier": "hubclientinfo", "role": "SENDER", "url": hub_url(InterfaceRole.SENDER, "hci")},
    *(
        {"identifier": module, "role": role.value, "url": hub_url(role, module)}
        for module in FUNCTIONAL
        for role in InterfaceRole
    ),
]


def ok(data: Any = None, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=encode_envelope(data), headers=headers)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": encode_authorization(token)}


def sent_token(request: httpx.Request) -> str:
    return token_candidates(request.headers["Authorization"])[0]


class FakeHub:
    """The hub's side of the wire, as a MockTransport handler that records every request."""

    def __init__(self, member: Member) -> None:
        self.token_a = "token-a-for-the-member"
        self.requests: list[httpx.Request] = []
        self.member_tokens: list[str] = []
        self.issued: list[str] = []
        self.callbacks: list[httpx.Response] = []
        self.replies: dict[str, httpx.Response] = {}
        self.member_http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=member.app), base_url=member.base_url
        )

    def credentials(self, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": HUB_VERSIONS,
            "roles": [
                {
                    "role": "HUB",
                    "country_code": HUB.country_code,
                    "party_id": HUB.party_id,
                    "business_details": {"name": "Fake hub"},
                }
            ],
        }

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/ocpi/versions":
            return ok([{"version": "2.2.1", "url": f"{HUB_BASE}/ocpi/2.2.1"}])
        if path == "/ocpi/2.2.1":
            return ok({"version": "2.2.1", "endpoints": HUB_ENDPOINTS})
        if path == "/ocpi/2.2.1/credentials" and request.method in ("POST", "PUT"):
            theirs = json.loads(request.content)
            # Like a real hub: fetch the member's versions with its new token before answering.
            check = await self.member_http.get(theirs["url"], headers=auth(theirs["token"]))
            self.callbacks.append(check)
            self.member_tokens.append(theirs["token"])
            self.issued.append(f"token-c-{len(self.issued)}")
            return ok(self.credentials(self.issued[-1]))
        return self.replies.get(path) or ok()

    def last(self, method: str, path_part: str = "") -> httpx.Request:
        found = [r for r in self.requests if r.method == method and path_part in str(r.url)]
        assert found, f"the hub got no {method} {path_part}"
        return found[-1]

    async def aclose(self) -> None:
        await self.member_http.aclose()


@dataclass
class Rig:
    """A double registered with a FakeHub, and an httpx client that calls it as the hub."""

    member: Member
    hub: FakeHub
    http: httpx.AsyncClient

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        sender: PartyRef | None = HUB,
        to: PartyRef | None = None,
        token: str | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A request to the double with the hub's token and routing (FROM=sender, TO=it)."""
        out = auth(token or self.member.issued_token or "")
        if sender is not None:
            routing = RoutingHeaders(to=to or self.member.party, from_=sender)
            out.update(routing.to_headers())
        out.update(headers or {})
        return await self.http.request(method, path, json=body, params=params, headers=out)

    def path(self, module: ModuleID, *parts: str) -> str:
        return "/".join([self.member.module_path(module), *parts])


async def connect(role: Role, party: PartyRef) -> Rig:
    member = Member(
        MemberConfig(
            role=role,
            party=party,
            base_url=f"http://{party.party_id.lower()}.test",
            command_result_delay=0,
        )
    )
    hub = FakeHub(member)
    await member.register(
        HUB_VERSIONS, hub.token_a, http=httpx.AsyncClient(transport=httpx.MockTransport(hub.handle))
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=member.app), base_url=member.base_url
    )
    return Rig(member, hub, client)


async def close(rig: Rig) -> None:
    await rig.member.drain()
    await rig.http.aclose()
    await rig.hub.aclose()
    if rig.member.http is not None:
        await rig.member.http.aclose()


@pytest.fixture
async def cpo() -> AsyncIterator[Rig]:
    rig = await connect(Role.CPO, CPO)
    yield rig
    await close(rig)


@pytest.fixture
async def emsp() -> AsyncIterator[Rig]:
    rig = await connect(Role.EMSP, EMSP)
    yield rig
    await close(rig)


def body_of(response: httpx.Response, status_code: int = 1000) -> Any:
    envelope: dict[str, Any] = response.json()
    assert envelope["status_code"] == status_code, envelope
    return envelope.get("data")


# --- versions, details, authentication ----------------------------------------------------
@pytest.mark.parametrize(
    ("role", "segment", "expected"),
    [
        (
            Role.CPO,
            "cpo",
            {
                "credentials": "SENDER",
                "locations": "SENDER",
                "tariffs": "SENDER",
                "sessions": "SENDER",
                "cdrs": "SENDER",
                "tokens": "RECEIVER",
                "commands": "RECEIVER",
                "hubclientinfo": "RECEIVER",
            },
        ),
        (
            Role.EMSP,
            "emsp",
            {
                "credentials": "SENDER",
                "locations": "RECEIVER",
                "tariffs": "RECEIVER",
                "sessions": "RECEIVER",
                "cdrs": "RECEIVER",
                "tokens": "SENDER",
                "commands": "SENDER",
                "hubclientinfo": "RECEIVER",
            },
        ),
    ],
)
async def test_versions_and_details_list_each_interface_with_its_role(
    role: Role, segment: str, expected: dict[str, str]
) -> None:
    member = Member(MemberConfig(role=role, party=CPO, base_url="https://m.example/x"))
    member.accept_token_a("token-a")
    transport = httpx.ASGITransport(app=member.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://m.example") as http:
        versions = await http.get("/x/ocpi/versions", headers=auth("token-a"))
        assert body_of(versions) == [{"version": "2.2.1", "url": "https://m.example/x/ocpi/2.2.1"}]
        details = body_of(await http.get("/x/ocpi/2.2.1", headers=auth("token-a")))
    assert details["version"] == "2.2.1"
    assert {e["identifier"]: e["role"] for e in details["endpoints"]} == expected
    assert len(details["endpoints"]) == len(expected)
    for endpoint in details["endpoints"]:
        if endpoint["identifier"] == "credentials":
            assert endpoint["url"] == "https://m.example/x/ocpi/2.2.1/credentials"
        else:
            module = endpoint["identifier"]
            assert endpoint["url"] == f"https://m.example/x/ocpi/{segment}/2.2.1/{module}"


async def test_unknown_token_gets_401_and_token_a_opens_configuration_modules_only(
    emsp: Rig,
) -> None:
    emsp.member.accept_token_a("token-a")
    locations = emsp.path(ModuleID.LOCATIONS, "DE", "CPB", "LOC1")
    assert (await emsp.call("GET", "/ocpi/versions", token="guess")).status_code == 401
    assert (await emsp.call("GET", locations, token="guess")).status_code == 401
    assert (await emsp.http.get(locations)).status_code == 401
    assert (await emsp.call("GET", "/ocpi/versions", token="token-a")).status_code == 200
    assert (await emsp.call("GET", locations, token="token-a")).status_code == 401
    assert (await emsp.call("GET", locations)).status_code == 404  # the hub's token: not 401


async def test_host_router_serves_each_app_and_refuses_unknown_hosts() -> None:
    app = create_member_app(MemberConfig(role=Role.CPO, party=CPO, base_url="http://a.test"))
    member_of(app).accept_token_a("t")
    async with httpx.AsyncClient(transport=HostRouter({"http://a.test": app})) as http:
        response = await http.get("http://a.test/ocpi/versions", headers=auth("t"))
        assert response.status_code == 200
        with pytest.raises(httpx.ConnectError):
            await http.get("http://b.test/ocpi/versions")


# --- credentials, the double starts -------------------------------------------------------
async def test_member_initiated_handshake_sends_token_b_and_then_uses_token_c(cpo: Rig) -> None:
    member, hub = cpo.member, cpo.hub
    versions, details, post = hub.requests[:3]
    assert (versions.method, str(versions.url)) == ("GET", HUB_VERSIONS)
    assert (details.method, str(details.url)) == ("GET", f"{HUB_BASE}/ocpi/2.2.1")
    assert (post.method, str(post.url)) == ("POST", HUB_CREDENTIALS)
    assert {sent_token(r) for r in (versions, details, post)} == {hub.token_a}
    assert "OCPI-from-party-id" not in post.headers  # configuration modules are not routed
    sent = json.loads(post.content)
    assert sent["url"] == "http://cpb.test/ocpi/versions"
    assert sent["roles"] == [
        {
            "role": "CPO",
            "business_details": {"name": "Test double CPO DE/CPB"},
            "party_id": "CPB",
            "country_code": "DE",
        }
    ]
    # The hub could read the double's versions with B before it answered the POST.
    assert hub.callbacks[0].status_code == 200
    assert sent["token"] == member.issued_token == hub.member_tokens[0]
    assert member.peer is not None and member.peer.token == "token-c-0"
    assert member.hub_party == HUB

    await member.push_location(factories.location())
    put = hub.last("PUT")
    assert str(put.url) == hub_url(InterfaceRole.RECEIVER, "locations") + "/DE/CPB/LOC1"
    assert sent_token(put) == "token-c-0"
    assert RoutingHeaders.parse(put.headers) == RoutingHeaders(to=HUB, from_=CPO)
    assert put.headers["X-Request-ID"] and put.headers["X-Correlation-ID"]
    assert Location.model_validate_json(put.content) == factories.location()


async def test_update_credentials_rotates_both_tokens_and_unregister_ends_them(cpo: Rig) -> None:
    member, hub = cpo.member, cpo.hub
    old_b = member.issued_token
    await member.update_credentials()
    put = hub.last("PUT", "/credentials")
    assert sent_token(put) == "token-c-0"
    assert member.issued_token != old_b and member.issued_token == hub.member_tokens[-1]
    assert hub.callbacks[-1].status_code == 200  # the new B worked during the PUT
    assert member.peer is not None and member.peer.token == "token-c-1"
    assert (await cpo.call("GET", "/ocpi/versions", token=old_b)).status_code == 401

    new_b = member.issued_token
    assert new_b is not None
    await member.unregister()
    assert sent_token(hub.last("DELETE", "/credentials")) == "token-c-1"
    assert not member.is_registered
    assert (await cpo.call("GET", "/ocpi/versions", token=new_b)).status_code == 401


# --- credentials, the hub starts ----------------------------------------------------------
@pytest.fixture
async def fresh_emsp() -> AsyncIterator[tuple[Member, FakeHub, httpx.AsyncClient]]:
    member = Member(MemberConfig(role=Role.EMSP, party=EMSP, base_url="http://ema.test"))
    hub = FakeHub(member)
    member.http = httpx.AsyncClient(transport=httpx.MockTransport(hub.handle))
    member.accept_token_a("token-a")
    yield member, hub, hub.member_http
    await hub.aclose()
    await member.http.aclose()


async def test_hub_initiated_handshake_answers_with_a_new_token(
    fresh_emsp: tuple[Member, FakeHub, httpx.AsyncClient],
) -> None:
    member, hub, http = fresh_emsp
    theirs = hub.credentials("hub-token-for-ema")
    response = await http.post("/ocpi/2.2.1/credentials", json=theirs, headers=auth("token-a"))
    data = body_of(response)
    # The double fetched the hub's versions and details with the token the hub sent.
    assert [str(r.url) for r in hub.requests] == [HUB_VERSIONS, f"{HUB_BASE}/ocpi/2.2.1"]
    assert {sent_token(r) for r in hub.requests} == {"hub-token-for-ema"}
    assert data["token"] == member.issued_token != "token-a"
    assert data["url"] == "http://ema.test/ocpi/versions"
    assert data["roles"][0]["role"] == "EMSP"
    assert member.hub_party == HUB
    assert member.peer is not None and member.peer.token == "hub-token-for-ema"

    token = data["token"]
    again = await http.post("/ocpi/2.2.1/credentials", json=theirs, headers=auth(token))
    assert again.status_code == 405
    spent = await http.post("/ocpi/2.2.1/credentials", json=theirs, headers=auth("token-a"))
    assert spent.status_code == 401  # token A is spent after registration
    got = body_of(await http.get("/ocpi/2.2.1/credentials", headers=auth(token)))
    assert got["token"] == token

    rotated = body_of(await http.put("/ocpi/2.2.1/credentials", json=theirs, headers=auth(token)))
    assert rotated["token"] != token
    assert (await http.get("/ocpi/versions", headers=auth(token))).status_code == 401
    deleted = await http.delete("/ocpi/2.2.1/credentials", headers=auth(rotated["token"]))
    body_of(deleted)
    assert not member.is_registered
    gone = await http.get("/ocpi/2.2.1/credentials", headers=auth(rotated["token"]))
    assert gone.status_code == 401


async def test_credentials_put_or_delete_before_registration_gets_405(
    fresh_emsp: tuple[Member, FakeHub, httpx.AsyncClient],
) -> None:
    member, hub, http = fresh_emsp
    theirs = hub.credentials("hub-token")
    put = await http.put("/ocpi/2.2.1/credentials", json=theirs, headers=auth("token-a"))
    assert put.status_code == 405
    delete = await http.delete("/ocpi/2.2.1/credentials", headers=auth("token-a"))
    assert delete.status_code == 405
    assert not member.is_registered


async def test_hub_whose_versions_cannot_be_read_gets_3001(
    fresh_emsp: tuple[Member, FakeHub, httpx.AsyncClient],
) -> None:
    member, hub, http = fresh_emsp
    theirs = {**hub.credentials("hub-token"), "url": "http://nowhere.test/versions"}
    hub.replies["/versions"] = httpx.Response(502, text="bad gateway")
    response = await http.post("/ocpi/2.2.1/credentials", json=theirs, headers=auth("token-a"))
    assert response.json()["status_code"] == 3001
    assert "nowhere.test" in response.json()["status_message"]
    assert not member.is_registered
    assert member.token_a == "token-a"  # still usable for a second attempt


# --- routing headers ----------------------------------------------------------------------
async def test_functional_answers_carry_reversed_routing_headers(emsp: Rig) -> None:
    location = factories.location()
    response = await emsp.call(
        "PUT", emsp.path(ModuleID.LOCATIONS, "DE", "CPB", "LOC1"), location.to_json()
    )
    assert response.status_code == 201
    assert RoutingHeaders.parse(response.headers) == RoutingHeaders(to=HUB, from_=EMSP)
    missing = await emsp.call("GET", emsp.path(ModuleID.LOCATIONS, "DE", "CPB", "NOPE"))
    assert missing.status_code == 404
    assert RoutingHeaders.parse(missing.headers) == RoutingHeaders(to=HUB, from_=EMSP)


async def test_functional_request_without_routing_or_for_another_party_gets_2001(
    emsp: Rig,
) -> None:
    path = emsp.path(ModuleID.LOCATIONS, "DE", "CPB", "LOC1")
    body = factories.location().to_json()
    unrouted = await emsp.call("PUT", path, body, sender=None)
    assert unrouted.json()["status_code"] == 2001
    assert "OCPI-to-country-code" in unrouted.json()["status_message"]
    elsewhere = await emsp.call("PUT", path, body, to=PartyRef("NL", "XYZ"))
    assert "NL/XYZ" in elsewhere.json()["status_message"]
    assert elsewhere.json()["status_code"] == 2001
    assert emsp.member.locations == {}


async def test_hubclientinfo_is_stored_and_carries_no_routing_headers(cpo: Rig) -> None:
    info = factories.client_info(EMSP, role=Role.EMSP)
    path = cpo.path(ModuleID.HUBCLIENTINFO, "NL", "EMA")
    response = await cpo.call("PUT", path, info.to_json(), sender=None)
    assert response.status_code == 201
    assert "OCPI-from-party-id" not in response.headers
    assert cpo.member.client_info[("NL", "EMA")] == info
    assert body_of(await cpo.call("GET", path, sender=None))["status"] == "CONNECTED"
    wrong = await cpo.call("PUT", cpo.path(ModuleID.HUBCLIENTINFO, "NL", "XXX"), info.to_json())
    assert wrong.json()["status_code"] == 2001


# --- eMSP receivers -----------------------------------------------------------------------
async def test_location_put_patch_get_keeps_parent_last_updated_current(emsp: Rig) -> None:
    location_path = emsp.path(ModuleID.LOCATIONS, "DE", "CPB", "LOC1")
    first = await emsp.call("PUT", location_path, factories.location().to_json())
    again = await emsp.call("PUT", location_path, factories.location().to_json())
    assert (first.status_code, again.status_code) == (201, 200)

    stamp = "2024-06-01T10:00:00Z"
    patch = {"status": "CHARGING", "last_updated": stamp}
    body_of(await emsp.call("PATCH", location_path + "/3256", patch))
    stored = emsp.member.locations[object_key("DE", "CPB", "LOC1")]
    assert stored.evses is not None and stored.evses[0].status is Status.CHARGING
    assert format_datetime(stored.evses[0].last_updated) == stamp
    assert format_datetime(stored.last_updated) == stamp
    assert stored.evses[0].connectors[0].tariff_ids == ["12"]  # untouched by the PATCH

    later = "2024-06-01T11:00:00Z"
    connector_patch = {"tariff_ids": ["13"], "last_updated": later}
    body_of(await emsp.call("PATCH", location_path + "/3256/1", connector_patch))
    got = body_of(await emsp.call("GET", location_path))
    assert got["last_updated"] == later
    assert got["evses"][0]["last_updated"] == later
    assert got["evses"][0]["connectors"][0]["tariff_ids"] == ["13"]

    new_evse = factories.evse("3257", last_updated=factories.T0).to_json()
    assert (await emsp.call("PUT", location_path + "/3257", new_evse)).status_code == 201
    evse = body_of(await emsp.call("GET", location_path + "/3257"))
    assert evse["uid"] == "3257"
    assert body_of(await emsp.call("GET", location_path))["last_updated"] == evse["last_updated"]
    connector = body_of(await emsp.call("GET", location_path + "/3257/1"))
    assert connector["id"] == "1"

    renamed = {"name": "Renamed", "last_updated": "2024-06-02T00:00:00Z"}
    body_of(await emsp.call("PATCH", location_path, renamed))
    assert emsp.member.locations[object_key("DE", "CPB", "LOC1")].name == "Renamed"


@pytest.mark.parametrize(
    ("url_party", "location_id", "message"),
    [
        (("NL", "TNM"), "LOC1", "country_code in the URL"),
        (("DE", "CPX"), "LOC1", "party_id in the URL"),
        (("DE", "CPB"), "LOC2", "location_id in the URL"),
    ],
)
async def test_location_url_differing_from_body_gets_2001(
    emsp: Rig, url_party: tuple[str, str], location_id: str, message: str
) -> None:
    path = emsp.path(ModuleID.LOCATIONS, *url_party, location_id)
    response = await emsp.call("PUT", path, factories.location().to_json())
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert message in response.json()["status_message"]
    assert emsp.member.locations == {}


async def test_patch_without_last_updated_gets_2001(emsp: Rig) -> None:
    path = emsp.path(ModuleID.LOCATIONS, "DE", "CPB", "LOC1")
    await emsp.call("PUT", path, factories.location().to_json())
    response = await emsp.call("PATCH", path + "/3256", {"status": "CHARGING"})
    assert response.json()["status_code"] == 2001
    assert "last_updated" in response.json()["status_message"]
    stored = emsp.member.locations[object_key("DE", "CPB", "LOC1")]
    assert stored.evses is not None and stored.evses[0].status is Status.AVAILABLE
    unknown = await emsp.call(
        "PATCH", path + "/9999", {"status": "CHARGING", "last_updated": "2024-06-01T00:00:00Z"}
    )
    assert unknown.status_code == 404


async def test_tariff_put_get_delete(emsp: Rig) -> None:
    path = emsp.path(ModuleID.TARIFFS, "DE", "CPB", "12")
    assert (await emsp.call("PUT", path, factories.tariff().to_json())).status_code == 201
    assert body_of(await emsp.call("GET", path))["id"] == "12"
    body_of(await emsp.call("DELETE", path))
    assert (await emsp.call("GET", path)).status_code == 404
    assert emsp.member.tariffs == {}


async def test_session_patch_appends_charging_periods(emsp: Rig) -> None:
    path = emsp.path(ModuleID.SESSIONS, "DE", "CPB", "S-1001")
    session = factories.session().model_copy(
        update={"charging_periods": [factories.charging_period()]}
    )
    assert (await emsp.call("PUT", path, session.to_json())).status_code == 201
    period = factories.charging_period(factories.T0.replace(hour=13), kwh=Decimal("5"))
    patch = {
        "kwh": 15,
        "status": "COMPLETED",
        "charging_periods": [period.to_json()],
        "last_updated": "2024-05-01T14:00:00Z",
    }
    body_of(await emsp.call("PATCH", path, patch))
    stored = emsp.member.sessions[object_key("DE", "CPB", "S-1001")]
    assert stored.charging_periods is not None
    assert [p.start_date_time.hour for p in stored.charging_periods] == [12, 13]
    assert stored.status is SessionStatus.COMPLETED
    assert stored.kwh == 15
    # An empty list appends nothing (a PUT is the way to replace periods).
    body_of(
        await emsp.call(
            "PATCH", path, {"charging_periods": [], "last_updated": patch["last_updated"]}
        )
    )
    assert len(emsp.member.sessions[object_key("DE", "CPB", "S-1001")].charging_periods or []) == 2


async def test_cdr_post_answers_201_with_a_location_that_serves_the_cdr(emsp: Rig) -> None:
    cdr = factories.cdr()
    response = await emsp.call("POST", emsp.path(ModuleID.CDRS), cdr.to_json(), sender=CPO)
    assert response.status_code == 201
    body_of(response)
    location = response.headers["Location"]
    assert location == "http://ema.test/ocpi/emsp/2.2.1/cdrs/CDR-1001"
    got = await emsp.call("GET", httpx.URL(location).path, sender=CPO)
    assert body_of(got)["id"] == "CDR-1001"
    assert RoutingHeaders.parse(got.headers) == RoutingHeaders(to=CPO, from_=EMSP)
    duplicate = await emsp.call("POST", emsp.path(ModuleID.CDRS), cdr.to_json(), sender=CPO)
    assert duplicate.json()["status_code"] == 2001
    assert emsp.member.cdrs == {object_key("DE", "CPB", "CDR-1001"): cdr}


# --- eMSP senders -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("token", "allowed"),
    [(factories.token(), "ALLOWED"), (factories.token(valid=False), "BLOCKED")],
)
async def test_authorize_known_tokens_answers_allowed_or_blocked(
    emsp: Rig, token: Token, allowed: str
) -> None:
    emsp.member.add_token(token)
    refs = {"location_id": "LOC1", "evse_uids": ["3256"]}
    path = emsp.path(ModuleID.TOKENS, token.uid, "authorize")
    response = await emsp.call("POST", path, refs, sender=CPO, params={"type": "APP_USER"})
    info = body_of(response)
    assert info["allowed"] == allowed
    assert info["token"]["uid"] == token.uid
    assert info["location"] == refs
    assert info["authorization_reference"]


async def test_authorize_unknown_token_gets_404_and_2004_without_data(emsp: Rig) -> None:
    emsp.member.add_token(factories.token())
    path = emsp.path(ModuleID.TOKENS, "app-7f3a", "authorize")
    # Same uid but the default type RFID: a different token.
    response = await emsp.call("POST", path, sender=CPO)
    assert response.status_code == 404
    assert response.json()["status_code"] == 2004
    assert "data" not in response.json()


async def test_token_list_is_paginated(emsp: Rig) -> None:
    for i in range(3):
        emsp.member.add_token(factories.token(f"t{i}"))
    first = await emsp.call("GET", emsp.path(ModuleID.TOKENS), sender=CPO)
    assert [t["uid"] for t in body_of(first)] == ["t0", "t1"]
    assert first.headers["X-Total-Count"] == "3"
    nxt = httpx.URL(first.headers["Link"].split(";")[0].strip("<>"))
    second = await emsp.call("GET", nxt.path, sender=CPO, params=dict(nxt.params))
    assert [t["uid"] for t in body_of(second)] == ["t2"]
    assert "Link" not in second.headers


async def test_start_session_helper_sends_the_command_and_receives_the_result(emsp: Rig) -> None:
    member, hub = emsp.member, emsp.hub
    commands = hub_url(InterfaceRole.RECEIVER, "commands")
    hub.replies[httpx.URL(commands).path + "/START_SESSION"] = ok(
        {"result": "ACCEPTED", "timeout": 30}
    )
    response = await member.start_session("LOC1", "3256", factories.token(), to=CPO)
    assert response.result.value == "ACCEPTED"
    request = hub.last("POST", "/commands/START_SESSION")
    assert str(request.url) == commands + "/START_SESSION"
    assert RoutingHeaders.parse(request.headers) == RoutingHeaders(to=CPO, from_=EMSP)
    sent = json.loads(request.content)
    uid = member.last_command_uid
    assert uid is not None
    assert sent["response_url"] == f"http://ema.test/ocpi/emsp/2.2.1/commands/START_SESSION/{uid}"
    assert sent["location_id"] == "LOC1" and sent["evse_uid"] == "3256"

    result_path = httpx.URL(sent["response_url"]).path
    body_of(await emsp.call("POST", result_path, {"result": "ACCEPTED"}, sender=CPO))
    assert (await member.wait_for_command_result(uid)).result is CommandResultType.ACCEPTED
    unknown = await emsp.call(
        "POST", result_path.replace(uid, "no-such-uid"), {"result": "ACCEPTED"}, sender=CPO
    )
    assert unknown.json()["status_code"] == 2001
    assert "no-such-uid" in unknown.json()["status_message"]


async def test_push_token_broadcasts_to_the_hub(emsp: Rig) -> None:
    await emsp.member.push_token(factories.token())
    put = emsp.hub.last("PUT", "/tokens/")
    assert put.url.path == httpx.URL(hub_url(InterfaceRole.RECEIVER, "tokens")).path + (
        "/NL/EMA/app-7f3a"
    )
    assert put.url.params["type"] == "APP_USER"
    assert RoutingHeaders.parse(put.headers) == RoutingHeaders(to=HUB, from_=EMSP)


# --- CPO ----------------------------------------------------------------------------------
async def test_start_session_is_accepted_and_the_result_posted_to_the_response_url(
    cpo: Rig,
) -> None:
    member, hub = cpo.member, cpo.hub
    member.add_location(factories.location())
    response_url = f"{HUB_BASE}/ocpi/hub/commands/START_SESSION/h-1"
    command = {
        "response_url": response_url,
        "token": factories.token().to_json(),
        "location_id": "LOC1",
        "evse_uid": "3256",
    }
    path = cpo.path(ModuleID.COMMANDS, "START_SESSION")
    response = await cpo.call("POST", path, command, sender=EMSP)
    assert body_of(response) == {"result": "ACCEPTED", "timeout": 30}
    assert RoutingHeaders.parse(response.headers) == RoutingHeaders(to=EMSP, from_=CPO)
    await member.drain()
    posted = hub.last("POST", "/START_SESSION/h-1")
    assert str(posted.url) == response_url
    assert json.loads(posted.content) == {"result": "ACCEPTED"}
    assert sent_token(posted) == "token-c-0"
    assert RoutingHeaders.parse(posted.headers) == RoutingHeaders(to=EMSP, from_=CPO)
    assert [c.status_code for c in member.command_callbacks] == [1000]


async def test_start_session_for_an_unknown_location_gets_2003_and_rejected(cpo: Rig) -> None:
    command = {
        "response_url": f"{HUB_BASE}/r/1",
        "token": factories.token().to_json(),
        "location_id": "NOWHERE",
    }
    path = cpo.path(ModuleID.COMMANDS, "START_SESSION")
    response = await cpo.call("POST", path, command, sender=EMSP)
    assert body_of(response, 2003)["result"] == "REJECTED"
    await cpo.member.drain()
    assert cpo.member.command_callbacks == []


async def test_stop_session_for_an_unknown_session_answers_unknown_session(cpo: Rig) -> None:
    command = {"response_url": f"{HUB_BASE}/r/2", "session_id": "S-404"}
    path = cpo.path(ModuleID.COMMANDS, "STOP_SESSION")
    assert body_of(await cpo.call("POST", path, command, sender=EMSP))["result"] == (
        "UNKNOWN_SESSION"
    )
    cpo.member.add_session(factories.session("S-404"))
    assert body_of(await cpo.call("POST", path, command, sender=EMSP))["result"] == "ACCEPTED"


async def test_location_list_is_paginated_with_link_to_the_double(cpo: Rig) -> None:
    for i in range(5):
        cpo.member.add_location(factories.location(f"LOC{i}"))
    first = await cpo.call("GET", cpo.path(ModuleID.LOCATIONS), sender=EMSP)
    assert [loc["id"] for loc in body_of(first)] == ["LOC0", "LOC1"]
    assert first.headers["X-Total-Count"] == "5"
    assert first.headers["X-Limit"] == "2"
    assert first.headers["Link"] == (
        '<http://cpb.test/ocpi/cpo/2.2.1/locations?offset=2&limit=2>; rel="next"'
    )
    client = OcpiClient(cpo.http, cpo.member.issued_token or "", from_party=EMSP)
    every = await client.get_all("http://cpb.test/ocpi/cpo/2.2.1/locations", Location, to=CPO)
    assert [loc.id for loc in every] == [f"LOC{i}" for i in range(5)]
    one = await cpo.call("GET", cpo.path(ModuleID.LOCATIONS, "LOC3", "3256", "1"), sender=EMSP)
    assert body_of(one)["id"] == "1"


async def test_tokens_receiver_stores_by_uid_and_type(cpo: Rig) -> None:
    token = factories.token("rfid-1", type=TokenType.RFID)
    path = cpo.path(ModuleID.TOKENS, "NL", "EMA", "rfid-1")
    assert (await cpo.call("PUT", path, token.to_json(), sender=EMSP)).status_code == 201
    wrong_type = await cpo.call(
        "PUT", path, token.to_json(), sender=EMSP, params={"type": "APP_USER"}
    )
    assert wrong_type.json()["status_code"] == 2001
    patch = {"valid": False, "last_updated": "2024-06-01T00:00:00Z"}
    body_of(await cpo.call("PATCH", path, patch, sender=EMSP))
    assert body_of(await cpo.call("GET", path, sender=EMSP))["valid"] is False
    assert cpo.member.tokens[token_key("NL", "EMA", "rfid-1", TokenType.RFID)].valid is False


async def test_cpo_helpers_route_to_the_token_owner_and_return_the_cdr_location(
    cpo: Rig,
) -> None:
    member, hub = cpo.member, cpo.hub
    cdrs = hub_url(InterfaceRole.RECEIVER, "cdrs")
    hub.replies[httpx.URL(cdrs).path] = ok(status=201, Location=f"{HUB_BASE}/c/CDR-1001")
    assert await member.post_cdr(factories.cdr()) == f"{HUB_BASE}/c/CDR-1001"
    assert RoutingHeaders.parse(hub.last("POST", "/cdrs").headers).to == EMSP

    await member.put_session(factories.session())
    await member.patch_session("S-1001", {"kwh": 3})
    patch = hub.last("PATCH", "/sessions/DE/CPB/S-1001")
    assert RoutingHeaders.parse(patch.headers) == RoutingHeaders(to=EMSP, from_=CPO)
    assert set(json.loads(patch.content)) == {"kwh", "last_updated"}
    assert member.sessions[object_key("DE", "CPB", "S-1001")].kwh == 3

    member.add_location(factories.location())
    await member.patch_evse_status("LOC1", "3256", Status.CHARGING)
    evse_patch = hub.last("PATCH", "/locations/DE/CPB/LOC1/3256")
    assert json.loads(evse_patch.content)["status"] == "CHARGING"
    assert RoutingHeaders.parse(evse_patch.headers).to == HUB
    assert [r.status_code for r in member.sent[-4:]] == [1000, 1000, 1000, 1000]


async def test_unknown_receiver_from_the_hub_is_raised_to_the_caller(emsp: Rig) -> None:
    commands = httpx.URL(hub_url(InterfaceRole.RECEIVER, "commands")).path
    hub_error = {"result": "REJECTED", "timeout": 0}
    emsp.hub.replies[commands + "/START_SESSION"] = httpx.Response(
        200, content=encode_envelope(hub_error, 2003, "unknown location")
    )
    with pytest.raises(UnknownLocation) as caught:
        await emsp.member.start_session("LOC9", None, factories.token(), to=CPO)
    assert caught.value.data == hub_error
    assert emsp.member.sent[-1].status_code == 2003


# --- recording ----------------------------------------------------------------------------
async def test_received_requests_are_recorded_with_headers_query_and_body(emsp: Rig) -> None:
    path = emsp.path(ModuleID.TARIFFS, "DE", "CPB", "12")
    await emsp.call(
        "PUT",
        path,
        factories.tariff().to_json(),
        params={"x": "1"},
        headers={"X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"},
    )
    (record,) = emsp.member.find_received("PUT", "/tariffs/")
    assert record.path == path
    assert record.query == {"x": "1"}
    assert record.header("x-request-id") == "req-1"
    assert record.header("X-Correlation-ID") == "corr-1"
    assert record.routing == RoutingHeaders(to=EMSP, from_=HUB)
    assert record.token == emsp.member.issued_token
    assert record.body["id"] == "12"
    assert record.http_status == 201


# --- as a separate process ----------------------------------------------------------------
@pytest.fixture
def served_cpo() -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["tests.doubles.member", "--role", "CPO", "--party", "DE/CPB", "--port", str(port)]
    with running([*args, "--token-a", "token-a"], f"{base}/_control/state"):
        yield base


def test_runs_as_a_process_driven_by_its_control_api(served_cpo: str) -> None:
    versions = httpx.get(f"{served_cpo}/ocpi/versions", headers=auth("token-a"))
    assert body_of(versions) == [{"version": "2.2.1", "url": f"{served_cpo}/ocpi/2.2.1"}]
    added = httpx.post(
        f"{served_cpo}/_control/add_location", json={"location": factories.location().to_json()}
    )
    assert added.status_code == 200
    state = httpx.get(f"{served_cpo}/_control/state").json()
    assert state["party"] == "DE/CPB"
    assert [loc["id"] for loc in state["locations"]] == ["LOC1"]
    assert state["registered"] is False
    assert [r["path"] for r in state["received"]] == ["/ocpi/versions"]
