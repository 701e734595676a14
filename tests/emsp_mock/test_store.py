"""The eMSP's store on SQLite and PostgreSQL: a CDR and its invoice are written once."""

from __future__ import annotations

from datetime import UTC, datetime

from emsp_mock.store import Store, StoredObject, make_engine


def test_a_cdr_is_stored_with_its_invoice_exactly_once(database_url: str) -> None:
    store = Store(make_engine(database_url))
    try:
        now = datetime(2025, 3, 3, 8, tzinfo=UTC)
        key = ("DE", "CPB", "CDR1")
        invoice = {"status": "INVOICED", "total": {"excl_vat": 1.5}}
        assert store.add_cdr(key, "{}", now, "alice", "S1", "INVOICED", invoice)
        assert not store.add_cdr(key, "{}", now, "alice", "S1", "INVOICED", invoice)
        assert store.load_cdrs() == [(key, "{}")]
        (stored,) = store.load_invoices()
        assert (stored.driver_id, stored.status, stored.body) == ("alice", "INVOICED", invoice)
        assert stored.created_at == now
    finally:
        store.engine.dispose()


def test_objects_are_replaced_and_deleted_in_one_call(database_url: str) -> None:
    store = Store(make_engine(database_url))
    try:
        now = datetime(2025, 3, 3, 8, tzinfo=UTC)
        a, b = ("DE", "CPB", "A"), ("DE", "CPB", "B")
        store.save_objects("location", [StoredObject(a, "1", now), StoredObject(b, "2", now)])
        # Upserts alone take the driver's fast path: the same rows, the same times.
        assert {(x.key, x.body, x.last_updated) for x in store.load_objects("location")} == {
            (a, "1", now),
            (b, "2", now),
        }
        store.save_objects("location", [StoredObject(a, "3", now)], [b])
        assert [(x.key, x.body) for x in store.load_objects("location")] == [(a, "3")]
        assert store.load_objects("tariff") == []
        store.set_state("peer", "x")
        assert store.get_state("peer") == "x"
    finally:
        store.engine.dispose()
