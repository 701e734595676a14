"""The one error of a member's own operations API (the CPO's control API, the eMSP's app API).

Those APIs are not OCPI: they answer `{"error": message}` with an HTTP status, never an OCPI
envelope. A service raises `OperationError`; `operation_error_response` renders it (install it
with `app.add_exception_handler(OperationError, operation_error_response)`).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ocpi.errors import OcpiError
from ocpi.platform.registration import Registration


class OperationError(Exception):
    """A control/app request that cannot be carried out; `http_status` says how bad
    (409 by default: the request is fine, the state does not allow it)."""

    def __init__(self, message: str, http_status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


async def operation_error_response(request: Request, exc: Exception) -> Response:
    """Starlette exception handler: `{"error": message}` with the error's HTTP status."""
    assert isinstance(exc, OperationError)
    return JSONResponse({"error": exc.message}, status_code=exc.http_status)


def bearer_guard(
    expected: Callable[[], str | None], api: str, setting: str
) -> Callable[[Request], Awaitable[None]]:
    """A dependency: the request needs `Authorization: Bearer <token>` when `expected()` gives
    a token (None: the API is open; bind the platform to loopback then). 401 otherwise."""

    async def authorized(request: Request) -> None:
        token = expected()
        if token is None:
            return
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given, f"Bearer {token}"):
            raise OperationError(f"the {api} needs Authorization: Bearer <{setting}>", 401)

    return authorized


class Registrable(Protocol):
    """A member service that can run the member-initiated handshake on request."""

    @property
    def registration(self) -> Registration: ...

    async def register(self, hub: tuple[str, str] | None = None) -> object: ...


async def register_on_request(service: Registrable, body: object = None) -> None:
    """The control/app API's "register now": with the configured hub, or with the one the
    body names (`{"versions_url", "token_a"}`: a new invitation, e.g. `roam conformance`
    after its DELETE). 400 for a bad body, 409 when already registered, 502 when the hub
    (or the configuration naming it) refused the handshake."""
    hub = None
    if isinstance(body, dict) and body:
        url, token = body.get("versions_url"), body.get("token_a")
        if (
            not isinstance(url, str)
            or not isinstance(token, str)
            or set(body)
            - {
                "versions_url",
                "token_a",
            }
        ):
            raise OperationError('give {"versions_url": URL, "token_a": TOKEN} or nothing', 400)
        hub = (url, token)
    elif body not in (None, {}):
        raise OperationError('give {"versions_url": URL, "token_a": TOKEN} or nothing', 400)
    if service.registration.is_registered:
        raise OperationError("already registered with the hub")
    try:
        await service.register(hub)
    except (OcpiError, ValueError) as exc:
        raise OperationError(f"registration failed: {exc}", 502) from None


async def optional_json(request: Request) -> object:
    """The request's JSON body, None when empty (400 when it is not JSON)."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise OperationError("the body is not JSON", 400) from None


async def rotate_on_request(service: Registrable) -> None:
    """The control/app API's "rotate the credentials now" (a PUT to the hub: new tokens both
    ways). 409 when not registered, 502 when the hub refused it."""
    if not service.registration.is_registered:
        raise OperationError("not registered with a hub: nothing to rotate")
    try:
        await service.registration.update()
    except (OcpiError, ValueError) as exc:
        raise OperationError(f"credentials update failed: {exc}", 502) from None
