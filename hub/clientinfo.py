"""HubClientInfo (spec mod_hub_client_info): tell every platform who is reachable, and check.

* `announce` PUTs the ClientInfo of changed parties to every other registered platform that
  implements the hubclientinfo Receiver interface (and, for a newly connected platform, the
  ClientInfo of every party it does not host itself).
* `set_platform_status` flips all parties of a platform (CONNECTED <-> OFFLINE) and announces.
* `still_alive_round` GETs the versions endpoint of platforms that have been silent for
  `still_alive_after` seconds (spec: 5 minutes advised) and of OFFLINE ones, to decide;
  `create_app` has the hub run it every `still_alive_interval` seconds (`Hub.every`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from urllib.parse import quote

from hub.directory import Party, Platform
from hub.service import Hub
from hub.store import utcnow
from ocpi.errors import OcpiError
from ocpi.headers import new_request_id
from ocpi.v221.hubclientinfo import ClientInfo, ConnectionStatus
from ocpi.v221.versions import InterfaceRole, ModuleID

log = logging.getLogger("hub.clientinfo")


def client_info(party: Party) -> ClientInfo:
    return ClientInfo(
        party_id=party.ref.party_id,
        country_code=party.ref.country_code,
        role=party.role,
        status=party.status,
        last_updated=party.last_updated,
    )


async def push(hub: Hub, platform: Platform, party: Party) -> bool:
    """PUT one ClientInfo to one platform; True when it answered 1xxx."""
    # The platform as it is now: a push queued before a credentials PUT must use the token
    # B it was given by that PUT, not the one the platform had when the push was planned.
    platform = hub.directory.platforms.get(platform.id, platform)
    base = platform.endpoint(ModuleID.HUBCLIENTINFO, InterfaceRole.RECEIVER)
    if base is None or not platform.registered:
        return False
    url = f"{base.rstrip('/')}/{quote(party.ref.country_code)}/{quote(party.ref.party_id)}"
    request_id = new_request_id()
    started = time.perf_counter()
    status: int | None = None
    http_status: int | None = None
    note = ""
    try:
        response = await hub.client_for(platform).put(
            url,
            client_info(party),
            routed=False,
            headers={"X-Request-ID": request_id},
            timeout_seconds=hub.settings.forward_timeout,
        )
        status, http_status = response.status_code, response.http_status
        return True
    except OcpiError as exc:
        status, http_status, note = exc.status_code, exc.http_status, exc.message
        return False
    finally:
        hub.log_message(
            hop="outbound",
            method="PUT",
            path=url,
            module=ModuleID.HUBCLIENTINFO.value,
            request_id=request_id,
            correlation_id=request_id,
            platform_id=platform.id,
            ocpi_status=status,
            http_status=http_status,
            latency_ms=(time.perf_counter() - started) * 1000,
            note=note or f"ClientInfo {party.ref} {party.role.value} {party.status.value}",
        )


async def announce(
    hub: Hub, changed: Iterable[Party], *, new_platform: Platform | None = None
) -> None:
    """Push changed parties to all other platforms; bring a new platform up to date."""
    changed = list(changed)
    jobs = []
    for platform in list(hub.directory.platforms.values()):
        if not platform.registered:
            continue
        for party in changed:
            if party.platform_id != platform.id:
                jobs.append(push(hub, platform, party))
    if new_platform is not None:
        for party in hub.directory.all_parties():
            if party.platform_id != new_platform.id:
                jobs.append(push(hub, new_platform, party))
    await asyncio.gather(*jobs)
    for callback in hub.on_client_info_change:
        await callback()


async def set_platform_status(hub: Hub, platform: Platform, status: ConnectionStatus) -> None:
    """CONNECTED <-> OFFLINE for every party of a platform; announce only real changes."""
    changed = []
    now = utcnow()
    for party in platform.parties:
        if party.status != status and party.status != ConnectionStatus.SUSPENDED:
            party.status = status
            party.last_updated = now
            changed.append(party)
    if status == ConnectionStatus.CONNECTED:
        hub.wake_lane(platform.id)  # rows kept for it in the outbox go out now
    if not changed:
        return
    log.info("platform %s is now %s", platform.name, status.value)
    await asyncio.to_thread(hub.store.save_parties, changed)
    await announce(hub, changed)


def party_offline(platform: Platform) -> bool:
    return any(p.status == ConnectionStatus.OFFLINE for p in platform.parties)


def revive(hub: Hub, platform: Platform) -> None:
    """An OFFLINE platform answered or sent a request: it is CONNECTED again, now (not a
    still-alive period later), and its delivery lane resumes."""
    if party_offline(platform):
        hub.spawn(set_platform_status(hub, platform, ConnectionStatus.CONNECTED), "revive")


async def check_platform(hub: Hub, platform: Platform) -> bool:
    """The still-alive check: GET versions (side-effect free, always present)."""
    try:
        await hub.client_for(platform).get(
            platform.versions_url, routed=False, timeout_seconds=hub.settings.forward_timeout
        )
    except OcpiError:
        await set_platform_status(hub, platform, ConnectionStatus.OFFLINE)
        return False
    platform.last_seen = time.monotonic()
    await set_platform_status(hub, platform, ConnectionStatus.CONNECTED)
    return True


async def still_alive_round(hub: Hub) -> None:
    """One pass over the silent and the OFFLINE platforms."""
    now = time.monotonic()
    due = [
        platform
        for platform in list(hub.directory.platforms.values())
        if platform.registered
        and (party_offline(platform) or now - platform.last_seen >= hub.settings.still_alive_after)
    ]
    await asyncio.gather(*(check_platform(hub, platform) for platform in due))
