"""OCPI 2.2.1 pricing: an exact tariff engine shared by the CPO, the eMSP and the hub.

`price_session(tariff, usage)` prices a session (spec mod_tariffs and mod_cdrs); the result
gives the CDR's cost fields and charging periods. `quote(tariff, connector, plan, time_zone)`
tells a driver beforehand what a planned session will cost. docs/pricing.md explains the
algorithm and the rounding rule. Pure code: no I/O, no web framework, no database.
"""

from ocpi.pricing.engine import price_session
from ocpi.pricing.errors import PricingError, QuoteError, TariffError, UsageError
from ocpi.pricing.money import Amount, minor_units, round_money
from ocpi.pricing.quote import PlannedSession, Quote, QuoteItem, planned_usage, quote
from ocpi.pricing.result import (
    CdrPricing,
    CostCategory,
    CostLine,
    PricedPeriod,
    PricedSession,
    PriceLimit,
)
from ocpi.pricing.usage import SessionUsage, UsagePeriod, UsageState
from ocpi.pricing.validation import compile_tariff

__all__ = [
    "Amount",
    "CdrPricing",
    "CostCategory",
    "CostLine",
    "PlannedSession",
    "PriceLimit",
    "PricedPeriod",
    "PricedSession",
    "PricingError",
    "Quote",
    "QuoteError",
    "QuoteItem",
    "SessionUsage",
    "TariffError",
    "UsageError",
    "UsagePeriod",
    "UsageState",
    "compile_tariff",
    "minor_units",
    "planned_usage",
    "price_session",
    "quote",
    "round_money",
]
