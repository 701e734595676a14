"""The pure parts of the eMSP, without I/O: the map index, the invoice check, the receiver
rules and the re-sync diff."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emsp_mock import billing, objects, receivers
from emsp_mock.search import MapHit, MapIndex, MapQuery, distance_km, key_of
from emsp_mock.shelf import LocationShelf, location_text
from ocpi.v221 import CDR, EVSE, ConnectorType, GeoLocation, Location, Price, Status
from ocpi.v221.patches import EVSEPatch
from tests.cpo_mock.conftest import T0, location
from tests.doubles import factories as f
from tests.ocpi.v211.strategies import EVSES, locations


def at(id: str, lat: str, lon: str, operator: str = "Spark Test") -> Location:
    loc = location(id)
    return loc.model_copy(
        update={
            "coordinates": GeoLocation(latitude=lat, longitude=lon),
            "operator": loc.operator.model_copy(update={"name": operator}),  # type: ignore[union-attr]
        }
    )


class Held:
    """Locations as the eMSP holds them: JSON text on the shelf, the map index beside it."""

    def __init__(self, locations: list[Location]) -> None:
        self.shelf = LocationShelf()
        self.index = MapIndex()
        for item in locations:
            self.put(item)

    def put(self, location: Location) -> None:
        self.shelf[key_of(location)] = location
        self.index.put(location)

    def search(self, query: MapQuery) -> list[MapHit]:
        return self.index.search(query, self.shelf)

    def __len__(self) -> int:
        return len(self.index)


def index() -> Held:
    return Held(
        [
            at("BER", "52.520000", "13.405000"),  # Berlin
            at("POT", "52.390000", "13.065000", "Volt"),  # Potsdam, ~27 km
            at("PAR", "48.856600", "2.352200"),  # Paris
            at("WRAP", "10.000000", "179.990000"),  # next to the antimeridian
        ]
    )


def test_the_shelf_keeps_text_and_reads_back_equal_fresh_objects() -> None:
    """The eMSP keeps locations as JSON text (memory at ten alliances): a read equals what
    was stored, and changing what was read changes nothing held."""
    held = index()
    key = ("DE", "CPB", "BER")
    stored = held.shelf[key]
    assert stored == at("BER", "52.520000", "13.405000")
    assert held.shelf.text(key) == stored.model_dump_json(exclude_none=True)
    stored.evses = []
    assert held.shelf[key].evses
    assert held.shelf.stamped_texts()[key] == (stored.last_updated, held.shelf.text(key))
    del held.shelf[key]
    assert key not in held.shelf and held.shelf.get(key) is None and len(held.shelf) == 3


def test_search_by_radius_is_nearest_first() -> None:
    hits = index().search(MapQuery(latitude=52.52, longitude=13.40, radius_km=30))
    assert [h.location.id for h in hits] == ["BER", "POT"]
    assert hits[0].distance_km is not None and hits[0].distance_km < 1
    assert 20 < distance_km(52.52, 13.405, 52.39, 13.065) < 30


def test_search_crosses_the_antimeridian() -> None:
    hits = index().search(MapQuery(latitude=10.0, longitude=-179.99, radius_km=10))
    assert [h.location.id for h in hits] == ["WRAP"]


def test_search_filters_operator_connector_power_and_status() -> None:
    idx = index()
    near = {"latitude": 52.52, "longitude": 13.40, "radius_km": 50.0}
    assert [h.location.id for h in idx.search(MapQuery(**near, operator="volt"))] == ["POT"]  # type: ignore[arg-type]
    by_party = idx.search(MapQuery(operator="de/cpb"))
    assert len(by_party) == 4
    dc = idx.search(MapQuery(**near, connector_types=frozenset({ConnectorType.IEC_62196_T2_COMBO})))  # type: ignore[arg-type]
    assert {e.uid for h in dc for e in h.evses} == {"DC1"}
    assert {e.uid for h in idx.search(MapQuery(**near, min_power_kw=22.0)) for e in h.evses} == {  # type: ignore[arg-type]
        "DC1",
        "AC1",
        "PLAIN",
    }
    assert not idx.search(MapQuery(**near, statuses=frozenset({Status.CHARGING})))  # type: ignore[arg-type]


def test_an_evse_change_reindexes_its_location_and_removed_evses_leave_the_map() -> None:
    idx = index()
    ber = location("BER")
    ber = ber.model_copy(
        update={"coordinates": GeoLocation(latitude="48.856600", longitude="2.352200")}
    )
    idx.put(ber)  # moved to Paris: one entry, in its new cell
    assert [
        h.location.id for h in idx.search(MapQuery(latitude=48.8566, longitude=2.3522, radius_km=1))
    ] == ["BER", "PAR"]
    assert len(idx) == 4
    gone = ber
    for uid in ("DC1", "AC1", "PLAIN"):
        gone = objects.patch_evse(gone, uid, {"status": Status.REMOVED, "last_updated": T0})
    idx.put(gone)
    assert len(idx) == 3


def test_bad_queries_are_refused() -> None:
    with pytest.raises(ValueError, match="both latitude and longitude"):
        MapQuery(latitude=1.0)
    with pytest.raises(ValueError, match="latitude 91"):
        MapQuery(latitude=91.0, longitude=0.0)


def test_a_cdr_priced_as_delivered_is_invoiced_at_its_total() -> None:
    cdr = f.cdr()
    draft = billing.check_cdr(cdr, {}, "Europe/Amsterdam")
    assert draft.status is billing.InvoiceStatus.INVOICED, draft.reason
    assert draft.total == draft.expected == cdr.total_cost
    assert [line["dimension"] for line in draft.lines] == ["ENERGY"]


def test_a_cdr_disagreeing_with_the_delivered_session_goes_to_review() -> None:
    cdr = f.cdr()
    padded = cdr.model_copy(
        update={
            "total_cost": Price(
                excl_vat=cdr.total_cost.excl_vat + Decimal("0.30"), incl_vat=cdr.total_cost.incl_vat
            )
        }
    )
    draft = billing.check_cdr(padded, {}, "Europe/Amsterdam")
    assert draft.status is billing.InvoiceStatus.REVIEW
    assert "excl. VAT" in draft.reason and draft.expected == cdr.total_cost


def test_a_cdr_without_a_known_tariff_goes_to_review() -> None:
    cdr = f.cdr().model_copy(update={"tariffs": None})
    draft = billing.check_cdr(cdr, {}, "Europe/Amsterdam")
    assert draft.status is billing.InvoiceStatus.REVIEW and "neither in the CDR" in draft.reason
    stored = {t.id: t for t in [f.tariff()]}
    assert (
        billing.check_cdr(cdr, stored, "Europe/Amsterdam").status is billing.InvoiceStatus.INVOICED
    )


def test_session_patch_appends_charging_periods() -> None:
    session = f.session()
    period = f.charging_period(T0, kwh=Decimal(1))
    once = objects.patch_session(session, {"charging_periods": [period], "last_updated": T0})
    twice = objects.patch_session(
        once, {"kwh": Decimal(2), "charging_periods": [period], "last_updated": T0}
    )
    assert len(twice.charging_periods or []) == 2 and twice.kwh == 2


def test_sync_diff_stores_new_newer_and_changed_and_drops_what_the_pull_lacks() -> None:
    t1 = T0 + timedelta(minutes=1)
    stored = {
        "same": (T0, "a"),
        "newer": (T0, "b"),
        "changed": (T0, "c"),
        "mine": (t1, "x"),
        "gone": (T0, "g"),
    }
    pulled = {
        "same": (T0, "a"),
        "newer": (t1, "B"),
        "changed": (T0, "C"),
        "mine": (T0, "old"),
        "new": (T0, "n"),
    }
    diff = objects.sync_diff(stored, pulled)
    assert diff.upserts == {"newer": "B", "changed": "C", "new": "n"}
    assert diff.gone == frozenset({"gone"}) and diff.unchanged == 2


def test_sync_diff_of_a_delta_drops_nothing() -> None:
    stored = {"kept": (T0, "k"), "old": (T0, "o")}
    pulled = {"old": (T0 + timedelta(minutes=1), "O")}
    diff = objects.sync_diff(stored, pulled, complete=False)
    assert diff.upserts == {"old": "O"} and diff.gone == frozenset()


def test_sync_diff_lets_a_push_made_during_the_pull_stand() -> None:
    t1 = T0 + timedelta(minutes=1)
    stored = {"late": (T0, "L"), "same_stamp": (T0, "pushed"), "overtaken": (T0, "o")}
    pulled = {"same_stamp": (T0, "older"), "overtaken": (t1, "O"), "deleted": (T0, "d")}
    pushed = {"late", "same_stamp", "overtaken", "deleted"}
    diff = objects.sync_diff(stored, pulled, pushed=pushed)
    # Not gone though the pull lacks it; not replaced by an equal stamp; not brought back.
    assert diff.gone == frozenset() and diff.upserts == {"overtaken": "O"}


def test_the_pull_mark_is_the_pull_start_unless_the_senders_stamps_lag() -> None:
    started = T0 + timedelta(hours=1)
    ahead = objects.next_mark(None, started, [T0, T0 + timedelta(hours=2)])
    assert ahead is not None and ahead.date_from == started
    lagging = objects.next_mark(None, started, [T0, T0 - timedelta(days=1)])
    assert lagging is not None and lagging.date_from == T0
    # A delta that brought nothing keeps the newest stamp seen before.
    later = objects.next_mark(lagging, started + timedelta(hours=1), [])
    assert later is not None and later.date_from == T0
    # Nothing pulled, ever: no mark (the next pull is a first one again).
    assert objects.next_mark(None, started, []) is None
    assert objects.PullMark.from_json(lagging.to_json()) == lagging


def _credit_of(cdr: CDR, **changes: object) -> CDR:
    total = cdr.total_cost
    negated = Price(excl_vat=-total.excl_vat, incl_vat=-(total.incl_vat or Decimal(0)))
    values = {"id": cdr.id + "-C", "credit": True, "credit_reference_id": cdr.id}
    return cdr.model_copy(update={**values, "total_cost": negated, **changes})


def test_a_credit_cdr_refunding_what_was_paid_is_invoiced_negative() -> None:
    cdr = f.cdr()
    draft = billing.check_credit(_credit_of(cdr), cdr, "INVOICED")
    assert draft.status is billing.InvoiceStatus.INVOICED, draft.reason
    assert draft.total.excl_vat == -cdr.total_cost.excl_vat < 0
    assert draft.reason == f"refund of CDR {cdr.id}"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("unknown", "is not known here"),
        ("unbilled", "was not billed (REVIEW)"),
        ("wrong amount", "excl. VAT"),
    ],
)
def test_any_other_credit_cdr_goes_to_review(case: str, reason: str) -> None:
    cdr = f.cdr()
    credit = _credit_of(cdr)
    if case == "wrong amount":
        credit = _credit_of(cdr, total_cost=Price(excl_vat=Decimal("-0.01"), incl_vat=None))
    original = None if case == "unknown" else cdr
    draft = billing.check_credit(credit, original, "REVIEW" if case == "unbilled" else "INVOICED")
    assert draft.status is billing.InvoiceStatus.REVIEW and reason in draft.reason


def test_a_cdr_without_session_id_is_filed_under_its_one_session_only() -> None:
    """The session started when the CDR starts, else the one running then; two: none."""
    token = f.token()
    cdr = f.cdr("C1", of_token=token, session_id=None, start=f.T0)
    old = f.session("S-OLD", of_token=token, start=f.T0 - timedelta(hours=3))
    old = old.model_copy(update={"end_date_time": f.T0 - timedelta(hours=2)})
    running = f.session("S-RUN", of_token=token, start=f.T0 - timedelta(minutes=5))
    elsewhere = f.session("S-AC", of_token=token, evse_uid="AC9", start=f.T0)
    assert receivers.filed_session(cdr, [old, running, elsewhere]) == "S-RUN"
    exact = f.session("S-NOW", of_token=token, start=f.T0)
    assert receivers.filed_session(cdr, [running, exact]) == "S-NOW"
    twin = f.session("S-TWIN", of_token=token, start=f.T0)
    assert receivers.filed_session(cdr, [exact, twin]) == ""
    assert receivers.filed_session(cdr, [old, elsewhere]) == ""


def _patch_of(evse: EVSE, fields: set[str], uid: str | None = None) -> dict[str, Any]:
    """The changes an EVSE PATCH carrying `fields` of `evse` makes (and its last_updated),
    its `uid` the one its URL names (the endpoint refuses another: 2001)."""
    body = evse.to_json() | ({"uid": uid} if uid is not None else {})
    sent = {k: body[k] for k in fields if k in body} | {"last_updated": body["last_updated"]}
    changes: dict[str, Any] = EVSEPatch.model_validate(sent).model_dump(exclude_unset=True)
    return changes


EVSE_FIELDS = st.sets(st.sampled_from(sorted(EVSE.model_fields)))


@settings(max_examples=200)
@given(locations(with_evse=True), EVSES, EVSE_FIELDS, st.integers(0, 2))
def test_an_evse_patch_on_the_text_is_the_patch_of_the_parsed_location(
    location: Location, sent: EVSE, fields: set[str], which: int
) -> None:
    """What the eMSP does with a received EVSE PATCH without parsing the Location
    (`patch_evse_text`, the map index changed for that EVSE alone) gives the text, the
    last_updated and the map `patch_evse` on the parsed Location gives, or the same refusal."""
    text = location_text(location)
    parsed = Location.model_validate_json(text)
    uids = [e.uid for e in parsed.evses or []]
    uid = [*uids, "NOT-THERE"][min(which, len(uids))]
    changes = _patch_of(sent, fields, uid)
    if uid not in uids:
        with pytest.raises(objects.MissingParent) as refused:
            objects.patch_evse(parsed, uid, changes)
        with pytest.raises(objects.MissingParent, match=re.escape(str(refused.value))):
            objects.patch_evse_text(text, uid, changes)
        return
    expected = objects.patch_evse(parsed, uid, changes)
    patched = objects.patch_evse_text(text, uid, changes)
    assert patched.text == location_text(expected)
    assert patched.last_updated == expected.last_updated
    assert patched.evse == objects.find_evse(expected, uid)
    index = MapIndex.build([parsed])
    if not (patched.alone and index.put_evse(key_of(parsed), patched.evse)):
        index.put(Location.model_validate_json(patched.text))
    assert index == MapIndex.build([expected])


def test_an_evse_whose_uid_is_not_alone_takes_the_whole_location_on_the_map() -> None:
    """Two EVSEs with one uid (a CPO's mistake): the PATCH changes the first, as
    `patch_evse` does, and the map is rebuilt from the whole location."""
    loc = location("LOC1")
    assert loc.evses is not None
    twin = loc.evses[0].model_copy(update={"status": Status.CHARGING})
    text = location_text(loc.model_copy(update={"evses": [*loc.evses, twin]}))
    changes = _patch_of(loc.evses[0].model_copy(update={"status": Status.BLOCKED}), {"status"})
    patched = objects.patch_evse_text(text, loc.evses[0].uid, changes)
    assert not patched.alone
    statuses = [e.status for e in Location.model_validate_json(patched.text).evses or []]
    assert statuses == [Status.BLOCKED, *[e.status for e in loc.evses[1:]], Status.CHARGING]
