"""CDRs and the eMSPs' invoices side by side (issue 15: invoices equal CDR totals): one row
per CDR with its total, the invoice made for it and a mark in words, plus totals per
currency. Pure: the live loop passes in what the CPOs' control API and the eMSPs' app API
answered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

ROWS_SHOWN = 100
"""The newest rows sent to the page; the totals count every CDR."""


def _amount(price: Any, key: str) -> Decimal | None:
    if not isinstance(price, dict) or price.get(key) is None:
        return None
    try:
        return Decimal(str(price[key]))
    except InvalidOperation:
        return None


def _key(country_code: Any, party_id: Any, object_id: Any) -> str:
    return f"{country_code}/{party_id}/{object_id}".upper()


def _money(value: Decimal | None) -> str | None:
    """Two decimals, as JSON text (exact: no float on the way to the page)."""
    return None if value is None else f"{value:.2f}"


def _difference(
    cdr_excl: Decimal | None,
    cdr_incl: Decimal | None,
    invoice_excl: Decimal | None,
    invoice_incl: Decimal | None,
) -> tuple[Decimal, Decimal]:
    """Invoice minus CDR, excl. and incl. VAT (a missing incl. VAT counts as excl.)."""
    cdr_in = cdr_incl if cdr_incl is not None else cdr_excl
    invoice_in = invoice_incl if invoice_incl is not None else invoice_excl
    return (
        (invoice_excl or Decimal(0)) - (cdr_excl or Decimal(0)),
        (invoice_in or Decimal(0)) - (cdr_in or Decimal(0)),
    )


def _differs_words(excl: Decimal, incl: Decimal, currency: str) -> str:
    parts = []
    if incl:
        parts.append(f"{incl:+.2f} {currency} incl. VAT")
    if excl:
        parts.append(f"{excl:+.2f} {currency} excl. VAT")
    return "differs by " + ", ".join(parts)


def invoice_rows(
    cpo_cdrs: Iterable[dict[str, Any]],
    emsp_cdrs: Iterable[dict[str, Any]],
    invoices: Iterable[dict[str, Any]],
    invoicing_parties: Iterable[str],
    member_of_party: Mapping[str, str],
) -> dict[str, Any]:
    """`cpo_cdrs`: OCPI CDRs as their CPOs built them (`GET /control/cdrs`); `emsp_cdrs`: as
    the eMSPs received them (`GET /app/cdrs`), used for a CDR no linked CPO holds;
    `invoices`: the eMSPs' invoices (`GET /app/invoices`); `invoicing_parties`: the eMSP
    parties ("CC/PID") whose invoices were read, so a CDR of another eMSP is not called
    uninvoiced. Each row's `check` is `equal`, `differs`, `review` (the eMSP did not bill
    it), `no invoice` (not yet) or `not read`; `words` says it, with the difference."""
    cdrs: dict[str, tuple[str, dict[str, Any]]] = {}
    for source, found in (("eMSP", emsp_cdrs), ("CPO", cpo_cdrs)):  # the CPO's copy wins
        for cdr in found:
            cdrs[_key(cdr.get("country_code"), cdr.get("party_id"), cdr.get("id"))] = (source, cdr)
    by_cdr: dict[str, dict[str, Any]] = {}
    for item in invoices:
        ref = item.get("cdr") or {}
        by_cdr[_key(ref.get("country_code"), ref.get("party_id"), ref.get("id"))] = item
    read = {party.upper() for party in invoicing_parties}

    rows: list[dict[str, Any]] = []
    totals: dict[str, dict[str, Any]] = {}
    for key, (source, cdr) in cdrs.items():
        token = cdr.get("cdr_token") or {}
        emsp_party = f"{token.get('country_code')}/{token.get('party_id')}".upper()
        cpo_party = f"{cdr.get('country_code')}/{cdr.get('party_id')}".upper()
        currency = str(cdr.get("currency") or "")
        cdr_excl = _amount(cdr.get("total_cost"), "excl_vat")
        cdr_incl = _amount(cdr.get("total_cost"), "incl_vat")
        invoice = by_cdr.get(key)
        row: dict[str, Any] = {
            "cdr": key,
            "session_id": cdr.get("session_id"),
            "end": cdr.get("end_date_time"),
            "source": source,
            "cpo": member_of_party.get(cpo_party, cpo_party),
            "emsp": member_of_party.get(emsp_party, emsp_party),
            "currency": currency,
            "cdr_excl_vat": _money(cdr_excl),
            "cdr_incl_vat": _money(cdr_incl),
            "invoice": None,
            "invoice_status": None,
            "invoice_currency": None,
            "invoice_excl_vat": None,
            "invoice_incl_vat": None,
        }
        total = totals.setdefault(
            currency,
            {
                "currency": currency,
                "cdrs": 0,
                "cdr_excl_vat": Decimal(0),
                "cdr_incl_vat": Decimal(0),
                "invoiced": 0,
                "invoice_excl_vat": Decimal(0),
                "invoice_incl_vat": Decimal(0),
                "equal": 0,
                "differs": 0,
                "review": 0,
                "no invoice": 0,
                "not read": 0,
            },
        )
        total["cdrs"] += 1
        total["cdr_excl_vat"] += cdr_excl or 0
        total["cdr_incl_vat"] += cdr_incl if cdr_incl is not None else cdr_excl or 0
        if invoice is None:
            check = "no invoice" if emsp_party in read else "not read"
            words = (
                "no invoice yet"
                if check == "no invoice"
                else f"invoices of {row['emsp']} not read (no app link, or it did not answer)"
            )
        else:
            status = str(invoice.get("status") or "")
            invoice_excl = _amount(invoice.get("total"), "excl_vat")
            invoice_incl = _amount(invoice.get("total"), "incl_vat")
            invoice_currency = str(invoice.get("currency") or "")
            row.update(
                invoice=invoice.get("id"),
                invoice_status=status,
                invoice_currency=invoice_currency,
                invoice_excl_vat=_money(invoice_excl),
                invoice_incl_vat=_money(invoice_incl),
            )
            excl, incl = _difference(cdr_excl, cdr_incl, invoice_excl, invoice_incl)
            if status != "INVOICED":
                check = "review"
                reason = invoice.get("reason") or "no reason given"
                words = f"not billed ({status or 'no status'}): {reason}"
            elif invoice_currency != currency:
                check = "differs"
                words = f"differs: invoice in {invoice_currency}, CDR in {currency}"
            elif excl or incl:
                check = "differs"
                words = _differs_words(excl, incl, currency)
            else:
                check = "equal"
                words = "equal"
            if status == "INVOICED" and invoice_currency == currency:
                total["invoiced"] += 1
                total["invoice_excl_vat"] += invoice_excl or 0
                total["invoice_incl_vat"] += (
                    invoice_incl if invoice_incl is not None else invoice_excl or 0
                )
        total[check] += 1
        row["check"] = check
        row["words"] = words
        rows.append(row)

    rows.sort(key=lambda r: (str(r["end"] or ""), r["cdr"]), reverse=True)
    return {
        "rows": rows[:ROWS_SHOWN],
        "count": len(rows),
        "totals": [_totals_json(totals[c]) for c in sorted(totals)],
    }


def _totals_json(total: dict[str, Any]) -> dict[str, Any]:
    """One currency's line: the sums, how many rows of each check, and the words."""
    counts = [
        f"{total[check]} {check}"
        for check in ("equal", "differs", "review", "no invoice", "not read")
        if total[check]
    ]
    return {
        **{k: _money(v) if isinstance(v, Decimal) else v for k, v in total.items()},
        "words": (
            f"{total['cdrs']} CDR{'s' if total['cdrs'] != 1 else ''}: " + ", ".join(counts)
            if counts
            else "no CDR"
        ),
    }
