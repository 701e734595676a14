"""The demo's fault switches clicked in a real browser (issue 15): `roam demo` as a process
(its federation control API behind the dashboard's buttons), Debian's headless Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dashboard.bench import CHROMIUM, CHROMIUM_ARGS
from tests.dashboard.federation import ROOT
from tests.dashboard.test_browser import ARTIFACTS
from tests.processes import stop

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install chromium"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`roam demo --scale 0.005` running on (after its story); yields the dashboard's URL."""
    folder = tmp_path_factory.mktemp("demo")
    log = folder / "demo.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "roam", "demo", "--scale", "0.005", "--keep", str(folder)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops everything" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the demo did not come up:\n{log.read_text()}")
            time.sleep(0.2)
        text = log.read_text()
        yield next(line for line in text.splitlines() if line.startswith("dashboard: ")).split()[1]
    finally:
        stop(process, within=30)


def _row(page: Any, member: str) -> str:
    text: str = page.evaluate(
        """name => {
            const li = document.querySelector(`#faults-list li[data-member="${name}"] .fstate`);
            return li ? li.textContent : '';
        }""",
        member,
    )
    return text


def test_a_member_is_taken_offline_and_back_made_slow_and_failing_from_the_page(demo: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(demo)
        page.wait_for_selector("#faults:not([hidden]) #faults-list li", timeout=10_000)
        member = page.get_attribute("#faults-list li:nth-child(3)", "data-member") or ""
        assert _row(page, member) == "CPO online · app online"
        row = f'#faults-list li[data-member="{member}"]'
        page.click(f"{row} button[data-action=offline]")
        page.wait_for_function(
            "document.querySelector('#faults-result').className !== ''", timeout=20_000
        )
        assert page.inner_text("#faults-result").endswith("take offline done")
        assert _row(page, member) == "CPO OFFLINE · app OFFLINE"
        page.click(f"{row} button[data-action=online]")
        page.wait_for_function(
            "document.querySelector('#faults-result').textContent.endsWith('online done')",
            timeout=60_000,
        )
        assert _row(page, member) == "CPO online · app online"
        # The platform picker: only the CPO is made slow.
        page.select_option("#fault-platform", "cpo")
        page.click(f"{row} button[data-action=slow]")
        page.wait_for_function(
            "document.querySelector('#faults-result').textContent"
            ".endsWith('slow (2 s) (cpo) done')",
            timeout=20_000,
        )
        assert _row(page, member) == "CPO online, slow 2 s · app online"
        page.select_option("#fault-platform", "both")
        # Failing on both platforms; the CPO's delay stays (as the scenarios' `fail`).
        page.click(f"{row} button[data-action=fail]")
        page.wait_for_function(
            "document.querySelector('#faults-result').textContent.endsWith('failing done')",
            timeout=20_000,
        )
        assert _row(page, member) == "CPO online, slow 2 s, failing · app online, failing"
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#faults").screenshot(path=str(ARTIFACTS / "dashboard-faults.png"))
        page.click(f"{row} button[data-action=heal]")
        page.wait_for_function(
            "document.querySelector('#faults-result').textContent.endsWith('heal done')",
            timeout=20_000,
        )
        assert _row(page, member) == "CPO online · app online"
        page.set_viewport_size({"width": 390, "height": 844})
        time.sleep(0.3)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.locator("#faults").screenshot(path=str(ARTIFACTS / "dashboard-faults-390.png"))
        assert errors == []
        browser.close()
