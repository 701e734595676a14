"""`roam cpo`: generate a network, run a 500-station CPO as a real process behind a real hub,
and the benchmark command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from roam.cpo_cmd import cpo_app
from tests.processes import free_port, running


def test_generate_writes_a_network_and_a_config(tmp_path: Path) -> None:
    out = tmp_path / "net.json"
    result = CliRunner().invoke(
        cpo_app,
        ["generate", str(out), "--party", "NL/FST", "--stations", "12", "--profile", "urban",
         "--config", str(tmp_path / "cpo.toml"), "--hub-url", "http://hub/ocpi/versions"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "12 stations" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert len(data["locations"]) == 12
    config = (tmp_path / "cpo.toml").read_text(encoding="utf-8")
    assert 'party_id = "FST"' in config and 'file = "net.json"' in config
    bad = CliRunner().invoke(cpo_app, ["generate", str(out), "--profile", "rocket"])
    assert bad.exit_code == 2
    assert "unknown profile" in bad.output


def test_bench_times_start_and_a_full_pull() -> None:
    result = CliRunner().invoke(
        cpo_app, ["bench", "--stations", "30", "--page-limit", "7", "--json"]
    )
    assert result.exit_code == 0, result.output
    measured = json.loads(result.output.strip().splitlines()[-1])
    assert (measured["stations"], measured["pulled"], measured["pages"]) == (30, 30, 5)
    assert measured["cold_start_s"] > 0 and measured["warm_pull_s"] > 0


def _roam(tmp_path: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "roam", *args], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _control(base: str, action: str, args: dict[str, Any]) -> Any:
    response = httpx.post(f"{base}/_control/{action}", json=args, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_a_500_station_cpo_process_serves_a_paginated_pull_through_the_hub(
    tmp_path: Path,
) -> None:
    hub_port, cpo_port, emsp_port = free_port(), free_port(), free_port()
    hub = f"http://127.0.0.1:{hub_port}"
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    network = tmp_path / "network.json"
    assert (
        CliRunner().invoke(cpo_app, ["generate", str(network), "--stations", "500"]).exit_code == 0
    )
    with running(
        ["roam", "hub", "serve", "--port", str(hub_port), "--database-url", db],
        f"{hub}/ocpi/versions",
        cwd=tmp_path,
    ):
        invite = ["hub", "invite", "--port", str(hub_port), "--database-url", db, "--json"]
        cpo_invitation = json.loads(_roam(tmp_path, *invite, "--party", "CPO:DE/CPB"))
        emsp_invitation = json.loads(_roam(tmp_path, *invite, "--party", "EMSP:NL/EMA"))
        config = tmp_path / "cpo.toml"
        config.write_text(
            "\n".join(
                [
                    "[cpo]",
                    f"port = {cpo_port}",
                    'database_url = "sqlite:///cpo.db"',
                    "page_limit = 100",
                    "push_on_register = false",
                    "[hub]",
                    f'versions_url = "{cpo_invitation["versions_url"]}"',
                    f'token_a = "{cpo_invitation["token"]}"',
                    "[network]",
                    'file = "network.json"',
                ]
            ),
            encoding="utf-8",
        )
        cpo = f"http://127.0.0.1:{cpo_port}"
        with running(
            ["roam.cpo_cmd", "--config", str(config)], f"{cpo}/control/state", cwd=tmp_path
        ):
            deadline = time.monotonic() + 30
            while not httpx.get(f"{cpo}/control/state").json()["registered"]:
                assert time.monotonic() < deadline, "the CPO did not register"
                time.sleep(0.05)
            emsp = f"http://127.0.0.1:{emsp_port}"
            member = ["tests.doubles.member", "--role", "EMSP", "--party", "NL/EMA"]
            with running(
                [*member, "--port", str(emsp_port)], f"{emsp}/_control/state", cwd=tmp_path
            ):
                _control(emsp, "register", emsp_invitation)
                pulled = _control(emsp, "get_all", {"module": "locations", "to": "DE/CPB"})
    pages = pulled["pages"]
    assert [len(page) for page in pages] == [100] * 5
    ids = [location["id"] for page in pages for location in page]
    assert len(set(ids)) == 500
    expected = json.loads(network.read_text(encoding="utf-8"))["locations"]
    assert ids == [location["id"] for location in expected]  # creation order, stable
