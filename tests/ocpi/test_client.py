"""The async OCPI client: headers sent, envelopes unwrapped, errors raised, pages walked."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ocpi.client import DirectClient, OcpiClient, http_client
from ocpi.envelope import encode_envelope
from ocpi.errors import (
    InvalidParameters,
    MethodNotAllowed,
    NotFound,
    PeerProtocolError,
    PeerTimeout,
    PeerUnreachable,
    Unauthorized,
    UnknownReceiver,
    UnknownToken,
)
from ocpi.headers import ROUTING_HEADERS, PartyRef, token_candidates
from ocpi.pagination import PageRequest
from ocpi.v221.types import DisplayText

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, **kwargs: Any) -> OcpiClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OcpiClient(http, "secret-token", from_party=PartyRef("NL", "EMA"), **kwargs)


def _ok(data: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, content=encode_envelope(data), headers=headers)


async def test_sends_base64_token_ids_and_routing_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _ok({"language": "en", "text": "hi"})

    client = _client(handler)
    text = await client.get_object(
        "https://peer/x", DisplayText, to=PartyRef("DE", "CPB"), correlation_id="corr-1"
    )
    assert text == DisplayText(language="en", text="hi")
    request = seen[0]
    assert token_candidates(request.headers["Authorization"]) == ("secret-token",)
    assert request.headers["X-Correlation-ID"] == "corr-1"
    assert request.headers["X-Request-ID"]
    assert request.headers["OCPI-to-country-code"] == "DE"
    assert request.headers["OCPI-to-party-id"] == "CPB"
    assert request.headers["OCPI-from-country-code"] == "NL"
    assert request.headers["OCPI-from-party-id"] == "EMA"


async def test_configuration_requests_carry_no_routing_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _ok([])

    await _client(handler).get("https://peer/versions", routed=False)
    assert not any(name.lower().startswith("ocpi-") for name in seen[0].headers)


async def test_raw_token_switch_sends_the_token_unencoded() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _ok()

    await _client(handler, raw_token=True).get("https://peer/x")
    assert seen[0].headers["Authorization"] == "Token secret-token"


async def test_bodies_are_json_without_null_fields() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _ok()

    from ocpi.v221.types import Price

    await _client(handler).put("https://peer/x", Price(excl_vat=1))  # type: ignore[arg-type]
    assert seen[0].headers["Content-Type"] == "application/json"
    assert json.loads(seen[0].content) == {"excl_vat": 1.0}


@pytest.mark.parametrize(
    ("status", "http_status", "error"),
    [
        (2001, 200, InvalidParameters),
        (2004, 404, UnknownToken),
        (4001, 200, UnknownReceiver),
        (2000, 401, Unauthorized),
        (2000, 404, NotFound),
        (2000, 405, MethodNotAllowed),
    ],
)
async def test_error_envelopes_raise_typed_errors_with_the_ocpi_status(
    status: int, http_status: int, error: type[Exception]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(http_status, content=encode_envelope(None, status, "nope"))

    with pytest.raises(error) as caught:
        await _client(handler).get("https://peer/x")
    assert getattr(caught.value, "status_code", None) == status
    assert getattr(caught.value, "http_status", None) == http_status
    assert "nope" in str(caught.value)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(200, content=b"<html>"), "not JSON"),
        (httpx.Response(200, json={"hello": "world"}), "without an OCPI envelope"),
        (httpx.Response(500, content=b"boom"), "HTTP 500 without an OCPI envelope"),
        (httpx.Response(200, json={"status_code": "x", "timestamp": "t"}), "malformed envelope"),
    ],
)
async def test_garbage_answers_are_protocol_errors(response: httpx.Response, message: str) -> None:
    with pytest.raises(PeerProtocolError, match=message):
        await _client(lambda _: response).get("https://peer/x")


async def test_data_that_does_not_fit_the_model_is_a_protocol_error() -> None:
    client = _client(lambda _: _ok({"language": "english", "text": "x"}))
    with pytest.raises(PeerProtocolError, match="language"):
        await client.get_object("https://peer/x", DisplayText)


async def test_timeouts_and_refused_connections_are_told_apart() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(PeerTimeout):
        await _client(slow).get("https://peer/x")
    with pytest.raises(PeerUnreachable):
        await _client(down).get("https://peer/x")


async def test_get_all_follows_link_headers_across_pages() -> None:
    items = [{"language": "en", "text": str(i)} for i in range(7)]
    requests: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(str(request.url))
        offset = int(request.url.params.get("offset", "0"))
        limit = min(int(request.url.params.get("limit", "3")), 3)
        headers = {"X-Total-Count": "7", "X-Limit": "3"}
        if offset + limit < len(items):
            query = f"date_from=2024-01-01T00:00:00Z&offset={offset + limit}&limit={limit}"
            next_url = f"https://peer/list?{query}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        return _ok(items[offset : offset + limit], **headers)

    from datetime import UTC, datetime

    result = await _client(handler).get_all(
        "https://peer/list", DisplayText, PageRequest(date_from=datetime(2024, 1, 1, tzinfo=UTC))
    )
    assert [t.text for t in result] == [str(i) for i in range(7)]
    assert len(requests) == 3
    assert "date_from=2024-01-01T00%3A00%3A00Z" in requests[0]


async def test_a_link_that_loops_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _ok([{"language": "en", "text": "x"}], Link='<https://peer/list>; rel="next"')

    with pytest.raises(PeerProtocolError, match="loops"):
        await _client(handler).get_all("https://peer/list", DisplayText)


# --- the transport of `http_client` (aiohttp's) tells failures apart ----------------------------
async def _server(on_connect: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]) -> Any:
    return await asyncio.start_server(on_connect, "127.0.0.1", 0)


async def test_a_refused_connection_is_unreachable_not_a_timeout() -> None:
    server = await _server(lambda r, w: None)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens there now
    async with http_client(2.0) as http:
        with pytest.raises(PeerUnreachable, match="ConnectError"):
            await OcpiClient(http, "t").get(f"http://127.0.0.1:{port}/ocpi/versions")


async def test_a_peer_that_hangs_up_is_unreachable_and_one_that_is_silent_times_out() -> None:
    release = asyncio.Event()
    handlers: list[asyncio.Task[Any]] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.close()
        await writer.wait_closed()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        await release.wait()
        writer.close()
        await writer.wait_closed()

    rude, mute = await _server(hang_up), await _server(silent)
    try:
        async with http_client(0.3) as http:
            client = OcpiClient(http, "t")
            port = rude.sockets[0].getsockname()[1]
            with pytest.raises(PeerUnreachable, match="RemoteProtocolError"):
                await client.get(f"http://127.0.0.1:{port}/ocpi/versions")
            port = mute.sockets[0].getsockname()[1]
            with pytest.raises(PeerTimeout):
                await client.get(f"http://127.0.0.1:{port}/ocpi/versions")
    finally:
        release.set()
        await asyncio.gather(*handlers, return_exceptions=True)
        for server in (rude, mute):
            server.close()
            await server.wait_closed()


# --- a DirectClient: the same requests and answers without httpx's client machinery ----------
async def test_a_direct_client_sends_and_reads_what_a_plain_client_does() -> None:
    seen: dict[str, list[httpx.Request]] = {"plain": [], "direct": []}

    def handler(kind: str) -> Handler:
        def answer(request: httpx.Request) -> httpx.Response:
            seen[kind].append(request)
            if request.url.params.get("offset") == "1":
                return _ok([{"language": "en", "text": "b"}], **{"X-Total-Count": "2"})
            link = '<https://peer/list?offset=1&limit=1>; rel="next"'
            return _ok([{"language": "en", "text": "a"}], Link=link, Location="https://x/1")

        return answer

    async def calls(http: httpx.AsyncClient) -> list[Any]:
        client = OcpiClient(http, "secret-token", from_party=PartyRef("NL", "EMA"))
        got = await client.get_all("https://peer/list", DisplayText, PageRequest(limit=1))
        put = await client.put("https://peer/x/1", {"a": 1, "b": None}, to=PartyRef("DE", "CPB"))
        return [[t.text for t in got], put.headers.get("location"), put.next_url]

    plain = httpx.AsyncClient(transport=httpx.MockTransport(handler("plain")))
    direct = DirectClient(httpx.MockTransport(handler("direct")), timeout=7.0)
    expected = [["a", "b"], "https://x/1", "https://peer/list?offset=1&limit=1"]
    assert await calls(plain) == await calls(direct) == expected
    names = ["authorization", "content-type", *(n.lower() for n in ROUTING_HEADERS)]
    for mine, theirs in zip(seen["direct"], seen["plain"], strict=True):
        assert (mine.method, str(mine.url), mine.content) == (
            theirs.method,
            str(theirs.url),
            theirs.content,
        )
        assert [mine.headers.get(n) for n in names] == [theirs.headers.get(n) for n in names]
        assert mine.headers["X-Request-ID"] and mine.headers["X-Correlation-ID"]
        assert mine.extensions["timeout"]["read"] == 7.0  # the client's own timeout


async def _answering(raw: bytes) -> Any:
    """A server that reads one request and answers `raw` (then closes)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        if length:
            await reader.readexactly(length)
        answer.requests.append(head.split(b"\r\n")[0].decode())  # type: ignore[attr-defined]
        writer.write(raw)
        await writer.drain()
        writer.close()

    answer.requests = []  # type: ignore[attr-defined]
    server = await _server(answer)
    return server, answer.requests  # type: ignore[attr-defined]


