"""One place that turns every failure into an OCPI envelope with the status the spec prescribes.

* OcpiError (any subclass)          -> its own OCPI and HTTP status
* body that is not JSON             -> HTTP 400, status 2000
* JSON that fails validation        -> HTTP 200, status 2001, message naming the field
* unknown URL                       -> HTTP 404 envelope; wrong method -> HTTP 405 envelope
* anything unexpected               -> HTTP 500, status 3000, no stack trace (middleware.py)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpi.errors import OcpiError
from ocpi.server.responses import ocpi_response
from ocpi.status import OcpiStatus
from ocpi.v221.types import CI_STRING_PATTERN, STRING_PATTERN

_PATTERN_MESSAGES = {
    CI_STRING_PATTERN: "must contain printable ASCII characters only (CiString)",
    STRING_PATTERN: "must not contain control characters (string)",
}


def describe_errors(errors: Sequence[Any], limit: int = 5) -> str:
    """A one-line, human-readable account of pydantic errors, naming each field."""
    parts = []
    for error in list(errors)[:limit]:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            where = loc[0]
            loc = loc[1:]
        else:
            where = "body"
        field = _format_loc(loc)
        pattern = str((error.get("ctx") or {}).get("pattern"))
        message = str(_PATTERN_MESSAGES.get(pattern, error.get("msg", "invalid")))
        if error.get("type") == "missing":
            message = "required field is missing"
        message = message.removeprefix("Value error, ")
        parts.append(f"{where} {field}: {message}" if field else f"{where}: {message}")
    extra = len(errors) - limit
    if extra > 0:
        parts.append(f"and {extra} more")
    return "; ".join(parts)


def _format_loc(loc: Sequence[str]) -> str:
    text = ""
    for part in loc:
        if part.isdigit():
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _is_not_json(errors: Sequence[Any]) -> str | None:
    for error in errors:
        if error.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        if error.get("loc", ())[:1] == ("body",) and isinstance(error.get("input"), bytes):
            return "the request body must be JSON sent with Content-Type: application/json"
    return None


def error_response(exc: OcpiError) -> Response:
    """The envelope answering an `OcpiError`: its OCPI and HTTP status, message and headers."""
    return ocpi_response(
        exc.data,
        status_code=exc.status_code,
        status_message=exc.message,
        http_status=exc.http_status,
        headers=exc.headers,
    )


async def _ocpi_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OcpiError)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    not_json = _is_not_json(errors)
    if not_json is not None:
        return ocpi_response(
            status_code=OcpiStatus.CLIENT_ERROR, status_message=not_json, http_status=400
        )
    return ocpi_response(
        status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        status_message="Invalid or missing parameters: " + describe_errors(errors),
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        message = f"no such OCPI endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return ocpi_response(
        status_code=OcpiStatus.CLIENT_ERROR,
        status_message=message,
        http_status=exc.status_code,
        headers=exc.headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on an app (ocpi_app() does this for you)."""
    app.add_exception_handler(OcpiError, _ocpi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Unexpected exceptions are caught by ocpi.server.middleware.OcpiHeadersMiddleware, which
    # sits inside Starlette's ServerErrorMiddleware and so can still echo the request ids.
