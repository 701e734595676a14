"""How smooth the dashboard's map is at scale (issue 15, docs/dashboard.md): the dashboard served
against a stand-in hub and members with N generated stations, Debian's headless Chromium
panning and zooming the map while the page measures its frame times. A command, never a test:

    python -m dashboard.bench [--stations 17000] [--seconds 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import signal
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dashboard.app import create_app
from dashboard.config import DashboardConfig, MemberLink
from dashboard.server import start_app

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium (`apt-get install chromium`); Playwright's own browsers are never
downloaded. The browser tests use the same executable and arguments."""
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTH, HEIGHT = 1280, 800
SMOOTH_P95_MS = 50.0
"""The page counts as smooth when 95 % of the frames in which it drew the map while being
panned and zoomed took at most this long (20 frames a second or better; 60 Hz is 16.7 ms)."""
SLOW_FRAME_MS = 50.0
MEMBERS: tuple[tuple[str, str, str, str], ...] = (
    ("Alpha", "NL", "AAA", "AAE"),
    ("Bravo", "DE", "BBB", "BBE"),
    ("Charlie", "FR", "CCC", "CCE"),
    ("Delta", "IT", "DDD", "DDE"),
)
# Where stations gather: (latitude, longitude, spread in degrees, weight), inside the page's
# first view (longitude -11..32, latitude 35..66), so that the first draw shows every one.
CITIES = (
    (52.37, 4.90, 0.8, 5), (51.92, 4.48, 0.5, 3), (52.52, 13.40, 0.8, 4), (53.55, 9.99, 0.6, 3),
    (48.14, 11.58, 0.8, 4), (50.11, 8.68, 0.7, 4), (51.23, 6.78, 0.6, 5), (48.78, 9.18, 0.6, 3),
    (48.86, 2.35, 0.9, 6), (45.76, 4.84, 0.7, 3), (43.30, 5.37, 0.6, 2), (44.84, -0.58, 0.6, 2),
    (47.22, -1.55, 0.6, 2), (50.85, 4.35, 0.6, 3), (51.51, -0.13, 0.9, 6), (53.48, -2.24, 0.6, 3),
    (55.95, -3.19, 0.5, 1), (53.35, -6.26, 0.5, 1), (45.46, 9.19, 0.8, 4), (41.90, 12.50, 0.7, 3),
    (40.85, 14.27, 0.5, 1), (40.42, -3.70, 0.8, 3), (41.39, 2.17, 0.6, 3), (38.72, -9.14, 0.5, 1),
    (47.38, 8.54, 0.5, 2), (48.21, 16.37, 0.6, 2), (50.08, 14.44, 0.6, 2), (52.23, 21.01, 0.7, 2),
    (59.33, 18.07, 0.7, 2), (59.91, 10.75, 0.6, 2), (55.68, 12.57, 0.5, 2), (60.17, 24.94, 0.5, 1),
    (47.50, 19.04, 0.5, 1), (44.43, 26.10, 0.5, 1), (37.98, 23.73, 0.4, 1), (56.95, 24.11, 0.4, 1),
)  # fmt: skip
STATUS_POLL_CHURN = 20
"""Stations whose busy EVSE moves on each status poll (the dashboard polls every 0.5 s), so
the page also applies live changes while it is measured."""


