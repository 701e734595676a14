"""End to end: `roam conformance` as a process against a mock CPO process on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from ocpi.v221 import Role
from roam.conformance import checks_for
from tests.processes import ROOT, free_port, running

CONFIG = """\
[cpo]
country_code = "DE"
party_id = "CPB"
name = "Spark Test"
port = {port}
database_url = "sqlite:///cpo.db"
accept_token_a = "ci-token-a"
page_limit = 2

[clock]
mode = "accelerated"
speed = 60
tick = 0.1

[simulation]
auto_plug = true

[network]
stations = 3
countries = ["DE"]
"""


MEMBER = """\
import os, httpx
api = "http://127.0.0.1:{port}/control"
if os.environ["OCPI_CONFORMANCE_ACTION"] == "register":
    body = {{"versions_url": os.environ["OCPI_CONFORMANCE_VERSIONS_URL"],
             "token_a": os.environ["OCPI_CONFORMANCE_TOKEN_A"]}}
    httpx.post(api + "/register", json=body, timeout=30).raise_for_status()
else:
    httpx.post(api + "/credentials/" + os.environ["OCPI_CONFORMANCE_ACTION"],
               timeout=30).raise_for_status()
"""


def test_the_command_passes_a_mock_cpo_process(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "cpo.toml").write_text(CONFIG.format(port=port), encoding="utf-8")
    (tmp_path / "member.py").write_text(MEMBER.format(port=port), encoding="utf-8")
    member_command = f"{sys.executable} {tmp_path / 'member.py'}"
    versions = f"http://127.0.0.1:{port}/ocpi/versions"
    junit, report = tmp_path / "conformance.xml", tmp_path / "conformance.json"
    # The operator's back office credits the CDR the suite names (money.credit_cdr).
    credit = (
        f"{sys.executable} -c 'import httpx, os; httpx.post(\"http://127.0.0.1:{port}"
        '/control/cdrs/" + os.environ["OCPI_CONFORMANCE_CDR_ID"] + "/credit")'
        ".raise_for_status()'"
    )
    with running(["roam", "cpo", "run", "--config", "cpo.toml"], versions, cwd=tmp_path):
        done = subprocess.run(
            [sys.executable, "-m", "roam", "conformance", "--versions-url", versions,
             "--token", "ci-token-a", "--role", "CPO", "--wait", "10", "--charge-seconds",
             "0.5", "--junit", str(junit), "--json", str(report),
             "--member-command", member_command, "--credit-command", credit],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    count = len(checks_for(Role.CPO))
    assert f"{count} checks: {count} passed, 0 failed, 0 skipped" in done.stdout
    assert "pass  cpo.cdr_priced" in done.stderr  # live progress
    cases = ET.parse(junit).getroot().findall("testsuite/testcase")
    assert len(cases) == count and not [c for c in cases if len(c.findall("failure"))]
    assert json.loads(report.read_text(encoding="utf-8"))["member_party"] == "DE/CPB"
