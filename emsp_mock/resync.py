"""Re-sync (spec: after an outage, pull; digest §5 phase 5.5): pull locations, tariffs,
sessions and CDRs from the hub's copies and converge (docs/emsp_mock.md, Re-sync).

A module pulled before is pulled incrementally: `date_from` = the mark of its last complete
pull (`objects.PullMark`). The first pull of a module, and every pull when `full`, is a
complete GET-all (Sessions: from the epoch, `date_from` being required there). Locations and
tariffs a complete pull lacks are gone (deleted here); a delta deletes nothing. Sessions are
replaced when newer; CDRs not seen yet are stored and invoiced. Nothing is applied, and no
mark moves, unless every page of every module came in; the marks are written last, after
what they cover.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emsp_mock import objects
from emsp_mock.link import HubLink
from emsp_mock.receivers import bill_cdr
from emsp_mock.search import key_of
from emsp_mock.shelf import location_text
from emsp_mock.state import Change, EmspState, PushWatch, object_key, stamp, utcnow
from ocpi.pagination import PageRequest
from ocpi.v221.cdrs import CDR
from ocpi.v221.locations import Location
from ocpi.v221.sessions import Session
from ocpi.v221.tariffs import Tariff
from ocpi.v221.types import format_datetime
from ocpi.v221.versions import ModuleID

log = logging.getLogger("emsp_mock")

PULLED: dict[ModuleID, type[Location | Tariff | Session | CDR]] = {
    ModuleID.LOCATIONS: Location,
    ModuleID.TARIFFS: Tariff,
    ModuleID.SESSIONS: Session,
    ModuleID.CDRS: CDR,
}
"""What a re-sync pulls from the hub, in this order."""
SESSIONS_FLOOR = datetime(1970, 1, 1, tzinfo=UTC)
"""`date_from` of a complete Sessions pull: the spec requires the parameter on that list only,
and the epoch asks for every session (our own start would miss those begun before it, and a
CPO's simulated clock may read a time long before it)."""


def mark_key(module: ModuleID) -> str:
    """Key of a module's pull mark in the eMSP's key/value table (no schema change needed)."""
    return f"pull_mark.{module.value}"


@dataclass
class _Pull:
    """One module's pull: asked from `since`, started at `started`, what came back."""

    since: datetime | None
    complete: bool
    started: datetime
    items: list[Any]

    def json(self, **counts: int) -> dict[str, Any]:
        when = format_datetime(self.since) if self.since is not None else None
        return {"date_from": when, "pulled": len(self.items), **counts}


class Resync:
    """Pulls from the hub, one re-sync at a time; keeps the pull marks and the last report."""

    def __init__(self, state: EmspState, link: HubLink) -> None:
        self.state = state
        self.link = link
        self.pull_marks: dict[ModuleID, objects.PullMark] = {}
        """Per pulled module, where its next incremental pull starts (none: pull it all)."""
        self.last_resync: dict[str, Any] | None = None
        self._running = asyncio.Lock()

    async def load(self) -> None:
        self.pull_marks = {}
        for module in PULLED:
            raw = await self.state.get_fact(mark_key(module))
            if not raw:
                continue
            try:
                self.pull_marks[module] = objects.PullMark.from_json(raw)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("pull mark of %s unreadable (%s): its next pull is full", module, exc)
        self.last_resync = await self.state.get_fact("last_resync")

    def pull_from(self, module: ModuleID, *, full: bool = False) -> datetime | None:
        """`date_from` of the next pull of `module`: the mark of its last complete pull, or
        (first sync, or `full`) none, except for Sessions where it is required."""
        mark = None if full else self.pull_marks.get(module)
        if mark is not None:
            return mark.date_from
        return SESSIONS_FLOOR if module is ModuleID.SESSIONS else None

    def next_marks(self) -> dict[str, str | None]:
        return {
            m.value: format_datetime(mark.date_from) if (mark := self.pull_marks.get(m)) else None
            for m in PULLED
        }

    async def run(self, *, full: bool = False) -> dict[str, Any]:
        """Pull everything (see the module's rules) and apply it; the report."""
        async with self._running:
            pulls: dict[ModuleID, _Pull] = {}
            # Pushes keep coming while we pull: what they change must not be undone by a
            # page read before they reached the hub (objects.sync_diff, `pushed`).
            self.state.watch = PushWatch()
            try:
                for module, model in PULLED.items():
                    since = self.pull_from(module, full=full)
                    started = utcnow()
                    items = await self.link.pull(module, model, PageRequest(date_from=since))
                    complete = full or module not in self.pull_marks
                    pulls[module] = _Pull(since, complete, started, items)
                async with self.state.changing() as change:
                    pushed, self.state.watch = self.state.watch, None
                    report = await self._apply(change, pulls, pushed or PushWatch())
                    await self._move_marks(change, pulls, report)
            finally:
                self.state.watch = None
            return report

    async def _apply(
        self, change: Change, pulls: dict[ModuleID, _Pull], pushed: PushWatch
    ) -> dict[str, Any]:
        state = self.state
        locations, tariffs = pulls[ModuleID.LOCATIONS], pulls[ModuleID.TARIFFS]
        # Compared as the texts they are kept as (no parse of what we hold): equal texts,
        # equal locations.
        pulled = {key_of(x): x for x in locations.items}
        loc_diff = objects.sync_diff(
            state.locations.stamped_texts(),
            {k: (x.last_updated, location_text(x)) for k, x in pulled.items()},
            complete=locations.complete,
            pushed=pushed.locations,
        )
        await change.locations({k: pulled[k] for k in loc_diff.upserts}, loc_diff.gone)
        tariff_diff = objects.sync_diff(
            {k: (v.last_updated, v) for k, v in state.tariffs.items()},
            {
                object_key(t.country_code, t.party_id, t.id): (t.last_updated, t)
                for t in tariffs.items
            },
            complete=tariffs.complete,
            pushed=pushed.tariffs,
        )
        await change.tariffs(tariff_diff.upserts, tariff_diff.gone)
        sessions: list[Session] = pulls[ModuleID.SESSIONS].items
        newer = [
            s
            for s in sessions
            if (known := state.sessions.get(object_key(s.country_code, s.party_id, s.id))) is None
            or s.last_updated > known.last_updated
        ]
        for session in newer:
            await change.put_session(session)
        new_cdrs = 0
        for cdr in pulls[ModuleID.CDRS].items:
            new_cdrs += int(await bill_cdr(change, cdr))
        return {
            "at": stamp(utcnow()),
            "full": all(p.complete for p in pulls.values()),
            "locations": locations.json(stored=len(loc_diff.upserts), gone=len(loc_diff.gone)),
            "tariffs": tariffs.json(stored=len(tariff_diff.upserts), gone=len(tariff_diff.gone)),
            "sessions": pulls[ModuleID.SESSIONS].json(stored=len(newer)),
            "cdrs": pulls[ModuleID.CDRS].json(new=new_cdrs),
        }

    async def _move_marks(
        self, change: Change, pulls: dict[ModuleID, _Pull], report: dict[str, Any]
    ) -> None:
        marks: dict[ModuleID, objects.PullMark] = {}
        for module, pull in pulls.items():
            previous = None if pull.complete else self.pull_marks.get(module)
            stamps = [item.last_updated for item in pull.items]
            mark = objects.next_mark(previous, pull.started, stamps)
            if mark is not None:
                marks[module] = mark
        facts: dict[str, Any] = {
            mark_key(m): marks[m].to_json() if m in marks else None for m in PULLED
        }
        facts["last_resync"] = report
        await change.set_facts(facts)
        self.pull_marks = marks
        self.last_resync = report
