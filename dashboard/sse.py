"""Server-Sent Events framing (HTML Living Standard §9.2): one event is `event:`, `id:` and
one `data:` line per line of its payload, ended by a blank line; a line starting with a
colon is a comment, sent to keep idle connections open."""

from __future__ import annotations

import json
from typing import Any

KEEP_ALIVE = b": keep-alive\n\n"


def frame(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One event; `data` as compact JSON (a payload with line breaks gets one `data:` line
    each, which the browser joins again with "\\n")."""
    if "\n" in event or "\r" in event:
        raise ValueError("an event name cannot contain a line break")
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    lines = [f"event: {event}"]
    if event_id is not None:
        if "\n" in event_id or "\r" in event_id:
            raise ValueError("an event id cannot contain a line break")
        lines.append(f"id: {event_id}")
    lines.extend(f"data: {line}" for line in text.replace("\r\n", "\n").split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def retry(milliseconds: int) -> bytes:
    """Tells the browser how long to wait before reconnecting."""
    return f"retry: {int(milliseconds)}\n\n".encode()
