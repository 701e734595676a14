"""The mock eMSP: its state, what it receives from CPOs, what it sends, and the driver app.

`Emsp` is created by `create_app`; `start()`/`stop()` run in the app's lifespan (tests call
them directly). Every accepted object is persisted before the answer goes out. Decisions are
made by the pure modules (`objects` for receiver rules and the re-sync diff, `search` for the
map, `billing` for the invoice check); this class holds the state and does the I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote as url_quote

import httpx
from pydantic import BaseModel

from emsp_mock import billing, objects
from emsp_mock.billing import InvoiceStatus
from emsp_mock.search import LocationKey, MapHit, MapIndex, MapQuery, key_of, location_key
from emsp_mock.settings import DriverSettings, EmspSettings, TokenSettings
from emsp_mock.store import ObjectKey, Store, StoredInvoice, StoredObject, make_engine
from ocpi.client import OcpiClient
from ocpi.errors import OcpiError
from ocpi.headers import PartyRef
from ocpi.pagination import PageRequest
from ocpi.platform import PeerState, Registration
from ocpi.pricing import PlannedSession, PricingError, Quote, quote
from ocpi.v221.cdrs import CDR, CdrDimensionType
from ocpi.v221.commands import (
    CommandResponse,
    CommandResponseType,
    CommandResult,
    CommandType,
    ReserveNow,
    StartSession,
    StopSession,
)
from ocpi.v221.credentials import CredentialsRole
from ocpi.v221.hubclientinfo import ClientInfo, ConnectionStatus
from ocpi.v221.locations import BusinessDetails, Location
from ocpi.v221.sessions import Session, SessionStatus
from ocpi.v221.tariffs import Tariff
from ocpi.v221.tokens import (
    AllowedType,
    AuthorizationInfo,
    LocationReferences,
    Token,
    TokenType,
    WhitelistType,
)
from ocpi.v221.types import Role, format_datetime
from ocpi.v221.versions import InterfaceRole, ModuleID

log = logging.getLogger("emsp_mock")

M = TypeVar("M", bound=BaseModel)
TokenKey = tuple[str, str]
"""(uid, type) of one of our tokens: unique per eMSP (spec mod_tokens)."""

FUNCTIONAL_BASE = "/ocpi/emsp/2.2.1"
PULLED = (ModuleID.LOCATIONS, ModuleID.TARIFFS, ModuleID.SESSIONS, ModuleID.CDRS)
"""What a re-sync pulls from the hub, in this order."""
SESSIONS_FLOOR = datetime(1970, 1, 1, tzinfo=UTC)
"""`date_from` of a complete Sessions pull: the spec requires the parameter on that list only,
and the epoch asks for every session (our own start would miss those begun before it, and a
CPO's simulated clock may read a time long before it)."""
_OPEN = (SessionStatus.ACTIVE, SessionStatus.PENDING, SessionStatus.RESERVATION)


class AppError(Exception):
    """An app-API request that cannot be carried out; `http_status` says how bad."""

    def __init__(self, message: str, http_status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


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


def _mark_key(module: ModuleID) -> str:
    """Key of a module's pull mark in the eMSP's key/value table (no schema change needed)."""
    return f"pull_mark.{module.value}"


class _StorePeer:
    """PeerStore over the eMSP's key/value table (tokens kept across restarts)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def load_peer(self) -> PeerState | None:
        raw = await asyncio.to_thread(self.store.get_state, "peer")
        return PeerState.from_json(json.loads(raw)) if raw else None

    async def save_peer(self, state: PeerState | None) -> None:
        value = json.dumps(state.to_json()) if state is not None else None
        await asyncio.to_thread(self.store.set_state, "peer", value)


@dataclass
class CommandState:
    """A command sent for a driver: what the CPO answered, then what the charger did."""

    id: str
    command: CommandType
    driver_id: str
    to: str
    target: dict[str, Any]
    state: str = "SENDING"
    """SENDING, PENDING (accepted, waiting for the result), FAILED (never reached the CPO),
    a CommandResponseType other than ACCEPTED, or the CommandResultType (TIMEOUT when no
    result came in time)."""
    response: str | None = None
    result: str | None = None
    message: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    deadline: datetime | None = None
    finished_at: datetime | None = None
    late_result: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return self.state not in ("SENDING", "PENDING")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command.value,
            "driver_id": self.driver_id,
            "to": self.to,
            "target": self.target,
            "state": self.state,
            "response": self.response,
            "result": self.result,
            "message": self.message,
            "created_at": stamp(self.created_at),
            "deadline": stamp(self.deadline) if self.deadline else None,
            "finished_at": stamp(self.finished_at) if self.finished_at else None,
            "late_result": self.late_result,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CommandState:
        def when(name: str) -> datetime | None:
            raw = data.get(name)
            return datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None

        state = cls(
            id=data["id"],
            command=CommandType(data["command"]),
            driver_id=data["driver_id"],
            to=data["to"],
            target=dict(data["target"]),
            state=data["state"],
            response=data.get("response"),
            result=data.get("result"),
            message=data.get("message"),
            created_at=when("created_at") or utcnow(),
            deadline=when("deadline"),
            finished_at=when("finished_at"),
            late_result=data.get("late_result"),
        )
        if state.finished:
            state.done.set()
        return state


def _display(messages: Any) -> str | None:
    if not messages:
        return None
    return "; ".join(str(m.text) for m in messages)


class Emsp:
    def __init__(self, settings: EmspSettings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.party = settings.party
        self.store = Store(make_engine(settings.database_url))
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(timeout=30.0, trust_env=False)
        self.registration = Registration(
            self.http,
            _StorePeer(self.store),
            versions_url=f"{settings.public_url}/ocpi/versions",
            roles=[
                CredentialsRole(
                    role=Role.EMSP,
                    business_details=BusinessDetails(name=settings.name),
                    country_code=self.party.country_code,
                    party_id=self.party.party_id,
                )
            ],
            token_a=settings.accept_token_a,
        )
        self.lock = asyncio.Lock()
        self.locations: dict[LocationKey, Location] = {}
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
        self.parties: dict[tuple[str, str, str], ClientInfo] = {}
        self.last_resync: dict[str, Any] | None = None
        self.pull_marks: dict[ModuleID, objects.PullMark] = {}
        """Per pulled module, where its next incremental pull starts (none: pull it all)."""
        self._resync_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.started = False

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self, *, register_now: bool = True) -> None:
        """Load the state, register with the hub if needed (else re-sync), serve.

        `register_now=False` does the network work in the background: under a server the
        hub calls back (GET our versions with token B) only once the socket listens.
        """
        await self._load()
        await self.registration.load()
        changed = await self._sync_tokens()
        self.started = True
        hub = self.settings.hub
        if self.registration.peer is None:
            if hub is not None and hub.token_a:
                if register_now:
                    await self.register()
                else:
                    self.spawn(self._register_later(), "register")
            return
        for token in changed:
            self._broadcast_token(token)
        if self.settings.resync_on_start:
            if register_now:
                await self.resync()
            else:
                self.spawn(self._resync_quietly(), "resync")

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), 5.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._own_http:
            await self.http.aclose()
        self.store.engine.dispose()
        self.started = False

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every background push has finished (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _register_later(self) -> None:
        delay = 0.0
        while self.registration.peer is None:
            await asyncio.sleep(delay)
            try:
                await self.register()
            except (OcpiError, ValueError) as exc:
                log.warning("registration with the hub failed: %s; retrying", exc)
                delay = min(max(delay * 2, 0.25), 60.0)

    async def _resync_quietly(self) -> None:
        try:
            await self.resync()
        except (OcpiError, httpx.HTTPError, RuntimeError) as exc:
            log.warning("re-sync with the hub failed: %s", exc)

    async def register(self) -> PeerState:
        """Member-initiated handshake with the configured hub, then broadcast our tokens."""
        hub = self.settings.hub
        if hub is None or not hub.token_a:
            raise ValueError("no hub configured (hub.versions_url and hub.token_a)")
        state = await self.registration.register(hub.versions_url, hub.token_a)
        if self.settings.push_tokens_on_register:
            for token in self.tokens.values():
                self._broadcast_token(token)
        return state

    # --- loading ------------------------------------------------------------------------------
    def _load_kind(self, kind: str, model: type[M]) -> dict[ObjectKey, M]:
        return {
            item.key: model.model_validate_json(item.body) for item in self.store.load_objects(kind)
        }

    async def _load(self) -> None:
        locations = await asyncio.to_thread(self._load_kind, "location", Location)
        self.locations = dict(locations)
        self.index = MapIndex.build(self.locations.values())
        self.tariffs = await asyncio.to_thread(self._load_kind, "tariff", Tariff)
        self.sessions = await asyncio.to_thread(self._load_kind, "session", Session)
        tokens = await asyncio.to_thread(self._load_kind, "token", Token)
        self.tokens = {token_key(t.uid, t.type): t for t in tokens.values()}
        self.cdrs = {
            key: CDR.model_validate_json(body)
            for key, body in await asyncio.to_thread(self.store.load_cdrs)
        }
        self.invoices = await asyncio.to_thread(self.store.load_invoices)
        self.pull_marks = await asyncio.to_thread(self._load_marks)
        last = await asyncio.to_thread(self.store.get_state, "last_resync")
        self.last_resync = json.loads(last) if last else None
        for body in await asyncio.to_thread(self.store.load_client_infos):
            info = ClientInfo.model_validate_json(body)
            self.parties[(info.country_code.upper(), info.party_id.upper(), info.role.value)] = info
        now = utcnow()
        for data, deadline in await asyncio.to_thread(self.store.load_commands):
            command = CommandState.from_json(data)
            self.commands[command.id] = command
            if command.state == "PENDING":
                if deadline is None or deadline <= now:
                    await self._time_out(command.id)
                else:
                    self._arm_timer(command.id, (deadline - now).total_seconds())

    def _load_marks(self) -> dict[ModuleID, objects.PullMark]:
        marks: dict[ModuleID, objects.PullMark] = {}
        for module in PULLED:
            raw = self.store.get_state(_mark_key(module))
            if not raw:
                continue
            try:
                marks[module] = objects.PullMark.from_json(json.loads(raw))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("pull mark of %s unreadable (%s): its next pull is full", module, exc)
        return marks

    def _token_of(self, driver: DriverSettings, item: TokenSettings, at: datetime) -> Token:
        whitelist = item.whitelist or (
            WhitelistType.ALLOWED if item.type is TokenType.RFID else WhitelistType.NEVER
        )
        return Token(
            country_code=self.party.country_code,
            party_id=self.party.party_id,
            uid=item.uid,
            type=item.type,
            contract_id=item.contract_id,
            visual_number=item.visual_number,
            issuer=self.settings.name[:64],
            valid=item.valid,
            whitelist=whitelist,
            last_updated=at,
        )

    async def _sync_tokens(self) -> list[Token]:
        """Tokens from the configured drivers; those new or changed since the last start get a
        new last_updated (and are broadcast again)."""
        now = utcnow()
        changed: list[Token] = []
        for driver in self.drivers.values():
            for item in driver.tokens:
                key = token_key(item.uid, item.type)
                self.token_settings[key] = item
                self.token_driver[key] = driver.id
                stored = self.tokens.get(key)
                fresh = self._token_of(driver, item, stored.last_updated if stored else now)
                if stored is None or fresh != stored:
                    fresh = fresh.model_copy(update={"last_updated": now})
                    changed.append(fresh)
                self.tokens[key] = fresh
        if changed:
            await asyncio.to_thread(
                self.store.save_objects,
                "token",
                [self._stored_token(t) for t in changed],
            )
        return changed

    def _stored_token(self, token: Token) -> StoredObject:
        key = (token.country_code.upper(), token.party_id.upper(), f"{token.uid}|{token.type}")
        return StoredObject(key, token.model_dump_json(exclude_none=True), token.last_updated)

    # --- talking to the hub -------------------------------------------------------------------
    def _client(self) -> OcpiClient:
        if self.registration.peer is None:
            raise AppError("not connected to a hub yet", 503)
        return self.registration.client(self.party)

    def hub_url(self, module: ModuleID, role: InterfaceRole, *segments: str) -> str:
        peer = self.registration.peer
        base = peer.endpoint(module, role) if peer is not None else None
        if base is None:
            raise AppError(f"the hub offers no {module.value} {role.value} interface", 503)
        return "/".join([base.rstrip("/"), *(url_quote(s, safe="") for s in segments)])

    @property
    def hub_party(self) -> PartyRef | None:
        peer = self.registration.peer
        return peer.hub_party if peer is not None else None

    def _broadcast_token(self, token: Token) -> None:
        """PUT the token to the hub with TO = the hub: a broadcast to every CPO (digest §2.3b)."""
        self._push_token(token, None)

    def _push_token(self, token: Token, to: PartyRef | None) -> None:
        """PUT one token through the hub: to one CPO, or (None) broadcast to all."""

        async def job() -> None:
            try:
                url = self.hub_url(
                    ModuleID.TOKENS,
                    InterfaceRole.RECEIVER,
                    token.country_code,
                    token.party_id,
                    token.uid,
                )
                await self._client().put(
                    url, token, params={"type": token.type.value}, to=to or self.hub_party
                )
            except (OcpiError, httpx.HTTPError, AppError) as exc:
                log.warning("token %s not broadcast: %s", token.uid, exc)

        self.spawn(job(), f"token {token.uid}")

    # --- Locations receiver (spec mod_locations) ----------------------------------------------
    def location(self, country_code: str, party_id: str, location_id: str) -> Location | None:
        return self.locations.get(location_key(country_code, party_id, location_id))

    async def store_location(self, location: Location) -> None:
        """Keep a (new version of a) location: memory, map index and database."""
        key = key_of(location)
        body = location.model_dump_json(exclude_none=True)
        await asyncio.to_thread(
            self.store.save_objects,
            "location",
            [StoredObject(key, body, location.last_updated)],
        )
        self.locations[key] = location
        self.index.put(location)

    # --- Tariffs receiver (spec mod_tariffs) --------------------------------------------------
    def tariffs_of(self, country_code: str, party_id: str) -> dict[str, Tariff]:
        cc, pid = country_code.upper(), party_id.upper()
        return {k[2]: t for k, t in self.tariffs.items() if k[0] == cc and k[1] == pid}

    async def store_tariff(self, tariff: Tariff) -> bool:
        key = object_key(tariff.country_code, tariff.party_id, tariff.id)
        created = key not in self.tariffs
        body = tariff.model_dump_json(exclude_none=True)
        await asyncio.to_thread(
            self.store.save_objects, "tariff", [StoredObject(key, body, tariff.last_updated)]
        )
        self.tariffs[key] = tariff
        return created

    async def delete_tariff(self, key: ObjectKey) -> bool:
        if key not in self.tariffs:
            return False
        await asyncio.to_thread(self.store.save_objects, "tariff", [], [key])
        del self.tariffs[key]
        return True

    # --- Sessions receiver (spec mod_sessions) ------------------------------------------------
    async def store_session(self, session: Session) -> bool:
        key = object_key(session.country_code, session.party_id, session.id)
        created = key not in self.sessions
        body = session.model_dump_json(exclude_none=True)
        await asyncio.to_thread(
            self.store.save_objects, "session", [StoredObject(key, body, session.last_updated)]
        )
        self.sessions[key] = session
        return created

    # --- CDRs receiver (spec mod_cdrs) --------------------------------------------------------
    def cdr_location_url(self, cdr: CDR) -> str:
        """Where the stored CDR can be read (the `Location` header of the POST answer)."""
        parts = (cdr.country_code.upper(), cdr.party_id.upper(), cdr.id)
        return f"{self.settings.public_url}{FUNCTIONAL_BASE}/cdrs/" + "/".join(
            url_quote(p, safe="") for p in parts
        )

    async def receive_cdr(self, cdr: CDR) -> bool:
        """Store the CDR with its invoice; False when this CDR id was received before (it is
        then neither stored nor billed again)."""
        key = object_key(cdr.country_code, cdr.party_id, cdr.id)
        async with self.lock:
            if key in self.cdrs:
                return False
            location = self.location(cdr.country_code, cdr.party_id, cdr.cdr_location.id)
            # The CDR has no time zone; restrictions are read in the Location's (UTC if the
            # location is unknown: a CDR priced in another zone then goes to REVIEW).
            time_zone = location.time_zone if location is not None else "UTC"
            draft = billing.check_cdr(
                cdr, self.tariffs_of(cdr.country_code, cdr.party_id), time_zone
            )
            driver = self.token_driver.get(token_key(cdr.cdr_token.uid, cdr.cdr_token.type), "")
            body = draft.to_json()
            status = draft.status
            if not driver:
                status = InvoiceStatus.REVIEW
                body["reason"] = (
                    f"token {cdr.cdr_token.uid} belongs to no driver of this eMSP; "
                    + body["reason"]
                ).rstrip("; ")
            body["status"] = status.value
            now = utcnow()
            stored = await asyncio.to_thread(
                self.store.add_cdr,
                key,
                cdr.model_dump_json(exclude_none=True),
                now,
                driver,
                cdr.session_id or "",
                status.value,
                body,
            )
            self.cdrs[key] = cdr
            if stored:
                self.invoices = await asyncio.to_thread(self.store.load_invoices)
                if status is InvoiceStatus.REVIEW:
                    log.warning("CDR %s/%s/%s flagged for review: %s", *key, body["reason"])
            return stored

    # --- HubClientInfo receiver ---------------------------------------------------------------
    async def put_client_info(self, info: ClientInfo) -> bool:
        key = (info.country_code.upper(), info.party_id.upper(), info.role.value)
        before = self.parties.get(key)
        created = before is None
        await asyncio.to_thread(
            self.store.save_client_info, key, info.model_dump_json(exclude_none=True)
        )
        self.parties[key] = info
        if (
            info.role is Role.CPO
            and info.status is ConnectionStatus.CONNECTED
            and (before is None or before.status is not ConnectionStatus.CONNECTED)
        ):
            # A CPO that (re)connected missed our broadcasts: the hub queues nothing (digest
            # §2.4), so every token is PUT to it directly (TO = that CPO).
            to = PartyRef(info.country_code, info.party_id)
            for token in list(self.tokens.values()):
                self._push_token(token, to)
        return created

    # --- Tokens sender (spec mod_tokens) ------------------------------------------------------
    def authorize(
        self, uid: str, type: TokenType, where: LocationReferences | None
    ) -> AuthorizationInfo | None:
        """Real-time authorization; None for a token not ours (the endpoint answers 2004).

        A valid token gets its configured answer (ALLOWED by default); an invalid one gets
        its configured refusal, or BLOCKED. The location, if given, is echoed when allowed
        (the driver may use every EVSE; the spec forbids judging stale statuses).
        """
        key = token_key(uid, type)
        token = self.tokens.get(key)
        if token is None:
            return None
        configured = self.token_settings[key].allowed if key in self.token_settings else "ALLOWED"
        allowed = AllowedType(configured)
        if not token.valid and allowed is AllowedType.ALLOWED:
            allowed = AllowedType.BLOCKED
        return AuthorizationInfo(
            allowed=allowed,
            token=token,
            location=where if allowed is AllowedType.ALLOWED else None,
            authorization_reference=uuid.uuid4().hex if allowed is AllowedType.ALLOWED else None,
        )

    # --- Commands sender (spec mod_commands) --------------------------------------------------
    def response_url(self, command: CommandType, command_id: str) -> str:
        return f"{self.settings.public_url}{FUNCTIONAL_BASE}/commands/{command.value}/{command_id}"

    async def _save_command(self, command: CommandState) -> None:
        await asyncio.to_thread(
            self.store.save_command,
            command.id,
            command.command.value,
            command.driver_id,
            command.to_json(),
            command.deadline,
        )

    def _arm_timer(self, command_id: str, seconds: float) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.pop(command_id, None)
            self.spawn(self._time_out(command_id), f"timeout {command_id}")

        self._timers[command_id] = loop.call_later(max(seconds, 0.0), fire)

    async def _time_out(self, command_id: str) -> None:
        command = self.commands.get(command_id)
        if command is None or command.finished:
            return
        command.state = "TIMEOUT"
        command.message = "no CommandResult arrived before the CPO's timeout"
        command.finished_at = utcnow()
        await self._save_command(command)
        command.done.set()

    async def _send_command(
        self, command: CommandState, body: StartSession | StopSession | ReserveNow, to: PartyRef
    ) -> CommandState:
        self.commands[command.id] = command
        await self._save_command(command)
        try:
            url = self.hub_url(ModuleID.COMMANDS, InterfaceRole.RECEIVER, command.command.value)
            answer = await self._client().post(url, body, to=to)
            response = answer.parse(CommandResponse)
        except (OcpiError, httpx.HTTPError) as exc:
            # Spec mod_commands: 2003 with REJECTED for an unknown location; hub errors 4xxx.
            data = getattr(exc, "data", None)
            rejected = isinstance(data, dict) and data.get("result")
            command.state = str(rejected) if rejected else "FAILED"
            command.response = str(rejected) if rejected else None
            command.message = str(exc)
        except AppError as exc:
            command.state, command.message = "FAILED", exc.message
        else:
            command.response = response.result.value
            command.message = _display(response.message)
            if response.result is CommandResponseType.ACCEPTED:
                if command.result is None:  # the result may have come before this answer
                    wait = min(float(response.timeout), self.settings.command_timeout)
                    command.state = "PENDING"
                    command.deadline = utcnow() + timedelta(seconds=wait)
                    self._arm_timer(command.id, wait)
            else:
                command.state = response.result.value
        if command.state != "PENDING" and not command.finished:
            command.state = "FAILED"
        if command.finished:
            command.finished_at = command.finished_at or utcnow()
            command.done.set()
        await self._save_command(command)
        return command

    async def command_result(self, kind: str, command_id: str, result: CommandResult) -> None:
        """A CommandResult POSTed to one of our response_urls."""
        command = self.commands.get(command_id)
        if command is None or command.command.value != kind:
            raise LookupError(f"no {kind} command {command_id} was sent by this eMSP")
        timer = self._timers.pop(command_id, None)
        if timer is not None:
            timer.cancel()
        if command.finished:
            # Too late (after TIMEOUT) or a repeat: recorded, the outcome stays as reported.
            command.late_result = result.result.value
        else:
            command.state = result.result.value
            command.result = result.result.value
            command.message = _display(result.message) or command.message
            command.finished_at = utcnow()
        await self._save_command(command)
        command.done.set()

    async def wait_command(self, command_id: str, within: float | None = None) -> CommandState:
        command = self.commands[command_id]
        limit = within if within is not None else self.settings.command_timeout + 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(command.done.wait(), limit)
        return command

    # --- the driver app -----------------------------------------------------------------------
    def driver(self, driver_id: str) -> DriverSettings:
        found = self.drivers.get(driver_id)
        if found is None:
            raise AppError(f"driver {driver_id} is not known here", 404)
        return found

    def driver_tokens(self, driver_id: str) -> list[Token]:
        self.driver(driver_id)
        return [t for k, t in self.tokens.items() if self.token_driver.get(k) == driver_id]

    def driver_json(self, driver_id: str) -> dict[str, Any]:
        driver = self.driver(driver_id)
        return {
            "id": driver.id,
            "name": driver.name,
            "tokens": [t.to_json() for t in self.driver_tokens(driver_id)],
        }

    def search(self, query: MapQuery) -> list[MapHit]:
        return self.index.search(query)

    def _target(
        self, country_code: str, party_id: str, location_id: str, evse_uid: str
    ) -> Location:
        location = self.location(country_code, party_id, location_id)
        if location is None:
            raise AppError(f"location {country_code}/{party_id}/{location_id} is not known", 404)
        try:
            objects.find_evse(location, evse_uid)
        except objects.MissingParent:
            raise AppError(f"location {location_id} has no EVSE {evse_uid}", 404) from None
        return location

    def quote(
        self,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str,
        connector_id: str,
        plan: PlannedSession,
    ) -> Quote | None:
        """The price of `plan` at a connector (None: the connector has no tariff: free)."""
        location = self._target(country_code, party_id, location_id, evse_uid)
        try:
            connector = objects.find_connector(location, evse_uid, connector_id)
        except objects.MissingParent as exc:
            raise AppError(str(exc), 404) from None
        if not connector.tariff_ids:
            return None
        tariff = billing.tariff_for_connector(
            connector.tariff_ids, self.tariffs_of(country_code, party_id), plan.start_date_time
        )
        if tariff is None:
            raise AppError(
                f"none of the connector's tariffs ({', '.join(connector.tariff_ids)}) is known "
                "here and valid at the planned start",
                409,
            )
        try:
            return quote(tariff, connector, plan, location.time_zone)
        except PricingError as exc:
            raise AppError(str(exc), 400) from None

    def _app_token(self, driver_id: str) -> Token:
        tokens = [t for t in self.driver_tokens(driver_id) if t.valid]
        tokens.sort(key=lambda t: t.type is not TokenType.APP_USER)
        if not tokens:
            raise AppError(f"driver {driver_id} has no valid token", 409)
        return tokens[0]

    async def start_charging(
        self,
        driver_id: str,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str,
        connector_id: str | None = None,
    ) -> CommandState:
        """START_SESSION through the hub (TO = the location's CPO), for the driver's token."""
        token = self._app_token(driver_id)
        location = self._target(country_code, party_id, location_id, evse_uid)
        if connector_id is not None:
            try:
                objects.find_connector(location, evse_uid, connector_id)
            except objects.MissingParent as exc:
                raise AppError(str(exc), 404) from None
        command_id = uuid.uuid4().hex
        body = StartSession(
            response_url=self.response_url(CommandType.START_SESSION, command_id),
            token=token,
            location_id=location.id,
            evse_uid=evse_uid,
            connector_id=connector_id,
            authorization_reference=command_id,
        )
        target = {"evse_uid": evse_uid, "connector_id": connector_id, "token_uid": token.uid}
        return await self._command_at(location, driver_id, command_id, body, target)

    async def _command_at(
        self,
        location: Location,
        driver_id: str,
        command_id: str,
        body: StartSession | ReserveNow,
        target: dict[str, Any],
    ) -> CommandState:
        """Record and send a command for a location to the location's CPO (TO = that CPO)."""
        to = PartyRef(location.country_code, location.party_id)
        command = CommandState(
            id=command_id,
            command=CommandType.START_SESSION
            if isinstance(body, StartSession)
            else CommandType.RESERVE_NOW,
            driver_id=driver_id,
            to=str(to),
            target={
                "country_code": to.country_code,
                "party_id": to.party_id,
                "location_id": location.id,
                **target,
            },
        )
        return await self._send_command(command, body, to)

    async def reserve(
        self,
        driver_id: str,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str | None,
        expiry_date: datetime,
    ) -> CommandState:
        """RESERVE_NOW through the hub for the driver's app token, until `expiry_date` (the
        CPO's time). The reservation id is the command id; a later START_SESSION with the
        same token may use the reserved EVSE (spec mod_commands ReserveNow)."""
        token = self._app_token(driver_id)
        if evse_uid is None:
            location = self.location(country_code, party_id, location_id)
            if location is None:
                raise AppError(
                    f"location {country_code}/{party_id}/{location_id} is not known", 404
                )
        else:
            location = self._target(country_code, party_id, location_id, evse_uid)
        command_id = uuid.uuid4().hex
        body = ReserveNow(
            response_url=self.response_url(CommandType.RESERVE_NOW, command_id),
            token=token,
            expiry_date=expiry_date,
            reservation_id=command_id,
            location_id=location.id,
            evse_uid=evse_uid,
            authorization_reference=command_id,
        )
        target = {"evse_uid": evse_uid, "token_uid": token.uid, "expiry_date": stamp(expiry_date)}
        return await self._command_at(location, driver_id, command_id, body, target)

    def driver_sessions(self, driver_id: str) -> list[Session]:
        mine = {token_key(t.uid, t.type) for t in self.driver_tokens(driver_id)}
        found = [
            s
            for s in self.sessions.values()
            if token_key(s.cdr_token.uid, s.cdr_token.type) in mine
        ]
        return sorted(found, key=lambda s: s.start_date_time, reverse=True)

    def driver_session(self, driver_id: str, session_id: str) -> Session:
        for session in self.driver_sessions(driver_id):
            if session.id == session_id:
                return session
        raise AppError(f"driver {driver_id} has no session {session_id}", 404)

    async def stop_charging(self, driver_id: str, session_id: str) -> CommandState:
        """STOP_SESSION through the hub (TO = the session's CPO)."""
        session = self.driver_session(driver_id, session_id)
        if session.status not in _OPEN:
            raise AppError(f"session {session_id} is {session.status.value}: nothing to stop")
        command_id = uuid.uuid4().hex
        body = StopSession(
            response_url=self.response_url(CommandType.STOP_SESSION, command_id),
            session_id=session.id,
        )
        to = PartyRef(session.country_code, session.party_id)
        command = CommandState(
            id=command_id,
            command=CommandType.STOP_SESSION,
            driver_id=driver_id,
            to=str(to),
            target={
                "country_code": to.country_code,
                "party_id": to.party_id,
                "session_id": session.id,
            },
        )
        return await self._send_command(command, body, to)

    def command(self, command_id: str) -> CommandState:
        found = self.commands.get(command_id)
        if found is None:
            raise AppError(f"command {command_id} is not known here", 404)
        return found

    def driver_invoices(self, driver_id: str) -> list[StoredInvoice]:
        self.driver(driver_id)
        return [i for i in self.invoices if i.driver_id == driver_id]

    def invoice(self, invoice_id: int) -> StoredInvoice:
        for item in self.invoices:
            if item.id == invoice_id:
                return item
        raise AppError(f"invoice {invoice_id} is not known here", 404)

    # --- re-sync (spec: after an outage, pull; digest §5 phase 5.5) ---------------------------
    async def _pull(
        self, module: ModuleID, model: type[M], date_from: datetime | None
    ) -> tuple[list[M], datetime]:
        """A paginated GET-all from the hub (TO = the hub: answered from its copies), of what
        changed since `date_from` (None: everything); with the time it started."""
        started = utcnow()
        url = self.hub_url(module, InterfaceRole.SENDER)
        page = PageRequest(date_from=date_from)
        return await self._client().get_all(url, model, page, to=self.hub_party), started

    def pull_from(self, module: ModuleID, *, full: bool = False) -> datetime | None:
        """`date_from` of the next pull of `module`: the mark of its last complete pull, or
        (first sync, or `full`) none, except for Sessions where it is required."""
        mark = None if full else self.pull_marks.get(module)
        if mark is not None:
            return mark.date_from
        return SESSIONS_FLOOR if module is ModuleID.SESSIONS else None

    async def resync(self, *, full: bool = False) -> dict[str, Any]:
        """Pull locations, tariffs, sessions and CDRs from the hub and converge.

        A module pulled before is pulled incrementally: `date_from` = the mark of its last
        complete pull (`objects.PullMark`). The first pull of a module, and every pull when
        `full`, is a complete GET-all (Sessions: from the epoch, `date_from` being required
        there). Locations and tariffs a complete pull lacks are gone (deleted here); a delta
        deletes nothing. Sessions are replaced when newer; CDRs not seen yet are stored and
        invoiced. Nothing is applied, and no mark moves, unless every page of every module
        came in; the marks are written last, after what they cover.
        """
        async with self._resync_lock:
            return await self._resync(full)

    async def _resync(self, full: bool) -> dict[str, Any]:
        since = {module: self.pull_from(module, full=full) for module in PULLED}
        complete = {module: full or module not in self.pull_marks for module in PULLED}
        locations, loc_started = await self._pull(
            ModuleID.LOCATIONS, Location, since[ModuleID.LOCATIONS]
        )
        tariffs, tariff_started = await self._pull(
            ModuleID.TARIFFS, Tariff, since[ModuleID.TARIFFS]
        )
        sessions, session_started = await self._pull(
            ModuleID.SESSIONS, Session, since[ModuleID.SESSIONS]
        )
        cdrs, cdr_started = await self._pull(ModuleID.CDRS, CDR, since[ModuleID.CDRS])
        async with self.lock:
            loc_diff = objects.sync_diff(
                {k: (v.last_updated, v) for k, v in self.locations.items()},
                {key_of(x): (x.last_updated, x) for x in locations},
                complete=complete[ModuleID.LOCATIONS],
            )
            await asyncio.to_thread(
                self.store.save_objects,
                "location",
                [
                    StoredObject(k, v.model_dump_json(exclude_none=True), v.last_updated)
                    for k, v in loc_diff.upserts.items()
                ],
                sorted(loc_diff.gone),
            )
            for key in loc_diff.gone:
                self.locations.pop(key, None)
                self.index.remove(key)
            for key, location in loc_diff.upserts.items():
                self.locations[key] = location
                self.index.put(location)
            tariff_diff = objects.sync_diff(
                {k: (v.last_updated, v) for k, v in self.tariffs.items()},
                {
                    object_key(t.country_code, t.party_id, t.id): (t.last_updated, t)
                    for t in tariffs
                },
                complete=complete[ModuleID.TARIFFS],
            )
            await asyncio.to_thread(
                self.store.save_objects,
                "tariff",
                [
                    StoredObject(k, v.model_dump_json(exclude_none=True), v.last_updated)
                    for k, v in tariff_diff.upserts.items()
                ],
                sorted(tariff_diff.gone),
            )
            for key in tariff_diff.gone:
                self.tariffs.pop(key, None)
            self.tariffs.update(tariff_diff.upserts)
            newer = [
                s
                for s in sessions
                if (known := self.sessions.get(object_key(s.country_code, s.party_id, s.id)))
                is None
                or s.last_updated > known.last_updated
            ]
        for session in newer:
            await self.store_session(session)
        new_cdrs = 0
        for cdr in cdrs:
            new_cdrs += int(await self.receive_cdr(cdr))

        def when(module: ModuleID) -> str | None:
            value = since[module]
            return format_datetime(value) if value is not None else None

        report: dict[str, Any] = {
            "at": stamp(utcnow()),
            "full": all(complete.values()),
            "locations": {
                "date_from": when(ModuleID.LOCATIONS),
                "pulled": len(locations),
                "stored": len(loc_diff.upserts),
                "gone": len(loc_diff.gone),
            },
            "tariffs": {
                "date_from": when(ModuleID.TARIFFS),
                "pulled": len(tariffs),
                "stored": len(tariff_diff.upserts),
                "gone": len(tariff_diff.gone),
            },
            "sessions": {
                "date_from": when(ModuleID.SESSIONS),
                "pulled": len(sessions),
                "stored": len(newer),
            },
            "cdrs": {"date_from": when(ModuleID.CDRS), "pulled": len(cdrs), "new": new_cdrs},
        }
        pulled: dict[ModuleID, tuple[datetime, list[datetime]]] = {
            ModuleID.LOCATIONS: (loc_started, [x.last_updated for x in locations]),
            ModuleID.TARIFFS: (tariff_started, [x.last_updated for x in tariffs]),
            ModuleID.SESSIONS: (session_started, [x.last_updated for x in sessions]),
            ModuleID.CDRS: (cdr_started, [x.last_updated for x in cdrs]),
        }
        marks: dict[ModuleID, objects.PullMark] = {}
        for module, (started, stamps) in pulled.items():
            previous = None if complete[module] else self.pull_marks.get(module)
            mark = objects.next_mark(previous, started, stamps)
            if mark is not None:
                marks[module] = mark
        facts: dict[str, str | None] = {
            _mark_key(m): json.dumps(marks[m].to_json()) if m in marks else None for m in PULLED
        }
        facts["last_resync"] = json.dumps(report)
        await asyncio.to_thread(self.store.set_states, facts)
        self.pull_marks = marks
        self.last_resync = report
        return report

    # --- views --------------------------------------------------------------------------------
    def session_view(self, session: Session) -> dict[str, Any]:
        """What the app shows of a session: energy, power now, cost so far."""
        power: Decimal | None = None
        periods = session.charging_periods or []
        if periods and session.status is SessionStatus.ACTIVE:
            last = periods[-1]
            dims = {d.type: d.volume for d in last.dimensions}
            if CdrDimensionType.POWER in dims:
                power = dims[CdrDimensionType.POWER]
            elif dims.get(CdrDimensionType.TIME):
                power = dims.get(CdrDimensionType.ENERGY, Decimal(0)) / dims[CdrDimensionType.TIME]
        return {
            "country_code": session.country_code,
            "party_id": session.party_id,
            "id": session.id,
            "status": session.status.value,
            "location_id": session.location_id,
            "evse_uid": session.evse_uid,
            "connector_id": session.connector_id,
            "start_date_time": stamp(session.start_date_time),
            "end_date_time": stamp(session.end_date_time) if session.end_date_time else None,
            "kwh": float(session.kwh),
            "power_kw": None if power is None else float(round(power, 3)),
            "currency": session.currency,
            "cost_so_far": None if session.total_cost is None else session.total_cost.to_json(),
            "token_uid": session.cdr_token.uid,
            "last_updated": stamp(session.last_updated),
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "party": str(self.party),
            "registered": self.registration.is_registered,
            "locations": len(self.locations),
            "evses_on_map": self.index.evse_count,
            "tariffs": len(self.tariffs),
            "sessions": len(self.sessions),
            "cdrs": len(self.cdrs),
            "invoices": len(self.invoices),
            "review": sum(1 for i in self.invoices if i.status == InvoiceStatus.REVIEW.value),
            "drivers": len(self.drivers),
            "last_resync": self.last_resync,
            "pull_marks": {
                m.value: format_datetime(mark.date_from)
                if (mark := self.pull_marks.get(m))
                else None
                for m in PULLED
            },
        }
