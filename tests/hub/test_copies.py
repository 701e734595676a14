"""The hub's own copies follow each module's receiver rules (hub/copies.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.copies import Copies, Copy, compact_json, token_key
from ocpi.headers import PartyRef
from ocpi.v221.versions import ModuleID
from tests.doubles import factories as f

CPO = PartyRef("DE", "CPB")
EMSP = PartyRef("NL", "EMA")
LATER = "2024-06-01T08:00:00Z"


def _with_location() -> Copies:
    copies = Copies()
    copies.apply_location("PUT", CPO, ["LOC1"], f.location().to_json())
    return copies


def test_evse_patch_merges_and_bumps_the_location_last_updated() -> None:
    copies = _with_location()
    copies.apply_location(
        "PATCH", CPO, ["LOC1", "3256"], {"status": "CHARGING", "last_updated": LATER}
    )
    location = copies.get(ModuleID.LOCATIONS, CPO, "LOC1")
    assert location is not None
    assert location.body["evses"][0]["status"] == "CHARGING"
    assert location.body["evses"][0]["connectors"]  # the rest of the EVSE is kept
    assert location.body["last_updated"] == LATER
    assert location.last_updated == datetime(2024, 6, 1, 8, tzinfo=UTC)


def test_connector_put_replaces_only_that_connector() -> None:
    copies = _with_location()
    connector = f.connector("2").to_json()
    copies.apply_location("PUT", CPO, ["LOC1", "3256", "2"], {**connector, "last_updated": LATER})
    location = copies.get(ModuleID.LOCATIONS, CPO, "LOC1")
    assert location is not None
    evse = location.body["evses"][0]
    assert [c["id"] for c in evse["connectors"]] == ["1", "2"]
    assert evse["last_updated"] == LATER


def test_patch_of_an_unknown_location_stores_nothing() -> None:
    copies = Copies()
    assert (
        copies.apply_location("PATCH", CPO, ["NOPE"], {"name": "x", "last_updated": LATER}) is None
    )
    assert len(copies) == 0


def test_session_patch_appends_charging_periods() -> None:
    copies = Copies()
    session = f.session().to_json()
    copies.apply_simple(ModuleID.SESSIONS, "PUT", CPO, "S-1001", session, EMSP)
    period = f.charging_period().to_json()
    for _ in range(2):
        copies.apply_simple(
            ModuleID.SESSIONS,
            "PATCH",
            CPO,
            "S-1001",
            {"charging_periods": [period], "last_updated": LATER},
        )
    stored = copies.get(ModuleID.SESSIONS, CPO, "S-1001")
    assert stored is not None
    assert len(stored.body["charging_periods"]) == 2
    assert stored.receiver == EMSP


def test_tokens_are_keyed_by_uid_and_type() -> None:
    copies = Copies()
    token = f.token().to_json()
    copies.apply_simple(ModuleID.TOKENS, "PUT", EMSP, token_key("A1", None), token)
    assert copies.tokens_with_uid("A1", "RFID")
    assert not copies.tokens_with_uid("A1", "APP_USER")


def test_deleted_tariffs_leave_lists_and_lookups() -> None:
    copies = Copies()
    copies.apply_simple(ModuleID.TARIFFS, "PUT", CPO, "12", f.tariff().to_json())
    copies.apply_simple(ModuleID.TARIFFS, "DELETE", CPO, "12", None)
    assert copies.listing(ModuleID.TARIFFS) == []
    assert copies.owners_of(ModuleID.TARIFFS, "12") == []


def test_listing_is_oldest_first_and_stable() -> None:
    copies = Copies()
    for object_id, stamp in (
        ("B", "2024-01-02T00:00:00Z"),
        ("A", "2024-01-02T00:00:00Z"),
        ("C", "2024-01-01T00:00:00Z"),
    ):
        copies.apply_simple(
            ModuleID.TARIFFS, "PUT", CPO, object_id, {"id": object_id, "last_updated": stamp}
        )
    assert [c.object_id for c in copies.listing(ModuleID.TARIFFS)] == ["C", "A", "B"]


def test_a_copy_is_kept_as_compact_json_text_and_read_as_a_fresh_object() -> None:
    """Copies are held as JSON text (memory at ten alliances); changing what `body` returned
    must not change the copy, and a PATCH still merges into what was kept."""
    copies = _with_location()
    location = copies.get(ModuleID.LOCATIONS, CPO, "LOC1")
    assert location is not None
    assert isinstance(location.text, str) and location.text.isascii()
    assert location.text == json.dumps(location.body, separators=(",", ":"))
    assert location.body == f.location().to_json()
    location.body["evses"][0]["status"] = "REMOVED"
    again = copies.get(ModuleID.LOCATIONS, CPO, "LOC1")
    assert again is not None and again.body["evses"][0]["status"] != "REMOVED"


@pytest.mark.parametrize(
    "body",
    [
        {"id": "LOC1", "evses": [{"uid": "E1", "max_electric_power": 22000}], "ok": True},
        {"name": "Gare de Lyon – Café", "price": 0.25, "note": "€ 0.30/kWh, 東京"},
        {"id": "BIG", "max_electric_power": 10**30, "tiny": 1e-05},
        {"id": "LOW", "max_electric_power": -(2**63) - 1},  # 19 digits, below 64 bits
        {"nested": [[], {}, None, -0.0, 1.5e300, "\u2028", '\\"quoted\\"']},
    ],
    ids=["ascii", "non-ascii", "beyond-64-bit", "below-64-bit", "awkward"],
)
def test_compact_json_is_ascii_and_reads_back_as_exactly_the_body(body: dict[str, Any]) -> None:
    text = compact_json(body)
    assert text.isascii()
    assert len(text) <= len(json.dumps(body, separators=(",", ":")))  # compact
    stamp = datetime(2024, 1, 1, tzinfo=UTC)
    made = Copy(ModuleID.LOCATIONS, CPO, "X", body, stamp)
    loaded = Copy(ModuleID.LOCATIONS, CPO, "X", text, stamp)  # as read from the database
    for copy in (made, loaded):
        assert copy.text == text
        back = copy.body
        assert back == body
        # The same types: an integer beyond 64 bits stays an integer, not a float.
        assert json.dumps(back, sort_keys=True) == json.dumps(body, sort_keys=True)


def test_a_copy_holding_a_lone_surrogate_reads_back() -> None:
    body = {"id": "X", "name": "\ud800 alone"}
    stamp = datetime(2024, 1, 1, tzinfo=UTC)
    assert Copy(ModuleID.LOCATIONS, CPO, "X", body, stamp).body == body
    assert Copy(ModuleID.LOCATIONS, CPO, "X", compact_json(body), stamp).body == body
