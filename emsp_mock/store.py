"""Persistence of the mock eMSP (SQLModel over SQLite by default, PostgreSQL through a URL).

The store is synchronous; the service calls it through `asyncio.to_thread`. What the eMSP
accepted is written before it answers: a CDR and its invoice in one transaction, so a CDR is
never lost and never billed twice (the same CDR id again finds the stored one).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from emsp_mock.records import (
    CdrRecord,
    ClientInfoRecord,
    CommandRecord,
    EmspStateRecord,
    EmspTable,
    InvoiceRecord,
    ObjectRecord,
)
from ocpi import persistence
from ocpi.persistence import KeyValueTable, aware

ObjectKey = tuple[str, str, str]
"""(country_code, party_id, id) of a stored object of one kind."""

ObjectChange = tuple[str, Sequence["StoredObject"], Sequence[ObjectKey]]
"""(kind, objects to insert or replace, keys to delete): one `save_objects`."""


def _upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE body, last_updated, for this dialect."""
    table = ObjectRecord.__table__  # type: ignore[attr-defined]
    keys = ["kind", "country_code", "party_id", "id"]
    return persistence.upsert(table, dialect, keys, ["body", "last_updated"])


def _row(kind: str, item: StoredObject) -> dict[str, Any]:
    """An object's row for `_upsert`."""
    country_code, party_id, object_id = item.key
    return {
        "kind": kind,
        "country_code": country_code,
        "party_id": party_id,
        "id": object_id,
        "body": item.body,
        "last_updated": item.last_updated,
    }


def make_engine(url: str) -> Engine:
    """An engine with this service's tables created (SQLite or PostgreSQL)."""
    return persistence.make_engine(url, EmspTable.metadata)


@dataclass(frozen=True)
class StoredObject:
    key: ObjectKey
    body: str
    last_updated: datetime


