"""What the eMSP receives from CPOs and from its hub, as changes of the state: Locations,
Tariffs and Sessions kept as sent, a CDR kept with its invoice (spec mod_cdrs), and the hub's
HubClientInfo. The endpoints (api/ocpi.py) have validated the body; each change here holds
the state's lock (`EmspState.changing`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote as url_quote

from emsp_mock import billing
from emsp_mock.billing import InvoiceStatus
from emsp_mock.link import HubLink
from emsp_mock.search import LocationKey
from emsp_mock.state import Change, EmspState, object_key, utcnow
from emsp_mock.store import ObjectKey
from ocpi.headers import PartyRef
from ocpi.platform import ClientInfoReceiver, KnownParty
from ocpi.v221.cdrs import CDR
from ocpi.v221.hubclientinfo import ClientInfo
from ocpi.v221.locations import Location
from ocpi.v221.sessions import Session
from ocpi.v221.tariffs import Tariff
from ocpi.v221.types import Role

log = logging.getLogger("emsp_mock")


async def bill_cdr(change: Change, cdr: CDR) -> bool:
    """Keep the CDR with its invoice; False when this CDR id was received before (it is then
    neither stored nor billed again)."""
    state = change.state
    if (cdr.country_code.upper(), cdr.party_id.upper(), cdr.id) in state.cdrs:
        return False
    location = state.location(cdr.country_code, cdr.party_id, cdr.cdr_location.id)
    # The CDR has no time zone; restrictions are read in the Location's (UTC if the location
    # is unknown: a CDR priced in another zone then goes to REVIEW).
    time_zone = location.time_zone if location is not None else "UTC"
    if cdr.credit:
        credited = object_key(cdr.country_code, cdr.party_id, cdr.credit_reference_id or "")
        paid = next((i.status for i in state.invoices if i.cdr_key == credited), None)
        draft = billing.check_credit(cdr, state.cdrs.get(credited), paid)
    else:
        tariffs = state.tariffs_of(cdr.country_code, cdr.party_id)
        draft = billing.check_cdr(cdr, tariffs, time_zone)
    driver = state.driver_of(cdr.cdr_token.uid, cdr.cdr_token.type)
    body = draft.to_json()
    status = draft.status
    if not driver:
        status = InvoiceStatus.REVIEW
        body["reason"] = (
            f"token {cdr.cdr_token.uid} belongs to no driver of this eMSP; " + body["reason"]
        ).rstrip("; ")
    body["status"] = status.value
    session_id = cdr.session_id or filed_session(cdr, state.sessions.values())
    stored = await change.add_cdr(cdr, driver, status.value, body, session_id)
    if stored and status is InvoiceStatus.REVIEW:
        log.warning(
            "CDR %s/%s/%s flagged for review: %s",
            cdr.country_code.upper(),
            cdr.party_id.upper(),
            cdr.id,
            body["reason"],
        )
    return stored


def filed_session(cdr: CDR, sessions: Iterable[Session]) -> str:
    """The session a CDR without `session_id` is of (2.2.1 makes it optional; a CPO on 2.1.1
    has none to give): the one session of the CDR's CPO, Location, EVSE, connector and token
    that started when the CDR starts, else the one running then. "" when not exactly one."""
    place, token = cdr.cdr_location, cdr.cdr_token
    candidates = [
        s
        for s in sessions
        if (s.country_code.upper(), s.party_id.upper())
        == (cdr.country_code.upper(), cdr.party_id.upper())
        and (s.location_id, s.evse_uid, s.connector_id)
        == (place.id, place.evse_uid, place.connector_id)
        and (s.cdr_token.uid, s.cdr_token.type) == (token.uid, token.type)
    ]
    found = [s for s in candidates if s.start_date_time == cdr.start_date_time] or [
        s
        for s in candidates
        if s.start_date_time <= cdr.start_date_time
        and (s.end_date_time is None or cdr.start_date_time <= s.end_date_time)
    ]
    return found[0].id if len(found) == 1 else ""


class Receivers:
    """The receiving side of the eMSP's modules, over its state and its link to the hub."""

    def __init__(self, state: EmspState, link: HubLink) -> None:
        self.state = state
        self.link = link
        self.client_info = ClientInfoReceiver(
            state.lock, now=utcnow, save=self._save_party, on_change=self._party_changed
        )
        """HubClientInfo (the kit's receiver, under the state's lock)."""
        self.on_cpo_back: Callable[[], None] | None = None
        """Starts a re-sync (the service sets it): what a CPO changed while it was not
        CONNECTED never reached us (digest §2.6: no queued pushes), so we pull it."""

    async def load(self) -> None:
        bodies = await asyncio.to_thread(self.state.store.load_client_infos)
        self.client_info.load(KnownParty(ClientInfo.model_validate_json(b)) for b in bodies)

    async def store_location(self, location: Location) -> None:
        """Keep a (new version of a) location: memory, map index and database."""
        async with self.state.changing() as change:
            await change.put_location(location)

    async def patch_evse(self, key: LocationKey, evse_uid: str, changes: dict[str, Any]) -> bool:
        """PATCH one EVSE of a location we hold (`Change.patch_evse`), read, patched and kept
        under the state's lock; False when the location is not held."""
        async with self.state.changing() as change:
            return await change.patch_evse(key, evse_uid, changes)

    async def store_tariff(self, tariff: Tariff) -> bool:
        async with self.state.changing() as change:
            return await change.put_tariff(tariff)

    async def delete_tariff(self, key: ObjectKey) -> bool:
        async with self.state.changing() as change:
            return await change.delete_tariff(key)

    async def store_session(self, session: Session) -> bool:
        async with self.state.changing() as change:
            return await change.put_session(session)

    async def receive_cdr(self, cdr: CDR) -> bool:
        async with self.state.changing() as change:
            return await bill_cdr(change, cdr)

    def cdr_location_url(self, cdr: CDR) -> str:
        """Where the stored CDR can be read (the `Location` header of the POST answer)."""
        parts = (cdr.country_code.upper(), cdr.party_id.upper(), cdr.id)
        return f"{self.link.functional_url}/cdrs/" + "/".join(url_quote(p, safe="") for p in parts)

    async def _save_party(self, party: KnownParty) -> None:
        body = party.info.model_dump_json(exclude_none=True)
        await asyncio.to_thread(self.state.store.save_client_info, party.key, body)

    def _party_changed(self, party: KnownParty, before: KnownParty | None) -> None:
        if party.info.role is Role.CPO and party.connected and not (before and before.connected):
            # A CPO that (re)connected missed our broadcasts: the hub queues nothing (digest
            # §2.4), so every token is PUT to it directly (TO = that CPO).
            to = PartyRef(party.info.country_code, party.info.party_id)
            for token in list(self.state.tokens.values()):
                self.link.push_token(token, to)
            if before is not None and self.on_cpo_back is not None:
                self.on_cpo_back()