def network(stations: int, seed: int = 1) -> list[dict[str, Any]]:
    """`stations` locations as an eMSP's `GET /app/map` lists them (emsp_mock `hit_json`),
    2 to 10 EVSEs each (6 on average), spread over the members and Europe's cities."""
    rng = random.Random(seed)
    weights = [city[3] for city in CITIES]
    hits = []
    for i in range(stations):
        name, country, cpo, _ = MEMBERS[i % len(MEMBERS)]
        lat0, lon0, spread, _ = rng.choices(CITIES, weights)[0]
        lat = min(65.5, max(35.5, rng.gauss(lat0, spread)))
        lon = min(31.5, max(-10.5, rng.gauss(lon0, spread * 1.4)))
        evses = []
        for e in range(rng.choice((2, 4, 6, 8, 10))):
            dc = e % 2 == 0
            evses.append(
                {
                    "uid": f"E{i}-{e}",
                    "evse_id": f"{country}*{cpo}*E{i}*{e}",
                    "status": "AVAILABLE",
                    "capabilities": ["REMOTE_START_STOP_CAPABLE"],
                    "connectors": [
                        {
                            "id": "1",
                            "standard": "IEC_62196_T2_COMBO" if dc else "IEC_62196_T2",
                            "power_type": "DC" if dc else "AC_3_PHASE",
                            "max_power_kw": 150.0 if dc else 22.0,
                            "tariff_ids": ["T1"],
                        }
                    ],
                }
            )
        hits.append(
            {
                "country_code": country,
                "party_id": cpo,
                "id": f"L{i:06d}",
                "name": f"{name} station {i}",
                "address": f"Street {i}",
                "city": "City",
                "country": country,
                "coordinates": {"latitude": f"{lat:.6f}", "longitude": f"{lon:.6f}"},
                "operator": name,
                "time_zone": "Europe/Brussels",
                "distance_km": None,
                "evses": evses,
            }
        )
    return hits


def stand_in(hits: list[dict[str, Any]]) -> Starlette:
    """The calls the dashboard makes (dashboard/sources.py), answered from `hits`: the hub's
    admin API (`/admin/parties|messages|settlement`) and per member `m` a CPO's control API
    (`/m/{m}/control/state|sessions|cdrs`) and an eMSP's app API
    (`/m/{m}/app/state|map|cdrs|invoices`; no session, CDR or invoice). About
    one station in 25 has an EVSE charging; STATUS_POLL_CHURN of them move on each poll."""
    everything = json.dumps({"locations": hits}).encode()
    polls = 0

    def envelope(data: Any) -> JSONResponse:
        return JSONResponse(
            {"status_code": 1000, "data": data, "timestamp": "2026-01-01T00:00:00Z"}
        )

    async def parties(request: Request) -> Response:
        rows = []
        for _, country, cpo, emsp in MEMBERS:
            for party, role in ((cpo, "CPO"), (emsp, "EMSP")):
                rows.append(
                    {
                        "country_code": country,
                        "party_id": party,
                        "role": role,
                        "status": "CONNECTED",
                    }
                )
        return envelope(rows)

    async def empty(request: Request) -> Response:
        return envelope([])

    def member(request: Request) -> tuple[str, str, str, str] | None:
        index = int(request.path_params["m"])
        return MEMBERS[index] if 0 <= index < len(MEMBERS) else None

    async def state(request: Request) -> Response:
        found = member(request)
        if found is None:
            return JSONResponse({"error": "no such member"}, 404)
        _, country, cpo, emsp = found
        party = cpo if request.path_params["api"] == "control" else emsp
        return JSONResponse({"party": f"{country}/{party}"})

    async def nothing(request: Request) -> Response:
        return JSONResponse([])

    async def app_map(request: Request) -> Response:
        nonlocal polls
        if "status" not in request.query_params:
            return Response(everything, media_type="application/json")
        polls += 1
        busy = []
        for i in range(polls * STATUS_POLL_CHURN, len(hits), 25):
            hit = hits[i]
            evse = {**hit["evses"][0], "status": "CHARGING"}
            busy.append({**hit, "evses": [evse]})
        return JSONResponse({"locations": busy})

    return Starlette(
        routes=[
            Route("/admin/parties", parties),
            Route("/admin/messages", empty),
            Route("/admin/settlement", empty),
            Route("/m/{m}/{api:str}/state", state),
            Route("/m/{m}/control/sessions", nothing),
            Route("/m/{m}/control/cdrs", nothing),
            Route("/m/{m}/app/map", app_map),
            Route("/m/{m}/app/cdrs", nothing),
            Route("/m/{m}/app/invoices", nothing),
        ]
    )


