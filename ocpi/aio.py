"""Waiting with a time limit without losing a cancel.

On Python 3.11, `asyncio.wait_for(aw, timeout)` runs `aw` as a task of its own; when that
task finishes in the same loop iteration as the waiter is cancelled, `wait_for` returns the
result and the cancel is gone (CPython gh-86296, fixed in 3.12). A loop such as
`while True: wait_for(event.wait(), t)` then never ends: a service's stop hangs, now and then,
on a busy machine. `asyncio.timeout` has no inner task and keeps the cancel; these helpers
wrap it for the two waits the services make in their loops.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


async def wait_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set, at most `seconds`: True if it was set, False on time out."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def get_within(queue: asyncio.Queue[T], seconds: float) -> T | None:
    """The next item of `queue`, or None when none came within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            return await queue.get()
    except TimeoutError:
        return None
