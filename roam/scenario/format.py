"""The scenario file format of `roam scenario run` (docs/scenarios.md): parsing and checking.

Pure: YAML text in, a `Scenario` of typed steps out, or a `ScenarioError` naming the step and
the problem. A step is a mapping with one action key (`start: {...}`, `advance: 25m`) or an
`expect:` mapping; expectations compare what the runner observes with `match()`.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml  # type: ignore[import-untyped]
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from roam.federation.spec import MemberSpec, error_place


class ScenarioError(ValueError):
    """The scenario file cannot be used; the message names the place and the problem."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def seconds(text: str | int | float) -> float:
    """`90s`, `25m`, `1h30m`, `2h` (or a bare number of seconds) in seconds."""
    if isinstance(text, int | float):
        return float(text)
    found = _DURATION.fullmatch(text.strip().replace(" ", ""))
    if found is None or not any(found.groups()):
        raise ValueError(f"{text!r} is not a duration like 90s, 25m, 1h30m")
    h, m, s = (float(g) if g else 0.0 for g in found.groups())
    return h * 3600 + m * 60 + s


Duration = Annotated[str | int | float, Field(description="90s, 25m, 1h30m")]


# --- the federation a scenario runs against -----------------------------------------------
class FederationSection(_Model):
    file: str | None = None
    """A federation file (relative to the scenario file); default: the four-member alliance."""
    members: list[MemberSpec] | None = None
    """Members written out here instead of a file (the federation file's member format)."""
    start: AwareDatetime | None = None
    """Where the simulated clocks begin (default: the federation file's start)."""
    scale: Annotated[float, Field(gt=0, le=20)] = 0.005
    hub: dict[str, Any] = Field(default_factory=dict)
    """Hub settings for this run, e.g. `forward_timeout: 1.5` (seconds before 4002)."""


# --- where a charge happens --------------------------------------------------------------
class Place(_Model):
    member: str | None = None
    evse_of: str | None = None
    """The EVSE of an earlier charge (`evse_of: s1`): another driver at the same charger."""
    location: str | None = None
    evse: str | None = None
    connector: str | None = None
    power: Literal["AC", "DC"] = "DC"
    """Without `evse`: a free EVSE of this kind that can be started remotely."""


def _place(value: Any) -> Any:
    return {"member": value} if isinstance(value, str) else value


# --- actions ------------------------------------------------------------------------------
class ChargeStep(_Model):
    """Names a charge (`charge: s1`); its first step also says who (`driver` or `card`) and
    where (`at`)."""

    charge: str
    driver: str | None = None
    """`Fastned` (the member's app driver) or `Fastned/no-credit` (another driver of it)."""
    at: Place | None = None


class Quote(ChargeStep):
    kwh: Decimal
    minutes: Decimal
    idle_minutes: Decimal = Decimal(0)


class Start(ChargeStep):
    pass


class Reserve(ChargeStep):
    minutes: Decimal = Decimal(30)
    """How long the reservation holds, in the CPO's time."""
    whole_location: bool = False
    """Reserve at the location (any EVSE) instead of the charge's EVSE."""


class Plug(ChargeStep):
    car: str | dict[str, Any] = "sedan"
    """A vehicle preset (city, compact, sedan, ...) or a vehicle mapping (docs/cpo_mock.md)."""


class Swipe(ChargeStep):
    card: str | None = None
    """Whose RFID card: `Fastned` (the driver's) or `Fastned/no-credit`."""


class Stop(_Model):
    charge: str


class Unplug(_Model):
    charge: str


class Advance(_Model):
    by: Duration | None = None
    until: AwareDatetime | None = None


class PlatformStep(_Model):
    platform: str
    """`Electra CPO` or `Electra app` (`Electra eMSP`)."""


class Offline(PlatformStep):
    pass


class Online(PlatformStep):
    pass


class Heal(PlatformStep):
    pass


class Resync(PlatformStep):
    pass


class Slow(PlatformStep):
    seconds: Annotated[float, Field(ge=0)]


class Fail(PlatformStep):
    http_status: Annotated[int, Field(ge=200, le=599)] = 500
    ocpi_status: Annotated[int, Field(ge=1000, le=4999)] = 3000
    message: str = "injected fault (scenario)"


class Send(_Model):
    """A raw OCPI request from one member platform through the hub."""

    name: str = Field(alias="as")
    from_: str = Field(alias="from")
    to: str
    """A platform (`IONITY CPO`) or a party (`ZZ/ZZZ`)."""
    module: str
    interface: Literal["SENDER", "RECEIVER"] = "RECEIVER"
    method: Literal["GET", "PUT", "PATCH", "POST", "DELETE"] = "GET"
    path: str = ""
    body: Any = None


class Join(MemberSpec):
    """A new member mid-run (the federation file's member format)."""


class Wait(_Model):
    real: Duration
    """Real (wall-clock) time, e.g. for the hub's still-alive check."""


