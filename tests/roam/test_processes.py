"""roam.federation.processes with real `roam hub serve` processes: started until they answer,
stopped in reverse order with a graceful exit, a crash told from a deliberate stop, a start
that fails naming its log, a restart on the same port, and no child outliving a parent killed
with SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from starlette.responses import PlainTextResponse

from roam.federation.processes import ChildFailed, ChildSpec, Crash, Supervisor
from roam.serving import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    """A free port, released (the child binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def hub(name: str, folder: Path, port: int | None = None, *options: str) -> ChildSpec:
    """`roam hub serve` on a port of its own, its database and log in `folder`."""
    port = _port() if port is None else port
    slug = name.replace(" ", "-")
    return ChildSpec(
        name=name,
        argv=[
            sys.executable,
            "-m",
            "roam",
            "hub",
            "serve",
            "--port",
            str(port),
            "--database-url",
            f"sqlite:///{folder / slug}.db",
            "--admin-token",
            "admin",
            *options,
        ],
        ready_url=f"http://127.0.0.1:{port}/ocpi/versions",
        log=folder / f"{slug}.log",
    )


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (a parent that does not reap, e.g. PID 1 here)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


async def _all_gone(pids: list[int], within: float) -> bool:
    for _ in range(int(within / 0.05)):
        if all(_gone(pid) for pid in pids):
            return True
        await asyncio.sleep(0.05)
    return all(_gone(pid) for pid in pids)


class _Recording(Supervisor):
    """Notes, at each stop, which children were still running."""

    def __init__(self) -> None:
        super().__init__()
        self.stops: list[tuple[str, list[str]]] = []

    async def stop(self, name: str, within: float = 10.0) -> int | None:
        self.stops.append((name, self.names()))
        return await super().stop(name, within)


async def test_stop_all_stops_in_reverse_start_order_gracefully_and_is_no_crash(
    tmp_path: Path,
) -> None:
    sup = _Recording()
    async with sup:
        first = await sup.start(hub("hub", tmp_path))
        second = await sup.start(hub("second hub", tmp_path))
        assert sup.names() == ["hub", "second hub"]
        assert sup.pid("hub") == first and sup.running("second hub")
        assert os.getpgid(first) == first and os.getpgid(second) == second  # groups of their own
        codes = await sup.stop_all()
    assert codes == {"second hub": 0, "hub": 0}  # 0: a graceful shutdown, not -15
    assert sup.stops == [("second hub", ["hub", "second hub"]), ("hub", ["hub"])]
    assert await _all_gone([first, second], within=2)
    assert sup.names() == [] and sup.pid("hub") is None
    assert sup.crashes == [] and not sup.crashed.is_set()


async def test_a_child_killed_from_outside_is_a_crash_and_a_deliberate_stop_is_not(
    tmp_path: Path,
) -> None:
    seen: list[tuple[str, int, str]] = []

    async def on_crash(name: str, code: int, tail: str) -> None:
        seen.append((name, code, tail))

    async with Supervisor(on_crash=on_crash) as sup:
        victim, killed = await asyncio.gather(
            sup.start(hub("victim", tmp_path)), sup.start(hub("killed", tmp_path))
        )
        assert await sup.kill("killed") == -signal.SIGKILL
        os.kill(victim, signal.SIGKILL)
        await asyncio.wait_for(sup.crashed.wait(), 10)
        assert sup.crashes == [Crash("victim", -signal.SIGKILL, sup.crashes[0].tail)]
        assert "OCPI hub" in sup.crashes[0].tail  # its log: the banner `roam hub serve` printed
        assert seen == [tuple(sup.crashes[0])]
        assert sup.names() == []
    assert await _all_gone([victim, killed], within=2)


async def test_a_child_that_cannot_start_is_child_failed_naming_it_with_its_log(
    tmp_path: Path,
) -> None:
    async with Supervisor() as sup:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))  # bound, not listening: the child cannot listen there
            held, bad = await asyncio.gather(
                sup.start(hub("held hub", tmp_path, taken.getsockname()[1])),
                sup.start(hub("bad hub", tmp_path, None, "--no-such-option")),
                return_exceptions=True,
            )
        assert isinstance(held, ChildFailed) and isinstance(bad, ChildFailed)
        assert held.name == "held hub" and held.code == 3  # uvicorn's start failed
        assert str(held).startswith("held hub exited before it was ready (exit code 3)")
        assert "address already in use" in str(held)
        assert bad.name == "bad hub" and bad.code == 2 and "--no-such-option" in bad.tail

        other = LoopbackServer(PlainTextResponse("another server"))
        await other.start()
        try:  # it would answer for the child: refused before anything is started
            with pytest.raises(ChildFailed, match=r"taken hub cannot start: .* already answers"):
                await sup.start(hub("taken hub", tmp_path, other.port))
        finally:
            await other.stop()
        assert not (tmp_path / "taken-hub.log").exists()

        silent = ChildSpec(
            "silent",
            [
                sys.executable,
                "-c",
                "import os, time; print(os.getpid(), flush=True); time.sleep(60)",
            ],
            f"http://127.0.0.1:{_port()}/",
            tmp_path / "silent.log",
        )
        with pytest.raises(ChildFailed, match=r"silent did not answer .* within 1 s") as late:
            await sup.start(silent, within=1)
        pid = int(late.value.tail.split()[0])
        assert _gone(pid)  # killed, not left behind
        assert sup.names() == [] and sup.crashes == []


