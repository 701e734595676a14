"""OCPI request headers: Authorization (Base64 token), X-Request-ID / X-Correlation-ID, routing.

Spec transport_and_format "Authorization header", "Unique message IDs" and "Message Routing".
Header names are case-insensitive; callers pass case-insensitive mappings (Starlette's and
httpx's Headers both are).
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

AUTHORIZATION = "Authorization"
X_REQUEST_ID = "X-Request-ID"
X_CORRELATION_ID = "X-Correlation-ID"
OCPI_TO_COUNTRY_CODE = "OCPI-to-country-code"
OCPI_TO_PARTY_ID = "OCPI-to-party-id"
OCPI_FROM_COUNTRY_CODE = "OCPI-from-country-code"
OCPI_FROM_PARTY_ID = "OCPI-from-party-id"
ROUTING_HEADERS = (
    OCPI_TO_COUNTRY_CODE,
    OCPI_TO_PARTY_ID,
    OCPI_FROM_COUNTRY_CODE,
    OCPI_FROM_PARTY_ID,
)
X_TOTAL_COUNT = "X-Total-Count"
X_LIMIT = "X-Limit"
LINK = "Link"

# Credentials token value (2.2.1-d2): printable, non-whitespace ASCII, at most 64 characters.
_TOKEN_RE = re.compile(r"[\x21-\x7E]{1,64}")


class AuthorizationError(ValueError):
    """The Authorization header is missing or cannot carry a token; the message says why."""


def is_valid_token(token: str) -> bool:
    """True for a credentials token the spec allows: printable non-whitespace ASCII, <= 64."""
    return _TOKEN_RE.fullmatch(token) is not None


def encode_authorization(token: str) -> str:
    """`Token <base64(utf-8 token)>` as OCPI 2.2.1 requires (RFC 4648 §4, with padding)."""
    return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")


def token_candidates(header: str | None, *, accept_raw: bool = False) -> tuple[str, ...]:
    """The token values an Authorization header may stand for, most likely first.

    A 2.2.1 peer sends the token Base64-encoded. 2.1.1 and 2.2 peers sent it raw; with
    `accept_raw` the raw value is offered too (the caller looks each candidate up), which is
    the "configuration flag" the 2.2.1-d2 text suggests for such peers.
    """
    if header is None or not header.strip():
        raise AuthorizationError("the Authorization header is missing")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        raise AuthorizationError("the Authorization header must be 'Token <base64 of the token>'")
    candidates: list[str] = []
    hint = ""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = None
    if decoded is not None:
        if is_valid_token(decoded):
            candidates.append(decoded)
        elif decoded.rstrip("\r\n") != decoded and is_valid_token(decoded.rstrip("\r\n")):
            # The spec's own examples encode `echo` output, newline included.
            hint = " (it decodes to the token plus a trailing newline: encode without one)"
    if accept_raw and is_valid_token(value) and value not in candidates:
        candidates.append(value)
    if not candidates:
        raise AuthorizationError(
            "the Authorization token is not the Base64 encoding of a valid credentials token" + hint
        )
    return tuple(candidates)


_IDS_PER_DRAW = 256
_ready_ids: list[str] = []


def _draw_ids() -> list[str]:
    """`_IDS_PER_DRAW` random (version 4) UUIDs from one read of the OS's random source."""
    raw = os.urandom(16 * _IDS_PER_DRAW).hex()
    ids = []
    for start in range(0, len(raw), 32):
        h = raw[start : start + 32]
        variant = "89ab"[int(h[16], 16) & 3]  # RFC 4122 variant: 10xx
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}")
    return ids


def new_request_id() -> str:
    """A fresh X-Request-ID: a random UUID (what the spec advises), as `uuid.uuid4()` makes
    them, but drawn 256 at a time: the hub makes one per hop, and `uuid4()`'s read of the
    random source per call was 1.5-2 % of its CPU per routed GET (issue 13)."""
    try:
        return _ready_ids.pop()
    except IndexError:
        _ready_ids.extend(_draw_ids())
        return _ready_ids.pop()


