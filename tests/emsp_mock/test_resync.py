"""Re-sync after an outage: the eMSP is away while locations change, comes back, and converges
by pulling from the hub. The first sync is a complete paginated GET-all, and what it lacks is
gone; later ones pull only what changed since the last complete pull (`date_from`), even
though the CPO's simulated clock reads a time long before the eMSP's real one."""

from __future__ import annotations

from emsp_mock.search import MapQuery
from tests.cpo_mock.conftest import location
from tests.emsp_mock.conftest import Federation

T0 = "2025-03-03T08:00:00Z"
"""Where the CPO's stepped clock starts (tests/cpo_mock/conftest.py)."""


async def test_offline_emsp_converges_by_pulling_from_the_hub(fed: Federation) -> None:
    ghost = location("GHOST")  # held by the eMSP, no longer in the federation
    await fed.emsp.store_location(ghost)
    await fed.emsp.stop()
    fed.network.down.add("emsp.test")
    assert (await fed.control("POST", "/evses/LOC1/AC1/plug", {})).status_code == 200
    assert (await fed.control("POST", "/evses/LOC2/PLAIN/remove")).status_code == 200
    await fed.settle()

    fed.network.down.discard("emsp.test")
    await fed.restart_emsp()  # resync_on_start: the first sync pulls everything

    emsp = fed.emsp
    report = emsp.last_resync
    assert report is not None and report["full"] is True
    assert report["locations"] == {"date_from": None, "pulled": 2, "stored": 2, "gone": 1}
    assert report["sessions"]["date_from"] == "1970-01-01T00:00:00Z"
    assert emsp.location("DE", "CPB", "GHOST") is None
    loc1, loc2 = emsp.location("DE", "CPB", "LOC1"), emsp.location("DE", "CPB", "LOC2")
    assert loc1 is not None and loc2 is not None
    assert {e.uid: e.status.value for e in loc1.evses or []}["AC1"] == "BLOCKED"
    assert {e.uid: e.status.value for e in loc2.evses or []}["PLAIN"] == "REMOVED"
    assert loc1 == fed.cpo.locations["LOC1"] and loc2 == fed.cpo.locations["LOC2"]
    hits = emsp.search(MapQuery(latitude=52.52, longitude=13.40, limit=10))
    assert [h.location.id for h in hits] == ["LOC1", "LOC2"]
    # The database agrees: a second restart pulls a delta that changes nothing.
    await fed.restart_emsp()
    again = fed.emsp.last_resync
    assert again is not None and again["full"] is False
    assert again["locations"] == {"date_from": T0, "pulled": 2, "stored": 0, "gone": 0}


async def test_back_from_an_outage_it_pulls_what_changed_since_its_last_pull(
    fed: Federation,
) -> None:
    first = await fed.emsp.resync()
    assert first["full"] is True
    await fed.emsp.stop()
    fed.network.down.add("emsp.test")
    await fed.step(600)
    assert (await fed.control("POST", "/evses/LOC1/AC1/plug", {})).status_code == 200
    await fed.settle()

    fed.network.down.discard("emsp.test")
    await fed.restart_emsp()
    report = fed.emsp.last_resync
    assert report is not None and report["full"] is False
    # The newest stamp of the last complete pull, not its start on the eMSP's (real) clock:
    # the CPO's clock lags it, and its change at 08:10 would be filtered out.
    assert report["locations"] == {"date_from": T0, "pulled": 2, "stored": 1, "gone": 0}
    loc1 = fed.emsp.location("DE", "CPB", "LOC1")
    assert loc1 is not None and loc1 == fed.cpo.locations["LOC1"]
    assert {e.uid: e.status.value for e in loc1.evses or []}["AC1"] == "BLOCKED"
