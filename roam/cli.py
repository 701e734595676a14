"""The `roam` command: one entry point for the hub, the mock members and the tools around them."""

from __future__ import annotations

import typer

from roam.hub_cmd import hub_app

app = typer.Typer(
    name="roam",
    help="OCPI 2.2.1 roaming hub simulator: hub, mock CPOs and eMSPs, demo and test tools.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(hub_app, name="hub")


def main() -> None:
    """Console-script entry point."""
    app()
