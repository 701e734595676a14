"""The one error of a member's own operations API (the CPO's control API, the eMSP's app API).

Those APIs are not OCPI: they answer `{"error": message}` with an HTTP status, never an OCPI
envelope. A service raises `OperationError`; `operation_error_response` renders it (install it
with `app.add_exception_handler(OperationError, operation_error_response)`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


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
