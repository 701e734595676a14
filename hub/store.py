"""Persistence of the hub's state (SQLModel over SQLite or PostgreSQL).

The store is synchronous; the hub calls it through `asyncio.to_thread`. Registrations,
invitations and party states are written at once (they are rare and must not be lost);
the message log, object copies and callback mappings go through `BatchWriter`, which keeps
the database off the forwarding path and writes in batches every few tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert
from sqlalchemy import delete as sa_delete
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel import Session, col, delete, select, update

from hub.copies import Copy
from hub.directory import Party, Platform
from hub.records import (
    CallbackRecord,
    EndpointRecord,
    HubStateRecord,
    InvitationRecord,
    MessageRecord,
    MessageSubjectRecord,
    ObjectRecord,
    OutboxRecord,
    PartyRecord,
    PlatformRecord,
)
from ocpi.aio import wait_set
from ocpi.headers import PartyRef
from ocpi.persistence import DriverStatement, aware, upsert
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole, ModuleID

log = logging.getLogger("hub.store")


def utcnow() -> datetime:
    return datetime.now(UTC)


LOG_CHUNKS = (512, 64, 8)
"""Rows per multi-row INSERT of the message log: a flush is cut into chunks of these sizes
only (the rest, under 8 rows, one statement per row), so a connection prepares at most four
statements and keeps them. With chunks of any size each flush prepared a new statement and
the driver's cache kept up to 128 of them per connection, each of up to 15,000 variables:
SQLite held 75 MB (110 MB at its highest) at the end of the sync at ten alliances, most of
the hub's memory beyond its data (issue 13). 512 x 15 columns stays below SQLite's 32,766
variables."""

LogLine = dict[str, Any]
"""One message-log row as column -> value (see MessageRecord); kept as a plain dict because
building an ORM instance costs ~80 µs, twice per routed message."""


PUBLIC_URL_STATE = "public_url"
"""hub_state key: the public URL of the hub that last started serving from this database
(written by `Hub.start`, read by `roam hub invite` so that it hands out a URL that answers)."""


class InvitationUsed(Exception):
    """The token A was consumed by another registration (a token A registers one platform),
    or the token is no invitation at all."""


@dataclass(frozen=True)
class Callback:
    """A hub URL standing in for a member's URL (see CallbackRecord)."""

    uid: str
    kind: str
    original_url: str
    target_platform_id: int
    target_party: PartyRef
    caller_party: PartyRef
    created_at: datetime


@dataclass(frozen=True)
class OutboxRow:
    """An accepted broadcast to deliver to one receiver (see OutboxRecord); `id` is None
    until stored."""

    platform_id: int
    party: PartyRef
    module: str
    method: str
    path: str
    object_key: str
    body: str | None
    correlation_id: str
    request_id: str
    created_at: datetime
    id: int | None = None


class StorageUnavailable(Exception):
    """The database did not take a batch that callers wait for (`BatchWriter.commit`)."""


@dataclass(frozen=True)
class MessageFilter:
    correlation_id: str | None = None
    party: PartyRef | None = None
    module: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_id: int | None = None
    """Only messages logged after the one with this id (to follow the log as it grows)."""
    session: str | None = None
    """Only the messages of one charging session: a session id or an authorization_reference
    (see `Store.session_request_ids`)."""
    limit: int = 1000


NOTICE_CHANNEL = "roam_hub"
"""PostgreSQL channel on which hub instances sharing a database tell each other what changed
(hub/cluster.py listens): "{instance} {kind} {data}"."""

NOTICE_SEPARATOR = chr(31)
"""Between the items of a notice's data."""

_NOTICE_MAX = 7000  # bytes of data per NOTIFY (PostgreSQL's limit is 8000 per payload)


_OUTBOX = OutboxRecord.__table__  # type: ignore[attr-defined]
_OUTBOX_IDS = (
    sa_select(_OUTBOX.c.id)
    .where(_OUTBOX.c.platform_id == bindparam("platform_id"))
    .order_by(_OUTBOX.c.id)
    .limit(bindparam("n"))
)
_OUTBOX_FIRST = (
    sa_select(_OUTBOX)
    .where(_OUTBOX.c.platform_id == bindparam("platform_id"))
    .order_by(_OUTBOX.c.id)
    .limit(bindparam("n"))
)
_OUTBOX_BETWEEN = (
    sa_select(_OUTBOX)
    .where(
        _OUTBOX.c.platform_id == bindparam("platform_id"),
        _OUTBOX.c.id.between(bindparam("low"), bindparam("high")),
    )
    .order_by(_OUTBOX.c.id)
)


