"""`roam demo` with every platform as a process of its own: the story holds, the platforms'
logs are kept, and no platform outlives the demo — not even when the demo is killed with
SIGKILL (the children are told by the kernel: PR_SET_PDEATHSIG)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from roam.demo.run import run_demo
from roam.federation.spec import load_federation
from tests.processes import ROOT


def _children(parent: int) -> list[int]:
    """Pids whose parent is `parent` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


async def test_the_story_holds_with_every_platform_a_process(tmp_path: Path) -> None:
    lines: list[str] = []
    ok = await run_demo(
        load_federation(),
        scale=0.01,
        once=True,
        keep=tmp_path,
        echo=lines.append,
        dashboard=False,
        processes=True,
    )
    text = "\n".join(lines)
    assert ok, text
    logs = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert "hub.log" in logs and "fastned-cpo.log" in logs and "atlante-emsp.log" in logs, logs
    assert len(_children(os.getpid())) == 0  # every platform process has ended


def test_killing_the_demo_leaves_no_platform_running(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "roam", "demo", "--scale", "0.01", "--no-dashboard"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    children: list[int] = []
    try:
        assert demo.stdout is not None
        seen = []
        deadline = time.monotonic() + 120
        for line in demo.stdout:
            seen.append(line)
            if "sync done" in line or time.monotonic() > deadline:
                break
        assert any("sync done" in line for line in seen), "".join(seen)
        children = _children(demo.pid)
        assert len(children) == 9, children  # the hub, four CPOs, four eMSPs
        demo.send_signal(signal.SIGKILL)
        demo.wait(10)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [pid for pid in children if _alive(pid)] == []
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        if demo.stdout is not None:
            demo.stdout.close()
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_platform_that_crashes_ends_the_demo_with_its_name_and_no_orphan() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "roam", "demo", "--scale", "0.01", "--no-dashboard"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    children: list[int] = []
    try:
        assert demo.stdout is not None
        seen = []
        for line in demo.stdout:
            seen.append(line)
            if "Ctrl-C stops everything" in line:  # the story is over, the demo keeps running
                break
        children = _children(demo.pid)
        assert len(children) == 9, "".join(seen)
        victim = next(pid for pid in children if "emsp" in Path(f"/proc/{pid}/cmdline").read_text())
        os.kill(victim, signal.SIGKILL)
        rest, _ = demo.communicate(timeout=60)
        assert demo.returncode == 1, rest
        assert "eMSP stopped unexpectedly (exit code -9)" in rest, rest
        assert [pid for pid in children if _alive(pid)] == []
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        if demo.stdout is not None:
            demo.stdout.close()
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_on_a_terminal_the_sync_is_a_progress_bar() -> None:
    """`roam demo` on a terminal shows the sync as a bar with deliveries per second (rich),
    not as a line every two seconds; piped (as above), it prints lines."""
    import pty

    output = bytearray()

    def read(fd: int) -> bytes:
        data = os.read(fd, 4096)
        output.extend(data)
        return data

    argv = [sys.executable, "-m", "roam", "demo", "--once", "--scale", "0.05", "--no-dashboard"]
    previous = os.getcwd()
    os.chdir(ROOT)
    try:
        status = pty.spawn(argv, read)
    finally:
        os.chdir(previous)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "deliveries," in text and "per s" in text, text
    assert "sync done in" in text
    assert "locations at the eMSPs" not in text
