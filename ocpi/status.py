"""OCPI status codes (spec transport_and_format "Status codes"): the `status_code` values."""

from __future__ import annotations

from enum import IntEnum


class OcpiStatus(IntEnum):
    """Every status code OCPI 2.2.1 names. 19xx/29xx/39xx/49xx are reserved for custom use."""

    SUCCESS = 1000

    CLIENT_ERROR = 2000
    INVALID_OR_MISSING_PARAMETERS = 2001
    NOT_ENOUGH_INFORMATION = 2002
    UNKNOWN_LOCATION = 2003
    UNKNOWN_TOKEN = 2004

    SERVER_ERROR = 3000
    UNABLE_TO_USE_CLIENT_API = 3001
    UNSUPPORTED_VERSION = 3002
    NO_MATCHING_ENDPOINTS = 3003

    HUB_ERROR = 4000
    UNKNOWN_RECEIVER = 4001
    TIMEOUT_ON_FORWARDED_REQUEST = 4002
    CONNECTION_PROBLEM = 4003


def is_success(code: int) -> bool:
    """1xxx codes are successes (1000 generic, 1900-1999 custom)."""
    return 1000 <= code <= 1999


def status_class(code: int) -> int:
    """The class of a code: 1000, 2000, 3000 or 4000 (0 for a code outside the OCPI ranges)."""
    return code // 1000 * 1000 if 1000 <= code <= 4999 else 0
