"""Clients of the platforms' own HTTP interfaces, for the demo's story driver.

The story (roam/demo/story.py) acts on the federation the way a person does: through the mock
CPO's control API (`/control`, docs/cpo_mock.md), the mock eMSP's app API (`/app`,
docs/emsp_mock.md) and the hub's admin API (`/admin`, docs/hub.md). So it works the same
whether a platform runs in this process or as a process of its own (roam/federation/
processes.py): nothing is read from a service's Python objects.
"""

from __future__ import annotations

from typing import Any

import httpx

from ocpi.headers import PartyRef
from ocpi.v221.types import Role


class ApiError(RuntimeError):
    """A platform's API refused a call or could not be reached; the message says which."""


class _Api:
    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str | None) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        url = self.base_url + path
        try:
            response = await self.http.request(
                method, url, json=body, params=params, headers=self.headers
            )
        except httpx.HTTPError as exc:
            raise ApiError(f"{method} {url}: {type(exc).__name__} {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            problem = data.get("error") or data.get("status_message") if data else response.text
            raise ApiError(f"{method} {url}: HTTP {response.status_code}: {problem}")
        return data

    async def found(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET `path`; None when the platform answers 404 (not known there)."""
        url = self.base_url + path
        try:
            response = await self.http.get(url, params=params, headers=self.headers)
        except httpx.HTTPError as exc:
            raise ApiError(f"GET {url}: {type(exc).__name__} {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ApiError(f"GET {url}: HTTP {response.status_code}: {response.text}")
        return response.json()


class CpoControl(_Api):
    """A mock CPO's control API: the physical world and the clock."""

    async def state(self) -> dict[str, Any]:
        state: dict[str, Any] = await self.call("GET", "/control/state")
        return state

    async def evses(
        self, *, free: bool = False, power_type: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        params = {"free": "true" if free else "false", "limit": str(limit)}
        if power_type:
            params["power_type"] = power_type
        found: list[dict[str, Any]] = await self.call("GET", "/control/evses", params=params)
        return found

    async def step(self, seconds: float) -> str:
        """Move the simulated clock on; returns the new time."""
        answer = await self.call("POST", "/control/clock/advance", {"seconds": seconds})
        return str(answer["now"])

    async def now(self) -> str:
        return str((await self.call("GET", "/control/clock"))["now"])

    async def drain(self) -> None:
        await self.call("POST", "/control/drain")

    def _evse(self, location_id: str, evse_uid: str) -> str:
        return f"/control/evses/{location_id}/{evse_uid}"

    async def plug(
        self, location_id: str, evse_uid: str, connector_id: str, vehicle: dict[str, Any]
    ) -> dict[str, Any]:
        body = {"connector_id": connector_id, "vehicle": vehicle}
        evse: dict[str, Any] = await self.call(
            "POST", self._evse(location_id, evse_uid) + "/plug", body
        )
        return evse

    async def unplug(self, location_id: str, evse_uid: str) -> dict[str, Any]:
        evse: dict[str, Any] = await self.call(
            "POST", self._evse(location_id, evse_uid) + "/unplug", {}
        )
        return evse

    async def swipe(
        self, location_id: str, evse_uid: str, uid: str, kind: str = "RFID"
    ) -> dict[str, Any]:
        outcome: dict[str, Any] = await self.call(
            "POST", self._evse(location_id, evse_uid) + "/swipe", {"uid": uid, "type": kind}
        )
        return outcome

    async def sessions(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "/control/sessions")
        return found

    async def cdrs(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", "/control/cdrs")
        return found

    async def evse(self, location_id: str, evse_uid: str) -> dict[str, Any] | None:
        """The EVSE's simulation (status, plug, reservation, session); None if not known."""
        evse: dict[str, Any] | None = await self.found(self._evse(location_id, evse_uid))
        return evse

    async def evses_at(self, location_id: str, *, free: bool = False) -> list[dict[str, Any]]:
        """The EVSEs of one location, compact as `evses` lists them (ApiError 404 if the
        location is not known)."""
        params = {"location_id": location_id, "free": "true" if free else "false"}
        found: list[dict[str, Any]] = await self.call(
            "GET", "/control/evses", params={**params, "limit": "100000"}
        )
        return found

    async def session(self, session_id: str) -> dict[str, Any] | None:
        """The session as the CPO runs it (`session`: the OCPI Session); None if not known."""
        found: dict[str, Any] | None = await self.found(f"/control/sessions/{session_id}")
        return found

    async def send(self, request: dict[str, Any]) -> dict[str, Any]:
        """A raw OCPI request through the hub: {to, module, interface, method, path, body}."""
        answer: dict[str, Any] = await self.call("POST", "/control/send", request)
        return answer


class EmspApp(_Api):
    """A mock eMSP's app API: what its drivers do and see."""

    async def state(self) -> dict[str, Any]:
        state: dict[str, Any] = await self.call("GET", "/app/state")
        return state

    async def status_of(self, party: PartyRef) -> str | None:
        """What the hub last told this eMSP about `party` (HubClientInfo status)."""
        for info in (await self.state()).get("parties", []):
            if (info["country_code"], info["party_id"]) == (party.country_code, party.party_id):
                return str(info["status"])
        return None

    async def start(
        self, driver: str, at: PartyRef, location_id: str, evse_uid: str, connector_id: str
    ) -> dict[str, Any]:
        """START_SESSION through the hub; returns the command once it has an outcome."""
        body = {
            "country_code": at.country_code,
            "party_id": at.party_id,
            "location_id": location_id,
            "evse_uid": evse_uid,
            "connector_id": connector_id,
            "wait": True,
        }
        command: dict[str, Any] = await self.call("POST", f"/app/drivers/{driver}/start", body)
        return command

    async def stop(self, driver: str, session_id: str) -> dict[str, Any]:
        body = {"session_id": session_id, "wait": True}
        command: dict[str, Any] = await self.call("POST", f"/app/drivers/{driver}/stop", body)
        return command

    async def sessions(self, driver: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", f"/app/drivers/{driver}/sessions")
        return found

    async def invoices(self, driver: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call("GET", f"/app/drivers/{driver}/invoices")
        return found

    async def quote(self, plan: dict[str, Any]) -> dict[str, Any]:
        quote: dict[str, Any] = await self.call("POST", "/app/quote", plan)
        return quote

    async def resync(self) -> dict[str, Any]:
        done: dict[str, Any] = await self.call("POST", "/app/resync")
        return done

    async def drain(self) -> None:
        await self.call("POST", "/app/drain")

    async def reserve(
        self, driver: str, at: PartyRef, location_id: str, evse_uid: str | None, until: str
    ) -> dict[str, Any]:
        """RESERVE_NOW through the hub until `until` (the CPO's time); returns the command
        once it has an outcome."""
        body = {
            "country_code": at.country_code,
            "party_id": at.party_id,
            "location_id": location_id,
            "evse_uid": evse_uid,
            "expiry_date": until,
            "wait": True,
        }
        command: dict[str, Any] = await self.call("POST", f"/app/drivers/{driver}/reserve", body)
        return command

    async def held_sessions(self, **where: str) -> list[dict[str, Any]]:
        """Every session the eMSP holds (OCPI Sessions), only those with `where`'s values
        (country_code, party_id, id, location_id, evse_uid)."""
        found: list[dict[str, Any]] = await self.call("GET", "/app/sessions", params=where)
        return found

    async def held_cdrs(self, **where: str) -> list[dict[str, Any]]:
        """Every CDR the eMSP holds (OCPI CDRs), only those with `where`'s values
        (country_code, party_id, id, session_id)."""
        found: list[dict[str, Any]] = await self.call("GET", "/app/cdrs", params=where)
        return found

    async def map(self, **query: str) -> dict[str, Any]:
        """The app's map (`GET /app/map`: lat, lon, radius_km, operator, status, limit, …)."""
        found: dict[str, Any] = await self.call("GET", "/app/map", params=query)
        return found

    async def location(self, at: PartyRef, location_id: str) -> dict[str, Any] | None:
        """The eMSP's copy of a location (OCPI Location); None if it holds none."""
        found: dict[str, Any] | None = await self.found(
            f"/app/locations/{at.country_code}/{at.party_id}/{location_id}"
        )
        return found

    async def send(self, request: dict[str, Any]) -> dict[str, Any]:
        """A raw OCPI request through the hub: {to, module, interface, method, path, body}."""
        answer: dict[str, Any] = await self.call("POST", "/app/send", request)
        return answer


class HubAdmin(_Api):
    """The hub's admin API (OCPI envelopes: the answer's `data`)."""

    async def data(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return (await self.call(method, path, body))["data"]

    async def invite(self, role: Role, party: PartyRef) -> str:
        body = {
            "parties": [
                {
                    "role": role.value,
                    "country_code": party.country_code,
                    "party_id": party.party_id,
                }
            ]
        }
        return str((await self.data("POST", "/admin/invitations", body))["token"])

    async def settlement(self) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = await self.data("GET", "/admin/settlement")
        return lines

    async def hops_sent(self) -> int:
        return int((await self.data("GET", "/admin/stats"))["hops_sent"])

    async def drain(self) -> None:
        await self.data("POST", "/admin/drain")

    async def messages(self, after_id: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        """The message log after the line `after_id` (oldest first, at most `limit` lines:
        the admin API gives up to 10,000 at a time)."""
        params = {"after_id": str(after_id), "limit": str(limit)}
        lines: list[dict[str, Any]] = (await self.call("GET", "/admin/messages", params=params))[
            "data"
        ]
        return lines

    async def parties(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self.data("GET", "/admin/parties")
        return rows

    async def settings(self) -> dict[str, Any]:
        """Who the hub is and its live settings."""
        found: dict[str, Any] = await self.data("GET", "/admin/settings")
        return found

    async def reconfigure(self, **changes: Any) -> dict[str, Any]:
        """Change live settings of this instance (`PATCH /admin/settings`)."""
        found: dict[str, Any] = await self.data("PATCH", "/admin/settings", changes)
        return found