# --- expectations -------------------------------------------------------------------------
Expected = str | int | float | bool


class Expectation(_Model):
    """One `expect:` step: a subject key naming what is looked at, the rest what must hold."""

    subject: str
    target: Any
    wanted: dict[str, Expected]
    within: float

    def label(self) -> str:
        what = ", ".join(f"{k} {_show(v)}" for k, v in self.wanted.items())
        target = self.target if isinstance(self.target, str) else _inline(self.target)
        return f"{self.subject} {target}: {what}".rstrip(": ")


SUBJECTS: dict[str, set[str]] = {
    "command": {"of", "state", "response", "message_contains"},
    "swipe": {"result", "auth_method", "reason_contains"},
    "session": {"status", "kwh", "seen_by", "exists", "auth_method"},
    "cdr": {
        "exists",
        "total_incl_vat",
        "total_excl_vat",
        "currency",
        "energy",
        "parking_hours",
        "equals_quote",
        "periods",
    },
    "invoice": {"status", "total_incl_vat", "equals_cdr"},
    "quote": {"incl_vat", "excl_vat"},
    "settlement": {"cdrs", "incl_vat", "excl_vat", "balanced"},
    "hub_saw": {"count"},
    "client_info": {"status"},
    "platform": {"version", "status"},
    "response": {"ocpi_status", "http_status", "message_contains"},
    "evse": {"status", "seen_by"},
}
"""Each subject and the keys it may check (plus `within`)."""

_OPTIONS = {"of", "seen_by"}
"""Keys that choose what is looked at rather than state what must hold."""

ACTIONS: dict[str, type[BaseModel]] = {
    "quote": Quote,
    "start": Start,
    "reserve": Reserve,
    "plug": Plug,
    "swipe": Swipe,
    "stop": Stop,
    "unplug": Unplug,
    "advance": Advance,
    "offline": Offline,
    "online": Online,
    "slow": Slow,
    "fail": Fail,
    "heal": Heal,
    "resync": Resync,
    "send": Send,
    "join": Join,
    "wait": Wait,
}

_SHORTHAND: dict[str, str] = {
    "quote": "charge",
    "start": "charge",
    "reserve": "charge",
    "plug": "charge",
    "swipe": "charge",
    "stop": "charge",
    "unplug": "charge",
    "advance": "by",
    "offline": "platform",
    "online": "platform",
    "heal": "platform",
    "resync": "platform",
    "wait": "real",
}
"""`plug: s1` means `plug: {charge: s1}`; `advance: 25m` means `advance: {by: 25m}`."""

Action = BaseModel


class Step(_Model):
    number: int
    kind: str
    action: Action
    note: str = ""

    def describe(self) -> str:
        if isinstance(self.action, Expectation):
            return f"expect {self.action.label()}"
        fields = self.action.model_dump(exclude_defaults=True, by_alias=True)
        if self.kind == "join":
            return f"join {fields.get('name')} ({fields.get('country_code')})"
        if len(fields) == 1:
            return f"{self.kind} {_show(next(iter(fields.values())))}"
        return f"{self.kind} {_inline(fields)}"


class Scenario(_Model):
    name: str
    about: str = ""
    federation: FederationSection = Field(default_factory=FederationSection)
    steps: list[Step]
    origin: str = ""
    folder: Path | None = None


