"""Deliberately broken members for the lifecycle and recovery checks: each mutant breaks one
rule of a mock CPO or eMSP, and the run must fail exactly the check of that rule."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from cpo_mock.service import Cpo
from emsp_mock.service import Emsp
from ocpi.headers import PartyRef, encode_authorization
from ocpi.platform.peer import PeerState
from ocpi.platform.registration import Principal, Registration
from ocpi.v221 import Credentials, Role
from roam.conformance import Outcome, checks_for
from tests.roam.conformance.conftest import conformance, explain, member, outcomes
from tests.roam.conformance.mutants import outbound, rebuilt
from tests.roam.conformance.test_mutants import Mutant, run_mutant


# --- lifecycle ------------------------------------------------------------------------------
def _old_token_dropped_at_once(patch: pytest.MonkeyPatch) -> None:
    accept = Registration.accept

    async def accept_without_grace(
        self: Registration, theirs: Credentials, caller: Principal, method: str
    ) -> Credentials:
        answer = await accept(self, theirs, caller, method)
        assert self.peer is not None
        self.peer = replace(self.peer, previous_token=None)
        await self.store.save_peer(self.peer)
        return answer

    patch.setattr(Registration, "accept", accept_without_grace)


def _rotation_keeps_the_token(patch: pytest.MonkeyPatch) -> None:
    async def update_same_token(self: Registration) -> PeerState:
        peer = self.require_peer()
        assert peer.credentials_url is not None
        own = self.own_credentials(peer.issued_token)
        answer = await self.client().put(peer.credentials_url, own, routed=False)
        self.peer = replace(peer, token=answer.parse(Credentials).token)
        await self.store.save_peer(self.peer)
        return self.peer

    patch.setattr(Registration, "update", update_same_token)


def _post_a_token_not_accepted(request: httpx.Request) -> httpx.Request:
    if request.method != "POST" or not request.url.path.endswith("/credentials"):
        return request
    body: dict[str, Any] = json.loads(request.content)
    body["token"] = "a-token-this-member-never-issued"
    return rebuilt(request, dict(request.headers), json.dumps(body).encode())


def _post_with_another_token_a(request: httpx.Request) -> httpx.Request:
    if request.method != "POST" or not request.url.path.endswith("/credentials"):
        return request
    headers = {**request.headers, "authorization": encode_authorization("not-the-token-a")}
    return rebuilt(request, headers, request.content)


# --- recovery -------------------------------------------------------------------------------
def _cpo_never_pulls_tokens(patch: pytest.MonkeyPatch) -> None:
    async def pull_nothing(self: Cpo, party: PartyRef) -> None:
        return None

    patch.setattr(Cpo, "_pull_tokens", pull_nothing)


def _emsp_never_resyncs(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(Emsp, "_resync_soon", lambda self: None)


def _pull_from_the_future(request: httpx.Request) -> httpx.Request:
    if request.method != "GET" or "/sender/" not in request.url.path:
        return request
    url = request.url.copy_set_param("date_from", "2099-01-01T00:00:00Z")
    return httpx.Request(request.method, url, headers=request.headers)


MUTANTS = [
    Mutant("old token refused at once after a PUT", Role.EMSP, "lifecycle.interrupted_rotation",
           patch=_old_token_dropped_at_once),
    Mutant("rotation PUT keeps the old token", Role.CPO, "lifecycle.member_rotation",
           patch=_rotation_keeps_the_token),
    Mutant("registration POST with a token the member refuses", Role.CPO,
           "lifecycle.reregistration", outbound=outbound(_post_a_token_not_accepted)),
    Mutant("registration POST with a token A the suite never gave", Role.EMSP,
           "lifecycle.reregistration", outbound=outbound(_post_with_another_token_a)),
    Mutant("CPO does not pull tokens when the eMSP is back", Role.CPO, "recovery.resync",
           patch=_cpo_never_pulls_tokens),
    Mutant("eMSP does not re-sync when the CPO is back", Role.EMSP, "recovery.resync",
           patch=_emsp_never_resyncs),
    Mutant("eMSP pulls with date_from after the outage", Role.EMSP, "recovery.resync",
           outbound=outbound(_pull_from_the_future)),
]  # fmt: skip


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
async def test_a_mutant_fails_exactly_the_check_of_the_rule_it_breaks(
    mutant: Mutant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, _ = await run_mutant(mutant, tmp_path, monkeypatch)
    assert report.failed[0].evidence  # the requests and answers that showed it


def test_every_new_check_has_a_mutant() -> None:
    new = {c.id for role in (Role.CPO, Role.EMSP) for c in checks_for(role)}
    new = {c for c in new if c.split(".")[0] in ("lifecycle", "recovery")}
    assert new == {m.breaks for m in MUTANTS}


@pytest.mark.parametrize("role", [Role.CPO, Role.EMSP])
async def test_without_a_member_hook_the_hook_checks_skip_saying_what_to_give(
    role: Role, tmp_path: Path
) -> None:
    async with member(role, tmp_path) as target:
        report = await conformance(target, member_hook=None)
    hooked = {"lifecycle.member_rotation", "lifecycle.reregistration"}
    assert hooked <= outcomes(report, Outcome.SKIP), explain(report)
    assert not report.failed, explain(report)
    reason = next(r.message for r in report.results if r.check.id == "lifecycle.reregistration")
    assert "--member-command" in reason
