"""`roam demo --once` at a tiny scale: the whole story over real HTTP on loopback, every step
checked by the demo itself; plus the federation file's rules. No timing is asserted."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.translation import VERSIONS as HUB_VERSIONS
from ocpi.platform.adapters import SUPPORTED_VERSIONS
from roam.demo.run import run_demo
from roam.demo_cmd import demo_command
from roam.federation.runtime import start_federation
from roam.federation.spec import (
    MEMBER_VERSIONS,
    FederationError,
    load_federation,
    parse_federation,
)


def test_the_default_federation_is_the_four_member_alliance() -> None:
    spec = load_federation()
    assert [m.name for m in spec.members] == ["Fastned", "IONITY", "Electra", "Atlante"]
    assert sum(m.stations for m in spec.members) == 1700
    assert len({m.cpo for m in spec.members} | {m.emsp for m in spec.members}) == 8


def test_the_default_alliance_mixes_ocpi_versions() -> None:
    """One member's app and another member's CPO speak 2.3.0, a third member's CPO 2.1.1
    (docs/demo.md)."""
    spec = load_federation()
    assert [(m.cpo_ocpi_version, m.emsp_ocpi_version) for m in spec.members] == [
        ("2.2.1", "2.3.0"),
        ("2.2.1", "2.2.1"),
        ("2.3.0", "2.2.1"),
        ("2.1.1", "2.2.1"),
    ]


MEMBERS = (
    "members:\n"
    "  - {name: A, country_code: NL, cpo_party_id: AAC, emsp_party_id: AAE%s}\n"
    "  - {name: Bravo, country_code: DE, cpo_party_id: BBC, emsp_party_id: BBE%s}\n"
)


def test_a_member_names_its_ocpi_version_per_platform() -> None:
    spec = parse_federation(MEMBERS % (", version: '2.3.0'", ", cpo_version: '2.3.0'"))
    a, b = spec.members
    assert (a.cpo_ocpi_version, a.emsp_ocpi_version) == ("2.3.0", "2.3.0")
    assert (b.cpo_ocpi_version, b.emsp_ocpi_version) == ("2.3.0", "2.2.1")
    spec = parse_federation(MEMBERS % (", version: '2.3.0', emsp_version: '2.2.1'", ""))
    a, b = spec.members
    assert (a.cpo_ocpi_version, a.emsp_ocpi_version) == ("2.3.0", "2.2.1")
    assert (b.cpo_ocpi_version, b.emsp_ocpi_version) == ("2.2.1", "2.2.1")


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [("version", "'2.4'", "'2.4'"), ("emsp_version", "2.2", "2.2"), ("cpo_version", "'x'", "'x'")],
)
def test_an_unknown_ocpi_version_names_the_file_and_the_member(
    tmp_path: Path, key: str, value: str, shown: str
) -> None:
    path = tmp_path / "alliance.yaml"
    path.write_text(MEMBERS % ("", f", {key}: {value}"), encoding="utf-8")
    with pytest.raises(FederationError) as caught:
        load_federation(path)
    assert str(caught.value) == (
        f"{path}: members.1 (Bravo).{key}: Value error, unknown OCPI version {shown} "
        f"(hub and members speak {', '.join(MEMBER_VERSIONS)})"
    )
    assert {"2.2.1", "2.3.0"} <= set(MEMBER_VERSIONS)


@pytest.mark.parametrize("version", sorted(set(SUPPORTED_VERSIONS) | set(HUB_VERSIONS)))
def test_a_version_is_taken_when_both_the_hub_and_the_mocks_speak_it(version: str) -> None:
    """2.1.1 (the mocks speak it, the hub not yet) is refused saying so until both do."""
    text = MEMBERS % (f", cpo_version: '{version}'", "")
    if version in SUPPORTED_VERSIONS and version in HUB_VERSIONS:
        assert parse_federation(text).members[0].cpo_ocpi_version == version
        return
    lacking = "the hub" if version in SUPPORTED_VERSIONS else "the member platforms"
    with pytest.raises(FederationError, match=f"OCPI {version} is not spoken by {lacking} yet"):
        parse_federation(text)


async def test_demo_once_plays_the_whole_story(tmp_path: Path) -> None:
    lines: list[str] = []
    ok = await run_demo(load_federation(), scale=0.01, once=True, keep=tmp_path, echo=lines.append)
    text = "\n".join(lines)
    assert ok, text
    assert "demo: OK" in text
    assert "[FAILED]" not in text
    assert "balances" in text and "4003" in text and "AUTH_REQUEST" in text
    # The mixed-version alliance: the hub registered each platform on its version, and every
    # driver charged at every other member (the checks above hold across every pair).
    assert "Fastned    eMSP NL/FNA registered (OCPI 2.3.0," in text
    assert "Electra    CPO  FR/ELC registered (OCPI 2.3.0)" in text
    assert "IONITY     CPO  DE/IOC registered (OCPI 2.2.1)" in text
    assert "Atlante    CPO  IT/ATC registered (OCPI 2.1.1)" in text
    for driver in ("Fastned", "IONITY", "Electra", "Atlante"):
        for cpo in ("Fastned", "IONITY", "Electra", "Atlante"):
            invoiced = f"[ok] {driver} app driver at {cpo}: invoice:" in text
            assert invoiced is (driver != cpo), (driver, cpo)


def test_the_command_refuses_a_bad_federation_file(tmp_path: Path) -> None:
    bad = tmp_path / "f.yaml"
    bad.write_text("members: [")
    import typer

    app = typer.Typer()
    app.command()(demo_command)
    result = CliRunner().invoke(app, ["--once", "--federation", str(bad)])
    assert result.exit_code == 2
    assert "not valid YAML" in result.output


async def test_cancelling_the_bring_up_stops_every_server(tmp_path: Path) -> None:
    """Ctrl-C while the federation comes up (the sync takes minutes at full scale) stops what
    was started, in order: no server is left for the event loop's teardown to cancel."""
    lines: list[str] = []
    registered = asyncio.Event()

    def echo(line: str) -> None:
        lines.append(line)
        if "registered" in line:
            registered.set()

    before = asyncio.all_tasks()
    bring_up = asyncio.create_task(start_federation(load_federation(), 0.005, tmp_path, echo))
    await asyncio.wait_for(registered.wait(), 60)
    bring_up.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bring_up
    hub_line = next(line for line in lines if line.startswith("hub "))
    hub_port = int(hub_line.split(":")[2].split("/")[0])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", hub_port), timeout=1).close()
    left = [task for task in asyncio.all_tasks() - before if not task.done()]
    assert left == [], left
