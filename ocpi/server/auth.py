"""Token authentication as a FastAPI dependency (spec transport_and_format "Authorization header").

A service hands `TokenAuth` a lookup function from token to whatever it calls a principal
(a registered platform, a pending invitation…); endpoints then declare
`principal: Annotated[Platform, Depends(auth)]`. Missing, malformed or unknown tokens get
HTTP 401 with an envelope whose message says which of the three it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from starlette.requests import Request

from ocpi.errors import Unauthorized
from ocpi.headers import AUTHORIZATION, AuthorizationError, token_candidates

P = TypeVar("P")


class TokenAuth(Generic[P]):
    """Resolve `Authorization: Token <base64>` to a principal, or answer 401.

    `accept_raw` also tries the undecoded value, for 2.1.1/2.2 peers that send raw tokens.
    """

    def __init__(
        self,
        lookup: Callable[[str], Awaitable[P | None]],
        *,
        accept_raw: bool = False,
        raw_under: tuple[str, ...] = (),
    ) -> None:
        self.lookup = lookup
        self.accept_raw = accept_raw
        self.raw_under = raw_under
        """Paths (prefixes) where raw tokens are taken whatever `accept_raw` says: those of a
        version whose rule they are (2.1.1)."""

    async def __call__(self, request: Request) -> P:
        # (request.url builds and splits a whole URL: only when some paths take raw tokens)
        raw = self.accept_raw or bool(
            self.raw_under and request.url.path.startswith(self.raw_under)
        )
        try:
            candidates = token_candidates(request.headers.get(AUTHORIZATION), accept_raw=raw)
        except AuthorizationError as exc:
            raise Unauthorized(str(exc)) from None
        for token in candidates:
            principal = await self.lookup(token)
            if principal is not None:
                request.state.ocpi_token = token
                return principal
        raise Unauthorized("the credentials token is not known here")
