"""Re-sync after an outage: the eMSP is away while locations change, comes back, and converges
by a complete paginated GET-all on the hub; what the complete pull lacks is gone."""

from __future__ import annotations

from emsp_mock.search import MapQuery
from tests.cpo_mock.conftest import location
from tests.emsp_mock.conftest import Federation


async def test_offline_emsp_converges_by_pulling_from_the_hub(fed: Federation) -> None:
    ghost = location("GHOST")  # held by the eMSP, no longer in the federation
    await fed.emsp.store_location(ghost)
    await fed.emsp.stop()
    fed.network.down.add("emsp.test")
    assert (await fed.control("POST", "/evses/LOC1/AC1/plug", {})).status_code == 200
    assert (await fed.control("POST", "/evses/LOC2/PLAIN/remove")).status_code == 200
    await fed.settle()

    fed.network.down.discard("emsp.test")
    await fed.restart_emsp()  # resync_on_start: pulls locations, tariffs, sessions, CDRs

    emsp = fed.emsp
    report = emsp.last_resync
    assert report is not None
    assert report["locations"] == {"pulled": 2, "stored": 2, "gone": 1}
    assert emsp.location("DE", "CPB", "GHOST") is None
    loc1, loc2 = emsp.location("DE", "CPB", "LOC1"), emsp.location("DE", "CPB", "LOC2")
    assert loc1 is not None and loc2 is not None
    assert {e.uid: e.status.value for e in loc1.evses or []}["AC1"] == "BLOCKED"
    assert {e.uid: e.status.value for e in loc2.evses or []}["PLAIN"] == "REMOVED"
    assert loc1 == fed.cpo.locations["LOC1"] and loc2 == fed.cpo.locations["LOC2"]
    hits = emsp.search(MapQuery(latitude=52.52, longitude=13.40, limit=10))
    assert [h.location.id for h in hits] == ["LOC1", "LOC2"]
    # The database agrees: a second restart needs nothing new from the hub.
    await fed.restart_emsp()
    assert fed.emsp.last_resync is not None
    assert fed.emsp.last_resync["locations"] == {"pulled": 2, "stored": 0, "gone": 0}
