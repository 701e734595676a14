"""What went over the wire, in both directions: the suite's requests to the member with their
answers (`Exchange`), the member's requests to the suite (`Inbound`), and a lenient reading
of the OCPI envelope that keeps every shape problem for the envelope check to report.

What a failed check shows is kept as `Recorded` evidence (`recorded(item)`, done when its
CheckResult is made, and again by every report): JSON-safe data in one shape, whatever the
evidence held, so that no report can meet a value it cannot write.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from ocpi.headers import (
    AUTHORIZATION,
    ROUTING_HEADERS,
    X_CORRELATION_ID,
    X_REQUEST_ID,
    PartyRef,
    RoutingHeaders,
)
from ocpi.status import is_success
from roam.conformance.jsonsafe import Json, clean_text, describe, json_safe
from roam.conformance.validation import Finding

BODY_LIMIT = 2000
"""Characters of a body kept in a report (the whole body is kept in memory for the checks)."""


class Evidence(Protocol):
    """Something a check can show when it fails: one request and its answer."""

    def summary(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


def truncate(text: str | None, limit: int = BODY_LIMIT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"… ({len(text) - limit} more characters)"


_SHOWN = frozenset(
    {"authorization", "content-type", "link", "location", "x-limit", "x-total-count"}
    | {name.lower() for name in (X_REQUEST_ID, X_CORRELATION_ID, *ROUTING_HEADERS)}
)


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The OCPI headers of a message as a report shows them, the credentials token cut short."""
    shown: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() not in _SHOWN:
            continue
        if name.lower() == AUTHORIZATION.lower() and len(value) > 14:
            value = value[:14] + "…"
        shown[name] = value
    return shown


def routing_of(headers: Mapping[str, str]) -> RoutingHeaders:
    """The routing headers of a recorded message (names in any case); ValueError if broken."""
    return RoutingHeaders.parse(httpx.Headers(dict(headers)))


def decode_json(raw: bytes) -> tuple[Any, bool]:
    """(payload, is_json): an empty body is valid and None; JSON nested too deep for the
    parser counts as not JSON."""
    if not raw.strip():
        return None, True
    try:
        return json.loads(raw), True
    except (ValueError, RecursionError):
        return None, False


@dataclass(frozen=True)
class EnvelopeView:
    """An OCPI response body read without trusting it (spec transport_and_format, Response
    format). `problems` says what is wrong with its shape; the other fields hold what could
    still be read."""

    status_code: int | None
    data: Any
    has_data: bool
    timestamp: Any
    message: Any
    problems: tuple[str, ...]


def read_envelope(payload: Any, is_json: bool) -> EnvelopeView:
    if not is_json:
        return EnvelopeView(None, None, False, None, None, ("the body is not JSON",))
    if not isinstance(payload, dict):
        kind = "empty" if payload is None else f"a JSON {type(payload).__name__}"
        return EnvelopeView(None, None, False, None, None, (f"the body is {kind}, not an object",))
    problems: list[str] = []
    code = payload.get("status_code")
    status: int | None = None
    if isinstance(code, int) and not isinstance(code, bool):
        status = code
        if not 1000 <= code <= 4999:
            problems.append(f"status_code {code} is not a 4-digit OCPI status code")
    elif "status_code" not in payload:
        problems.append("status_code is missing")
    else:
        problems.append(f"status_code must be an int, got {json.dumps(code)}")
    if "timestamp" not in payload:
        problems.append("timestamp is missing")
    message = payload.get("status_message")
    if message is not None and not isinstance(message, str):
        problems.append("status_message must be a string")
    return EnvelopeView(
        status_code=status,
        data=payload.get("data"),
        has_data="data" in payload,
        timestamp=payload.get("timestamp"),
        message=message,
        problems=tuple(problems),
    )


