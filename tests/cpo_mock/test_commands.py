"""Every command of the mock CPO through the hub, every failure path included (spec
mod_commands): the synchronous CommandResponse and the CommandResult at the response_url."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from ocpi.errors import InvalidParameters, UnknownLocation
from ocpi.headers import PartyRef
from ocpi.v221 import (
    CancelReservation,
    CommandResponse,
    CommandResult,
    CommandType,
    ReserveNow,
    SessionStatus,
    StartSession,
    StopSession,
    UnlockConnector,
)
from ocpi.v221.types import OcpiModel
from ocpi.v221.versions import InterfaceRole, ModuleID
from tests.cpo_mock.conftest import CPO, T0, Federation
from tests.cpo_mock.test_sessions import evse_patches, plug, received_session, remote_start
from tests.doubles import factories as f
from tests.doubles.member import SentCommand, join_url


async def command(
    fed: Federation, kind: CommandType, to: PartyRef = CPO, **fields: Any
) -> tuple[CommandResponse, str]:
    """POST one command as the eMSP double; returns the response and the command's uid."""
    emsp = fed.emsp
    uid = uuid.uuid4().hex[:16]
    fields["response_url"] = join_url(emsp.module_url(ModuleID.COMMANDS), kind.value, uid)
    models: dict[CommandType, type[OcpiModel]] = {
        CommandType.START_SESSION: StartSession,
        CommandType.STOP_SESSION: StopSession,
        CommandType.RESERVE_NOW: ReserveNow,
        CommandType.CANCEL_RESERVATION: CancelReservation,
        CommandType.UNLOCK_CONNECTOR: UnlockConnector,
    }
    body = models[kind].model_validate(fields)
    emsp.sent_commands[uid] = SentCommand(uid=uid, command=kind, body=body, to=to)
    url = join_url(emsp.hub_endpoint(ModuleID.COMMANDS, InterfaceRole.RECEIVER), kind.value)
    answer = await emsp.send("POST", url, body, to=to)
    await fed.settle()
    return answer.parse(CommandResponse), uid


def result_of(fed: Federation, uid: str) -> CommandResult | None:
    return fed.emsp.command_results.get(uid)


def token(uid: str = "app-7f3a") -> dict[str, Any]:
    return f.token(uid=uid).to_json()


def reserve(
    reservation_id: str = "R1", evse_uid: str | None = "AC1", **extra: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "token": token(),
        "expiry_date": T0 + timedelta(minutes=30),
        "reservation_id": reservation_id,
        "location_id": "LOC1",
        "evse_uid": evse_uid,
    }
    fields.update(extra)
    return fields


# --- synchronous refusals ----------------------------------------------------------------------
async def test_unknown_location_is_2003_with_rejected(fed: Federation) -> None:
    with pytest.raises(UnknownLocation, match="location NOPE is not known") as caught:
        await command(fed, CommandType.START_SESSION, token=token(), location_id="NOPE")
    assert caught.value.status_code == 2003
    assert caught.value.data["result"] == "REJECTED"


async def test_unknown_evse_and_connector_are_2003_naming_them(fed: Federation) -> None:
    with pytest.raises(UnknownLocation, match="has no EVSE NOPE"):
        await command(
            fed, CommandType.START_SESSION, token=token(), location_id="LOC1", evse_uid="NOPE"
        )
    with pytest.raises(UnknownLocation, match="has no connector 9"):
        await command(
            fed,
            CommandType.UNLOCK_CONNECTOR,
            location_id="LOC1",
            evse_uid="DC1",
            connector_id="9",
        )


async def test_another_emsps_token_is_refused(fed: Federation) -> None:
    stranger = f.token(party=PartyRef("FR", "ELC")).to_json()
    with pytest.raises(InvalidParameters, match="belongs to FR/ELC"):
        await command(fed, CommandType.START_SESSION, token=stranger, location_id="LOC1")


async def test_malformed_command_body_is_2001_naming_the_field(fed: Federation) -> None:
    url = join_url(
        fed.emsp.hub_endpoint(ModuleID.COMMANDS, InterfaceRole.RECEIVER), "START_SESSION"
    )
    with pytest.raises(InvalidParameters, match="location_id"):
        await fed.emsp.send(
            "POST", url, {"response_url": "http://emsp.test/x", "token": token()}, to=CPO
        )


async def test_evse_without_the_capability_is_not_supported(fed: Federation) -> None:
    for kind, fields in (
        (CommandType.START_SESSION, {"token": token(), "location_id": "LOC1", "evse_uid": "PLAIN"}),
        (CommandType.RESERVE_NOW, reserve(evse_uid="PLAIN")),
        (
            CommandType.UNLOCK_CONNECTOR,
            {"location_id": "LOC1", "evse_uid": "PLAIN", "connector_id": "1"},
        ),
    ):
        response, uid = await command(fed, kind, **fields)
        assert response.result.value == "NOT_SUPPORTED", kind
        assert result_of(fed, uid) is None


