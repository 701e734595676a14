"""`roam hub …`: run and operate the roaming hub.

The bench (uvloop, an aiohttp load generator) is imported only when `roam hub bench` runs.
"""

from __future__ import annotations

import json
import math
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from hub.app import create_app
from hub.database import hub_database
from hub.service import Hub
from hub.settings import HubSettings
from hub.settlement import to_csv
from ocpi.headers import PartyRef
from ocpi.v221.types import Role, parse_datetime
from roam.serving import ServeError, bind_if_any_port, serve_until_interrupted

hub_app = typer.Typer(help="Run and operate the OCPI roaming hub.", no_args_is_help=True)

Host = Annotated[str, typer.Option(envvar="ROAM_HUB_HOST", help="Interface to bind.")]
Port = Annotated[int, typer.Option(envvar="ROAM_HUB_PORT", help="TCP port.")]
BaseUrl = Annotated[
    str | None,
    typer.Option(envvar="ROAM_HUB_BASE_URL", help="Public URL (default http://HOST:PORT)."),
]
DatabaseUrl = Annotated[
    str,
    typer.Option(
        envvar="ROAM_HUB_DATABASE_URL",
        help="SQLAlchemy URL: sqlite:///path.db (default) or postgresql://…",
    ),
]
DEFAULT_DB = "sqlite:///var/hub.db"
SERVE_DEFAULTS = HubSettings()
"""The defaults of `roam hub serve`'s tuning options: the hub's own."""


def _settings(host: str, port: int, base_url: str | None, database_url: str) -> HubSettings:
    return HubSettings(host=host, port=port, base_url=base_url, database_url=database_url)


def _option(field: str) -> str:
    """How click names an option in its errors: `'--drain-timeout' (env var: '…')`."""
    return f"'--{field.replace('_', '-')}' (env var: 'ROAM_HUB_{field.upper()}')"


def serve_settings(
    host: str, port: int, base_url: str | None, database_url: str, **tuning: object
) -> HubSettings:
    """The settings `roam hub serve` runs with, from its options (and ROAM_HUB_* variables).

    Every value is checked by `HubSettings` itself, so a bad one is a usage error naming the
    option (exit status 2), never a traceback or a hub that runs with it: `--forward-timeout
    0` was once taken as is (model_copy does not validate) and made every forward fail.
    """
    for name, value in tuning.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise typer.BadParameter(
                f"must be a finite number, not {value}", param_hint=_option(name)
            )
    values = {"host": host, "port": port, "base_url": base_url, "database_url": database_url}
    try:
        return HubSettings.model_validate({**values, **tuning})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        message = str(error["msg"]).replace("Input should be", "must be")
        raise typer.BadParameter(
            f"{message} (got {error['input']!r})", param_hint=_option(field)
        ) from None


@hub_app.command("serve")
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8080,
    base_url: BaseUrl = None,
    database_url: DatabaseUrl = DEFAULT_DB,
    admin_token: Annotated[
        str | None,
        typer.Option(envvar="ROAM_HUB_ADMIN_TOKEN", help="Admin API token (default: stored)."),
    ] = None,
    forward_timeout: Annotated[
        float,
        typer.Option(
            envvar="ROAM_HUB_FORWARD_TIMEOUT",
            help="Seconds the hub waits for a member before answering 4002 (> 0).",
        ),
    ] = SERVE_DEFAULTS.forward_timeout,
    still_alive_after: Annotated[
        float,
        typer.Option(
            envvar="ROAM_HUB_STILL_ALIVE_AFTER",
            help="Seconds of silence after which a platform is checked with GET versions "
            "(> 0; the spec's 5 minutes).",
        ),
    ] = SERVE_DEFAULTS.still_alive_after,
    still_alive_interval: Annotated[
        float,
        typer.Option(
            envvar="ROAM_HUB_STILL_ALIVE_INTERVAL",
            min=0.1,
            help="Seconds between still-alive rounds (an OFFLINE platform is retried each).",
        ),
    ] = SERVE_DEFAULTS.still_alive_interval,
    log_flush_interval: Annotated[
        float,
        typer.Option(
            envvar="ROAM_HUB_LOG_FLUSH_INTERVAL",
            help="Seconds at most between two writes of the message log and other writes "
            "nobody waits for (> 0).",
        ),
    ] = SERVE_DEFAULTS.log_flush_interval,
    delivery_attempts: Annotated[
        int,
        typer.Option(
            envvar="ROAM_HUB_DELIVERY_ATTEMPTS",
            min=1,
            help="Times a broadcast is offered to a failing receiver before it is given up.",
        ),
    ] = SERVE_DEFAULTS.delivery_attempts,
    delivery_backoff_max: Annotated[
        float,
        typer.Option(
            envvar="ROAM_HUB_DELIVERY_BACKOFF_MAX",
            help="Longest pause in seconds between two delivery attempts (> 0; pauses "
            "double from 0.1 s).",
        ),
    ] = SERVE_DEFAULTS.delivery_backoff_max,
    delivery_concurrency: Annotated[
        int,
        typer.Option(
            envvar="ROAM_HUB_DELIVERY_CONCURRENCY",
            min=1,
            help="Objects delivered at once to one receiver (one object's updates in order).",
        ),
    ] = SERVE_DEFAULTS.delivery_concurrency,
    drain_timeout: Annotated[
        float,
        typer.Option(
            envvar="ROAM_HUB_DRAIN_TIMEOUT",
            min=0,
            help="On stop, seconds the hub keeps delivering accepted broadcasts (the rest "
            "stays in the outbox for the next start).",
        ),
    ] = SERVE_DEFAULTS.drain_timeout,
) -> None:
    """Serve the hub over HTTP until interrupted (state persists in the database)."""
    settings = serve_settings(
        host,
        port,
        base_url,
        database_url,
        admin_token=admin_token,
        forward_timeout=forward_timeout,
        still_alive_after=still_alive_after,
        still_alive_interval=still_alive_interval,
        log_flush_interval=log_flush_interval,
        delivery_attempts=delivery_attempts,
        delivery_backoff_max=delivery_backoff_max,
        delivery_concurrency=delivery_concurrency,
        drain_timeout=drain_timeout,
    )
    port, sock = _bound(settings.host, settings.port)
    settings = settings.model_copy(update={"port": port})
    app = with_dashboard(create_app(settings))
    typer.echo(f"OCPI hub {settings.country_code}/{settings.party_id} at {settings.versions_url}")
    typer.echo(f"database: {settings.database_url}")
    typer.echo(f"dashboard (operator view, admin token): {settings.public_url}/dashboard/")
    typer.echo("invite a member with: roam hub invite  (same --database-url)")
    serve_until_interrupted(app, settings.host, settings.port, sock)


