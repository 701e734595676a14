"""`roam emsp …`: run a mock eMSP (a member's driver app back end), or measure its map search.

    roam emsp --config emsp.toml               # run (same as `roam emsp run --config …`)
    roam emsp bench                            # ~11,000 EVSEs: search timings, p50/p99

Also runnable as `python -m roam.emsp_cmd …`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from emsp_mock.app import create_app
from emsp_mock.settings import ConfigError, EmspSettings, load_config

emsp_app = typer.Typer(
    help="Run a mock e-mobility service provider: the driver's app (docs/emsp_mock.md).",
    invoke_without_command=True,
    no_args_is_help=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", envvar="ROAM_EMSP_CONFIG", help="The eMSP's TOML config."),
]


def _load(config: Path) -> EmspSettings:
    try:
        return load_config(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _serve(settings: EmspSettings) -> None:
    app = create_app(settings)
    typer.echo(
        f"mock eMSP {settings.party} ({settings.name}) at {settings.public_url}/ocpi/versions"
    )
    typer.echo(f"database: {settings.database_url}; drivers: {len(settings.drivers)}")
    typer.echo(f"app API: {settings.public_url}/app/state")
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, access_log=False, log_level="warning"
    )
    uvicorn.Server(config).run()


@emsp_app.callback()
def main(ctx: typer.Context, config: ConfigOption = None) -> None:
    """With --config and no command: run the eMSP described by the file."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    _serve(_load(config))


@emsp_app.command("run")
def run(
    config: Annotated[
        Path, typer.Option("--config", "-c", envvar="ROAM_EMSP_CONFIG", help="TOML config file.")
    ],
) -> None:
    """Run the eMSP described by a config file until interrupted (state in its database)."""
    _serve(_load(config))


@emsp_app.command("bench")
def bench(
    stations: Annotated[
        int, typer.Option(min=1, help="Stations per member (4 members; 425 = Spark scale).")
    ] = 425,
    queries: Annotated[int, typer.Option(min=10, help="Random searches on the index.")] = 2000,
    seed: Annotated[int, typer.Option(help="Network and query seed.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Generate a Spark-scale federation into an eMSP and time map searches (p50/p99)."""
    from roam.emsp_bench import run_bench

    result = asyncio.run(run_bench(stations_per_member=stations, queries=queries, seed=seed))
    if as_json:
        typer.echo(json.dumps(result.to_json()))
        return
    typer.echo(result.report())


if __name__ == "__main__":
    emsp_app()
