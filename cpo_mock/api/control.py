"""The control API (not OCPI): what scenarios and the demo do to the physical world and the
clock, and what they read back. docs/cpo_mock.md lists every call.

Answers are plain JSON; a refusal is `{"error": "..."}` with 400 (bad input), 404 (unknown
location, EVSE, session or CDR) or 409 (not possible now). With `control_token` set, every
call needs `Authorization: Bearer <control_token>`.

No `from __future__ import annotations`: FastAPI resolves the local Annotated aliases.
"""

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from cpo_mock import charging
from cpo_mock.model import EvseSim, FaultKind, SessionSim
from cpo_mock.service import ControlError, Cpo
from cpo_mock.store import CdrEntry
from ocpi.errors import OcpiError
from ocpi.headers import PartyRef
from ocpi.platform import bearer_guard, optional_json, register_on_request, rotate_on_request
from ocpi.server.dependencies import json_object_body
from ocpi.server.plain import plain_route
from ocpi.v221.locations import Status
from ocpi.v221.tokens import TokenType
from ocpi.v221.types import format_datetime
from ocpi.v221.versions import InterfaceRole, ModuleID

Args = Annotated[dict[str, Any], Body()]


def _evse_json(cpo: Cpo, sim: EvseSim) -> dict[str, Any]:
    data = sim.model_dump(mode="json", exclude_none=True)
    running = cpo.sessions.get(sim.session_id or "")
    if running is not None:
        data["session"] = _session_json(cpo, running)
    return data


def _session_json(cpo: Cpo, sim: SessionSim) -> dict[str, Any]:
    state = sim.charge.state() if sim.charge is not None else None
    now = cpo.now()
    live: dict[str, Any] = {}
    if state is not None and sim.vehicle is not None and sim.open_state is not None:
        ahead = charging.advance(
            state, sim.vehicle, sim.limit_kw, sim.cdr_location.connector_power_type, now
        )
        live = {
            "kw": round(ahead.kw(), 3),
            "soc": round(min(ahead.soc_at(now, sim.vehicle), 1.0), 4),
            "kwh": str(charging.meter_kwh(ahead.energy)),
            "full_at": format_datetime(ahead.full_at) if ahead.full_at else None,
        }
    return {
        "session": sim.session.to_json(),
        "emsp": sim.emsp,
        "tariff_id": sim.tariff.id if sim.tariff else None,
        "vehicle": sim.vehicle.model_dump(mode="json") if sim.vehicle else None,
        "state": sim.open_state.value if sim.open_state else None,
        "periods": [p.model_dump(mode="json") for p in sim.periods],
        "stop_reason": sim.stop_reason or None,
        "live": live or None,
    }


def _cdr_json(entry: CdrEntry) -> dict[str, Any]:
    return {
        "cdr": entry.cdr.to_json(),
        "emsp": entry.emsp,
        "delivery": entry.delivery,
        "attempts": entry.attempts,
        "next_attempt_at": (
            format_datetime(entry.next_attempt_at) if entry.next_attempt_at else None
        ),
        "last_error": entry.last_error or None,
        "location_url": entry.location_url or None,
    }


