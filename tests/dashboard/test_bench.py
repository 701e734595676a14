"""The map's smoothness benchmark (`python -m dashboard.bench`, issue 15) at a tiny size: it
runs end to end in Debian's headless Chromium and prints every figure. Its speed is measured
by the command (docs/dashboard.md), never asserted here."""

from __future__ import annotations

import json
import re

import pytest

from dashboard import bench
from dashboard.bench import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install chromium"
)


def test_the_benchmark_prints_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--stations", "200", "--seconds", "1", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    result = bench.Result(**figures)
    assert result.stations == 200
    assert result.evses == sum(len(hit["evses"]) for hit in bench.network(200))
    assert 30 * 200 < result.station_json_bytes < 80 * 200
    assert result.cores >= 1 and result.cpu and result.chromium
    assert result.dashboard_load_s > 0 and result.first_full_draw_ms > 0
    # The page was panned (one pointer move a frame) and drew the map as it moved.
    assert result.moves > 20 and result.draws > 20 and result.frames >= result.draws - 1
    assert 0 < result.draw_p50_ms <= result.draw_p95_ms
    assert 0 < result.frame_p50_ms <= result.frame_p95_ms <= result.frame_max_ms
    assert 0 < result.moving_p50_ms <= result.moving_p95_ms <= result.moving_max_ms
    assert result.long_tasks is not None and result.frames_over_50ms >= 0
    assert result.smooth == (result.moving_p95_ms <= result.threshold_p95_ms == 50)

    text = bench.report(result)
    for line in (
        rf"machine: {result.cores} cores, .+; Chromium {re.escape(result.chromium)}",
        r"stations: 200$",
        rf"EVSEs: {result.evses:,}$",
        rf"station JSON downloaded by the page: {result.station_json_bytes:,} bytes",
        rf"dashboard reading the stations from the app: {result.dashboard_load_s} s",
        rf"first full draw .*: {result.first_full_draw_ms} ms",
        rf"{result.moves} pointer moves, {result.frames} frames, {result.draws} map draws",
        rf"all frames: p50 {result.frame_p50_ms} ms, p95 {result.frame_p95_ms} ms, max ",
        rf"with a map draw: p50 {result.moving_p50_ms} ms, p95 {result.moving_p95_ms} ms",
        rf"frames over 50 ms: {result.frames_over_50ms}$",
        rf"long tasks \(over 50 ms\): {result.long_tasks}",
        r"smooth \(p95 of the frames with a map draw at most 50 ms\): (yes|NO)$",
    ):
        assert re.search(line, text, re.MULTILINE), (line, text)
