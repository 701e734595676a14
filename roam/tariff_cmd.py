"""`roam tariff`: check a tariff by hand — price a session file against a tariff file.

`roam tariff price TARIFF.json SESSION.json` prints the priced result as JSON (format in
docs/pricing.md); bad input exits with status 1 and a one-line message naming the problem.
File reading lives here; ocpi.pricing itself does no I/O.

Numbers are exact from file to screen: JSON numbers are read as Decimals (never through a
binary float), and printed from Decimals with every digit they have.
"""

from __future__ import annotations

import json
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from ocpi.pricing import PricedSession, PricingError, SessionUsage, price_session
from ocpi.v221.tariffs import Tariff

__all__ = ["INTEGER_DIGITS", "MAX_DECIMALS", "dumps", "price_files", "read_json", "tariff_app"]

M = TypeVar("M", bound=BaseModel)

INTEGER_DIGITS = 15
"""Most digits a number in an input file may have before the decimal point (below 10^15)."""

MAX_DECIMALS = 20
"""Most decimals a number in an input file may have (a multiple of 10^-20)."""

_FINEST = Decimal(1).scaleb(-MAX_DECIMALS)
_READING = Context(prec=INTEGER_DIGITS + MAX_DECIMALS + 5, Emin=-999_999_999, Emax=999_999_999)
_LIMIT = Decimal(10) ** INTEGER_DIGITS

tariff_app = typer.Typer(
    help="Check OCPI 2.2.1 tariffs by hand.",
    no_args_is_help=True,
    add_completion=False,
)


@tariff_app.callback()
def _tariff() -> None:
    """Check OCPI 2.2.1 tariffs by hand."""


class InputError(Exception):
    """A file that cannot be read or does not hold what it should; the message is one line."""


class _NotJson(ValueError):
    """Text Python's json module would accept but JSON does not (NaN, Infinity)."""


class _OutOfRange(ValueError):
    """A JSON number beyond what `roam tariff price` reads (INTEGER_DIGITS, MAX_DECIMALS)."""


def _refuse_constant(name: str) -> Any:
    raise _NotJson(
        f"{name} is not a JSON number (JSON has no NaN or Infinity; write a finite number)"
    )


def _too_large(text: str) -> _OutOfRange:
    return _OutOfRange(
        f"the number {text[:40]} has more than {INTEGER_DIGITS} digits before the decimal point"
    )


def _too_fine(text: str) -> _OutOfRange:
    return _OutOfRange(f"the number {text[:40]} has more than {MAX_DECIMALS} decimals")


def _read_decimal(text: str) -> Decimal:
    """A JSON number with a fraction or exponent, exactly as written (no context rounding)."""
    try:
        value = Decimal(text)
    except (
        InvalidOperation
    ):  # an exponent beyond what decimal can hold at all: 1e99999999999999999999
        raise (_too_fine(text) if "e-" in text.lower() else _too_large(text)) from None
    if value.copy_abs() >= _LIMIT:  # copy_abs and >= are exact, whatever the exponent
        raise _too_large(text)
    # Below 10^15 with at most 20 decimals fits 35 digits, so this quantize is exact if the
    # number is in range; a finer number comes back changed.
    if value.quantize(_FINEST, context=_READING) != value:
        raise _too_fine(text)
    return value


def _read_int(text: str) -> int:
    """A JSON integer; its length is checked before Python converts it (which can refuse)."""
    if len(text.lstrip("-")) > INTEGER_DIGITS:
        raise _too_large(text)
    return int(text)


def read_json(path: Path) -> Any:
    """The file's JSON value with every number exact: Decimal, or int for integers.

    Integers stay `int` so that OCPI `int` fields (step_size, min_duration…) still refuse
    `1.0`; `Number` fields turn ints into Decimals exactly. Refused with InputError: a file
    that cannot be read, is not JSON, holds NaN or Infinity (which Python's json accepts),
    or a number outside INTEGER_DIGITS / MAX_DECIMALS.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not JSON: {exc}") from None
    try:
        return json.loads(
            text,
            parse_float=_read_decimal,
            parse_int=_read_int,
            parse_constant=_refuse_constant,
        )
    except _NotJson as exc:
        raise InputError(f"{path} is not JSON: {exc}") from None
    except _OutOfRange as exc:
        raise InputError(
            f"{path}: {exc}; numbers are read exactly, with up to {INTEGER_DIGITS} digits "
            f"before the decimal point and {MAX_DECIMALS} after"
        ) from None
    except RecursionError:
        raise InputError(f"{path} is nested too deeply to be a tariff or a session") from None
    except ValueError as exc:  # json.JSONDecodeError and number conversion errors
        raise InputError(f"{path} is not JSON: {exc}") from None


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = error.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {first['msg']}{suffix}"


def _load(path: Path, model: type[M], what: str) -> M:
    data = read_json(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path} is not a valid {what}: {_one_line(exc)}") from None


def price_files(tariff_json: Path, session_json: Path) -> PricedSession:
    """What `roam tariff price` computes: the session file priced against the tariff file.

    Raises InputError or PricingError with a one-line message.
    """
    tariff = _load(tariff_json, Tariff, "OCPI 2.2.1 Tariff")
    usage = _load(session_json, SessionUsage, "session file")
    return price_session(tariff, usage)


def _number(value: Decimal) -> str:
    """A Decimal as a JSON number with exactly its digits: 9.00 stays 9.00, no exponent."""
    if not value.is_finite():  # pragma: no cover - inputs are finite, the engine keeps them so
        raise ValueError(f"{value} cannot be written as a JSON number")
    return format(value, "f")


def dumps(value: Any, indent: int = 2, _level: int = 0) -> str:
    """JSON text like `json.dumps(value, indent=indent)`, with Decimals as exact numbers.

    `json.dumps` knows no Decimal, and its `default` hook can only substitute another
    value (a float would lose digits, a string would change the type).
    """
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, dict):
        items = [(json.dumps(str(key)), item) for key, item in value.items()]
        return _block(
            "{", "}", [f"{k}: {dumps(v, indent, _level + 1)}" for k, v in items], indent, _level
        )
    if isinstance(value, list | tuple):
        return _block("[", "]", [dumps(v, indent, _level + 1) for v in value], indent, _level)
    if isinstance(value, float):
        raise TypeError("a float reached the output; pricing output is Decimal")
    return json.dumps(value)


def _block(opening: str, closing: str, parts: list[str], indent: int, level: int) -> str:
    if not parts:
        return opening + closing
    inner = "\n" + " " * (indent * (level + 1))
    return opening + inner + ("," + inner).join(parts) + "\n" + " " * (indent * level) + closing


@tariff_app.command("price")
def price(
    tariff_json: Annotated[
        Path, typer.Argument(metavar="TARIFF_JSON", help="An OCPI 2.2.1 Tariff object.")
    ],
    session_json: Annotated[
        Path,
        typer.Argument(metavar="SESSION_JSON", help="The session to price (docs/pricing.md)."),
    ],
) -> None:
    """Price SESSION_JSON against TARIFF_JSON and print the result as JSON."""
    try:
        result = price_files(tariff_json, session_json)
    except (InputError, PricingError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(dumps(result.to_dict()))
