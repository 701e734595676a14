"""The federation's platforms as separate OS processes: start, watch, stop (docs/architecture.md
"Processes").

`Supervisor` (the parent's side) starts each child (`python -m roam hub serve …`, `python -m
roam cpo --config FILE`…) in a process group of its own, waits until its ready URL answers,
reports a child that exits unasked as a crash, and stops them in reverse start order (the hub,
started first, last). `die_with_supervisor` (the child's side, called by
`roam.serving.serve_until_interrupted`) makes a child end when its supervisor does, even when
the supervisor was killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import enum
import inspect
import logging
import os
import signal
import site
import sys
import sysconfig
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import httpx

SUPERVISOR_PID_VAR = "ROAM_SUPERVISOR_PID"
"""Set in a child's environment to its supervisor's pid (read by `die_with_supervisor`)."""
PR_SET_PDEATHSIG = 1
"""Linux prctl(2) option: the signal a process gets when its parent dies."""
TAIL_LINES = 20
POLL_S = 0.05
"""Seconds between two readiness checks."""
PARENT_POLL_S = 0.5
"""Seconds between two looks at the parent where prctl is not available."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChildSpec:
    """One child process: what it runs, when it is ready, where its output goes."""

    name: str
    """How reports name it: "hub", "Fastned CPO"."""
    argv: Sequence[str]
    """The full command, e.g. [sys.executable, "-m", "roam", "hub", "serve", …]. It must be
    the Python process itself, not a wrapper (a shell, `uv run`): the child checks that its
    parent is the supervisor."""
    ready_url: str
    """Ready when an HTTP GET to it gets any HTTP answer."""
    log: Path
    """The child's stdout and stderr are appended here."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment, over the supervisor's own."""


class ChildFailed(Exception):
    """A child did not start: it exited, did not answer in time, or its port was taken."""

    def __init__(self, name: str, code: int | None, tail: str, reason: str) -> None:
        self.name = name
        self.code = code
        self.tail = tail
        status = "" if code is None else f" (exit code {code})"
        lines = f"; last lines of its log:\n{tail}" if tail else "; its log is empty"
        super().__init__(f"{name} {reason}{status}{lines}")


class Crash(NamedTuple):
    """A child that exited without being asked to."""

    name: str
    code: int
    tail: str
    """The last lines of its log since it was started."""


OnCrash = Callable[[str, int, str], Awaitable[None] | None]
"""on_crash(name, exit code, log tail); may be a coroutine function."""


class _State(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    """Being stopped or killed on purpose: its exit is not a crash."""


@dataclass
class _Child:
    spec: ChildSpec
    process: asyncio.subprocess.Process
    log_offset: int
    """Size of the log before this start: its tail is read from here."""
    state: _State = _State.STARTING
    watcher: asyncio.Task[None] | None = None

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last `lines` lines this run wrote to the log."""
        try:
            with self.spec.log.open("rb") as file:
                file.seek(max(self.log_offset, file.seek(0, os.SEEK_END) - 64 * 1024))
                text = file.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _source_root() -> Path | None:
    """The directory holding the `roam` package, if the interpreter does not find it by
    itself (a checkout, possibly installed in editable mode); None when installed."""
    root = Path(__file__).resolve().parents[2]
    installed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    with contextlib.suppress(AttributeError):  # site.getsitepackages is missing in some venvs
        installed.update(site.getsitepackages())
    if root in {Path(path).resolve() for path in installed}:
        return None
    return root


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """A child's environment: this process's, the source root on PYTHONPATH (children run the
    same code as the parent), the supervisor's pid, unbuffered output (a crash's last lines
    reach the log), then `extra`."""
    env = dict(os.environ)
    root = _source_root()
    if root is not None:
        paths = [path for path in env.get("PYTHONPATH", "").split(os.pathsep) if path]
        if str(root) not in paths:
            env["PYTHONPATH"] = os.pathsep.join([str(root), *paths])
    env[SUPERVISOR_PID_VAR] = str(os.getpid())
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    """`sig` to the child's process group (its own session), or to the child alone."""
    if process.returncode is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    except OSError:  # not a group leader after all: the child alone
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)


