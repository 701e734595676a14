"""What a member service runs besides its state: its HTTP client, background tasks, retries.

`MemberRuntime` owns the httpx client a service calls its hub with (unless a test injects
one), the tasks it started in the background (`spawn`, `drain`, `close`), and the
registration retry (`register_later`: real seconds, since the hub's availability is not
simulated). `member_registration` builds the service's `Registration` from its settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx

from ocpi.client import http_client
from ocpi.errors import OcpiError
from ocpi.platform.adapters import V211Context, adapter_for
from ocpi.platform.peer import PeerStore
from ocpi.platform.registration import Registration
from ocpi.platform.settings import MemberSettings
from ocpi.v221.credentials import CredentialsRole
from ocpi.v221.locations import BusinessDetails
from ocpi.v221.types import Role

REGISTRATION_RETRY_MIN = 0.25
REGISTRATION_RETRY_MAX = 60.0
"""Real seconds between two registration attempts: doubling from the first, within these."""


class MemberRuntime:
    """The HTTP client and the background tasks of one member service."""

    def __init__(self, http: httpx.AsyncClient | None, log: logging.Logger) -> None:
        self.owns_http = http is None
        self.http = http or http_client(30.0)
        self.log = log
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run `work` in the background; it is kept until done (drain waits for it)."""
        task: asyncio.Task[None] = asyncio.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait until every spawned task has finished (including those spawned meanwhile)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel every spawned task and wait for them to end."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def close(self) -> None:
        """Cancel what still runs and close the HTTP client if the runtime created it."""
        await self.cancel()
        if self.owns_http:
            await self.http.aclose()

    def register_later(
        self,
        register: Callable[[], Awaitable[object]],
        registration: Registration,
        *,
        first: float = 0.0,
    ) -> None:
        """Call `register()` after `first` seconds, again with a doubling delay while it
        fails (OcpiError, ValueError), until the registration has a peer."""
        self.spawn(self._retry(register, registration, first), "register")

    async def _retry(
        self, register: Callable[[], Awaitable[object]], registration: Registration, delay: float
    ) -> None:
        while registration.peer is None:
            await asyncio.sleep(delay)
            try:
                await register()
            except (OcpiError, ValueError) as exc:
                self.log.warning("registration with the hub failed: %s; retrying", exc)
                delay = min(max(delay * 2, REGISTRATION_RETRY_MIN), REGISTRATION_RETRY_MAX)


def member_registration(
    http: httpx.AsyncClient,
    peers: PeerStore,
    settings: MemberSettings,
    role: Role,
    context: V211Context | None = None,
) -> Registration:
    """The Registration of a member with one role: versions at `{public_url}/ocpi/versions`,
    business_details.name = settings.name, token A from `settings.accept_token_a`, speaking
    `settings.version` (for 2.1.1, translating with what `context` reads of its state)."""
    return Registration(
        http,
        peers,
        versions_url=f"{settings.public_url}/ocpi/versions",
        roles=[
            CredentialsRole(
                role=role,
                business_details=BusinessDetails(name=settings.name),
                country_code=settings.country_code,
                party_id=settings.party_id,
            )
        ],
        token_a=settings.accept_token_a,
        version=adapter_for(settings.version, role, context),
        public_url=settings.public_url,
        raw_tokens=settings.sends_raw_tokens,
    )
