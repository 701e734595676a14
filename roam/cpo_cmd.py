"""`roam cpo …`: run a mock CPO, generate a network for one, measure how fast it serves.

    roam cpo --config cpo.toml                 # run (same as `roam cpo run --config …`)
    roam cpo generate network.json --party DE/CPB --name Spark --stations 425 [--config cpo.toml]
    roam cpo bench --stations 500              # start-up and a full paginated pull, timed

Also runnable as `python -m roam.cpo_cmd …`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from cpo_mock.app import create_app
from cpo_mock.network import ALLIANCE_COUNTRIES, MEMBER_STATIONS, PROFILES, generate_network
from cpo_mock.settings import CpoSettings, load_config
from ocpi.headers import PartyRef
from roam.member_cmd import MemberCommand, member_typer, print_result


def _banner(settings: CpoSettings) -> list[str]:
    return [
        f"database: {settings.database_url}; clock: {settings.clock.mode.value}",
        f"control API: {settings.public_url}/control/state",
    ]


CPO_COMMAND = MemberCommand("CPO", "ROAM_CPO_CONFIG", load_config, create_app, _banner)
cpo_app = member_typer(CPO_COMMAND, help="Run a mock charge point operator (docs/cpo_mock.md).")


def _config_text(
    party: PartyRef, name: str, network: Path, port: int, hub_url: str | None, token_a: str | None
) -> str:
    lines = [
        "[cpo]",
        f'country_code = "{party.country_code}"',
        f'party_id = "{party.party_id}"',
        f"name = {json.dumps(name)}",
        f"port = {port}",
        f'database_url = "sqlite:///var/cpo-{party.country_code}-{party.party_id}.db"',
        "",
        "[network]",
        f"file = {json.dumps(network.name)}",
        "",
        "[clock]",
        'mode = "accelerated"',
        "speed = 60",
        "",
    ]
    if hub_url:
        lines += ["[hub]", f"versions_url = {json.dumps(hub_url)}"]
        if token_a:
            lines.append(f"token_a = {json.dumps(token_a)}")
        lines.append("")
    return "\n".join(lines)


@cpo_app.command("generate")
def generate(
    out: Annotated[Path, typer.Argument(help="Where to write the network (JSON).")],
    party: Annotated[str, typer.Option(help="The CPO's country_code/party_id.")] = "DE/CPB",
    name: Annotated[str, typer.Option(help="Brand name (operator of every location).")] = "Spark",
    stations: Annotated[int, typer.Option(min=1, help="How many stations.")] = MEMBER_STATIONS,
    seed: Annotated[int, typer.Option(help="Same seed, same network.")] = 1,
    profile: Annotated[str, typer.Option(help=f"One of: {', '.join(PROFILES)}.")] = "hpc",
    countries: Annotated[
        str, typer.Option(help="Comma-separated ISO codes (default: the 25 alliance countries).")
    ] = ",".join(ALLIANCE_COUNTRIES),
    config: Annotated[
        Path | None, typer.Option("--config", help="Also write a config file using the network.")
    ] = None,
    port: Annotated[int, typer.Option(help="Port in the written config.")] = 8101,
    hub_url: Annotated[str | None, typer.Option(help="Hub versions URL for the config.")] = None,
    token_a: Annotated[str | None, typer.Option(help="Token A for the config.")] = None,
) -> None:
    """Generate a deterministic network of stations at real European cities."""
    try:
        ref = PartyRef.parse(party)
        network = generate_network(
            ref.country_code,
            ref.party_id,
            name,
            stations=stations,
            seed=seed,
            profile=profile,
            countries=tuple(c.strip().upper() for c in countries.split(",") if c.strip()),
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    network.write(out)
    typer.echo(
        f"{out}: {len(network.locations)} stations, {network.evse_count} EVSEs, "
        f"{len(network.tariffs)} tariffs"
    )
    if config is not None:
        relative = out.resolve()
        if relative.parent == config.resolve().parent:
            relative = Path(out.name)
        config.write_text(
            _config_text(ref, name, relative, port, hub_url, token_a), encoding="utf-8"
        )
        typer.echo(f"{config}: run it with: roam cpo --config {config}")


@cpo_app.command("bench")
def bench(
    stations: Annotated[int, typer.Option(min=1, help="Size of the generated network.")] = 500,
    seed: Annotated[int, typer.Option(help="Network seed.")] = 1,
    page_limit: Annotated[int, typer.Option(min=1, help="The CPO's X-Limit.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Start a hub and a CPO on loopback, then time the CPO's start-up and a full pull."""
    from roam.bench.cpo import run_bench

    print_result(
        asyncio.run(run_bench(stations=stations, seed=seed, page_limit=page_limit)), as_json
    )


if __name__ == "__main__":
    cpo_app()
