"""The double as a process: `python -m tests.doubles.member --role CPO --party DE/CPB
--port 8101` runs one double under uvicorn (its control API lets a test drive it)."""

import argparse
from collections.abc import Sequence

from ocpi.headers import PartyRef
from ocpi.v221 import Role
from tests.doubles.member.app import Member
from tests.doubles.member.records import MemberConfig


def main(argv: Sequence[str] | None = None) -> None:
    """Run one double under uvicorn (`python -m tests.doubles.member --help`)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.doubles.member",
        description="A minimal OCPI 2.2.1 CPO or eMSP platform for testing a hub.",
    )
    parser.add_argument("--role", required=True, choices=["CPO", "EMSP"])
    parser.add_argument("--party", required=True, help="country_code/party_id, e.g. DE/CPB")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--base-url", help="public root URL (default http://HOST:PORT)")
    parser.add_argument("--name", default="")
    parser.add_argument("--page-limit", type=int, default=2)
    parser.add_argument("--command-result-delay", type=float, default=0.05)
    parser.add_argument("--token-a", help="accept this token A for a hub-initiated handshake")
    parser.add_argument(
        "--lax-routing", action="store_true", help="accept functional requests without routing"
    )
    args = parser.parse_args(argv)
    config = MemberConfig(
        role=Role(args.role),
        party=PartyRef.parse(args.party),
        name=args.name,
        base_url=args.base_url or f"http://{args.host}:{args.port}",
        page_limit=args.page_limit,
        command_result_delay=args.command_result_delay,
        strict_routing=not args.lax_routing,
    )
    member = Member(config)
    if args.token_a:
        member.accept_token_a(args.token_a)

    import uvicorn

    uvicorn.run(member.app, host=args.host, port=args.port, log_level="warning")
