"""The `roam` command: one entry point for the hub, the mock members and the tools around them."""

from __future__ import annotations

import typer

from roam.conformance.cli import conformance_command
from roam.cpo_cmd import cpo_app
from roam.demo import demo_command
from roam.emsp_cmd import emsp_app
from roam.hub_cmd import hub_app
from roam.scenario_cmd import scenario_app
from roam.tariff_cmd import tariff_app

app = typer.Typer(
    name="roam",
    help="OCPI 2.2.1 roaming hub simulator: hub, mock CPOs and eMSPs, demo and test tools.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(hub_app, name="hub")
app.add_typer(cpo_app, name="cpo")
app.add_typer(emsp_app, name="emsp")
app.command("demo")(demo_command)
app.add_typer(tariff_app, name="tariff")
app.command("conformance")(conformance_command)
app.add_typer(scenario_app, name="scenario")


def main() -> None:
    """Console-script entry point."""
    app()
