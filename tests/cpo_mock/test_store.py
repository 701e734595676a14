"""The CPO's store on SQLite and on PostgreSQL: everything written comes back after reopening.

PostgreSQL runs when ROAM_TEST_POSTGRES_URL names a server (CI sets it); the test creates and
drops a database of its own. Without the variable it skips, saying so.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from cpo_mock.model import EvseSim, MeterPeriod, Plug, SessionSim
from cpo_mock.records import CpoTable
from cpo_mock.sessions import cdr_location
from cpo_mock.store import CdrEntry, KnownParty, PendingResult, StatusRow, Store, make_engine
from cpo_mock.vehicle import Vehicle
from ocpi.pricing import UsageState
from ocpi.v221 import ConnectionStatus, Role, Status, TokenType
from tests.cpo_mock.conftest import T0, location, tariff
from tests.doubles import factories as f


def _session() -> SessionSim:
    where = location()
    evse = (where.evses or [])[0]
    return SessionSim(
        session=f.session("S000001", start=T0, last_updated=T0),
        emsp="NL/EMA",
        cdr_location=cdr_location(where, evse, evse.connectors[0]),
        time_zone="Europe/Berlin",
        tariff=tariff(),
        vehicle=Vehicle(),
        periods=[
            MeterPeriod(
                state=UsageState.CHARGING,
                start=T0,
                end=T0 + timedelta(minutes=5),
                energy=Decimal("12.5"),
                current=Decimal("375"),
                soc=0.36,
            )
        ],
        open_state=UsageState.PARKING,
        open_start=T0 + timedelta(minutes=5),
        open_meter=Decimal("12.5"),
        cdr_start=T0,
    )


def test_everything_written_comes_back_after_reopening(database_url: str) -> None:
    store = Store(make_engine(database_url))
    store.set_state("peer", '{"token": "c"}')
    store.add_locations([location("A"), location("B")], 0)
    moved = location("A").model_copy(update={"name": "renamed", "last_updated": T0})
    store.save_location(moved)
    store.add_tariffs([tariff()], 0)
    card = f.token(uid="CARD", type=TokenType.RFID)
    store.save_token(card)
    store.save_token(card.model_copy(update={"valid": False}))  # upsert, not a second row
    sim = EvseSim(
        location_id="A",
        evse_uid="DC1",
        status=Status.BLOCKED,
        plug=Plug(connector_id="1", vehicle=Vehicle(), soc=0.2, plugged_at=T0),
    )
    store.save_evses([sim])
    session = _session()
    store.save_session(0, session)
    cdr = f.cdr("C000001")
    store.save_cdr(0, CdrEntry(cdr=cdr, emsp="NL/EMA", attempts=2, next_attempt_at=T0))
    result = PendingResult(
        "r1", "START_SESSION", "http://hub/x", "NL/EMA", {"result": "ACCEPTED"}, T0
    )
    store.save_result(result)
    party = KnownParty(f.client_info(f.EMSP, role=Role.EMSP, status=ConnectionStatus.OFFLINE), T0)
    store.save_party(party)
    store.engine.dispose()

    reopened = Store(make_engine(database_url))
    assert reopened.get_state("peer") == '{"token": "c"}'
    assert [(x.id, x.name) for x in reopened.load_locations()] == [
        ("A", "renamed"),
        ("B", "Test park B"),
    ]
    assert reopened.load_tariffs() == [tariff()]
    [token] = reopened.load_tokens()
    assert token.valid is False
    assert reopened.load_evses() == [sim]
    [(seq, loaded)] = reopened.load_sessions()
    assert (seq, loaded) == (0, session)
    [entry] = reopened.load_cdrs()
    assert (entry.cdr, entry.attempts, entry.next_attempt_at) == (cdr, 2, T0)
    assert reopened.load_results() == [result]
    assert reopened.load_parties() == [party]
    reopened.engine.dispose()


def test_tables_are_apart_from_other_services(database_url: str) -> None:
    from sqlmodel import SQLModel

    assert not set(CpoTable.metadata.tables) & set(SQLModel.metadata.tables)
    assert all(name.startswith("cpo_") for name in CpoTable.metadata.tables)


def test_status_rows_are_written_together_the_later_winning(database_url: str) -> None:
    store = Store(make_engine(database_url))
    store.add_locations([location("A"), location("B")], 0)

    def change(location_id: str, uid: str, status: Status, minutes: int) -> StatusRow:
        at = T0 + timedelta(minutes=minutes)
        where = location(location_id)
        evses = [
            e.model_copy(update={"status": status, "last_updated": at}) if e.uid == uid else e
            for e in where.evses or []
        ]
        where = where.model_copy(update={"evses": evses, "last_updated": at})
        sim = EvseSim(location_id=location_id, evse_uid=uid, status=status)
        return StatusRow.of(sim, where, version=minutes)

    store.save_status_rows(
        [
            change("A", "DC1", Status.OUTOFORDER, 1),
            change("B", "DC1", Status.INOPERATIVE, 2),
            change("A", "DC1", Status.AVAILABLE, 3),  # the same EVSE again: this one stays
        ]
    )
    with pytest.raises(KeyError):
        store.save_status_rows(
            [change("B", "DC1", Status.AVAILABLE, 4), change("X", "1", Status.AVAILABLE, 4)]
        )
    store.engine.dispose()

    reopened = Store(make_engine(database_url))
    held = {
        (x.id, e.uid): (e.status, x.last_updated)
        for x in reopened.load_locations()
        for e in x.evses or []
    }
    assert held[("A", "DC1")] == (Status.AVAILABLE, T0 + timedelta(minutes=3))
    # The failed batch wrote nothing: B keeps its earlier change.
    assert held[("B", "DC1")] == (Status.INOPERATIVE, T0 + timedelta(minutes=2))
    assert {(s.location_id, s.evse_uid): s.status for s in reopened.load_evses()} == {
        ("A", "DC1"): Status.AVAILABLE,
        ("B", "DC1"): Status.INOPERATIVE,
    }
    # Each location marked as not pushed, at its last change's version, in the same transaction.
    assert sorted(reopened.load_unpushed()) == [("locations", "A", 3), ("locations", "B", 2)]
    reopened.engine.dispose()


def test_a_status_row_stores_last_updated_as_sqlalchemy_does(database_url: str) -> None:
    # The status write runs on the driver (persistence.DriverStatement): its values must be
    # what SQLAlchemy itself stores, or reading and filtering by them would go wrong.
    store = Store(make_engine(database_url))
    store.add_locations([location("A"), location("B")], 0)
    at = T0 + timedelta(minutes=5, microseconds=120000)
    store.save_location(location("A").model_copy(update={"last_updated": at}))
    moved = location("B").model_copy(update={"last_updated": at})
    store.save_status_rows(
        [StatusRow.of(EvseSim(location_id="B", evse_uid="DC1", status=Status.AVAILABLE), moved, 1)]
    )
    with store.engine.connect() as db:
        rows = db.exec_driver_sql("SELECT id, last_updated FROM cpo_location").all()
    stored: dict[str, object] = {row[0]: row[1] for row in rows}
    assert stored["A"] == stored["B"]
    store.engine.dispose()
