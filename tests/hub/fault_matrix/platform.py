"""A tiny OCPI 2.2.1 platform that records what it receives, run as a process of its own:

    python -m tests.hub.fault_matrix.platform --role EMSP --party NL/EMA --port 9001 \\
        --hub-versions http://127.0.0.1:9000/ocpi/versions --token-a TOKEN_A \\
        --state /tmp/ema.json [--fail-rate 0.5] [--drop-rate 0.3] [--delay 2 --delay-rate 0.1]
        [--register-later]

It is the receiver the fault matrix counts with: loss is what the hub accepted and no receiver
recorded, so this platform must be simple enough to be trusted. It knows nothing of the hub's
code (it imports no project module): plain Starlette, uvicorn and httpx.

**Registration.** At start-up it registers with the hub (member-initiated handshake: GET the
hub's versions and 2.2.1 details with token A, POST its credentials with its own token B, keep
the hub's token C), in the background, retried until it succeeds. Its tokens are kept in the
`--state` JSON file: a platform restarted with the same file does NOT register again (the
hub keeps the registration in its database), it just serves again on its port. With
`--register-later` it starts without a token A and registers when told to (`POST /_register`,
answered once the hub has answered), so that a test can use the new token C at once.

**Rotation.** `POST /_rotate` makes it rotate its credentials as a member does (PUT
/credentials to the URL it is given, with its token C, carrying a new token B; it keeps the
hub's new token C). From then on the previous token B is still accepted, as a member would
for requests already under way, but each request that presents it is counted (`stale_token`
in `/_state`) and its record is marked `"stale_token": true`: a hub that keeps using a
rotated-out token is seen.

**Recording.** Every request on a functional module (anything below `/ocpi/2.2.1/{module}/`
except credentials, versions and hubclientinfo, whose ClientInfo pushes are recorded too but
marked `module = "hubclientinfo"`) is recorded with its method, path, parsed body, the time
it arrived (`time.time()`), X-Request-ID, X-Correlation-ID and routing headers, in memory and
appended to `<state>.received.jsonl` (written through at once, so the list survives a restart
of this process, even a kill -9). Answers are OCPI envelopes with status 1000.

**Faults** (functional modules only; ClientInfo pushes, versions and credentials always work,
so a still-alive check sees a platform that is up as up). Each is drawn per request from a
`random.Random(seed)`:

* `--fail-rate R`: answer HTTP 500 with an OCPI envelope, status 3000, and do NOT record the
  request: the receiver failed before storing it.
* `--drop-rate R`: record the request (it was processed and stored), then send the answer's
  status line, headers (with the full Content-Length) and a third of its body, and return
  without finishing: uvicorn closes the connection, and the client sees a truncated answer.
  Such a request counts as received, because the receiver stored it.
* `--delay S` with `--delay-rate R` (default 1): record the request, then sleep S seconds
  before answering. It counts as received on arrival: a receiver that stores and then
  answers late has the object.

Test-only control endpoints, without authentication: `GET /_state` (tokens, registration
done, counts, faults, when the last functional request arrived), `GET /_received?after=N`
(the records from index N on, and `last_request_at`) and
`POST /_faults` (`{"fail_rate", "drop_rate", "delay", "delay_rate"}`, any subset),
`POST /_register` (`{"hub_versions", "token_a"}`) and `POST /_rotate` (`{"credentials_url"}`:
answers `{"old_token_c", "token_c", "token_b", "answered_at"}`, `answered_at` being when the
hub's answer arrived, `time.time()`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

OCPI = "/ocpi/2.2.1"
CONFIGURATION_MODULES = ("credentials", "hubclientinfo")

# (module, interface) this platform offers, by role. Minimal but valid 2.2.1 details.
ENDPOINTS: dict[str, tuple[tuple[str, str], ...]] = {
    "EMSP": (
        ("credentials", "RECEIVER"),
        ("locations", "RECEIVER"),
        ("tariffs", "RECEIVER"),
        ("sessions", "RECEIVER"),
        ("cdrs", "RECEIVER"),
        ("tokens", "SENDER"),
        ("hubclientinfo", "RECEIVER"),
    ),
    "CPO": (
        ("credentials", "RECEIVER"),
        ("locations", "SENDER"),
        ("tariffs", "SENDER"),
        ("sessions", "SENDER"),
        ("cdrs", "SENDER"),
        ("tokens", "RECEIVER"),
        ("hubclientinfo", "RECEIVER"),
    ),
}


def now_iso() -> str:
    """OCPI DateTime, at most 25 characters: milliseconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"


