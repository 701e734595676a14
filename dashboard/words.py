"""A tariff and a price in words, from the eMSP app's quote (`POST /app/quote`): the price
components that applied to the planned session, each as "0.54 EUR per kWh"."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

_UNIT_WORDS = {"kWh": "kWh", "h": "hour", "min": "minute", "s": "second"}


def money(amount: Any, currency: str) -> str:
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    return f"{value} {currency}"


def _unit_price(amount: Any) -> str:
    value = Decimal(str(amount)).normalize()
    if value == value.to_integral():
        return str(value.quantize(Decimal("0.01")))
    text = format(value, "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def tariff_in_words(quote: Mapping[str, Any]) -> str:
    """ "Energy 0.54 EUR per kWh (VAT 20 %)"; "free of charge" without a tariff."""
    if quote.get("free") or not quote.get("tariff_id"):
        return "free of charge"
    currency = str(quote.get("currency") or "")
    parts: list[str] = []
    for item in quote.get("items", []):
        label = str(item.get("label") or "")
        price = item.get("unit_price")
        unit = item.get("unit")
        vat = item.get("vat")
        if price is None:
            cost = item.get("cost") or {}
            text = f"{label} {money(cost.get('excl_vat', 0), currency)}"
        elif item.get("dimension") == "FLAT" or not unit:
            text = f"{label} {_unit_price(price)} {currency}"
        else:
            text = f"{label} {_unit_price(price)} {currency} per {_UNIT_WORDS.get(unit, unit)}"
        if vat is not None:
            text += f" (VAT {Decimal(str(vat)).normalize():f} %)"
        parts.append(text[:1].upper() + text[1:] if text else text)
    return "; ".join(parts) if parts else "no price component applies"


def price_in_words(quote: Mapping[str, Any], energy_kwh: float, minutes: float) -> str:
    """ "30 kWh in 30 min: 19.44 EUR (16.20 EUR excl. VAT)"."""
    plan = f"{energy_kwh:g} kWh in {minutes:g} min"
    price = quote.get("price") or {}
    if quote.get("free") or not quote.get("tariff_id"):
        return f"{plan}: free"
    currency = str(quote.get("currency") or "")
    return (
        f"{plan}: {money(price.get('incl_vat', 0), currency)} "
        f"({money(price.get('excl_vat', 0), currency)} excl. VAT)"
    )
