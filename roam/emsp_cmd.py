"""`roam emsp …`: run a mock eMSP (a member's driver app back end), or measure its map search.

    roam emsp --config emsp.toml               # run (same as `roam emsp run --config …`)
    roam emsp bench                            # ~11,000 EVSEs: search timings, p50/p99

Also runnable as `python -m roam.emsp_cmd …`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from emsp_mock.app import create_app
from emsp_mock.settings import ConfigError, EmspSettings, load_config
from roam.member_cmd import MemberCommand, member_typer, print_result


def _banner(settings: EmspSettings) -> list[str]:
    return [
        f"database: {settings.database_url}; drivers: {len(settings.drivers)}",
        f"app API: {settings.public_url}/app/state",
    ]


EMSP_COMMAND = MemberCommand(
    "eMSP", "ROAM_EMSP_CONFIG", load_config, create_app, _banner, config_error=ConfigError
)
emsp_app = member_typer(
    EMSP_COMMAND,
    help="Run a mock e-mobility service provider: the driver's app (docs/emsp_mock.md).",
)


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
    from roam.bench.emsp import run_bench

    result = asyncio.run(run_bench(stations_per_member=stations, queries=queries, seed=seed))
    print_result(result, as_json)


if __name__ == "__main__":
    emsp_app()
