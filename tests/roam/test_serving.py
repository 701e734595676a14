"""roam.serving: an app on a loopback port in the running event loop, started, answering,
stopped, and restarted on the same port; a port another server holds is a ServeError."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from roam.serving import LoopbackServer, ServeError, free_port


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
