"""What the hub does with pushes and bodies no honest member sends (issue 12, items 2 and 7).

A member speaks only as its own parties and reaches only what OCPI routes it to: a spoofed or
malformed direct push, dot segments in a routed URL, JSON that cannot be stored or re-emitted
(NaN, lone surrogates, deep nesting) are refused before anything is forwarded, and the
receiver gets nothing. An unusable answer from a receiver costs that one message a 4000; it
does not take the receiver OFFLINE.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from hub.forwarding import Http1Engine, ReceiverUnreachable, forward
from hub.pushes import check_push
from hub.routing import Message
from ocpi.errors import HubError
from ocpi.headers import PartyRef, encode_authorization
from ocpi.v221 import ConnectionStatus
from ocpi.v221.versions import InterfaceRole, ModuleID
from tests.doubles import factories as f
from tests.doubles.member import Member
from tests.hub import test_federation
from tests.hub.federation import Federation

CPO, EMSP = f.CPO, f.EMSP
HUB = "http://hub.test/ocpi/2.2.1"
fed = test_federation.fed  # the federation fixture: a hub and two members in one loop


def _headers(member: Member, to: PartyRef | None) -> dict[str, str]:
    assert member.peer is not None
    headers = {
        "Authorization": encode_authorization(member.peer.token),
        "OCPI-from-country-code": member.party.country_code,
        "OCPI-from-party-id": member.party.party_id,
        "Content-Type": "application/json",
    }
    if to is not None:
        headers["OCPI-to-country-code"] = to.country_code
        headers["OCPI-to-party-id"] = to.party_id
    return headers


async def _raw_path(
    fed: Federation, member: Member, method: str, path: str, body: bytes, to: PartyRef
) -> tuple[int, dict[str, Any]]:
    """Call the hub's ASGI app with the path exactly as a server hands it over (percent-decoded,
    dot segments untouched): httpx, like a browser, would resolve `..` before sending."""
    raw_path = (HUB + path).removeprefix("http://hub.test").encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode()),
        "raw_path": raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in _headers(member, to).items()]
        + [(b"host", b"hub.test")],
        "client": ("127.0.0.1", 1),
        "server": ("hub.test", 80),
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await fed.app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(content)


async def _send(
    fed: Federation,
    member: Member,
    method: str,
    path: str,
    body: Any = None,
    *,
    to: PartyRef | None = None,
    raw: bytes | None = None,
) -> httpx.Response:
    content = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    async with fed.network.client() as client:
        return await client.request(
            method, HUB + path, content=content, headers=_headers(member, to)
        )


def _envelope(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.content)  # strict: NaN would fail below
    json.dumps(body, allow_nan=False)
    return body


async def _received_nothing(fed: Federation, receiver: Member, before: int) -> None:
    await fed.settle()
    assert [(r.method, r.path) for r in receiver.received[before:]] == []


# --- item 2: direct pushes must be valid objects of the sender's own --------------------------
def _spoofed_location() -> dict[str, Any]:
    body = f.location("LOC1").to_json()
    body.update(country_code="FR", party_id="CCC")
    return body


SPOOFED = [
    pytest.param("cpo", "PUT", "/receiver/locations/DE/CPB/LOC1", _spoofed_location(), id="loc"),
    pytest.param(
        "cpo",
        "PATCH",
        "/receiver/locations/DE/CPB/LOC1",
        {"party_id": "CCC", "last_updated": "2024-05-01T12:00:00Z"},
        id="location-patch",
    ),
    pytest.param(
        "cpo",
        "PUT",
        "/receiver/sessions/DE/CPB/S1",
        {**f.session("S1").to_json(), "country_code": "FR", "party_id": "CCC"},
        id="session",
    ),
    pytest.param(
        "cpo",
        "POST",
        "/receiver/cdrs",
        {**f.cdr().to_json(), "country_code": "FR", "party_id": "CCC"},
        id="cdr",
    ),
    pytest.param(
        "cpo",
        "PUT",
        "/receiver/tariffs/DE/CPB/12",
        {**f.tariff().to_json(), "party_id": "CCC"},
        id="tariff",
    ),
    pytest.param(
        "emsp",
        "PUT",
        "/receiver/tokens/NL/EMA/RFID-1",
        {**f.token(uid="RFID-1").to_json(), "country_code": "BE"},
        id="token",
    ),
]


@pytest.mark.parametrize(("who", "method", "path", "body"), SPOOFED)
async def test_a_direct_push_of_another_partys_object_is_2001_and_never_delivered(
    fed: Federation, who: str, method: str, path: str, body: dict[str, Any]
) -> None:
    sender, receiver = (fed.cpo, fed.emsp) if who == "cpo" else (fed.emsp, fed.cpo)
    to = EMSP if who == "cpo" else CPO
    before = len(receiver.received)
    response = await _send(fed, sender, method, path, body, to=to)
    answer = _envelope(response)
    assert answer["status_code"] == 2001, answer
    assert "another party than the sender" in answer["status_message"]
    claimed = [name for name in ("country_code", "party_id") if body.get(name) not in (None,)]
    for name in claimed:
        if str(body[name]) not in (sender.party.country_code, sender.party.party_id):
            assert name in answer["status_message"]
    await _received_nothing(fed, receiver, before)
    log = await fed.admin("messages")
    assert any("another party than the sender" in row["note"] for row in log)


async def test_a_malformed_direct_push_is_2001_naming_each_field(fed: Federation) -> None:
    body = f.location("LOC1").to_json()
    body.update(country_code=31, evses="many", publish="yes")
    before = len(fed.emsp.received)
    response = await _send(fed, fed.cpo, "PUT", "/receiver/locations/DE/CPB/LOC1", body, to=EMSP)
    answer = _envelope(response)
    assert answer["status_code"] == 2001
    for field in ("country_code", "evses", "publish"):
        assert field in answer["status_message"]
    await _received_nothing(fed, fed.emsp, before)


async def test_a_malformed_direct_patch_is_2001(fed: Federation) -> None:
    before = len(fed.emsp.received)
    patch = {"status": "BROKEN", "last_updated": "2024-05-01T12:00:00Z"}
    response = await _send(
        fed, fed.cpo, "PATCH", "/receiver/locations/DE/CPB/LOC1/3256", patch, to=EMSP
    )
    answer = _envelope(response)
    assert answer["status_code"] == 2001
    assert "status" in answer["status_message"]
    await _received_nothing(fed, fed.emsp, before)


async def test_a_direct_push_with_another_id_in_the_body_is_2001(fed: Federation) -> None:
    before = len(fed.emsp.received)
    body = f.location("LOC2").to_json()
    response = await _send(fed, fed.cpo, "PUT", "/receiver/locations/DE/CPB/LOC1", body, to=EMSP)
    answer = _envelope(response)
    assert answer["status_code"] == 2001
    assert "'LOC1'" in answer["status_message"] and "'LOC2'" in answer["status_message"]
    await _received_nothing(fed, fed.emsp, before)


async def test_valid_direct_pushes_are_still_delivered(fed: Federation) -> None:
    location = f.location("LOC1").to_json()
    response = await _send(
        fed, fed.cpo, "PUT", "/receiver/locations/DE/CPB/LOC1", location, to=EMSP
    )
    assert _envelope(response)["status_code"] == 1000
    response = await _send(fed, fed.cpo, "POST", "/receiver/cdrs", f.cdr().to_json(), to=EMSP)
    assert _envelope(response)["status_code"] == 1000
    await fed.settle()
    assert fed.emsp.find_received("PUT", "/locations/DE/CPB/LOC1")
    assert fed.emsp.find_received("POST", "/cdrs")


def test_push_check_unit_owner_case_and_missing_owner() -> None:
    def message(body: Any, segments: tuple[str, ...] = ("DE", "CPB", "LOC1", "3256")) -> Message:
        return Message(
            ModuleID.LOCATIONS, InterfaceRole.RECEIVER, "PUT", segments, {}, EMSP, CPO, body
        )

    check_push(message(f.evse("3256").to_json()), CPO)  # an EVSE names no owner
    lower = {**f.location("LOC1").to_json(), "party_id": "cpb"}
    check_push(message(lower, ("DE", "CPB", "LOC1")), CPO)  # CiString: case-insensitive


# --- item 7: paths that would leave the receiver's endpoint ------------------------------------
TRAVERSALS = [
    ("emsp", "GET", "/sender/locations/../../../../secret"),
    ("emsp", "GET", "/sender/locations/%2e%2e/%2E%2E/%2e%2e/secret"),
    ("emsp", "GET", "/sender/locations/LOC1/./3256"),
    ("cpo", "PUT", "/receiver/locations/DE/CPB/LOC1/3256/1/../../../../../admin/messages"),
    ("cpo", "PUT", "/receiver/locations/DE/CPB/%2e%2e"),
]


@pytest.mark.parametrize(("who", "method", "path"), TRAVERSALS)
async def test_dot_segments_are_refused_before_forwarding(
    fed: Federation, who: str, method: str, path: str
) -> None:
    sender, receiver = (fed.cpo, fed.emsp) if who == "cpo" else (fed.emsp, fed.cpo)
    to = EMSP if who == "cpo" else CPO
    body = json.dumps(f.location("..").to_json()).encode() if method == "PUT" else b""
    before = len(receiver.received)
    status, answer = await _raw_path(fed, sender, method, path, body, to)
    assert status == 404, answer
    assert "dot segments" in answer["status_message"]
    await _received_nothing(fed, receiver, before)
    log = await fed.admin("messages")
    assert any("dot segments" in row["note"] for row in log)


# --- item 7: JSON that cannot be stored or re-emitted ---------------------------------------
async def test_deeply_nested_json_is_refused_with_2001_not_a_crash(fed: Federation) -> None:
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    for depth_body in (deep, b"[" * 100 + b"]" * 100):
        response = await _send(fed, fed.cpo, "POST", "/receiver/cdrs", to=EMSP, raw=depth_body)
        assert response.status_code == 400
        answer = _envelope(response)
        assert answer["status_code"] == 2001
        assert "nested deeper than" in answer["status_message"]


@pytest.mark.parametrize("constant", ["-Infinity", "Infinity", "NaN", "1e999"])
async def test_nan_and_infinity_are_refused_and_never_re_emitted(
    fed: Federation, constant: str
) -> None:
    body = {**f.cdr().to_json(), "total_energy": "@"}
    text = json.dumps(body).replace('"@"', constant)
    before = len(fed.emsp.received)
    response = await _send(fed, fed.cpo, "POST", "/receiver/cdrs", to=EMSP, raw=text.encode())
    answer = _envelope(response)
    assert (response.status_code, answer["status_code"]) == (400, 2001)
    await _received_nothing(fed, fed.emsp, before)
    async with fed.network.client() as client:
        listing = await client.get(
            HUB + "/sender/cdrs", headers=_headers(fed.emsp, PartyRef("EU", "HUB"))
        )
    assert constant not in listing.text
    _envelope(listing)


async def test_lone_surrogates_are_refused_and_the_log_keeps_working(fed: Federation) -> None:
    cdr = json.dumps(f.cdr().to_json()).replace("Hauptstrasse 1", "\\ud800")
    assert "\\ud800" in cdr
    response = await _send(fed, fed.cpo, "POST", "/receiver/cdrs", to=EMSP, raw=cdr.encode())
    answer = _envelope(response)
    assert answer["status_code"] == 2001
    assert "surrogate" in answer["status_message"]
    assert "address" in answer["status_message"]
    # A valid surrogate pair (an emoji) is text like any other.
    pair = json.dumps(f.cdr("CDR-2").to_json()).replace("Hauptstrasse 1", "\\ud83d\\udd0c")
    response = await _send(fed, fed.cpo, "POST", "/receiver/cdrs", to=EMSP, raw=pair.encode())
    assert _envelope(response)["status_code"] == 1000
    await fed.settle()
    assert await fed.admin("messages", module="cdrs")


async def test_a_response_url_with_a_lone_surrogate_is_refused(fed: Federation) -> None:
    await fed.cpo.push_location(f.location("LOC1"))
    await fed.settle()
    command = {
        "response_url": "http://emsp.test/cb/\\ud800",
        "token": f.token().to_json(),
        "location_id": "LOC1",
    }
    raw = json.dumps(command).replace("\\\\ud800", "\\ud800").encode()
    before = len(fed.cpo.received)
    response = await _send(
        fed, fed.emsp, "POST", "/receiver/commands/START_SESSION", to=CPO, raw=raw
    )
    assert _envelope(response)["status_code"] == 2001
    await _received_nothing(fed, fed.cpo, before)


async def test_a_response_url_that_is_not_a_url_is_refused(fed: Federation) -> None:
    command = {
        "response_url": "http://emsp.test/cb/\u0000x",
        "token": f.token().to_json(),
        "location_id": "LOC1",
    }
    before = len(fed.cpo.received)
    response = await _send(
        fed, fed.emsp, "POST", "/receiver/commands/START_SESSION", command, to=CPO
    )
    answer = _envelope(response)
    assert answer["status_code"] == 2001
    assert "response_url" in answer["status_message"]
    await _received_nothing(fed, fed.cpo, before)


async def test_an_oversized_body_is_413(fed: Federation) -> None:
    huge = b'{"x":"' + b"a" * (5 * 1024 * 1024) + b'"}'
    response = await _send(fed, fed.cpo, "POST", "/receiver/cdrs", to=EMSP, raw=huge)
    assert response.status_code == 413
    assert "larger than" in _envelope(response)["status_message"]


async def test_a_location_patch_broadcast_with_a_numeric_last_updated_is_2001(
    fed: Federation,
) -> None:
    await fed.cpo.push_location(f.location("LOC1"))
    await fed.settle()
    before = len(fed.emsp.received)
    response = await _send(
        fed,
        fed.cpo,
        "PATCH",
        "/receiver/locations/DE/CPB/LOC1",
        {"last_updated": 1700000000},
        to=PartyRef("EU", "HUB"),
    )
    answer = _envelope(response)
    assert answer["status_code"] == 2001
    assert "last_updated" in answer["status_message"]
    await _received_nothing(fed, fed.emsp, before)


# --- item 7: one unusable answer is 4000 for that message, not OFFLINE ------------------------
async def test_an_unusable_answer_is_4000_and_the_receiver_stays_connected(
    fed: Federation,
) -> None:
    fed.network.garble_next["emsp.test"] = 1
    response = await _send(fed, fed.cpo, "POST", "/receiver/cdrs", f.cdr().to_json(), to=EMSP)
    answer = _envelope(response)
    assert answer["status_code"] == 4000
    assert "no usable answer" in answer["status_message"]
    await fed.settle()
    assert fed.cpo.client_info[("NL", "EMA")].status == ConnectionStatus.CONNECTED
    response = await _send(
        fed, fed.cpo, "POST", "/receiver/cdrs", f.cdr("CDR-2").to_json(), to=EMSP
    )
    assert _envelope(response)["status_code"] == 1000


async def test_a_receiver_location_header_that_is_not_a_url_is_dropped(
    fed: Federation,
) -> None:
    async def odd_location(scope: Any, receive: Any, send: Any) -> None:
        body = b'{"status_code":1000,"timestamp":"2024-05-01T12:00:00Z"}'
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"location", b"javascript:" + b"a" * 300),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    fed.network.add("emsp.test", odd_location)
    response = await _send(fed, fed.cpo, "POST", "/receiver/cdrs", f.cdr().to_json(), to=EMSP)
    assert _envelope(response)["status_code"] == 1000
    assert "location" not in response.headers
    assert fed.hub.callbacks == {} or all(cb.kind != "cdr" for cb in fed.hub.callbacks.values())


async def test_an_answer_with_nan_is_4000_not_relayed(fed: Federation) -> None:
    async def nan_answer(scope: Any, receive: Any, send: Any) -> None:
        body = b'{"status_code":1000,"timestamp":"2024-05-01T12:00:00Z","data":{"kwh":NaN}}'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    fed.network.add("cpo.test", nan_answer)
    async with fed.network.client() as client:
        response = await client.get(
            HUB + "/sender/sessions/S1/charging_preferences", headers=_headers(fed.emsp, CPO)
        )
    assert "NaN" not in response.text
    assert _envelope(response)["status_code"] == 4000


# --- the production engine (hub/http1.py) against answers no HTTP client can use -----------------
async def _raw_server(answer: bytes) -> tuple[asyncio.Server, str]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/cdrs"


ENVELOPE = b'{"status_code":1000,"timestamp":"2024-05-01T12:00:00Z"}'


@pytest.mark.parametrize(
    "header",
    [b"Location: http://x/" + b"a" * 70_000, b"Location: http://x/\x01\x7f\x00b"],
    ids=["oversized", "control-characters"],
)
async def test_the_engine_calls_a_malformed_answer_4000_not_unreachable(header: bytes) -> None:
    answer = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        + header
        + b"\r\nContent-Length: %d\r\n\r\n" % len(ENVELOPE)
        + ENVELOPE
    )
    server, url = await _raw_server(answer)
    engine = Http1Engine()
    try:
        with pytest.raises(HubError) as caught:
            await forward(engine, "POST", url, {}, b"{}", 5)
        assert not isinstance(caught.value, ReceiverUnreachable)
        assert caught.value.status_code == 4000
        assert "not usable HTTP" in caught.value.message
        assert "\x00" not in caught.value.message and len(caught.value.message) < 400
    finally:
        await engine.aclose()
        server.close()


async def test_the_engine_calls_a_closed_port_unreachable() -> None:
    server, url = await _raw_server(b"")
    server.close()
    await server.wait_closed()
    engine = Http1Engine()
    try:
        with pytest.raises(ReceiverUnreachable) as caught:
            await forward(engine, "POST", url, {}, b"{}", 5)
        assert caught.value.status_code == 4003
    finally:
        await engine.aclose()
