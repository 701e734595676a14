"""The app API (not OCPI): what the driver's app, the demo and the scenarios call.
docs/emsp_mock.md lists every call.

Answers are plain JSON; a refusal is `{"error": "..."}` with 400 (bad input), 404 (unknown
driver, location, EVSE, session, command or invoice), 409 (not possible now) or 503 (not
connected to a hub). With `app_token` set, every call needs `Authorization: Bearer <token>`.

No `from __future__ import annotations`: FastAPI resolves the local Annotated aliases.
"""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from emsp_mock.driver_app import session_view
from emsp_mock.search import MapHit, MapQuery
from emsp_mock.service import CommandState, Emsp
from ocpi.errors import OcpiError
from ocpi.headers import PartyRef
from ocpi.platform import (
    OperationError,
    bearer_guard,
    optional_json,
    register_on_request,
    rotate_on_request,
)
from ocpi.pricing import PlannedSession
from ocpi.pricing.quote import connector_max_power
from ocpi.v221.locations import ConnectorType, Status
from ocpi.v221.versions import InterfaceRole, ModuleID

Args = Annotated[Any, Body()]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuoteRequest(_Input):
    country_code: str
    party_id: str
    location_id: str
    evse_uid: str
    connector_id: str
    energy_kwh: Annotated[Decimal, Field(gt=0)]
    charging_minutes: Annotated[Decimal, Field(gt=0)]
    parking_minutes: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    start: datetime | None = None
    """When charging starts (default: now)."""


class StartRequest(_Input):
    country_code: str
    party_id: str
    location_id: str
    evse_uid: str
    connector_id: str | None = None
    wait: bool = False
    """Answer only when the CommandResult (or the timeout) is in."""


class ReserveRequest(_Input):
    country_code: str
    party_id: str
    location_id: str
    evse_uid: str | None = None
    expiry_date: AwareDatetime
    """Until when, in the CPO's time (a simulated CPO's clock may not be today)."""
    wait: bool = False


class StopRequest(_Input):
    session_id: str
    wait: bool = False


class SendRequest(_Input):
    to: str
    """The receiver, `CC/PID`."""
    module: ModuleID
    interface: InterfaceRole = InterfaceRole.RECEIVER
    method: Literal["GET", "PUT", "PATCH", "POST", "DELETE"] = "GET"
    path: str = ""
    body: Any = None


_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}