@dataclass(frozen=True)
class StoredInvoice:
    id: int
    cdr_key: ObjectKey
    driver_id: str
    session_id: str
    status: str
    body: dict[str, Any]
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cdr": {
                "country_code": self.cdr_key[0],
                "party_id": self.cdr_key[1],
                "id": self.cdr_key[2],
            },
            "driver_id": self.driver_id or None,
            "session_id": self.session_id or None,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            **self.body,
            "status": self.status,
        }


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._upsert_rows: persistence.DriverStatement | None = None
        self.facts = KeyValueTable(engine, EmspStateRecord.__table__)  # type: ignore[attr-defined]

    # --- key/value ---------------------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        return self.facts.get(key)

    def set_state(self, key: str, value: str | None) -> None:
        self.facts.set({key: value})

    def set_states(self, values: Mapping[str, str | None]) -> None:
        """Write several facts in one transaction (None deletes one)."""
        self.facts.set(values)

    # --- objects -----------------------------------------------------------------------------
    def load_objects(self, kind: str) -> list[StoredObject]:
        with Session(self.engine) as db:
            rows = db.exec(select(ObjectRecord).where(ObjectRecord.kind == kind)).all()
            return [
                StoredObject(
                    (row.country_code, row.party_id, row.id), row.body, aware(row.last_updated)
                )
                for row in rows
            ]

    def save_objects(
        self, kind: str, items: Iterable[StoredObject], gone: Sequence[ObjectKey] = ()
    ) -> None:
        """Insert or replace `items` and delete `gone`, in one transaction."""
        self.save_batch([(kind, list(items), list(gone))])

    def save_batch(self, batch: Sequence[ObjectChange]) -> None:
        """Several `save_objects` in one transaction, in order (ObjectWriter's group commit).
        Upserts go as one INSERT … ON CONFLICT DO UPDATE per kind and run of changes
        (SQLite and PostgreSQL both have it), not a read and a write per object. A batch
        without deletions (every delivery but a re-sync's) is one upsert of its last versions,
        run on the driver (`persistence.write_rows`): SQLAlchemy's per-execution work cost
        more than SQLite's write of an EVSE PATCH's location."""
        if not any(gone for _kind, _items, gone in batch):
            latest = {
                (kind, *item.key): _row(kind, item)
                for kind, items, _gone in batch
                for item in items
            }  # the last version of an object in the batch wins
            if latest:
                persistence.write_rows(
                    self.engine, [(self._upsert_statement(), list(latest.values()))]
                )
            return
        with Session(self.engine) as db:
            connection = db.connection()
            for kind, items, gone in batch:
                if items:
                    rows = {
                        item.key: _row(kind, item) for item in items
                    }  # the last version of an object in the change wins
                    connection.execute(_upsert(connection.dialect.name), list(rows.values()))
                for cc, pid, id_ in gone:
                    connection.execute(
                        delete(ObjectRecord).where(
                            col(ObjectRecord.kind) == kind,
                            col(ObjectRecord.country_code) == cc,
                            col(ObjectRecord.party_id) == pid,
                            col(ObjectRecord.id) == id_,
                        )
                    )
            db.commit()

    def _upsert_statement(self) -> persistence.DriverStatement:
        if self._upsert_rows is None:
            dialect = self.engine.dialect
            self._upsert_rows = persistence.DriverStatement(_upsert(dialect.name), dialect)
        return self._upsert_rows

    # --- CDRs and invoices ---------------------------------------------------------------------
    def add_cdr(
        self,
        key: ObjectKey,
        body: str,
        received_at: datetime,
        driver_id: str,
        session_id: str,
        status: str,
        invoice: dict[str, Any],
    ) -> bool:
        """Store a CDR and its invoice together; False (nothing written) if the CDR is known."""
        with Session(self.engine) as db:
            if db.get(CdrRecord, key) is not None:
                return False
            db.add(
                CdrRecord(
                    country_code=key[0],
                    party_id=key[1],
                    id=key[2],
                    body=body,
                    received_at=received_at,
                )
            )
            db.add(
                InvoiceRecord(
                    cdr_country_code=key[0],
                    cdr_party_id=key[1],
                    cdr_id=key[2],
                    driver_id=driver_id,
                    session_id=session_id,
                    status=status,
                    body=json.dumps(invoice),
                    created_at=received_at,
                )
            )
            try:
                db.commit()
            except IntegrityError:
                # Another request stored the same CDR between our check and our commit.
                db.rollback()
                return False
            return True

    def load_cdrs(self) -> list[tuple[ObjectKey, str]]:
        with Session(self.engine) as db:
            rows = db.exec(select(CdrRecord).order_by(col(CdrRecord.received_at))).all()
            return [((r.country_code, r.party_id, r.id), r.body) for r in rows]

    def load_invoices(self) -> list[StoredInvoice]:
        with Session(self.engine) as db:
            rows = db.exec(select(InvoiceRecord).order_by(col(InvoiceRecord.id))).all()
            return [
                StoredInvoice(
                    id=r.id or 0,
                    cdr_key=(r.cdr_country_code, r.cdr_party_id, r.cdr_id),
                    driver_id=r.driver_id,
                    session_id=r.session_id,
                    status=r.status,
                    body=json.loads(r.body),
                    created_at=aware(r.created_at),
                )
                for r in rows
            ]

    # --- commands ------------------------------------------------------------------------------
    def save_command(
        self, id: str, command: str, driver_id: str, body: dict[str, Any], deadline: datetime | None
    ) -> None:
        with Session(self.engine) as db:
            record = db.get(CommandRecord, id) or CommandRecord(
                id=id, command=command, driver_id=driver_id, body="", state=""
            )
            record.body = json.dumps(body)
            record.state = str(body.get("state", ""))
            record.deadline = deadline
            db.add(record)
            db.commit()

    def load_commands(self) -> list[tuple[dict[str, Any], datetime | None]]:
        with Session(self.engine) as db:
            rows = db.exec(select(CommandRecord)).all()
            return [(json.loads(r.body), aware(r.deadline) if r.deadline else None) for r in rows]

    # --- HubClientInfo ---------------------------------------------------------------------------
    def save_client_info(self, key: tuple[str, str, str], body: str) -> None:
        with Session(self.engine) as db:
            record = db.get(ClientInfoRecord, key) or ClientInfoRecord(
                country_code=key[0], party_id=key[1], role=key[2], body=""
            )
            record.body = body
            db.add(record)
            db.commit()

    def load_client_infos(self) -> list[str]:
        with Session(self.engine) as db:
            return [r.body for r in db.exec(select(ClientInfoRecord)).all()]
