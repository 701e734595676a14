"""The hub's versions and details endpoints, in-process and as a real `roam hub serve`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.service import Hub
from ocpi.envelope import Envelope
from ocpi.headers import encode_authorization
from ocpi.v221.versions import InterfaceRole, ModuleID, Version, VersionDetails, VersionNumber
from tests.hub.conftest import invite


async def test_versions_lists_2_2_1_for_an_invited_token(
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
        Version(version=VersionNumber.V2_2_1, url="http://hub.test/ocpi/2.2.1")
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _roam(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roam", *args], cwd=cwd, capture_output=True, text=True, check=True
    )


@pytest.fixture
def served_hub(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`roam hub invite` then `roam hub serve` as separate processes on a free loopback port."""
    port = _free_port()
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    invitation = json.loads(
        _roam(
            "hub", "invite", "--json", "--port", str(port), "--database-url", db, cwd=tmp_path
        ).stdout
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "roam", "hub", "serve", "--port", str(port), "--database-url", db],
        env=dict(os.environ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/ocpi/versions", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None:
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"roam hub serve exited early:\n{output}")
                time.sleep(0.1)
        else:
            pytest.fail("roam hub serve did not start listening within 30 s")
        yield url, invitation["token"]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


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
    assert envelope.data[0] == {"version": "2.2.1", "url": f"{url}/ocpi/2.2.1"}
    unauthorised = httpx.get(url + "/ocpi/versions")
    assert unauthorised.status_code == 401