@dataclass(frozen=True)
class _OutboxSql:
    """The lanes' reads of the outbox (`Store.outbox_pending`), compiled once for the store's
    dialect and run on the driver's cursor; rows come back as tuples in the table's column
    order."""

    ids: DriverStatement
    first: DriverStatement
    between: DriverStatement
    created_at: Callable[[Any], Any] | None
    """The dialect's conversion of a stored `created_at` (SQLite keeps text)."""

    @classmethod
    def build(cls, dialect: Any) -> _OutboxSql:
        assert [c.name for c in _OUTBOX.columns] == [
            "id", "platform_id", "party", "module", "method", "path", "object_key", "body",
            "correlation_id", "request_id", "created_at",
        ]  # fmt: skip
        created_at = _OUTBOX.c.created_at.type.dialect_impl(dialect)
        return cls(
            ids=DriverStatement(_OUTBOX_IDS, dialect),
            first=DriverStatement(_OUTBOX_FIRST, dialect),
            between=DriverStatement(_OUTBOX_BETWEEN, dialect),
            created_at=created_at.result_processor(dialect, None),
        )


class Store:
    def __init__(self, engine: Engine, instance: str = "") -> None:
        self.engine = engine
        self.instance = instance
        self.shared = engine.dialect.name == "postgresql"
        """Several hub instances may use this database: changes are announced (NOTIFY)."""
        self._batch = _BatchSql.build(engine.dialect)
        self._outbox = _OutboxSql.build(engine.dialect)

    def _notice(self, db: Session | Connection, kind: str, items: Sequence[str] = ("",)) -> None:
        """Tell the other instances, when this transaction commits, that `items` changed."""
        if not self.shared:
            return
        chunk: list[str] = []
        size = 0
        for item in items:
            if chunk and size + len(item) + 1 > _NOTICE_MAX:
                self._send_notice(db, kind, chunk)
                chunk, size = [], 0
            chunk.append(item)
            size += len(item) + 1
        if chunk:
            self._send_notice(db, kind, chunk)

    def send_barrier(self, token: str) -> None:
        """A notice of this instance's own that comes back after every notice committed
        before it (PostgreSQL delivers notices in commit order): see Cluster.barrier."""
        with Session(self.engine) as db:
            self._send_notice(db, "barrier", [token])
            db.commit()

    def _send_notice(self, db: Session | Connection, kind: str, items: Sequence[str]) -> None:
        payload = f"{self.instance} {kind} {NOTICE_SEPARATOR.join(items)}"
        connection = db if isinstance(db, Connection) else db.connection()
        connection.exec_driver_sql("SELECT pg_notify(%s, %s)", (NOTICE_CHANNEL, payload))

    # --- hub state -----------------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        with Session(self.engine) as db:
            record = db.get(HubStateRecord, key)
            return record.value if record else None

    def set_state(self, key: str, value: str) -> None:
        with Session(self.engine) as db:
            record = db.get(HubStateRecord, key) or HubStateRecord(key=key, value=value)
            record.value = value
            db.add(record)
            db.commit()

    # --- invitations ---------------------------------------------------------------------
    def add_invitation(
        self, token_hash: str, allowed: Sequence[tuple[Role, PartyRef]], note: str = ""
    ) -> InvitationRecord:
        record = InvitationRecord(
            token_hash=token_hash,
            allowed_parties=json.dumps(
                [
                    {"role": role.value, "country_code": ref.country_code, "party_id": ref.party_id}
                    for role, ref in allowed
                ]
            ),
            note=note,
            created_at=utcnow(),
        )
        with Session(self.engine) as db:
            db.add(record)
            for role, ref in allowed:
                if _party(db, role, ref) is None:
                    db.add(
                        PartyRecord(
                            role=role.value,
                            country_code=ref.country_code,
                            party_id=ref.party_id,
                            status=ConnectionStatus.PLANNED.value,
                            last_updated=utcnow(),
                        )
                    )
            self._notice(db, "directory")
            db.commit()
            db.refresh(record)
            return record

    def open_invitation(self, token_hash: str) -> InvitationRecord | None:
        with Session(self.engine) as db:
            record = db.exec(
                select(InvitationRecord).where(InvitationRecord.token_hash == token_hash)
            ).first()
            return record if record is not None and record.used_at is None else None

    @staticmethod
    def allowed_parties(invitation: InvitationRecord) -> list[tuple[Role, PartyRef]]:
        return [
            (Role(item["role"]), PartyRef(item["country_code"], item["party_id"]))
            for item in json.loads(invitation.allowed_parties)
        ]

    # --- platforms -----------------------------------------------------------------------
    def register_platform(
        self, platform: Platform, *, invitation_hash: str | None = None
    ) -> Platform:
        """Insert or replace a platform with its endpoints and parties; consume the invitation.

        All in one transaction: a handshake either lands whole or not at all. The invitation
        is consumed first, by a conditional UPDATE that only one transaction can win: on
        PostgreSQL a second one waits for the first's row lock and then finds `used_at` set;
        on SQLite the database write lock serialises them the same way (the UPDATE is the
        transaction's first statement, so the waiter retries on a fresh snapshot). The loser
        raises `InvitationUsed` and writes nothing.
        """
        now = utcnow()
        with Session(self.engine) as db:
            if invitation_hash is not None:
                consumed = db.exec(
                    update(InvitationRecord)
                    .where(
                        col(InvitationRecord.token_hash) == invitation_hash,
                        col(InvitationRecord.used_at).is_(None),
                    )
                    .values(used_at=now)
                )
                if consumed.rowcount != 1:
                    exists = db.exec(
                        select(InvitationRecord.id).where(
                            InvitationRecord.token_hash == invitation_hash
                        )
                    ).first()
                    db.rollback()
                    raise InvitationUsed(
                        "this token A has already been used for a registration "
                        "(a token A registers one platform)"
                        if exists is not None
                        else "this token is not a token A: it cannot register a platform"
                    )
            record = db.get(PlatformRecord, platform.id) if platform.id > 0 else None
            if record is None:
                record = PlatformRecord(
                    name=platform.name,
                    versions_url=platform.versions_url,
                    version=platform.version,
                    token_to_member=platform.token_to_member,
                    token_from_member_hash=platform.token_hash,
                    created_at=now,
                    updated_at=now,
                )
            record.name = platform.name
            record.versions_url = platform.versions_url
            record.version = platform.version
            record.token_to_member = platform.token_to_member
            record.token_from_member_hash = platform.token_hash
            record.registered = platform.registered
            record.updated_at = now
            db.add(record)
            db.flush()
            assert record.id is not None
            platform.id = record.id
            db.exec(delete(EndpointRecord).where(col(EndpointRecord.platform_id) == record.id))
            for (identifier, role), url in platform.endpoints.items():
                db.add(
                    EndpointRecord(platform_id=record.id, identifier=identifier, role=role, url=url)
                )
            for party in platform.parties:
                party.platform_id = record.id
                _save_party(db, party)
            if invitation_hash is not None:
                db.exec(
                    update(InvitationRecord)
                    .where(col(InvitationRecord.token_hash) == invitation_hash)
                    .values(platform_id=record.id)
                )
            self._notice(db, "directory")
            db.commit()
        return platform

    def save_parties(self, parties: Sequence[Party]) -> None:
        with Session(self.engine) as db:
            for party in parties:
                _save_party(db, party)
            self._notice(db, "directory")
            db.commit()

    def load_platforms(self) -> list[Platform]:
        with Session(self.engine) as db:
            platforms = {
                record.id: Platform(
                    id=record.id,
                    name=record.name,
                    versions_url=record.versions_url,
                    token_to_member=record.token_to_member,
                    token_hash=record.token_from_member_hash,
                    endpoints={},
                    parties=[],
                    registered=record.registered,
                    version=record.version,
                )
                for record in db.exec(select(PlatformRecord)).all()
                if record.id is not None
            }
            for endpoint in db.exec(select(EndpointRecord)).all():
                if endpoint.platform_id in platforms:
                    key = (endpoint.identifier, InterfaceRole(endpoint.role))
                    platforms[endpoint.platform_id].endpoints[key] = endpoint.url
            for record in db.exec(select(PartyRecord)).all():
                if record.platform_id in platforms:
                    platforms[record.platform_id].parties.append(_to_party(record))
            return list(platforms.values())

    def load_unhosted_parties(self) -> list[Party]:
        """PLANNED parties: invited, never connected."""
        with Session(self.engine) as db:
            records = db.exec(select(PartyRecord).where(col(PartyRecord.platform_id).is_(None)))
            return [_to_party(record) for record in records.all()]

    # --- batches (copies, callbacks, message log) ----------------------------------------
    def write_batch(
        self,
        messages: Sequence[LogLine],
        copies: Sequence[Copy],
        callbacks: Sequence[Callback],
        outbox: Sequence[OutboxRow] = (),
        done: Sequence[int] = (),
    ) -> None:
        """Everything in one transaction. The rows go straight to the driver's cursor on
        statements compiled once (`_BatchSql`), not through an ORM Session: at 200 status
        changes a second this method took 1.46 ms of thread CPU per change (350 small
        transactions a second, 40 % of the hub's CPU), much of it SQLAlchemy's work per
        statement and per flush (the ORM's bulk DELETE of the delivered rows the costliest).
        The hub's CPU per change fell by about 5 % (A/B, session 27). A driver error is
        raised as SQLAlchemy would raise it (`OperationalError` for a database that went
        away, and so on), so the writer tells a database that is away from an item that
        cannot be stored as before."""
        sql = self._batch
        with self.engine.begin() as connection, _driver_cursor(connection) as cursor:
            if outbox:
                _run_many(cursor, sql.outbox, [_outbox_values(row) for row in outbox])
                self._notice(connection, "outbox", sorted({str(row.platform_id) for row in outbox}))
            if done:
                _run_many(cursor, sql.done, [{"row_id": row_id} for row_id in done])
            if copies:
                _run_many(cursor, sql.copies, _copy_values(copies))
            if callbacks:
                _run_many(cursor, sql.callbacks, [_callback_values(c) for c in callbacks])
            # One multi-row INSERT per chunk: sqlite3's executemany re-takes the GIL per
            # row, which a busy event loop makes slow (measured by `roam hub bench`:
            # flushes of 6,000 rows took 4 s of wall time, and the log fell behind at
            # 2,000 req/s).
            if messages:
                _insert_log_lines(cursor, connection.dialect, messages)
                _insert_subjects(connection, messages)
            if copies:
                self._notice(connection, "copies", [_copy_key(item) for item in copies])

    # --- the outbox ----------------------------------------------------------------------
    def outbox_pending(
        self, platform_id: int, limit: int, skip: Collection[int] = ()
    ) -> list[OutboxRow]:
        """The oldest `limit` rows still to deliver to a platform, in acceptance order, but
        for the rows `skip` names (those the lane holds already).

        The lanes call this tens of times a second each, so it is two small statements
        compiled once and run on the driver's cursor (`_OutboxSql`) rather than an ORM query
        with `NOT IN (skip)`, which cost the hub 15 % of its CPU in a status storm (its SQL
        text changes with every size of `skip`, and each new text is compiled and planned
        again). First the ids, from the
        index alone: every row of `skip` is still in the outbox (a lane forgets a row only
        once its deletion is committed), so the first `limit + len(skip)` ids hold the
        `limit` wanted ones. Then the rows between the first and the last of those."""
        sql = self._outbox
        found: list[Any]
        with self.engine.connect() as connection, _driver_cursor(connection) as cursor:
            if skip:
                ids = {"platform_id": platform_id, "n": limit + len(skip)}
                cursor.execute(sql.ids.sql, sql.ids.parameters(ids))
                listed = cursor.fetchall()  # the held ones among them
                wanted = [row_id for (row_id,) in listed if row_id not in skip][:limit]
                if not wanted:
                    return []
                between = {"platform_id": platform_id, "low": wanted[0], "high": wanted[-1]}
                cursor.execute(sql.between.sql, sql.between.parameters(between))
                chosen = set(wanted)
                found = [record for record in cursor.fetchall() if record[0] in chosen]
            else:
                first = {"platform_id": platform_id, "n": limit}
                cursor.execute(sql.first.sql, sql.first.parameters(first))
                found = list(cursor.fetchall())
        parties: dict[str, PartyRef] = {}
        rows = []
        created_at = sql.created_at
        for record in found:
            (row_id, platform, party_text, module, method, path, key, body, cid, rid, at) = record
            party = parties.get(party_text)
            if party is None:
                party = parties[party_text] = PartyRef.parse(party_text)
            rows.append(
                OutboxRow(
                    id=row_id,
                    platform_id=platform,
                    party=party,
                    module=module,
                    method=method,
                    path=path,
                    object_key=key,
                    body=body,
                    correlation_id=cid,
                    request_id=rid,
                    created_at=aware(at if created_at is None else created_at(at)),
                )
            )
        return rows

    def outbox_sizes(self) -> dict[int, int]:
        """Rows still to deliver, per receiver platform."""
        with Session(self.engine) as db:
            rows = db.exec(
                select(OutboxRecord.platform_id, func.count()).group_by(
                    col(OutboxRecord.platform_id)
                )
            ).all()
            return {int(platform_id): int(count) for platform_id, count in rows}

    def drop_outbox(self, platform_id: int) -> int:
        """Forget what was still to deliver to a platform (it unregistered); how many."""
        with Session(self.engine) as db:
            dropped = db.exec(
                delete(OutboxRecord).where(col(OutboxRecord.platform_id) == platform_id)
            )
            db.commit()
            return int(dropped.rowcount or 0)

    def load_copies(self) -> list[Copy]:
        with Session(self.engine) as db:
            return [_to_copy(record) for record in db.exec(select(ObjectRecord)).all()]

    def load_copy(self, module: ModuleID, owner: PartyRef, object_id: str) -> Copy | None:
        with Session(self.engine) as db:
            record = db.exec(
                select(ObjectRecord).where(
                    ObjectRecord.module == module.value,
                    ObjectRecord.country_code == owner.country_code,
                    ObjectRecord.party_id == owner.party_id,
                    ObjectRecord.object_id == object_id,
                )
            ).first()
            return _to_copy(record) if record is not None else None

    def load_copies_by_key(self, keys: Sequence[str]) -> list[Copy]:
        """The stored copies with these keys (`_copy_key`), for an instance told they changed."""
        wanted = {tuple(key.split(_KEY_SEPARATOR, 3)) for key in keys}
        if not wanted:
            return []
        with Session(self.engine) as db:
            records = db.exec(
                select(ObjectRecord).where(
                    col(ObjectRecord.object_id).in_({key[3] for key in wanted if len(key) == 4})
                )
            ).all()
            return [
                _to_copy(record)
                for record in records
                if (record.module, record.country_code, record.party_id, record.object_id) in wanted
            ]

    def load_callback(self, uid: str) -> Callback | None:
        with Session(self.engine) as db:
            record = db.get(CallbackRecord, uid)
            return _to_callback(record) if record is not None else None

    def has_registered_token(self, token_hash: str) -> bool:
        """Is this the token of a registered platform (one another instance may have just
        registered or rotated)?"""
        with Session(self.engine) as db:
            found = db.exec(
                select(PlatformRecord.id).where(
                    PlatformRecord.token_from_member_hash == token_hash,
                    col(PlatformRecord.registered).is_(True),
                )
            ).first()
            return found is not None

    def load_callbacks(self) -> list[Callback]:
        with Session(self.engine) as db:
            return [_to_callback(record) for record in db.exec(select(CallbackRecord)).all()]

    def messages(self, where: MessageFilter) -> list[MessageRecord]:
        query = select(MessageRecord)
        if where.session:
            ids = self.session_request_ids(where.session)
            query = query.where(col(MessageRecord.request_id).in_(sorted(ids)))
        if where.correlation_id:
            query = query.where(MessageRecord.correlation_id == where.correlation_id)
        if where.party is not None:
            label = str(where.party)
            query = query.where(
                (col(MessageRecord.from_party) == label) | (col(MessageRecord.to_party) == label)
            )
        if where.module:
            query = query.where(MessageRecord.module == where.module)
        if where.since is not None:
            query = query.where(col(MessageRecord.timestamp) >= where.since)
        if where.until is not None:
            query = query.where(col(MessageRecord.timestamp) < where.until)
        if where.after_id is not None:
            # Following the log: in id order, so that the last id of a page is where the
            # next one starts (lines are stamped when their answer is back: a slow hop's line
            # can carry an earlier time than lines written before it).
            query = query.where(col(MessageRecord.id) > where.after_id)
            query = query.order_by(col(MessageRecord.id))
        else:
            query = query.order_by(col(MessageRecord.timestamp), col(MessageRecord.id))
        query = query.limit(where.limit)
        with Session(self.engine) as db:
            rows = list(db.exec(query).all())
        for row in rows:
            row.timestamp = aware(row.timestamp)
        return rows

    def session_request_ids(self, key: str) -> set[str]:
        """The `request_id`s of every log line of one charging session, from a session id or
        an authorization_reference: the lines naming either, then those naming any session
        id or reference those lines name (a START_SESSION names only its reference, a STOP_SESSION
        only the session id), then the CommandResults of the commands among them."""
        subject = MessageSubjectRecord
        with Session(self.engine) as db:
            found = list(
                db.exec(
                    select(subject).where(
                        (col(subject.session_id) == key)
                        | (col(subject.authorization_reference) == key)
                    )
                ).all()
            )
            sessions = {row.session_id for row in found if row.session_id} | {key}
            references = {
                row.authorization_reference for row in found if row.authorization_reference
            }
            found += db.exec(
                select(subject).where(
                    col(subject.session_id).in_(sorted(sessions))
                    | col(subject.authorization_reference).in_(sorted(references | {key}))
                )
            ).all()
            commands = {row.command for row in found if row.command}
            if commands:
                found += db.exec(
                    select(subject).where(col(subject.command).in_(sorted(commands)))
                ).all()
        return {row.request_id for row in found}

    def subjects(self, request_ids: Sequence[str]) -> dict[tuple[str, str], MessageSubjectRecord]:
        """The subjects of these log lines by (request_id, hop). A CommandResult's line names
        only its command: it is given the session id and reference of that command's lines."""
        if not request_ids:
            return {}
        subject = MessageSubjectRecord
        with Session(self.engine) as db:
            rows = list(
                db.exec(
                    select(subject).where(col(subject.request_id).in_(sorted(set(request_ids))))
                )
            )
            bare = {row.command for row in rows if row.command and not _keys(row)}
            named: dict[str, MessageSubjectRecord] = {}
            if bare:
                for row in db.exec(select(subject).where(col(subject.command).in_(sorted(bare)))):
                    if _keys(row):
                        named.setdefault(row.command, row)
            for row in rows:
                source = named.get(row.command) if not _keys(row) else None
                if source is not None:
                    row.session_id = source.session_id
                    row.authorization_reference = source.authorization_reference
                db.expunge(row)
        return {(row.request_id, row.hop): row for row in rows}


