"""The mock CPO's ChargingProfiles Receiver, through the hub (spec mod_charging_profiles): a
profile caps the charger's power; every request is answered at once with a
ChargingProfileResponse and later with its result POSTed to the response_url the eMSP gave,
which the hub rewrote to its own and routes back, query string and all."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ocpi.errors import OcpiError
from ocpi.v221 import Capability, ModuleID
from tests.cpo_mock.conftest import CPO, Federation, location, start_federation
from tests.cpo_mock.test_sessions import plug, received_session, remote_start


async def charging(fed: Federation) -> str:
    """A session at DC1 (150 kW) charging a sedan from the stepped clock's start."""
    await remote_start(fed, "DC1")
    await plug(fed, "DC1")
    return "S000001"


def _url(request_id: str) -> str:
    return f"http://emsp.test/profile-results/{request_id}?request_id={request_id}"


async def profile_call(
    fed: Federation, method: str, session_id: str, request_id: str, **extra: Any
) -> Any:
    url = fed.emsp.hub_receiver_url(ModuleID.CHARGINGPROFILES, session_id)
    body = None
    params = {"response_url": _url(request_id), **extra.pop("params", {})}
    if method == "PUT":
        body = {**extra, "response_url": _url(request_id)}
        params = {}
    answer = await fed.emsp.send(method, url, body, to=CPO, params=params)
    await fed.settle()
    return answer.data


def result_of(fed: Federation, request_id: str) -> dict[str, Any]:
    """The result the CPO sent, as it reached the eMSP at the URL the eMSP gave."""
    (found,) = [
        r
        for r in fed.emsp.received
        if r.method == "POST" and r.path == f"/profile-results/{request_id}"
    ]
    assert found.query == {"request_id": request_id}
    body: dict[str, Any] = found.body
    return body


def watts(limit: str) -> dict[str, Any]:
    period = {"start_period": 0, "limit": float(limit)}
    return {"charging_profile": {"charging_rate_unit": "W", "charging_profile_period": [period]}}


async def test_a_profile_caps_the_charger_and_its_result_reaches_the_response_url(
    fed: Federation,
) -> None:
    session_id = await charging(fed)
    answer = await profile_call(fed, "PUT", session_id, "set1", **watts("11000"))
    assert answer == {"result": "ACCEPTED", "timeout": 30}
    assert result_of(fed, "set1") == {"result": "ACCEPTED"}
    await fed.step(300)  # one session update
    # The meter step under way (10 s) ends at 150 kW, then 290 s at 11 kW: 0.417 + 0.886.
    assert received_session(fed, session_id).kwh == Decimal("1.302")


async def test_the_active_profile_is_the_limit_in_force_or_the_evse_capacity(
    fed: Federation,
) -> None:
    session_id = await charging(fed)
    await profile_call(fed, "GET", session_id, "get1", params={"duration": "900"})
    before = result_of(fed, "get1")
    assert before["result"] == "ACCEPTED"
    profile = before["profile"]["charging_profile"]
    assert profile["duration"] == 900
    assert profile["charging_profile_period"] == [{"start_period": 0, "limit": 150000.0}]
    await profile_call(fed, "PUT", session_id, "set1", **watts("22000"))
    await profile_call(fed, "GET", session_id, "get2", params={"duration": "60"})
    after = result_of(fed, "get2")["profile"]["charging_profile"]
    assert after["charging_profile_period"] == [{"start_period": 0, "limit": 22000.0}]


async def test_clearing_restores_the_connector_limit(fed: Federation) -> None:
    session_id = await charging(fed)
    await profile_call(fed, "PUT", session_id, "set1", **watts("11000"))
    assert fed.cpo.sessions[session_id].limit_kw == 11.0
    assert await profile_call(fed, "DELETE", session_id, "clear1") == {
        "result": "ACCEPTED",
        "timeout": 30,
    }
    assert result_of(fed, "clear1") == {"result": "ACCEPTED"}
    assert fed.cpo.sessions[session_id].limit_kw == 150.0
    await profile_call(fed, "DELETE", session_id, "clear2")
    assert result_of(fed, "clear2") == {"result": "UNKNOWN"}  # no profile was set


async def test_unknown_and_finished_sessions_are_refused_at_once(fed: Federation) -> None:
    unknown = await profile_call(fed, "PUT", "S999999", "set0", **watts("11000"))
    assert unknown["result"] == "UNKNOWN_SESSION"
    session_id = await charging(fed)
    await fed.emsp.stop_session(session_id, to=CPO)
    await fed.settle()
    done = await profile_call(fed, "GET", session_id, "get1", params={"duration": "60"})
    assert done["result"] == "REJECTED"
    assert not [r for r in fed.emsp.received if r.path.startswith("/profile-results/")]


async def test_an_evse_without_the_capability_does_not_support_profiles(
    tmp_path: Path,
) -> None:
    plain = location("LOC1").model_copy(deep=True)
    for evse in plain.evses or []:
        evse.capabilities = [
            c for c in evse.capabilities or [] if c is not Capability.CHARGING_PROFILE_CAPABLE
        ]
    fed = await start_federation(tmp_path, locations=[plain.to_json()])
    try:
        session_id = await charging(fed)
        answer = await profile_call(fed, "PUT", session_id, "set1", **watts("11000"))
        assert answer["result"] == "NOT_SUPPORTED"
        assert fed.cpo.sessions[session_id].limit_kw == 150.0
    finally:
        await fed.emsp.close()
        await fed.cpo.stop()
        await fed.hub.stop()


async def test_a_get_without_duration_is_refused_naming_it(fed: Federation) -> None:
    session_id = await charging(fed)
    url = fed.emsp.hub_receiver_url(ModuleID.CHARGINGPROFILES, session_id)
    with pytest.raises(OcpiError) as refused:
        await fed.emsp.send("GET", url, to=CPO, params={"response_url": _url("x")})
    assert refused.value.status_code == 2001 and "duration" in str(refused.value)


async def test_a_profile_survives_a_restart(fed: Federation) -> None:
    session_id = await charging(fed)
    await profile_call(fed, "PUT", session_id, "set1", **watts("11000"))
    await fed.restart_cpo()
    sim = fed.cpo.sessions[session_id]
    assert sim.limit_kw == 11.0 and sim.profile is not None
    await profile_call(fed, "GET", session_id, "get1", params={"duration": "60"})
    active = result_of(fed, "get1")["profile"]["charging_profile"]
    assert active["charging_profile_period"] == [{"start_period": 0, "limit": 11000.0}]