class Supervisor:
    """Starts, watches and stops child processes by name.

    A child that exits without `stop`/`kill` is a crash: it is appended to `crashes`,
    `crashed` is set and `on_crash` runs. `async with Supervisor() as sup:` stops every child
    on the way out, on an exception or a cancellation (Ctrl-C) too.
    """

    def __init__(self, on_crash: OnCrash | None = None) -> None:
        self.on_crash = on_crash
        self.crashes: list[Crash] = []
        self.crashed = asyncio.Event()
        self._children: dict[str, _Child] = {}
        self._order: list[str] = []
        """Names in the order they were first started: a restart keeps its place."""
        self._starting: set[str] = set()

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.stop_all()
        except BaseException:  # cancelled again while stopping: nobody is left running
            self.kill_all_now()
            raise

    async def start(self, spec: ChildSpec, within: float = 120.0) -> int:
        """Start a child and wait until its ready URL answers; its pid.

        ChildFailed (the child killed) if it exits first, does not answer within `within`
        seconds, or the URL already answered before it started (its port is taken). A name
        may be started again once its child has exited.
        """
        if self._alive(spec.name) or spec.name in self._starting:
            raise ValueError(f"{spec.name} is already running (or starting, or stopping)")
        if httpx.URL(spec.ready_url).scheme not in ("http", "https"):
            raise ValueError(f"{spec.name}: ready_url must be an http(s) URL: {spec.ready_url!r}")
        self._starting.add(spec.name)
        try:
            return await self._start(spec, within)
        finally:
            self._starting.discard(spec.name)

    async def _start(self, spec: ChildSpec, within: float) -> int:
        if await _answers(spec.ready_url, 1.0):
            raise ChildFailed(
                spec.name, None, "", f"cannot start: {spec.ready_url} already answers"
            )
        spec.log.parent.mkdir(parents=True, exist_ok=True)
        with spec.log.open("ab") as output:
            offset = output.tell()
            process = await asyncio.create_subprocess_exec(
                *spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                env=child_environment(spec.env),
                start_new_session=True,
            )
        child = _Child(spec, process, offset)
        child.watcher = asyncio.create_task(self._watch(child), name=f"watch {spec.name}")
        self._children[spec.name] = child
        if spec.name not in self._order:
            self._order.append(spec.name)
        try:
            await self._wait_ready(child, within)
        except BaseException:
            child.state = _State.STOPPING
            _signal_group(process, signal.SIGKILL)
            await asyncio.shield(child.watcher)
            raise
        child.state = _State.RUNNING
        return process.pid

    async def _wait_ready(self, child: _Child, within: float) -> None:
        assert child.watcher is not None
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(trust_env=False) as http:
            while True:
                if child.process.returncode is not None:
                    raise ChildFailed(
                        child.spec.name,
                        child.process.returncode,
                        child.tail(),
                        "exited before it was ready",
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ChildFailed(
                        child.spec.name,
                        None,
                        child.tail(),
                        f"did not answer at {child.spec.ready_url} within {within:g} s",
                    )
                if await _answers(child.spec.ready_url, min(1.0, remaining), http):
                    return
                await asyncio.wait({child.watcher}, timeout=POLL_S)

    async def _watch(self, child: _Child) -> None:
        code = await child.process.wait()
        if child.state is not _State.RUNNING:
            return  # stopped on purpose, or a failed start (start raises ChildFailed)
        tail = child.tail()
        self.crashes.append(Crash(child.spec.name, code, tail))
        self.crashed.set()
        if self.on_crash is None:
            return
        try:
            result = self.on_crash(child.spec.name, code, tail)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("on_crash failed for %s", child.spec.name)

    def running(self, name: str) -> bool:
        """Whether the child of that name is up: ready (its `start` returned), not exited and
        not being stopped."""
        child = self._children.get(name)
        return (
            child is not None and child.state is _State.RUNNING and child.process.returncode is None
        )

    def _alive(self, name: str) -> bool:
        """Whether a process of that name exists: starting, running or being stopped."""
        child = self._children.get(name)
        return child is not None and child.process.returncode is None

    def pid(self, name: str) -> int | None:
        """The pid of the process of that name while it exists (starting, running, being
        stopped); None once it has exited or if it was never started."""
        return self._children[name].process.pid if self._alive(name) else None

    def names(self) -> list[str]:
        """The running children's names, in the order they were first started."""
        return [name for name in self._order if self.running(name)]

    async def stop(self, name: str, within: float = 10.0) -> int | None:
        """Stop a child on purpose: SIGTERM (a graceful shutdown), SIGKILL after `within`
        seconds; its exit code. Never reported as a crash; KeyError
        for a name never started."""
        child = self._children[name]
        if child.process.returncode is None:
            child.state = _State.STOPPING
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        assert child.watcher is not None
        done, _ = await asyncio.wait({child.watcher}, timeout=within)
        if not done:
            _signal_group(child.process, signal.SIGKILL)
            await child.watcher
        return child.process.returncode

    async def kill(self, name: str) -> int | None:
        """SIGKILL a child on purpose (fault scenarios); its exit code. Not a crash; KeyError
        for a name never started."""
        child = self._children[name]
        if child.process.returncode is None:
            child.state = _State.STOPPING
            _signal_group(child.process, signal.SIGKILL)
        assert child.watcher is not None
        await child.watcher
        return child.process.returncode

    async def stop_all(self, within: float = 10.0) -> dict[str, int | None]:
        """Stop every child whose process exists (running, or still starting or stopping), one
        after the other in reverse order of first start (the hub, started first, last); their
        exit codes by name."""
        codes: dict[str, int | None] = {}
        for name in reversed(self._order):
            if self._alive(name):
                codes[name] = await self.stop(name, within)
        return codes

    def kill_all_now(self) -> None:
        """SIGKILL every running child without waiting (a stop that was itself cancelled)."""
        for child in self._children.values():
            if child.process.returncode is None:
                child.state = _State.STOPPING
                _signal_group(child.process, signal.SIGKILL)


async def _answers(url: str, within: float, http: httpx.AsyncClient | None = None) -> bool:
    """Whether an HTTP GET to `url` gets any HTTP answer within `within` seconds."""
    try:
        if http is None:
            async with httpx.AsyncClient(trust_env=False) as own:
                await own.get(url, timeout=within)
        else:
            await http.get(url, timeout=within)
    except httpx.TransportError:
        return False
    return True


def die_with_supervisor() -> None:
    """In a child of a `Supervisor`: end (SIGTERM, so a graceful shutdown) when the
    supervisor ends, however it ends.

    Does nothing unless ROAM_SUPERVISOR_PID is set; removes it, so this process's own children
    do not take this process's parent for theirs. On Linux the kernel sends the signal
    (prctl PR_SET_PDEATHSIG); elsewhere a daemon thread looks at the parent every 0.5 s.
    Exits at once if the supervisor is already gone.
    """
    value = os.environ.pop(SUPERVISOR_PID_VAR, None)
    if not value:
        return
    try:
        supervisor = int(value)
    except ValueError:
        raise SystemExit(f"error: {SUPERVISOR_PID_VAR}={value!r} is not a pid") from None
    if not _parent_death_signal(signal.SIGTERM):
        threading.Thread(
            target=_watch_parent, args=(supervisor,), name="die-with-supervisor", daemon=True
        ).start()
    if os.getppid() != supervisor:
        raise SystemExit(
            f"error: the supervisor (pid {supervisor}) is not this process's parent "
            f"(pid {os.getppid()}): it has exited, or the child was started through a wrapper"
        )


def _parent_death_signal(sig: signal.Signals) -> bool:
    """Ask Linux to send `sig` when the parent exits; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    prctl.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
    prctl.restype = ctypes.c_int
    return bool(prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)
