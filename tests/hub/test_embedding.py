"""The hub's surface for a program that embeds it (docs/hub.md, "Embedding the hub"):
invitations, the message log, settlement and the settings a running hub may change."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from hub.messages import MessageFilter
from hub.service import Invitee
from hub.settings import LIVE_SETTINGS
from ocpi.errors import ForwardTimeout
from ocpi.headers import PartyRef, encode_authorization
from ocpi.v221 import ConnectionStatus, Role
from tests.doubles import factories as f
from tests.hub import test_federation
from tests.hub.conftest import running_hub
from tests.hub.federation import Federation

CPO, EMSP = f.CPO, f.EMSP

fed = test_federation.fed  # a hub (forward_timeout 0.5 s) and two members in one loop


async def _eventually(condition: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


# --- invitations ----------------------------------------------------------------------------
async def test_invite_makes_a_token_a_and_plans_the_parties(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as (hub, client):
        invitation = await hub.invite([(Role.CPO, CPO)], note="the bench CPO")
        assert invitation.versions_url == "http://hub.test/ocpi/versions"
        assert invitation.to_json()["parties"] == ["CPO DE/CPB"]
        principal = await hub.authenticate(invitation.token)
        assert isinstance(principal, Invitee)
        assert principal.allowed == ((Role.CPO, CPO),)
        planned = hub.directory.parties[(Role.CPO, CPO)]
        assert planned.status == ConnectionStatus.PLANNED
        # The admin API answers with the same invitation, made the same way.
        answer = await client.post(
            "/admin/invitations",
            json={"parties": [{"role": "EMSP", "country_code": "NL", "party_id": "EMA"}]},
            headers={"Authorization": "Bearer admin-secret"},
        )
        data = answer.json()["data"]
        assert set(data) == set(invitation.to_json())
        assert data["parties"] == ["EMSP NL/EMA"]
        assert hub.directory.parties[(Role.EMSP, EMSP)].status == ConnectionStatus.PLANNED


async def test_a_member_registers_with_an_invite_token(fed: Federation) -> None:
    await fed.cpo.unregister()
    await fed.settle()
    assert fed.hub.directory.parties[(Role.CPO, CPO)].status == ConnectionStatus.SUSPENDED
    invitation = await fed.hub.invite([(Role.CPO, CPO)])
    await fed.cpo.register(invitation.versions_url, invitation.token)
    await fed.settle()
    assert fed.hub.directory.parties[(Role.CPO, CPO)].status == ConnectionStatus.CONNECTED
    assert fed.emsp.client_info[("DE", "CPB")].status == ConnectionStatus.CONNECTED


# --- the message log --------------------------------------------------------------------------
async def test_messages_include_lines_not_yet_flushed(tmp_path: Path) -> None:
    # The writer would wait a minute: what the caller sees was flushed by `messages`.
    async with running_hub(tmp_path, log_flush_interval=60) as (hub, client):
        refused = await client.get(
            "/ocpi/versions", headers={"Authorization": encode_authorization("nobody")}
        )
        assert refused.status_code == 401
        lines = await hub.messages()
        assert [(m.hop, m.path, m.http_status) for m in lines] == [
            ("inbound", "/ocpi/versions", 401)
        ]
        later = await hub.messages(MessageFilter(after_id=lines[0].id))
        assert later == []


async def test_following_the_log_by_after_id_skips_no_line(tmp_path: Path) -> None:
    """A line is stamped when its answer is back, so ids and timestamps disagree in order
    (a slow hop logged after a quick one). Paged by after_id, the log is read in id order:
    taking the last id of each page as the next after_id never skips a line."""
    async with running_hub(tmp_path, log_flush_interval=60) as (hub, _client):
        now = datetime.now(UTC)
        for i, seconds in enumerate([5, 1, 4, 2, 3]):
            hub.log_message(
                hop="inbound",
                method="GET",
                path=f"/{i}",
                timestamp=now - timedelta(seconds=seconds),
            )
        seen: list[str] = []
        after = 0
        while page := await hub.messages(MessageFilter(after_id=after, limit=2)):
            seen += [line.path for line in page]
            after = page[-1].id
        assert seen == ["/0", "/1", "/2", "/3", "/4"]


async def test_messages_are_plain_data_and_filter_like_the_admin_api(fed: Federation) -> None:
    await fed.cpo.put_session(f.session(), to=EMSP)
    lines = await fed.hub.messages(MessageFilter(module="sessions"))
    assert {(m.hop, m.from_party, m.to_party) for m in lines} == {
        ("inbound", "DE/CPB", "NL/EMA"),
        ("outbound", "DE/CPB", "NL/EMA"),
    }
    with pytest.raises(AttributeError):
        lines[0].note = "changed"  # type: ignore[misc]
    outbound = next(m for m in lines if m.hop == "outbound")
    assert outbound.platform_id is not None
    assert fed.hub.platform_parties(outbound.platform_id) == (EMSP,)
    assert fed.hub.platform_parties(-1) == ()


# --- settings ---------------------------------------------------------------------------------
async def test_settings_are_not_swapped_on_a_running_hub(fed: Federation) -> None:
    with pytest.raises(AttributeError):
        fed.hub.settings = fed.hub.settings  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"port": 9000}, "fixed when the hub is built: port"),
        ({"accept_raw_tokens": True}, "fixed when the hub is built: accept_raw_tokens"),
        ({"planet": "x"}, "unknown hub settings: planet"),
        ({"forward_timeout": -1}, "greater than 0"),
    ],
)
async def test_reconfigure_refuses_what_cannot_change(
    fed: Federation, changes: dict[str, object], message: str
) -> None:
    before = fed.hub.settings
    with pytest.raises(ValueError, match=message):
        fed.hub.reconfigure(**changes)
    assert fed.hub.settings is before


async def test_a_new_forward_timeout_applies_to_the_next_message(fed: Federation) -> None:
    fed.network.delay["emsp.test"] = 1.0
    with pytest.raises(ForwardTimeout, match=r"within 0\.5 s"):
        await fed.cpo.put_session(f.session(), to=EMSP)
    fed.hub.reconfigure(forward_timeout=5)
    await fed.cpo.put_session(f.session(), to=EMSP)  # delivered
    fed.hub.reconfigure(forward_timeout=0.3)
    with pytest.raises(ForwardTimeout, match=r"within 0\.3 s"):
        await fed.cpo.put_session(f.session(), to=EMSP)


async def test_a_new_still_alive_timing_applies_to_the_pause_in_progress(fed: Federation) -> None:
    # The hub was built to look every hour; the eMSP goes down; the new timing finds out.
    fed.network.down.add("emsp.test")
    fed.hub.reconfigure(still_alive_interval=0.05, still_alive_after=0.01)

    def offline() -> bool:
        info = fed.cpo.client_info.get(("NL", "EMA"))
        return info is not None and info.status == ConnectionStatus.OFFLINE

    await _eventually(offline)
    fed.network.down.discard("emsp.test")

    def connected() -> bool:
        return fed.cpo.client_info[("NL", "EMA")].status == ConnectionStatus.CONNECTED

    await _eventually(connected)


async def test_every_live_setting_reaches_what_reads_it(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as (hub, _):  # the hub's own HTTP client
        changes = {
            "forward_timeout": 1.5,
            "still_alive_after": 60.0,
            "still_alive_interval": 5.0,
            "page_limit": 3,
            "log_flush_interval": 0.5,
        }
        assert set(changes) == LIVE_SETTINGS
        settings = hub.reconfigure(**changes)
        assert hub.settings is settings
        assert {name: getattr(settings, name) for name in changes} == changes
        # Handshakes use the client's default timeout; the log writer its own interval.
        assert hub.http.timeout == httpx.Timeout(1.5)
        assert hub.writer.interval == 0.5


async def test_settlement_is_what_the_admin_api_reports(fed: Federation) -> None:
    await fed.cpo.post_cdr(f.cdr(), to=EMSP)
    lines = fed.hub.settlement()
    assert [(line.emsp, line.cpo, line.cdr_count) for line in lines] == [(EMSP, CPO, 1)]
    assert isinstance(lines[0].emsp, PartyRef)


async def test_the_admin_api_counts_hops_and_drains_on_request(fed: Federation) -> None:
    """What `roam demo` reads when the hub is a process of its own: `stats` (messages sent
    on) and `drain` (answers once the lanes have delivered, with what is left per platform)."""
    before = (await fed.admin("stats"))["hops_sent"]
    await fed.cpo.post_cdr(f.cdr(), to=EMSP)
    stats = await fed.admin("stats")
    assert stats["hops_sent"] == before + 1 and stats["instance"]
    async with fed.network.client() as client:
        drained = await client.post(
            "http://hub.test/admin/drain", headers={"Authorization": "Bearer admin-secret"}
        )
        refused = await client.post("http://hub.test/admin/drain")
    assert drained.json()["status_code"] == 1000
    assert all(row["waiting"] == 0 for row in drained.json()["data"])
    assert refused.status_code == 401


# --- the admin API's settings and message log (what `roam scenario run` reads over HTTP) -----
async def _admin_call(
    fed: Federation, method: str, path: str, body: object = None, token: str = "admin-secret"
) -> httpx.Response:
    async with fed.network.client() as client:
        return await client.request(
            method,
            f"http://hub.test/admin/{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )


async def test_the_admin_api_changes_live_settings(fed: Federation) -> None:
    shown = (await _admin_call(fed, "GET", "settings")).json()["data"]
    assert (shown["country_code"], shown["party_id"]) == ("EU", "HUB")
    assert set(shown) == {"country_code", "party_id", "name"} | LIVE_SETTINGS
    assert shown["forward_timeout"] == 0.5
    answer = await _admin_call(fed, "PATCH", "settings", {"forward_timeout": 2, "page_limit": 7})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert (data["forward_timeout"], data["page_limit"]) == (2, 7)
    assert (fed.hub.settings.forward_timeout, fed.hub.settings.page_limit) == (2, 7)
    # Let the periodic jobs take up their new pauses before the fixture stops the hub: a stop
    # in the same instant can lose its cancellation in asyncio.wait_for (Python 3.11), and
    # Hub.stop then waits for a job that went back to sleep.
    await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"port": 9000}, "fixed when the hub is built: port"),
        ({"admin_token": "mine"}, "fixed when the hub is built: admin_token"),
        ({"planet": "x"}, "unknown hub settings: planet"),
        ({"forward_timeout": -1}, "forward_timeout: Input should be greater than 0"),
        ({"page_limit": "many"}, "page_limit"),
        ({}, "give the settings to change as a JSON object"),
        (["forward_timeout"], "give the settings to change as a JSON object"),
    ],
)
async def test_the_admin_api_refuses_settings_a_running_hub_cannot_take(
    fed: Federation, body: object, problem: str
) -> None:
    before = fed.hub.settings
    answer = await _admin_call(fed, "PATCH", "settings", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["status_code"] == 2001
    assert problem in answer.json()["status_message"]
    assert fed.hub.settings is before


async def test_the_admin_settings_need_the_admin_token(fed: Federation) -> None:
    for method in ("GET", "PATCH"):
        answer = await _admin_call(fed, method, "settings", {"page_limit": 3}, token="nope")
        assert answer.status_code == 401
    assert fed.hub.settings.page_limit != 3


async def test_the_admin_api_follows_the_message_log(fed: Federation) -> None:
    """`after_id` follows the log as it grows; each line carries its `id` and, for a hop to
    a member, the `platform_id` that `parties` names the parties of."""
    lines = (await _admin_call(fed, "GET", "messages?limit=10000")).json()["data"]
    last = max(line["id"] for line in lines)
    await fed.cpo.put_session(f.session(), to=EMSP)
    later = (await _admin_call(fed, "GET", f"messages?after_id={last}")).json()["data"]
    assert all(line["id"] > last for line in later)
    assert {(line["hop"], line["module"]) for line in later} == {
        ("inbound", "sessions"),
        ("outbound", "sessions"),
    }
    outbound = next(line for line in later if line["hop"] == "outbound")
    parties = (await _admin_call(fed, "GET", "parties")).json()["data"]
    hosted = {
        f"{p['country_code']}/{p['party_id']}"
        for p in parties
        if p["platform_id"] == outbound["platform_id"]
    }
    assert hosted == {str(EMSP)}
    assert (await _admin_call(fed, "GET", "messages?after_id=soon")).json()["status_code"] == 2001
