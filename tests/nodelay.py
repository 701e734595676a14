"""A check shared by the server tests: connections are sent on without Nagle's delay."""

from __future__ import annotations

import socket

import uvicorn


def assert_sent_without_delay(server: uvicorn.Server) -> None:
    """Every connection `server` has accepted (make a request first) has TCP_NODELAY."""
    connections = list(server.server_state.connections)
    assert connections, "no connection to look at: make a request first"
    for connection in connections:
        sock = connection.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
