"""Settlement: what each eMSP owes each CPO for a period, from the CDRs the hub routed.

One line per (eMSP, CPO, currency): number of CDRs and the sums of `total_cost` excl. and
incl. VAT. A CDR belongs to the period in which it ended (`end_date_time`, from inclusive,
to exclusive). Credit CDRs carry negative amounts and so reduce the sums. Where a CDR has no
`incl_vat` (VAT unknown or not applicable) its excl. VAT amount counts for both columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from hub.copies import Copy
from ocpi.headers import PartyRef
from ocpi.v221.types import parse_datetime


@dataclass
class SettlementLine:
    emsp: PartyRef
    cpo: PartyRef
    currency: str
    cdr_count: int
    excl_vat: Decimal
    incl_vat: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "emsp": str(self.emsp),
            "cpo": str(self.cpo),
            "currency": self.currency,
            "cdr_count": self.cdr_count,
            "excl_vat": str(self.excl_vat),
            "incl_vat": str(self.incl_vat),
        }


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def settle(
    cdrs: Iterable[Copy], since: datetime | None = None, until: datetime | None = None
) -> list[SettlementLine]:
    lines: dict[tuple[PartyRef, PartyRef, str], SettlementLine] = {}
    for cdr in cdrs:
        body = cdr.body
        try:
            ended = parse_datetime(str(body.get("end_date_time")))
            token = body["cdr_token"]
            emsp = PartyRef(str(token["country_code"]), str(token["party_id"]))
        except (ValueError, KeyError, TypeError):
            continue  # not a settleable CDR (the receiver accepted it; we only skip it here)
        if (since is not None and ended < since) or (until is not None and ended >= until):
            continue
        total = body.get("total_cost") or {}
        excl = _amount(total.get("excl_vat"))
        if excl is None:
            continue
        incl = _amount(total.get("incl_vat"))
        currency = str(body.get("currency", ""))
        key = (emsp, cdr.owner, currency)
        line = lines.get(key) or SettlementLine(
            emsp, cdr.owner, currency, 0, Decimal(0), Decimal(0)
        )
        line.cdr_count += 1
        line.excl_vat += excl
        line.incl_vat += incl if incl is not None else excl
        lines[key] = line
    return sorted(lines.values(), key=lambda line: (str(line.emsp), str(line.cpo), line.currency))


def to_csv(lines: Iterable[SettlementLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["emsp", "cpo", "currency", "cdr_count", "excl_vat", "incl_vat"])
    for line in lines:
        row = line.to_json()
        writer.writerow(
            [row[k] for k in ("emsp", "cpo", "currency", "cdr_count", "excl_vat", "incl_vat")]
        )
    return out.getvalue()