async def test_stop_of_an_unknown_session_is_unknown_session(fed: Federation) -> None:
    response, uid = await command(fed, CommandType.STOP_SESSION, session_id="S999")
    assert response.result.value == "UNKNOWN_SESSION"
    assert response.timeout == 30
    assert result_of(fed, uid) is None  # nothing to wait for


# --- asynchronous results ---------------------------------------------------------------------
async def test_start_on_an_occupied_evse_is_evse_occupied(fed: Federation) -> None:
    await remote_start(fed, "DC1")
    await plug(fed, "DC1")
    response, uid = await command(
        fed, CommandType.START_SESSION, token=token("app-2"), location_id="LOC1", evse_uid="DC1"
    )
    assert response.result.value == "ACCEPTED"
    assert (result := result_of(fed, uid)) is not None
    assert result.result.value == "EVSE_OCCUPIED"


async def test_start_on_a_broken_evse_is_evse_inoperative(fed: Federation) -> None:
    await fed.control("POST", "/evses/LOC1/DC1/fault", {"kind": "OUTOFORDER"})
    await fed.settle()
    assert evse_patches(fed, "DC1") == ["OUTOFORDER"]
    _, uid = await command(
        fed, CommandType.START_SESSION, token=token(), location_id="LOC1", evse_uid="DC1"
    )
    assert (result := result_of(fed, uid)) is not None
    assert result.result.value == "EVSE_INOPERATIVE"
    await fed.control("POST", "/evses/LOC1/DC1/repair")
    await fed.settle()
    assert evse_patches(fed, "DC1") == ["OUTOFORDER", "AVAILABLE"]


async def test_failing_charger_gives_failed(fed: Federation) -> None:
    await fed.control("POST", "/evses/LOC1/DC1/fault", {"kind": "FAILING"})
    _, uid = await command(
        fed, CommandType.START_SESSION, token=token(), location_id="LOC1", evse_uid="DC1"
    )
    assert (result := result_of(fed, uid)) is not None
    assert result.result.value == "FAILED"
    assert evse_patches(fed, "DC1") == []  # the status is not affected


async def test_unresponsive_charger_gives_timeout_after_the_charger_timeout(
    fed: Federation,
) -> None:
    await remote_start(fed, "DC1")
    await plug(fed, "DC1")
    await fed.control("POST", "/evses/LOC1/DC1/fault", {"kind": "UNRESPONSIVE"})
    response, uid = await command(fed, CommandType.STOP_SESSION, session_id="S000001")
    assert response.result.value == "ACCEPTED"
    await fed.step(19)
    assert result_of(fed, uid) is None
    await fed.step(1)
    assert (result := result_of(fed, uid)) is not None
    assert result.result.value == "TIMEOUT"
    assert received_session(fed, "S000001").status is SessionStatus.ACTIVE  # still charging


async def test_stop_session_of_a_completed_session_is_rejected(fed: Federation) -> None:
    await remote_start(fed, "DC1")
    await plug(fed, "DC1")
    _, first = await command(fed, CommandType.STOP_SESSION, session_id="S000001")
    assert (done := result_of(fed, first)) is not None and done.result.value == "ACCEPTED"
    _, again = await command(fed, CommandType.STOP_SESSION, session_id="S000001")
    assert (result := result_of(fed, again)) is not None
    assert result.result.value == "REJECTED"
    assert result.message is not None and "COMPLETED" in result.message[0].text


async def test_reservation_lifecycle_and_reserved_for_another(fed: Federation) -> None:
    response, uid = await command(fed, CommandType.RESERVE_NOW, **reserve())
    assert response.result.value == "ACCEPTED"
    assert (result := result_of(fed, uid)) is not None and result.result.value == "ACCEPTED"
    assert evse_patches(fed, "AC1") == ["RESERVED"]
    held = received_session(fed, "S000001")
    assert (held.status, held.connector_id) == (SessionStatus.RESERVATION, "1")
    # Someone else cannot start there, nor reserve it.
    _, other = await command(
        fed, CommandType.START_SESSION, token=token("app-2"), location_id="LOC1", evse_uid="AC1"
    )
    assert (refused := result_of(fed, other)) is not None and refused.result.value == "REJECTED"
    _, again = await command(fed, CommandType.RESERVE_NOW, **reserve("R2"))
    assert (taken := result_of(fed, again)) is not None and taken.result.value == "REJECTED"
    # The reserving driver starts: the same session turns ACTIVE.
    await fed.step(600)
    await plug(fed, "AC1")
    _, start = await command(
        fed, CommandType.START_SESSION, token=token(), location_id="LOC1", evse_uid="AC1"
    )
    assert (began := result_of(fed, start)) is not None and began.result.value == "ACCEPTED"
    session = received_session(fed, "S000001")
    assert session.status is SessionStatus.ACTIVE
    assert session.start_date_time == T0 + timedelta(minutes=10)
    assert evse_patches(fed, "AC1")[-1] == "CHARGING"