def control_router(cpo: Cpo) -> APIRouter:
    authorized = bearer_guard(lambda: cpo.settings.control_token, "control API", "control_token")
    router = APIRouter(prefix="/control", dependencies=[Depends(authorized)])

    @router.get("/state")
    async def state() -> JSONResponse:
        await cpo.advance()
        return JSONResponse(cpo.snapshot())

    @router.get("/clock")
    async def clock() -> JSONResponse:
        now = await cpo.advance()
        return JSONResponse({"mode": cpo.clock.mode.value, "now": format_datetime(now)})

    @router.post("/clock/advance")
    async def advance(args: Args) -> JSONResponse:
        seconds = args.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise ControlError('give the step as {"seconds": N}', 400)
        now = await cpo.step(float(seconds))
        return JSONResponse({"mode": cpo.clock.mode.value, "now": format_datetime(now)})

    @router.post("/drain")
    async def drain() -> JSONResponse:
        """Wait until everything queued for the hub has been sent."""
        await cpo.drain()
        return JSONResponse({"outbox": cpo.outbox.pending})

    @router.post("/register")
    async def register(request: Request) -> JSONResponse:
        """Register now: with the configured hub, or `{"versions_url", "token_a"}`."""
        await register_on_request(cpo, await optional_json(request))
        return JSONResponse(cpo.snapshot())

    @router.post("/credentials/rotate")
    async def rotate() -> JSONResponse:
        """PUT new credentials to the hub (new tokens both ways)."""
        await rotate_on_request(cpo)
        return JSONResponse(cpo.snapshot())

    @router.post("/publish")
    async def publish() -> JSONResponse:
        """Broadcast every tariff and location again (e.g. after the hub lost its copies)."""
        cpo.publish_all()
        return JSONResponse({"queued": len(cpo.tariffs) + len(cpo.locations)})

    @router.get("/evses")
    async def evses(request: Request) -> JSONResponse:
        """EVSEs in location order, compact: `?free=true` only those a driver could start at
        now (AVAILABLE, nothing plugged, no session, start or reservation pending),
        `?power_type=DC` only those with such a connector, `?location_id=X` only that
        location's (404 if it is not known), `?limit=N` (default 100)."""
        query = request.query_params
        free = query.get("free", "false").lower()
        if free not in ("true", "false"):
            raise ControlError(f"free must be true or false, got {free!r}", 400)
        power_type = query.get("power_type")
        try:
            limit = int(query.get("limit", "100"))
        except ValueError:
            raise ControlError("limit must be a whole number", 400) from None
        if limit < 1:
            raise ControlError("limit must be at least 1", 400)
        only = query.get("location_id")
        if only is not None and only not in cpo.locations:
            raise ControlError(f"location {only} is not known here", 404)
        await cpo.advance()
        found: list[dict[str, Any]] = []
        for location_id in [only] if only is not None else sorted(cpo.locations):
            for evse in cpo.locations[location_id].evses or []:
                sim = cpo.evses.get((location_id, evse.uid))
                if sim is None:
                    continue
                if free == "true" and (
                    sim.status is not Status.AVAILABLE
                    or sim.plug is not None
                    or sim.session_id
                    or sim.pending is not None
                    or sim.reservation is not None
                ):
                    continue
                connectors = [
                    {"id": c.id, "power_type": c.power_type.value, "tariff_ids": c.tariff_ids or []}
                    for c in evse.connectors
                ]
                if power_type and not any(c["power_type"] == power_type for c in connectors):
                    continue
                found.append(
                    {
                        "location_id": location_id,
                        "evse_uid": evse.uid,
                        "status": sim.status.value,
                        "capabilities": [c.value for c in evse.capabilities or []],
                        "connectors": connectors,
                        "session_id": sim.session_id,
                    }
                )
                if len(found) >= limit:
                    return JSONResponse(found)
        return JSONResponse(found)

    evse_path = "/evses/{location_id}/{evse_uid}"

    @router.get(evse_path)
    async def evse(location_id: str, evse_uid: str) -> JSONResponse:
        await cpo.advance()
        _, _, sim = cpo.evse_parts(location_id, evse_uid)
        return JSONResponse(_evse_json(cpo, sim))

    # What is done to an EVSE: plain routes (ocpi/server/plain.py), served ahead of the app's
    # stack (a status storm is made of fault and repair calls); the same token check, and
    # the body (`args`) read and refused as FastAPI's `Body()` would.
    act = functools.partial(plain_route, router, "POST", guards=[authorized])
    act_with = functools.partial(act, body=json_object_body)
    act_without = functools.partial(act, body=None)

    @act_with(evse_path + "/plug")
    async def plug(location_id: str, evse_uid: str, body: dict[str, Any]) -> JSONResponse:
        vehicle = body.get("vehicle")
        if vehicle is not None and not isinstance(vehicle, dict):
            raise ControlError('vehicle must be an object, e.g. {"preset": "sedan"}', 400)
        sim = await cpo.plug(location_id, evse_uid, body.get("connector_id"), vehicle)
        return JSONResponse(_evse_json(cpo, sim))

    @act_without(evse_path + "/unplug")
    async def unplug(location_id: str, evse_uid: str) -> JSONResponse:
        sim = await cpo.unplug(location_id, evse_uid)
        return JSONResponse(_evse_json(cpo, sim))

    @act_with(evse_path + "/swipe")
    async def swipe(location_id: str, evse_uid: str, body: dict[str, Any]) -> JSONResponse:
        uid = body.get("uid")
        if not isinstance(uid, str) or not uid:
            raise ControlError('give the card as {"uid": "..."}', 400)
        try:
            kind = TokenType(body.get("type", "RFID"))
        except ValueError:
            raise ControlError(f"unknown token type {body.get('type')!r}", 400) from None
        outcome = await cpo.swipe(location_id, evse_uid, uid, kind)
        return JSONResponse(outcome.to_json())

    @act_with(evse_path + "/fault")
    async def fault(location_id: str, evse_uid: str, body: dict[str, Any]) -> JSONResponse:
        try:
            kind = FaultKind(body.get("kind", "OUTOFORDER"))
        except ValueError:
            known = ", ".join(k.value for k in FaultKind)
            raise ControlError(f"unknown fault kind (known: {known})", 400) from None
        sim = await cpo.fault(location_id, evse_uid, kind)
        return JSONResponse(_evse_json(cpo, sim))

    @act_without(evse_path + "/repair")
    async def repair(location_id: str, evse_uid: str) -> JSONResponse:
        sim = await cpo.repair(location_id, evse_uid)
        return JSONResponse(_evse_json(cpo, sim))

    @router.post("/flap")
    async def flap(args: Args) -> JSONResponse:
        """EVSEs whose status flaps at a steady rate, made by the CPO (cpo_mock/flapping.py):
        {"evses": [{"location_id", "evse_uid"}, ...], "rate", "seconds", "start_at"?}."""
        started = cpo.start_flap(args)
        return JSONResponse({"planned": started.planned, "start_at": started.start_at}, 202)

    @router.get("/flap")
    async def flap_report() -> JSONResponse:
        """The last flap: running or not, and every change made so far."""
        if cpo.flap is None:
            raise ControlError("no flap was started", 404)
        return JSONResponse(cpo.flap.report())

    @act_without(evse_path + "/remove")
    async def remove(location_id: str, evse_uid: str) -> JSONResponse:
        sim = await cpo.remove(location_id, evse_uid)
        return JSONResponse(_evse_json(cpo, sim))

    @router.get("/sessions")
    async def sessions() -> JSONResponse:
        await cpo.advance()
        return JSONResponse([_session_json(cpo, sim) for sim in cpo.sessions.values()])

    @router.get("/sessions/{session_id}")
    async def session(session_id: str) -> JSONResponse:
        await cpo.advance()
        sim = cpo.sessions.get(session_id)
        if sim is None:
            raise ControlError(f"session {session_id} is not known here", 404)
        return JSONResponse(_session_json(cpo, sim))

    @router.get("/cdrs")
    async def cdrs() -> JSONResponse:
        return JSONResponse([_cdr_json(entry) for entry in cpo.cdrs.values()])

    @router.get("/cdrs/{cdr_id}")
    async def cdr(cdr_id: str) -> JSONResponse:
        entry = cpo.cdrs.get(cdr_id)
        if entry is None:
            raise ControlError(f"CDR {cdr_id} is not known here", 404)
        return JSONResponse(_cdr_json(entry))

    @router.post("/cdrs/{cdr_id}/credit")
    async def credit(cdr_id: str) -> JSONResponse:
        """Credit a CDR: its credit CDR (id + "-C", negative total_cost) is sent to the eMSP."""
        return JSONResponse(_cdr_json(await cpo.credit_cdr(cdr_id)))

    @router.post("/send")
    async def send(args: Args) -> JSONResponse:
        """A raw OCPI request from this CPO through the hub (a scenario's `send` step):
        `{"to": "CC/PID", "module": "tokens", "interface": "SENDER", "method": "GET",
        "path": "", "body": null}` goes to the hub's endpoint of that module interface (plus
        `path`), addressed to `to`; the answer is the hub's OCPI status, HTTP status, message
        and data, whatever they are."""
        request = _raw_request(args)
        peer = cpo.registration.peer
        if peer is None:
            raise ControlError("not connected to a hub: register first", 409)
        base = peer.endpoint(request["module"], request["interface"])
        if base is None:
            raise ControlError(
                f"the hub offers no {request['module'].value} "
                f"{request['interface'].value} interface",
                409,
            )
        url = base.rstrip("/") + ("/" + request["path"].lstrip("/") if request["path"] else "")
        try:
            answer = await cpo.registration.client(cpo.party).request(
                request["method"], url, json_body=args.get("body"), to=request["to"]
            )
        except OcpiError as exc:
            status, http, message, data = exc.status_code, exc.http_status, exc.message, exc.data
        else:
            status, http = answer.status_code, answer.http_status
            message, data = answer.status_message or "", answer.data
        return JSONResponse(
            {"ocpi_status": status, "http_status": http, "message": message, "data": data}
        )

    return router


