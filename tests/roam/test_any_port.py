"""`--port 0` / `port = 0`: serve on a free port the system picks, and say which.

Before, `roam hub serve --port 0` listened on some port but announced, recorded and handed
out `http://127.0.0.1:0`: a member given that URL could not reach it. Now the port is bound
before the app is built, so every URL the service prints or hands out carries it.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from ocpi.headers import encode_authorization
from tests.processes import ROOT, stop

ANNOUNCED = re.compile(r"at (http://127\.0\.0\.1:(\d+))/ocpi/versions")


@contextmanager
def announced(args: Sequence[str], cwd: Path) -> Iterator[tuple[str, int]]:
    """`python -m <args>` until the block ends; yields the base URL and port of the first
    `... at http://127.0.0.1:PORT/ocpi/versions` line it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"{' '.join(args)} printed no URL:\n{''.join(seen)}"
            ready, _, _ = select.select([process.stdout], [], [], left)
            line = process.stdout.readline().decode() if ready else ""
            assert line or process.poll() is None, f"{' '.join(args)} ended:\n{''.join(seen)}"
            seen.append(line)
            if match := ANNOUNCED.search(line):
                yield match.group(1), int(match.group(2))
                return
    finally:
        stop(process)


def _answers(url: str, token: str | None = None) -> httpx.Response:
    headers = {} if token is None else {"Authorization": encode_authorization(token)}
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, headers=headers, timeout=5)
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"nothing answers at {url}"
            time.sleep(0.1)


def _roam(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "roam", *args], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_hub_and_member_on_port_0_announce_and_hand_out_the_port_they_listen_on(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    serve = ["roam", "hub", "serve", "--port", "0", "--database-url", db]
    with announced(serve, tmp_path) as (hub, hub_port):
        assert hub_port != 0
        invite = ["hub", "invite", "--database-url", db, "--json", "--party", "CPO:DE/CPB"]
        invitation = json.loads(_roam(tmp_path, *invite))
        # Recorded by the serving hub and handed out: the port it listens on.
        assert invitation["versions_url"] == f"{hub}/ocpi/versions"
        versions = _answers(invitation["versions_url"], invitation["token"])
        assert versions.status_code == 200, versions.text
        assert f"{hub}/ocpi/2.2.1" in [v["url"] for v in versions.json()["data"]]

        config = tmp_path / "cpo.toml"
        config.write_text(
            "\n".join(
                [
                    "[cpo]",
                    "port = 0",
                    'database_url = "sqlite:///cpo.db"',
                    "[hub]",
                    f'versions_url = "{invitation["versions_url"]}"',
                    f'token_a = "{invitation["token"]}"',
                ]
            ),
            encoding="utf-8",
        )
        with announced(["roam.cpo_cmd", "--config", str(config)], tmp_path) as (cpo, port):
            assert port not in (0, hub_port)
            # Registered: the hub reached the CPO at the versions URL the CPO gave in its
            # credentials, which carries the port the CPO listens on.
            deadline = time.monotonic() + 30
            while not _answers(f"{cpo}/control/state").json()["registered"]:
                assert time.monotonic() < deadline, "the CPO did not register with the hub"
                time.sleep(0.1)
