"""A test double: a minimal, independent OCPI 2.2.1 member platform (one CPO or one eMSP).

The hub's integration tests use it as "a CPO and an eMSP that nobody in this project wrote".
It imports only `ocpi` and libraries (never hub, cpo_mock, emsp_mock or roam), stores what it
receives, records every request (`Member.received`) and every call it makes (`Member.sent`),
and runs in-process (`Member.app` behind httpx.ASGITransport) or as a process:

    python -m tests.doubles.member --role CPO --party DE/CPB --port 8101 [--base-url ...]

Its parts: `records` (configuration, what it keeps), `rules` (pure: keys, URLs, PATCH merge,
URL-vs-body checks), `state` (MemberState: identity, tokens, stored objects, `send`),
`calls` (handshake, CPO and eMSP calls), `endpoints`, `configuration`, `cpo_routes`,
`emsp_routes` (its OCPI interfaces), `recording` (the middleware), `control` (the control
API of a process), `app` (Member and its FastAPI app), `process` (the command line),
`transport` (HostRouter, to wire in-process apps together).
"""

from ocpi.server.validation import parse_body
from tests.doubles.member.app import Member, build_app, create_member_app, member_of
from tests.doubles.member.process import main
from tests.doubles.member.records import (
    CallbackOutcome,
    MemberConfig,
    Peer,
    ReceivedCommand,
    RecordedRequest,
    SentCommand,
    SentRequest,
)
from tests.doubles.member.rules import (
    Key,
    TokenKey,
    apply_session_patch,
    join_url,
    merge,
    new_token,
    now,
    object_key,
    token_key,
)
from tests.doubles.member.state import CPO_INTERFACES, EMSP_INTERFACES, MemberState, Principal
from tests.doubles.member.transport import HostRouter

__all__ = [
    "CPO_INTERFACES",
    "EMSP_INTERFACES",
    "CallbackOutcome",
    "HostRouter",
    "Key",
    "Member",
    "MemberConfig",
    "MemberState",
    "Peer",
    "Principal",
    "ReceivedCommand",
    "RecordedRequest",
    "SentCommand",
    "SentRequest",
    "TokenKey",
    "apply_session_patch",
    "build_app",
    "create_member_app",
    "join_url",
    "main",
    "member_of",
    "merge",
    "new_token",
    "now",
    "object_key",
    "parse_body",
    "token_key",
]