@dataclass
class Exchange:
    """One request the suite sent to the member and what came back (or why nothing did)."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    routing: RoutingHeaders | None
    """The routing headers the suite sent (None: a configuration module, sent without)."""
    probe: bool = False
    """Deliberately wrong (bad token, broken body): judged by its own check only."""
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    """Response headers, names in lower case."""
    response_body: bytes = b""
    error: str | None = None
    elapsed: float = 0.0
    payload: Any = None
    is_json: bool = False

    @property
    def envelope(self) -> EnvelopeView:
        return read_envelope(self.payload, self.is_json)

    @property
    def ok(self) -> bool:
        """An answer with HTTP 2xx and a 1xxx status."""
        code = self.envelope.status_code
        return (
            self.error is None
            and self.status is not None
            and 200 <= self.status < 300
            and code is not None
            and is_success(code)
        )

    def header(self, name: str) -> str | None:
        return self.response_headers.get(name.lower())

    def outcome(self) -> str:
        """ "HTTP 200, status 1000" or what went wrong instead."""
        if self.error is not None:
            return self.error
        view = self.envelope
        if not self.is_json:
            return f"HTTP {self.status} with a body that is not JSON"
        if view.status_code is None:
            return f"HTTP {self.status} without an OCPI status_code"
        text = f"HTTP {self.status}, status {view.status_code}"
        if isinstance(view.message, str) and view.message:
            text += f" ({view.message[:200]})"
        return text

    def summary(self) -> str:
        return f"{self.method} {self.url} -> {self.outcome()}"

    def to_json(self) -> dict[str, Json]:
        response: dict[str, Any] | None = None
        if self.status is not None:
            response = {
                "status": self.status,
                "headers": mask_headers(self.response_headers),
                "body": truncate(self.response_body.decode("utf-8", "replace")),
            }
        return _shaped(
            {
                "direction": "suite -> member",
                "request": {
                    "method": self.method,
                    "url": self.url,
                    "headers": mask_headers(self.request_headers),
                    "body": truncate(self.request_body),
                },
                "response": response,
                "error": self.error,
                "elapsed_s": round(self.elapsed, 3),
            }
        )


@dataclass
class Inbound:
    """One request the member sent to the suite, and the suite's answer."""

    seq: int
    method: str
    url: str
    path: str
    """Below the suite's OCPI root: "versions", "2.2.1", "2.2.1/receiver/sessions/DE/CPB/1"…
    (another version's path is given as the 2.2.1 path the suite handles it as; `url` is
    the one the member used)."""
    headers: dict[str, str]
    """Names in lower case."""
    body: bytes
    payload: Any
    is_json: bool
    module: str | None
    """The OCPI module addressed; None for versions and version details."""
    functional: bool
    token: str | None = None
    """The suite-issued token the request authenticated with (None: unknown or missing)."""
    raw_token: bool = False
    """The token was sent without the Base64 encoding 2.2.1 requires."""
    status: int = 0
    answer_body: bytes = b""
    """The suite's answer as it was sent (the envelope's JSON bytes)."""
    answer_headers: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """Why the pushed object is not valid (the suite answered 2001)."""
    findings: list[Finding] = field(default_factory=list)
    """DateTime and string rules the body broke (the suite accepted it anyway)."""
    parsed: Any = None
    """The pushed object as validated (a model), when it was valid."""
    judged_by: str | None = None
    """The check that judged this push itself (the general push check leaves it alone)."""
    at: float = 0.0

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def addressee(self) -> PartyRef | None:
        """The OCPI-to party of the request (None when absent or malformed)."""
        try:
            return routing_of(self.headers).to
        except ValueError:
            return None

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]

    def summary(self) -> str:
        return f"member sent {self.method} {self.url} (suite answered HTTP {self.status})"

    def to_json(self) -> dict[str, Json]:
        return _shaped(
            {
                "direction": "member -> suite",
                "request": {
                    "method": self.method,
                    "url": self.url,
                    "headers": mask_headers(self.headers),
                    "body": truncate(self.body.decode("utf-8", "replace")),
                },
                "response": {
                    "status": self.status,
                    "headers": self.answer_headers,
                    "body": truncate(self.answer_body.decode("utf-8", "replace")),
                },
                "error": None,
            }
        )


@dataclass(frozen=True)
class Recorded:
    """Evidence as the reports show it: a summary line and JSON-safe data in the shape of
    `Exchange.to_json` (direction; request method, url, headers, body; response status,
    headers, body or None; error). Made by `recorded` only."""

    text: str
    data: dict[str, Json]

    def summary(self) -> str:
        return self.text

    def to_json(self) -> dict[str, Json]:
        return copy.deepcopy(self.data)


def recorded(item: Evidence) -> Recorded:
    """Any evidence as Recorded, never raising: the one way evidence reaches a report."""
    if isinstance(item, Recorded):
        return item
    try:
        data: object = item.to_json()
    except Exception as exc:
        data = {"error": f"this evidence could not be read ({type(exc).__name__}: {describe(exc)})"}
    try:
        text = describe(item.summary())
    except Exception:
        text = describe(item)
    return Recorded(text, _shaped(data))


def _shaped(data: object) -> dict[str, Json]:
    """Evidence data made JSON-safe and given the shape every report reads."""
    safe = json_safe(data)
    if not isinstance(safe, dict):
        safe = {"error": "evidence that is not an object", "value": safe}
    request = safe.get("request")
    request = request if isinstance(request, dict) else {}
    response = safe.get("response")
    error = safe.get("error")
    shaped: dict[str, Json] = dict(safe)
    shaped["direction"] = _text(safe.get("direction"), "?")
    shaped["request"] = {
        **request,
        "method": _text(request.get("method"), "?"),
        "url": _text(request.get("url"), "?"),
        "headers": _headers(request.get("headers")),
        "body": _body(request.get("body")),
    }
    if response is None:
        shaped["response"] = None
    else:
        answer = response if isinstance(response, dict) else {"body": response}
        status = answer.get("status")
        shaped["response"] = {
            **answer,
            "status": status if isinstance(status, int | None) else _text(status, "?"),
            "headers": _headers(answer.get("headers")),
            "body": _body(answer.get("body")),
        }
    shaped["error"] = None if error is None else _text(error, "")
    return shaped


def _text(value: Json, default: str) -> str:
    if value is None:
        return default
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _headers(value: Json) -> dict[str, Json]:
    if not isinstance(value, dict):
        return {} if value is None else {"?": _text(value, "")}
    return {name: _text(text, "") for name, text in value.items()}


def _body(value: Json) -> str | None:
    if value is None:
        return None
    return truncate(clean_text(_text(value, "")))
