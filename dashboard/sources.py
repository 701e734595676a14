"""The public HTTP interfaces the dashboard reads, and nothing else: the hub's admin API
(docs/hub.md), a CPO's control API (docs/cpo_mock.md) and an eMSP's app API
(docs/emsp_mock.md). Each call returns parsed JSON or raises `SourceError` saying which call
failed and why."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from dashboard.config import MemberLink


class SourceError(Exception):
    """A call to the hub or a member failed (down, refused, or not the expected JSON)."""


async def _json(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
    try:
        answer = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise SourceError(f"{method} {url}: {type(exc).__name__} {exc}".strip()) from None
    try:
        body = answer.json()
    except ValueError:
        raise SourceError(f"{method} {url}: HTTP {answer.status_code}, not JSON") from None
    if answer.status_code >= 400:
        detail = body.get("error") or body.get("status_message") if isinstance(body, dict) else ""
        raise SourceError(f"{method} {url}: HTTP {answer.status_code} {detail or ''}".strip())
    return body


class HubAdmin:
    """`/admin/…` with `Authorization: Bearer <admin token>`; answers are OCPI envelopes."""

    def __init__(self, client: httpx.AsyncClient, hub_url: str, admin_token: str) -> None:
        self.client = client
        self.base = f"{hub_url}/admin"
        self.headers = {"Authorization": f"Bearer {admin_token}"}

    async def _data(self, path: str, params: dict[str, Any] | None = None) -> Any:
        body = await _json(
            self.client, "GET", f"{self.base}{path}", params=params, headers=self.headers
        )
        if not isinstance(body, dict) or body.get("status_code") != 1000:
            message = body.get("status_message") if isinstance(body, dict) else body
            raise SourceError(f"GET {self.base}{path}: {message}")
        return body.get("data")

    async def parties(self) -> list[dict[str, Any]]:
        return list(await self._data("/parties") or [])

    async def messages(
        self,
        since: str | None = None,
        correlation_id: str | None = None,
        limit: int = 10_000,
        session: str | None = None,
        bodies: bool = False,
        after_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Log lines; `after_id`: only those logged after line `after_id` (each line has its
        `id`), `session`: every line of one charging session (a session id or an
        authorization_reference), `bodies`: with the request and response bodies the hub kept."""
        params: dict[str, Any] = {"limit": limit}
        if after_id is not None:
            params["after_id"] = after_id
        if since:
            params["since"] = since
        if correlation_id:
            params["correlation_id"] = correlation_id
        if session:
            params["session"] = session
        if bodies:
            params["bodies"] = "true"
        return list(await self._data("/messages", params) or [])

    async def tariff(self, country_code: str, party_id: str, tariff_id: str) -> dict[str, Any]:
        """One tariff as the hub holds it (`GET /admin/tariffs/{cc}/{pid}/{id}`)."""
        path = "/tariffs/" + "/".join(
            quote(p, safe="") for p in (country_code, party_id, tariff_id)
        )
        return dict(await self._data(path) or {})

    async def settlement(self) -> list[dict[str, Any]]:
        return list(await self._data("/settlement") or [])


class MemberApi:
    """A member platform's plain-JSON API: `/control/…` of a CPO, `/app/…` of an eMSP."""

    def __init__(self, client: httpx.AsyncClient, link: MemberLink) -> None:
        self.client = client
        self.link = link
        self.prefix = f"{link.url}/{'control' if link.role == 'CPO' else 'app'}"
        self.headers = {"Authorization": f"Bearer {link.token}"} if link.token else {}

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await _json(
            self.client, "GET", f"{self.prefix}{path}", params=params, headers=self.headers
        )

    async def post(self, path: str, body: dict[str, Any], wait_s: float | None = None) -> Any:
        extra: dict[str, Any] = {} if wait_s is None else {"timeout": wait_s}
        return await _json(
            self.client,
            "POST",
            f"{self.prefix}{path}",
            json=body,
            headers=self.headers,
            **extra,
        )

    async def party(self) -> str:
        """ "CC/PID" of this platform (`GET /control/state` or `GET /app/state`)."""
        state = await self.get("/state")
        return str(state["party"]).upper()

    async def map(self, statuses: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """eMSP: every location on the app's map (no position: all of them), or only those
        with an EVSE in `statuses`, with just those EVSEs."""
        params: dict[str, Any] = {"limit": 10_000_000}
        if statuses:
            params["status"] = ",".join(statuses)
        body = await self.get("/map", params)
        return list(body.get("locations", []))

    async def sessions(self) -> list[dict[str, Any]]:
        """CPO: the sessions its chargers run (`GET /control/sessions`)."""
        return list(await self.get("/sessions"))


class FederationControl:
    """A federation control API (`roam demo` serves one, docs/dashboard.md): `GET
    /federation/members`, `POST /federation/members/{name}/{action}`; plain JSON."""

    def __init__(self, client: httpx.AsyncClient, url: str, token: str | None) -> None:
        self.client = client
        self.base = f"{url}/federation/members"
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def members(self) -> list[dict[str, Any]]:
        body = await _json(self.client, "GET", self.base, headers=self.headers)
        return list(body.get("members", []))

    async def act(
        self, name: str, action: str, params: dict[str, str], body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        path = f"{self.base}/{quote(name, safe='')}/{quote(action, safe='')}"
        answer: dict[str, Any] = await _json(
            self.client,
            "POST",
            path,
            params=params,
            json=body or None,
            headers=self.headers,
            timeout=130.0,
        )
        return answer