def _parse(model: type[Any], body: Any) -> Any:
    try:
        return model.model_validate(body if body is not None else {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors()
        )
        raise OperationError(f"invalid request: {problems}", 400) from None


def _float(query: dict[str, str], name: str) -> float | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise OperationError(f"{name} must be a number, got {raw!r}", 400) from None


def _enums(raw: str | None, kind: type[Any], name: str) -> frozenset[Any]:
    if not raw:
        return frozenset()
    try:
        return frozenset(kind(item.strip()) for item in raw.split(",") if item.strip())
    except ValueError:
        known = ", ".join(x.value for x in kind)
        raise OperationError(f"{name} {raw!r} is not known; use one of {known}", 400) from None


def map_query(query: dict[str, str]) -> MapQuery:
    """`lat`, `lon`, `radius_km`, `operator`, `connector` (comma-separated ConnectorTypes),
    `min_power_kw`, `status` (comma-separated EVSE statuses), `limit`."""
    limit = _float(query, "limit")
    try:
        return MapQuery(
            latitude=_float(query, "lat"),
            longitude=_float(query, "lon"),
            radius_km=_float(query, "radius_km") or 25.0,
            operator=query.get("operator") or None,
            connector_types=_enums(query.get("connector"), ConnectorType, "connector"),
            min_power_kw=_float(query, "min_power_kw"),
            statuses=_enums(query.get("status"), Status, "status"),
            limit=int(limit) if limit is not None else 50,
        )
    except ValueError as exc:
        raise OperationError(str(exc), 400) from None


def _matching(items: Any, query: dict[str, str], fields: tuple[str, ...]) -> list[Any]:
    """The OCPI objects whose `fields` equal the query's values (only the fields named)."""
    unknown = sorted(set(query) - set(fields))
    if unknown:
        raise OperationError(
            f"unknown filter {', '.join(unknown)} (filters: {', '.join(fields)})", 400
        )
    return [o for o in items if all(str(getattr(o, k)) == v for k, v in query.items())]


def hit_json(hit: MapHit) -> dict[str, Any]:
    location = hit.location
    return {
        "country_code": location.country_code,
        "party_id": location.party_id,
        "id": location.id,
        "name": location.name,
        "address": location.address,
        "city": location.city,
        "country": location.country,
        "coordinates": location.coordinates.to_json(),
        "operator": location.operator.name if location.operator else None,
        "time_zone": location.time_zone,
        "distance_km": hit.distance_km,
        "evses": [
            {
                "uid": evse.uid,
                "evse_id": evse.evse_id,
                "status": evse.status.value,
                "capabilities": [c.value for c in evse.capabilities or []],
                "connectors": [
                    {
                        "id": c.id,
                        "standard": c.standard.value,
                        "power_type": c.power_type.value,
                        "max_power_kw": (
                            None if (p := connector_max_power(c)) is None else float(round(p, 3))
                        ),
                        "tariff_ids": c.tariff_ids or [],
                    }
                    for c in evse.connectors
                ],
            }
            for evse in hit.evses
        ],
    }


def app_router(emsp: Emsp) -> APIRouter:
    authorized = bearer_guard(lambda: emsp.settings.app_token, "app API", "app_token")
    router = APIRouter(prefix="/app", dependencies=[Depends(authorized)])

    async def outcome(command: CommandState, wait: bool) -> JSONResponse:
        if wait and not command.finished:
            command = await emsp.wait_command(command.id)
        return JSONResponse(command.to_json())

    @router.get("/state")
    async def state() -> JSONResponse:
        return JSONResponse(emsp.snapshot())

    @router.get("/map")
    async def search_map(request: Request) -> JSONResponse:
        query = map_query(dict(request.query_params))
        started = time.perf_counter()
        hits = emsp.search(query)
        took = (time.perf_counter() - started) * 1000
        return JSONResponse(
            {
                "count": len(hits),
                "took_ms": round(took, 3),
                "locations": [hit_json(hit) for hit in hits],
            }
        )

    @router.get("/locations/{country_code}/{party_id}/{location_id}")
    async def get_location(country_code: str, party_id: str, location_id: str) -> JSONResponse:
        found = emsp.location(country_code, party_id, location_id)
        if found is None:
            raise OperationError(
                f"location {country_code}/{party_id}/{location_id} is not known", 404
            )
        return JSONResponse(found.to_json())

    @router.post("/quote")
    async def get_quote(body: Args) -> JSONResponse:
        asked: QuoteRequest = _parse(QuoteRequest, body)
        start = asked.start or datetime.now(UTC)
        if start.tzinfo is None:
            raise OperationError("start needs a time zone (Z or an offset)", 400)
        try:
            plan = PlannedSession(
                start_date_time=start,
                energy=asked.energy_kwh,
                charging_duration=timedelta(minutes=float(asked.charging_minutes)),
                parking_duration=timedelta(minutes=float(asked.parking_minutes)),
            )
        except (ValidationError, InvalidOperation) as exc:
            raise OperationError(f"invalid plan: {exc}", 400) from None
        found = emsp.quote(
            asked.country_code,
            asked.party_id,
            asked.location_id,
            asked.evse_uid,
            asked.connector_id,
            plan,
        )
        if found is None:
            return JSONResponse(
                {"tariff_id": None, "free": True, "price": {"excl_vat": 0, "incl_vat": 0}}
            )
        return JSONResponse({**found.to_json(), "free": False})

    @router.get("/drivers/{driver_id}")
    async def get_driver(driver_id: str) -> JSONResponse:
        return JSONResponse(emsp.driver_app.driver_json(driver_id))

    @router.post("/drivers/{driver_id}/start")
    async def start(driver_id: str, body: Args) -> JSONResponse:
        asked: StartRequest = _parse(StartRequest, body)
        command = await emsp.start_charging(
            driver_id,
            asked.country_code,
            asked.party_id,
            asked.location_id,
            asked.evse_uid,
            asked.connector_id,
        )
        return await outcome(command, asked.wait)

    @router.post("/drivers/{driver_id}/reserve")
    async def reserve(driver_id: str, body: Args) -> JSONResponse:
        asked: ReserveRequest = _parse(ReserveRequest, body)
        command = await emsp.reserve(
            driver_id,
            asked.country_code,
            asked.party_id,
            asked.location_id,
            asked.evse_uid,
            asked.expiry_date,
        )
        return await outcome(command, asked.wait)

    @router.post("/drivers/{driver_id}/stop")
    async def stop(driver_id: str, body: Args) -> JSONResponse:
        asked: StopRequest = _parse(StopRequest, body)
        command = await emsp.stop_charging(driver_id, asked.session_id)
        return await outcome(command, asked.wait)

    @router.get("/commands/{command_id}")
    async def get_command(command_id: str) -> JSONResponse:
        return JSONResponse(emsp.sender.get(command_id).to_json())

    @router.get("/drivers/{driver_id}/sessions")
    async def sessions(driver_id: str, request: Request) -> JSONResponse:
        active = request.query_params.get("active") in ("1", "true")
        found = emsp.driver_sessions(driver_id)
        if active:
            found = [s for s in found if s.status.value in ("ACTIVE", "PENDING", "RESERVATION")]
        return JSONResponse([session_view(s) for s in found])

    @router.get("/drivers/{driver_id}/sessions/{session_id}")
    async def session(driver_id: str, session_id: str) -> JSONResponse:
        return JSONResponse(session_view(emsp.driver_app.driver_session(driver_id, session_id)))

    @router.get("/sessions")
    async def all_sessions(request: Request) -> JSONResponse:
        """Every session this eMSP holds (its drivers' and cards', as the CPOs sent them), as
        OCPI Session objects; `?country_code=&party_id=&id=&location_id=&evse_uid=` keep only
        those with these values."""
        fields = ("country_code", "party_id", "id", "location_id", "evse_uid")
        found = _matching(emsp.sessions.values(), dict(request.query_params), fields)
        return JSONResponse([s.to_json() for s in found])

    @router.get("/cdrs")
    async def all_cdrs(request: Request) -> JSONResponse:
        """Every CDR this eMSP holds, as OCPI CDR objects; `?country_code=&party_id=&id=
        &session_id=` keep only those with these values."""
        fields = ("country_code", "party_id", "id", "session_id")
        found = _matching(emsp.cdrs.values(), dict(request.query_params), fields)
        return JSONResponse([c.to_json() for c in found])

    @router.get("/drivers/{driver_id}/invoices")
    async def invoices(driver_id: str) -> JSONResponse:
        return JSONResponse([i.to_json() for i in emsp.driver_app.driver_invoices(driver_id)])

    @router.get("/invoices")
    async def all_invoices() -> JSONResponse:
        """Every invoice this eMSP holds: its drivers' and those of CDRs whose
        token is no driver's (a card), which no driver's list shows."""
        return JSONResponse([i.to_json() for i in emsp.invoices])

    @router.get("/invoices/{invoice_id}")
    async def invoice(invoice_id: int) -> JSONResponse:
        return JSONResponse(emsp.driver_app.invoice(invoice_id).to_json())

    @router.get("/review")
    async def review() -> JSONResponse:
        return JSONResponse([i.to_json() for i in emsp.invoices if i.status == "REVIEW"])

    @router.post("/resync")
    async def resync(request: Request) -> JSONResponse:
        raw = request.query_params.get("full", "false").lower()
        if raw not in _FLAGS:
            raise OperationError(f"full must be true or false, got {raw!r}", 400)
        try:
            return JSONResponse(await emsp.resync(full=_FLAGS[raw]))
        except OcpiError as exc:
            raise OperationError(f"the hub could not be pulled: {exc}", 502) from None

    @router.post("/register")
    async def register(request: Request) -> JSONResponse:
        """Register now: with the configured hub, or `{"versions_url", "token_a"}`."""
        await register_on_request(emsp, await optional_json(request))
        return JSONResponse(emsp.snapshot())

    @router.post("/credentials/rotate")
    async def rotate() -> JSONResponse:
        """PUT new credentials to the hub (new tokens both ways)."""
        await rotate_on_request(emsp)
        return JSONResponse(emsp.snapshot())

    @router.post("/drain")
    async def drain() -> JSONResponse:
        await emsp.drain()
        return JSONResponse({"drained": True})

    @router.post("/send")
    async def send(body: Args) -> JSONResponse:
        """A raw OCPI request from this eMSP through the hub (a scenario's `send` step): to the
        hub's endpoint of `module` `interface` (plus `path`), addressed to `to`; the answer is
        the hub's OCPI status, HTTP status, message and data, whatever they are."""
        asked: SendRequest = _parse(SendRequest, body)
        try:
            to = PartyRef.parse(asked.to)
        except ValueError as exc:
            raise OperationError(f'to: give the receiver as "CC/PID" ({exc})', 400) from None
        peer = emsp.registration.peer
        if peer is None:
            raise OperationError("not connected to a hub: register first", 503)
        base = peer.endpoint(asked.module, asked.interface)
        if base is None:
            raise OperationError(
                f"the hub offers no {asked.module.value} {asked.interface.value} interface", 409
            )
        url = base.rstrip("/") + ("/" + asked.path.lstrip("/") if asked.path else "")
        try:
            answer = await emsp.registration.client(emsp.party).request(
                asked.method, url, json_body=asked.body, to=to
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