def _keys(row: MessageSubjectRecord) -> bool:
    return bool(row.session_id or row.authorization_reference)


_LOG_COLUMNS = [c for c in MessageRecord.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]


_LOG_DEFAULTS: dict[str, Any] = {
    name: field.default
    for name, field in MessageRecord.model_fields.items()
    if isinstance(field.default, str | int | float) or field.default is None
}


def _insert_log_lines(cursor: Any, dialect: Any, lines: Sequence[LogLine]) -> None:
    """Multi-row INSERTs built once per chunk and run on the driver's cursor.

    Measured by `roam hub bench`: sqlite3's executemany re-takes the GIL per row, so with a
    busy event loop flushes of 6,000 rows took 4 s and the log fell behind at 2,000 req/s;
    SQLAlchemy's own multi-row `insert().values()` costs ~1 ms of compilation per flush
    row batch. Values go through each column type's bind processor, as SQLAlchemy would.
    """
    fields = [
        (
            column.name,
            _LOG_DEFAULTS.get(column.name),
            column.type.dialect_impl(dialect).bind_processor(dialect),
        )
        for column in _LOG_COLUMNS
    ]
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    row_sql = "(" + ",".join([marker] * len(_LOG_COLUMNS)) + ")"
    names = ",".join(column.name for column in _LOG_COLUMNS)
    insert_into = f"INSERT INTO message ({names}) VALUES "
    start = 0
    for size in LOG_CHUNKS:
        if len(lines) - start < size:
            continue
        sql = insert_into + ",".join([row_sql] * size)
        while len(lines) - start >= size:
            params: list[Any] = []
            for line in lines[start : start + size]:
                params += _log_values(line, fields)
            cursor.execute(sql, tuple(params))
            start += size
    if start < len(lines):
        rest = [tuple(_log_values(line, fields)) for line in lines[start:]]
        cursor.executemany(insert_into + row_sql, rest)


