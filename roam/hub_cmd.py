"""`roam hub …`: run and operate the roaming hub."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
import uvicorn

from hub.app import create_app
from hub.settings import HubSettings

hub_app = typer.Typer(help="Run and operate the OCPI roaming hub.", no_args_is_help=True)


@hub_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(envvar="ROAM_HUB_HOST", help="Interface to bind.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(envvar="ROAM_HUB_PORT", help="TCP port.")] = 8080,
    base_url: Annotated[
        str | None,
        typer.Option(envvar="ROAM_HUB_BASE_URL", help="Public URL (default http://HOST:PORT)."),
    ] = None,
    invite_token: Annotated[
        str | None,
        typer.Option(
            envvar="ROAM_HUB_INVITE_TOKEN",
            help="Credentials token A to accept (a random one is made and printed if absent).",
        ),
    ] = None,
) -> None:
    """Serve the hub over HTTP until interrupted."""
    settings = HubSettings(
        host=host,
        port=port,
        base_url=base_url,
        invite_token=invite_token or secrets.token_urlsafe(24),
    )
    typer.echo(f"OCPI hub {settings.country_code}/{settings.party_id} at {settings.versions_url}")
    typer.echo(f"credentials token A: {settings.invite_token}")
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    uvicorn.Server(config).run()