def envelope(status_code: int = 1000, message: str = "", data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status_code": status_code, "timestamp": now_iso()}
    if message:
        body["status_message"] = message
    if data is not None:
        body["data"] = data
    return body


def authorization(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


def presented_token(header: str | None) -> str | None:
    """The token of an `Authorization: Token <base64>` header (also accepts it unencoded)."""
    if not header or not header.startswith("Token "):
        return None
    value = header[len("Token ") :].strip()
    try:
        return base64.b64decode(value, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return value


@dataclass
class Faults:
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    delay: float = 0.0
    delay_rate: float = 1.0

    def update(self, values: dict[str, Any]) -> None:
        for name in ("fail_rate", "drop_rate", "delay", "delay_rate"):
            if name in values:
                setattr(self, name, float(values[name]))


@dataclass
class PlatformState:
    role: str
    country_code: str
    party_id: str
    port: int
    hub_versions: str | None
    token_a: str | None
    state_file: Path
    faults: Faults
    rng: random.Random
    token_b: str = ""
    previous_token_b: str = ""
    """The token B before the last rotation: still accepted, counted in `stale_token`."""
    token_c: str | None = None
    registered: bool = False
    registered_at: float = 0.0
    """When the hub's answer to the registration arrived (time.time())."""
    registration_error: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    failed: int = 0
    dropped: int = 0
    delayed: int = 0
    refused: int = 0
    stale_token: int = 0
    last_request_at: float = 0.0
    """When the last functional request arrived (time.time()), whatever became of it: a
    harness waiting for a hub's retries sees them even when they are answered 500."""
    log: TextIO | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def received_file(self) -> Path:
        return self.state_file.with_name(self.state_file.name + ".received.jsonl")

    def load(self) -> None:
        """Tokens from the state file (a restart), else new ones; the received list."""
        if self.state_file.exists():
            saved = json.loads(self.state_file.read_text())
            self.token_b = saved["token_b"]
            self.previous_token_b = saved.get("previous_token_b", "")
            self.token_c = saved.get("token_c")
            self.registered = self.token_c is not None
        if not self.token_b:
            self.token_b = secrets.token_urlsafe(24)
            self.save()
        if self.received_file.exists():
            with self.received_file.open() as lines:
                self.received = [json.loads(line) for line in lines if line.strip()]
        self.log = self.received_file.open("a")

    def save(self) -> None:
        data = {
            "token_b": self.token_b,
            "previous_token_b": self.previous_token_b,
            "token_c": self.token_c,
        }
        temporary = self.state_file.with_name(self.state_file.name + ".tmp")
        temporary.write_text(json.dumps(data))
        os.replace(temporary, self.state_file)

    def accepts(self, header: str | None) -> bool:
        """Is this `Authorization` header one of its tokens B (the previous one counted)?"""
        token = presented_token(header)
        if token is not None and token == self.token_b:
            return True
        if token is not None and self.previous_token_b and token == self.previous_token_b:
            self.stale_token += 1
            return True
        return False

    def stale(self, header: str | None) -> bool:
        token = presented_token(header)
        return bool(self.previous_token_b) and token == self.previous_token_b

    def record(self, entry: dict[str, Any]) -> None:
        entry["n"] = len(self.received)
        self.received.append(entry)
        assert self.log is not None
        self.log.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self.log.flush()  # into the kernel: survives a kill -9 of this process

    def endpoints(self) -> list[dict[str, str]]:
        return [
            {"identifier": module, "role": role, "url": f"{self.base_url}{OCPI}/{module}"}
            for module, role in ENDPOINTS[self.role]
        ]

    def credentials(self) -> dict[str, Any]:
        return {
            "token": self.token_b,
            "url": f"{self.base_url}/ocpi/versions",
            "roles": [
                {
                    "role": self.role,
                    "business_details": {"name": f"Fault matrix {self.role} {self.party_id}"},
                    "country_code": self.country_code,
                    "party_id": self.party_id,
                }
            ],
        }

    def summary(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "party": f"{self.country_code}/{self.party_id}",
            "pid": os.getpid(),
            "registered": self.registered,
            "registered_at": self.registered_at,
            "registration_error": self.registration_error,
            "token_b": self.token_b,
            "token_c": self.token_c,
            "received": len(self.received),
            "failed": self.failed,
            "dropped": self.dropped,
            "delayed": self.delayed,
            "refused": self.refused,
            "stale_token": self.stale_token,
            "last_request_at": self.last_request_at,
            "faults": vars(self.faults),
        }


async def register(state: PlatformState) -> None:
    """Member-initiated credentials handshake with token A, retried until it succeeds."""
    assert state.hub_versions and state.token_a
    headers = {"Authorization": authorization(state.token_a)}
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        while not state.registered:
            try:
                versions = (await client.get(state.hub_versions, headers=headers)).json()["data"]
                details_url = next(v["url"] for v in versions if v["version"] == "2.2.1")
                details = (await client.get(details_url, headers=headers)).json()["data"]
                credentials_url = next(
                    e["url"] for e in details["endpoints"] if e["identifier"] == "credentials"
                )
                answer = await client.post(
                    credentials_url, json=state.credentials(), headers=headers
                )
                body = answer.json()
                if body.get("status_code") != 1000:
                    raise RuntimeError(f"HTTP {answer.status_code}: {body}")
                state.token_c = body["data"]["token"]
                state.registered = True
                state.registered_at = time.time()
                state.save()
            except (httpx.HTTPError, ValueError, KeyError, StopIteration, RuntimeError) as exc:
                state.registration_error = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.2)


async def rotate(state: PlatformState, credentials_url: str) -> dict[str, Any]:
    """PUT /credentials with a new token B (authorised by the current token C); keep the
    hub's new token C. The new token B is accepted before the PUT goes out: the hub calls
    back this platform's versions with it while it handles the PUT."""
    if not state.registered or not state.token_c:
        raise RuntimeError("not registered")
    old_b, old_c = state.token_b, state.token_c
    state.previous_token_b, state.token_b = old_b, secrets.token_urlsafe(24)
    try:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            answer = await client.put(
                credentials_url,
                json=state.credentials(),
                headers={"Authorization": authorization(old_c)},
            )
        answered_at = time.time()
        body = answer.json()
        if body.get("status_code") != 1000:
            raise RuntimeError(f"HTTP {answer.status_code}: {body}")
        state.token_c = body["data"]["token"]
    except BaseException:
        state.token_b, state.previous_token_b = old_b, ""
        raise
    state.save()
    return {
        "old_token_c": old_c,
        "token_c": state.token_c,
        "token_b": state.token_b,
        "answered_at": answered_at,
    }


class Functional:
    """The functional modules (raw ASGI, so that an answer can be cut off mid-way)."""

    def __init__(self, state: PlatformState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        state = self.state
        module = str(scope["path_params"]["module"])
        rest = str(scope["path_params"].get("rest", ""))
        state.last_request_at = time.time()
        authorisation = request.headers.get("authorization")
        if not state.accepts(authorisation):
            state.refused += 1
            await self.answer(send, 401, envelope(2002, "unknown token"))
            return
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        faulty = module not in CONFIGURATION_MODULES
        if faulty and state.rng.random() < state.faults.fail_rate:
            state.failed += 1
            await self.answer(send, 500, envelope(3000, "simulated failure: not stored"))
            return
        headers = request.headers
        state.record(
            {
                "method": request.method,
                "module": module,
                "path": request.url.path,
                "rest": rest,
                "body": body,
                "received_at": time.time(),
                "request_id": headers.get("x-request-id"),
                "correlation_id": headers.get("x-correlation-id"),
                "from": f"{headers.get('ocpi-from-country-code')}/"
                f"{headers.get('ocpi-from-party-id')}",
                "to": f"{headers.get('ocpi-to-country-code')}/{headers.get('ocpi-to-party-id')}",
                "stale_token": state.stale(authorisation),
            }
        )
        extra: list[tuple[bytes, bytes]] = []
        data: Any = None
        if request.method == "GET":
            data = [] if not rest else None
        if module == "cdrs" and request.method == "POST" and isinstance(body, dict):
            location = f"{state.base_url}{OCPI}/cdrs/{body.get('id', 'unknown')}"
            extra.append((b"location", location.encode()))
        payload = json.dumps(envelope(1000, data=data)).encode()
        if faulty and state.rng.random() < state.faults.drop_rate:
            state.dropped += 1
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": payload[: len(payload) // 3],
                    "more_body": True,
                }
            )
            return  # unfinished: uvicorn closes the connection mid-answer
        if faulty and state.faults.delay > 0 and state.rng.random() < state.faults.delay_rate:
            state.delayed += 1
            await asyncio.sleep(state.faults.delay)
        await self.answer(send, 200, payload, extra)

    @staticmethod
    async def answer(
        send: Send,
        status: int,
        content: dict[str, Any] | bytes,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        payload = content if isinstance(content, bytes) else json.dumps(content).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            *(extra or []),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def create_app(state: PlatformState) -> Starlette:
    def authorised(request: Request) -> bool:
        return state.accepts(request.headers.get("authorization"))

    def ocpi(status: int, content: dict[str, Any]) -> JSONResponse:
        return JSONResponse(content, status_code=status)

    async def versions(request: Request) -> Response:
        if not authorised(request):
            return ocpi(401, envelope(2002, "unknown token"))
        return ocpi(200, envelope(data=[{"version": "2.2.1", "url": f"{state.base_url}{OCPI}"}]))

    async def details(request: Request) -> Response:
        if not authorised(request):
            return ocpi(401, envelope(2002, "unknown token"))
        return ocpi(200, envelope(data={"version": "2.2.1", "endpoints": state.endpoints()}))

    async def credentials(request: Request) -> Response:
        if not authorised(request):
            return ocpi(401, envelope(2002, "unknown token"))
        if request.method == "GET":
            return ocpi(200, envelope(data=state.credentials()))
        if request.method == "PUT":  # the hub updates the token this platform uses
            theirs = json.loads(await request.body())
            state.token_c = theirs["token"]
            state.save()
            return ocpi(200, envelope(data=state.credentials()))
        if request.method == "DELETE":
            state.token_c, state.registered = None, False
            state.save()
            return ocpi(200, envelope())
        return ocpi(405, envelope(2000, "already registered"))

    async def control_state(request: Request) -> Response:
        return JSONResponse(state.summary())

    async def control_received(request: Request) -> Response:
        after = int(request.query_params.get("after", "0"))
        return JSONResponse(
            {
                "total": len(state.received),
                "last_request_at": state.last_request_at,
                "records": state.received[after:],
            }
        )

    async def control_faults(request: Request) -> Response:
        state.faults.update(json.loads(await request.body()))
        return JSONResponse(state.summary())

    async def control_register(request: Request) -> Response:
        values = json.loads(await request.body())
        if not state.registered:
            state.hub_versions, state.token_a = values["hub_versions"], values["token_a"]
            try:
                await asyncio.wait_for(register(state), 30)
            except TimeoutError:
                return JSONResponse(state.summary(), status_code=504)
        return JSONResponse(state.summary())

    async def control_rotate(request: Request) -> Response:
        values = json.loads(await request.body())
        try:
            rotated = await rotate(state, values["credentials_url"])
        except (httpx.HTTPError, ValueError, KeyError, RuntimeError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=502)
        return JSONResponse(rotated)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        later = state.registered or not (state.hub_versions and state.token_a)
        task = None if later else asyncio.create_task(register(state))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if state.log is not None:
                state.log.close()

    functional = Functional(state)
    return Starlette(
        routes=[
            Route("/ocpi/versions", versions),
            Route(OCPI, details),
            Route(f"{OCPI}/credentials", credentials, methods=["GET", "POST", "PUT", "DELETE"]),
            Route(f"{OCPI}/{{module}}", functional, methods=["GET", "POST", "PUT", "PATCH"]),
            Route(
                f"{OCPI}/{{module}}/{{rest:path}}",
                functional,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            ),
            Route("/_state", control_state),
            Route("/_received", control_received),
            Route("/_faults", control_faults, methods=["POST"]),
            Route("/_register", control_register, methods=["POST"]),
            Route("/_rotate", control_rotate, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=sorted(ENDPOINTS), required=True)
    parser.add_argument("--party", required=True, help="CC/PID, e.g. NL/EMA")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hub-versions", help="the hub's versions URL (first start)")
    parser.add_argument("--token-a", help="the hub's token A (first start)")
    parser.add_argument("--state", type=Path, required=True, help="JSON file of its tokens")
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--delay-rate", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--register-later", action="store_true", help="wait for POST /_register (no token A)"
    )
    args = parser.parse_args(argv)
    country_code, _, party_id = args.party.partition("/")
    state = PlatformState(
        role=args.role,
        country_code=country_code,
        party_id=party_id,
        port=args.port,
        hub_versions=args.hub_versions,
        token_a=args.token_a,
        state_file=args.state,
        faults=Faults(args.fail_rate, args.drop_rate, args.delay, args.delay_rate),
        rng=random.Random(args.seed),
    )
    state.load()
    given = bool(state.hub_versions and state.token_a)
    if not state.registered and not (given or args.register_later):
        parser.error("not registered yet: --hub-versions and --token-a are needed")
    config = uvicorn.Config(
        create_app(state),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
