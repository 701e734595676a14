"""The driver app's operations over the eMSP's state: drivers and their tokens, the map, a
price before starting, start/stop/reserve through the hub, sessions live, invoices.

Refusals are the kit's `OperationError` (the app API answers `{"error": …}` with its HTTP
status).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from emsp_mock import billing, objects
from emsp_mock.commands import CommandSender, CommandState
from emsp_mock.search import MapHit, MapQuery
from emsp_mock.settings import DriverSettings
from emsp_mock.state import EmspState, stamp, token_key
from emsp_mock.store import StoredInvoice
from ocpi.headers import PartyRef
from ocpi.platform import OperationError
from ocpi.pricing import PlannedSession, PricingError, Quote, quote
from ocpi.v221.cdrs import CdrDimensionType
from ocpi.v221.commands import CommandType, ReserveNow, StartSession, StopSession
from ocpi.v221.locations import Location
from ocpi.v221.sessions import Session, SessionStatus
from ocpi.v221.tokens import Token, TokenType

OPEN = (SessionStatus.ACTIVE, SessionStatus.PENDING, SessionStatus.RESERVATION)
"""Session statuses a STOP_SESSION makes sense for."""


def session_view(session: Session) -> dict[str, Any]:
    """What the app shows of a session: energy, power now, cost so far."""
    power: Decimal | None = None
    periods = session.charging_periods or []
    if periods and session.status is SessionStatus.ACTIVE:
        dims = {d.type: d.volume for d in periods[-1].dimensions}
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


class DriverApp:
    """The back end of the driver's app."""

    def __init__(self, state: EmspState, commands: CommandSender) -> None:
        self.state = state
        self.commands = commands

    # --- drivers ------------------------------------------------------------------------------
    def driver(self, driver_id: str) -> DriverSettings:
        found = self.state.drivers.get(driver_id)
        if found is None:
            raise OperationError(f"driver {driver_id} is not known here", 404)
        return found

    def driver_tokens(self, driver_id: str) -> list[Token]:
        self.driver(driver_id)
        return [
            t for k, t in self.state.tokens.items() if self.state.token_driver.get(k) == driver_id
        ]

    def driver_json(self, driver_id: str) -> dict[str, Any]:
        driver = self.driver(driver_id)
        return {
            "id": driver.id,
            "name": driver.name,
            "tokens": [t.to_json() for t in self.driver_tokens(driver_id)],
        }

    def _app_token(self, driver_id: str) -> Token:
        tokens = [t for t in self.driver_tokens(driver_id) if t.valid]
        tokens.sort(key=lambda t: t.type is not TokenType.APP_USER)
        if not tokens:
            raise OperationError(f"driver {driver_id} has no valid token", 409)
        return tokens[0]

    # --- the map and prices -------------------------------------------------------------------
    def search(self, query: MapQuery) -> list[MapHit]:
        return self.state.index.search(query, self.state.locations)

    def _location(self, country_code: str, party_id: str, location_id: str) -> Location:
        location = self.state.location(country_code, party_id, location_id)
        if location is None:
            raise OperationError(
                f"location {country_code}/{party_id}/{location_id} is not known", 404
            )
        return location

    def _target(
        self, country_code: str, party_id: str, location_id: str, evse_uid: str
    ) -> Location:
        location = self._location(country_code, party_id, location_id)
        try:
            objects.find_evse(location, evse_uid)
        except objects.MissingParent:
            raise OperationError(f"location {location_id} has no EVSE {evse_uid}", 404) from None
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
            raise OperationError(str(exc), 404) from None
        if not connector.tariff_ids:
            return None
        tariff = billing.tariff_for_connector(
            connector.tariff_ids,
            self.state.tariffs_of(country_code, party_id),
            plan.start_date_time,
        )
        if tariff is None:
            raise OperationError(
                f"none of the connector's tariffs ({', '.join(connector.tariff_ids)}) is known "
                "here and valid at the planned start",
                409,
            )
        try:
            return quote(tariff, connector, plan, location.time_zone)
        except PricingError as exc:
            raise OperationError(str(exc), 400) from None

    # --- commands -----------------------------------------------------------------------------
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
                raise OperationError(str(exc), 404) from None
        command_id = uuid.uuid4().hex
        body = StartSession(
            response_url=self.commands.response_url(CommandType.START_SESSION, command_id),
            token=token,
            location_id=location.id,
            evse_uid=evse_uid,
            connector_id=connector_id,
            authorization_reference=command_id,
        )
        target = {"evse_uid": evse_uid, "connector_id": connector_id, "token_uid": token.uid}
        return await self.commands.send_at(location, driver_id, command_id, body, target)

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
            location = self._location(country_code, party_id, location_id)
        else:
            location = self._target(country_code, party_id, location_id, evse_uid)
        command_id = uuid.uuid4().hex
        body = ReserveNow(
            response_url=self.commands.response_url(CommandType.RESERVE_NOW, command_id),
            token=token,
            expiry_date=expiry_date,
            reservation_id=command_id,
            location_id=location.id,
            evse_uid=evse_uid,
            authorization_reference=command_id,
        )
        target = {"evse_uid": evse_uid, "token_uid": token.uid, "expiry_date": stamp(expiry_date)}
        return await self.commands.send_at(location, driver_id, command_id, body, target)

    async def stop_charging(self, driver_id: str, session_id: str) -> CommandState:
        """STOP_SESSION through the hub (TO = the session's CPO)."""
        session = self.driver_session(driver_id, session_id)
        if session.status not in OPEN:
            raise OperationError(f"session {session_id} is {session.status.value}: nothing to stop")
        command_id = uuid.uuid4().hex
        body = StopSession(
            response_url=self.commands.response_url(CommandType.STOP_SESSION, command_id),
            session_id=session.id,
        )
        to = PartyRef(session.country_code, session.party_id)
        target = {
            "country_code": to.country_code,
            "party_id": to.party_id,
            "session_id": session.id,
        }
        command = CommandState(command_id, CommandType.STOP_SESSION, driver_id, str(to), target)
        return await self.commands.send(command, body, to)

    # --- sessions and invoices ----------------------------------------------------------------
    def driver_sessions(self, driver_id: str) -> list[Session]:
        mine = {token_key(t.uid, t.type) for t in self.driver_tokens(driver_id)}
        found = [
            s
            for s in self.state.sessions.values()
            if token_key(s.cdr_token.uid, s.cdr_token.type) in mine
        ]
        return sorted(found, key=lambda s: s.start_date_time, reverse=True)

    def driver_session(self, driver_id: str, session_id: str) -> Session:
        for session in self.driver_sessions(driver_id):
            if session.id == session_id:
                return session
        raise OperationError(f"driver {driver_id} has no session {session_id}", 404)

    def driver_invoices(self, driver_id: str) -> list[StoredInvoice]:
        self.driver(driver_id)
        return [i for i in self.state.invoices if i.driver_id == driver_id]

    def invoice(self, invoice_id: int) -> StoredInvoice:
        for item in self.state.invoices:
            if item.id == invoice_id:
                return item
        raise OperationError(f"invoice {invoice_id} is not known here", 404)