def _log_values(line: LogLine, fields: Sequence[tuple[str, Any, Any]]) -> list[Any]:
    get = line.get
    return [
        get(name, default) if process is None else process(get(name, default))
        for name, default, process in fields
    ]


def _insert_subjects(db: Connection, lines: Sequence[LogLine]) -> None:
    """The subjects queued with log lines (`LogLine["subject"]`, hub/messages.py): few (a
    session, a command), so through SQLAlchemy."""
    rows = [
        {"request_id": line.get("request_id", ""), "hop": line.get("hop", ""), **line["subject"]}
        for line in lines
        if line.get("subject")
    ]
    if rows:
        db.execute(insert(MessageSubjectRecord), rows)


_KEY_SEPARATOR = chr(30)


def _copy_key(item: Copy) -> str:
    """A copy's key as text for a notice (ids are printable: no control character in them)."""
    return _KEY_SEPARATOR.join(
        (item.module.value, item.owner.country_code, item.owner.party_id, item.object_id)
    )


def _to_copy(record: ObjectRecord) -> Copy:
    return Copy(
        module=ModuleID(record.module),
        owner=PartyRef(record.country_code, record.party_id),
        object_id=record.object_id,
        body=record.body,
        last_updated=aware(record.last_updated),
        receiver=PartyRef.parse(record.receiver) if record.receiver else None,
        deleted=record.deleted,
    )


