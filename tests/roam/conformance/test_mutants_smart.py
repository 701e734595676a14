"""Mutants of reservations and smart charging (issue 18, group 3): each breaks one rule of
the mock CPO (or, for the Session of a reservation, the mock eMSP), and the run must fail
exactly the check of that rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from cpo_mock import profiles, stations
from cpo_mock.deliveries import queue_reply as queue
from cpo_mock.model import EvseSim
from cpo_mock.service import Cpo
from emsp_mock.receivers import Receivers
from ocpi.errors import InvalidParameters
from ocpi.headers import PartyRef
from ocpi.v221 import Role, Session, SessionStatus
from tests.roam.conformance.mutants import Answer, outbound, rebuilt, rewrite
from tests.roam.conformance.test_mutants import Mutant, run_mutant


def _rewrite_json(request: httpx.Request, change: Any) -> httpx.Request:
    body = json.loads(request.content)
    change(body)
    return rebuilt(request, dict(request.headers), json.dumps(body).encode())


def _reservation_as_pending(request: httpx.Request) -> httpx.Request:
    if "/sessions/" not in request.url.path or b'"RESERVATION"' not in request.content:
        return request
    return _rewrite_json(request, lambda body: body.update(status="PENDING"))


def _reservation_sessions_refused(patch: pytest.MonkeyPatch) -> None:
    store = Receivers.store_session

    async def refuse_reservations(self: Receivers, session: Session) -> bool:
        if session.status is SessionStatus.RESERVATION:
            raise InvalidParameters("unknown session status RESERVATION")  # a 2.1.1 habit
        return await store(self, session)

    patch.setattr(Receivers, "store_session", refuse_reservations)


def _reserved_evse_served_available(answer: Answer) -> None:
    if answer.method == "GET" and answer.path.count("/locations/") == 1:
        answer.body = answer.body.replace(b'"status":"RESERVED"', b'"status":"AVAILABLE"')


def _cancel_keeps_the_session(patch: pytest.MonkeyPatch) -> None:
    async def drop_reservation(self: Cpo, evse: EvseSim, at: Any, result: Any) -> None:
        evse.reservation = None  # the RESERVATION Session is never COMPLETED

    patch.setattr(Cpo, "cancel_reservation", drop_reservation)


def _start_ignores_the_reservation(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(stations, "same_token", lambda a, b: False)  # a new Session, not the reserved


def _no_reply(kind: str) -> Any:
    def patch_it(patch: pytest.MonkeyPatch) -> None:
        async def drop(state: Any, what: str, url: str, to: PartyRef | None, body: Any) -> None:
            if what != kind:
                await queue(state, what, url, to, body)

        patch.setattr("cpo_mock.profiles.queue_reply", drop)

    return patch_it


def _result_without_query(request: httpx.Request) -> httpx.Request:
    if "/sender/chargingprofiles/" not in request.url.path or not request.url.query:
        return request
    return httpx.Request(
        request.method,
        request.url.copy_with(query=None),
        headers={k: v for k, v in request.headers.items() if k.lower() != "content-length"},
        content=request.content,
    )


def _active_profile_above_the_limit(request: httpx.Request) -> httpx.Request:
    if "/sender/chargingprofiles/GET/" not in request.url.path:
        return request

    def raise_limits(body: dict[str, Any]) -> None:
        for period in body["profile"]["charging_profile"]["charging_profile_period"]:
            period["limit"] = period["limit"] * 10

    return _rewrite_json(request, raise_limits)


def _preferences_answer_not_an_enum(answer: Answer) -> None:
    if answer.path.endswith("/charging_preferences") and answer.status == 200:
        body = answer.json()
        body["data"] = "MAYBE"
        answer.set_json(body)


MUTANTS = [
    Mutant("reservation pushed as PENDING", Role.CPO, "reservation.reserve_now",
           outbound=outbound(_reservation_as_pending)),
    Mutant("reserved EVSE still served AVAILABLE", Role.CPO, "reservation.reserve_now",
           rewrite(_reserved_evse_served_available)),
    Mutant("cancelled reservation's Session never COMPLETED", Role.CPO, "reservation.cancel",
           patch=_cancel_keeps_the_session),
    Mutant("start on the reserved EVSE opens a new Session", Role.CPO,
           "reservation.start_reserved", patch=_start_ignores_the_reservation),
    Mutant("SetChargingProfile result never sent", Role.CPO, "profiles.set",
           patch=_no_reply(profiles.SET)),
    Mutant("profile results sent without the response_url's query", Role.CPO, "profiles.set",
           outbound=outbound(_result_without_query)),
    Mutant("active profile above the limit set", Role.CPO, "profiles.get",
           outbound=outbound(_active_profile_above_the_limit)),
    Mutant("ClearProfileResult never sent", Role.CPO, "profiles.clear",
           patch=_no_reply(profiles.CLEAR)),
    Mutant("eMSP refuses a Session in status RESERVATION", Role.EMSP, "reservation.emsp_session",
           patch=_reservation_sessions_refused),
    Mutant("charging preferences answered MAYBE", Role.CPO, "profiles.charging_preferences",
           rewrite(_preferences_answer_not_an_enum)),
]  # fmt: skip


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
async def test_a_smart_charging_mutant_fails_exactly_its_check(
    mutant: Mutant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, _ = await run_mutant(mutant, tmp_path, monkeypatch)
    assert report.failed[0].evidence  # the requests and answers that showed it


def test_every_smart_charging_check_has_a_mutant() -> None:
    from roam.conformance.smart import CHECKS

    assert {m.breaks for m in MUTANTS} == {c.id for c in CHECKS}
