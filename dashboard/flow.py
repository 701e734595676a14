"""The hub's message log as the page sees it, pure: the recent messages (each once), routed
messages per second by module and by member pair, the log search, and the hops of one
correlation id or of one charging session as a timeline."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

WINDOW_S = 10
"""Rates are averaged over this many seconds."""
SERIES_S = 60
"""The sparkline: routed messages in each of the last 60 seconds."""


def parse_time(text: str) -> datetime:
    """An OCPI DateTime ("2025-03-04T09:00:00.05Z") as an aware UTC datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Message:
    """One line of `GET /admin/messages` (hub/api/admin.py `message_json`)."""

    key: tuple[str, str, str]
    at: datetime
    raw: Mapping[str, Any]

    @property
    def hop(self) -> str:
        return str(self.raw.get("hop") or "")

    @property
    def module(self) -> str:
        return str(self.raw.get("module") or "")

    @property
    def ok(self) -> bool:
        status = self.raw.get("ocpi_status")
        return isinstance(status, int) and 1000 <= status < 2000


def message_of(raw: Mapping[str, Any]) -> Message:
    key = (str(raw.get("request_id", "")), str(raw.get("hop", "")), str(raw.get("to", "")))
    return Message(key, parse_time(str(raw["timestamp"])), raw)


class MessageLog:
    """The last `capacity` messages, oldest first, each once."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[tuple[str, str, str], Message] = OrderedDict()
        self._by_request: dict[str, Message] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, rows: Iterable[Mapping[str, Any]]) -> list[Message]:
        """Adds what is new; returns it."""
        added: list[Message] = []
        for raw in rows:
            message = message_of(raw)
            if message.key in self._rows:
                continue
            self._rows[message.key] = message
            if message.hop == "inbound":
                self._by_request[message.key[0]] = message
            added.append(message)
        while len(self._rows) > self.capacity:
            _, old = self._rows.popitem(last=False)
            if self._by_request.get(old.key[0]) is old:
                del self._by_request[old.key[0]]
        return added

    def messages(self) -> list[Message]:
        return list(self._rows.values())

    def sender(self, message: Message) -> str:
        """Who a routed message comes from: an outbound hop of a broadcast or a GET-all names
        the hub as sender; the member is the sender of the inbound request that caused it."""
        sender = str(message.raw.get("from") or "")
        parent = self._by_request.get(str(message.raw.get("parent_request_id") or ""))
        if (
            parent is not None
            and str(parent.raw.get("from") or "")
            and sender != str(parent.raw.get("from"))
        ):
            return str(parent.raw.get("from"))
        return sender


def member_of(party: str, members: Mapping[str, str]) -> str:
    """A party "NL/FNC" as its member's name; the party itself when no member owns it."""
    return members.get(party, party)


def rates(
    log: MessageLog, members: Mapping[str, str], now: datetime, window_s: int = WINDOW_S
) -> dict[str, Any]:
    """Routed messages (the hub's outbound hops) per second over the last `window_s` seconds:
    in total, by module and by (sender member, receiver member); and per second for the last
    `SERIES_S` seconds."""
    since = now - timedelta(seconds=max(window_s, SERIES_S))
    by_module: Counter[str] = Counter()
    by_pair: Counter[tuple[str, str]] = Counter()
    series = [0] * SERIES_S
    errors = 0
    total = 0
    for message in log.messages():
        if message.hop != "outbound" or message.at < since or message.at > now:
            continue
        age = (now - message.at).total_seconds()
        if age < SERIES_S:
            series[SERIES_S - 1 - int(age)] += 1
        if age >= window_s:
            continue
        total += 1
        by_module[message.module or "?"] += 1
        pair = (
            member_of(log.sender(message), members),
            member_of(str(message.raw.get("to") or ""), members),
        )
        by_pair[pair] += 1
        if not message.ok:
            errors += 1
    return {
        "window_s": window_s,
        "per_second": round(total / window_s, 2),
        "errors_per_second": round(errors / window_s, 2),
        "by_module": [
            {"module": module, "per_second": round(count / window_s, 2)}
            for module, count in sorted(by_module.items(), key=lambda x: (-x[1], x[0]))
        ],
        "by_pair": [
            {"from": a, "to": b, "per_second": round(count / window_s, 2)}
            for (a, b), count in sorted(by_pair.items(), key=lambda x: (-x[1], x[0]))
        ],
        "series": series,
    }


