"""The control API of a double running as a separate process: plain-JSON endpoints (not OCPI)
under `{base}/_control` that let a test drive it and read its state; loopback only."""

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from ocpi.client import OcpiResponse as ClientResponse
from ocpi.errors import OcpiError
from ocpi.headers import PartyRef
from ocpi.v221 import CDR, InterfaceRole, Location, ModuleID, Session, Status, Tariff, Token

if TYPE_CHECKING:
    from tests.doubles.member.app import Member

Action = Callable[["Member", dict[str, Any]], Awaitable[Any]]

_CONTROL_ACTIONS: dict[str, Action] = {}


def _control(name: str) -> Callable[[Action], Action]:
    def register(action: Action) -> Action:
        _CONTROL_ACTIONS[name] = action
        return action

    return register


def _to(args: Mapping[str, Any]) -> PartyRef | None:
    raw = args.get("to")
    return PartyRef.parse(raw) if raw else None


def _answer(response: ClientResponse) -> dict[str, Any]:
    return {"status_code": response.status_code, "http_status": response.http_status}


@_control("accept_token_a")
async def _accept_token_a(member: "Member", args: dict[str, Any]) -> Any:
    member.accept_token_a(str(args["token"]))
    return {"ok": True}


@_control("register")
async def _register(member: "Member", args: dict[str, Any]) -> Any:
    return (await member.register(str(args["versions_url"]), str(args["token"]))).to_json()


@_control("peer")
async def _peer(member: "Member", args: dict[str, Any]) -> Any:
    """The token this double sends the hub (token C) and the hub's endpoints: lets a test send
    hand-made requests as this member (security tests)."""
    peer = member.require_peer()
    return {
        "token": peer.token,
        "endpoints": {f"{e.identifier}/{e.role.value}": e.url for e in peer.endpoints},
    }


@_control("update_credentials")
async def _update_credentials(member: "Member", args: dict[str, Any]) -> Any:
    return (await member.update_credentials()).to_json()


@_control("unregister")
async def _unregister(member: "Member", args: dict[str, Any]) -> Any:
    await member.unregister()
    return {"ok": True}


@_control("push_location")
async def _push_location(member: "Member", args: dict[str, Any]) -> Any:
    location = Location.model_validate(args["location"])
    return _answer(await member.push_location(location, _to(args)))


@_control("push_tariff")
async def _push_tariff(member: "Member", args: dict[str, Any]) -> Any:
    return _answer(await member.push_tariff(Tariff.model_validate(args["tariff"]), _to(args)))


@_control("patch_evse_status")
async def _patch_evse_status(member: "Member", args: dict[str, Any]) -> Any:
    response = await member.patch_evse_status(
        str(args["location_id"]), str(args["evse_uid"]), Status(args["status"]), _to(args)
    )
    return _answer(response)


@_control("put_session")
async def _put_session(member: "Member", args: dict[str, Any]) -> Any:
    return _answer(await member.put_session(Session.model_validate(args["session"]), _to(args)))


@_control("patch_session")
async def _patch_session(member: "Member", args: dict[str, Any]) -> Any:
    response = await member.patch_session(str(args["session_id"]), args["changes"], _to(args))
    return _answer(response)


@_control("post_cdr")
async def _post_cdr(member: "Member", args: dict[str, Any]) -> Any:
    return {"location": await member.post_cdr(CDR.model_validate(args["cdr"]), _to(args))}


@_control("push_token")
async def _push_token(member: "Member", args: dict[str, Any]) -> Any:
    return _answer(await member.push_token(Token.model_validate(args["token"]), _to(args)))


@_control("add_token")
async def _add_token(member: "Member", args: dict[str, Any]) -> Any:
    member.add_token(Token.model_validate(args["token"]))
    return {"ok": True}


@_control("add_location")
async def _add_location(member: "Member", args: dict[str, Any]) -> Any:
    member.add_location(Location.model_validate(args["location"]))
    return {"ok": True}


@_control("start_session")
async def _start_session(member: "Member", args: dict[str, Any]) -> Any:
    response = await member.start_session(
        str(args["location_id"]),
        args.get("evse_uid"),
        Token.model_validate(args["token"]),
        _to(args),
        connector_id=args.get("connector_id"),
    )
    return {"uid": member.last_command_uid, "response": response.to_json()}


@_control("stop_session")
async def _stop_session(member: "Member", args: dict[str, Any]) -> Any:
    to = _to(args)
    if to is None:
        raise ValueError("stop_session needs 'to'")
    response = await member.stop_session(str(args["session_id"]), to)
    return {"uid": member.last_command_uid, "response": response.to_json()}


@_control("get_all")
async def _get_all(member: "Member", args: dict[str, Any]) -> Any:
    """GET a whole list through the hub, following Link: {module, interface?, to?}."""
    module = ModuleID(str(args["module"]))
    interface = InterfaceRole(str(args.get("interface", "SENDER")))
    to = _to(args) or member.hub_party
    client = member.client()
    url = member.hub_endpoint(module, interface)
    pages = []
    async for page in client.iter_pages(url, dict, to=to):
        pages.append(page)
    return {"pages": pages}


def control_router(member: "Member") -> APIRouter:
    """Plain-JSON endpoints (not OCPI) to drive a double in another process; loopback only."""
    router = APIRouter()
    base = f"{member.base_path}/_control"

    @router.get(base + "/state")
    async def state() -> JSONResponse:
        return JSONResponse(member.snapshot())

    @router.post(base + "/{action}")
    async def act(action: str, args: Annotated[dict[str, Any], Body()]) -> JSONResponse:
        handler = _CONTROL_ACTIONS.get(action)
        if handler is None:
            return JSONResponse({"error": f"unknown action {action}"}, status_code=404)
        try:
            return JSONResponse({"result": await handler(member, args)})
        except OcpiError as exc:
            return JSONResponse(
                {"error": str(exc), "status_code": exc.status_code, "data": exc.data},
                status_code=502,
            )
        except (KeyError, ValueError, RuntimeError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=400)

    return router
