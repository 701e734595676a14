"""`roam conformance`: run the contract tests against a member's OCPI endpoints.

    roam conformance --versions-url URL --token TOKEN_A --role CPO|EMSP [--party CC/PID]
                     [--version 2.1.1|2.2.1|2.3.0] [--junit FILE] [--json FILE] [--html FILE]
                     [--listen HOST:PORT] …

The suite's own OCPI server (the hub the member talks to) listens on --listen (a free
127.0.0.1 port by default); --public-url is where the member reaches it, when that differs
(a member in a container). Exit code 0: nothing failed; 1: a check failed; 2: bad options,
the suite's server could not start, or a report could not be written (the others still are).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Generator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Protocol

import typer
import uvicorn

from ocpi.client import SERVER_KEEPALIVE_S, http_client
from ocpi.headers import PartyRef
from ocpi.v221 import Role
from roam.conformance.checks import CheckResult, Outcome
from roam.conformance.context import (
    SUITE_HUB,
    MemberAction,
    MemberHook,
    SuiteConfig,
)
from roam.conformance.jsonsafe import describe, printable
from roam.conformance.report import Report
from roam.conformance.runner import Suite
from roam.conformance.versions import DEFAULT_VERSION, SUITE_VERSIONS, suite_version


class MemberRole(StrEnum):
    CPO = "CPO"
    EMSP = "EMSP"


class _Quiet(uvicorn.Server):
    """uvicorn in the suite's own event loop: Ctrl-C belongs to the suite."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _listen_socket(listen: str) -> socket.socket:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter(f"--listen must be HOST:PORT, got {listen!r}")
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # IPPROTO_TCP, or asyncio leaves Nagle on for accepted connections (roam/serving.py).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), int(port)))
    return sock


class _Described(Protocol):
    def environment(self) -> dict[str, str]: ...


def shell_trigger(command: str, timeout: float) -> Callable[[_Described], Awaitable[None]]:
    """A hook (--trigger-command, --credit-command) that runs a shell command with what it
    is about in OCPI_CONFORMANCE_* variables."""

    async def run(info: _Described) -> None:
        await _run_shell(command, info.environment(), timeout)

    return run


def shell_member_hook(command: str, timeout: float) -> MemberHook:
    """A member hook that runs a shell command with the action in OCPI_CONFORMANCE_*."""

    async def run(action: MemberAction) -> None:
        await _run_shell(command, action.environment(), timeout)

    return run


