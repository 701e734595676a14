"""FastAPI glue every OCPI service reuses: envelope responses, error handlers, auth, headers.

`ocpi_app()` builds a FastAPI application that already behaves as the spec asks for malformed
requests (400 / 401 / 404 / 405 / 2001 envelopes, never FastAPI's default 422) and that echoes
X-Request-ID and X-Correlation-ID on every response.
"""

from ocpi.server.app import ocpi_app
from ocpi.server.auth import TokenAuth
from ocpi.server.dependencies import (
    JsonBody,
    guarded_body,
    page_request,
    request_ids,
    routing_headers,
)
from ocpi.server.errors import install_error_handlers
from ocpi.server.responses import OcpiResponse, ocpi_response, paginated_response

__all__ = [
    "JsonBody",
    "OcpiResponse",
    "TokenAuth",
    "guarded_body",
    "install_error_handlers",
    "ocpi_app",
    "ocpi_response",
    "page_request",
    "paginated_response",
    "request_ids",
    "routing_headers",
]
