"""The federation control API of `roam demo` (docs/dashboard.md): the scenario runner's fault
switches over plain JSON HTTP, so that the dashboard (a client of HTTP interfaces only) can take
a member offline, bring it back, make it slow, make it fail or heal it.

    GET  /federation/members                          every member's two platforms
    POST /federation/members/{name}/offline|online|slow|fail|heal[?platform=cpo|emsp][&seconds=2]

`platform` is `cpo`, `emsp` (`app` too) or, by default, both. `offline` stops the platform's
server (an outage: the hub finds nobody), `online` starts it again on its database (a warm
start, as the scenarios' `online`), `slow` delays every OCPI request it receives by `seconds`
(default 2), `fail` answers every OCPI request it receives with an error instead of reaching
it (the scenarios' `fail`; the JSON body may choose `http_status`, `ocpi_status`, `message`,
default HTTP 200 with OCPI 3000), `heal` clears the delay and any injected failure. Answers:
the member's state; errors `{"error": …}` with 400 (bad platform, seconds or failure body),
401 (token) or 404 (no such member or action). With a `token`, every call needs
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from roam.federation.runtime import FaultAnswer, Federation, Member, Platform

ACTIONS = ("offline", "online", "slow", "fail", "heal")
PLATFORMS = {"cpo": ("cpo",), "emsp": ("emsp",), "app": ("emsp",), "both": ("cpo", "emsp")}
DEFAULT_SLOW_S = 2.0
MAX_SLOW_S = 60.0
# `fail` without a body: the OCPI way of failing (the envelope carries the error, HTTP 200).
DEFAULT_FAILURE: FaultAnswer = (200, 3000, "injected fault (federation control)")
MAX_MESSAGE = 500


class BadRequest(ValueError):
    """The request names something wrong; the message says what (answered with 400)."""


def failure_of(raw: bytes) -> FaultAnswer:
    """The answer `fail` injects, from its JSON body (empty: `DEFAULT_FAILURE`):
    `{"http_status": 200–599, "ocpi_status": 2000–4999, "message": text}`, each optional."""
    if not raw.strip():
        return DEFAULT_FAILURE
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("the body of fail must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body of fail must be a JSON object")
    unknown = sorted(set(body) - {"http_status", "ocpi_status", "message"})
    if unknown:
        raise BadRequest(
            f"unknown key(s) {', '.join(unknown)} (fail takes http_status, ocpi_status, message)"
        )
    http_status, ocpi_status, message = DEFAULT_FAILURE
    for key, low, high in (("http_status", 200, 599), ("ocpi_status", 2000, 4999)):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or not low <= value <= high:
            raise BadRequest(f"{key} must be a whole number from {low} to {high}")
        if key == "http_status":
            http_status = value
        else:
            ocpi_status = value
    if "message" in body:
        message = body["message"]
        if not isinstance(message, str) or not 0 < len(message.strip()) <= MAX_MESSAGE:
            raise BadRequest(f"message must be text of 1 to {MAX_MESSAGE} characters")
    return http_status, ocpi_status, message


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
        failure: FaultAnswer | None = None
        if action == "fail":
            try:
                failure = failure_of(await request.body())
            except BadRequest as exc:
                return _error(str(exc), 400)
        async with lock:
            for kind in kinds:
                served = _served(member, kind)
                if action == "offline" and served.running:
                    await served.stop()
                elif action == "online" and not served.running:
                    await (member.start_cpo() if kind == "cpo" else member.start_emsp())
                elif action == "slow":
                    # As the scenarios' `slow`: a failure already injected stays.
                    await served.switch(seconds, served.fault_answer)
                elif action == "fail":
                    # As the scenarios' `fail`: a delay already switched on stays.
                    delay, _ = served.fault_state
                    await served.switch(delay, failure)
                elif action == "heal":
                    await served.switch(0.0, None)
        return JSONResponse(member_state(member))

    return Starlette(
        routes=[
            Route("/federation/members", members),
            Route("/federation/members/{name}/{action}", act, methods=["POST"]),
        ]
    )
