"""Invoicing a CDR, pure: re-price the session actually delivered and compare with the CDR.

Spec mod_cdrs: the CDR's `total_cost` is what the eMSP owes the CPO; the alliance promise is
that the driver pays exactly that, with no added fee. Before billing, the eMSP prices the
session the CDR describes (its charging periods: start times, ENERGY, TIME, PARKING_TIME,
RESERVATION_TIME) against the tariff the CDR names (`tariffs`, else the stored tariff of the
periods' `tariff_id`) with the shared engine (ocpi.pricing). Equal totals -> INVOICED at the
CDR total; any difference, or a session that cannot be priced -> REVIEW, not billed. A credit
CDR that refunds exactly what the driver paid for the CDR it credits is INVOICED with its
negative total (the refund); any other credit CDR -> REVIEW.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ocpi.pricing import PricedSession, PricingError
from ocpi.pricing import price_session as engine_price
from ocpi.pricing.cdr import cdr_tariff, usage_from_cdr
from ocpi.v221.cdrs import CDR
from ocpi.v221.tariffs import Tariff
from ocpi.v221.types import Price

HOUR_SECONDS = Decimal(3600)


class InvoiceStatus(StrEnum):
    INVOICED = "INVOICED"
    """Billed to the driver: exactly the CDR's total_cost."""
    REVIEW = "REVIEW"
    """Not billed: the CDR disagrees with the re-priced session, or cannot be checked."""


@dataclass(frozen=True)
class InvoiceDraft:
    """What the check decided; the service stores it with the CDR in one transaction."""

    status: InvoiceStatus
    currency: str
    total: Price
    """The CDR's total_cost: what the driver pays (when INVOICED)."""
    expected: Price | None
    """The re-priced session's total (None when it could not be priced)."""
    tariff_id: str | None
    lines: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "currency": self.currency,
            "total": self.total.to_json(),
            "expected": None if self.expected is None else self.expected.to_json(),
            "tariff_id": self.tariff_id,
            "lines": self.lines,
            "reason": self.reason,
        }


def invoice_lines(priced: PricedSession) -> list[dict[str, Any]]:
    """One line per price component used, plus the min/max price adjustment if any."""
    lines = [line.to_json(priced.currency) for line in priced.lines]
    if priced.excl_vat_limit is not None or priced.incl_vat_limit is not None:
        difference = priced.total - priced.subtotal
        lines.append(
            {
                "category": "PRICE_LIMIT",
                "dimension": None,
                "cost": difference.rounded(priced.currency).to_json(),
            }
        )
    return lines


def check_credit(credit: CDR, original: CDR | None, original_status: str | None) -> InvoiceDraft:
    """Decide the invoice of a credit CDR (spec mod_cdrs "Credit CDRs": the original's data,
    only `total_cost` negated): a refund of exactly what the driver paid for the original is
    INVOICED (a negative total: the driver gets it back); anything else is REVIEW."""
    total = credit.total_cost
    reference = credit.credit_reference_id
    problems: list[str] = []
    if original is None:
        problems.append(f"the credited CDR {reference} is not known here")
    elif original.credit:
        problems.append(f"CDR {reference} is itself a credit CDR")
    else:
        if original_status != InvoiceStatus.INVOICED.value:
            problems.append(
                f"CDR {reference} was not billed ({original_status}): nothing to refund"
            )
        if credit.currency != original.currency:
            problems.append(
                f"currency {credit.currency}, CDR {reference} is in {original.currency}"
            )
        paid = original.total_cost
        if total.excl_vat != -paid.excl_vat:
            problems.append(f"excl. VAT {total.excl_vat} but CDR {reference} cost {paid.excl_vat}")
        if paid.incl_vat is not None and total.incl_vat != -paid.incl_vat:
            problems.append(f"incl. VAT {total.incl_vat} but CDR {reference} cost {paid.incl_vat}")
    if problems:
        return InvoiceDraft(
            InvoiceStatus.REVIEW,
            credit.currency,
            total,
            None,
            None,
            reason=f"credit CDR for {reference}: " + "; ".join(problems),
        )
    assert original is not None
    tariff_ids = sorted({p.tariff_id for p in original.charging_periods if p.tariff_id})
    return InvoiceDraft(
        InvoiceStatus.INVOICED,
        credit.currency,
        total,
        total,
        tariff_ids[0] if tariff_ids else None,
        reason=f"refund of CDR {reference}",
    )


def check_cdr(cdr: CDR, stored_tariffs: Mapping[str, Tariff], time_zone: str) -> InvoiceDraft:
    """Decide the invoice of a CDR that is not a credit (never raises: a CDR that cannot be
    checked is REVIEW)."""
    total = cdr.total_cost
    try:
        tariff = cdr_tariff(cdr, stored_tariffs)
        priced = engine_price(tariff, usage_from_cdr(cdr, time_zone))
    except PricingError as exc:
        return InvoiceDraft(
            InvoiceStatus.REVIEW,
            cdr.currency,
            total,
            None,
            None,
            reason=f"the delivered session cannot be re-priced: {exc}",
        )
    expected = priced.total.rounded(priced.currency)
    lines = invoice_lines(priced)
    problems: list[str] = []
    if priced.currency != cdr.currency:
        problems.append(f"currency {cdr.currency} but tariff {tariff.id} is in {priced.currency}")
    if expected.excl_vat != total.excl_vat:
        problems.append(f"excl. VAT {total.excl_vat} but the session costs {expected.excl_vat}")
    if total.incl_vat is not None and expected.incl_vat != total.incl_vat:
        problems.append(f"incl. VAT {total.incl_vat} but the session costs {expected.incl_vat}")
    if problems:
        return InvoiceDraft(
            InvoiceStatus.REVIEW,
            cdr.currency,
            total,
            expected,
            tariff.id,
            lines,
            reason="CDR total disagrees with the delivered session: " + "; ".join(problems),
        )
    return InvoiceDraft(InvoiceStatus.INVOICED, cdr.currency, total, expected, tariff.id, lines)


def session_started(cdr: CDR) -> datetime:
    return min((p.start_date_time for p in cdr.charging_periods), default=cdr.start_date_time)


def tariff_for_connector(
    tariff_ids: Sequence[str], tariffs: Mapping[str, Tariff], at: datetime
) -> Tariff | None:
    """The connector's tariff in force at `at`: REGULAR or untyped preferred (spec: at most one
    active tariff per type; a driver without preferences gets the regular one)."""
    valid = [
        t
        for t in (tariffs.get(i) for i in tariff_ids)
        if t is not None
        and (t.start_date_time is None or t.start_date_time <= at)
        and (t.end_date_time is None or at < t.end_date_time)
    ]
    regular = [t for t in valid if t.type is None or t.type.value == "REGULAR"]
    chosen = regular or valid
    return chosen[0] if chosen else None
