"""Why a tariff or a session cannot be priced: one exception family, one-line messages.

Issue 4's rule: a tariff that cannot be priced is refused with an error naming the problem,
never priced silently. `str(error)` is that one line (the CLI prints it as is).
"""

from __future__ import annotations

__all__ = ["PricingError", "QuoteError", "TariffError", "UsageError"]


class PricingError(ValueError):
    """The input cannot be priced; the message names the field and the problem."""


class TariffError(PricingError):
    """The tariff cannot be priced: no elements, a negative price, ENERGY under a reservation…"""


class UsageError(PricingError):
    """The session usage does not describe a session: end before start, unknown time zone…"""


class QuoteError(PricingError):
    """The planned session cannot happen on this connector (too much power, other tariff)."""
