"""The message log as a caller of `Hub.messages` sees it: plain, immutable lines.

`MessageFilter` says which lines; `LoggedMessage` is one line (the columns of the `message`
table, see `hub.records.MessageRecord`), detached from the database, with what a charging
session's message was about (`subject_of`, the `message_subject` table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.records import MessageRecord, MessageSubjectRecord
from hub.store import MessageFilter

__all__ = ["LoggedMessage", "MessageFilter", "body_text", "subject_of"]

SUBJECT_MODULES = frozenset({"commands", "sessions", "cdrs"})
"""The modules whose messages belong to a charging session: their log lines get a subject."""
BODY_LIMIT = 65_536
"""Characters of a request or response body kept with a subject (the rest is cut)."""


def _key(value: Any) -> str:
    return value[:36] if isinstance(value, str) else ""


def subject_of(
    module: str, method: str, segments: Sequence[str], body: Any
) -> dict[str, str] | None:
    """What a routed message of a charging session is about: the session id and the
    authorization_reference it names (OCPI 2.2.1 §13.3.4 StartSession and §9.3.1 Session
    carry the reference, §13.3.5 StopSession and §10.3.1 CDR the session id). None for a
    message of another module, and for a GET: a pull (a page of sessions or CDRs) is no
    step of one session, and its bodies would fill the log."""
    if module not in SUBJECT_MODULES or method == "GET":
        return None
    fields = body if isinstance(body, dict) else {}
    session_id = _key(fields.get("session_id"))
    if module == "sessions":
        # PUT/PATCH {cc}/{pid}/{session_id}: a PATCH body need not repeat the id.
        session_id = _key(segments[2]) if len(segments) == 3 else _key(fields.get("id"))
    return {
        "session_id": session_id,
        "authorization_reference": _key(fields.get("authorization_reference")),
        "command": "",
    }


def body_text(raw: bytes | None) -> str:
    """A body as kept with a subject: text, at most BODY_LIMIT characters."""
    if not raw:
        return ""
    text = raw.decode("utf-8", "replace")
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + " …[cut]"


@dataclass(frozen=True)
class LoggedMessage:
    """One message the hub saw: routed, answered by itself, or refused."""

    id: int
    """Grows with every line logged (follow the log with `MessageFilter(after_id=...)`)."""
    timestamp: datetime
    hop: str
    """"inbound" (member -> hub), "outbound" (hub -> member) or "store"."""
    method: str
    path: str
    module: str = ""
    correlation_id: str = ""
    request_id: str = ""
    parent_request_id: str = ""
    """For an outbound hop: the X-Request-ID of the inbound request that caused it."""
    from_party: str = ""
    to_party: str = ""
    platform_id: int | None = None
    ocpi_status: int | None = None
    http_status: int | None = None
    latency_ms: float | None = None
    note: str = ""
    session_id: str = ""
    """The charging session this message belongs to, when the hub knows it (commands,
    sessions and cdrs only; a CommandResult gets its command's)."""
    authorization_reference: str = ""
    request_body: str | None = None
    """Only when asked for (`Hub.messages(bodies=True)`) and kept (session messages)."""
    response_body: str | None = None

    @classmethod
    def of(
        cls, row: MessageRecord, subject: MessageSubjectRecord | None = None, bodies: bool = False
    ) -> LoggedMessage:
        kept = subject is not None and bodies
        return cls(
            id=row.id or 0,
            timestamp=row.timestamp,
            hop=row.hop,
            method=row.method,
            path=row.path,
            module=row.module,
            correlation_id=row.correlation_id,
            request_id=row.request_id,
            parent_request_id=row.parent_request_id,
            from_party=row.from_party,
            to_party=row.to_party,
            platform_id=row.platform_id,
            ocpi_status=row.ocpi_status,
            http_status=row.http_status,
            latency_ms=row.latency_ms,
            note=row.note,
            session_id=subject.session_id if subject else "",
            authorization_reference=subject.authorization_reference if subject else "",
            request_body=subject.request_body if kept and subject else None,
            response_body=subject.response_body if kept and subject else None,
        )