async def _run_shell(command: str, environment: dict[str, str], within: float) -> None:
    """Run `command` with OCPI_CONFORMANCE_* set; RuntimeError naming what went wrong."""
    process = await asyncio.create_subprocess_shell(
        command,
        env={**os.environ, **environment},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        raise RuntimeError(f"{command!r} did not finish within {within:g} s") from None
    if process.returncode != 0:
        tail = output.decode("utf-8", "replace").strip()[-300:]
        raise RuntimeError(f"{command!r} exited {process.returncode}: {tail}")


def _progress(result: CheckResult) -> None:
    mark = {Outcome.PASS: "pass", Outcome.FAIL: "FAIL", Outcome.SKIP: "skip"}[result.outcome]
    typer.echo(f"  {mark}  {result.check.id}", err=True)


async def run_served(config: SuiteConfig, sock: socket.socket) -> Report:
    """Serve the suite on `sock` with uvicorn, run every check, stop the server."""
    async with http_client(config.timeout) as http:
        suite = Suite(config, http)
        server = _Quiet(
            uvicorn.Config(
                suite.app,
                log_level="error",
                access_log=False,
                timeout_keep_alive=SERVER_KEEPALIVE_S,
            )
        )
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if serving.done():
                    raise RuntimeError("the suite's server did not start")
                await asyncio.sleep(0.01)
            return await suite.run(_progress)
        finally:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(serving, 10)


def _party(text: str | None, option: str) -> PartyRef | None:
    if text is None:
        return None
    try:
        return PartyRef.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{option}: {exc}") from None


def conformance_command(
    versions_url: Annotated[
        str, typer.Option("--versions-url", help="The member's OCPI versions URL.")
    ],
    token: Annotated[
        str,
        typer.Option(
            "--token",
            envvar="OCPI_CONFORMANCE_TOKEN_A",
            help="The token A the member issued for the suite (as for a hub).",
        ),
    ],
    role: Annotated[
        MemberRole,
        typer.Option(
            "--role",
            help="What the member is (OCPI 2.1.1 credentials name no role: this one is it).",
        ),
    ],
    version: Annotated[
        str,
        typer.Option(
            "--version",
            help=f"The OCPI version to test the member in ({', '.join(SUITE_VERSIONS)}).",
        ),
    ] = DEFAULT_VERSION,
    party: Annotated[
        str | None, typer.Option("--party", help="The member's party CC/PID under test.")
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write JSON here.")] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")
    ] = None,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT the suite's server listens on.")
    ] = "127.0.0.1:0",
    public_url: Annotated[
        str | None,
        typer.Option("--public-url", help="Where the member reaches the suite's server."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds per request to the member.")
    ] = 10.0,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0.1, help="Seconds to wait for a push, result or command."),
    ] = 30.0,
    charge_seconds: Annotated[
        float, typer.Option("--charge-seconds", min=0, help="Charging before the remote stop.")
    ] = 2.0,
    suite_party: Annotated[
        str, typer.Option("--suite-party", help="The suite's HUB party CC/PID.")
    ] = str(SUITE_HUB),
    counterpart: Annotated[
        str | None,
        typer.Option(
            "--counterpart",
            help="The party the suite plays behind its hub (default ZZ/EMS or ZZ/CPO).",
        ),
    ] = None,
    realtime_limit: Annotated[
        float,
        typer.Option(
            "--realtime-limit",
            min=0.01,
            help="eMSP only: seconds (p95) real-time authorization may take.",
        ),
    ] = 3.0,
    trigger_command: Annotated[
        str | None,
        typer.Option(
            "--trigger-command",
            help="eMSP only: a shell command that makes the member send a START_SESSION.",
        ),
    ] = None,
    member_command: Annotated[
        str | None,
        typer.Option(
            "--member-command",
            help="A shell command that makes the member register with the suite or rotate "
            "its credentials (OCPI_CONFORMANCE_ACTION register|rotate).",
        ),
    ] = None,
    credit_command: Annotated[
        str | None,
        typer.Option(
            "--credit-command",
            help="CPO only: a shell command that makes the member issue a credit CDR.",
        ),
    ] = None,
) -> None:
    """Contract tests: act as the hub toward a member and check it, rule by rule."""
    try:
        suite_version(version)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--version") from None
    try:
        sock = _listen_socket(listen)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {listen}: {exc}", err=True)
        raise typer.Exit(2) from None
    host, port = sock.getsockname()[:2]
    url = public_url or f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    member_role = Role(role.value)
    config = SuiteConfig(
        versions_url=versions_url,
        token_a=token,
        role=member_role,
        public_url=url,
        party=_party(party, "--party"),
        suite_party=_party(suite_party, "--suite-party") or SUITE_HUB,
        counterpart=_party(counterpart, "--counterpart"),
        timeout=timeout,
        wait=wait,
        charge_seconds=charge_seconds,
        trigger=shell_trigger(trigger_command, wait) if trigger_command else None,
        realtime_limit=realtime_limit,
        member_hook=shell_member_hook(member_command, wait) if member_command else None,
        credit=shell_trigger(credit_command, wait) if credit_command else None,
        version=version,
    )
    typer.echo(
        f"suite listening at {url}; testing {versions_url} as a {role.value} in OCPI {version}",
        err=True,
    )
    try:
        report = asyncio.run(run_served(config, sock))
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        sock.close()
    raise typer.Exit(write_reports(report, junit, json_file, colour=sys.stdout.isatty(), html=html))


def write_reports(
    report: Report,
    junit: Path | None,
    json_file: Path | None,
    colour: bool,
    html: Path | None = None,
) -> int:
    """Print the text report, write JUnit XML, JSON and HTML when asked; the exit code.

    Each report is rendered and written on its own: one that fails (a bug of the suite's, a
    file that cannot be written) is named on standard error, the others are still written,
    and the exit code is 2 (a suite error) instead of the report's 0 or 1.
    """
    broken: list[str] = []

    def attempt(what: str, write: Callable[[], None]) -> None:
        try:
            write()
        except Exception as exc:
            broken.append(what)
            typer.echo(
                f"error: the {what} could not be written ({type(exc).__name__}: "
                f"{printable(describe(exc))})",
                err=True,
            )

    attempt("text report", lambda: typer.echo(report.render_text(colour=colour)))
    if broken:
        attempt("report summary", lambda: typer.echo(_brief(report)))
    if junit is not None:
        attempt(f"JUnit report {junit}", lambda: _write(junit, report.junit_xml()))
    if json_file is not None:
        attempt(f"JSON report {json_file}", lambda: _write(json_file, report.json_text()))
    if html is not None:
        attempt(f"HTML report {html}", lambda: _write(html, report.html_text()))
    if broken:
        typer.echo(
            f"error: {len(broken)} report(s) not written; this is a bug of roam conformance "
            "(or a file that cannot be written), not of the member",
            err=True,
        )
        return 2
    return report.exit_code


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _brief(report: Report) -> str:
    """The outcome of every check, one line each: what is left when the text report fails."""
    lines = [f"  {r.outcome.value}  {r.check.id}" for r in report.results]
    return printable("\n".join([*lines, report.summary()]))
