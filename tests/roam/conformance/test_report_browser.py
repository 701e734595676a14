"""The HTML report in a real browser (Debian's headless Chromium driven by Playwright): the
document a member mails to the alliance operator is read on laptops and phones alike, so at
phone width (390 px) nothing makes it scroll sideways, not even a failure's long URLs,
headers and JSON bodies; and every failure is on the page with its check. Screenshots go to
tests/dashboard/artifacts/ (git-ignored)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.bench import CHROMIUM, CHROMIUM_ARGS
from ocpi.v221 import Role
from roam.conformance.report import Report
from tests.dashboard.test_browser import ARTIFACTS
from tests.roam.conformance.conftest import conformance, member
from tests.roam.conformance.mutants import Answer, rewrite

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install chromium"
)

LONG = "x" * 300


def _long_and_wrong(answer: Answer) -> None:
    """A CDR POST answered without its Location header, and with a long unbroken message:
    the failure shows the exchange, whose text must wrap at phone width."""
    if answer.method == "POST" and answer.path.endswith("/cdrs"):
        answer.headers.pop("location", None)
        answer.set_json({**answer.json(), "status_message": LONG})
        answer.headers["content-length"] = str(len(answer.body))


@pytest.fixture
async def report(tmp_path: Path) -> Report:
    async with member(Role.EMSP, tmp_path, wrap=rewrite(_long_and_wrong)) as emsp:
        return await conformance(emsp, trigger=None)


@pytest.mark.parametrize("width", [390, 1280])
def test_the_html_report_reads_without_sideways_scrolling(
    report: Report, tmp_path: Path, width: int
) -> None:
    from playwright.sync_api import sync_playwright

    assert [r.check.id for r in report.failed] == ["emsp.cdr_location_header"]
    page_file = tmp_path / "report.html"
    page_file.write_text(report.html_text(), encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 844})
            page.goto(page_file.as_uri())
            failure = page.locator("section.failure")
            assert failure.count() == 1
            assert "emsp.cdr_location_header" in failure.inner_text()
            assert LONG in failure.inner_text()  # the exchange is shown, wrapped, not cut
            scroll = page.evaluate("document.documentElement.scrollWidth")
            widest = page.evaluate(
                """() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                    .slice(0, 3).map(e => e.tagName + '.' + e.className + ' '
                        + Math.round(e.getBoundingClientRect().right))"""
            )
            assert scroll <= width, f"the report scrolls sideways at {width} px: {widest}"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"report-{width}.png"), full_page=True)
        finally:
            browser.close()
