"""The federation control API of `roam demo` (issue 15, docs/dashboard.md): the scenario
runner's fault switches over HTTP, and the dashboard's buttons passing through to it."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx
from fastapi import FastAPI

from dashboard import create_app as create_dashboard
from roam.demo.run import dashboard_config
from roam.federation.control import control_app
from roam.federation.runtime import Federation, Member, Served, start_federation
from roam.federation.spec import load_federation
from roam.serving import LoopbackServer

TOKEN = "control-secret"


async def test_the_control_api_switches_a_members_platforms(tmp_path: Path) -> None:
    lines: list[str] = []
    federation, _ = await start_federation(load_federation(), 0.005, tmp_path, lines.append)
    control = LoopbackServer(control_app(federation, TOKEN), log_level="error")
    await control.start()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with (
            httpx.AsyncClient(base_url=control.url, headers=auth, timeout=30) as client,
            httpx.AsyncClient(timeout=5) as raw,
        ):
            bare = await raw.get(f"{control.url}/federation/members")
            assert bare.status_code == 401
            listed = (await client.get("/federation/members")).json()["members"]
            names = [m["name"] for m in listed]
            assert names == [m.spec.name for m in federation.members]
            assert all(m["cpo"]["online"] and m["emsp"]["online"] for m in listed)

            name = names[2]
            member = federation.members[2]
            cpo_url = member.cpo_settings.public_url
            off = await client.post(f"/federation/members/{name}/offline?platform=cpo")
            assert off.status_code == 200, off.text
            assert (off.json()["cpo"]["online"], off.json()["emsp"]["online"]) == (False, True)
            try:
                await raw.get(f"{cpo_url}/control/state")
                raise AssertionError("the CPO still answers")
            except httpx.TransportError:
                pass
            on = await client.post(f"/federation/members/{name.upper()}/online")
            assert on.json()["cpo"]["online"] is True
            state = await raw.get(
                f"{cpo_url}/control/state",
                headers={"Authorization": f"Bearer {member.cpo_settings.control_token}"}
                if member.cpo_settings.control_token
                else {},
            )
            assert state.status_code == 200

            slow = await client.post(
                f"/federation/members/{name}/slow", params={"platform": "app", "seconds": 0.4}
            )
            assert (slow.json()["emsp"]["delay"], slow.json()["cpo"]["delay"]) == (0.4, 0)
            began = time.monotonic()
            await raw.get(f"{member.emsp_settings.public_url}/ocpi/versions")
            assert time.monotonic() - began >= 0.4
            healed = await client.post(f"/federation/members/{name}/heal")
            assert healed.json()["emsp"]["delay"] == 0

            for path, status in (
                ("/federation/members/Nobody/offline", 404),
                (f"/federation/members/{name}/explode", 404),
                (f"/federation/members/{name}/offline?platform=car", 400),
                (f"/federation/members/{name}/slow?seconds=-1", 400),
                (f"/federation/members/{name}/slow?seconds=soon", 400),
            ):
                answer = await client.post(path)
                assert answer.status_code == status, (path, answer.text)
                assert "error" in answer.json()

        # The dashboard of the demo passes its buttons through to this API.
        dashboard = create_dashboard(dashboard_config(federation, control.url, TOKEN))
        transport = httpx.ASGITransport(app=dashboard)
        try:
            async with (
                httpx.AsyncClient(
                    transport=transport, base_url="http://dashboard", timeout=30
                ) as page,
                httpx.AsyncClient(timeout=5) as raw,
            ):
                assert (await page.get("/api/overview")).json()["federation_control"] is True
                listed = (await page.get("/api/federation")).json()["members"]
                assert [m["name"] for m in listed] == names
                # fail's body is passed on: the CPO answers with the OCPI status chosen.
                failing = await page.post(
                    f"/api/federation/{name}/fail?platform=cpo", json={"ocpi_status": 3001}
                )
                assert failing.json()["cpo"]["failing"] is True, failing.text
                versions = await raw.get(f"{cpo_url}/ocpi/versions")
                assert versions.json()["status_code"] == 3001
                slow = await page.post(f"/api/federation/{name}/slow", json={})
                assert slow.status_code == 200, slow.text
                assert slow.json()["cpo"]["delay"] == 2.0
                healed = await page.post(f"/api/federation/{name}/heal", json={})
                assert healed.json()["cpo"]["delay"] == 0
                assert healed.json()["cpo"]["failing"] is False
        finally:
            await dashboard.state.live.aclose()
        plain = create_dashboard(dashboard_config(federation))
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=plain), base_url="http://dashboard"
            ) as page:
                assert (await page.get("/api/overview")).json()["federation_control"] is False
                assert (await page.post(f"/api/federation/{name}/offline")).status_code == 404
        finally:
            await plain.state.live.aclose()
    finally:
        await control.stop()
        await federation.stop()


def _stand_in_platform() -> Served:
    """A platform that is never served on its port: its Faults layer is called in process."""
    app = FastAPI()

    @app.get("/ocpi/versions")
    def versions() -> dict[str, object]:
        return {"status_code": 1000, "data": []}

    return Served(app, 1)


async def _ocpi_answer(served: Served) -> tuple[int, int, str]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=served.faults), base_url="http://platform"
    ) as client:
        answer = await client.get("/ocpi/versions")
    body = answer.json()
    return answer.status_code, body["status_code"], body.get("status_message", "")


async def test_fail_answers_every_ocpi_request_with_an_error_until_heal() -> None:
    spec = load_federation().members[0]
    member = SimpleNamespace(
        spec=spec, cpo_served=_stand_in_platform(), emsp_served=_stand_in_platform()
    )
    federation = cast(Federation, SimpleNamespace(members=[cast(Member, member)]))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=control_app(federation)), base_url="http://control"
    ) as client:
        base = f"/federation/members/{spec.name}"
        failed = await client.post(f"{base}/fail")
        assert failed.status_code == 200, failed.text
        assert (failed.json()["cpo"]["failing"], failed.json()["emsp"]["failing"]) == (True, True)
        assert await _ocpi_answer(member.cpo_served) == (
            200,
            3000,
            "injected fault (federation control)",
        )
        assert (await client.post(f"{base}/heal")).json()["cpo"]["failing"] is False
        assert (await _ocpi_answer(member.cpo_served))[:2] == (200, 1000)

        # The body chooses the answer; `slow` afterwards keeps the failure, `fail` the delay.
        chosen = {"http_status": 503, "ocpi_status": 3002, "message": "maintenance"}
        failed = await client.post(f"{base}/fail?platform=emsp", json=chosen)
        assert (failed.json()["cpo"]["failing"], failed.json()["emsp"]["failing"]) == (False, True)
        await client.post(f"{base}/slow?platform=emsp&seconds=0.01")
        assert member.emsp_served.fault_state == (0.01, True)
        assert await _ocpi_answer(member.emsp_served) == (503, 3002, "maintenance")
        await client.post(f"{base}/fail?platform=emsp")
        assert member.emsp_served.fault_state == (0.01, True)
        assert (await _ocpi_answer(member.emsp_served))[:2] == (200, 3000)
        assert (await _ocpi_answer(member.cpo_served))[:2] == (200, 1000)
        await client.post(f"{base}/heal?platform=emsp")
        assert member.emsp_served.fault_state == (0.0, False)

        for body, named in (
            (b"[503]", "JSON object"),
            (b"{not json", "must be JSON"),
            (b'{"http_status": 700}', "http_status"),
            (b'{"http_status": "500"}', "http_status"),
            (b'{"ocpi_status": 1000}', "ocpi_status"),
            (b'{"ocpi_status": true}', "ocpi_status"),
            (b'{"message": ""}', "message"),
            (b'{"message": 3}', "message"),
            (b'{"status": 500}', "status"),
        ):
            answer = await client.post(f"{base}/fail", content=body)
            assert answer.status_code == 400, (body, answer.text)
            assert named in answer.json()["error"], (body, answer.text)
        assert member.cpo_served.fault_state == (0.0, False)
