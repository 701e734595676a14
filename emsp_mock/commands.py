"""The Commands Sender (spec mod_commands): a command sent for a driver, what the CPO answered
at once (CommandResponse) and what the charger did later (CommandResult at our response_url).

The CommandResponse decides first: not ACCEPTED is the outcome; an error (2003 + REJECTED,
hub 4xxx, no answer) is REJECTED/FAILED with the message. ACCEPTED is PENDING until the
CommandResult arrives or min(CommandResponse.timeout, command_timeout) real seconds pass
(TIMEOUT). A result after that is kept as `late_result`; the outcome told stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx

from emsp_mock.link import HubLink
from emsp_mock.state import EmspState, stamp, utcnow
from ocpi.aio import wait_set
from ocpi.errors import OcpiError
from ocpi.headers import PartyRef
from ocpi.platform import OperationError
from ocpi.v221.commands import (
    CommandResponse,
    CommandResponseType,
    CommandResult,
    CommandResultType,
    CommandType,
    ReserveNow,
    StartSession,
    StopSession,
)
from ocpi.v221.locations import Location
from ocpi.v221.types import DisplayText

log = logging.getLogger("emsp_mock")

CommandBody = StartSession | StopSession | ReserveNow


class Phase(StrEnum):
    """A command in flight; once finished its state is the CPO's answer (`Outcome`)."""

    SENDING = "SENDING"
    PENDING = "PENDING"
    """ACCEPTED by the CPO, waiting for the CommandResult."""


Outcome = CommandResponseType | CommandResultType
"""A CommandResponseType other than ACCEPTED, or the CommandResultType: FAILED also when the
command never reached the CPO, TIMEOUT also when no result came in time."""


def outcome_of(value: str) -> Outcome:
    """The outcome a response or result value names (FAILED when it names none)."""
    for kind in (CommandResultType, CommandResponseType):
        if value in kind.__members__:
            return kind(value)
    return CommandResultType.FAILED


def state_of(value: str) -> Phase | Outcome:
    return Phase(value) if value in Phase.__members__ else outcome_of(value)


@dataclass
class CommandState:
    """A command sent for a driver: what the CPO answered, then what the charger did."""

    id: str
    command: CommandType
    driver_id: str
    to: str
    target: dict[str, Any]
    state: Phase | Outcome = Phase.SENDING
    response: str | None = None
    result: str | None = None
    message: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    deadline: datetime | None = None
    finished_at: datetime | None = None
    late_result: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return not isinstance(self.state, Phase)

    def finish(self, phase: Outcome, message: str | None = None) -> None:
        self.state = phase
        if message is not None:
            self.message = message
        self.finished_at = self.finished_at or utcnow()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command.value,
            "driver_id": self.driver_id,
            "to": self.to,
            "target": self.target,
            "state": self.state.value,
            "response": self.response,
            "result": self.result,
            "message": self.message,
            "created_at": stamp(self.created_at),
            "deadline": stamp(self.deadline) if self.deadline else None,
            "finished_at": stamp(self.finished_at) if self.finished_at else None,
            "late_result": self.late_result,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CommandState:
        def when(name: str) -> datetime | None:
            raw = data.get(name)
            return datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None

        state = cls(
            id=data["id"],
            command=CommandType(data["command"]),
            driver_id=data["driver_id"],
            to=data["to"],
            target=dict(data["target"]),
            state=state_of(str(data["state"])),
            response=data.get("response"),
            result=data.get("result"),
            message=data.get("message"),
            created_at=when("created_at") or utcnow(),
            deadline=when("deadline"),
            finished_at=when("finished_at"),
            late_result=data.get("late_result"),
        )
        if state.finished:
            state.done.set()
        return state


def _display(messages: list[DisplayText] | None) -> str | None:
    if not messages:
        return None
    return "; ".join(str(m.text) for m in messages)