def _bound(host: str, port: int) -> tuple[int, socket.socket | None]:
    """`bind_if_any_port`, its failure a usage error naming --port (exit status 2)."""
    try:
        return bind_if_any_port(host, port)
    except ServeError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--port'") from None


def with_dashboard(hub_app: FastAPI) -> Starlette:
    """The hub with the operator view of the dashboard at /dashboard/ (docs/dashboard.md).

    The dashboard is a client of the hub's admin API, behind the same admin token; it is built
    on its first request, once the hub has started and knows its token. It sits beside the hub
    app, not inside it, so its page loads and event stream stay out of the OCPI message log.
    """
    from dashboard import DashboardConfig
    from dashboard import create_app as create_dashboard

    hub: Hub = hub_app.state.hub
    built: list[Starlette] = []

    async def dashboard(scope: Scope, receive: Receive, send: Send) -> None:
        if not built:
            config = DashboardConfig(
                hub.settings.public_url,
                hub.admin_token,
                access_token=hub.admin_token,
                allow_actions=False,
            )
            built.append(create_dashboard(config))
        await built[0](scope, receive, send)

    async def to_slash(_: Request) -> Response:
        return RedirectResponse("/dashboard/", status_code=307)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with hub_app.router.lifespan_context(hub_app):
            try:
                yield
            finally:
                for app in built:
                    await app.state.live.aclose()

    return Starlette(
        routes=[
            Route("/dashboard", to_slash),
            Mount("/dashboard", dashboard),
            Mount("", hub_app),
        ],
        lifespan=lifespan,
    )


def _parse_party(text: str) -> tuple[Role, PartyRef]:
    role, _, party = text.partition(":")
    try:
        return Role(role.upper()), PartyRef.parse(party)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r}: expected ROLE:CC/PID, e.g. CPO:NL/TNM ({exc})"
        ) from None


def _invite_url(
    host: str | None, port: int | None, base_url: str | None, recorded: str | None
) -> str:
    """The public URL to hand out: an explicit --base-url (or --host/--port) first, then the
    URL the serving hub recorded in the database, then a guess from the defaults (warned)."""
    if base_url or host is not None or port is not None:
        defaults = HubSettings()
        chosen = HubSettings(
            host=defaults.host if host is None else host,
            port=defaults.port if port is None else port,
            base_url=base_url,
        ).public_url
        if recorded and recorded != chosen:
            typer.echo(
                f"warning: the hub serving from this database recorded {recorded}; "
                f"handing out {chosen} as asked",
                err=True,
            )
        return chosen
    if recorded:
        return recorded
    guess = HubSettings().public_url
    typer.echo(
        "warning: no hub has served from this database yet, so the versions URL below is a "
        f"guess ({guess}); start `roam hub serve` with the same --database-url and invite "
        "again, or pass --base-url",
        err=True,
    )
    return guess


