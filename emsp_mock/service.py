"""The mock eMSP: its state, its link to the hub, and the parts working over them.

`Emsp` is created by `create_app`; `start()`/`stop()` run in the app's lifespan (tests call
them directly). It composes, and owns the start-up order; the work is done by its parts:

* `state.EmspState`   what the eMSP holds, changed only under its lock (`changing()`)
* `link.HubLink`      the one place that sends to the hub (background work: the kit's
                      `MemberRuntime`)
* `receivers`         what CPOs and the hub send us (Locations … CDRs; HubClientInfo through
                      the kit's `ClientInfoReceiver`)
* `tokens`            our tokens from the configured drivers; real-time authorization
* `commands`          commands sent for drivers, their deadlines and results
* `resync.Resync`     pulling from the hub after an outage
* `driver_app`        the app's operations: map, quote, start/stop/reserve, invoices

Decisions are made by the pure modules (`objects` for receiver rules and the re-sync diff,
`search` for the map, `billing` for the invoice check).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import httpx

from emsp_mock import tokens
from emsp_mock.billing import InvoiceStatus
from emsp_mock.commands import CommandSender, CommandState
from emsp_mock.driver_app import DriverApp, session_view
from emsp_mock.link import FUNCTIONAL_BASE, HubLink
from emsp_mock.receivers import Receivers
from emsp_mock.resync import Resync
from emsp_mock.search import MapIndex
from emsp_mock.settings import EmspSettings
from emsp_mock.shelf import LocationShelf
from emsp_mock.state import EmspState
from emsp_mock.store import ObjectKey, Store, StoredInvoice, make_engine
from ocpi.errors import OcpiError
from ocpi.platform import OperationError, PartyKey, PeerState, V211Context, driver_with
from ocpi.v221.cdrs import CDR, CdrToken
from ocpi.v221.hubclientinfo import ClientInfo
from ocpi.v221.locations import Location
from ocpi.v221.sessions import Session
from ocpi.v221.tariffs import Tariff
from ocpi.v221.tokens import Token

__all__ = ["FUNCTIONAL_BASE", "AppError", "CommandState", "Emsp"]

log = logging.getLogger("emsp_mock")

AppError = OperationError
"""The app API's refusal: the kit's error of member operations (roam's scenarios import it)."""


class Emsp:
    """One eMSP platform: lifecycle, and the calls the API, the demo and the scenarios make."""

    def __init__(self, settings: EmspSettings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.party = settings.party
        self.store = Store(make_engine(settings.database_url))
        self.state = EmspState(settings, self.store)
        # For 2.1.1, whose Sessions and CDRs name the driver by contract id only.
        context = V211Context(
            location=self._location_of, tariffs=self.state.tariffs_of, driver=self._driver
        )
        self.link = HubLink(settings, self.store, http, context)
        self.registration = self.link.registration
        self.http = self.link.http
        self.sender = CommandSender(self.state, self.link)
        self.receivers = Receivers(self.state, self.link)
        self.syncer = Resync(self.state, self.link)
        self.receivers.on_cpo_back = self._resync_soon
        self.driver_app = DriverApp(self.state, self.sender)
        self.started = False
        # The calls the API, the demo and the scenarios make, bound to the part doing them.
        self.location = self.state.location
        self.store_location = self.receivers.store_location
        self.receive_cdr = self.receivers.receive_cdr
        self.put_client_info = self.receivers.client_info.receive
        self.authorize = partial(tokens.authorize, self.state)
        self.command_result = self.sender.result
        self.wait_command = self.sender.wait
        self.search = self.driver_app.search
        self.quote = self.driver_app.quote
        self.start_charging = self.driver_app.start_charging
        self.reserve = self.driver_app.reserve
        self.stop_charging = self.driver_app.stop_charging
        self.driver_sessions = self.driver_app.driver_sessions
        self.session_view = session_view

    def _location_of(self, country_code: str, party_id: str, location_id: str) -> Location | None:
        """A stored Location for a 2.1.1 Session or CDR to embed: the owner's; else, for an
        object of the hub (a 2.1.1 CDR names no owner), the only Location with that id."""
        found = self.state.location(country_code, party_id, location_id)
        if found is not None:
            return found
        keys = [key for key in self.state.locations if key[2] == location_id]
        return self.state.locations[keys[0]] if len(keys) == 1 else None

    def _driver(self, contract_id: str) -> CdrToken | None:
        """This eMSP's token with `contract_id`, as a CdrToken (a 2.1.1 `auth_id`)."""
        return driver_with(self.state.tokens.values(), contract_id)

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self, *, register_now: bool = True) -> None:
        """Load the state, register with the hub if needed (else re-sync), serve.

        `register_now=False` does the network work in the background: under a server the
        hub calls back (GET our versions with token B) only once the socket listens.
        """
        await self.state.load()
        await self.receivers.load()
        await self.syncer.load()
        await self.sender.load()
        await self.registration.load()
        async with self.state.changing() as change:
            changed = await tokens.sync_tokens(change)
        self.started = True
        hub = self.settings.hub
        if self.registration.peer is None:
            if hub is not None and hub.token_a:
                if register_now:
                    await self.register()
                else:
                    self.link.runtime.register_later(self.register, self.registration)
            return
        for token in changed:
            self.link.push_token(token, None)
        if self.settings.resync_on_start:
            if register_now:
                await self.resync()
            else:
                self.link.runtime.spawn(self._resync_quietly(), "resync")

    async def stop(self) -> None:
        self.sender.close()
        await self.link.close()
        self.store.engine.dispose()
        self.started = False

    async def drain(self) -> None:
        """Wait until every background push has finished (tests and shutdown)."""
        await self.link.runtime.drain()

    def _resync_soon(self) -> None:
        """Re-sync in the background (a CPO is back: what it changed meanwhile is pulled)."""
        self.link.runtime.spawn(self._resync_quietly(), "resync")

    async def _resync_quietly(self) -> None:
        try:
            await self.resync()
        except (OcpiError, httpx.HTTPError, RuntimeError) as exc:
            log.warning("re-sync with the hub failed: %s", exc)

    async def register(self, hub: tuple[str, str] | None = None) -> PeerState:
        """Member-initiated handshake with the configured hub, then broadcast our tokens."""
        versions_url, token_a = hub or self.settings.configured_hub()
        peer = await self.registration.register(versions_url, token_a)
        if self.settings.push_tokens_on_register:
            for token in self.state.tokens.values():
                self.link.push_token(token, None)
        return peer

    async def resync(self, *, full: bool = False) -> dict[str, Any]:
        """Pull locations, tariffs, sessions and CDRs from the hub and converge (`resync`)."""
        return await self.syncer.run(full=full)

    # --- what is held (read freely; changed only through the state's lock) -------------------
    @property
    def locations(self) -> LocationShelf:
        return self.state.locations

    @property
    def index(self) -> MapIndex:
        return self.state.index

    @property
    def tariffs(self) -> dict[ObjectKey, Tariff]:
        return self.state.tariffs

    @property
    def sessions(self) -> dict[ObjectKey, Session]:
        return self.state.sessions

    @property
    def tokens(self) -> dict[tuple[str, str], Token]:
        return self.state.tokens

    @property
    def cdrs(self) -> dict[ObjectKey, CDR]:
        return self.state.cdrs

    @property
    def invoices(self) -> list[StoredInvoice]:
        return self.state.invoices

    @property
    def commands(self) -> dict[str, CommandState]:
        return self.state.commands

    @property
    def parties(self) -> dict[PartyKey, ClientInfo]:
        """What the hub told us about each party (HubClientInfo)."""
        return {key: party.info for key, party in self.receivers.client_info.parties.items()}

    @property
    def last_resync(self) -> dict[str, Any] | None:
        return self.syncer.last_resync

    def snapshot(self) -> dict[str, Any]:
        state = self.state
        return {
            "party": str(self.party),
            "registered": self.registration.is_registered,
            "locations": len(state.locations),
            "evses_on_map": state.index.evse_count,
            "tariffs": len(state.tariffs),
            "sessions": len(state.sessions),
            "cdrs": len(state.cdrs),
            "invoices": len(state.invoices),
            "review": sum(1 for i in state.invoices if i.status == InvoiceStatus.REVIEW.value),
            "drivers": len(state.drivers),
            "last_resync": self.syncer.last_resync,
            "pull_marks": self.syncer.next_marks(),
            "parties": [
                {
                    "country_code": info.country_code,
                    "party_id": info.party_id,
                    "role": info.role.value,
                    "status": info.status.value,
                }
                for info in self.parties.values()
            ],
        }
