"""One outbound hop of a routed message: send it, log it, and learn from the answer.

The relay (a message forwarded while its sender waits) and the delivery lanes (a broadcast
from the outbox) both send through `send_hop`. A receiver that cannot be reached at all is
marked OFFLINE; one that answers while OFFLINE is marked CONNECTED again at once (any
successful exchange shows it is back, hub/clientinfo.py `revive`).
"""

from __future__ import annotations

import time

from hub.clientinfo import revive, set_platform_status
from hub.directory import Platform
from hub.forwarding import Answer, ReceiverUnreachable, forward
from hub.messages import body_text
from hub.service import Hub
from hub.translation import V211
from ocpi.errors import OcpiError
from ocpi.headers import PartyRef, RoutingHeaders, encode_authorization, new_request_id
from ocpi.v221.hubclientinfo import ConnectionStatus


async def send_hop(
    hub: Hub,
    *,
    platform: Platform,
    party: PartyRef,
    method: str,
    url: str,
    routing: RoutingHeaders,
    raw: bytes | None,
    module: str,
    correlation_id: str,
    parent_request_id: str,
    subject: dict[str, str] | None = None,
    note: str = "",
) -> Answer:
    """Send one hop to `platform` with its token B and log it; OcpiError (4xxx) if the
    receiver gave no usable OCPI answer. A `subject` (a charging session's message, hub/messages.py)
    is logged with the hop and its request and response bodies; `note` (what a translation to
    the receiver's version lost) goes on the hop's log line."""
    hop_id = new_request_id()
    token = platform.token_to_member
    headers = {
        # 2.1.1 sends the token as it is (transport_and_format "Request format").
        "Authorization": f"Token {token}"
        if platform.version == V211.version
        else encode_authorization(token),
        "X-Request-ID": hop_id,
        "X-Correlation-ID": correlation_id,
    }
    if platform.version != V211.version:  # 2.1.1 has no routing headers
        headers.update(routing.to_headers())
    if raw:
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()

    def log(
        status: int,
        http_status: int | None,
        latency_ms: float,
        error: str = "",
        answer: bytes | None = None,
    ) -> None:
        line = hub.log_message(
            hop="outbound",
            method=method,
            path=url,
            module=module,
            correlation_id=correlation_id,
            request_id=hop_id,
            parent_request_id=parent_request_id,
            from_party=routing.from_,
            to_party=party,
            platform_id=platform.id,
            ocpi_status=status,
            http_status=http_status,
            latency_ms=latency_ms,
            note="; ".join(text for text in (note, error) if text),
        )
        if subject is not None:
            line["subject"] = {
                **subject,
                "request_body": body_text(raw),
                "response_body": body_text(answer),
            }

    try:
        answer = await forward(hub.engine, method, url, headers, raw, hub.settings.forward_timeout)
    except OcpiError as exc:
        log(exc.status_code, None, (time.perf_counter() - started) * 1000, exc.message)
        if isinstance(exc, ReceiverUnreachable):
            hub.spawn(set_platform_status(hub, platform, ConnectionStatus.OFFLINE), "offline")
        raise
    platform.last_seen = time.monotonic()
    revive(hub, platform)
    log(answer.ocpi_status, answer.http_status, answer.latency_ms, answer=answer.body)
    return answer