def _envelope_response(extra_headers: bytes = b"", body: bytes | None = None) -> bytes:
    content = body if body is not None else encode_envelope({"language": "en", "text": "hi"})
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + extra_headers
        + b"Content-Length: "
        + str(len(content)).encode()
        + b"\r\n\r\n"
        + content
    )


async def test_over_aiohttp_the_query_is_sent_and_headers_read_in_any_case() -> None:
    server, requests = await _answering(_envelope_response(b"LOCATION: https://x/cdr/1\r\n"))
    port = server.sockets[0].getsockname()[1]
    try:
        async with http_client(2.0) as http:
            answer = await OcpiClient(http, "t").get(
                f"http://127.0.0.1:{port}/ocpi/tokens/A?x=1", params={"type": "RFID"}
            )
        assert requests == ["GET /ocpi/tokens/A?x=1&type=RFID HTTP/1.1"]
        assert answer.headers.get("Location") == "https://x/cdr/1"
        assert answer.parse(DisplayText).text == "hi"
    finally:
        server.close()
        await server.wait_closed()


async def test_over_aiohttp_an_answer_that_is_not_http_is_unreachable() -> None:
    server, _ = await _answering(b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n{}")
    port = server.sockets[0].getsockname()[1]
    try:
        async with http_client(2.0) as http:
            with pytest.raises(PeerUnreachable, match="RemoteProtocolError"):
                await OcpiClient(http, "t").get(f"http://127.0.0.1:{port}/ocpi/versions")
    finally:
        server.close()
        await server.wait_closed()


async def test_a_request_sent_straight_to_aiohttp_reads_a_compressed_answer_once() -> None:
    # What the edge of ocpi.platform does with a request it translated (`send_direct`).
    body = encode_envelope({"language": "en", "text": "zipped"})
    server, _ = await _answering(
        _envelope_response(b"Content-Encoding: gzip\r\n", gzip.compress(body))
    )
    port = server.sockets[0].getsockname()[1]
    try:
        async with http_client(2.0) as http:
            request = httpx.Request("GET", f"http://127.0.0.1:{port}/x")
            response = await http.send_direct(request)
        assert response.status_code == 200 and response.content == body
    finally:
        server.close()
        await server.wait_closed()
