"""Where the dashboard is opened from (issue 15): `roam hub serve` serves the operator view at
/dashboard/ behind the admin token, and `roam demo` serves the federation's dashboard and
prints its URL before the members register."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from hub.app import create_app
from hub.service import Hub
from hub.settings import HubSettings
from roam.demo.run import run_demo
from roam.federation.spec import load_federation
from roam.hub_cmd import with_dashboard
from roam.serving import LoopbackServer, free_port


async def test_the_served_hub_has_an_operator_dashboard_behind_the_admin_token(
    tmp_path: Path,
) -> None:
    port = free_port()
    settings = HubSettings(
        port=port,
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        admin_token="operator-secret",
        log_flush_interval=0.01,
    )
    hub_app = create_app(settings)
    hub: Hub = hub_app.state.hub
    server = LoopbackServer(with_dashboard(hub_app), port)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            moved = await client.get("/dashboard")
            assert (moved.status_code, moved.headers["location"]) == (307, "/dashboard/")
            assert (await client.get("/dashboard/")).status_code == 401  # the sign-in page
            wrong = await client.get("/dashboard/", params={"token": "guess"})
            assert wrong.status_code == 401
            signed = await client.get(
                "/dashboard/", params={"token": "operator-secret"}, follow_redirects=True
            )
            assert signed.status_code == 200, signed.text  # a cookie, then the page
            assert "<html" in signed.text.lower()
            # The hub itself is unchanged beside it, and the page stays out of its OCPI log.
            versions = await client.get("/ocpi/versions")
            assert versions.status_code == 401
        logged = await hub.messages()
        assert logged and not any("dashboard" in line.path for line in logged)
    finally:
        await server.stop()


async def test_the_demo_prints_its_dashboard_url_before_members_register(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    answers: list[int] = []
    printed = asyncio.Event()

    def echo(line: str) -> None:
        lines.append(line)
        if line.startswith("dashboard: "):
            printed.set()

    async def visit() -> None:
        await printed.wait()
        url = next(line for line in lines if line.startswith("dashboard: ")).split()[1]
        async with httpx.AsyncClient(timeout=10) as client:
            answers.append((await client.get(url)).status_code)

    visitor = asyncio.create_task(visit())
    ok = await run_demo(
        load_federation(), scale=0.005, once=True, keep=tmp_path, echo=echo, dashboard=True
    )
    await asyncio.wait_for(visitor, 10)
    assert ok, "\n".join(lines)
    first = next(i for i, line in enumerate(lines) if line.startswith("dashboard: "))
    registered = next(i for i, line in enumerate(lines) if "registered" in line)
    assert first < registered
    assert answers == [200]
