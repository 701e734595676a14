"""`ocpi_app()`: a FastAPI application preconfigured with the OCPI behaviours of this package."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ocpi.server.errors import install_error_handlers
from ocpi.server.middleware import OcpiHeadersMiddleware
from ocpi.server.responses import OcpiResponse


def ocpi_app(title: str, **kwargs: Any) -> FastAPI:
    """A FastAPI app with envelope error handling and request-id echo already installed.

    Services add their routers; nothing is configured at import time, so one process can run
    several apps (a hub and many members) side by side.
    """
    app = FastAPI(title=title, default_response_class=OcpiResponse, **kwargs)
    install_error_handlers(app)
    app.add_middleware(OcpiHeadersMiddleware)
    return app
