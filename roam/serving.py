"""Serving an ASGI app with uvicorn, the one way every part of `roam` does it.

`LoopbackServer` runs an app on 127.0.0.1 inside the running event loop (the demo's and the
scenarios' federation, the benches): start it on a free or given port, wait until it listens,
stop it cleanly. `serve_until_interrupted` serves in the foreground (`roam hub serve`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
import threading
import time
from collections.abc import Generator
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpi.client import SERVER_KEEPALIVE_S

HOST = "127.0.0.1"

_HELD: dict[int, socket.socket] = {}
"""Ports handed out by `free_port`, held bound until their server starts on them."""


class ServeError(RuntimeError):
    """A server could not start; the message says why (the port, or that it did not start)."""


def _tcp_socket() -> socket.socket:
    """A TCP socket that says so: asyncio sets TCP_NODELAY only on sockets whose `proto` is
    IPPROTO_TCP, and accepted connections inherit the listener's. From a bare
    `socket.socket()` (proto 0) every connection kept Nagle's algorithm, and each request to
    a server in this process waited out the peer's delayed ACK: 44 ms a call on loopback
    instead of about 1 ms."""
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)


def free_port() -> int:
    """A free loopback port, kept bound (not listening) until a `LoopbackServer` starts on it,
    so that nothing else on the machine takes it in between (other test runs, other demos)."""
    sock = _tcp_socket()
    sock.bind((HOST, 0))
    port: int = sock.getsockname()[1]
    _HELD[port] = sock
    return port


def release_port(port: int) -> None:
    """Let go of a port `free_port` holds, for a server in another process to bind."""
    held = _HELD.pop(port, None)
    if held is not None:
        held.close()


def _listening_socket(port: int) -> socket.socket:
    sock = _HELD.pop(port, None)
    if sock is not None:
        # Held without SO_REUSEADDR (so nobody else could bind it); set now, because a later
        # restart on this port binds while this listener's old connections linger in
        # FIN-WAIT/TIME-WAIT, which Linux allows only if they too had SO_REUSEADDR.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return sock
    sock = _tcp_socket()  # a restart on the port the server had, or a port of the caller's
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


class _QuietServer(uvicorn.Server):
    """Several servers share one process: signals are the caller's business, not uvicorn's."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class LoopbackServer:
    """An ASGI app under uvicorn on 127.0.0.1 in the running event loop.

    `port=None` takes a `free_port()`. With `signals=False` (several servers in one process)
    SIGINT/SIGTERM are left to the caller; with `signals=True` (a server process of its own)
    uvicorn shuts down gracefully on them. `options` go to `uvicorn.Config` (http="httptools",
    timeout_graceful_shutdown=…).
    """

    def __init__(
        self,
        app: ASGIApp,
        port: int | None = None,
        *,
        log_level: str = "warning",
        signals: bool = False,
        **options: Any,
    ) -> None:
        self.app = app
        self.port = free_port() if port is None else port
        config = uvicorn.Config(
            app,
            host=HOST,
            port=self.port,
            log_level=log_level,
            access_log=False,
            **{"timeout_keep_alive": SERVER_KEEPALIVE_S, **options},
        )
        self.server = uvicorn.Server(config) if signals else _QuietServer(config)
        self.task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """Started and not stopped by `stop()`."""
        return self.task is not None

    @property
    def started(self) -> bool:
        """Whether it ever listened (stays True after it stopped)."""
        return bool(self.server.started)

    async def start(self, within: float = 120.0) -> float:
        """Listen, then return the seconds that took; ServeError if it did not start."""
        began = time.perf_counter()
        try:
            sock = _listening_socket(self.port)
        except OSError as exc:
            raise ServeError(f"port {self.port}: {exc.strerror}") from None
        task = self.task = asyncio.create_task(self.server.serve(sockets=[sock]))
        deadline = time.monotonic() + within
        while not self.server.started:
            if task.done() or time.monotonic() > deadline:
                cause = task.exception() if task.done() and not task.cancelled() else None
                raise ServeError(f"the server on port {self.port} did not start") from cause
            await asyncio.sleep(0.005)
        return time.perf_counter() - began

    def request_stop(self) -> None:
        """Ask it to shut down (gracefully); `wait_stopped` tells when it has."""
        self.server.should_exit = True

    async def wait_stopped(self, within: float | None = None) -> bool:
        """Whether it has stopped, waiting up to `within` seconds (None: until it has).
        An error that ended the server is raised here."""
        if self.task is None:
            return True
        done, _ = await asyncio.wait({self.task}, timeout=within)
        if done:
            await self.task
        return bool(done)

    async def stop(self, within: float = 30.0) -> None:
        """Shut it down and wait up to `within` seconds; a port held but never served is
        released."""
        held = _HELD.pop(self.port, None)
        if held is not None:  # never started
            held.close()
        if self.task is None:
            return
        self.request_stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, within)
        self.task = None


