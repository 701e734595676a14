"""`roam emsp`: the config file, the benchmark command, and a restart keeping its hub tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emsp_mock.settings import ConfigError, load_config
from roam.emsp_cmd import emsp_app
from tests.emsp_mock.conftest import Federation

CONFIG = """
[emsp]
country_code = "nl"
party_id = "ema"
name = "Volt App"
port = 8201
database_url = "sqlite:///var/emsp.db"

[hub]
versions_url = "http://127.0.0.1:8080/ocpi/versions"
token_a = "abc"

[[drivers]]
id = "alice"
tokens = [{uid = "app-alice", type = "APP_USER", contract_id = "NL-EMA-C1"}]
"""


def test_config_file_is_read_and_misspellings_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "emsp.toml"
    path.write_text(CONFIG, encoding="utf-8")
    settings = load_config(path)
    assert str(settings.party) == "NL/EMA"
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'emsp.db'}"
    assert settings.drivers[0].tokens[0].contract_id == "NL-EMA-C1"
    path.write_text(CONFIG.replace("port =", "prot ="), encoding="utf-8")
    with pytest.raises(ConfigError, match="prot"):
        load_config(path)
    result = CliRunner().invoke(emsp_app, ["run", "--config", str(path)])
    assert result.exit_code == 2 and "prot" in result.output


def test_bench_prints_search_timings() -> None:
    result = CliRunner().invoke(
        emsp_app, ["bench", "--stations", "15", "--queries", "50", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["stations"] == 60 and data["evses"] > 60
    assert data["queries"] == 50 and 0 < data["index_p50_ms"] <= data["index_p99_ms"]


async def test_restart_keeps_the_hub_tokens(fed: Federation) -> None:
    before = fed.emsp.registration.peer
    await fed.restart_emsp()
    after = fed.emsp.registration.peer
    assert before is not None and after is not None
    assert (after.token, after.issued_token) == (before.token, before.issued_token)
    assert len(fed.hub.store.load_platforms()) == 2  # registered once
