"""The ChargingProfiles Receiver (spec mod_charging_profiles): smart charging of a running
session, answered at once with a ChargingProfileResponse and later, like a command, with a
result POSTed to the `response_url` the sender gave (exactly that URL, query and all: behind
a hub it is the hub's rewritten one).

* PUT    SetChargingProfile: the limit in force now (the period of the profile that covers
         this moment, W or A) caps the charger's power from the next meter step on; a later
         period does not start by itself (the simulator applies one limit at a time).
* GET    ActiveChargingProfile for `duration` seconds: the limit the charger applies now, or
         the EVSE's maximum capacity when no profile is set (spec: "SHALL reflect this by
         showing the maximum charging capacity of the EVSE").
* DELETE the profile is removed and the connector's own limit applies again.

Answers: UNKNOWN_SESSION for a session the requester does not own or the CPO does not know,
NOT_SUPPORTED at an EVSE without CHARGING_PROFILE_CAPABLE, REJECTED for a session that is
not charging (RESERVATION, COMPLETED...), else ACCEPTED.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from cpo_mock import charging, meter
from cpo_mock.deliveries import queue_reply
from cpo_mock.model import SessionSim
from cpo_mock.simulation import caught_up
from cpo_mock.state import CpoState
from ocpi.headers import PartyRef
from ocpi.v221.chargingprofiles import (
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    ChargingProfile,
    ChargingProfilePeriod,
    ChargingProfileResponse,
    ChargingProfileResponseType,
    ChargingProfileResult,
    ChargingProfileResultType,
    ChargingRateUnit,
    ClearProfileResult,
    SetChargingProfile,
)
from ocpi.v221.locations import Capability, PowerType
from ocpi.v221.sessions import SessionStatus

SET = "SET_CHARGING_PROFILE"
GET = "ACTIVE_CHARGING_PROFILE"
CLEAR = "CLEAR_CHARGING_PROFILE"


def _response(state: CpoState, result: ChargingProfileResponseType) -> ChargingProfileResponse:
    return ChargingProfileResponse(result=result, timeout=state.sim.command_timeout)


def _session(
    state: CpoState, session_id: str, visible_to: str | None
) -> tuple[SessionSim | None, ChargingProfileResponseType]:
    sim = state.sessions.get(session_id)
    if sim is None or (visible_to is not None and sim.emsp != visible_to):
        return None, ChargingProfileResponseType.UNKNOWN_SESSION
    location = state.locations.get(sim.session.location_id)
    evse = state.find_evse(location, sim.session.evse_uid) if location is not None else None
    if evse is None or Capability.CHARGING_PROFILE_CAPABLE not in (evse.capabilities or []):
        return None, ChargingProfileResponseType.NOT_SUPPORTED
    if sim.session.status is not SessionStatus.ACTIVE:
        return None, ChargingProfileResponseType.REJECTED
    return sim, ChargingProfileResponseType.ACCEPTED


def connector_limit_kw(state: CpoState, sim: SessionSim) -> float:
    """The connector's own limit (what applies without a profile)."""
    location = state.locations[sim.session.location_id]
    evse = state.find_evse(location, sim.session.evse_uid)
    assert evse is not None
    connector = state.find_connector(evse, sim.session.connector_id) or evse.connectors[0]
    return charging.connector_kw(connector)


def limit_now_kw(sim: SessionSim, profile: ChargingProfile, at: datetime) -> float | None:
    """The profile's limit in force at `at`, in kW (None: no period covers it)."""
    begin = profile.start_date_time or sim.session.start_date_time
    elapsed = (at - begin).total_seconds()
    if elapsed < 0 or (profile.duration is not None and elapsed >= profile.duration):
        return None
    periods = sorted(profile.charging_profile_period or [], key=lambda p: p.start_period)
    current = [p for p in periods if p.start_period <= elapsed]
    if not current:
        return None
    limit = float(current[-1].limit)
    if profile.charging_rate_unit is ChargingRateUnit.W:
        return limit / 1000
    phases = 3 if sim.cdr_location.connector_power_type is PowerType.AC_3_PHASE else 1
    return limit * sim.voltage * phases / 1000


async def set_profile(
    state: CpoState,
    session_id: str,
    body: SetChargingProfile,
    requester: PartyRef | None,
    visible_to: str | None,
) -> ChargingProfileResponse:
    async with caught_up(state) as at:
        sim, answer = _session(state, session_id, visible_to)
        if sim is None:
            return _response(state, answer)
        meter.advance_charge(sim, at)  # what was charged so far, at the old limit
        own = connector_limit_kw(state, sim)
        limit = limit_now_kw(sim, body.charging_profile, at)
        sim.limit_kw = own if limit is None else min(own, limit)
        sim.profile = body.charging_profile
        await state.save_session(sim)
        result = ChargingProfileResult(result=ChargingProfileResultType.ACCEPTED)
        await queue_reply(state, SET, body.response_url, requester, result.to_json())
        return _response(state, answer)


async def active_profile(
    state: CpoState,
    session_id: str,
    duration: int,
    response_url: str,
    requester: PartyRef | None,
    visible_to: str | None,
) -> ChargingProfileResponse:
    async with caught_up(state) as at:
        sim, answer = _session(state, session_id, visible_to)
        if sim is None:
            return _response(state, answer)
        watts = Decimal(str(round(sim.limit_kw * 1000, 1)))
        active = ActiveChargingProfile(
            start_date_time=at,
            charging_profile=ChargingProfile(
                start_date_time=at,
                duration=duration,
                charging_rate_unit=ChargingRateUnit.W,
                charging_profile_period=[ChargingProfilePeriod(start_period=0, limit=watts)],
            ),
        )
        result = ActiveChargingProfileResult(
            result=ChargingProfileResultType.ACCEPTED, profile=active
        )
        await queue_reply(state, GET, response_url, requester, result.to_json())
        return _response(state, answer)


async def clear_profile(
    state: CpoState,
    session_id: str,
    response_url: str,
    requester: PartyRef | None,
    visible_to: str | None,
) -> ChargingProfileResponse:
    async with caught_up(state) as at:
        sim, answer = _session(state, session_id, visible_to)
        if sim is None:
            return _response(state, answer)
        meter.advance_charge(sim, at)
        known = sim.profile is not None
        sim.profile = None
        sim.limit_kw = connector_limit_kw(state, sim)
        await state.save_session(sim)
        # Spec ChargingProfileResultType UNKNOWN: no profile was set on the session.
        outcome = ChargingProfileResultType.ACCEPTED if known else ChargingProfileResultType.UNKNOWN
        result = ClearProfileResult(result=outcome)
        await queue_reply(state, CLEAR, response_url, requester, result.to_json())
        return _response(state, answer)
