"""Shared fixtures: where the spec's example files live. And a hang's post-mortem: `kill -USR1`
a test process (an xdist worker too) and it writes every thread's stack and every asyncio
task's stack to /tmp/roam-tests-<pid>.txt, then goes on."""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
from pathlib import Path
from types import FrameType

import pytest

from tests.databases import database_url  # noqa: F401 - shared fixture (SQLite and PostgreSQL)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = Path(
    os.environ.get("OCPI_EXAMPLES_DIR", ROOT.parent / "shared" / "ocpi" / "examples")
)


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The spec's own example files (../shared/ocpi/examples), read in place, never copied."""
    if not EXAMPLES_DIR.is_dir():
        pytest.skip(
            f"the OCPI spec examples are not at {EXAMPLES_DIR}; "
            "set OCPI_EXAMPLES_DIR to the folder holding them"
        )
    return EXAMPLES_DIR


def _dump_stacks(signum: int, frame: FrameType | None) -> None:
    with open(f"/tmp/roam-tests-{os.getpid()}.txt", "a", encoding="utf-8") as out:
        faulthandler.dump_traceback(out, all_threads=True)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # the handler runs between bytecodes of the loop's own thread
            loop = asyncio.get_event_loop_policy().get_event_loop()
        for task in asyncio.all_tasks(loop):
            out.write(f"--- {task!r}\n")
            awaited: object = task.get_coro()
            while awaited is not None:  # the whole chain of awaits, not the outer frame only
                frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
                if frame is not None:
                    out.write(
                        f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}\n"
                    )
                awaited = getattr(awaited, "cr_await", None) or getattr(
                    awaited, "gi_yieldfrom", None
                )


if hasattr(signal, "SIGUSR1"):
    signal.signal(signal.SIGUSR1, _dump_stacks)
