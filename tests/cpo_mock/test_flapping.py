"""POST /control/flap: EVSEs whose status the CPO itself changes at a steady rate (the status
storm's load, cpo_mock/flapping.py): every change made, alternating per EVSE, pushed to the
hub in order and reported with its slot and time; a wrong request refused with its reason."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.cpo_mock.conftest import Federation
from tests.cpo_mock.test_sessions import evse_patches

EVSES = [{"location_id": "LOC1", "evse_uid": "AC1"}, {"location_id": "LOC1", "evse_uid": "DC1"}]


async def _report(fed: Federation, within: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        answer = await fed.control("GET", "/flap")
        assert answer.status_code == 200, answer.text
        report: dict[str, Any] = answer.json()
        if not report["running"] or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.02)


async def test_a_flap_makes_every_change_in_order_and_the_hub_passes_each_on(
    fed: Federation,
) -> None:
    start_at = time.time() + 0.05
    answer = await fed.control(
        "POST", "/flap", {"evses": EVSES, "rate": 40, "seconds": 0.25, "start_at": start_at}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"planned": 10, "start_at": start_at}
    report = await _report(fed)
    assert not report["running"]
    changes = report["changes"]
    assert len(changes) == 10 and not [c for c in changes if c["error"]]
    for n, change in enumerate(changes):
        assert change["due"] == pytest.approx(start_at + n / 40)
        assert change["due"] - 0.001 <= change["made"] <= change["done"]
    await fed.settle()
    for evse in ("AC1", "DC1"):
        made = [c["status"] for c in changes if c["evse_uid"] == evse]
        assert made == ["OUTOFORDER", "AVAILABLE"] * 2 + ["OUTOFORDER"]
        # What the eMSP got through the hub: each change, in the order made.
        assert evse_patches(fed, evse)[-5:] == made
        assert (await fed.control("GET", f"/evses/LOC1/{evse}")).json()["status"] == "OUTOFORDER"


async def test_a_flap_starts_from_each_evses_own_state(fed: Federation) -> None:
    await fed.control("POST", "/evses/LOC1/DC1/fault", {"kind": "OUTOFORDER"})
    await fed.control("POST", "/flap", {"evses": EVSES, "rate": 100, "seconds": 0.04})
    changes = (await _report(fed))["changes"]
    assert [(c["evse_uid"], c["status"]) for c in changes] == [
        ("AC1", "OUTOFORDER"),
        ("DC1", "AVAILABLE"),
        ("AC1", "AVAILABLE"),
        ("DC1", "OUTOFORDER"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"rate": 1, "seconds": 1}, 400, "give the EVSEs"),
        ({"evses": EVSES, "rate": 0, "seconds": 1}, 400, '"rate" as a number above 0'),
        ({"evses": EVSES, "rate": 1, "seconds": True}, 400, '"seconds" as a number above 0'),
        ({"evses": EVSES, "rate": 1e6, "seconds": 10}, 400, "at most 1000000 changes"),
        ({"evses": EVSES, "rate": 1, "seconds": 1, "start_at": "now"}, 400, "start_at"),
        ({"evses": ["LOC1/AC1"], "rate": 1, "seconds": 1}, 400, "each EVSE is"),
        ({"evses": EVSES + EVSES[:1], "rate": 1, "seconds": 1}, 400, "listed twice"),
        (
            {"evses": [{"location_id": "LOC1", "evse_uid": "NOPE"}], "rate": 1, "seconds": 1},
            404,
            "has no EVSE NOPE",
        ),
    ],
)
async def test_a_wrong_flap_is_refused_with_its_reason(
    fed: Federation, body: dict[str, Any], status: int, reason: str
) -> None:
    answer = await fed.control("POST", "/flap", body)
    assert answer.status_code == status
    assert reason in answer.json()["error"]
    assert (await fed.control("GET", "/flap")).status_code == 404  # nothing started


async def test_one_flap_at_a_time(fed: Federation) -> None:
    first = await fed.control("POST", "/flap", {"evses": EVSES, "rate": 10, "seconds": 0.3})
    assert first.status_code == 202
    again = await fed.control("POST", "/flap", {"evses": EVSES, "rate": 10, "seconds": 0.3})
    assert again.status_code == 409 and "still running" in again.json()["error"]
    await _report(fed)
    third = await fed.control("POST", "/flap", {"evses": EVSES, "rate": 10, "seconds": 0.1})
    assert third.status_code == 202
    await _report(fed)
