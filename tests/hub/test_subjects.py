"""hub.messages.subject_of: which routed messages are steps of one charging session."""

from __future__ import annotations

from hub.messages import subject_of


def test_session_steps_name_their_session_and_pulls_are_none() -> None:
    put = subject_of("sessions", "PUT", ["DE", "CPO", "S1"], {"authorization_reference": "R1"})
    assert put is not None
    assert (put["session_id"], put["authorization_reference"]) == ("S1", "R1")
    cdr = subject_of("cdrs", "POST", [], {"session_id": "S1"})
    assert cdr is not None and cdr["session_id"] == "S1"
    # A page of sessions or CDRs pulled is no step of one session: no subject, no bodies kept.
    assert subject_of("sessions", "GET", [], None) is None
    assert subject_of("cdrs", "GET", [], None) is None
    assert subject_of("locations", "PUT", ["DE", "CPO", "L1"], {}) is None
