"""The run of `roam demo` (docs/demo.md): bring the federation up, play the story, print the
settlement; then, unless `--once`, keep it running with a live view until cancelled.

The hub and every member's CPO and eMSP run as processes of their own (`processes`, what
`roam demo` does) or under uvicorn in this process, on 127.0.0.1 ports either way (real HTTP,
real credentials handshakes); databases and the processes' logs go to a fresh temporary
folder (or `--keep DIR`). The command itself is roam/demo_cmd.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import webbrowser
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from dashboard import DashboardConfig, MemberLink, RunningDashboard, start
from roam.demo.story import Story, play
from roam.federation.control import control_app
from roam.federation.runtime import (
    DemoError,
    Echo,
    Federation,
    demo_folder,
    settlement_table,
    start_federation,
)
from roam.federation.spec import FederationSpec
from roam.serving import LoopbackServer

T = TypeVar("T")


async def run_demo(
    spec: FederationSpec,
    *,
    scale: float = 1.0,
    once: bool = False,
    keep: Path | None = None,
    echo: Echo = print,
    live_every: float = 1.0,
    dashboard: bool = True,
    open_browser: bool = False,
    processes: bool = False,
    progress: bool = False,
) -> bool:
    """Bring the federation up, play the story, print the settlement table; with `once` stop
    there, else keep the federation running (clocks ticking, live view) until cancelled.
    With `dashboard`, the federation dashboard is served too and its URL printed among the
    first lines (`open_browser` opens it). True when every step of the story held and the
    settlement balances."""
    began = time.perf_counter()
    with demo_folder(keep) as folder:
        echo(f"{spec.alliance}: {len(spec.members)} members, scale {scale:g}; state in {folder}")
        federation: Federation | None = None
        running: list[RunningDashboard] = []
        controls: list[LoopbackServer] = []

        async def start_dashboard(federation: Federation) -> None:
            # The page's fault switches go through a small HTTP control API of this
            # federation (the dashboard is a client of HTTP interfaces only).
            token = secrets.token_urlsafe(16)
            control = LoopbackServer(control_app(federation, token), log_level="error")
            await control.start()
            controls.append(control)
            config = dashboard_config(federation, control.url, token)
            running.append(await start(config))
            echo(f"dashboard: {running[0].url}  (map, message flow, traces, settlement)")
            if open_browser:
                webbrowser.open(running[0].url)

        try:
            federation, sync_s = await start_federation(
                spec,
                scale,
                folder,
                echo,
                on_members=start_dashboard if dashboard else None,
                processes=processes,
                progress=progress,
            )
            story = Story(echo, live_every=live_every)
            played = await unless_crashed(federation, play(federation, story))
            echo("  " + await federation.live_line())
            echo("")
            echo("settlement (from the CDRs the hub routed):")
            table, balanced = await settlement_table(federation)
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
                await unless_crashed(federation, _live(federation, echo, live_every))
            return ok
        finally:
            for served in running:
                await served.stop()
            for control in controls:
                await control.stop()
            if federation is not None:
                echo("stopping the federation ...")
                await federation.stop()
                echo("stopped")


async def unless_crashed(federation: Federation, work: Coroutine[Any, Any, T]) -> T:
    """`work`'s result, unless one of the federation's platform processes crashes first: then
    `work` is cancelled and DemoError names the platform, its exit code and its last log
    lines (the caller stops the rest)."""
    supervisor = federation.supervisor
    if supervisor is None:
        return await work
    task = asyncio.ensure_future(work)
    crash = asyncio.ensure_future(supervisor.crashed.wait())
    try:
        await asyncio.wait({task, crash}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        crash.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    failure = task.exception() if task.done() and not task.cancelled() else None
    if failure is not None and not supervisor.crashes:
        # A call that failed may be the first sign of a crash its watcher has yet to see.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(supervisor.crashed.wait(), 1.0)
    if task.done() and not task.cancelled() and not supervisor.crashes:
        return task.result()
    name, code, tail = supervisor.crashes[0]
    raise DemoError(
        f"{name} stopped unexpectedly (exit code {code}); the last lines of its log:\n{tail}"
    )


def dashboard_config(
    federation: Federation,
    federation_url: str | None = None,
    federation_token: str | None = None,
) -> DashboardConfig:
    """The dashboard of a running federation: the hub's admin API and every member's CPO
    control API and eMSP app API, by URL (it is a client of those public interfaces only);
    with `federation_url`, also the federation control API (roam/federation/control.py)
    behind its fault switches."""
    members = []
    for member in federation.members:
        cpo, emsp = member.cpo_settings, member.emsp_settings
        drivers = tuple(driver.id for driver in emsp.drivers) or ("driver",)
        members.append(MemberLink(member.spec.name, "CPO", cpo.public_url, cpo.control_token))
        members.append(
            MemberLink(member.spec.name, "EMSP", emsp.public_url, emsp.app_token, drivers)
        )
    admin = federation.admin
    return DashboardConfig(
        admin.base_url,
        admin.token or "",
        members=members,
        federation_url=federation_url,
        federation_token=federation_token,
    )


async def _live(federation: Federation, echo: Echo, every: float) -> None:
    """Keep serving; the simulated clocks run a minute per real second. Ctrl-C ends it."""
    echo("")
    echo(f"the federation keeps running: hub at {federation.hub_url}/ocpi/versions")
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
            echo(await federation.live_line())
