"""What the mock eMSP holds, and the one rule for changing it.

`EmspState` is the memory (locations and their map index, tariffs, sessions, tokens, CDRs,
invoices, commands) over the database. Anyone may read it: the eMSP runs
on one event loop and a read never awaits. A change is made only through a `Change`, and the
only way to get one is `async with state.changing() as change:`, which holds `state.lock`: a
change to the memory is one step that no other change interleaves with, and the objects it
stores are queued in that same order. Their database write happens after the lock is
released, shared with the changes made meanwhile (group commit, emsp_mock/writer.py), and
`changing()` returns only once it is done: nothing is answered before it is kept, and no
change waits on another's disk write. The lock is never held across a network call (the
hub may call us back meanwhile). The kit's
HubClientInfo receiver (`ocpi.platform.ClientInfoReceiver`) is given the same lock.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from emsp_mock import objects
from emsp_mock.search import LocationKey, MapIndex, key_of, location_key
from emsp_mock.settings import DriverSettings, EmspSettings, TokenSettings
from emsp_mock.shelf import LocationShelf
from emsp_mock.store import ObjectKey, Store, StoredInvoice, StoredObject
from emsp_mock.writer import ObjectWriter
from ocpi.v221.cdrs import CDR
from ocpi.v221.locations import Location
from ocpi.v221.sessions import Session
from ocpi.v221.tariffs import Tariff
from ocpi.v221.tokens import Token, TokenType

if TYPE_CHECKING:
    from emsp_mock.commands import CommandState

M = TypeVar("M", bound=BaseModel)
TokenKey = tuple[str, str]
"""(uid, type) of one of our tokens: unique per eMSP (spec mod_tokens)."""


def utcnow() -> datetime:
    """Now, in UTC, at the millisecond precision DateTime keeps on the wire."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def object_key(country_code: str, party_id: str, id: str) -> ObjectKey:
    return (country_code.upper(), party_id.upper(), id)


def token_key(uid: str, type: TokenType | str) -> TokenKey:
    return (uid, TokenType(type).value)


def stamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@dataclass
class PushWatch:
    """The locations and tariffs pushes changed while a re-sync was pulling (set by
    emsp_mock/resync.py): its pull may be older than those pushes."""

    locations: set[LocationKey] = field(default_factory=set)
    tariffs: set[ObjectKey] = field(default_factory=set)


def _stored(key: ObjectKey, item: Location | Tariff | Session | Token) -> StoredObject:
    return StoredObject(key, item.model_dump_json(exclude_none=True), item.last_updated)


def _load_locations(store: Store) -> tuple[LocationShelf, MapIndex]:
    """The locations as the database keeps them (text), and the map index built by parsing
    each once (one at a time: the parsed objects are not kept)."""
    shelf = LocationShelf()
    index = MapIndex()
    for item in store.load_objects("location"):
        shelf.put_text(item.key, item.body, item.last_updated)
        index.put(Location.model_validate_json(item.body))
    return shelf, index


class EmspState:
    """The eMSP's memory; read freely, changed only through `changing()`."""

    def __init__(self, settings: EmspSettings, store: Store) -> None:
        self.settings = settings
        self.party = settings.party
        self.store = store
        self.lock = asyncio.Lock()
        """Held by every `Change`: see the module's rule."""
        self.locations = LocationShelf()
        """Kept as JSON text, parsed on every read (emsp_mock/shelf.py)."""
        self.index = MapIndex()
        self.tariffs: dict[ObjectKey, Tariff] = {}
        self.sessions: dict[ObjectKey, Session] = {}
        self.drivers: dict[str, DriverSettings] = {d.id: d for d in settings.drivers}
        self.tokens: dict[TokenKey, Token] = {}
        self.token_settings: dict[TokenKey, TokenSettings] = {}
        self.token_driver: dict[TokenKey, str] = {}
        self.cdrs: dict[ObjectKey, CDR] = {}
        self.invoices: list[StoredInvoice] = []
        self.commands: dict[str, CommandState] = {}
        self.writer = ObjectWriter(store)
        self.watch: PushWatch | None = None
        """While a re-sync pulls: what changes meanwhile (see `PushWatch`)."""

    @asynccontextmanager
    async def changing(self) -> AsyncIterator[Change]:
        """The one way to change the state: holds the lock until the block ends; then, with
        the lock released, waits until the objects the change queued are stored (group
        commit, emsp_mock/writer.py), so that nothing is answered before it is kept."""
        async with self.lock:
            change = Change(self)
            yield change
        if change.queued:
            await self.writer.commit()

    # --- reads --------------------------------------------------------------------------------
    def location(self, country_code: str, party_id: str, location_id: str) -> Location | None:
        return self.locations.get(location_key(country_code, party_id, location_id))

    def tariffs_of(self, country_code: str, party_id: str) -> dict[str, Tariff]:
        cc, pid = country_code.upper(), party_id.upper()
        return {k[2]: t for k, t in self.tariffs.items() if k[0] == cc and k[1] == pid}

    def driver_of(self, uid: str, type: TokenType | str) -> str:
        """The id of the driver holding a token ("" when it is no driver's)."""
        return self.token_driver.get(token_key(uid, type), "")

    # --- loading ------------------------------------------------------------------------------
    def _load_kind(self, kind: str, model: type[M]) -> dict[ObjectKey, M]:
        return {
            item.key: model.model_validate_json(item.body) for item in self.store.load_objects(kind)
        }

    async def load(self) -> None:
        """Read what the database holds (commands are loaded by `Commands.load`)."""
        self.locations, self.index = await asyncio.to_thread(_load_locations, self.store)
        self.tariffs = await asyncio.to_thread(self._load_kind, "tariff", Tariff)
        self.sessions = await asyncio.to_thread(self._load_kind, "session", Session)
        tokens = await asyncio.to_thread(self._load_kind, "token", Token)
        self.tokens = {token_key(t.uid, t.type): t for t in tokens.values()}
        self.cdrs = {
            key: CDR.model_validate_json(body)
            for key, body in await asyncio.to_thread(self.store.load_cdrs)
        }
        self.invoices = await asyncio.to_thread(self.store.load_invoices)

    async def get_fact(self, key: str) -> Any:
        """A JSON value of the key/value table (None when not set)."""
        raw = await asyncio.to_thread(self.store.get_state, key)
        return json.loads(raw) if raw else None


