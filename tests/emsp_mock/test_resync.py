"""Re-sync after an outage: the eMSP is away while locations change, comes back, and converges
by pulling from the hub. The first sync is a complete paginated GET-all, and what it lacks is
gone; later ones pull only what changed since the last complete pull (`date_from`), even
though the CPO's simulated clock reads a time long before the eMSP's real one."""

from __future__ import annotations

from typing import Any

import pytest

from emsp_mock.search import MapQuery
from ocpi.pagination import PageRequest
from ocpi.v221.versions import ModuleID
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


async def test_a_push_during_a_complete_pull_is_not_undone_by_the_older_pull(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pull's pages were read before a Location PUT reached the hub (or on a hub instance
    that had not seen it yet), and the PUT reached us while the pull was under way: the
    pushed location stays, though the complete pull lacks it, and a pushed tariff deletion
    is not undone by the pull's older copy of the tariff."""
    emsp = fed.emsp
    first = await emsp.resync(full=True)
    assert first["full"] is True and emsp.tariffs
    tariff_key = next(iter(emsp.tariffs))
    pull = emsp.syncer.link.pull
    late = location("LATE")

    async def pull_then_pushes(module: ModuleID, model: Any, page: PageRequest) -> list[Any]:
        items = await pull(module, model, page)
        if module is ModuleID.LOCATIONS:  # the snapshot is taken; the pushes come in now
            await emsp.store_location(late)
            assert await emsp.receivers.delete_tariff(tariff_key)
        return items

    monkeypatch.setattr(emsp.syncer.link, "pull", pull_then_pushes)
    report = await emsp.resync(full=True)

    assert report["locations"]["gone"] == 0 and report["tariffs"]["stored"] == 0
    assert emsp.location("DE", "CPB", "LATE") == late
    assert tariff_key not in emsp.tariffs
    # A pull after the pushes, with no push meanwhile, judges by the hub's word again.
    monkeypatch.setattr(emsp.syncer.link, "pull", pull)
    again = await emsp.resync(full=True)
    assert again["locations"]["gone"] == 1 and emsp.location("DE", "CPB", "LATE") is None
    assert tariff_key in emsp.tariffs
