"""The hub's versions and details endpoints, in-process and as a real `roam hub serve`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.service import Hub
from ocpi.envelope import Envelope
from ocpi.headers import encode_authorization
from ocpi.v221.versions import InterfaceRole, ModuleID, Version, VersionDetails, VersionNumber
from tests.hub.conftest import invite
from tests.processes import free_port, running


async def test_versions_lists_2_1_1_2_2_1_and_2_3_0_for_an_invited_token(
    hub_client: tuple[Hub, httpx.AsyncClient],
) -> None:
    hub, client = hub_client
    token = invite(hub)
    response = await client.get(
        "/ocpi/versions", headers={"Authorization": encode_authorization(token)}
    )
    envelope = Envelope.model_validate(response.json())
    assert envelope.status_code == 1000
    assert [Version.model_validate(v) for v in envelope.data] == [
        Version(version=VersionNumber.V2_1_1, url="http://hub.test/ocpi/2.1.1"),
        Version(version=VersionNumber.V2_2_1, url="http://hub.test/ocpi/2.2.1"),
        Version(version="2.3.0", url="http://hub.test/ocpi/2.3.0"),
    ]


async def test_details_offer_both_interfaces_of_every_functional_module(
    hub_client: tuple[Hub, httpx.AsyncClient],
) -> None:
    hub, client = hub_client
    response = await client.get(
        "/ocpi/2.2.1", headers={"Authorization": encode_authorization(invite(hub))}
    )
    details = VersionDetails.model_validate(response.json()["data"])
    offered = {(e.identifier, e.role): e.url for e in details.endpoints}
    for module in (
        "cdrs",
        "chargingprofiles",
        "commands",
        "locations",
        "sessions",
        "tariffs",
        "tokens",
    ):
        assert offered[(ModuleID(module), InterfaceRole.SENDER)].endswith(f"/sender/{module}")
        assert offered[(ModuleID(module), InterfaceRole.RECEIVER)].endswith(f"/receiver/{module}")
    assert (ModuleID.CREDENTIALS, InterfaceRole.SENDER) in offered
    assert (ModuleID.HUBCLIENTINFO, InterfaceRole.SENDER) in offered


async def test_versions_refuses_unknown_tokens(hub_client: tuple[Hub, httpx.AsyncClient]) -> None:
    _, client = hub_client
    response = await client.get(
        "/ocpi/versions", headers={"Authorization": encode_authorization("guess")}
    )
    assert response.status_code == 401


@pytest.fixture
def served_hub(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`roam hub invite` then `roam hub serve` as separate processes on a free loopback port."""
    port = str(free_port())
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    invited = subprocess.run(
        [
            sys.executable,
            "-m",
            "roam",
            "hub",
            "invite",
            "--json",
            "--port",
            port,
            "--database-url",
            db,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    url = f"http://127.0.0.1:{port}"
    serve = ["roam", "hub", "serve", "--port", port, "--database-url", db]
    with running(serve, url + "/ocpi/versions", cwd=tmp_path):
        yield url, json.loads(invited.stdout)["token"]


def test_served_hub_answers_versions_over_real_http(served_hub: tuple[str, str]) -> None:
    url, token = served_hub
    response = httpx.get(
        url + "/ocpi/versions",
        headers={"Authorization": encode_authorization(token), "X-Request-ID": "abc"},
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "abc"
    envelope = Envelope.model_validate(response.json())
    assert envelope.status_code == 1000
    assert envelope.data[1] == {"version": "2.2.1", "url": f"{url}/ocpi/2.2.1"}
    unauthorised = httpx.get(url + "/ocpi/versions")
    assert unauthorised.status_code == 401
