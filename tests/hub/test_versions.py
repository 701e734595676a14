"""The hub's versions endpoint, in-process and as a real `roam hub serve` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.app import create_app
from hub.settings import HubSettings
from ocpi.envelope import Envelope
from ocpi.headers import encode_authorization
from ocpi.v221.versions import Version, VersionNumber

TOKEN = "invite-token-for-tests"


def _hub_client(settings: HubSettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://hub"
    )


async def test_versions_lists_2_2_1_at_the_public_url() -> None:
    settings = HubSettings(base_url="https://hub.example/", invite_token=TOKEN)
    async with _hub_client(settings) as client:
        response = await client.get(
            "/ocpi/versions", headers={"Authorization": encode_authorization(TOKEN)}
        )
    envelope = Envelope.model_validate(response.json())
    assert envelope.status_code == 1000
    assert [Version.model_validate(v) for v in envelope.data] == [
        Version(version=VersionNumber.V2_2_1, url="https://hub.example/ocpi/2.2.1")
    ]


async def test_versions_refuses_unknown_tokens() -> None:
    async with _hub_client(HubSettings(invite_token=TOKEN)) as client:
        response = await client.get(
            "/ocpi/versions", headers={"Authorization": encode_authorization("guess")}
        )
    assert response.status_code == 401


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served_hub(tmp_path: Path) -> Iterator[str]:
    """`roam hub serve` as a separate process on a free loopback port."""
    port = _free_port()
    env = {**os.environ, "ROAM_HUB_INVITE_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "roam", "hub", "serve", "--port", str(port)],
        env=env,
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
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def test_served_hub_answers_versions_over_real_http(served_hub: str) -> None:
    response = httpx.get(
        served_hub + "/ocpi/versions",
        headers={"Authorization": encode_authorization(TOKEN), "X-Request-ID": "abc"},
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "abc"
    envelope = Envelope.model_validate(response.json())
    assert envelope.status_code == 1000
    assert envelope.data[0]["version"] == "2.2.1"
    unauthorised = httpx.get(served_hub + "/ocpi/versions")
    assert unauthorised.status_code == 401
