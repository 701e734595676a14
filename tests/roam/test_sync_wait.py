"""`Federation.wait_synced` (the demo's and every scenario's "the federation came up"): a sync
that stops moving fails soon, naming which eMSP lacks what, instead of waiting out the whole
time limit (a CI run once waited 900 s for a location an eMSP had lost)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from roam.federation.runtime import DemoError, Federation


def federation(holdings: list[tuple[int, int]]) -> Federation:
    """A Federation whose eMSP counts follow `holdings` (then stay at the last)."""
    fed = Federation(
        spec=cast(Any, None),
        scale=1,
        folder=Path("."),
        hub_served=cast(Any, None),
        members=[],
        http=cast(Any, None),
        admins=[],
        launcher=cast(Any, None),
    )
    app = SimpleNamespace(spec=SimpleNamespace(emsp="NL/FNA"))
    polls = iter(holdings)
    last = holdings[0]

    async def _holdings() -> tuple[int, int, list[tuple[Any, int, int]]]:
        nonlocal last
        last = next(polls, last)
        return 3, 2, [(app, *last)]

    async def settle(rounds: int = 3) -> None:
        return None

    fed._holdings = _holdings  # type: ignore[method-assign]
    fed.settle = settle  # type: ignore[method-assign]
    return fed


async def test_a_stalled_sync_fails_naming_the_emsp_and_what_it_lacks() -> None:
    fed = federation([(2, 2)])
    began = time.perf_counter()
    with pytest.raises(DemoError) as raised:
        await fed.wait_synced(began, lambda line: None, within=10, stalled=0.5)
    assert str(raised.value) == (
        "sync: 2/3 locations, 2/2 tariffs no progress for 0.5 s; "
        "NL/FNA holds 2/3 locations, 2/2 tariffs"
    )
    assert time.perf_counter() - began < 10  # not the time limit


async def test_a_sync_that_keeps_moving_is_not_stalled() -> None:
    # One more location every poll (0.2 s apart), for longer than `stalled`: it finishes.
    fed = federation([(0, 2), (0, 2), (1, 2), (1, 2), (2, 2), (2, 2), (3, 2)])
    await fed.wait_synced(time.perf_counter(), lambda line: None, stalled=0.5)