def _to_callback(record: CallbackRecord) -> Callback:
    return Callback(
        uid=record.uid,
        kind=record.kind,
        original_url=record.original_url,
        target_platform_id=record.target_platform_id,
        target_party=PartyRef.parse(record.target_party),
        caller_party=PartyRef.parse(record.caller_party),
        created_at=aware(record.created_at),
    )


_COPY_KEYS = ("module", "country_code", "party_id", "object_id")
_COPY_COLUMNS = ("body", "last_updated", "receiver", "deleted")
_OUTBOX_COLUMNS = tuple(c.name for c in _OUTBOX.columns if c.name != "id")
_CALLBACKS = CallbackRecord.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _BatchSql:
    """The statements of `Store.write_batch`, compiled once for the store's dialect."""

    outbox: DriverStatement
    done: DriverStatement
    copies: DriverStatement
    callbacks: DriverStatement

    @classmethod
    def build(cls, dialect: Any) -> _BatchSql:
        copies = ObjectRecord.__table__  # type: ignore[attr-defined]
        upsert_copies = upsert(copies, dialect.name, _COPY_KEYS, _COPY_COLUMNS)
        callback_columns = [c.name for c in _CALLBACKS.columns]
        upsert_callbacks = upsert(_CALLBACKS, dialect.name, ["uid"], callback_columns[1:])
        return cls(
            outbox=DriverStatement(insert(_OUTBOX).values(_binds(_OUTBOX_COLUMNS)), dialect),
            done=DriverStatement(
                sa_delete(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id")), dialect
            ),
            copies=DriverStatement(
                upsert_copies.values(_binds((*_COPY_KEYS, *_COPY_COLUMNS))), dialect
            ),
            callbacks=DriverStatement(upsert_callbacks.values(_binds(callback_columns)), dialect),
        )


@contextlib.contextmanager
def _driver_cursor(connection: Connection) -> Iterator[Any]:
    """The DBAPI cursor of a SQLAlchemy connection (its transaction), closed after; a driver
    error is raised as SQLAlchemy would raise it (`OperationalError` for a database that
    went away...), so callers tell a database that is away from data it refuses."""
    dbapi_error = connection.dialect.loaded_dbapi.Error
    cursor = connection.connection.cursor()
    try:
        yield cursor
    except dbapi_error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi_error) from exc
    finally:
        cursor.close()


