"""A black-box security check of `roam hub serve` over real HTTP (issue 12, items 2 and 7).

Two separately started OCPI platforms (tests/doubles) register with a served hub; then the CPO
sends what an attacker or a broken platform would: pushes claiming another party's objects,
malformed objects, dot segments that would leave the receiver's endpoint, NaN, lone
surrogates, deep nesting. Every one is refused, and the receivers received nothing — checked
by a legitimate push sent last, which does arrive.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from ocpi.headers import encode_authorization
from tests.doubles import factories as f
from tests.hub import test_processes
from tests.hub.test_processes import Processes, _act, _eventually, _state, onboard

processes = test_processes.processes  # the fixture: roam hub serve + two member processes


def _raw(
    p: Processes, token: str, method: str, path: str, body: bytes, to: str
) -> tuple[int, dict[str, Any]]:
    """One request with the path sent byte for byte (no client-side `..` resolution)."""
    hub = urlsplit(p.hub)
    country, party = to.split("/")
    connection = http.client.HTTPConnection(hub.hostname or "", hub.port, timeout=10)
    try:
        connection.request(
            method,
            "/ocpi/2.2.1" + path,
            body=body or None,
            headers={
                "Authorization": encode_authorization(token),
                "Content-Type": "application/json",
                "OCPI-from-country-code": "DE" if to == "NL/EMA" else "NL",
                "OCPI-from-party-id": "CPB" if to == "NL/EMA" else "EMA",
                "OCPI-to-country-code": country,
                "OCPI-to-party-id": party,
            },
        )
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def test_spoofed_malformed_and_escaping_requests_reach_no_receiver(
    processes: Processes,
) -> None:
    p = processes
    onboard(p)
    cpo_token = _act(p.cpo, "peer")["token"]
    emsp_token = _act(p.emsp, "peer")["token"]
    emsp_before = len(_state(p.emsp)["received"])
    cpo_before = len(_state(p.cpo)["received"])

    spoofed = {**f.location("LOC1").to_json(), "country_code": "FR", "party_id": "CCC"}
    malformed = {**f.location("LOC1").to_json(), "country_code": 31, "evses": "many"}
    malformed["publish"] = "yes"
    cdr = {**f.cdr().to_json(), "country_code": "FR", "party_id": "CCC"}
    nan_cdr = json.dumps({**f.cdr().to_json(), "total_energy": "@"}).replace('"@"', "-Infinity")
    surrogate_cdr = json.dumps(f.cdr().to_json()).replace("Hauptstrasse 1", "\\ud800")
    deep = b'{"a":' * 2000 + b"1" + b"}" * 2000
    loc = "/receiver/locations/DE/CPB/LOC1"
    hostile = [
        ("PUT", loc, json.dumps(spoofed).encode(), 200, 2001, "another party than the sender"),
        ("PUT", loc, json.dumps(malformed).encode(), 200, 2001, "publish"),
        ("POST", "/receiver/cdrs", json.dumps(cdr).encode(), 200, 2001, "another party"),
        ("POST", "/receiver/cdrs", nan_cdr.encode(), 400, 2001, "NaN or Infinity"),
        ("POST", "/receiver/cdrs", surrogate_cdr.encode(), 400, 2001, "surrogate"),
        ("POST", "/receiver/cdrs", deep, 400, 2001, "nested deeper"),
        (
            "PUT",
            "/receiver/locations/DE/CPB/LOC1/3256/1/../../../../../admin/messages",
            json.dumps(f.connector().to_json()).encode(),
            404,
            2000,
            "dot segments",
        ),
    ]
    for method, path, body, http_status, status_code, words in hostile:
        status, answer = _raw(p, cpo_token, method, path, body, "NL/EMA")
        assert (status, answer["status_code"]) == (http_status, status_code), (path, answer)
        assert words in answer["status_message"], (path, answer)
    for path in ("/sender/locations/../../../../secret", "/sender/locations/%2e%2e/%2e%2e/x"):
        status, answer = _raw(p, emsp_token, "GET", path, b"", "DE/CPB")
        assert status == 404, (path, answer)
        assert "dot segments" in answer["status_message"]

    # A legitimate direct push sent last arrives: everything before it was refused, not late.
    status, answer = _raw(
        p, cpo_token, "PUT", loc, json.dumps(f.location("LOC1").to_json()).encode(), "NL/EMA"
    )
    assert answer["status_code"] == 1000
    assert _eventually(lambda: len(_state(p.emsp)["received"]) > emsp_before)
    new = _state(p.emsp)["received"][emsp_before:]
    assert len(new) == 1, new
    assert new[0]["method"] == "PUT"
    assert new[0]["path"].endswith("/locations/DE/CPB/LOC1")
    assert new[0]["body"]["country_code"] == "DE"
    assert len(_state(p.cpo)["received"]) == cpo_before

    # The hub still answers and logs: nothing hostile poisoned its message log.
    admin = httpx.get(
        f"{p.hub}/admin/messages",
        params={"module": "cdrs"},
        headers={"Authorization": f"Bearer {_admin_token(p)}"},
        timeout=10,
    )
    assert admin.status_code == 200, admin.text
    notes = [row["note"] for row in admin.json()["data"]]
    assert any("another party than the sender" in note for note in notes)


def _admin_token(p: Processes) -> str:
    from hub.db import make_engine
    from hub.store import Store

    store = Store(make_engine(p.database_url))
    try:
        token = store.get_state("admin_token")
    finally:
        store.engine.dispose()
    assert token
    return token
