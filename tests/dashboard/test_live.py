"""dashboard.live against a stand-in hub (httpx.MockTransport): how the message log is
followed through `GET /admin/messages`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dashboard import live as live_module
from dashboard.config import DashboardConfig
from dashboard.live import Live


def _line(line_id: int) -> dict[str, Any]:
    return {
        "id": line_id,
        "timestamp": f"2025-03-04T09:00:{line_id:02d}.000Z",
        "request_id": f"r{line_id}",
        "hop": "outbound",
        "to": "NL/EMA",
        "from": "DE/CPB",
        "module": "sessions",
        "method": "PUT",
        "path": "/x",
        "ocpi_status": 1000,
    }


async def test_the_log_is_followed_by_after_id_page_by_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first poll reads the last minute (`since`); then only lines after the newest id
    read (`after_id`), a full page followed at once by the next."""
    monkeypatch.setattr(live_module, "MESSAGE_PAGE", 2)
    log = [_line(i) for i in range(1, 4)]
    asked: list[dict[str, str]] = []

    def hub(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        asked.append(params)
        after = int(params.get("after_id", 0))
        rows = [row for row in log if row["id"] > after][: int(params["limit"])]
        return httpx.Response(200, json={"status_code": 1000, "data": rows})

    async with httpx.AsyncClient(transport=httpx.MockTransport(hub)) as client:
        live = Live(DashboardConfig("http://hub.test", "t"), client)
        await live._poll_messages()
        assert "since" in asked[0] and "after_id" not in asked[0]
        assert [a.get("after_id") for a in asked[1:]] == ["2"]  # the first page was full
        assert len(live.log) == 3 and live.last_message_id == 3
        log.append(_line(4))
        asked.clear()
        await live._poll_messages()
        assert [(a.get("after_id"), "since" in a) for a in asked] == [("3", False)]
        assert len(live.log) == 4 and live.last_message_id == 4
