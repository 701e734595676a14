"""Serving the dashboard with uvicorn: `start()` inside a running event loop (the demo's),
`serve()` blocking until interrupted (a command line)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from dashboard.app import create_app
from dashboard.config import DashboardConfig


@dataclass
class RunningDashboard:
    url: str
    """Where the page is, e.g. http://127.0.0.1:8099/ (print it for the user)."""
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def _bound(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets (and on the connections
    # they accept); without it every response waited ~40 ms for the browser's delayed ACK.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


async def start(
    config: DashboardConfig, host: str = "127.0.0.1", port: int = 0
) -> RunningDashboard:
    """Serve the dashboard in the current event loop (port 0: a free one) and return once it
    accepts connections; `await running.stop()` ends it."""
    return await start_app(create_app(config), host, port)


class _SignalFreeServer(uvicorn.Server):
    """A server that leaves SIGINT/SIGTERM to its caller (uvicorn's own capture would take
    Ctrl-C from the program serving it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def start_app(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, signals: bool = True
) -> RunningDashboard:
    """Serve any ASGI app as `start` serves the dashboard; `signals=False` leaves Ctrl-C to
    the caller (the benchmark, which stops its servers itself)."""
    sock = _bound(host, port)
    bound_port = sock.getsockname()[1]
    kind = uvicorn.Server if signals else _SignalFreeServer
    server = kind(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the dashboard server stopped while starting")
        await asyncio.sleep(0.02)
    shown = f"[{host}]" if ":" in host else host
    return RunningDashboard(f"http://{shown}:{bound_port}/", server, task)


def serve(config: DashboardConfig, host: str = "127.0.0.1", port: int = 8099) -> None:
    """Serve the dashboard until interrupted (blocking)."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")
