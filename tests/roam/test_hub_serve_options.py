"""`roam hub serve`'s options reach the hub it serves (issue 14: the durability settings), from
the command line and from their ROAM_HUB_* variables; a bad value is a usage error naming the
option (exit status 2), not a traceback and not a hub running with it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from typer.testing import CliRunner

from hub.app import create_app as create_hub_app
from hub.service import Hub
from hub.settings import HubSettings
from roam import hub_cmd
from roam.cli import app

OPTIONS = {
    "--drain-timeout": ("drain_timeout", "0", 0.0),
    "--delivery-attempts": ("delivery_attempts", "3", 3),
    "--delivery-backoff-max": ("delivery_backoff_max", "2.5", 2.5),
    "--delivery-concurrency": ("delivery_concurrency", "2", 2),
    "--still-alive-after": ("still_alive_after", "42", 42.0),
    "--log-flush-interval": ("log_flush_interval", "0.2", 0.2),
    "--forward-timeout": ("forward_timeout", "3", 3.0),
}


class Served:
    """Stands in for serving: starts and stops the app (its lifespan) and keeps the hub's
    settings as the running hub had them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hubs: list[Hub] = []
        self.settings: list[HubSettings] = []

        def create_app(settings: HubSettings) -> FastAPI:
            hub_app = create_hub_app(settings)
            self.hubs.append(hub_app.state.hub)
            return hub_app

        def serve(app: Starlette, host: str, port: int, sock: object = None) -> None:
            async def run() -> None:
                async with app.router.lifespan_context(app):  # the hub starts, then stops
                    transport = httpx.ASGITransport(app=app)
                    async with httpx.AsyncClient(transport=transport) as client:
                        answer = await client.get("http://hub.test/ocpi/versions")
                    assert answer.status_code == 401  # it serves (and wants a token)
                    self.settings.append(self.hubs[-1].settings)

            asyncio.run(run())

        monkeypatch.setattr(hub_cmd, "create_app", create_app)
        monkeypatch.setattr(hub_cmd, "serve_until_interrupted", serve)


def _serve(tmp_path: Path, *args: str, env: dict[str, Any] | None = None) -> Any:
    database = ["--database-url", f"sqlite:///{tmp_path / 'hub.db'}"]
    return CliRunner().invoke(app, ["hub", "serve", *database, *args], env=env)


def test_every_durability_option_reaches_the_running_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = Served(monkeypatch)
    args = [item for option, (_, text, _) in OPTIONS.items() for item in (option, text)]
    result = _serve(tmp_path, *args)
    assert result.exit_code == 0, result.output
    (settings,) = served.settings
    for field, _, value in OPTIONS.values():
        assert getattr(settings, field) == value, field


def test_without_options_the_hub_runs_with_its_own_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = Served(monkeypatch)
    result = _serve(tmp_path)
    assert result.exit_code == 0, result.output
    (settings,) = served.settings
    defaults = HubSettings()
    for field, _, _ in OPTIONS.values():
        assert getattr(settings, field) == getattr(defaults, field), field


def test_the_options_are_read_from_their_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = Served(monkeypatch)
    env = {f"ROAM_HUB_{field.upper()}": text for field, text, _ in OPTIONS.values()}
    result = _serve(tmp_path, env=env)
    assert result.exit_code == 0, result.output
    (settings,) = served.settings
    for field, _, value in OPTIONS.values():
        assert getattr(settings, field) == value, field


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--drain-timeout", "-1", "greater than or equal to 0"),
        ("--delivery-attempts", "0", "greater than or equal to 1"),
        ("--delivery-backoff-max", "0", "greater than 0"),
        ("--delivery-concurrency", "0", "greater than or equal to 1"),
        ("--delivery-concurrency", "many", "integer"),
        ("--still-alive-after", "0", "greater than 0"),
        ("--log-flush-interval", "-0.5", "greater than 0"),
        ("--forward-timeout", "0", "greater than 0"),
        ("--drain-timeout", "inf", "finite"),
        ("--delivery-backoff-max", "nan", "finite"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, value: str, says: str
) -> None:
    served = Served(monkeypatch)
    result = _serve(tmp_path, option, value)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.replace("│", " ").split())
    assert f"Invalid value for '{option}'" in text
    assert says in text
    assert "Traceback" not in result.output
    assert served.hubs == []  # no hub was built