def _show(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return _inline(value)
    return str(value)


def _inline(mapping: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in mapping.items()) + "}"


def _errors(exc: ValidationError, data: Any = None) -> str:
    """Each error at its place; with `data`, a member named too (`members.0 (Volta).version`)."""
    return "; ".join(
        f"{error_place(data, err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
    )


def _expectation(raw: Any, where: str) -> Expectation:
    if not isinstance(raw, dict):
        raise ScenarioError(
            f"{where}: expect needs a mapping, e.g. {{session: s1, status: ACTIVE}}"
        )
    subjects = [k for k in raw if k in SUBJECTS]
    if len(subjects) != 1:
        raise ScenarioError(
            f"{where}: expect needs exactly one subject of {', '.join(SUBJECTS)}"
            f" (found {', '.join(subjects) or 'none'})"
        )
    subject = subjects[0]
    rest = {k: v for k, v in raw.items() if k != subject}
    within = 2.0
    if "within" in rest:
        try:
            within = seconds(rest.pop("within"))
        except ValueError as exc:
            raise ScenarioError(f"{where}: within: {exc}") from None
    unknown = sorted(set(rest) - SUBJECTS[subject])
    if unknown:
        raise ScenarioError(
            f"{where}: expect {subject} cannot check {', '.join(unknown)} "
            f"(it checks {', '.join(sorted(SUBJECTS[subject]))})"
        )
    for key, value in rest.items():
        if not isinstance(value, str | int | float | bool) or value is None:
            raise ScenarioError(f"{where}: {key} must be a single value, not {value!r}")
    if not set(rest) - _OPTIONS and subject not in ("hub_saw",):
        raise ScenarioError(f"{where}: expect {subject} says nothing that must hold")
    if subject == "hub_saw":
        rest.setdefault("count", ">=1")
        if not isinstance(raw[subject], dict):
            raise ScenarioError(f"{where}: hub_saw needs a mapping (from, to, module, ...)")
        allowed = {"from", "to", "module", "method", "path_contains", "ocpi_status", "hop"}
        bad = sorted(set(raw[subject]) - allowed)
        if bad:
            raise ScenarioError(
                f"{where}: hub_saw cannot filter on {', '.join(bad)} "
                f"(it filters on {', '.join(sorted(allowed))})"
            )
    return Expectation(subject=subject, target=raw[subject], wanted=rest, within=within)


def _step(number: int, raw: Any) -> Step:
    where = f"step {number}"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: a step is a mapping like {{advance: 25m}}, not {raw!r}")
    note = raw.get("note", "")
    keys = [k for k in raw if k != "note"]
    if len(keys) != 1:
        raise ScenarioError(f"{where}: one action per step (found {', '.join(keys) or 'none'})")
    kind = keys[0]
    value = raw[kind]
    if kind == "expect":
        return Step(number=number, kind=kind, action=_expectation(value, where), note=note)
    model = ACTIONS.get(kind)
    if model is None:
        raise ScenarioError(
            f"{where}: unknown action {kind!r} (known: expect, {', '.join(ACTIONS)})"
        )
    if not isinstance(value, dict):
        if kind not in _SHORTHAND:
            raise ScenarioError(f"{where}: {kind} needs a mapping of its arguments")
        value = {_SHORTHAND[kind]: value}
    if "at" in value:
        value = {**value, "at": _place(value["at"])}
    try:
        action = model.model_validate(value)
    except ValidationError as exc:
        raise ScenarioError(f"{where} ({kind}): {_errors(exc)}") from None
    if isinstance(action, Advance) and (action.by is None) == (action.until is None):
        raise ScenarioError(f"{where} (advance): give either a duration or until")
    if isinstance(action, Advance | Wait):
        try:
            seconds(action.by if isinstance(action, Advance) and action.by else 0)
            if isinstance(action, Wait):
                seconds(action.real)
        except ValueError as exc:
            raise ScenarioError(f"{where} ({kind}): {exc}") from None
    return Step(number=number, kind=kind, action=action, note=note)


def parse_scenario(data: Any, origin: str = "scenario", folder: Path | None = None) -> Scenario:
    """A scenario from its parsed YAML (a mapping with name, federation?, steps)."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{origin}: a scenario is a mapping with name and steps")
    unknown = sorted(set(data) - {"name", "about", "federation", "steps"})
    if unknown:
        raise ScenarioError(f"{origin}: unknown keys {', '.join(unknown)}")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScenarioError(f"{origin}: steps must be a non-empty list")
    try:
        steps = [_step(n, raw) for n, raw in enumerate(raw_steps, start=1)]
    except ScenarioError as exc:
        raise ScenarioError(f"{origin}: {exc}") from None
    try:
        federation = FederationSection.model_validate(data.get("federation") or {})
    except ValidationError as exc:
        raise ScenarioError(
            f"{origin}: federation: {_errors(exc, data.get('federation'))}"
        ) from None
    if not any(isinstance(s.action, Expectation) for s in steps):
        raise ScenarioError(f"{origin}: no expect step: a scenario must check something")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(f"{origin}: name is required")
    return Scenario(
        name=name,
        about=str(data.get("about") or ""),
        federation=federation,
        steps=steps,
        origin=origin,
        folder=folder,
    )


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    return parse_scenario(data, str(path), path.parent)


# --- comparing ----------------------------------------------------------------------------
_COMPARISON = re.compile(r"^\s*(>=|<=|!=|==|>|<)\s*(.+)$")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def match(wanted: Expected, actual: Any) -> bool:
    """Whether `actual` is what `wanted` says: a value (numbers compare as numbers, texts
    case-sensitively), or a comparison such as `>0`, `>=2`, `!=ACTIVE`."""
    if isinstance(wanted, bool):
        return actual is wanted
    if isinstance(wanted, str):
        found = _COMPARISON.fullmatch(wanted)
        if found is not None:
            op, operand = found.groups()
            left, right = _number(actual), _number(operand)
            if left is None or right is None:
                if op == "!=":
                    return str(actual) != operand
                if op == "==":
                    return str(actual) == operand
                return False
            return {
                ">": left > right,
                ">=": left >= right,
                "<": left < right,
                "<=": left <= right,
                "!=": left != right,
                "==": left == right,
            }[op]
    left, right = _number(actual), _number(wanted)
    if left is not None and right is not None:
        return left == right
    return str(actual) == str(wanted)
