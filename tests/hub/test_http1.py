"""hub/http1.py, the hub's HTTP/1.1 client, against raw servers: the request as written on the
wire, keep-alive reuse and its limits, every way an answer may be framed or encoded, and
every way an exchange can fail (mapped by the engine to the hub's statuses)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
import uvloop

from hub.forwarding import Http1Engine, ReceiverUnreachable, forward
from hub.http1 import BadAnswer, Http1Client, NoCompleteAnswer, _split
from ocpi.errors import ForwardTimeout, HubError

ENVELOPE = b'{"status_code":1000,"timestamp":"2024-05-01T12:00:00Z"}'


def ok(body: bytes = ENVELOPE, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"".join(
        line + b"\r\n" for line in extra
    )
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


@dataclass
class RawServer:
    """Answers each request with `answer(n)` (n counts requests), or stays silent on None;
    records the raw requests and how many connections were opened and open at once."""

    answer: Callable[[int], bytes | None]
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    close_after: bool = False
    hold: float = 0.0
    url: str = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                if self.hold:
                    await asyncio.sleep(self.hold)
                answer = self.answer(len(self.requests))
                if answer is None:
                    await asyncio.sleep(3600)
                    return
                if answer == b"":  # closed without a word
                    return
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    return
        finally:
            self.open_now -= 1
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    raw = RawServer(lambda _n: ok())
    listening = await asyncio.start_server(raw.serve, "127.0.0.1", 0)
    raw.url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
    yield raw
    listening.close()


@pytest.fixture
async def client() -> AsyncIterator[Http1Client]:
    made = Http1Client(keepalive_s=4.0)
    yield made
    await made.aclose()


async def test_the_request_is_written_as_given_with_host_and_length(
    server: RawServer, client: Http1Client
) -> None:
    status, headers, body = await client.request(
        "PATCH",
        server.url + "/ocpi/2.2.1/locations/NL/ABC/LOC%201/E1?x=1",
        {"Authorization": "Token abc", "OCPI-to-party-id": "ABC"},
        b'{"status":"AVAILABLE"}',
        5,
    )
    assert (status, body) == (200, ENVELOPE)
    assert headers["content-type"] == "application/json"
    port = server.url.rsplit(":", 1)[1]
    assert server.requests == [
        b"PATCH /ocpi/2.2.1/locations/NL/ABC/LOC%201/E1?x=1 HTTP/1.1\r\n"
        b"Host: 127.0.0.1:" + port.encode() + b"\r\n"
        b"Authorization: Token abc\r\nOCPI-to-party-id: ABC\r\n"
        b'Content-Length: 22\r\n\r\n{"status":"AVAILABLE"}'
    ]
    await client.request("GET", server.url + "/ocpi/versions", {}, None, 5)
    assert b"Content-Length" not in server.requests[1]
    await client.request("POST", server.url + "/x", {}, None, 5)
    assert b"Content-Length: 0\r\n" in server.requests[2]


@pytest.mark.parametrize(
    ("name", "value"), [("X-Evil", "a\r\nInjected: 1"), ("X-Evil\n", "a"), ("A:B", "c")]
)
async def test_a_header_that_would_change_the_request_is_refused(
    server: RawServer, client: Http1Client, name: str, value: str
) -> None:
    with pytest.raises(ValueError, match="cannot be sent"):
        await client.request("GET", server.url + "/", {name: value}, None, 5)
    assert server.requests == []


async def test_a_connection_is_kept_and_used_again(server: RawServer, client: Http1Client) -> None:
    for _ in range(5):
        assert (await client.request("GET", server.url + "/a", {}, None, 5))[0] == 200
    assert (server.connections, len(server.requests)) == (1, 5)


async def test_an_idle_connection_older_than_the_keepalive_is_not_used(
    server: RawServer,
) -> None:
    short = Http1Client(keepalive_s=0.05)
    try:
        await short.request("GET", server.url + "/a", {}, None, 5)
        await asyncio.sleep(0.1)
        await short.request("GET", server.url + "/a", {}, None, 5)
    finally:
        await short.aclose()
    assert server.connections == 2


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_an_idempotent_request_on_a_connection_the_server_dropped_goes_again(
    server: RawServer, client: Http1Client, method: str
) -> None:
    """The server closes the kept-alive connection as the second request arrives (its idle
    time ran out): the request is sent again on a new connection and answered."""
    server.answer = lambda n: b"" if n == 2 else ok()
    await client.request("GET", server.url + "/a", {}, None, 5)
    status, _, body = await client.request(method, server.url + "/b", {}, b"{}", 5)
    assert (status, body) == (200, ENVELOPE)
    assert server.connections == 2
    assert [request.split(b" ")[1] for request in server.requests] == [b"/a", b"/b", b"/b"]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_other_requests_on_a_dropped_connection_fail_without_going_again(
    server: RawServer, client: Http1Client, method: str
) -> None:
    """POST and PATCH may have been acted on: they are not sent twice."""
    server.answer = lambda n: b"" if n == 2 else ok()
    await client.request("GET", server.url + "/a", {}, None, 5)
    with pytest.raises(NoCompleteAnswer):
        await client.request(method, server.url + "/b", {}, b"{}", 5)
    assert len(server.requests) == 2


async def test_a_new_connection_closed_without_an_answer_is_not_tried_again(
    server: RawServer, client: Http1Client
) -> None:
    """Nothing heard on a connection that never served: the server refuses this request,
    and sending it again would only repeat that."""
    server.answer = lambda _n: b""
    with pytest.raises(NoCompleteAnswer):
        await client.request("GET", server.url + "/a", {}, None, 5)
    assert (server.connections, len(server.requests)) == (1, 1)


async def test_connection_close_in_the_answer_is_honoured(
    server: RawServer, client: Http1Client
) -> None:
    server.answer = lambda _n: ok(ENVELOPE, b"Connection: close")
    server.close_after = True
    for _ in range(3):
        assert (await client.request("GET", server.url + "/a", {}, None, 5))[2] == ENVELOPE
    assert server.connections == 3


async def test_at_most_per_origin_connections_and_the_rest_wait(server: RawServer) -> None:
    server.hold = 0.05
    few = Http1Client(keepalive_s=4.0, per_origin=2)
    try:
        answers = await asyncio.gather(
            *(few.request("GET", server.url + f"/{n}", {}, None, 5) for n in range(6))
        )
    finally:
        await few.aclose()
    assert [a[0] for a in answers] == [200] * 6
    assert server.most_open == 2 and server.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"10\r\n"
        + ENVELOPE[:16]
        + b"\r\n"
        + b"%x\r\n" % (len(ENVELOPE) - 16)
        + ENVELOPE[16:]
        + b"\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        % len(gzip.compress(ENVELOPE))
        + gzip.compress(ENVELOPE),
        b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + ENVELOPE,
    ],
    ids=["chunked", "gzip", "until-closed"],
)
async def test_every_framing_and_encoding_gives_the_body(
    server: RawServer, client: Http1Client, answer: bytes
) -> None:
    server.answer = lambda _n: answer
    server.close_after = True
    assert (await client.request("GET", server.url + "/a", {}, None, 5))[2] == ENVELOPE


async def test_a_repeated_header_is_one_comma_separated_value(
    server: RawServer, client: Http1Client
) -> None:
    server.answer = lambda _n: ok(ENVELOPE, b"Link: <a>", b"Link: <b>")
    headers = (await client.request("GET", server.url + "/a", {}, None, 5))[1]
    assert headers["link"] == "<a>, <b>"


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}", NoCompleteAnswer, "closed"),
        (b"", NoCompleteAnswer, "closed"),
        (b"NOT HTTP AT ALL\r\n\r\n", BadAnswer, r"\w"),
        (ok(ENVELOPE, b"X-Long: " + b"a" * 9000), BadAnswer, "too long"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\n{}",
            BadAnswer,
            "br",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}",
            BadAnswer,
            "cannot be decoded",
        ),
    ],
    ids=["short-body", "nothing", "not-http", "long-header", "unknown-encoding", "bad-gzip"],
)
async def test_an_unusable_answer_is_named(
    server: RawServer,
    client: Http1Client,
    answer: bytes,
    error: type[Exception],
    words: str,
) -> None:
    server.answer = lambda _n: answer
    server.close_after = True
    with pytest.raises(error, match=words):
        await client.request("GET", server.url + "/a", {}, None, 5)
    # The client is still good for the next exchange.
    server.answer = lambda _n: ok()
    assert (await client.request("GET", server.url + "/a", {}, None, 5))[2] == ENVELOPE


async def test_the_engine_maps_each_failure_to_the_hubs_status(server: RawServer) -> None:
    engine = Http1Engine()
    try:
        server.answer = lambda _n: None  # silent
        with pytest.raises(ForwardTimeout):
            await forward(engine, "GET", server.url + "/a", {}, None, 0.2)
        server.answer = lambda _n: b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{"
        server.close_after = True
        with pytest.raises(HubError, match="gave no complete answer") as caught:
            await forward(engine, "GET", server.url + "/a", {}, None, 5)
        assert caught.value.status_code == 4000
        assert not isinstance(caught.value, ReceiverUnreachable)
        server.answer = lambda _n: ok()
        answer = await forward(engine, "GET", server.url + "/a", {}, None, 5)
        assert answer.ocpi_status == 1000
        with pytest.raises(ReceiverUnreachable):
            await forward(engine, "GET", "http://127.0.0.1:9/a", {}, None, 5)
    finally:
        await engine.aclose()


def test_it_works_on_uvloop_as_the_hub_runs() -> None:
    """The hub serves on uvloop, whose transports are not asyncio's classes."""

    async def exchange() -> list[int]:
        raw = RawServer(lambda _n: ok())
        listening = await asyncio.start_server(raw.serve, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
        made = Http1Client(keepalive_s=4.0)
        try:
            return [
                (await made.request("GET", url + "/a", {}, None, 5))[0],
                (await made.request("GET", url + "/b", {}, None, 5))[0],
                raw.connections,
            ]
        finally:
            await made.aclose()
            listening.close()

    assert uvloop.run(exchange()) == [200, 200, 1]


@pytest.mark.parametrize(
    ("url", "split"),
    [
        (
            "http://127.0.0.1:8080/a/b?x=1",
            ("http", "127.0.0.1", 8080, "/a/b?x=1", "127.0.0.1:8080"),
        ),
        ("https://Example.com/o/x%20y", ("https", "example.com", 443, "/o/x%20y", "example.com")),
        ("http://[::1]:81/z", ("http", "::1", 81, "/z", "[::1]:81")),
        ("http://h", ("http", "h", 80, "/", "h")),
        ("http://h?q=1", ("http", "h", 80, "/?q=1", "h")),
        ("https://h:443/a b/ü", ("https", "h", 443, "/a%20b/%C3%BC", "h")),
        ("http://user@h:80/p#frag", ("http", "h", 80, "/p", "h")),
    ],
)
def test_a_url_becomes_origin_target_and_host_header(
    url: str, split: tuple[str, str, int, str, str]
) -> None:
    assert _split(url) == split


@pytest.mark.parametrize("url", ["ftp://h/x", "nonsense", "http:///x", "http://h:port/x"])
def test_a_url_that_is_not_http_is_refused_by_name(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        _split(url)