_METHODS = ("GET", "PUT", "PATCH", "POST", "DELETE")


def _raw_request(args: dict[str, Any]) -> dict[str, Any]:
    """The checked parts of a `send` request; ControlError 400 naming a bad one."""
    unknown = sorted(set(args) - {"to", "module", "interface", "method", "path", "body"})
    if unknown:
        raise ControlError(f"unknown fields: {', '.join(unknown)}", 400)
    try:
        to = PartyRef.parse(str(args.get("to", "")))
    except ValueError as exc:
        raise ControlError(f'to: give the receiver as "CC/PID" ({exc})', 400) from None
    try:
        module = ModuleID(str(args.get("module")))
    except ValueError:
        known = ", ".join(m.value for m in ModuleID)
        raise ControlError(f"unknown module {args.get('module')!r} (known: {known})", 400) from None
    try:
        interface = InterfaceRole(args.get("interface", "RECEIVER"))
    except ValueError:
        raise ControlError("interface is SENDER or RECEIVER", 400) from None
    method = args.get("method", "GET")
    if method not in _METHODS:
        raise ControlError(f"method is one of {', '.join(_METHODS)}", 400)
    path = args.get("path", "")
    if not isinstance(path, str):
        raise ControlError("path must be a string", 400)
    return {"to": to, "module": module, "interface": interface, "method": method, "path": path}