@hub_app.command("invite")
def invite(
    party: Annotated[
        list[str] | None,
        typer.Option(
            "--party", help="Limit the invitation to ROLE:CC/PID (repeatable), e.g. CPO:NL/TNM."
        ),
    ] = None,
    note: Annotated[str, typer.Option(help="A note kept with the invitation.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    host: Annotated[
        str | None,
        typer.Option(
            envvar="ROAM_HUB_HOST",
            help="Hand out http://HOST:PORT instead of the URL the serving hub recorded.",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            envvar="ROAM_HUB_PORT",
            help="Hand out http://HOST:PORT instead of the URL the serving hub recorded.",
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            envvar="ROAM_HUB_BASE_URL",
            help="Hand out this public URL instead of the one the serving hub recorded.",
        ),
    ] = None,
    database_url: DatabaseUrl = DEFAULT_DB,
) -> None:
    """Create a one-time credentials token A for a new member and print it.

    The versions URL printed with it is the one the hub serving from this database recorded
    when it started (`roam hub serve`), so it is the URL that answers.
    """
    parties = [_parse_party(p) for p in party or []]
    with hub_database(database_url) as database:
        url = _invite_url(host, port, base_url, database.recorded_public_url())
        settings = HubSettings(base_url=url, database_url=database_url)
        result = database.invite(settings.versions_url, parties, note).to_json()
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"versions URL: {result['versions_url']}")
    typer.echo(f"token A:      {result['token']}")
    if parties:
        typer.echo("may register: " + ", ".join(result["parties"]))


@hub_app.command("connect")
def connect(
    versions_url: Annotated[str, typer.Option(help="The member's versions URL.")],
    token: Annotated[str, typer.Option(help="The token A the member gave the hub operator.")],
    hub_url: Annotated[
        str, typer.Option(envvar="ROAM_HUB_URL", help="The running hub.")
    ] = "http://127.0.0.1:8080",
    admin_token: Annotated[
        str | None, typer.Option(envvar="ROAM_HUB_ADMIN_TOKEN", help="Admin API token.")
    ] = None,
    database_url: DatabaseUrl = DEFAULT_DB,
) -> None:
    """Hub-initiated handshake: the running hub registers itself at a member."""
    if admin_token is None:
        with hub_database(database_url) as database:
            admin_token = database.admin_token()
    if not admin_token:
        typer.echo("no admin token: pass --admin-token or start the hub once", err=True)
        raise typer.Exit(2)
    response = httpx.post(
        f"{hub_url.rstrip('/')}/admin/connect",
        json={"versions_url": versions_url, "token": token},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=60,
    )
    body = response.json()
    if body.get("status_code") != 1000:
        typer.echo(f"failed: {body.get('status_code')} {body.get('status_message')}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(body["data"]))


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@hub_app.command("settlement")
def settlement(
    since: Annotated[str | None, typer.Option(help="From (inclusive), OCPI DateTime.")] = None,
    until: Annotated[str | None, typer.Option(help="Until (exclusive), OCPI DateTime.")] = None,
    database_url: DatabaseUrl = DEFAULT_DB,
) -> None:
    """Print what each eMSP owes each CPO, as CSV, from the CDRs the hub routed."""
    with hub_database(database_url) as database:
        lines = database.settlement(_when(since), _when(until))
    sys.stdout.write(to_csv(lines))


@hub_app.command("bench")
def bench(
    duration: Annotated[
        float, typer.Option(min=0.1, help="Seconds of each measured run (4 per repetition).")
    ] = 4.0,
    rate: Annotated[
        float, typer.Option(min=1, help="Requests per second of the paced latency runs.")
    ] = 200.0,
    connections: Annotated[
        int, typer.Option(min=1, help="Connections of the closed-loop throughput runs.")
    ] = 16,
    reps: Annotated[int, typer.Option(min=1, help="Repetitions; the report shows medians.")] = 3,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="A PostgreSQL server, postgresql://user@host:port/db: the bench creates a fresh "
            "database there for the hub (CREATEDB privilege; the URL's own database is only "
            "connected to) and drops it at the end. Default: a fresh SQLite file.",
        ),
    ] = None,
    instances: Annotated[
        int,
        typer.Option(
            min=1,
            max=4,
            help="Hub processes on the one database (more than 1 needs --database-url): the "
            "routed GET and the broadcast are measured again with the load spread over them.",
        ),
    ] = 1,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write every run and the summary here.")
    ] = None,
) -> None:
    """Measure what the hub adds: direct vs routed latency and throughput on loopback.

    Starts a CPO, an eMSP and a hub as separate processes on 127.0.0.1 and prints latency
    (p50/p99 at a paced rate) and throughput (closed loop) of the same GET and Location PUT
    sent directly and through the hub, and of a broadcast (stored before the hub answers, then
    delivered), with a verdict per target. The verdicts are information: the exit status is 0
    unless the bench itself could not run.
    """
    from roam.bench.hub import BenchError, BenchOptions, format_report, run_bench

    options = BenchOptions(
        duration=duration,
        rate=rate,
        connections=connections,
        reps=reps,
        database_url=database_url,
        instances=instances,
    )
    try:
        report = run_bench(options, progress=lambda line: typer.echo(line, err=True))
    except BenchError as exc:
        typer.echo(f"bench failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(format_report(report))
    if json_file is not None:
        json_file.write_text(json.dumps(report.to_json(), indent=2) + "\n")