# A forked child must not hand out the ids its parent drew (nor the parent those of a child).
os.register_at_fork(after_in_child=_ready_ids.clear)


# --- routing headers ----------------------------------------------------------------------
_COUNTRY_RE = re.compile(r"[A-Za-z]{2}")
_PARTY_RE = re.compile(r"[A-Za-z0-9]{3}")


@dataclass(frozen=True, order=True)
class PartyRef:
    """A party as OCPI addresses it: (country_code, party_id), compared case-insensitively."""

    country_code: str
    party_id: str

    def __post_init__(self) -> None:
        if not _COUNTRY_RE.fullmatch(self.country_code):
            raise ValueError(f"country_code {self.country_code!r} is not 2 letters")
        if not _PARTY_RE.fullmatch(self.party_id):
            raise ValueError(f"party_id {self.party_id!r} is not 3 letters or digits")
        # CiString: normalise once so that equality and hashing are case-insensitive.
        object.__setattr__(self, "country_code", self.country_code.upper())
        object.__setattr__(self, "party_id", self.party_id.upper())

    @classmethod
    def parse(cls, text: str) -> PartyRef:
        """`NL/EMA` (or `NL-EMA`, `NLEMA`) to a PartyRef."""
        cleaned = text.strip().replace("-", "/")
        if "/" in cleaned:
            country, _, party = cleaned.partition("/")
        else:
            country, party = cleaned[:2], cleaned[2:]
        return cls(country, party)

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}"


@dataclass(frozen=True)
class RoutingHeaders:
    """The four OCPI-to/from headers of one message. Either pair may be absent."""

    to: PartyRef | None = None
    from_: PartyRef | None = None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> RoutingHeaders:
        """Read the routing headers; raises ValueError naming the header that is wrong."""
        return cls(
            to=_parse_pair(headers, OCPI_TO_COUNTRY_CODE, OCPI_TO_PARTY_ID),
            from_=_parse_pair(headers, OCPI_FROM_COUNTRY_CODE, OCPI_FROM_PARTY_ID),
        )

    def to_headers(self) -> dict[str, str]:
        """The headers to send (only the pairs that are set)."""
        out: dict[str, str] = {}
        if self.to is not None:
            out[OCPI_TO_COUNTRY_CODE] = self.to.country_code
            out[OCPI_TO_PARTY_ID] = self.to.party_id
        if self.from_ is not None:
            out[OCPI_FROM_COUNTRY_CODE] = self.from_.country_code
            out[OCPI_FROM_PARTY_ID] = self.from_.party_id
        return out

    def reversed(self) -> RoutingHeaders:
        """The headers of the response to this message (spec: TO and FROM swap)."""
        return RoutingHeaders(to=self.from_, from_=self.to)

    @property
    def present(self) -> bool:
        return self.to is not None or self.from_ is not None


def _parse_pair(headers: Mapping[str, str], cc_name: str, pid_name: str) -> PartyRef | None:
    country = headers.get(cc_name)
    party = headers.get(pid_name)
    if country is None and party is None:
        return None
    if country is None or party is None:
        missing = cc_name if country is None else pid_name
        present = pid_name if country is None else cc_name
        raise ValueError(f"header {missing} is missing although {present} is set")
    return _party_ref(country, party, cc_name, pid_name)


@functools.lru_cache(maxsize=1024)
def _party_ref(country: str, party: str, cc_name: str, pid_name: str) -> PartyRef:
    """The party two header values name; ValueError naming the header that is wrong. Cached
    (a PartyRef is immutable): a hub reads the same few pairs on every message, and checking
    and building them anew was a few per cent of its CPU per routed GET (issue 13)."""
    if not _COUNTRY_RE.fullmatch(country.strip()):
        raise ValueError(f"header {cc_name} must be a 2-letter country code, got {country!r}")
    if not _PARTY_RE.fullmatch(party.strip()):
        raise ValueError(f"header {pid_name} must be a 3-character party id, got {party!r}")
    return PartyRef(country.strip(), party.strip())
