"""`roam tariff`: check a tariff by hand — price a session file against a tariff file.

`roam tariff price TARIFF.json SESSION.json` prints the priced result as JSON (format in
docs/pricing.md); bad input exits with status 1 and a one-line message naming the problem.
File reading lives here; ocpi.pricing itself does no I/O.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from ocpi.pricing import PricingError, SessionUsage, price_session
from ocpi.v221.tariffs import Tariff

__all__ = ["tariff_app"]

M = TypeVar("M", bound=BaseModel)

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


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = error.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {first['msg']}{suffix}"


def _load(path: Path, model: type[M], what: str) -> M:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not JSON: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path} is not a valid {what}: {_one_line(exc)}") from None


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
        tariff = _load(tariff_json, Tariff, "OCPI 2.2.1 Tariff")
        usage = _load(session_json, SessionUsage, "session file")
        result = price_session(tariff, usage)
    except (InputError, PricingError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(json.dumps(result.to_json(), indent=2))
