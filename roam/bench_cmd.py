"""`roam bench`: benchmarks of the whole federation (docs/demo.md "Performance").

    roam bench sync                    # the default alliance: sync time, deliveries/s, CPU, RSS
    roam bench sync --scale 0.1 --scale 1 --scale 3 --scale 10   # how the figures grow
    roam bench sync --json             # the same as JSON
    roam bench storm                   # 500 EVSE status changes/s for 60 s: lost, p99, CPU
    roam bench storm --rate 100 --seconds 10 --scale 0.1 --json
    roam bench storm --driver control  # one control call per change instead of flapping CPOs

The hub alone has its own bench: `roam hub bench` (docs/hub.md "Benchmark").

No `from __future__ import annotations`: typer reads the Annotated options at runtime.
"""

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from roam.federation.clients import ApiError
from roam.federation.runtime import DemoError
from roam.federation.spec import FederationError, load_federation

bench_app = typer.Typer(
    help="Benchmarks of the whole federation (the hub's own: roam hub bench).",
    no_args_is_help=True,
)


@bench_app.command("sync")
def sync_command(
    scale: Annotated[
        list[float] | None,
        typer.Option(
            min=0.001,
            max=20,
            help="Network size (1 = the alliance); give it several times to see growth.",
        ),
    ] = None,
    federation: Annotated[
        Path | None,
        typer.Option("--federation", "-f", help="Federation file (default: the alliance)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Time the sync of every station and tariff to every eMSP, platforms as processes."""
    from roam.bench import sync

    try:
        spec = load_federation(federation)
    except FederationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    scales = scale or [1.0]
    try:
        report = asyncio.run(
            sync.run(spec, scales, lambda line: typer.echo(line, err=True), progress=True)
        )
    except (DemoError, ApiError) as exc:
        typer.echo(f"bench failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(report, indent=2) if as_json else sync.text(report))


class Driver(StrEnum):
    """Who makes the storm's changes (roam/bench/storm.py)."""

    CPO = "cpo"
    CONTROL = "control"


@bench_app.command("storm")
def storm_command(
    rate: Annotated[
        float, typer.Option(min=0.1, max=100_000, help="EVSE status changes per second.")
    ] = 500.0,
    seconds: Annotated[float, typer.Option(min=0.1, help="How long the storm lasts.")] = 60.0,
    scale: Annotated[
        float, typer.Option(min=0.001, max=20, help="Network size (1 = the alliance).")
    ] = 1.0,
    evses: Annotated[
        int | None,
        typer.Option(min=1, help="EVSEs changed per CPO, one per location first [default: 250]."),
    ] = None,
    federation: Annotated[
        Path | None,
        typer.Option("--federation", "-f", help="Federation file (default: the alliance)."),
    ] = None,
    driver: Annotated[
        Driver,
        typer.Option(
            help="Who makes the changes: the CPOs themselves (flapping chargers) or this "
            "process, one control call per change.",
        ),
    ] = Driver.CPO,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """EVSE status changes at a steady rate through the CPOs, fanned out to every eMSP: how
    many are lost, how long each takes to arrive, what it costs (platforms as processes)."""
    from roam.bench import storm

    try:
        spec = load_federation(federation)
    except FederationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        report = storm.measure(
            spec,
            scale,
            rate,
            seconds,
            lambda line: typer.echo(line, err=True),
            evses or storm.EVSES_PER_CPO,
            driver.value,
        )
    except (DemoError, ApiError, storm.StormError) as exc:
        typer.echo(f"bench failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(report, indent=2) if as_json else storm.text(report))
