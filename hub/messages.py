"""The message log as a caller of `Hub.messages` sees it: plain, immutable lines.

`MessageFilter` says which lines; `LoggedMessage` is one line (the columns of the `message`
table, see `hub.records.MessageRecord`), detached from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.records import MessageRecord
from hub.store import MessageFilter

__all__ = ["LoggedMessage", "MessageFilter"]


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

    @classmethod
    def of(cls, row: MessageRecord) -> LoggedMessage:
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
        )
