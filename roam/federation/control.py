"""The federation control API of `roam demo` (docs/dashboard.md): the scenario runner's fault
switches over plain JSON HTTP, so that the dashboard (a client of HTTP interfaces only) can take
a member offline, bring it back, make it slow or heal it.

    GET  /federation/members                          every member's two platforms
    POST /federation/members/{name}/offline|online|slow|heal[?platform=cpo|emsp][&seconds=2]

`platform` is `cpo`, `emsp` (`app` too) or, by default, both. `offline` stops the platform's
server (an outage: the hub finds nobody), `online` starts it again on its database (a warm
start, as the scenarios' `online`), `slow` delays every OCPI request it receives by `seconds`
(default 2), `heal` clears the delay and any injected failure. Answers: the member's state;
errors `{"error": …}` with 400 (bad platform or seconds), 401 (token) or 404 (no such member
or action). With a `token`, every call needs `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from roam.federation.runtime import Federation, Member, Platform

ACTIONS = ("offline", "online", "slow", "heal")
PLATFORMS = {"cpo": ("cpo",), "emsp": ("emsp",), "app": ("emsp",), "both": ("cpo", "emsp")}
DEFAULT_SLOW_S = 2.0
MAX_SLOW_S = 60.0


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _served(member: Member, kind: str) -> Platform:
    return member.cpo_served if kind == "cpo" else member.emsp_served


def member_state(member: Member) -> dict[str, Any]:
    """`{"name", "cpo": {...}, "emsp": {...}}`, each platform with its party, whether it is
    `online`, its `delay` in seconds and whether a failure is injected (`failing`)."""
    state: dict[str, Any] = {"name": member.spec.name}
    for kind, party in (("cpo", member.spec.cpo), ("emsp", member.spec.emsp)):
        served = _served(member, kind)
        delay, failing = served.fault_state
        state[kind] = {
            "party": str(party),
            "online": served.running,
            "delay": delay,
            "failing": failing,
        }
    return state


def control_app(federation: Federation, token: str | None = None) -> Starlette:
    """The control API of a running federation as an ASGI app."""
    lock = asyncio.Lock()

    def refused(request: Request) -> Response | None:
        if token is None:
            return None
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return _error("Authorization: Bearer <federation control token> is required", 401)

    def find(name: str) -> Member | None:
        wanted = name.strip().lower()
        return next((m for m in federation.members if m.spec.name.lower() == wanted), None)

    async def members(request: Request) -> Response:
        if (answer := refused(request)) is not None:
            return answer
        return JSONResponse({"members": [member_state(m) for m in federation.members]})

    async def act(request: Request) -> Response:
        if (answer := refused(request)) is not None:
            return answer
        name, action = request.path_params["name"], request.path_params["action"]
        member = find(name)
        if member is None:
            known = ", ".join(m.spec.name for m in federation.members)
            return _error(f"no member called {name!r} (members: {known})", 404)
        if action not in ACTIONS:
            return _error(f"no action {action!r} (actions: {', '.join(ACTIONS)})", 404)
        kinds = PLATFORMS.get(request.query_params.get("platform", "both").lower())
        if kinds is None:
            return _error("platform is cpo, emsp (or app) or both", 400)
        seconds = DEFAULT_SLOW_S
        if action == "slow":
            try:
                seconds = float(request.query_params.get("seconds", DEFAULT_SLOW_S))
            except ValueError:
                return _error("seconds must be a number", 400)
            if not 0 < seconds <= MAX_SLOW_S:
                return _error(f"seconds must be more than 0 and at most {MAX_SLOW_S:g}", 400)
        async with lock:
            for kind in kinds:
                served = _served(member, kind)
                if action == "offline" and served.running:
                    await served.stop()
                elif action == "online" and not served.running:
                    await (member.start_cpo() if kind == "cpo" else member.start_emsp())
                elif action == "slow":
                    await served.switch(seconds, None)
                elif action == "heal":
                    await served.switch(0.0, None)
        return JSONResponse(member_state(member))

    return Starlette(
        routes=[
            Route("/federation/members", members),
            Route("/federation/members/{name}/{action}", act, methods=["POST"]),
        ]
    )
