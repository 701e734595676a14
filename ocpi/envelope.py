"""The OCPI response envelope (spec transport_and_format "Response format"): build and read it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pydantic_core
from pydantic import BaseModel, ConfigDict, StrictInt

from ocpi.status import OcpiStatus
from ocpi.v221.types import DateTime, format_datetime


class Envelope(BaseModel):
    """What every OCPI response body is. `data` is left untyped here; callers validate it."""

    model_config = ConfigDict(extra="ignore")

    data: Any = None
    status_code: StrictInt
    status_message: str | None = None
    timestamp: DateTime


def envelope_dict(
    data: Any = None,
    status_code: int = OcpiStatus.SUCCESS,
    status_message: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The envelope as a JSON-ready dict; `data` and `status_message` are left out when None.

    Leaving `data` out (rather than sending null) follows the d2 advice for answers whose data
    the spec does not define (e.g. the response to a Session PUT).
    """
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = data
    body["status_code"] = int(status_code)
    if status_message is not None:
        body["status_message"] = status_message
    body["timestamp"] = format_datetime(timestamp or datetime.now(UTC))
    return body


def encode_envelope(
    data: Any = None,
    status_code: int = OcpiStatus.SUCCESS,
    status_message: str | None = None,
    timestamp: datetime | None = None,
) -> bytes:
    """The envelope serialised to JSON bytes. Wire models inside `data` drop their None fields."""
    body = envelope_dict(data, status_code, status_message, timestamp)
    return pydantic_core.to_json(body, exclude_none=True)


def encode_list_envelope(items: Sequence[str], timestamp: datetime | None = None) -> bytes:
    """A success envelope whose `data` is the list of objects given as JSON texts, spliced as
    they are (no parse, no re-encoding): for a store that keeps objects as JSON text. Each
    text must be one JSON value; the caller vouches for that."""
    stamp = format_datetime(timestamp or datetime.now(UTC))
    data = ",".join(items)
    status = int(OcpiStatus.SUCCESS)
    return f'{{"data":[{data}],"status_code":{status},"timestamp":"{stamp}"}}'.encode()
