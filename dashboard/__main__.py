"""`python -m dashboard --hub-url URL --admin-token T --member NAME=CPO:URL ...`: the
dashboard on its own, against any running hub and members (until `roam` starts it)."""

from __future__ import annotations

import argparse
import os

from dashboard.config import DashboardConfig, MemberLink, Role


def _member(text: str) -> MemberLink:
    name, _, rest = text.partition("=")
    role, _, url = rest.partition(":")
    if not name or role.upper() not in ("CPO", "EMSP") or not url:
        raise argparse.ArgumentTypeError(f"{text!r}: use NAME=CPO:URL or NAME=EMSP:URL")
    kind: Role = "CPO" if role.upper() == "CPO" else "EMSP"
    return MemberLink(name, kind, url)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__)
    parser.add_argument("--hub-url", required=True, help="the hub's base URL")
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("ROAM_HUB_ADMIN_TOKEN"),
        help="the hub's admin token (default: $ROAM_HUB_ADMIN_TOKEN)",
    )
    parser.add_argument(
        "--member",
        action="append",
        type=_member,
        default=[],
        help="NAME=CPO:CONTROL_URL or NAME=EMSP:APP_URL (repeatable)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--access-token", help="require this token to open the page")
    parser.add_argument("--read-only", action="store_true", help="no session starts")
    parser.add_argument(
        "--federation-url",
        help="a federation control API (fault switches on the page; roam demo serves one)",
    )
    parser.add_argument(
        "--federation-token",
        default=os.environ.get("ROAM_FEDERATION_TOKEN"),
        help="its Bearer token (default: $ROAM_FEDERATION_TOKEN)",
    )
    args = parser.parse_args()
    if not args.admin_token:
        parser.error("--admin-token (or ROAM_HUB_ADMIN_TOKEN) is required")
    config = DashboardConfig(
        hub_url=args.hub_url,
        admin_token=args.admin_token,
        members=args.member,
        access_token=args.access_token,
        allow_actions=not args.read_only,
        federation_url=args.federation_url,
        federation_token=args.federation_token,
    )
    from dashboard.server import serve

    print(f"dashboard at http://{args.host}:{args.port}/", flush=True)
    serve(config, args.host, args.port)


if __name__ == "__main__":
    main()
