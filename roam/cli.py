"""The `roam` command: one entry point for the hub, the mock members and the tools around them.

Each command's module is imported when that command runs (all of them only for `roam --help`),
so `roam hub serve` loads neither the mock platforms, the bench nor the conformance suite.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any, cast

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("roam.demo_cmd", "demo_command"),
    "conformance": ("roam.conformance.cli", "conformance_command"),
    "hub": ("roam.hub_cmd", "hub_app"),
    "cpo": ("roam.cpo_cmd", "cpo_app"),
    "emsp": ("roam.emsp_cmd", "emsp_app"),
    "tariff": ("roam.tariff_cmd", "tariff_app"),
    "scenario": ("roam.scenario_cmd", "scenario_app"),
    "bench": ("roam.bench_cmd", "bench_app"),
}
"""Command name -> (module, a typer.Typer or a command function in it), in `--help` order."""


Command = TyperCommand | TyperGroup


def load_command(name: str) -> Command:
    """The command `name`, built as `app.add_typer`/`app.command` would have built it."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    command: Command
    if isinstance(target, typer.Typer):
        command = get_group(target)
    else:
        single = typer.Typer()
        single.command(name)(target)
        built = get_command_from_info(
            single.registered_commands[0],
            pretty_exceptions_short=single.pretty_exceptions_short,
            rich_markup_mode=single.rich_markup_mode,
        )
        assert isinstance(built, TyperCommand)
        command = built
    command.name = name
    return command


class _Commands(MutableMapping[str, Command]):
    """The subcommands by name: every name known from the start (listing, "did you mean"),
    each command built on first access."""

    def __init__(self) -> None:
        self._built: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = load_command(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*COMMANDS, *(name for name in self._built if name not in COMMANDS)])

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self._built if name not in COMMANDS)


class LazyCommands(TyperGroup):
    """A group whose subcommands are imported on first use."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        # TyperGroup types its mapping with typer's vendored click classes, which it does not
        # export; the values here are its own TyperCommand/TyperGroup.
        self.commands = cast(MutableMapping[str, Any], _Commands())


app = typer.Typer(
    name="roam",
    help="OCPI 2.2.1 roaming hub simulator: hub, mock CPOs and eMSPs, demo and test tools.",
    no_args_is_help=True,
    add_completion=False,
    cls=LazyCommands,
)


@app.callback()
def _root() -> None:
    # Without a callback typer would make `roam` a single command, not a group.
    pass


def main() -> None:
    """Console-script entry point."""
    app()