class CommandSender:
    """Commands sent for drivers, their deadlines, and the results coming back."""

    def __init__(self, state: EmspState, link: HubLink) -> None:
        self.state = state
        self.link = link
        self._timers: dict[str, asyncio.TimerHandle] = {}

    async def load(self) -> None:
        """Read the commands kept; a PENDING one past its deadline times out now."""
        now = utcnow()
        for data, deadline in await asyncio.to_thread(self.state.store.load_commands):
            command = CommandState.from_json(data)
            self.state.commands[command.id] = command
            if command.state is Phase.PENDING:
                if deadline is None or deadline <= now:
                    await self._time_out(command.id)
                else:
                    self._arm_timer(command.id, (deadline - now).total_seconds())

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def get(self, command_id: str) -> CommandState:
        found = self.state.commands.get(command_id)
        if found is None:
            raise OperationError(f"command {command_id} is not known here", 404)
        return found

    def response_url(self, command: CommandType, command_id: str) -> str:
        return f"{self.link.functional_url}/commands/{command.value}/{command_id}"

    def _arm_timer(self, command_id: str, seconds: float) -> None:
        def fire() -> None:
            self._timers.pop(command_id, None)
            self.link.runtime.spawn(self._time_out(command_id), f"timeout {command_id}")

        loop = asyncio.get_running_loop()
        self._timers[command_id] = loop.call_later(max(seconds, 0.0), fire)

    async def _time_out(self, command_id: str) -> None:
        command = self.state.commands.get(command_id)
        if command is None:
            return
        async with self.state.changing() as change:
            if command.finished:
                return
            late = "no CommandResult arrived before the CPO's timeout"
            command.finish(CommandResultType.TIMEOUT, late)
            await change.save_command(command)
        command.done.set()

    async def send_at(
        self,
        location: Location,
        driver_id: str,
        command_id: str,
        body: StartSession | ReserveNow,
        target: dict[str, Any],
    ) -> CommandState:
        """Record and send a command for a location to the location's CPO (TO = that CPO)."""
        kind = (
            CommandType.START_SESSION if isinstance(body, StartSession) else CommandType.RESERVE_NOW
        )
        to = PartyRef(location.country_code, location.party_id)
        where = {
            "country_code": to.country_code,
            "party_id": to.party_id,
            "location_id": location.id,
        }
        command = CommandState(command_id, kind, driver_id, str(to), {**where, **target})
        return await self.send(command, body, to)

    async def send(self, command: CommandState, body: CommandBody, to: PartyRef) -> CommandState:
        """Record the command, POST it through the hub, and record the CPO's answer."""
        async with self.state.changing() as change:
            await change.save_command(command)
        answer: CommandResponse | Exception
        try:
            answer = await self.link.post_command(command.command, body, to)
        except (OcpiError, httpx.HTTPError, OperationError) as exc:
            answer = exc
        async with self.state.changing() as change:
            self._answered(command, answer)
            if command.finished:
                command.done.set()
            await change.save_command(command)
        return command

    def _answered(self, command: CommandState, answer: CommandResponse | Exception) -> None:
        """Record the CPO's CommandResponse, or why there is none (under the lock)."""
        if isinstance(answer, OperationError):
            command.finish(CommandResultType.FAILED, answer.message)
        elif isinstance(answer, Exception):
            # Spec mod_commands: 2003 with REJECTED for an unknown location; hub errors 4xxx.
            data = getattr(answer, "data", None)
            rejected = isinstance(data, dict) and data.get("result")
            command.response = str(rejected) if rejected else None
            command.finish(outcome_of(str(rejected or "FAILED")), str(answer))
        else:
            command.response = answer.result.value
            command.message = _display(answer.message)
            if answer.result is not CommandResponseType.ACCEPTED:
                command.finish(answer.result)
            elif command.result is None:  # the result may have come before this answer
                wait = min(float(answer.timeout), self.state.settings.command_timeout)
                command.state = Phase.PENDING
                command.deadline = utcnow() + timedelta(seconds=wait)
                self._arm_timer(command.id, wait)

    async def result(self, kind: str, command_id: str, result: CommandResult) -> None:
        """A CommandResult POSTed to one of our response_urls."""
        command = self.state.commands.get(command_id)
        if command is None or command.command.value != kind:
            raise LookupError(f"no {kind} command {command_id} was sent by this eMSP")
        timer = self._timers.pop(command_id, None)
        if timer is not None:
            timer.cancel()
        async with self.state.changing() as change:
            if command.finished:
                # Too late (after TIMEOUT) or a repeat: recorded, the outcome stays as reported.
                command.late_result = result.result.value
            else:
                command.result = result.result.value
                command.finished_at = None
                command.finish(result.result, _display(result.message))
            await change.save_command(command)
        command.done.set()

    async def wait(self, command_id: str, within: float | None = None) -> CommandState:
        command = self.state.commands[command_id]
        limit = within if within is not None else self.state.settings.command_timeout + 1
        await wait_set(command.done, limit)
        return command
