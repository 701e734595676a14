"""The run of `roam demo` (docs/demo.md): bring the federation up, play the story, print the
settlement; then, unless `--once`, keep it running with a live view until cancelled.

The hub and every member's CPO and eMSP run under uvicorn in this process on 127.0.0.1 ports
(real HTTP, real credentials handshakes); databases go to a fresh temporary folder (or
`--keep DIR`). The command itself is roam/demo_cmd.py.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from roam.demo.story import Story, play
from roam.federation.runtime import (
    Echo,
    Federation,
    demo_folder,
    settlement_table,
    start_federation,
)
from roam.federation.spec import FederationSpec


async def run_demo(
    spec: FederationSpec,
    *,
    scale: float = 1.0,
    once: bool = False,
    keep: Path | None = None,
    echo: Echo = print,
    live_every: float = 1.0,
) -> bool:
    """Bring the federation up, play the story, print the settlement table; with `once` stop
    there, else keep the federation running (clocks ticking, live view) until cancelled.
    True when every step of the story held and the settlement balances."""
    began = time.perf_counter()
    with demo_folder(keep) as folder:
        echo(f"{spec.alliance}: {len(spec.members)} members, scale {scale:g}; state in {folder}")
        federation: Federation | None = None
        try:
            federation, sync_s = await start_federation(spec, scale, folder, echo)
            story = Story(echo, live_every=live_every)
            played = await play(federation, story)
            echo("  " + federation.live_line())
            echo("")
            echo("settlement (from the CDRs the hub routed):")
            table, balanced = settlement_table(federation)
            echo(table)
            ok = played and balanced
            failed = [c for c in story.checks if not c.ok]
            echo("")
            echo(
                f"summary: {len(story.checks) - len(failed)}/{len(story.checks)} story checks "
                f"held; settlement {'balances' if balanced else 'DOES NOT BALANCE'}; "
                f"location sync {sync_s:.1f} s; total {time.perf_counter() - began:.1f} s"
            )
            for check in failed:
                echo(f"  FAILED {check.step}: {check.detail}")
            echo("demo: OK" if ok else "demo: FAILED")
            if not once:
                await _live(federation, echo, live_every)
            return ok
        finally:
            if federation is not None:
                echo("stopping the federation ...")
                await federation.stop()
                echo("stopped")


async def _live(federation: Federation, echo: Echo, every: float) -> None:
    """Keep serving; the simulated clocks run a minute per real second. Ctrl-C ends it."""
    echo("")
    echo(f"the federation keeps running: hub at {federation.hub.settings.versions_url}")
    for member in federation.members:
        echo(
            f"  {member.spec.name:<10} CPO {member.cpo_settings.public_url}/control/state   "
            f"app {member.emsp_settings.public_url}/app/state"
        )
    echo("Ctrl-C stops everything")
    last = time.monotonic()
    while True:
        await federation.step(60)
        await asyncio.sleep(1.0)
        if time.monotonic() - last >= max(every, 5.0):
            last = time.monotonic()
            echo(federation.live_line())
