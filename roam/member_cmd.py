"""How `roam cpo` and `roam emsp` run a member platform from its TOML config file.

`member_typer(MemberCommand(...))` gives a command with `--config FILE` (run it), `run
--config FILE` (the same) and room for the service's own subcommands. A config file or a
network file that cannot be used is one line on stderr and exit code 2, never a traceback.

No `from __future__ import annotations`: typer reads the Annotated options at runtime.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, Protocol, Self, TypeVar

import typer
from fastapi import FastAPI

from ocpi.headers import PartyRef
from ocpi.platform import ConfigError
from roam.serving import ServeError, bind_if_any_port, serve_until_interrupted


class ServedSettings(Protocol):
    """What the runner reads from a member's settings."""

    @property
    def name(self) -> str: ...

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def party(self) -> PartyRef: ...

    @property
    def public_url(self) -> str: ...

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """The settings with `update` applied (pydantic's)."""
        ...


S = TypeVar("S", bound=ServedSettings)


@dataclass(frozen=True)
class MemberCommand(Generic[S]):
    """One kind of member platform, as the command line runs it."""

    kind: str
    """How the banner and help name it: "CPO", "eMSP"."""
    envvar: str
    """Environment variable that may hold the config file's path."""
    load_config: Callable[[Path], S]
    create_app: Callable[[S], FastAPI]
    banner: Callable[[S], Sequence[str]]
    """Lines printed after "mock KIND PARTY (NAME) at URL" (database, its own API...)."""
    config_error: type[Exception] = ConfigError
    """What load_config and create_app raise for an unusable configuration."""

    def load(self, config: Path) -> S:
        """The settings in a config file; exit code 2 naming the problem when unusable."""
        try:
            return self.load_config(config)
        except self.config_error as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    def serve(self, settings: S) -> None:
        """Build the app and serve it on settings.host:port until interrupted; port 0 is a
        free port picked before the app is built, so that the URLs it announces and hands out
        carry it."""
        try:
            port, sock = bind_if_any_port(settings.host, settings.port)
        except ServeError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        settings = settings.model_copy(update={"port": port})
        try:
            app = self.create_app(settings)
        except self.config_error as exc:
            if sock is not None:
                sock.close()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(
            f"mock {self.kind} {settings.party} ({settings.name}) "
            f"at {settings.public_url}/ocpi/versions"
        )
        for line in self.banner(settings):
            typer.echo(line)
        serve_until_interrupted(app, settings.host, settings.port, sock)


class BenchResult(Protocol):
    """What `roam cpo bench` and `roam emsp bench` print."""

    def to_json(self) -> dict[str, Any]: ...

    def report(self) -> str: ...


def print_result(result: BenchResult, as_json: bool) -> None:
    """A bench's result as its report, or as one line of JSON for scripts."""
    typer.echo(json.dumps(result.to_json()) if as_json else result.report())


def member_typer(command: MemberCommand[S], *, help: str) -> typer.Typer:
    """The `roam cpo`/`roam emsp` command: `--config FILE` or `run --config FILE` serves it."""
    app = typer.Typer(help=help, invoke_without_command=True, no_args_is_help=False)
    file_help = f"The {command.kind}'s TOML config file."
    config_option = Annotated[
        Path | None, typer.Option("--config", "-c", envvar=command.envvar, help=file_help)
    ]
    required_config = Annotated[
        Path, typer.Option("--config", "-c", envvar=command.envvar, help="TOML config file.")
    ]

    def main(ctx: typer.Context, config: config_option = None) -> None:
        if ctx.invoked_subcommand is not None:
            return
        if config is None:
            typer.echo(ctx.get_help())
            raise typer.Exit(0)
        command.serve(command.load(config))

    # A docstring, not callback(help=...): the group's own help (Typer(help=...)) stays first.
    main.__doc__ = f"With --config and no command: run the {command.kind} described by the file."
    app.callback()(main)

    @app.command(
        "run",
        help=f"Run the {command.kind} described by a config file until interrupted "
        "(state in its database).",
    )
    def run(config: required_config) -> None:
        command.serve(command.load(config))

    return app