@dataclass
class Result:
    cores: int
    cpu: str
    chromium: str
    stations: int
    evses: int
    station_json_bytes: int
    """The body of the page's `api/stations` (what the page downloaded for the map)."""
    dashboard_load_s: float
    """From the dashboard's start until its `api/stations` lists every station (the
    dashboard reading the app's map: not the page)."""
    first_full_draw_ms: float
    """From the page's navigation until its map has drawn every station."""
    seconds: float
    moves: int
    """Pointer moves made while panning (one a frame)."""
    draws: int
    """Map draws while panning and zooming (each a full draw of the canvas)."""
    draw_p50_ms: float
    draw_p95_ms: float
    """The map's draw() itself (JavaScript time; the browser's painting of it comes after)."""
    frames: int
    frame_p50_ms: float
    frame_p95_ms: float
    frame_max_ms: float
    """Every frame while panning and zooming (requestAnimationFrame intervals)."""
    moving_p50_ms: float
    moving_p95_ms: float
    moving_max_ms: float
    """Only the frames in which the map was drawn: what a hand dragging the map sees."""
    frames_over_50ms: int
    long_tasks: int | None
    """Main-thread tasks over 50 ms (PerformanceObserver `longtask`); None if unsupported."""
    long_task_max_ms: float | None
    threshold_p95_ms: float
    smooth: bool


