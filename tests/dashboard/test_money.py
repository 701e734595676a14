"""CDRs beside the eMSPs' invoices (dashboard/money.py), against stand-in answers of the CPOs'
control API and the eMSPs' app API: equal, a cent apart, not invoiced yet, not billed."""

from __future__ import annotations

from typing import Any

from dashboard.money import invoice_rows

MEMBERS = {"NL/FNC": "Fastned", "FR/ELA": "Electra"}


def _cdr(cdr_id: str, excl: float, incl: float, end: str = "2026-01-01T10:00Z") -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "FNC",
        "id": cdr_id,
        "session_id": f"S-{cdr_id}",
        "end_date_time": end,
        "currency": "EUR",
        "cdr_token": {"country_code": "FR", "party_id": "ELA", "uid": "APP-ELA-1"},
        "total_cost": {"excl_vat": excl, "incl_vat": incl},
    }


def _invoice(number: int, cdr_id: str, excl: float, incl: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": number,
        "cdr": {"country_code": "NL", "party_id": "FNC", "id": cdr_id},
        "status": "INVOICED",
        "currency": "EUR",
        "total": {"excl_vat": excl, "incl_vat": incl},
        **extra,
    }


def _by_cdr(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["cdr"]: row for row in table["rows"]}


def test_an_invoice_of_the_cdr_total_is_equal_and_a_cent_off_differs_by_that_cent() -> None:
    cdrs = [
        _cdr("C1", 16.20, 19.44, end="2026-01-01T10:00Z"),
        _cdr("C2", 10.00, 12.00, end="2026-01-01T11:00Z"),
        _cdr("C3", 5.00, 6.00, end="2026-01-01T09:00Z"),
    ]
    invoices = [
        _invoice(1, "C1", 16.20, 19.44),
        _invoice(2, "C2", 10.00, 12.01),
        _invoice(3, "C3", 4.99, 6.00),
    ]
    table = invoice_rows(cdrs, [], invoices, ["FR/ELA"], MEMBERS)
    rows = _by_cdr(table)
    assert [r["cdr"] for r in table["rows"]] == [
        "NL/FNC/C2",
        "NL/FNC/C1",
        "NL/FNC/C3",
    ]  # newest first
    equal = rows["NL/FNC/C1"]
    assert (equal["check"], equal["words"]) == ("equal", "equal")
    assert (equal["cpo"], equal["emsp"], equal["source"]) == ("Fastned", "Electra", "CPO")
    assert (equal["cdr_excl_vat"], equal["cdr_incl_vat"]) == ("16.20", "19.44")
    assert (equal["invoice"], equal["invoice_excl_vat"], equal["invoice_incl_vat"]) == (
        1,
        "16.20",
        "19.44",
    )
    off = rows["NL/FNC/C2"]
    assert off["check"] == "differs"
    assert off["words"] == "differs by +0.01 EUR incl. VAT"
    excl_off = rows["NL/FNC/C3"]
    assert (excl_off["check"], excl_off["words"]) == ("differs", "differs by -0.01 EUR excl. VAT")
    [total] = table["totals"]
    assert (total["cdrs"], total["cdr_excl_vat"], total["cdr_incl_vat"]) == (3, "31.20", "37.44")
    assert (total["invoiced"], total["invoice_excl_vat"], total["invoice_incl_vat"]) == (
        3,
        "31.19",
        "37.45",
    )
    assert total["words"] == "3 CDRs: 1 equal, 2 differs"


def test_a_cdr_without_invoice_says_so_and_only_when_its_emsps_invoices_were_read() -> None:
    cdrs = [_cdr("C1", 1.00, 1.20)]
    waiting = _by_cdr(invoice_rows(cdrs, [], [], ["FR/ELA"], MEMBERS))["NL/FNC/C1"]
    assert (waiting["check"], waiting["words"], waiting["invoice"]) == (
        "no invoice",
        "no invoice yet",
        None,
    )
    unread = _by_cdr(invoice_rows(cdrs, [], [], [], MEMBERS))["NL/FNC/C1"]
    assert unread["check"] == "not read" and "Electra" in unread["words"]


def test_an_invoice_in_review_is_not_billed_and_not_counted_as_invoiced() -> None:
    cdrs = [_cdr("C1", 1.00, 1.20)]
    invoices = [_invoice(7, "C1", 1.00, 1.20, status="REVIEW", reason="totals disagree")]
    table = invoice_rows(cdrs, [], invoices, ["FR/ELA"], MEMBERS)
    row = _by_cdr(table)["NL/FNC/C1"]
    assert (row["check"], row["words"]) == ("review", "not billed (REVIEW): totals disagree")
    assert table["totals"][0]["invoiced"] == 0


def test_the_cpos_copy_of_a_cdr_wins_and_the_emsps_fills_in_for_an_unlinked_cpo() -> None:
    cpo = [_cdr("C1", 1.00, 1.20)]
    emsp = [_cdr("C1", 9.99, 9.99), {**_cdr("C9", 2.00, 2.40), "party_id": "XYZ"}]
    rows = _by_cdr(invoice_rows(cpo, emsp, [], ["FR/ELA"], MEMBERS))
    assert rows["NL/FNC/C1"]["cdr_incl_vat"] == "1.20" and rows["NL/FNC/C1"]["source"] == "CPO"
    assert rows["NL/XYZ/C9"]["source"] == "eMSP" and rows["NL/XYZ/C9"]["cpo"] == "NL/XYZ"
