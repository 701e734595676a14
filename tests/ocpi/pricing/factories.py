"""Plain functions that build pricing inputs: tariffs, elements, usage periods, sessions."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ocpi.pricing import PricedSession, SessionUsage, price_session
from ocpi.v221.tariffs import Tariff

AMSTERDAM = "Europe/Amsterdam"


def example_tariff(examples_dir: Path, name: str) -> Tariff:
    """One of the spec's tariff_*.json examples, read in place."""
    data = json.loads((examples_dir / f"{name}.json").read_text(encoding="utf-8"))
    return Tariff.model_validate(data)


def component(
    type: str, price: float | str, vat: float | str | None = None, step_size: int = 1
) -> dict[str, Any]:
    found: dict[str, Any] = {"type": type, "price": _number(price), "step_size": step_size}
    if vat is not None:
        found["vat"] = _number(vat)
    return found


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        found["restrictions"] = restrictions
    return found


def make_tariff(*elements: dict[str, Any], **fields: Any) -> Tariff:
    data: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "TNM",
        "id": "T1",
        "currency": "EUR",
        "elements": list(elements),
        "last_updated": "2024-01-01T00:00:00Z",
    }
    data.update(fields)
    return Tariff.model_validate(data)


def local(text: str, zone: str = AMSTERDAM) -> str:
    """A local wall-clock time at the Location as an RFC 3339 instant with its offset."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).isoformat()


def charging(
    minutes: float,
    kwh: float | str = 0,
    start: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    period: dict[str, Any] = {
        "state": "CHARGING",
        "duration": minutes * 60,
        "energy": _number(kwh),
    }
    if start is not None:
        period["start_date_time"] = start
    for key, value in extra.items():
        period[key] = _number(value) if key in ("power", "current") else value
    return period


def parking(minutes: float, start: str | None = None) -> dict[str, Any]:
    period: dict[str, Any] = {"state": "PARKING", "duration": minutes * 60}
    if start is not None:
        period["start_date_time"] = start
    return period


def reservation(minutes: float, start: str) -> dict[str, Any]:
    return {"state": "RESERVATION", "duration": minutes * 60, "start_date_time": start}


def usage(
    *periods: dict[str, Any], time_zone: str = AMSTERDAM, expired: bool = False
) -> SessionUsage:
    return SessionUsage.model_validate(
        {"time_zone": time_zone, "periods": list(periods), "reservation_expired": expired}
    )


def price(
    tariff: Tariff, *periods: dict[str, Any], time_zone: str = AMSTERDAM, expired: bool = False
) -> PricedSession:
    return price_session(tariff, usage(*periods, time_zone=time_zone, expired=expired))


def _number(value: float | str | Decimal) -> Any:
    """Numbers go in as JSON would carry them; strings are read as exact decimals."""
    return float(value) if isinstance(value, str) else value
