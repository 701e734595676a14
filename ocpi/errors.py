"""One exception hierarchy for OCPI failures: each error carries its OCPI status and HTTP status.

Servers raise these and one handler (ocpi.server) renders them as envelopes; the client raises
them when a peer answers with a non-1xxx status, so both sides speak the same types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ocpi.status import OcpiStatus


class OcpiError(Exception):
    """An OCPI failure: `status_code` goes into the envelope, `http_status` onto the response."""

    default_status_code: ClassVar[int] = OcpiStatus.CLIENT_ERROR
    default_http_status: ClassVar[int] = 200

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        http_status: int | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = int(status_code if status_code is not None else self.default_status_code)
        self.http_status = http_status if http_status is not None else self.default_http_status
        self.data = data
        self.headers: dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        return f"{self.status_code}: {self.message}"


# --- 2xxx: the client sent something wrong ------------------------------------------------
class ClientError(OcpiError):
    default_status_code = OcpiStatus.CLIENT_ERROR


class InvalidParameters(ClientError):
    """2001: invalid or missing parameters (a missing field, a too-long string, an id mismatch)."""

    default_status_code = OcpiStatus.INVALID_OR_MISSING_PARAMETERS


class NotEnoughInformation(ClientError):
    default_status_code = OcpiStatus.NOT_ENOUGH_INFORMATION


class UnknownLocation(ClientError):
    default_status_code = OcpiStatus.UNKNOWN_LOCATION


class UnknownToken(ClientError):
    """2004 with HTTP 404: the spec's answer to a real-time authorization of an unknown token."""

    default_status_code = OcpiStatus.UNKNOWN_TOKEN
    default_http_status = 404


# --- transport-level answers (spec transport_and_format "HTTP status codes") --------------
class BadRequest(ClientError):
    """HTTP 400: the body is not valid JSON, so the request never reached the OCPI layer."""

    default_http_status = 400


class Unauthorized(ClientError):
    """HTTP 401: Authorization header missing, malformed, or the token is unknown."""

    default_http_status = 401


class NotFound(ClientError):
    """HTTP 404: the object (or the URL) does not exist for this client."""

    default_http_status = 404


class MethodNotAllowed(ClientError):
    """HTTP 405: e.g. credentials POST when registered, PUT/DELETE when not."""

    default_http_status = 405


# --- 3xxx: the server could not do it -----------------------------------------------------
class ServerError(OcpiError):
    default_status_code = OcpiStatus.SERVER_ERROR


class UnableToUseClientApi(ServerError):
    """3001: e.g. during registration the client's versions/details could not be fetched."""

    default_status_code = OcpiStatus.UNABLE_TO_USE_CLIENT_API


class UnsupportedVersion(ServerError):
    default_status_code = OcpiStatus.UNSUPPORTED_VERSION


class NoMatchingEndpoints(ServerError):
    default_status_code = OcpiStatus.NO_MATCHING_ENDPOINTS


# --- 4xxx: the hub could not route it ------------------------------------------------------
class HubError(OcpiError):
    default_status_code = OcpiStatus.HUB_ERROR


class UnknownReceiver(HubError):
    default_status_code = OcpiStatus.UNKNOWN_RECEIVER


class ForwardTimeout(HubError):
    default_status_code = OcpiStatus.TIMEOUT_ON_FORWARDED_REQUEST


class ConnectionProblem(HubError):
    default_status_code = OcpiStatus.CONNECTION_PROBLEM


# --- the peer could not be used at all (raised by the client, never sent on the wire) -----
class PeerError(ServerError):
    """The other platform gave no usable OCPI answer. A hub maps these to its 4xxx codes."""


class PeerUnreachable(PeerError):
    """Connection refused, reset or DNS failure before any answer."""


class PeerTimeout(PeerError):
    """The peer accepted the request but did not answer in time."""


class PeerProtocolError(PeerError):
    """The peer answered, but not with an OCPI envelope (non-JSON, no status_code, HTTP 5xx…)."""


_BY_STATUS: dict[int, type[OcpiError]] = {
    cls.default_status_code: cls
    for cls in (
        ClientError,
        InvalidParameters,
        NotEnoughInformation,
        UnknownLocation,
        UnknownToken,
        ServerError,
        UnableToUseClientApi,
        UnsupportedVersion,
        NoMatchingEndpoints,
        HubError,
        UnknownReceiver,
        ForwardTimeout,
        ConnectionProblem,
    )
}


_BY_HTTP: dict[int, type[OcpiError]] = {400: BadRequest, 404: NotFound, 405: MethodNotAllowed}


def error_for_status(
    status_code: int,
    message: str,
    *,
    http_status: int = 200,
    data: Any = None,
) -> OcpiError:
    """The exception that stands for an error envelope a peer sent (custom codes map by class)."""
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = {2: ClientError, 3: ServerError, 4: HubError}.get(status_code // 1000, OcpiError)
    if http_status == 401:
        cls = Unauthorized
    elif cls in (ClientError, OcpiError) and http_status in _BY_HTTP:
        # A generic client error: the HTTP status says which (400, 404, 405).
        cls = _BY_HTTP[http_status]
    return cls(message, status_code=status_code, http_status=http_status, data=data)
