"""Authorization header encoding/decoding and routing headers (spec transport_and_format)."""

from __future__ import annotations

import base64
import os
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpi.headers import (
    AuthorizationError,
    PartyRef,
    RoutingHeaders,
    encode_authorization,
    new_request_id,
    token_candidates,
)

TOKEN_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


def test_encodes_token_as_base64_without_newline() -> None:
    # digest §1.5: the correct encoding of `example-token` has no trailing newline.
    assert encode_authorization("example-token") == "Token ZXhhbXBsZS10b2tlbg=="


def test_spec_example_header_decodes_to_token_plus_newline_and_is_refused() -> None:
    # The spec's own example `ZXhhbXBsZS10b2tlbgo=` is base64("example-token\n").
    assert base64.b64decode("ZXhhbXBsZS10b2tlbgo=") == b"example-token\n"
    with pytest.raises(AuthorizationError, match="trailing newline"):
        token_candidates("Token ZXhhbXBsZS10b2tlbgo=")


def test_d2_example_uuid_header_also_carries_a_newline() -> None:
    header = "Token ZWJmM2IzOTktNzc5Zi00NDk3LTliOWQtYWM2YWQzY2M0NGQy"
    assert token_candidates(header) == ("ebf3b399-779f-4497-9b9d-ac6ad3cc44d2",)
    with pytest.raises(AuthorizationError, match="trailing newline"):
        token_candidates(header + "Cg==")


@given(st.text(TOKEN_CHARS, min_size=1, max_size=64))
def test_encoded_token_decodes_back_to_itself(token: str) -> None:
    assert token_candidates(encode_authorization(token))[0] == token


def test_raw_token_is_refused_unless_compat_switch_is_on() -> None:
    with pytest.raises(AuthorizationError, match="not the Base64 encoding"):
        token_candidates("Token plain-token-123!")
    assert token_candidates("Token plain-token-123!", accept_raw=True) == ("plain-token-123!",)


def test_raw_token_that_happens_to_be_base64_offers_both_readings() -> None:
    # "abcd" is valid Base64 (of bytes that are not a printable token) and a valid raw token.
    assert token_candidates("Token abcd", accept_raw=True) == ("abcd",)
    assert token_candidates("Token YWJjZA==", accept_raw=True) == ("abcd", "YWJjZA==")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("Bearer abc", "must be 'Token"),
        ("Token", "must be 'Token"),
        ("Token    ", "must be 'Token"),
    ],
)
def test_malformed_authorization_headers_say_why(header: str | None, reason: str) -> None:
    with pytest.raises(AuthorizationError, match=reason):
        token_candidates(header)


def test_scheme_is_case_insensitive() -> None:
    assert token_candidates("token " + encode_authorization("abc").split()[1]) == ("abc",)


def test_routing_headers_parse_case_insensitively_and_normalise_case() -> None:
    import httpx

    headers = httpx.Headers(
        {
            "ocpi-to-country-code": "nl",
            "OCPI-TO-PARTY-ID": "ema",
            "OCPI-from-country-code": "DE",
            "OCPI-from-party-id": "CPB",
        }
    )
    routing = RoutingHeaders.parse(headers)
    assert routing.to == PartyRef("NL", "EMA")
    assert routing.from_ == PartyRef("DE", "CPB")
    assert routing.reversed() == RoutingHeaders(
        to=PartyRef("DE", "CPB"), from_=PartyRef("NL", "EMA")
    )
    assert RoutingHeaders.parse(routing.to_headers()) == routing


def test_routing_headers_go_in_pairs() -> None:
    with pytest.raises(ValueError, match="OCPI-to-party-id is missing"):
        RoutingHeaders.parse({"OCPI-to-country-code": "NL"})


def test_routing_header_values_are_checked() -> None:
    with pytest.raises(ValueError, match="OCPI-from-party-id must be a 3-character"):
        RoutingHeaders.parse({"OCPI-from-country-code": "NL", "OCPI-from-party-id": "TOOLONG"})


def test_absent_routing_headers_are_none() -> None:
    assert RoutingHeaders.parse({}) == RoutingHeaders()
    assert not RoutingHeaders.parse({}).present


@pytest.mark.parametrize("text", ["NL/EMA", "nl/ema", "NL-EMA", "NLEMA"])
def test_party_ref_parses_common_spellings(text: str) -> None:
    assert PartyRef.parse(text) == PartyRef("NL", "EMA")
    assert str(PartyRef.parse(text)) == "NL/EMA"


def test_a_pair_seen_before_is_checked_the_same_and_names_its_own_header() -> None:
    """The parsed pairs are remembered; a refused value is refused every time, and the same
    bad value under the other pair's headers names those headers."""
    good = {"OCPI-to-country-code": " nl", "OCPI-to-party-id": "tnm "}
    assert RoutingHeaders.parse(good).to == PartyRef("NL", "TNM")
    assert RoutingHeaders.parse(good).to == PartyRef("NL", "TNM")
    for _ in range(2):
        with pytest.raises(ValueError, match="OCPI-to-party-id must be a 3-character"):
            RoutingHeaders.parse({"OCPI-to-country-code": "NL", "OCPI-to-party-id": "TOOLONG"})
    with pytest.raises(ValueError, match="OCPI-from-party-id must be a 3-character"):
        RoutingHeaders.parse({"OCPI-from-country-code": "NL", "OCPI-from-party-id": "TOOLONG"})
    with pytest.raises(ValueError, match="OCPI-from-country-code must be a 2-letter"):
        RoutingHeaders.parse({"OCPI-from-country-code": "N1", "OCPI-from-party-id": "TNM"})


# --- request ids --------------------------------------------------------------------------
def test_request_ids_are_random_uuids_never_repeated() -> None:
    """More than one draw of the pool: every id a version 4 (random) RFC 4122 UUID in its
    canonical form, none handed out twice."""
    ids = [new_request_id() for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_a_forked_child_does_not_repeat_its_parents_request_ids() -> None:
    new_request_id()  # the pool now holds ids the parent will hand out next
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids, then leave at once
        os.close(read)
        os.write(write, ",".join(new_request_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    parent = {new_request_id() for _ in range(300)}
    assert len(child) == 10
    assert not child & parent
