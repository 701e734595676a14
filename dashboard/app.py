"""The dashboard's HTTP face (Starlette): the page and its static files, a small JSON API
over the live state, the station details with each member's quote, the start of a session,
and the Server-Sent Events stream `events`. Every URL is relative, so the app can be served
on its own or mounted under a prefix (e.g. `/dashboard/` of the hub)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import quote as url_quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dashboard import flow, geography, sse
from dashboard.config import DashboardConfig
from dashboard.live import Live
from dashboard.sources import FederationControl, SourceError
from dashboard.words import price_in_words, tariff_elements_in_words, tariff_in_words
from ocpi.aio import get_within

COOKIE = "roam_dashboard"
QUOTE_KWH = 30.0
QUOTE_MINUTES = 30.0
KEEP_ALIVE_S = 15.0

LOGIN_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>roam dashboard: sign in</title>
<body style="font:16px system-ui, sans-serif; max-width:28rem; margin:4rem auto; padding:1rem">
<h1>roam hub: operator view</h1>
<form method="get" action="./"><label>Admin token
<input name="token" type="password" autocomplete="current-password" required
 style="display:block; width:100%; font:inherit; margin:.5rem 0"></label>
<button>Open the dashboard</button></form>{message}</body></html>"""


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(config: DashboardConfig) -> Starlette:
    """The dashboard as an ASGI app. `app.state.live` is its live state (`await
    app.state.live.aclose()` stops its polling; the app's own lifespan does that too)."""
    live = Live(config)
    static = StaticFiles(packages=[("dashboard", "static")])
    page = resources.files("dashboard").joinpath("static/index.html").read_text(encoding="utf-8")

    def allowed(request: Request) -> bool:
        if config.access_token is None:
            return True
        given = request.cookies.get(COOKIE, "")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            given = token.strip()
        return hmac.compare_digest(given.encode(), config.access_token.encode())

    async def index(request: Request) -> Response:
        token = request.query_params.get("token")
        if config.access_token is not None and token is not None:
            if not hmac.compare_digest(token.encode(), config.access_token.encode()):
                return HTMLResponse(
                    LOGIN_PAGE.format(message="<p role=alert>That token is not right.</p>"),
                    status_code=401,
                )
            response: Response = RedirectResponse("./", status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return response
        if not allowed(request):
            return HTMLResponse(LOGIN_PAGE.format(message=""), status_code=401)
        live.ensure_started()
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    def guard(request: Request) -> Response | None:
        if not allowed(request):
            return _error("sign in with the admin token", 401)
        live.ensure_started()
        return None

    async def overview(request: Request) -> Response:
        return guard(request) or JSONResponse(live.overview())

    async def stations(request: Request) -> Response:
        return guard(request) or JSONResponse(live.stations_json())

    async def world(request: Request) -> Response:
        return guard(request) or Response(
            geography.europe(),
            media_type="application/json",
            headers={"Cache-Control": "max-age=86400"},
        )

    async def station(request: Request) -> Response:
        if (refused := guard(request)) is not None:
            return refused
        p = request.path_params
        key = f"{p['cc']}/{p['pid']}/{p['id']}".upper()
        found = next((s for k, s in live.stations.items() if k.upper() == key), None)
        if found is None:
            return _error(f"station {key} is not on the map", 404)
        owner = live.member_names[found.member] if found.member >= 0 else None
        detail = dict(found.detail)
        detail["evses"] = [
            {**evse, "status": found.evse_status.get(str(evse["uid"]), evse.get("status"))}
            for evse in detail.get("evses", [])
        ]
        return JSONResponse({"key": found.key, "member": owner, "location": detail})

    async def quotes(request: Request) -> Response:
        """What a driver of each member with an app pays at one connector (its app's quote
        for QUOTE_KWH in QUOTE_MINUTES), and the tariff in words."""
        if (refused := guard(request)) is not None:
            return refused
        body = await _body(request)
        if isinstance(body, Response):
            return body
        ask = {
            "country_code": body.get("country_code"),
            "party_id": body.get("party_id"),
            "location_id": body.get("location_id"),
            "evse_uid": body.get("evse_uid"),
            "connector_id": body.get("connector_id"),
            "energy_kwh": QUOTE_KWH,
            "charging_minutes": QUOTE_MINUTES,
            "start": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

        async def one(api: Any) -> dict[str, Any]:
            row: dict[str, Any] = {"member": api.link.name}
            try:
                quote = await api.post("/quote", ask)
            except SourceError as exc:
                return {**row, "error": str(exc)}
            return {
                **row,
                "tariff_id": quote.get("tariff_id"),
                "tariff": tariff_in_words(quote),
                "price": price_in_words(quote, QUOTE_KWH, QUOTE_MINUTES),
                "quote": quote,
            }

        rows = await asyncio.gather(*(one(api) for api in live.emsps()))
        tariffs = []
        for tariff_id in dict.fromkeys(str(r["tariff_id"]) for r in rows if r.get("tariff_id")):
            try:
                tariff = await live.hub.tariff(
                    str(ask["country_code"]), str(ask["party_id"]), tariff_id
                )
            except SourceError as exc:
                tariffs.append({"id": tariff_id, "error": str(exc)})
                continue
            tariffs.append({"id": tariff_id, "words": tariff_elements_in_words(tariff)})
        return JSONResponse(
            {"energy_kwh": QUOTE_KWH, "minutes": QUOTE_MINUTES, "quotes": rows, "tariffs": tariffs}
        )

    async def start(request: Request) -> Response:
        """START_SESSION from a member's app for one of its drivers (`POST
        /app/drivers/{id}/start`), waiting for the CPO's answer."""
        if (refused := guard(request)) is not None:
            return refused
        if not config.allow_actions:
            return _error("actions are switched off on this dashboard", 403)
        body = await _body(request)
        if isinstance(body, Response):
            return body
        api = live.emsp(str(body.get("member")))
        if api is None:
            return _error(f"no app of a member {body.get('member')!r}", 404)
        driver = str(body.get("driver") or (api.link.drivers or ("driver",))[0])
        if driver not in api.link.drivers:
            return _error(f"{driver!r} is not a driver of {api.link.name}'s app here", 404)
        ask = {
            key: body.get(key)
            for key in ("country_code", "party_id", "location_id", "evse_uid", "connector_id")
            if body.get(key) is not None
        }
        try:
            command = await api.post(
                f"/drivers/{url_quote(driver, safe='')}/start",
                {**ask, "wait": True},
                wait_s=config.timeout + 30,
            )
        except SourceError as exc:
            return _error(str(exc), 502)
        return JSONResponse({"member": api.link.name, "driver": driver, "command": command})

    control = (
        FederationControl(live.client, config.federation_url, config.federation_token)
        if config.federation_url is not None
        else None
    )

    def switches(request: Request) -> tuple[FederationControl | None, Response | None]:
        if (refused := guard(request)) is not None:
            return None, refused
        if control is None or not live.federation_control:
            return None, _error("no federation control on this dashboard", 404)
        return control, None

    async def federation_members(request: Request) -> Response:
        """Each member's platforms: online, delay, failing (the control API's view)."""
        used, refused = switches(request)
        if used is None:
            return refused or _error("no federation control", 404)
        try:
            return JSONResponse({"members": await used.members()})
        except SourceError as exc:
            return _error(str(exc), 502)

    async def federation_act(request: Request) -> Response:
        """A fault switch: `offline`, `online`, `slow`, `fail` or `heal` a member
        (`?platform=`, `?seconds=` and a JSON object body, e.g. `fail`'s `ocpi_status`,
        passed on), through the federation control API."""
        used, refused = switches(request)
        if used is None:
            return refused or _error("no federation control", 404)
        params = {
            key: request.query_params[key]
            for key in ("platform", "seconds")
            if key in request.query_params
        }
        body = await _body(request) if (await request.body()).strip() else {}
        if isinstance(body, Response):
            return body
        p = request.path_params
        try:
            member = await used.act(p["name"], p["action"], params, body)
        except SourceError as exc:
            return _error(str(exc), 502)
        return JSONResponse(member)

    async def messages(request: Request) -> Response:
        if (refused := guard(request)) is not None:
            return refused
        q = request.query_params
        try:
            query = flow.Search(
                text=q.get("q", ""),
                module=q.get("module", ""),
                member=q.get("member", ""),
                status=q.get("status", ""),
                since=flow.parse_time(q["since"]) if q.get("since") else None,
                until=flow.parse_time(q["until"]) if q.get("until") else None,
                limit=max(1, min(int(q.get("limit", "200")), 2000)),
            )
        except ValueError as exc:
            return _error(f"bad search: {exc}", 400)
        rows = flow.search(live.log, live.member_of_party, query)
        return JSONResponse({"count": len(rows), "held": len(live.log), "messages": rows})

    async def trace(request: Request) -> Response:
        if (refused := guard(request)) is not None:
            return refused
        return JSONResponse(await live.trace(request.path_params["correlation_id"]))

    async def session_trace(request: Request) -> Response:
        if (refused := guard(request)) is not None:
            return refused
        key = request.path_params["key"]
        if not 1 <= len(key) <= 36:
            return _error("a session id or an authorization_reference: 1 to 36 characters", 400)
        return JSONResponse(await live.session_trace(key))

    async def events(request: Request) -> Response:
        if (refused := guard(request)) is not None:
            return refused
        queue = live.subscribe()

        async def stream() -> AsyncIterator[bytes]:
            try:
                while True:
                    item = await get_within(queue, KEEP_ALIVE_S)
                    yield sse.KEEP_ALIVE if item is None else item
            finally:
                live.unsubscribe(queue)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await live.aclose()

    async def guarded_static(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        if not allowed(request):
            await _error("sign in with the admin token", 401)(scope, receive, send)
            return
        await static(scope, receive, send)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/overview", overview),
            Route("/api/stations", stations),
            Route("/api/stations/{cc}/{pid}/{id}", station),
            Route("/api/geography", world),
            Route("/api/quote", quotes, methods=["POST"]),
            Route("/api/start", start, methods=["POST"]),
            Route("/api/federation", federation_members),
            Route("/api/federation/{name}/{action}", federation_act, methods=["POST"]),
            Route("/api/messages", messages),
            Route("/api/trace/{correlation_id}", trace),
            Route("/api/session/{key}", session_trace),
            Route("/events", events),
            Mount("/static", app=guarded_static),
        ],
        lifespan=lifespan,
    )
    app.state.live = live
    return app


async def _body(request: Request) -> dict[str, Any] | Response:
    try:
        body = await request.json()
    except ValueError:
        return _error("the body must be JSON", 400)
    if not isinstance(body, dict):
        return _error("the body must be a JSON object", 400)
    return body
