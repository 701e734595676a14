"""The mock CPO credits a CDR already sent (spec mod_cdrs "Credit CDRs"): the control API's
`POST /control/cdrs/{id}/credit` sends a credit CDR with a new id, `credit` true, the
original's id as `credit_reference_id` and only `total_cost` negated."""

from __future__ import annotations

from decimal import Decimal

from tests.cpo_mock.conftest import CPO, Federation
from tests.cpo_mock.test_sessions import plug, received_cdr, remote_start


async def charged_cdr(fed: Federation) -> str:
    await remote_start(fed, "AC1")
    await plug(fed, "AC1")
    await fed.step(600)
    await fed.emsp.stop_session("S000001", to=CPO)
    await fed.settle()
    return "C000001"


async def test_a_credit_cdr_negates_only_the_total_cost(fed: Federation) -> None:
    original = received_cdr(fed, await charged_cdr(fed))
    answer = await fed.control("POST", "/cdrs/C000001/credit")
    assert answer.status_code == 200, answer.text
    await fed.settle()
    credit = received_cdr(fed, "C000001-C")
    assert (credit.credit, credit.credit_reference_id) == (True, "C000001")
    assert original.total_cost.excl_vat > 0
    assert credit.total_cost.excl_vat == -original.total_cost.excl_vat
    assert original.total_cost.incl_vat is not None
    assert credit.total_cost.incl_vat == -original.total_cost.incl_vat
    same = {"id", "credit", "credit_reference_id", "total_cost", "last_updated"}
    assert credit.model_dump(exclude=same) == original.model_dump(exclude=same)
    assert fed.cpo.cdrs["C000001-C"].delivery == "delivered"
    assert received_cdr(fed, "C000001").total_cost == original.total_cost  # kept as it was


async def test_a_cdr_is_credited_once_and_a_credit_cdr_never(fed: Federation) -> None:
    await charged_cdr(fed)
    assert (await fed.control("POST", "/cdrs/C000001/credit")).status_code == 200
    again = await fed.control("POST", "/cdrs/C000001/credit")
    assert again.status_code == 409 and "credited already" in again.json()["error"]
    credit = await fed.control("POST", "/cdrs/C000001-C/credit")
    assert credit.status_code == 409 and "is a credit CDR" in credit.json()["error"]
    unknown = await fed.control("POST", "/cdrs/C999/credit")
    assert unknown.status_code == 404


async def test_a_credit_cdr_survives_a_restart(fed: Federation) -> None:
    await charged_cdr(fed)
    await fed.control("POST", "/cdrs/C000001/credit")
    await fed.restart_cpo()
    entry = fed.cpo.cdrs["C000001-C"]
    assert entry.cdr.credit and entry.cdr.total_cost.excl_vat < Decimal(0)
