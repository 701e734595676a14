"""A hub's database opened by a program that is not the hub: the command line (`roam hub
invite`, `settlement`, `connect`) and the benchmark, which prepares a database before the hub
process starts. A running hub is asked through `Hub` instead (docs/hub.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from hub.db import make_engine
from hub.directory import Party, Platform, hash_token
from hub.invitations import Invitation, create_invitation
from hub.records import MessageRecord
from hub.settlement import SettlementLine, settle
from hub.store import PUBLIC_URL_STATE, Store, utcnow
from ocpi.headers import PartyRef
from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import Role
from ocpi.v221.versions import InterfaceRole, ModuleID

MESSAGE_TABLE: str = MessageRecord.__tablename__
"""The message log's table, for a reader that counts lines from outside (`roam hub bench`)."""


class HubDatabase:
    """The operations the command line needs on a hub's database (tables created if new)."""

    def __init__(self, database_url: str) -> None:
        self._store = Store(make_engine(database_url))

    def close(self) -> None:
        self._store.engine.dispose()

    def recorded_public_url(self) -> str | None:
        """The public URL of the hub that last started serving from this database."""
        return self._store.get_state(PUBLIC_URL_STATE)

    def admin_token(self) -> str | None:
        """The admin API token a hub generated and kept here (None before its first start)."""
        return self._store.get_state("admin_token")

    def invite(
        self, versions_url: str, parties: Sequence[tuple[Role, PartyRef]] = (), note: str = ""
    ) -> Invitation:
        """A one-time token A, as `Hub.invite` makes it (a hub serving from this database
        accepts it at once; it lists the parties as PLANNED from its next start)."""
        return create_invitation(self._store, versions_url, parties, note)

    def settlement(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[SettlementLine]:
        """What each eMSP owes each CPO, from the CDRs the hub routed (`Hub.settlement`)."""
        cdrs = [c for c in self._store.load_copies() if c.module == ModuleID.CDRS and not c.deleted]
        return settle(cdrs, since, until)

    def add_registered_platform(
        self,
        name: str,
        versions_url: str,
        *,
        token_to_member: str,
        token_from_member: str,
        endpoints: Mapping[tuple[str, InterfaceRole], str],
        parties: Sequence[tuple[Role, PartyRef]],
    ) -> None:
        """Write a platform as a completed credentials handshake leaves it (its parties
        CONNECTED): for a benchmark that must not measure handshakes."""
        self._store.register_platform(
            Platform(
                id=0,
                name=name,
                versions_url=versions_url,
                token_to_member=token_to_member,
                token_hash=hash_token(token_from_member),
                endpoints=dict(endpoints),
                parties=[
                    Party(
                        role=role,
                        ref=ref,
                        status=ConnectionStatus.CONNECTED,
                        last_updated=utcnow(),
                        business_details={"name": name},
                    )
                    for role, ref in parties
                ],
            )
        )


@contextlib.contextmanager
def hub_database(database_url: str) -> Iterator[HubDatabase]:
    """`HubDatabase`, closed afterwards."""
    database = HubDatabase(database_url)
    try:
        yield database
    finally:
        database.close()
