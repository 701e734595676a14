"""Seeded fuzzing of the hub's routed interface (issue 12 item 7), with hypothesis.

A registered member sends requests built from honest ones with hostile parts spliced in: dot
segments and encoded dots in the path, bodies with NaN, Infinity, huge numbers, lone
surrogates, deep nesting, wrong types, another party's owner fields. Whatever arrives, the hub

* answers with an OCPI envelope that is strict JSON, never HTTP 500 / status 3000;
* delivers to a receiver only URLs below the endpoint that receiver registered, and only
  bodies that are strict JSON and, for client-owned pushes, owned by the sender;
* keeps its message log working (the admin API answers, the batch writer is not stuck).
"""

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpi.headers import encode_authorization
from ocpi.wire_json import read_json
from tests.doubles import factories as f
from tests.hub import test_federation
from tests.hub.federation import Federation

fed = test_federation.fed  # the federation fixture: a hub and two members in one loop

HUB = "http://hub.test/ocpi/2.2.1"
HOSTILE_VALUES = [
    "NaN",
    "-Infinity",
    "1e999",
    '"\\ud800"',
    '"\\udfff\\u0000"',
    "1700000000",
    '"many"',
    "31",
    '"FR"',
    '{"a":' * 80 + "1" + "}" * 80,
    "[" * 3000 + "]" * 3000,
]
SEGMENTS = ["DE", "CPB", "NL", "EMA", "LOC1", "3256", "1", "..", ".", "%2e%2e", "%2E.", "x y"]
PATHS = [
    "/receiver/locations",
    "/receiver/sessions",
    "/receiver/cdrs",
    "/receiver/tariffs",
    "/receiver/commands/START_SESSION",
    "/sender/locations",
    "/sender/sessions",
    "/sender/cdrs",
]
BODIES = {
    "location": f.location("LOC1").to_json(),
    "session": f.session("S1").to_json(),
    "cdr": f.cdr().to_json(),
    "tariff": f.tariff().to_json(),
}


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes]:
    method = draw(st.sampled_from(["GET", "PUT", "PATCH", "POST"]))
    path = draw(st.sampled_from(PATHS)) + "".join(
        "/" + segment for segment in draw(st.lists(st.sampled_from(SEGMENTS), max_size=6))
    )
    body = dict(draw(st.sampled_from(list(BODIES.values()))))
    marker = "@@hostile@@"
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=3)):
        body[key] = marker
    text = json.dumps(body)
    while f'"{marker}"' in text:
        text = text.replace(f'"{marker}"', draw(st.sampled_from(HOSTILE_VALUES)), 1)
    return method, path, (b"" if method == "GET" else text.encode())


def _strict(raw: bytes) -> dict[str, Any]:
    envelope: dict[str, Any] = read_json(raw, max_depth=None)
    return envelope


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(requests(), min_size=1, max_size=4))
async def test_the_hub_survives_hostile_requests_and_forwards_nothing_it_must_not(
    fed: Federation, batch: list[tuple[str, str, bytes]]
) -> None:
    seen = {"cpo": len(fed.cpo.received), "emsp": len(fed.emsp.received)}
    async with fed.network.client() as client:
        for method, path, body in batch:
            for sender, to in ((fed.cpo, f.EMSP), (fed.emsp, f.CPO)):
                assert sender.peer is not None
                response = await client.request(
                    method,
                    httpx.URL(HUB + path),
                    content=body or None,
                    headers={
                        "Authorization": encode_authorization(sender.peer.token),
                        "Content-Type": "application/json",
                        "OCPI-from-country-code": sender.party.country_code,
                        "OCPI-from-party-id": sender.party.party_id,
                        "OCPI-to-country-code": to.country_code,
                        "OCPI-to-party-id": to.party_id,
                    },
                )
                assert response.status_code != 500, (method, path, response.text)
                envelope = _strict(response.content)
                assert envelope["status_code"] != 3000, (method, path, envelope)
    await fed.settle()
    for name, member in (("cpo", fed.cpo), ("emsp", fed.emsp)):
        for got in member.received[seen[name] :]:
            segments = got.path.split("/")
            assert ".." not in segments and "." not in segments, got.path
            if isinstance(got.body, dict):
                json.dumps(got.body, allow_nan=False).encode("utf-8")
                owner = (got.body.get("country_code"), got.body.get("party_id"))
                if got.method in ("PUT", "POST") and owner != (None, None):
                    assert owner in (("DE", "CPB"), ("NL", "EMA")), got.body
    async with fed.network.client() as client:
        log = await client.get(
            "http://hub.test/admin/messages",
            params={"limit": "5"},
            headers={"Authorization": "Bearer admin-secret"},
        )
    assert log.status_code == 200
    assert fed.hub.writer.unstorable == 0