def _binds(names: Sequence[str]) -> dict[str, Any]:
    return {name: bindparam(name) for name in names}


def _run_many(cursor: Any, statement: DriverStatement, rows: Sequence[dict[str, Any]]) -> None:
    cursor.executemany(statement.sql, [statement.parameters(row) for row in rows])


def _copy_values(copies: Sequence[Copy]) -> list[dict[str, Any]]:
    """Every copy in one upsert (INSERT … ON CONFLICT DO UPDATE), not a read and a write per
    object: the hub's writer thread spent more than a quarter of the hub's samples on those
    reads during the demo's sync. An object copied twice in one batch is written once, as the
    later copy (copies come in acceptance order; PostgreSQL refuses to update a row twice in
    one statement)."""
    rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for item in copies:
        key = (item.module.value, item.owner.country_code, item.owner.party_id, item.object_id)
        rows[key] = {
            "module": key[0],
            "country_code": key[1],
            "party_id": key[2],
            "object_id": key[3],
            "body": item.text,
            "last_updated": item.last_updated,
            "receiver": str(item.receiver) if item.receiver else "",
            "deleted": item.deleted,
        }
    return list(rows.values())


def _outbox_values(row: OutboxRow) -> dict[str, Any]:
    """An outbox row as inserted: in order (ids grow with acceptance order, the delivery
    order)."""
    return {
        "platform_id": row.platform_id,
        "party": str(row.party),
        "module": row.module,
        "method": row.method,
        "path": row.path,
        "object_key": row.object_key,
        "body": row.body,
        "correlation_id": row.correlation_id[:100],
        "request_id": row.request_id[:100],
        "created_at": row.created_at,
    }