def label(raw: Mapping[str, Any]) -> str:
    """What a message of a charging session is, in words: "START_SESSION", "CommandResult of
    START_SESSION" (posted to the command's response URL, one path segment more), "Session
    PUT", "CDR POST"; the module and method for anything else."""
    module = str(raw.get("module") or "")
    method = str(raw.get("method") or "")
    if module == "commands":
        path = str(raw.get("path") or "").split("?")[0].rstrip("/").split("/")
        after = path[len(path) - path[::-1].index("commands") :] if "commands" in path else []
        command = after[0].upper() if after else "command"
        return f"CommandResult of {command}" if len(after) > 1 else command
    names = {"sessions": "Session", "cdrs": "CDR"}
    return f"{names.get(module, module)} {method}".strip()


def row(message: Message, log: MessageLog, members: Mapping[str, str]) -> dict[str, Any]:
    """One message as the page lists it."""
    raw = message.raw
    sender = log.sender(message)
    return {
        "timestamp": raw.get("timestamp"),
        "hop": message.hop,
        "from": raw.get("from"),
        "to": raw.get("to"),
        "from_member": member_of(sender, members),
        "to_member": member_of(str(raw.get("to") or ""), members),
        "module": message.module,
        "method": raw.get("method"),
        "path": raw.get("path"),
        "ocpi_status": raw.get("ocpi_status"),
        "http_status": raw.get("http_status"),
        "latency_ms": raw.get("latency_ms"),
        "correlation_id": raw.get("correlation_id"),
        "note": raw.get("note"),
        "ok": message.ok,
        "session": raw.get("session_id") or raw.get("authorization_reference") or None,
        "label": label(raw),
    }


@dataclass(frozen=True, slots=True)
class Search:
    text: str = ""
    """Part of the path, correlation id, party or note (case-insensitive)."""
    module: str = ""
    member: str = ""
    """A member's name or a party "NL/FNC": sender or receiver."""
    status: str = ""
    """"ok" (OCPI 1xxx), "error" (anything else), or an exact OCPI status code."""
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200


def search(log: MessageLog, members: Mapping[str, str], query: Search) -> list[dict[str, Any]]:
    """Matching messages, newest first."""
    text = query.text.lower().strip()
    member = query.member.strip().lower()
    found: list[dict[str, Any]] = []
    for message in reversed(log.messages()):
        raw = message.raw
        if query.module and message.module != query.module:
            continue
        if query.since and message.at < query.since:
            continue
        if query.until and message.at > query.until:
            continue
        if query.status == "ok" and not message.ok:
            continue
        if query.status == "error" and message.ok:
            continue
        if query.status.isdigit() and raw.get("ocpi_status") != int(query.status):
            continue
        parties = [log.sender(message), str(raw.get("from") or ""), str(raw.get("to") or "")]
        if member and not any(
            member in (p.lower(), member_of(p, members).lower()) for p in parties
        ):
            continue
        if text:
            haystack = " ".join(
                [
                    str(raw.get("path") or ""),
                    str(raw.get("correlation_id") or ""),
                    str(raw.get("note") or ""),
                    *parties,
                    *(member_of(p, members) for p in parties),
                ]
            ).lower()
            if text not in haystack:
                continue
        found.append(row(message, log, members))
        if len(found) >= query.limit:
            break
    return found


def session_lines(log: MessageLog, key: str) -> list[Mapping[str, Any]]:
    """The held lines that name one charging session (without bodies): what a session's
    trace shows when the hub cannot be asked."""
    return [
        m.raw
        for m in log.messages()
        if key in (m.raw.get("session_id"), m.raw.get("authorization_reference"))
    ]


def trace(rows: Iterable[Mapping[str, Any]], members: Mapping[str, str]) -> dict[str, Any]:
    """Every hop of one correlation id or one charging session, in time order, with its
    offset from the first hop, its OCPI status, its latency and, when the hub kept them, its
    request and response bodies."""
    local = MessageLog()
    local.add(rows)

    # The hub stamps a line when the hop's answer is back: it started `latency_ms` earlier.
    def start(message: Message) -> datetime:
        return message.at - timedelta(milliseconds=float(message.raw.get("latency_ms") or 0))

    messages = sorted(local.messages(), key=lambda m: (start(m), m.hop != "inbound"))
    if not messages:
        return {"hops": [], "total_ms": 0}
    first = start(messages[0])
    hops = []
    end = first
    for message in messages:
        end = max(end, message.at)
        hops.append(
            {
                **row(message, local, members),
                "offset_ms": round((start(message) - first).total_seconds() * 1000, 3),
                "request_body": message.raw.get("request_body"),
                "response_body": message.raw.get("response_body"),
            }
        )
    return {"hops": hops, "total_ms": round((end - first).total_seconds() * 1000, 3)}
