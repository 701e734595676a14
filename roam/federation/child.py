"""One platform of a federation as a process of its own: `python -m roam.federation.child
KIND CONFIG.json` (KIND: hub, cpo or emsp), started and supervised by `roam demo`
(roam/federation/processes.py).

The platform is the same app `roam hub serve`, `roam cpo` and `roam emsp` serve, behind the
federation's fault switches (`Faults`, docs/scenarios.md), which the parent sets over HTTP:
`POST /_faults` with `{"delay": seconds, "answer": [http_status, ocpi_status, message] | null}`
and `Authorization: Bearer <ROAM_FAULTS_TOKEN>` (a token the parent passes in the
environment). It stops like those commands: SIGTERM or Ctrl-C is a graceful shutdown, and it
ends when its supervisor dies.
"""

from __future__ import annotations

import hmac
import json
import os
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from roam.federation.faults import Faults
from roam.serving import serve_until_interrupted

FAULTS_PATH = "/_faults"
FAULTS_TOKEN_ENV = "ROAM_FAULTS_TOKEN"


class SwitchableFaults(Faults):
    """`Faults` whose switches are set by `POST /_faults` (with the parent's token)."""

    def __init__(self, app: FastAPI, token: str) -> None:
        super().__init__(app)
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == FAULTS_PATH:
            answer = await self._switch(Request(scope, receive))
            await answer(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _switch(self, request: Request) -> JSONResponse:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if not (
            self.token
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), self.token.encode())
        ):
            return JSONResponse({"error": "Authorization: Bearer <faults token> is required"}, 401)
        if request.method != "POST":
            return JSONResponse({"error": "POST the switches"}, 405)
        try:
            body = json.loads(await request.body() or b"{}")
            delay = float(body.get("delay", 0))
            answer = body.get("answer")
            switched: tuple[int, int, str] | None = None
            if answer is not None:
                http_status, ocpi_status, message = answer
                switched = (int(http_status), int(ocpi_status), str(message))
        except (ValueError, TypeError, AttributeError):
            return JSONResponse(
                {"error": 'give {"delay": seconds, "answer": [http, ocpi, message] or null}'}, 400
            )
        if delay < 0:
            return JSONResponse({"error": "delay cannot be negative"}, 400)
        self.delay, self.answer = delay, switched
        return JSONResponse(self.state())

    def state(self) -> dict[str, Any]:
        return {"delay": self.delay, "failing": self.answer is not None}


def build(kind: str, config: Path) -> tuple[FastAPI, str, int]:
    """The platform's app, host and port from its JSON config file."""
    values = json.loads(config.read_text(encoding="utf-8"))
    if kind == "hub":
        from hub.app import create_app as create_hub
        from hub.settings import HubSettings

        hub_settings = HubSettings.model_validate(values)
        return create_hub(hub_settings), hub_settings.host, hub_settings.port
    if kind == "cpo":
        from cpo_mock.app import create_app as create_cpo
        from cpo_mock.settings import load_config as load_cpo

        cpo_settings = load_cpo(config)
        return create_cpo(cpo_settings), cpo_settings.host, cpo_settings.port
    if kind == "emsp":
        from emsp_mock.app import create_app as create_emsp
        from emsp_mock.settings import load_config as load_emsp

        emsp_settings = load_emsp(config)
        return create_emsp(emsp_settings), emsp_settings.host, emsp_settings.port
    raise SystemExit(f"unknown platform kind {kind!r} (hub, cpo or emsp)")


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python -m roam.federation.child hub|cpo|emsp CONFIG.json")
    app, host, port = build(argv[0], Path(argv[1]))
    serve_until_interrupted(SwitchableFaults(app, os.environ.get(FAULTS_TOKEN_ENV, "")), host, port)


if __name__ == "__main__":
    main(sys.argv[1:])