GRACE = 3
"""Seconds requests in progress get to finish when a server is asked to stop."""

GC_THRESHOLDS = (20_000, 10, 10)
"""The cyclic garbage collector's thresholds in a served process (Python's default: 700, 10,
10). A request allocates a few hundred objects, nearly all freed by reference counting; with
700 the youngest generation was collected every few requests. Measured with gc callbacks
during the status storm (issue 13): 8-10 % of each process's CPU went to collections before,
1-3 % after; peak RSS unchanged."""


def tune_gc() -> None:
    """Once a served process has started: collect, move what survives (modules, models,
    the state loaded at startup) out of the collector's sight (`gc.freeze`: it is still
    freed by reference counting, only no longer scanned), and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class TuneGcAfterStartup:
    """ASGI wrapper calling `tune_gc` when the app's lifespan startup has completed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def sent(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                tune_gc()
            await send(message)

        await self.app(scope, receive, sent)


def bind_if_any_port(host: str, port: int) -> tuple[int, socket.socket | None]:
    """For a command serving on host:port: port 0 (any free port) is bound now, and the port
    the system picked returned with the socket to serve on (`serve_until_interrupted`'s
    `sock`), so that the URL the command prints, and the ones the service hands out to
    members (its versions, its invitations), carry the port it really listens on, not 0.
    Any other port is returned as it is, with None (uvicorn binds it when it starts). A
    `ServeError` naming the host when no port can be bound there. (Any host: not
    `LoopbackServer`'s 127.0.0.1 sockets above.)"""
    if port != 0:
        return port, None
    try:
        sock = socket.create_server((host, 0), backlog=2048)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host} (any free port): {exc}") from exc
    picked: int = sock.getsockname()[1]
    return picked, sock


def serve_until_interrupted(
    app: ASGIApp, host: str, port: int, sock: socket.socket | None = None
) -> None:
    """Serve `app` on host:port in the foreground until Ctrl-C or SIGTERM (uvicorn's graceful
    shutdown), the way a service is run from the command line. Requests in progress get
    `GRACE` seconds to finish; then the app's own shutdown runs (the hub's: its delivery
    lanes drain for up to `drain_timeout`, and what is queued is written), so a stop takes
    well under ten seconds.

    Started by a `Supervisor` (roam/federation/processes.py), the process ends with it
    (`die_with_supervisor`). After a graceful shutdown on SIGTERM the exit status is 0 (uvicorn
    would raise the signal again, and the process would die of it: -15 to its parent).
    With `sock` (`bind_if_any_port`), it serves on that socket instead of binding host:port."""
    from roam.federation.processes import die_with_supervisor  # not loaded by `roam hub --help`

    die_with_supervisor()
    config = uvicorn.Config(
        TuneGcAfterStartup(app),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=GRACE,
        timeout_keep_alive=SERVER_KEEPALIVE_S,
    )
    server = uvicorn.Server(config)
    with _sigterm_exits(server):
        if sock is None:
            server.run()
        else:
            server.run(sockets=[sock])


@contextlib.contextmanager
def _sigterm_exits(server: uvicorn.Server) -> Generator[None, None, None]:
    """SIGTERM outside uvicorn's own handler (before it starts, and the signal uvicorn raises
    again after its shutdown) exits: status 0 once the server has run, 143 before."""

    def exit_on(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0 if server.started else 128 + signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, exit_on)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