def _callback_values(callback: Callback) -> dict[str, Any]:
    return {
        "uid": callback.uid,
        "kind": callback.kind,
        "original_url": callback.original_url,
        "target_platform_id": callback.target_platform_id,
        "target_party": str(callback.target_party),
        "caller_party": str(callback.caller_party),
        "created_at": callback.created_at,
    }


def _party(db: Session, role: Role, ref: PartyRef) -> PartyRecord | None:
    return db.exec(
        select(PartyRecord).where(
            PartyRecord.role == role.value,
            PartyRecord.country_code == ref.country_code,
            PartyRecord.party_id == ref.party_id,
        )
    ).first()


def _save_party(db: Session, party: Party) -> None:
    record = _party(db, party.role, party.ref) or PartyRecord(
        role=party.role.value,
        country_code=party.ref.country_code,
        party_id=party.ref.party_id,
        status=party.status.value,
        last_updated=party.last_updated,
    )
    record.platform_id = party.platform_id
    record.status = party.status.value
    record.last_updated = party.last_updated
    record.business_details = json.dumps(party.business_details)
    db.add(record)


def _to_party(record: PartyRecord) -> Party:
    return Party(
        role=Role(record.role),
        ref=PartyRef(record.country_code, record.party_id),
        status=ConnectionStatus(record.status),
        last_updated=aware(record.last_updated),
        platform_id=record.platform_id,
        business_details=json.loads(record.business_details),
    )


TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
"""Errors that say the database (not the data) is the problem: retry the whole batch later."""


def write_isolating(
    store: Store,
    messages: Sequence[LogLine],
    copies: Sequence[Copy],
    callbacks: Sequence[Callback],
    outbox: Sequence[OutboxRow] = (),
    done: Sequence[int] = (),
) -> tuple[int, bool]:
    """Write a batch that failed as a whole, halving it until each bad item stands alone.

    A log line that cannot be stored is stored with its text escaped (control characters and
    lone surrogates as backslash escapes) and a note saying so; a copy, callback or outbox row
    that cannot be stored is left out and a log line records which and why. Returns how many
    items could not be stored as they were, and whether every copy, callback and outbox row
    was kept (else whoever waits for the batch is told it was not stored). Transient errors
    still propagate (the caller retries).
    """
    bad = 0
    dropped = 0

    def attempt(batch: Sequence[Any], write: Any, isolate: Any) -> None:
        nonlocal bad
        if not batch:
            return
        try:
            write(batch)
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:
            if len(batch) == 1:
                bad += 1
                isolate(batch[0], exc)
                return
            middle = len(batch) // 2
            attempt(batch[:middle], write, isolate)
            attempt(batch[middle:], write, isolate)

    def keep_escaped(line: LogLine, exc: Exception) -> None:
        reason = f"{type(exc).__name__}"
        escaped = {key: _escaped(value) for key, value in line.items()}
        if isinstance(line.get("subject"), dict):
            escaped["subject"] = {k: _escaped(v) for k, v in line["subject"].items()}
        escaped["note"] = (
            f"{escaped.get('note') or ''} [stored escaped: the line held text the database "
            f"refused ({reason})]"
        ).strip()
        try:
            store.write_batch([escaped], [], [])
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            log.exception("a message-log line could not be stored even escaped: %r", line)

    def record_dropped(what: str) -> Any:
        def drop(item: Any, exc: Exception) -> None:
            nonlocal dropped
            dropped += 1
            key = (
                getattr(item, "key", None)
                or getattr(item, "uid", None)
                or getattr(item, "object_key", "?")
            )
            note = f"{what} {_escaped(str(key))} could not be stored: {type(exc).__name__}"
            log.error(note)
            line = {"timestamp": utcnow(), "hop": "store", "method": "", "path": "", "note": note}
            keep_escaped(line, exc)

        return drop

    attempt(messages, lambda batch: store.write_batch(batch, [], []), keep_escaped)
    attempt(copies, lambda batch: store.write_batch([], batch, []), record_dropped("copy"))
    attempt(callbacks, lambda batch: store.write_batch([], [], batch), record_dropped("callback"))
    attempt(
        outbox,
        lambda batch: store.write_batch([], [], [], batch),
        record_dropped("outbox row"),
    )
    if done:
        store.write_batch([], [], [], [], done)  # ids only: nothing in them can be refused
    return bad, dropped == 0


