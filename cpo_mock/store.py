"""Persistence of the mock CPO (SQLModel over SQLite by default, PostgreSQL through a URL).

The store is synchronous. The service writes through its `Writer` (cpo_mock/writer.py: on
the event loop for SQLite, in a worker thread otherwise) and reads at start-up through
`asyncio.to_thread`. Everything the CPO accepted or produced is written before it is
announced: a restart loses no session, no CDR, no pending command result and no token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, delete, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cpo_mock.model import EvseSim, SessionSim
from cpo_mock.records import (
    CdrRecord,
    ClientInfoRecord,
    CommandRecord,
    CpoStateRecord,
    CpoTable,
    EvseRecord,
    LocationRecord,
    SessionRecord,
    TariffRecord,
    TokenRecord,
    UnpushedRecord,
)
from ocpi import persistence
from ocpi.persistence import KeyValueTable, aware
from ocpi.platform.clientinfo import KnownParty as KnownParty
from ocpi.v221.cdrs import CDR
from ocpi.v221.hubclientinfo import ClientInfo
from ocpi.v221.locations import Location
from ocpi.v221.tariffs import Tariff
from ocpi.v221.tokens import Token


def make_engine(url: str) -> Engine:
    """An engine with this service's tables created (SQLite or PostgreSQL)."""
    return persistence.make_engine(url, CpoTable.metadata)


class CdrDelivery(StrEnum):
    """Where a CDR is on its way to the eMSP."""

    PENDING = "pending"
    """Not delivered yet: retried with backoff."""
    DELIVERED = "delivered"
    REJECTED = "rejected"
    """The eMSP read it and refused it (OCPI 2xxx): never sent again."""


class ResultState(StrEnum):
    """Where a CommandResult is on its way to the eMSP's response_url."""

    DUE = "due"
    SENT = "sent"
    FAILED = "failed"
    """The eMSP did not take it (not retried: the command is long over)."""


@dataclass
class CdrEntry:
    """A CDR with its delivery state."""

    cdr: CDR
    emsp: str
    delivery: CdrDelivery = CdrDelivery.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""
    location_url: str = ""


@dataclass
class PendingResult:
    """A CommandResult to POST to the eMSP's response_url at `due_at`."""

    id: str
    command: str
    response_url: str
    requester: str
    result: dict[str, Any]
    due_at: datetime
    state: ResultState = ResultState.DUE
    note: str = ""


@dataclass(frozen=True)
class StatusRow:
    """An EVSE status change as written: the EVSE's simulation and its whole Location,
    serialised when the change was made (the objects may change before it is written)."""

    location_id: str
    evse_uid: str
    sim: str
    body: str
    last_updated: datetime
    version: int
    """The push counter of the broadcast announcing it (`UnpushedRecord`)."""

    @classmethod
    def of(cls, sim: EvseSim, location: Location, version: int) -> StatusRow:
        return cls(
            location_id=location.id,
            evse_uid=sim.evse_uid,
            sim=sim.model_dump_json(exclude_none=True),
            body=location.model_dump_json(exclude_none=True),
            last_updated=location.last_updated,
            version=version,
        )


Unpushed = tuple[str, str, int]
"""(module, object id, version) of an `UnpushedRecord`."""


