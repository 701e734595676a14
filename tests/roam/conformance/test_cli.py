"""End to end: `roam conformance` as a process against a mock CPO process on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

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


def test_the_command_passes_a_mock_cpo_process(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "cpo.toml").write_text(CONFIG.format(port=port), encoding="utf-8")
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
             "0.5", "--credit-command", credit, "--junit", str(junit), "--json", str(report)],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "48 checks: 48 passed, 0 failed, 0 skipped" in done.stdout
    assert "pass  cpo.cdr_priced" in done.stderr  # live progress
    cases = ET.parse(junit).getroot().findall("testsuite/testcase")
    assert len(cases) == 48 and not [c for c in cases if len(c.findall("failure"))]
    assert json.loads(report.read_text(encoding="utf-8"))["member_party"] == "DE/CPB"