async def test_cancel_reservation_and_unknown_reservation(fed: Federation) -> None:
    await command(fed, CommandType.RESERVE_NOW, **reserve())
    response, uid = await command(fed, CommandType.CANCEL_RESERVATION, reservation_id="R1")
    assert response.result.value == "ACCEPTED"
    assert (result := result_of(fed, uid)) is not None and result.result.value == "ACCEPTED"
    assert evse_patches(fed, "AC1") == ["RESERVED", "AVAILABLE"]
    assert received_session(fed, "S000001").status is SessionStatus.COMPLETED
    _, unknown = await command(fed, CommandType.CANCEL_RESERVATION, reservation_id="R1")
    assert (missing := result_of(fed, unknown)) is not None
    assert missing.result.value == "UNKNOWN_RESERVATION"


async def test_expired_reservation_frees_the_evse(fed: Federation) -> None:
    await command(fed, CommandType.RESERVE_NOW, **reserve())
    await fed.step(30 * 60)
    assert evse_patches(fed, "AC1") == ["RESERVED", "AVAILABLE"]
    session = received_session(fed, "S000001")
    assert session.status is SessionStatus.COMPLETED
    assert session.end_date_time == T0 + timedelta(minutes=30)
    assert not fed.emsp.cdrs  # the tariff prices no reservation: nothing to bill


async def test_fault_cancels_a_reservation_with_canceled_reservation(fed: Federation) -> None:
    _, uid = await command(fed, CommandType.RESERVE_NOW, **reserve())
    fed.emsp.sent_commands[uid].result_arrived.clear()
    await fed.control("POST", "/evses/LOC1/AC1/fault", {"kind": "INOPERATIVE"})
    await fed.settle()
    assert (result := result_of(fed, uid)) is not None
    assert result.result.value == "CANCELED_RESERVATION"
    assert evse_patches(fed, "AC1") == ["RESERVED", "INOPERATIVE"]


async def test_reserve_now_in_the_past_is_2001(fed: Federation) -> None:
    with pytest.raises(InvalidParameters, match="expiry_date"):
        await command(fed, CommandType.RESERVE_NOW, **reserve(expiry_date=T0))


async def test_reserve_now_on_a_busy_evse_is_evse_occupied(fed: Federation) -> None:
    await plug(fed, "AC1")
    _, uid = await command(fed, CommandType.RESERVE_NOW, **reserve())
    assert (result := result_of(fed, uid)) is not None
    assert result.result.value == "EVSE_OCCUPIED"


async def test_unlock_connector_ends_the_session_and_frees_the_evse(fed: Federation) -> None:
    await remote_start(fed, "DC1")
    await plug(fed, "DC1")
    await fed.step(60)
    response, uid = await command(
        fed, CommandType.UNLOCK_CONNECTOR, location_id="LOC1", evse_uid="DC1", connector_id="1"
    )
    assert response.result.value == "ACCEPTED"
    assert (result := result_of(fed, uid)) is not None and result.result.value == "ACCEPTED"
    assert received_session(fed, "S000001").status is SessionStatus.COMPLETED
    assert evse_patches(fed, "DC1")[-1] == "AVAILABLE"


async def test_start_without_evse_picks_the_evse_where_the_car_waits(fed: Federation) -> None:
    await plug(fed, "AC1")
    _, uid = await command(fed, CommandType.START_SESSION, token=token(), location_id="LOC1")
    assert (result := result_of(fed, uid)) is not None and result.result.value == "ACCEPTED"
    assert received_session(fed, "S000001").evse_uid == "AC1"


async def test_a_pending_result_survives_a_restart(fed: Federation) -> None:
    await fed.control("POST", "/evses/LOC1/DC1/fault", {"kind": "UNRESPONSIVE"})
    _, uid = await command(
        fed, CommandType.START_SESSION, token=token(), location_id="LOC1", evse_uid="DC1"
    )
    await fed.restart_cpo()
    assert fed.cpo.evses[("LOC1", "DC1")].fault is not None
    await fed.step(20)
    assert (result := result_of(fed, uid)) is not None
    assert result.result.value == "TIMEOUT"