_LOCATIONS = LocationRecord.__table__  # type: ignore[attr-defined]
_UPDATE_LOCATION = (
    update(_LOCATIONS)
    .where(_LOCATIONS.c.id == bindparam("_id"))
    .values(body=bindparam("_body"), last_updated=bindparam("_last_updated"))
)
"""A Location's body and last_updated by id: built once (building it per write cost more
than running it)."""
_UNPUSHED = UnpushedRecord.__table__  # type: ignore[attr-defined]
_CLEAR_PUSHED = (
    delete(_UNPUSHED)
    .where(_UNPUSHED.c.module == bindparam("_module"))
    .where(_UNPUSHED.c.object_id == bindparam("_id"))
    .where(_UNPUSHED.c.version <= bindparam("_version"))
)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._status: tuple[persistence.DriverStatement, ...] | None = None
        self.facts = KeyValueTable(engine, CpoStateRecord.__table__)  # type: ignore[attr-defined]

    # --- key/value -------------------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        return self.facts.get(key)

    def set_state(self, key: str, value: str | None) -> None:
        self.facts.set({key: value})

    # --- locations and tariffs ---------------------------------------------------------------
    def load_locations(self) -> list[Location]:
        with Session(self.engine) as db:
            rows = db.exec(select(LocationRecord).order_by(LocationRecord.seq)).all()  # type: ignore[arg-type]
            return [Location.model_validate_json(row.body) for row in rows]

    def add_locations(self, locations: Sequence[Location], first_seq: int) -> None:
        with Session(self.engine) as db:
            for seq, location in enumerate(locations, start=first_seq):
                db.add(
                    LocationRecord(
                        id=location.id,
                        seq=seq,
                        body=location.model_dump_json(exclude_none=True),
                        last_updated=location.last_updated,
                    )
                )
            db.commit()

    def save_location(self, location: Location) -> None:
        with Session(self.engine) as db:
            record = db.get(LocationRecord, location.id)
            if record is None:
                raise KeyError(location.id)
            record.body = location.model_dump_json(exclude_none=True)
            record.last_updated = location.last_updated
            db.add(record)
            db.commit()

    def load_tariffs(self) -> list[Tariff]:
        with Session(self.engine) as db:
            rows = db.exec(select(TariffRecord).order_by(TariffRecord.seq)).all()  # type: ignore[arg-type]
            return [Tariff.model_validate_json(row.body) for row in rows]

    def add_tariffs(self, tariffs: Sequence[Tariff], first_seq: int) -> None:
        with Session(self.engine) as db:
            for seq, tariff in enumerate(tariffs, start=first_seq):
                db.add(
                    TariffRecord(
                        id=tariff.id,
                        seq=seq,
                        body=tariff.model_dump_json(exclude_none=True),
                        last_updated=tariff.last_updated,
                    )
                )
            db.commit()

    # --- tokens --------------------------------------------------------------------------------
    def load_tokens(self) -> list[Token]:
        with Session(self.engine) as db:
            rows = db.exec(select(TokenRecord).order_by(TokenRecord.id)).all()  # type: ignore[arg-type]
            return [Token.model_validate_json(row.body) for row in rows]

    def save_token(self, token: Token) -> None:
        with Session(self.engine) as db:
            record = db.exec(
                select(TokenRecord).where(
                    TokenRecord.country_code == token.country_code.upper(),
                    TokenRecord.party_id == token.party_id.upper(),
                    TokenRecord.uid == token.uid,
                    TokenRecord.type == token.type.value,
                )
            ).first() or TokenRecord(
                country_code=token.country_code.upper(),
                party_id=token.party_id.upper(),
                uid=token.uid,
                type=token.type.value,
                body="",
                last_updated=token.last_updated,
            )
            record.body = token.model_dump_json(exclude_none=True)
            record.last_updated = token.last_updated
            db.add(record)
            db.commit()

    # --- simulation state ------------------------------------------------------------------------
    def load_evses(self) -> list[EvseSim]:
        with Session(self.engine) as db:
            return [
                EvseSim.model_validate_json(row.sim) for row in db.exec(select(EvseRecord)).all()
            ]

    def save_status(self, sim: EvseSim, location: Location, version: int) -> None:
        """A status change in one transaction: the EVSE's simulation (upserted), its Location
        (the EVSE's status and both last_updated) and its mark as not yet pushed, without
        reading any first."""
        self.save_status_rows([StatusRow.of(sim, location, version)])

    def save_status_rows(self, rows: Sequence[StatusRow]) -> None:
        """Status changes in one transaction, the later of two about one EVSE or one
        Location winning; KeyError (nothing written) if a Location is not stored. Run on the
        driver (`persistence.DriverStatement`): the hottest write of a status storm."""
        sims = {(r.location_id, r.evse_uid): r.sim for r in rows}
        bodies = {r.location_id: r for r in rows}
        upsert, update_location, mark = self._status_statements()
        evse_rows = [{"location_id": k[0], "evse_uid": k[1], "sim": v} for k, v in sims.items()]
        location_rows = [
            {"_id": r.location_id, "_body": r.body, "_last_updated": r.last_updated}
            for r in bodies.values()
        ]
        marks = [
            {"module": "locations", "object_id": r.location_id, "version": r.version}
            for r in bodies.values()
        ]

        def all_stored(counts: list[int]) -> None:
            if counts[1] != len(bodies):
                raise KeyError(f"not all of the locations {sorted(bodies)} are stored")

        persistence.write_rows(
            self.engine,
            [(upsert, evse_rows), (update_location, location_rows), (mark, marks)],
            all_stored,
        )

    def _status_statements(self) -> tuple[persistence.DriverStatement, ...]:
        if self._status is None:
            dialect = self.engine.dialect
            evses = EvseRecord.__table__  # type: ignore[attr-defined]
            upsert = persistence.upsert(evses, dialect.name, ["location_id", "evse_uid"], ["sim"])
            mark = persistence.upsert(_UNPUSHED, dialect.name, ["module", "object_id"], ["version"])
            self._status = (
                persistence.DriverStatement(upsert, dialect),
                persistence.DriverStatement(_UPDATE_LOCATION, dialect),
                persistence.DriverStatement(mark, dialect),
            )
        return self._status

    # --- what the hub has not acknowledged yet ---------------------------------------------------
    def load_unpushed(self) -> list[Unpushed]:
        with Session(self.engine) as db:
            rows = db.exec(select(UnpushedRecord)).all()
            return [(r.module, r.object_id, r.version) for r in rows]

    def mark_unpushed(self, marks: Sequence[Unpushed]) -> None:
        """Objects about to be broadcast (the initial publish), in one transaction."""
        statement = persistence.upsert(
            _UNPUSHED, self.engine.dialect.name, ["module", "object_id"], ["version"]
        )
        rows = [{"module": m, "object_id": i, "version": v} for m, i, v in marks]
        with self.engine.begin() as connection:
            connection.execute(statement, rows)

    def clear_pushed(self, pushed: Sequence[Unpushed]) -> None:
        """The hub acknowledged these versions: their marks go, unless a later change of the
        same object marked it again (a larger version)."""
        rows = [{"_module": m, "_id": i, "_version": v} for m, i, v in pushed]
        with self.engine.begin() as connection:
            connection.execute(_CLEAR_PUSHED, rows)

    def save_evses(self, evses: Iterable[EvseSim]) -> None:
        with Session(self.engine) as db:
            for sim in evses:
                record = db.get(EvseRecord, (sim.location_id, sim.evse_uid)) or EvseRecord(
                    location_id=sim.location_id, evse_uid=sim.evse_uid, sim=""
                )
                record.sim = sim.model_dump_json(exclude_none=True)
                db.add(record)
            db.commit()

    def load_sessions(self) -> list[tuple[int, SessionSim]]:
        with Session(self.engine) as db:
            rows = db.exec(select(SessionRecord).order_by(SessionRecord.seq)).all()  # type: ignore[arg-type]
            return [(row.seq, SessionSim.model_validate_json(row.sim)) for row in rows]

    def save_session(self, seq: int, sim: SessionSim) -> None:
        session = sim.session
        with Session(self.engine) as db:
            record = db.get(SessionRecord, session.id) or SessionRecord(
                id=session.id,
                seq=seq,
                emsp=sim.emsp,
                status="",
                body="",
                sim="",
                last_updated=session.last_updated,
            )
            record.status = session.status.value
            record.body = session.model_dump_json(exclude_none=True)
            record.sim = sim.model_dump_json(exclude_none=True)
            record.last_updated = session.last_updated
            db.add(record)
            db.commit()

    # --- CDRs ------------------------------------------------------------------------------------
    def load_cdrs(self) -> list[CdrEntry]:
        with Session(self.engine) as db:
            rows = db.exec(select(CdrRecord).order_by(CdrRecord.seq)).all()  # type: ignore[arg-type]
            return [
                CdrEntry(
                    cdr=CDR.model_validate_json(row.body),
                    emsp=row.emsp,
                    delivery=CdrDelivery(row.delivery),
                    attempts=row.attempts,
                    next_attempt_at=aware(row.next_attempt_at) if row.next_attempt_at else None,
                    last_error=row.last_error,
                    location_url=row.location_url,
                )
                for row in rows
            ]

    def save_cdr(self, seq: int, entry: CdrEntry) -> None:
        with Session(self.engine) as db:
            record = db.get(CdrRecord, entry.cdr.id) or CdrRecord(
                id=entry.cdr.id,
                seq=seq,
                emsp=entry.emsp,
                body=entry.cdr.model_dump_json(exclude_none=True),
                last_updated=entry.cdr.last_updated,
                delivery=entry.delivery.value,
            )
            record.delivery = entry.delivery.value
            record.attempts = entry.attempts
            record.next_attempt_at = entry.next_attempt_at
            record.last_error = entry.last_error
            record.location_url = entry.location_url
            db.add(record)
            db.commit()

    # --- command results -------------------------------------------------------------------------
    def load_results(self) -> list[PendingResult]:
        with Session(self.engine) as db:
            rows = db.exec(
                select(CommandRecord).where(CommandRecord.state == ResultState.DUE.value)
            ).all()
            return [
                PendingResult(
                    id=row.id,
                    command=row.command,
                    response_url=row.response_url,
                    requester=row.requester,
                    result=json.loads(row.result),
                    due_at=aware(row.due_at),
                    state=ResultState(row.state),
                    note=row.note,
                )
                for row in rows
            ]

    def save_result(self, item: PendingResult) -> None:
        with Session(self.engine) as db:
            record = db.get(CommandRecord, item.id) or CommandRecord(
                id=item.id,
                command=item.command,
                response_url=item.response_url,
                requester=item.requester,
                result=json.dumps(item.result),
                due_at=item.due_at,
                state=item.state.value,
            )
            record.result = json.dumps(item.result)
            record.due_at = item.due_at
            record.state = item.state.value
            record.note = item.note
            db.add(record)
            db.commit()

    # --- HubClientInfo ---------------------------------------------------------------------------
    def load_parties(self) -> list[KnownParty]:
        with Session(self.engine) as db:
            return [
                KnownParty(
                    ClientInfo.model_validate_json(row.body),
                    aware(row.offline_since) if row.offline_since else None,
                )
                for row in db.exec(select(ClientInfoRecord)).all()
            ]

    def save_party(self, party: KnownParty) -> None:
        info = party.info
        key = (info.country_code.upper(), info.party_id.upper(), info.role.value)
        with Session(self.engine) as db:
            record = db.get(ClientInfoRecord, key) or ClientInfoRecord(
                country_code=key[0], party_id=key[1], role=key[2], body=""
            )
            record.body = info.model_dump_json(exclude_none=True)
            record.offline_since = party.offline_since
            db.add(record)
            db.commit()