class Change:
    """Changes to the state, memory and database together; made by `EmspState.changing()`."""

    def __init__(self, state: EmspState) -> None:
        self.state = state
        self.store = state.store
        self.queued = False
        """Objects were queued for the writer: `changing()` waits for their commit."""

    def _save(self, kind: str, rows: list[StoredObject], gone: Sequence[ObjectKey] = ()) -> None:
        self.state.writer.queue((kind, rows, list(gone)))
        self.queued = True

    async def locations(
        self, upserts: dict[LocationKey, Location], gone: Iterable[LocationKey]
    ) -> None:
        """Keep new versions of locations (memory, map index, database) and drop others."""
        gone = sorted(gone)
        if (watch := self.state.watch) is not None:
            watch.locations.update(upserts, gone)
        rows = [_stored(key, location) for key, location in upserts.items()]
        self._save("location", rows, gone)
        for key in gone:
            self.state.locations.pop(key, None)
            self.state.index.remove(key)
        for row, location in zip(rows, upserts.values(), strict=True):
            self.state.locations.put_text(row.key, row.body, row.last_updated)
            self.state.index.put(location)

    async def put_location(self, location: Location) -> None:
        await self.locations({key_of(location): location}, ())

    async def patch_evse(self, key: LocationKey, evse_uid: str, changes: dict[str, Any]) -> bool:
        """PATCH one EVSE of a location we hold (`objects.patch_evse_text`: the location is
        not parsed): memory, map index and database, as `put_location` of the patched
        location would. False when the location is not held; `objects.MissingParent` or
        pydantic's ValidationError as `objects.patch_evse` raises them."""
        text = self.state.locations.text(key)
        if text is None:
            return False
        patched = objects.patch_evse_text(text, evse_uid, changes)
        if (watch := self.state.watch) is not None:
            watch.locations.add(key)
        self._save("location", [StoredObject(key, patched.text, patched.last_updated)])
        self.state.locations.put_text(key, patched.text, patched.last_updated)
        if not (patched.alone and self.state.index.put_evse(key, patched.evse)):
            self.state.index.put(Location.model_validate_json(patched.text))
        return True

    async def tariffs(self, upserts: dict[ObjectKey, Tariff], gone: Iterable[ObjectKey]) -> None:
        gone = sorted(gone)
        if (watch := self.state.watch) is not None:
            watch.tariffs.update(upserts, gone)
        rows = [_stored(key, tariff) for key, tariff in upserts.items()]
        self._save("tariff", rows, gone)
        for key in gone:
            self.state.tariffs.pop(key, None)
        self.state.tariffs.update(upserts)

    async def put_tariff(self, tariff: Tariff) -> bool:
        """Keep a tariff; True when it was not known before."""
        key = object_key(tariff.country_code, tariff.party_id, tariff.id)
        created = key not in self.state.tariffs
        await self.tariffs({key: tariff}, ())
        return created

    async def delete_tariff(self, key: ObjectKey) -> bool:
        """Forget a tariff; False when it was not known."""
        if key not in self.state.tariffs:
            return False
        await self.tariffs({}, [key])
        return True

    async def put_session(self, session: Session) -> bool:
        """Keep a session; True when it was not known before."""
        key = object_key(session.country_code, session.party_id, session.id)
        created = key not in self.state.sessions
        self._save("session", [_stored(key, session)])
        self.state.sessions[key] = session
        return created

    async def put_tokens(self, tokens: list[Token]) -> None:
        """Keep our own tokens (stored under our party, id `uid|type`)."""
        rows = []
        for token in tokens:
            self.state.tokens[token_key(token.uid, token.type)] = token
            key = (token.country_code.upper(), token.party_id.upper(), f"{token.uid}|{token.type}")
            rows.append(_stored(key, token))
        if rows:
            self._save("token", rows)

    async def add_cdr(
        self,
        cdr: CDR,
        driver_id: str,
        invoice_status: str,
        invoice: dict[str, Any],
        session_id: str | None = None,
    ) -> bool:
        """Keep a CDR with its invoice in one transaction; False when the CDR id was known.
        The invoice is filed under `session_id` (default: the CDR's own)."""
        key = object_key(cdr.country_code, cdr.party_id, cdr.id)
        stored = await asyncio.to_thread(
            self.store.add_cdr,
            key,
            cdr.model_dump_json(exclude_none=True),
            utcnow(),
            driver_id,
            session_id or cdr.session_id or "",
            invoice_status,
            invoice,
        )
        self.state.cdrs[key] = cdr
        if stored:
            self.state.invoices = await asyncio.to_thread(self.store.load_invoices)
        return stored

    async def save_command(self, command: CommandState) -> None:
        self.state.commands[command.id] = command
        await asyncio.to_thread(
            self.store.save_command,
            command.id,
            command.command.value,
            command.driver_id,
            command.to_json(),
            command.deadline,
        )

    async def set_facts(self, facts: dict[str, Any]) -> None:
        """Write JSON values to the key/value table in one transaction (None deletes)."""
        raw = {k: json.dumps(v) if v is not None else None for k, v in facts.items()}
        await asyncio.to_thread(self.store.set_states, raw)
