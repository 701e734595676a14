"""roam/federation/child.py: the fault switches of a platform run as a process, set over HTTP
by its parent with the token it was given; and the JSON config files the parent writes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cpo_mock.settings import CpoSettings
from cpo_mock.settings import load_config as load_cpo
from ocpi.platform import ConfigError
from roam.federation.child import FAULTS_PATH, SwitchableFaults


def _client(token: str) -> httpx.AsyncClient:
    app = FastAPI()

    @app.get("/ocpi/versions")
    async def versions() -> dict[str, int]:
        return {"status_code": 1000}

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=SwitchableFaults(app, token)), base_url="http://p"
    )


async def test_the_switches_answer_only_the_parents_token_and_then_hold() -> None:
    async with _client("parent-secret") as client:
        for headers in ({}, {"Authorization": "Bearer guess"}):
            refused = await client.post(FAULTS_PATH, json={"delay": 1}, headers=headers)
            assert refused.status_code == 401
        assert (await client.get("/ocpi/versions")).json() == {"status_code": 1000}
        auth = {"Authorization": "Bearer parent-secret"}
        switched = await client.post(
            FAULTS_PATH, json={"answer": [503, 3000, "down for a test"]}, headers=auth
        )
        assert switched.json() == {"delay": 0.0, "failing": True}
        failed = await client.get("/ocpi/versions")
        assert failed.status_code == 503 and failed.json()["status_code"] == 3000
        assert failed.json()["status_message"] == "down for a test"
        for bad in ({"delay": -1}, {"delay": "soon"}, {"answer": [503]}):
            answer = await client.post(FAULTS_PATH, json=bad, headers=auth)
            assert answer.status_code == 400, bad
        healed = await client.post(FAULTS_PATH, json={}, headers=auth)
        assert healed.json() == {"delay": 0.0, "failing": False}
        assert (await client.get("/ocpi/versions")).status_code == 200


async def test_an_empty_token_opens_no_switch() -> None:
    async with _client("") as client:
        answer = await client.post(FAULTS_PATH, json={}, headers={"Authorization": "Bearer "})
        assert answer.status_code == 401


def test_a_member_config_may_be_json_with_the_toml_layout(tmp_path: Path) -> None:
    settings = CpoSettings.model_validate(
        {
            "country_code": "DE",
            "party_id": "CPB",
            "port": 8123,
            "database_url": f"sqlite:///{tmp_path / 'cpo.db'}",
            "hub": {"versions_url": "http://127.0.0.1:1/ocpi/versions", "token_a": "invite"},
        }
    )
    config = tmp_path / "cpo.json"
    config.write_text(json.dumps(settings.model_dump(mode="json")))
    assert load_cpo(config) == settings
    config.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="one object"):
        load_cpo(config)
    config.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_cpo(config)
