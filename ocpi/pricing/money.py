"""Money: exact amounts excl./incl. VAT inside, and the one rounding rule applied at the edges.

Rounding rule (the spec leaves it to law and contract): every amount is kept at full precision
while pricing; only output fields are rounded, to the currency's minor unit, half-up (away from
zero on a tie). docs/pricing.md gives the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ocpi.v221.types import Price

__all__ = ["Amount", "minor_units", "round_money"]

# ISO 4217 currencies whose minor unit is not 1/100. Everything else rounds to 2 decimals.
_MINOR_UNITS: dict[str, int] = {
    "BHD": 3,
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "RWF": 0,
    "TND": 3,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}
DEFAULT_MINOR_UNITS = 2


def minor_units(currency: str) -> int:
    """Decimals of the currency's minor unit (EUR 2, JPY 0, KWD 3; unknown codes 2)."""
    return _MINOR_UNITS.get(currency.upper(), DEFAULT_MINOR_UNITS)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half-up: 5.625 EUR → 5.63, 12.375 → 12.38."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Amount:
    """An exact cost: excl. VAT and incl. VAT, both at full precision."""

    excl_vat: Decimal
    incl_vat: Decimal

    @classmethod
    def zero(cls) -> Amount:
        return cls(Decimal(0), Decimal(0))

    @classmethod
    def with_vat(cls, excl_vat: Decimal, vat: Decimal | None) -> Amount:
        """Spec PriceComponent.vat: a percentage; absent means no VAT applies (incl = excl)."""
        if vat is None:
            return cls(excl_vat, excl_vat)
        return cls(excl_vat, excl_vat + excl_vat * vat / 100)

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.excl_vat + other.excl_vat, self.incl_vat + other.incl_vat)

    def __sub__(self, other: Amount) -> Amount:
        return Amount(self.excl_vat - other.excl_vat, self.incl_vat - other.incl_vat)

    def rounded(self, currency: str) -> Price:
        """The wire Price, rounded to the currency's minor unit (the edge of the engine)."""
        return Price(
            excl_vat=round_money(self.excl_vat, currency),
            incl_vat=round_money(self.incl_vat, currency),
        )
