"""`roam demo`: a whole alliance on one machine (docs/demo.md).

    roam demo                          # the default alliance (roam/federation/federation.yaml)
    roam demo --once                   # play the story once, print a summary, exit 0 if it held
    roam demo --scale 0.1              # a tenth of the stations (10 for ten times as many)
    roam demo --federation my.yaml     # your own members
    roam demo --in-process             # every platform in this one process (no children)

The hub and each member's CPO and eMSP run as processes of their own, supervised by this one
(roam/federation/processes.py; their logs in the state folder's logs/). The run is
roam/demo/run.py; Ctrl-C stops every platform cleanly, and no platform outlives this process.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from roam.demo.run import run_demo
from roam.federation.clients import ApiError
from roam.federation.runtime import DemoError
from roam.federation.spec import FederationError, load_federation


def demo_command(
    once: Annotated[
        bool, typer.Option("--once", help="Play the story once, summarise, exit 0 if it held.")
    ] = False,
    scale: Annotated[
        float,
        typer.Option(
            min=0.001, max=20, help="Network size: 1 = the alliance, 0.1 smaller, 10 larger."
        ),
    ] = 1.0,
    federation: Annotated[
        Path | None,
        typer.Option("--federation", "-f", help="Federation file (YAML; default: the alliance)."),
    ] = None,
    keep: Annotated[
        Path | None,
        typer.Option(
            help="Keep the databases in this folder (emptied first) instead of a temp one."
        ),
    ] = None,
    dashboard: Annotated[
        bool | None,
        typer.Option(
            "--dashboard/--no-dashboard",
            help="Serve the federation dashboard and print its URL (default: on, off with --once).",
        ),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the dashboard in a web browser.")
    ] = False,
    in_process: Annotated[
        bool,
        typer.Option(
            "--in-process",
            help="Run the hub and every platform in this process (one core) instead of each "
            "as a process of its own.",
        ),
    ] = False,
) -> None:
    """Run a roaming alliance on this machine: hub, members, sync, a roaming story, settlement."""
    with_dashboard = open_browser or (not once if dashboard is None else dashboard)
    try:
        spec = load_federation(federation)
    except FederationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    ok = False
    try:
        ok = asyncio.run(
            run_demo(
                spec,
                scale=scale,
                once=once,
                keep=keep,
                echo=typer.echo,
                dashboard=with_dashboard,
                open_browser=open_browser,
                processes=not in_process,
                progress=sys.stdout.isatty(),
            )
        )
    except KeyboardInterrupt:
        typer.echo("interrupted: everything stopped")
        raise typer.Exit(130 if once else 0) from None
    except (DemoError, ApiError) as exc:
        typer.echo(f"demo failed: {exc}", err=True)
        raise typer.Exit(1) from None
    raise typer.Exit(0 if ok else 1)