def _escaped(value: Any) -> Any:
    """Text any database column accepts: no NUL, no lone surrogate, printable escapes."""
    if isinstance(value, str):
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return "".join(
            c if c.isprintable() or c in "\t\n" else c.encode("unicode_escape").decode()
            for c in text
        )
    return value


class BatchWriter:
    """Collects log lines, copies, callbacks and outbox changes; writes them in one
    transaction at a time.

    Two kinds of callers. Most items are written behind: at most `interval` seconds later,
    nothing waits (the message log of a routed GET). A caller that must not answer before
    its items are stored calls `commit()`, which returns once everything queued so far is in
    the database (or raises `StorageUnavailable`): that is how a broadcast, a routed CDR or
    session and a handed-out response URL are kept before the hub says 1000. Callers that
    wait share transactions (group commit): while one batch is written, the next gathers.
    `flush()` on shutdown writes what is left.
    """

    def __init__(self, store: Store, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._messages: list[LogLine] = []
        self._copies: dict[tuple[ModuleID, PartyRef, str], Copy] = {}
        self._callbacks: list[Callback] = []
        self._outbox: list[OutboxRow] = []
        self._done: list[int] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.unstorable = 0
        """Items that could not be stored even alone (each left a line in the log)."""
        self.failing = False
        """The last write failed for want of a database (it is retried every second)."""

    def log(self, message: LogLine) -> None:
        self._messages.append(message)
        self._wake.set()

    def copy(self, item: Copy) -> None:
        self._copies[item.key] = item
        self._wake.set()

    def callback(self, callback: Callback) -> None:
        self._callbacks.append(callback)
        self._wake.set()

    def outbox(self, rows: Sequence[OutboxRow]) -> None:
        self._outbox.extend(rows)
        self._wake.set()

    def done(self, row_id: int) -> None:
        self._done.append(row_id)
        self._wake.set()

    async def commit(self) -> None:
        """Return once everything queued so far is stored; StorageUnavailable if it could
        not be (the items stay queued and are written when the database is back)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._urgent.set()
        self._wake.set()
        if self._task is None:  # not started (a hub being built or stopped): write now
            with contextlib.suppress(*TRANSIENT_ERRORS):
                await self.flush()  # a failure reaches the waiter as StorageUnavailable
        await waiter

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="hub-batch-writer")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if not self._urgent.is_set():
                await wait_set(self._urgent, self.interval)
            self._wake.clear()
            self._urgent.clear()
            try:
                await self.flush()
            except Exception:  # the database is unavailable: the batch stays queued
                log.exception("writing to the database failed; will retry")
                await asyncio.sleep(1)
                self._wake.set()

    async def flush(self) -> None:
        async with self._lock:
            messages, self._messages = self._messages, []
            copies, self._copies = list(self._copies.values()), {}
            callbacks, self._callbacks = self._callbacks, []
            outbox, self._outbox = self._outbox, []
            done, self._done = self._done, []
            waiters, self._waiters = self._waiters, []
            if not (messages or copies or callbacks or outbox or done):
                _settle(waiters, None)
                return
            try:
                await asyncio.to_thread(
                    self.store.write_batch, messages, copies, callbacks, outbox, done
                )
            except TRANSIENT_ERRORS as exc:
                # The database is unreachable or busy: put them back in front, so a later
                # flush writes them in order. Whoever waits is told now.
                self.failing = True
                self._messages[:0] = messages
                for item in copies:
                    self._copies.setdefault(item.key, item)
                self._callbacks[:0] = callbacks
                self._outbox[:0] = outbox
                self._done[:0] = done
                _settle(waiters, StorageUnavailable(_reason(exc)))
                raise
            except Exception:
                # Something in the batch cannot be stored (a string the database refuses, a
                # value its driver cannot encode): one item must never hold the rest hostage.
                log.exception("a batch could not be written; writing its items one by one")
                try:
                    bad, kept_all = await asyncio.to_thread(
                        write_isolating, self.store, messages, copies, callbacks, outbox, done
                    )
                except TRANSIENT_ERRORS as exc:
                    self.failing = True
                    _settle(waiters, StorageUnavailable(_reason(exc)))
                    raise
                self.unstorable += bad
                self.failing = False
                _settle(
                    waiters,
                    None
                    if kept_all
                    else StorageUnavailable("part of what was sent could not be stored"),
                )
                return
            self.failing = False
            _settle(waiters, None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


def _settle(waiters: Sequence[asyncio.Future[None]], error: Exception | None) -> None:
    for waiter in waiters:
        if waiter.done():
            continue
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)


def _reason(exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"the hub's database is unavailable ({type(exc).__name__}: {first[:160]})"
