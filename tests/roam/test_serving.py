"""roam.serving: an app on a loopback port in the running event loop, started, answering,
stopped, and restarted on the same port; a port another server holds is a ServeError."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ocpi.client import CLIENT_KEEPALIVE_S, SERVER_KEEPALIVE_S, http_client
from roam.serving import (
    GC_THRESHOLDS,
    LoopbackServer,
    ServeError,
    TuneGcAfterStartup,
    free_port,
    release_port,
    serve_until_interrupted,
)
from tests.nodelay import assert_sent_without_delay


def _app(text: str) -> Starlette:
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse(text)

    return Starlette(routes=[Route("/", hello)])


async def test_a_server_answers_once_started_and_its_port_serves_again_after_a_stop() -> None:
    first = LoopbackServer(_app("first"))
    assert first.port > 0 and not first.running
    await first.start()
    assert first.running and first.started
    async with httpx.AsyncClient(trust_env=False) as http:
        assert (await http.get(first.url + "/")).text == "first"
        await first.stop()
        assert not first.running
        with pytest.raises(httpx.ConnectError):
            await http.get(first.url + "/")
        again = LoopbackServer(_app("again"), first.port)
        await again.start()
        try:
            assert (await http.get(again.url + "/")).text == "again"
        finally:
            await again.stop()
    assert await again.wait_stopped(0)


async def test_a_port_in_use_is_a_serve_error_naming_it() -> None:
    holder = LoopbackServer(_app("holder"))
    await holder.start()
    try:
        with pytest.raises(ServeError, match=f"port {holder.port}"):
            await LoopbackServer(_app("second"), holder.port).start()
    finally:
        await holder.stop()


async def test_a_held_port_never_served_is_released_by_stop() -> None:
    port = free_port()
    unused = LoopbackServer(_app("unused"), port)
    await unused.stop()
    reuse = LoopbackServer(_app("reuse"), port)
    await reuse.start()
    await reuse.stop()


async def test_the_client_lets_an_idle_connection_go_before_the_server_does() -> None:
    """A request sent on a connection the server is closing at that instant fails (httpx
    ReadError; the demo once reported a START_SESSION FAILED for it). So the services'
    client drops an idle connection after CLIENT_KEEPALIVE_S and roam's servers keep one
    open longer than uvicorn's default 5 s: after an idle pause past both the client's window
    and uvicorn's default, the client opens a new connection while the server still serves
    the old one."""

    async def port(request: Request) -> PlainTextResponse:
        assert request.client is not None
        return PlainTextResponse(str(request.client.port))

    server = LoopbackServer(Starlette(routes=[Route("/", port)]))
    await server.start()
    try:
        async with http_client(5.0) as http:
            first = (await http.get(server.url + "/")).text
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"200 OK" in head
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            await asyncio.sleep(CLIENT_KEEPALIVE_S + 1.5)  # past uvicorn's default 5 s too
            assert (await http.get(server.url + "/")).text != first  # a new connection
            writer.write(request)  # the idle raw connection is still served
            await writer.drain()
            assert b"200 OK" in await reader.read(4096)
            writer.close()
    finally:
        await server.stop()
    assert SERVER_KEEPALIVE_S > CLIENT_KEEPALIVE_S


@pytest.mark.parametrize("held", [True, False], ids=["free-port", "given-port"])
async def test_connections_to_a_loopback_server_send_without_delay(held: bool) -> None:
    """Each connection the server accepts has TCP_NODELAY. Without it, a response written as
    headers then body waits for the client's delayed ACK: 44 ms a request on loopback, which
    made every in-process federation (tests, scenarios, benches) crawl."""
    port = free_port()
    if not held:
        release_port(port)  # the server binds the port itself (a restart on a known port)
    server = LoopbackServer(_app("fast"), port)
    await server.start()
    try:
        async with httpx.AsyncClient(trust_env=False) as http:
            assert (await http.get(server.url + "/")).text == "fast"
            assert_sent_without_delay(server.server)
    finally:
        await server.stop()


@pytest.fixture
def gc_restored() -> Iterator[None]:
    """The collector as it was: a test of the served process's policy changes it for all."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


async def test_a_served_process_freezes_its_startup_heap_and_collects_less_often(
    gc_restored: None,
) -> None:
    seen: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        seen["loaded"] = [{"evse": n} for n in range(100)]  # the state a platform loads
        seen["frozen_during_startup"] = gc.get_freeze_count()
        yield

    gc.unfreeze()
    app = Starlette(routes=_app("up").routes, lifespan=lifespan)
    server = LoopbackServer(TuneGcAfterStartup(app))
    await server.start()
    try:
        async with httpx.AsyncClient(trust_env=False) as http:
            assert (await http.get(server.url + "/")).text == "up"
    finally:
        await server.stop()
    assert seen["frozen_during_startup"] == 0  # not before the state is loaded
    assert gc.get_freeze_count() > 0
    tracked = {id(found) for found in gc.get_objects()}
    assert id(seen["loaded"]) not in tracked  # out of the collector's sight, still alive
    assert seen["loaded"][99] == {"evse": 99}
    assert gc.get_threshold() == GC_THRESHOLDS


def test_serve_until_interrupted_serves_with_the_gc_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[object] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: served.append(self.config.app))
    monkeypatch.setattr("roam.federation.processes.die_with_supervisor", lambda: None)
    app = _app("up")
    serve_until_interrupted(app, "127.0.0.1", 0)
    assert isinstance(served[0], TuneGcAfterStartup) and served[0].app is app
