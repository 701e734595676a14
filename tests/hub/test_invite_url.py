"""`roam hub invite` hands out the URL of the hub that serves from the database.

The serving hub records its public URL in the database when it starts; invite reads it, so
`roam hub serve --port 9000` then `roam hub invite` prints port 9000, not invite's own default.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from typer.testing import CliRunner, Result

from hub.app import create_app
from hub.service import Hub
from hub.settings import HubSettings
from ocpi.headers import encode_authorization
from roam.cli import app
from tests.processes import free_port, running

# Invite must not pick anything up from the environment running the tests.
_CLEAN_ENV: dict[str, str | None] = dict.fromkeys(
    ("ROAM_HUB_HOST", "ROAM_HUB_PORT", "ROAM_HUB_BASE_URL", "ROAM_HUB_DATABASE_URL")
)


def _invite(*args: str) -> Result:
    return CliRunner().invoke(app, ["hub", "invite", *args], env=_CLEAN_ENV)


def _printed(result: Result) -> dict[str, str]:
    """The `name: value` lines invite printed for a person."""
    lines = (line.partition(":") for line in result.stdout.splitlines())
    return {name.strip(): value.strip() for name, _, value in lines}


def test_invite_prints_the_url_of_the_hub_serving_from_the_database(
    tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = ["roam", "hub", "serve", "--port", str(port), "--database-url", database_url]
    with running(serve, f"{url}/ocpi/versions", cwd=tmp_path):
        result = _invite("--database-url", database_url)
        assert result.exit_code == 0, result.output
        printed = _printed(result)
        assert printed["versions URL"] == f"{url}/ocpi/versions"
        assert "warning" not in result.stderr
        # The URL handed out answers, with the token A handed out with it.
        answer = httpx.get(
            printed["versions URL"],
            headers={"Authorization": encode_authorization(printed["token A"])},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status_code"] == 1000
        assert f"{url}/ocpi/2.2.1" in [v["url"] for v in answer.json()["data"]]


async def _serve_once(settings: HubSettings) -> None:
    """Start and stop a hub, as `roam hub serve` does around serving."""
    hub: Hub = create_app(settings).state.hub
    await hub.start()
    await hub.stop()


async def test_invite_json_reads_the_recorded_url_after_the_hub_stopped(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'hub.db'}"
    await _serve_once(HubSettings(port=9000, database_url=database, admin_token="x"))
    result = _invite("--json", "--database-url", database)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["versions_url"] == "http://127.0.0.1:9000/ocpi/versions"
    assert result.stderr == ""


def test_invite_warns_when_no_hub_served_from_the_database(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = _invite("--database-url", database)
    assert result.exit_code == 0, result.output
    assert _printed(result)["versions URL"] == "http://127.0.0.1:8080/ocpi/versions"
    assert "warning" in result.stderr
    assert "no hub has served from this database" in result.stderr


async def test_an_explicit_base_url_on_invite_wins(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'hub.db'}"
    await _serve_once(HubSettings(port=9000, database_url=database, admin_token="x"))
    result = _invite("--json", "--database-url", database, "--base-url", "https://hub.example/")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["versions_url"] == "https://hub.example/ocpi/versions"
    # It differs from what the hub recorded: said on stderr, so the operator can check.
    assert "http://127.0.0.1:9000" in result.stderr


async def test_an_explicit_port_on_invite_wins(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'hub.db'}"
    await _serve_once(HubSettings(port=9000, database_url=database, admin_token="x"))
    result = _invite("--json", "--database-url", database, "--port", "9001")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["versions_url"] == "http://127.0.0.1:9001/ocpi/versions"
    assert "http://127.0.0.1:9000" in result.stderr
