"""dashboard.server: the page is served without Nagle's delay on its connections."""

from __future__ import annotations

import httpx

from dashboard.config import DashboardConfig
from dashboard.server import start
from tests.nodelay import assert_sent_without_delay


async def test_the_dashboard_answers_on_connections_without_delay() -> None:
    """Without TCP_NODELAY each response written as headers then body waited ~40 ms for
    the browser's delayed ACK (asyncio sets it only on sockets made with IPPROTO_TCP)."""
    running = await start(DashboardConfig("http://127.0.0.1:9", "t"))
    try:
        async with httpx.AsyncClient(trust_env=False) as http:
            page = await http.get(running.url)
            assert page.status_code == 200 and "<html" in page.text.lower()
            assert_sent_without_delay(running.server)
    finally:
        await running.stop()
