"""How the suite words a price that disagrees with a tariff: what the tariff says, what it
gives, and the difference in the currency's minor unit (cents for EUR), so that a member can
find the fault from the message alone (`cpo.cdr_priced`, the `money.*` checks).
"""

from __future__ import annotations

from decimal import Decimal

from ocpi.pricing import minor_units
from ocpi.v221 import Price, Tariff, TariffDimensionType

_UNIT = {
    TariffDimensionType.FLAT: "per session",
    TariffDimensionType.ENERGY: "per kWh",
    TariffDimensionType.TIME: "per hour charging",
    TariffDimensionType.PARKING_TIME: "per hour parking",
}


def describe_tariff(tariff: Tariff) -> str:
    """'tariff T1 (EUR: 1.00 per session, 0.50 per kWh; restricted: 6.00 per hour parking)'."""
    plain: list[str] = []
    restricted: list[str] = []
    for element in tariff.elements:
        for component in element.price_components:
            text = f"{component.price} {_UNIT[component.type]}"
            if component.vat is not None:
                text += f" + {component.vat} % VAT"
            (restricted if element.restrictions else plain).append(text)
    parts = ", ".join(plain)
    if restricted:
        parts += ("; " if parts else "") + "restricted: " + ", ".join(restricted)
    limits = [
        f"{name} {value.excl_vat}"
        for name, value in (("min_price", tariff.min_price), ("max_price", tariff.max_price))
        if value is not None
    ]
    if limits:
        parts += "; " + ", ".join(limits)
    return f"tariff {tariff.id} ({tariff.currency}: {parts})"


def minor_difference(got: Decimal, expected: Decimal, currency: str) -> str:
    """'25 cents too high' (EUR and other two-decimal currencies), '3 minor units too low'."""
    places = minor_units(currency)
    units = (got - expected).scaleb(places)
    count = abs(units).normalize()
    word = "cent" if places == 2 else "minor unit"
    plural = "" if count == 1 else "s"
    direction = "too high" if units > 0 else "too low"
    return f"{count:f} {word}{plural} {direction}"


def price_gaps(
    got: Price, expected: Price, currency: str, tolerance: Decimal = Decimal(0)
) -> list[str]:
    """What differs between a stated price and the tariff's, beyond `tolerance` (an amount
    of the currency): 'excl. VAT 3.50 EUR, the tariff gives 2.50 EUR: 100 cents too high'."""
    gaps: list[str] = []
    pairs = [("excl. VAT", got.excl_vat, expected.excl_vat)]
    if got.incl_vat is not None and expected.incl_vat is not None:
        pairs.append(("incl. VAT", got.incl_vat, expected.incl_vat))
    for name, stated, wanted in pairs:
        if abs(stated - wanted) > tolerance:
            gaps.append(
                f"{name} {stated} {currency}, the tariff gives {wanted} {currency}: "
                + minor_difference(stated, wanted, currency)
            )
    return gaps
