"""A tariff and a price in words: the price components that applied to a planned session,
from the eMSP app's quote (`POST /app/quote`), each as "0.54 EUR per kWh"; and a whole OCPI
Tariff with its restrictions (`tariff_elements_in_words`: "0.39 EUR/kWh 00:00–10:00,
0.69 EUR/kWh otherwise")."""

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


# OCPI 2.2.1 §11.4.2 TariffDimensionType: TIME and PARKING_TIME are priced per hour; shown per
# minute (as drivers read them) when that is a price in at most four decimals.
_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_DAY_WORDS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _per_time(price: Decimal, currency: str, what: str) -> str:
    per_minute = price / 60
    if per_minute == per_minute.quantize(Decimal("0.0001")):
        return f"{_unit_price(per_minute)} {currency}/min{what}"
    return f"{_unit_price(price)} {currency}/h{what}"


def _component(component: Mapping[str, Any], currency: str) -> str:
    kind = str(component.get("type") or "")
    price = Decimal(str(component.get("price", 0)))
    if kind == "ENERGY":
        return f"{_unit_price(price)} {currency}/kWh"
    if kind == "TIME":
        return _per_time(price, currency, "")
    if kind == "PARKING_TIME":
        return _per_time(price, currency, " parking")
    return f"{_unit_price(price)} {currency} per session"


def _minutes(seconds: Any) -> str:
    value = Decimal(str(seconds)) / 60
    return f"{value.normalize():f} min"


def _days(days: Any) -> str:
    """["MONDAY", …, "FRIDAY"] as "Mon–Fri"; runs of three or more days joined by a dash."""
    chosen = sorted({_DAYS.index(d) for d in days if d in _DAYS})
    runs: list[list[int]] = []
    for day in chosen:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{_DAY_WORDS[run[0]]}–{_DAY_WORDS[run[-1]]}")
        else:
            parts.extend(_DAY_WORDS[d] for d in run)
    return ", ".join(parts)


def _range(low: Any, high: Any, unit: str, above: str, below: str) -> str | None:
    if low is not None and high is not None:
        return f"{Decimal(str(low)).normalize():f}–{Decimal(str(high)).normalize():f} {unit}"
    if low is not None:
        return f"{above} {Decimal(str(low)).normalize():f} {unit}"
    if high is not None:
        return f"{below} {Decimal(str(high)).normalize():f} {unit}"
    return None


def restrictions_in_words(restrictions: Mapping[str, Any] | None) -> str:
    """OCPI 2.2.1 §11.4.6 TariffRestrictions in words: "00:00–10:00", "Sat, Sun", "after
    60 min", "up to 50 kWh", "from 2025-01-01", "while reserved"; "" when there are none."""
    r = restrictions or {}
    words: list[str] = []
    start, end = r.get("start_time"), r.get("end_time")
    if start or end:
        words.append(f"{start or '00:00'}–{end or '24:00'}")
    if r.get("day_of_week"):
        words.append(_days(r["day_of_week"]))
    if r.get("start_date") or r.get("end_date"):
        dates = []
        if r.get("start_date"):
            dates.append(f"from {r['start_date']}")
        if r.get("end_date"):
            dates.append(f"before {r['end_date']}")
        words.append(" ".join(dates))
    low, high = r.get("min_duration"), r.get("max_duration")
    if low is not None and high is not None:
        words.append(f"from {_minutes(low)} to {_minutes(high)}")
    elif low is not None:
        words.append(f"after {_minutes(low)}")
    elif high is not None:
        words.append(f"for the first {_minutes(high)}")
    for text in (
        _range(r.get("min_kwh"), r.get("max_kwh"), "kWh", "after", "up to"),
        _range(r.get("min_power"), r.get("max_power"), "kW", "at least", "below"),
        _range(r.get("min_current"), r.get("max_current"), "A", "at least", "below"),
    ):
        if text is not None:
            words.append(text)
    if r.get("reservation") == "RESERVATION":
        words.append("while reserved")
    elif r.get("reservation") == "RESERVATION_EXPIRES":
        words.append("when a reservation expires")
    return ", ".join(words)


def tariff_elements_in_words(tariff: Mapping[str, Any]) -> str:
    """A whole Tariff (OCPI 2.2.1 §11.3.1) in words, element by element with its restrictions:
    "0.39 EUR/kWh 00:00–10:00; 0.69 EUR/kWh otherwise; 0.10 EUR/min after 60 min". An element
    without restrictions after a restricted one of the same dimension is what applies
    "otherwise" (the first element that matches wins, §11.3.1.1)."""
    currency = str(tariff.get("currency") or "")
    restricted: set[str] = set()
    parts: list[str] = []
    for element in tariff.get("elements") or []:
        components = element.get("price_components") or []
        kinds = {str(c.get("type")) for c in components}
        prices = " + ".join(_component(c, currency) for c in components)
        condition = restrictions_in_words(element.get("restrictions"))
        if condition:
            restricted |= kinds
            parts.append(f"{prices} {condition}")
        elif kinds & restricted:
            parts.append(f"{prices} otherwise")
        else:
            parts.append(prices)
    vats = {
        c.get("vat") for e in tariff.get("elements") or [] for c in e.get("price_components") or []
    }
    text = "; ".join(parts) if parts else "no price component"
    if len(vats) == 1 and None not in vats:
        text += f" (VAT {Decimal(str(next(iter(vats)))).normalize():f} %)"
    return text