async def test_a_stopped_child_starts_again_under_its_name_on_its_port(tmp_path: Path) -> None:
    spec = hub("hub", tmp_path)
    sup = Supervisor()
    pids: list[int] = []

    async def restart_then_fail() -> None:
        async with sup:
            pids.append(await sup.start(spec))
            stopping = asyncio.create_task(sup.stop("hub"))
            await asyncio.sleep(0)  # SIGTERM sent, the process still shutting down
            assert sup.pid("hub") == pids[0] and not sup.running("hub")
            assert await stopping == 0
            assert not sup.running("hub") and sup.pid("hub") is None
            starting = asyncio.create_task(sup.start(spec))
            for _ in range(3000):  # until spawned; not answering yet, so not running
                if sup.pid("hub") is not None:
                    break
                await asyncio.sleep(0.01)
            assert sup.pid("hub") is not None
            assert not sup.running("hub") and sup.names() == []
            pids.append(await starting)
            assert pids[1] != pids[0] and sup.pid("hub") == pids[1] and sup.running("hub")
            with pytest.raises(ValueError, match="already running"):
                await sup.start(spec)
            raise RuntimeError("the block failed")

    with pytest.raises(RuntimeError, match="the block failed"):
        await restart_then_fail()
    assert len(pids) == 2 and all(_gone(pid) for pid in pids)  # stopped leaving the block
    assert sup.crashes == [] and not sup.crashed.is_set()


PARENT = """
import asyncio, json, sys
from pathlib import Path
from roam.federation.processes import ChildSpec, Supervisor

async def main():
    sup = Supervisor()
    specs = [ChildSpec(s["name"], s["argv"], s["ready_url"], Path(s["log"])) for s in
             json.loads(sys.argv[1])]
    pids = await asyncio.gather(*(sup.start(spec) for spec in specs))
    print(json.dumps(pids), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_no_child_outlives_a_parent_killed_with_sigkill(tmp_path: Path) -> None:
    specs = [hub(name, tmp_path) for name in ("hub", "second hub")]
    argv = json.dumps(
        [{**vars(spec), "argv": list(spec.argv), "log": str(spec.log)} for spec in specs]
    )
    with (tmp_path / "parent.log").open("wb") as errors:
        parent = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            PARENT,
            argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(parent.stdout.readline(), 60)
        assert line, (tmp_path / "parent.log").read_text()
        pids = json.loads(line)
        assert not any(_gone(pid) for pid in pids)
        parent.kill()
        await parent.wait()
        assert await _all_gone(pids, within=10)
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()
        for pid in pids:  # left behind only if the test failed
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


ORPHAN = "from roam.federation.processes import die_with_supervisor; die_with_supervisor()"


async def test_a_child_whose_supervisor_is_already_gone_exits_at_once() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ROAM_SUPERVISOR_PID": "1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ORPHAN,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert b"the supervisor (pid 1) is not this process's parent" in output
