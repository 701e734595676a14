"""`ocpi_app()`: a FastAPI application preconfigured with the OCPI behaviours of this package."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ocpi.server.body_guard import JsonBodyGuard
from ocpi.server.errors import install_error_handlers
from ocpi.server.middleware import OcpiHeadersMiddleware
from ocpi.server.responses import OcpiResponse
from ocpi.wire_json import MAX_BODY_BYTES


def ocpi_app(
    title: str,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    defer_body_errors: tuple[str, ...] = (),
    **kwargs: Any,
) -> FastAPI:
    """A FastAPI app with envelope error handling, strict body reading and request-id echo
    already installed.

    Services add their routers; nothing is configured at import time, so one process can run
    several apps (a hub and many members) side by side. Request bodies are read strictly
    (`JsonBodyGuard`); paths starting with one of `defer_body_errors` get the refusal in the
    scope instead of an answer, for their endpoint to raise and log.
    """
    app = FastAPI(title=title, default_response_class=OcpiResponse, **kwargs)
    install_error_handlers(app)
    app.add_middleware(JsonBodyGuard, max_bytes=max_body_bytes, defer=defer_body_errors)
    app.add_middleware(OcpiHeadersMiddleware)
    return app
