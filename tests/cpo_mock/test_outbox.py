"""cpo_mock/outbox.py: one object's messages in order, different objects side by side (up to
the limit), a job without a key as a barrier, and a failed job not blocking what follows."""

from __future__ import annotations

import asyncio
import random

from cpo_mock.outbox import Job, Outbox


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.in_flight = 0
        self.most = 0

    def job(self, name: str, fail: bool = False) -> tuple[str, Job]:
        async def run() -> None:
            self.events.append(("start", name))
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            await asyncio.sleep(random.uniform(0, 0.01))
            self.in_flight -= 1
            self.events.append(("end", name))
            if fail:
                raise RuntimeError(f"{name} failed on purpose")

        return name, run

    def span(self, name: str) -> tuple[int, int]:
        return self.events.index(("start", name)), self.events.index(("end", name))


async def test_one_keys_jobs_run_in_order_and_other_keys_side_by_side() -> None:
    outbox, seen = Outbox(concurrency=4), Recorder()
    outbox.start()
    try:
        for i in range(5):
            for location in ("L1", "L2", "L3", "L4", "L5", "L6"):
                name, run = seen.job(f"{location}-{i}")
                outbox.put(name, run, ("locations", location))
        await outbox.drain()
    finally:
        await outbox.stop()
    for location in ("L1", "L2", "L3", "L4", "L5", "L6"):
        for i in range(4):
            # The next update of one location starts only after the previous one ended.
            assert seen.span(f"{location}-{i}")[1] < seen.span(f"{location}-{i + 1}")[0]
    assert 1 < seen.most <= 4
    assert outbox.done == 30 and outbox.pending == 0


async def test_a_job_without_key_runs_alone_between_the_jobs_around_it() -> None:
    outbox, seen = Outbox(concurrency=8), Recorder()
    outbox.start()
    try:
        for name in ("T1", "T2", "T3"):
            job_name, run = seen.job(name)
            outbox.put(job_name, run, ("tariffs", name))
        name, run = seen.job("session PUT")
        outbox.put(name, run)
        for name in ("L1", "L2"):
            job_name, run = seen.job(name)
            outbox.put(job_name, run, ("locations", name))
        await outbox.drain()
    finally:
        await outbox.stop()
    start, end = seen.span("session PUT")
    assert all(seen.span(t)[1] < start for t in ("T1", "T2", "T3"))
    assert all(seen.span(loc)[0] > end for loc in ("L1", "L2"))


async def test_a_failed_job_is_counted_and_the_next_of_its_key_still_runs() -> None:
    outbox, seen = Outbox(), Recorder()
    outbox.start()
    try:
        name, run = seen.job("L1-0", fail=True)
        outbox.put(name, run, "L1")
        name, run = seen.job("L1-1")
        outbox.put(name, run, "L1")
        await asyncio.wait_for(outbox.drain(), 5)
    finally:
        await outbox.stop()
    assert (outbox.done, outbox.failed) == (1, 1)
    assert seen.span("L1-0")[1] < seen.span("L1-1")[0]
