"""ocpi/aio.py: waits with a time limit that never lose a cancel (a service's stop hung on
Python 3.11's wait_for)."""

from __future__ import annotations

import asyncio

import pytest

from ocpi.aio import get_within, wait_set


async def test_wait_set_says_whether_the_event_came() -> None:
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    event.set()
    assert await wait_set(event, 0.01) is True
    later = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, later.set)
    assert await wait_set(later, 5) is True


async def test_get_within_gives_the_item_or_none() -> None:
    queue: asyncio.Queue[str] = asyncio.Queue()
    assert await get_within(queue, 0.01) is None
    queue.put_nowait("ping")
    assert await get_within(queue, 0.01) == "ping"


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
@pytest.mark.parametrize("kind", ["event", "queue"])
async def test_a_loop_of_waits_ends_when_cancelled_as_its_signal_arrives(
    kind: str, turns: int
) -> None:
    """The pattern of the services' background loops: wait for a signal (an event set, an
    item queued) or a time limit, do the work, wait again. A cancel that arrives `turns` loop
    iterations after the signal must end the loop (with wait_for on 3.11, some of these turns
    drop it and the loop runs on)."""
    event = asyncio.Event()
    queue: asyncio.Queue[int] = asyncio.Queue()

    async def background() -> None:
        while True:
            if kind == "event":
                await wait_set(event, 30)
                event.clear()
            else:
                await get_within(queue, 30)

    task = asyncio.create_task(background())
    await asyncio.sleep(0)
    event.set()
    queue.put_nowait(1)
    for _ in range(turns):
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2)
    assert done, f"the loop ignored its cancel (cancelled {turns} turns after the signal)"
    assert task.cancelled()