def machine() -> tuple[int, str]:
    """Cores and the CPU's model name (from /proc/cpuinfo; "unknown" elsewhere)."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return os.cpu_count() or 0, model


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` from 0 to 1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# Installed in the page once every station is drawn: frame intervals by requestAnimationFrame
# (each marked when the map was drawn within it), the map's own draw time from the `data-draw-ms`
# attribute its draw() sets, long tasks by PerformanceObserver.
RECORDER = """() => {
  const frames = [], moving = [], drawMs = [], longTasks = [];
  let last = null, on = true, seen = 0;
  const map = document.querySelector("#map");
  const supported = (PerformanceObserver.supportedEntryTypes || []).includes("longtask");
  const tasks = supported ? new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longTasks.push(entry.duration);
  }) : null;
  if (tasks) tasks.observe({ type: "longtask" });
  const draws = new MutationObserver((records) => {
    for (const _ of records) drawMs.push(Number(map.dataset.drawMs));
  });
  draws.observe(map, { attributes: true, attributeFilter: ["data-draw-ms"] });
  const tick = (t) => {
    if (!on) return;
    if (last !== null) {
      frames.push(t - last);
      if (drawMs.length > seen) moving.push(t - last);
    }
    seen = drawMs.length;
    last = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  window.__bench = { stop() {
    on = false; if (tasks) tasks.disconnect(); draws.disconnect();
    return { frames, moving, drawMs, longTasks: supported ? longTasks : null };
  } };
}"""
# One pointer move a frame, as a browser delivers a dragging hand's (Chrome aligns pointer
# moves to frames): a circle of radius 90 px a second, and every half second a wheel step,
# three in and three out.
PAN = """(seconds) => new Promise((done) => {
  const map = document.querySelector("#map"), box = map.getBoundingClientRect();
  const cx = box.left + box.width / 2, cy = box.top + box.height / 2;
  const wheel = [-120, -120, -120, 120, 120, 120];
  let end = null, moves = 0;
  const step = (t) => {
    if (end === null) end = t + seconds * 1000;
    if (t >= end) { done(moves); return; }
    const angle = 2 * Math.PI * (moves % 60) / 60;
    map.dispatchEvent(new PointerEvent("pointermove", { pointerId: 1, bubbles: true,
      clientX: cx + 90 * Math.sin(angle), clientY: cy - 90 + 90 * Math.cos(angle) }));
    if (moves % 30 === 29) {
      map.dispatchEvent(new WheelEvent("wheel", { deltaY: wheel[Math.floor(moves / 30) % 6],
        clientX: cx, clientY: cy, bubbles: true, cancelable: true }));
    }
    moves += 1;
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
})"""
ALL_DRAWN = """(n) => {
  const drawn = JSON.parse(document.querySelector("#map").dataset.drawn || "{}");
  const total = Object.values(drawn).reduce((a, b) => a + b, 0);
  return total >= n ? performance.now() : false;
}"""
STATION_BYTES = """() => performance.getEntriesByType("resource")
  .filter((e) => new URL(e.name).pathname.endsWith("/api/stations"))
  .map((e) => e.decodedBodySize)"""


async def _quietly(stop: Callable[[], Awaitable[object]]) -> None:
    """Stop one thing at the end, even when another already failed or Ctrl-C ended the run
    (the terminal's SIGINT also reaches Playwright's driver, so its calls may fail)."""
    with contextlib.suppress(Exception):
        await stop()


async def _wait_for_stations(url: str, stations: int, within: float) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=within) as client:
        while True:
            answer = await client.get(f"{url}api/stations")
            if len(answer.json().get("stations", [])) >= stations:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not list {stations} stations in {within} s")
            await asyncio.sleep(0.1)


async def _pan_and_zoom(page: Any, seconds: float) -> int:
    """Hold the mouse down on the map (a real press, so the page captures the pointer), let
    the page drag it in circles (PAN) and turn the wheel, then let go; the pointer moves made."""
    box = await page.locator("#map").bounding_box()
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.down()
    moves: int = await page.evaluate(PAN, seconds)
    await page.mouse.up()
    return moves


async def measure(
    stations: int = 17_000, seconds: float = 5.0, threshold_p95_ms: float = SMOOTH_P95_MS
) -> Result:
    """Serve, open, wait for the full draw, pan and zoom for `seconds`, measure; everything
    started here is stopped again in reverse order, also when cancelled (Ctrl-C)."""
    from playwright.async_api import async_playwright

    hits = network(stations)
    evses = sum(len(hit["evses"]) for hit in hits)
    async with contextlib.AsyncExitStack() as started:
        members = await start_app(stand_in(hits), signals=False)
        started.push_async_callback(_quietly, members.stop)
        base = members.url.rstrip("/")
        links = [
            MemberLink(name, role, f"{base}/m/{i}")
            for i, (name, *_) in enumerate(MEMBERS)
            for role in ("CPO", "EMSP")
        ]
        config = DashboardConfig(base, "bench", links, allow_actions=False, timeout=120.0)
        began = time.monotonic()
        dashboard = await start_app(create_app(config), signals=False)
        started.push_async_callback(_quietly, dashboard.stop)
        await _wait_for_stations(dashboard.url, stations, 300.0)
        dashboard_load_s = time.monotonic() - began
        playwright = await async_playwright().start()
        started.push_async_callback(_quietly, playwright.stop)
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        started.push_async_callback(_quietly, browser.close)
        page = await browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        await page.goto(dashboard.url)
        drawn = await page.wait_for_function(
            ALL_DRAWN, arg=stations, polling="raf", timeout=300_000
        )
        first_full_draw_ms = float(await drawn.json_value())
        sizes = await page.evaluate(STATION_BYTES)
        await page.evaluate(RECORDER)
        moves = await _pan_and_zoom(page, seconds)
        recorded = await page.evaluate("window.__bench.stop()")
        chromium = browser.version
    frames: list[float] = recorded["frames"] or [0.0]
    moving: list[float] = recorded["moving"] or [0.0]
    draw_ms: list[float] = recorded["drawMs"] or [0.0]
    tasks: list[float] | None = recorded["longTasks"]
    cores, cpu = machine()
    return Result(
        cores=cores,
        cpu=cpu,
        chromium=chromium,
        stations=stations,
        evses=evses,
        station_json_bytes=int(sizes[-1]) if sizes else 0,
        dashboard_load_s=round(dashboard_load_s, 2),
        first_full_draw_ms=round(first_full_draw_ms, 1),
        seconds=seconds,
        moves=moves,
        draws=len(recorded["drawMs"]),
        draw_p50_ms=round(statistics.median(draw_ms), 1),
        draw_p95_ms=round(percentile(draw_ms, 0.95), 1),
        frames=len(recorded["frames"]),
        frame_p50_ms=round(statistics.median(frames), 1),
        frame_p95_ms=round(percentile(frames, 0.95), 1),
        frame_max_ms=round(max(frames), 1),
        moving_p50_ms=round(statistics.median(moving), 1),
        moving_p95_ms=round(percentile(moving, 0.95), 1),
        moving_max_ms=round(max(moving), 1),
        frames_over_50ms=sum(1 for f in frames if f > SLOW_FRAME_MS),
        long_tasks=None if tasks is None else len(tasks),
        long_task_max_ms=None if not tasks else round(max(tasks), 1),
        threshold_p95_ms=threshold_p95_ms,
        smooth=bool(recorded["moving"]) and percentile(moving, 0.95) <= threshold_p95_ms,
    )


def report(result: Result) -> str:
    """The figures in words, one a line."""
    r = result
    tasks = (
        "not supported by this browser"
        if r.long_tasks is None
        else f"{r.long_tasks}" + (f" (longest {r.long_task_max_ms} ms)" if r.long_tasks else "")
    )
    verdict = "yes" if r.smooth else "NO"
    return "\n".join(
        [
            f"machine: {r.cores} cores, {r.cpu}; Chromium {r.chromium} (headless, no GPU)",
            f"stations: {r.stations:,}",
            f"EVSEs: {r.evses:,}",
            f"station JSON downloaded by the page: {r.station_json_bytes:,} bytes "
            f"({r.station_json_bytes / max(1, r.stations):.0f} a station)",
            f"dashboard reading the stations from the app: {r.dashboard_load_s} s",
            f"first full draw (navigation until every station is on the map): "
            f"{r.first_full_draw_ms} ms",
            f"panning and zooming for {r.seconds:g} s: {r.moves} pointer moves, {r.frames} frames, "
            f"{r.draws} map draws "
            f"(draw() p50 {r.draw_p50_ms} ms, p95 {r.draw_p95_ms} ms)",
            f"frame time, all frames: p50 {r.frame_p50_ms} ms, p95 {r.frame_p95_ms} ms, "
            f"max {r.frame_max_ms} ms",
            f"frame time, frames with a map draw: p50 {r.moving_p50_ms} ms, "
            f"p95 {r.moving_p95_ms} ms, max {r.moving_max_ms} ms",
            f"frames over {SLOW_FRAME_MS:g} ms: {r.frames_over_50ms}",
            f"long tasks (over 50 ms): {tasks}",
            f"smooth (p95 of the frames with a map draw at most {r.threshold_p95_ms:g} ms): "
            f"{verdict}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.bench", description=__doc__)
    parser.add_argument("--stations", type=int, default=17_000, help="default 17000")
    parser.add_argument("--seconds", type=float, default=5.0, help="panning and zooming")
    parser.add_argument(
        "--smooth-ms", type=float, default=SMOOTH_P95_MS, help="p95 frame time called smooth"
    )
    parser.add_argument("--json", action="store_true", help="the figures as one JSON object")
    args = parser.parse_args(argv)
    if args.stations < 1 or args.seconds <= 0:
        parser.error("--stations must be at least 1 and --seconds more than 0")
    if not CHROMIUM.exists():
        print(f"no {CHROMIUM}: apt-get install chromium", file=sys.stderr)
        return 2
    interrupted = False

    async def run() -> Result:
        # Ctrl-C cancels the run, whose clean-up then stops everything. The terminal's SIGINT
        # also ends Playwright's driver, so the run may fail with its errors first: once
        # interrupted, those are expected and not reported.
        nonlocal interrupted
        loop, task = asyncio.get_running_loop(), asyncio.current_task()

        def interrupt() -> None:
            nonlocal interrupted
            interrupted = True
            if task is not None:
                task.cancel()

        loop.add_signal_handler(signal.SIGINT, interrupt)
        loop.set_exception_handler(
            lambda loop, context: None if interrupted else loop.default_exception_handler(context)
        )
        return await measure(args.stations, args.seconds, args.smooth_ms)

    try:
        result = asyncio.run(run())
    except (Exception, asyncio.CancelledError):
        if not interrupted:
            raise
        print("interrupted: browser closed, servers stopped", file=sys.stderr)
        return 130
    print(json.dumps(asdict(result)) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
