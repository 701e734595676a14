"""`roam bench sync`: how long the federation takes to sync its networks, and what it costs.

For each scale, the default alliance (roam/federation/federation.yaml) is brought up the way
`roam demo` brings it up (the hub and every member's CPO and eMSP a process of its own, fresh
SQLite databases in a temporary folder); the clock starts when every platform has registered
and stops when every eMSP holds every station and tariff (what the demo calls the sync). It
prints, per scale: the network's size, the sync time, deliveries per second (locations and
tariffs times eMSPs, over the sync time), and per process the CPU used during the sync (as a
share of one core) and the peak resident memory (sampled every 0.25 s) — so that a reader
sees how each figure grows with size. Then the figures beside the targets of issue 13.
"""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from roam.federation.runtime import Federation, start_federation
from roam.federation.spec import FederationSpec

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
SAMPLE_S = 0.25

TARGETS = {
    "sync_s_at_scale_1": 10.0,
    "deliveries_per_s_at_scale_1": 700.0,
    "sync_s_at_scale_10": 120.0,
    "rss_mb_per_process_at_scale_10": 300.0,
}
"""Issue 13's targets for this 2-core machine."""


def _cpu_s(pid: int) -> float | None:
    """utime + stime of a process, in seconds (None once it has gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _rss_mb(pid: int) -> float | None:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * PAGE_KB / 1024


@dataclass
class ProcessFigures:
    name: str
    cpu_s: float = 0.0
    """CPU seconds used during the sync."""
    cpu_share: float = 0.0
    """cpu_s over the sync time: 1.0 is one core."""
    peak_rss_mb: float = 0.0


@dataclass
class SyncFigures:
    scale: float
    stations: int
    evses: int
    tariffs: int
    emsps: int
    deliveries: int
    sync_s: float
    deliveries_per_s: float
    messages_routed: int
    processes: list[ProcessFigures] = field(default_factory=list)


class _Sampler:
    """CPU during the sync and peak RSS of the federation's processes (and of this one,
    the driver), sampled from the moment the platforms are known (a CPO's network is
    generated before it registers: its peak memory may come then)."""

    def __init__(self) -> None:
        self.pids: dict[str, int] = {"driver (this process)": os.getpid()}
        self.peak: dict[str, float] = {}
        self.cpu_at_start: dict[str, float] = {}
        self.task: asyncio.Task[None] | None = None
        self.federation: Federation | None = None

    def watch(self, federation: Federation) -> None:
        """Sample from now on (every platform, as soon as its process exists)."""
        self.federation = federation
        self.task = asyncio.get_running_loop().create_task(self._run())

    def _refresh(self) -> None:
        supervisor = self.federation.supervisor if self.federation is not None else None
        if supervisor is None:
            return
        for name in supervisor.names():
            pid = supervisor.pid(name)
            if pid is not None:
                self.pids[name] = pid

    def mark_start(self, federation: Federation) -> None:
        """The sync starts: CPU is counted from here."""
        self._refresh()
        for name, pid in self.pids.items():
            cpu = _cpu_s(pid)
            if cpu is not None:
                self.cpu_at_start[name] = cpu

    def sample(self) -> None:
        self._refresh()
        for name, pid in self.pids.items():
            rss = _rss_mb(pid)
            if rss is not None:
                self.peak[name] = max(self.peak.get(name, 0.0), rss)

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_S)

    def finish(self, sync_s: float) -> list[ProcessFigures]:
        if self.task is not None:
            self.task.cancel()
        self.sample()
        figures = []
        for name, pid in self.pids.items():
            now = _cpu_s(pid)
            start = self.cpu_at_start.get(name)
            used = now - start if now is not None and start is not None else 0.0
            figures.append(
                ProcessFigures(
                    name,
                    round(used, 2),
                    round(used / sync_s, 3) if sync_s > 0 else 0.0,
                    round(self.peak.get(name, 0.0), 1),
                )
            )
        return figures


async def sync_once(spec: FederationSpec, scale: float, echo: Any = None) -> SyncFigures:
    """Bring the federation up at `scale`, time its sync, stop it."""
    sampler = _Sampler()
    with tempfile.TemporaryDirectory(prefix="roam-bench-sync-") as folder:
        federation, took = await start_federation(
            spec,
            scale,
            Path(folder),
            echo or (lambda _line: None),
            processes=True,
            on_members=_started(sampler),
            on_registered=sampler.mark_start,
        )
        try:
            processes = sampler.finish(took)
            states = await asyncio.gather(*(m.control.state() for m in federation.members))
            stations = sum(int(s["locations"]) for s in states)
            tariffs = sum(int(s["tariffs"]) for s in states)
            evses = sum(int(s["evses"]) for s in states)
            emsps = len(federation.members)
            deliveries = (stations + tariffs) * emsps
            routed = await federation.hops_sent()
        finally:
            await federation.stop()
    return SyncFigures(
        scale=scale,
        stations=stations,
        evses=evses,
        tariffs=tariffs,
        emsps=emsps,
        deliveries=deliveries,
        sync_s=round(took, 2),
        deliveries_per_s=round(deliveries / took, 1),
        messages_routed=routed,
        processes=processes,
    )


def _started(sampler: _Sampler) -> Callable[[Federation], Awaitable[None]]:
    async def watch(federation: Federation) -> None:
        sampler.watch(federation)

    return watch


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }


async def run(
    spec: FederationSpec, scales: list[float], echo: Any, progress: bool
) -> dict[str, Any]:
    """Every scale in turn; the report as plain data."""
    report: dict[str, Any] = {"machine": machine(), "targets": TARGETS, "runs": []}
    for scale in scales:
        began = time.perf_counter()
        if progress:
            echo(f"scale {scale:g}: bringing the federation up ...")
        figures = await sync_once(spec, scale, echo if progress else None)
        report["runs"].append(asdict(figures))
        if progress:
            echo(f"scale {scale:g}: done in {time.perf_counter() - began:.0f} s")
    report["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def text(report: dict[str, Any]) -> str:
    """The report for people: the machine, one block per scale, growth, and the targets."""
    m = report["machine"]
    out = [
        f"machine: {m['cpus']} CPUs ({m['cpu_model'] or 'model unknown'}), Python "
        f"{m['python']}, load average before {m['load_average_before']}, after "
        f"{m.get('load_average_after')}; {m['started']}",
        "",
    ]
    for run in report["runs"]:
        out.append(
            f"scale {run['scale']:g}: {run['stations']:,} stations, {run['evses']:,} EVSEs, "
            f"{run['tariffs']} tariffs -> {run['emsps']} eMSPs = {run['deliveries']:,} "
            f"deliveries ({run['messages_routed']:,} messages routed)"
        )
        out.append(
            f"  sync {run['sync_s']:.1f} s from all registered to every eMSP holding "
            f"everything: {run['deliveries_per_s']:,.0f} deliveries/s"
        )
        out.append(f"  {'process':<24} {'CPU s':>7} {'cores':>6} {'peak RSS MB':>12}")
        for p in run["processes"]:
            out.append(
                f"  {p['name']:<24} {p['cpu_s']:>7.1f} {p['cpu_share']:>6.2f} "
                f"{p['peak_rss_mb']:>12.0f}"
            )
        total = sum(p["cpu_share"] for p in run["processes"])
        out.append(f"  {'all together':<24} {'':>7} {total:>6.2f}")
        out.append("")
    if len(report["runs"]) > 1:
        out.append("growth with size:")
        out.append(
            f"  {'scale':>6} {'deliveries':>11} {'sync s':>8} {'per s':>7} {'max RSS MB':>11}"
        )
        for run in report["runs"]:
            rss = max((p["peak_rss_mb"] for p in run["processes"]), default=0)
            out.append(
                f"  {run['scale']:>6g} {run['deliveries']:>11,} {run['sync_s']:>8.1f} "
                f"{run['deliveries_per_s']:>7,.0f} {rss:>11.0f}"
            )
        out.append("")
    out.append("targets (issue 13, this 2-core machine):")
    for run in report["runs"]:
        if run["scale"] == 1:
            out.append(
                _against("sync at scale 1", run["sync_s"], TARGETS["sync_s_at_scale_1"], "s")
            )
            out.append(
                _against(
                    "deliveries/s at scale 1",
                    run["deliveries_per_s"],
                    TARGETS["deliveries_per_s_at_scale_1"],
                    "/s",
                    at_least=True,
                )
            )
        if run["scale"] == 10:
            out.append(
                _against("sync at scale 10", run["sync_s"], TARGETS["sync_s_at_scale_10"], "s")
            )
            worst = max(
                (p for p in run["processes"] if not p["name"].startswith("driver")),
                key=lambda p: p["peak_rss_mb"],
            )
            out.append(
                _against(
                    f"RSS at scale 10 (largest: {worst['name']})",
                    worst["peak_rss_mb"],
                    TARGETS["rss_mb_per_process_at_scale_10"],
                    " MB",
                )
            )
    if not any(run["scale"] in (1, 10) for run in report["runs"]):
        out.append("  (the targets are for scale 1 and 10; run with --scale 1 or --scale 10)")
    return "\n".join(out)


def _against(what: str, value: float, target: float, unit: str, at_least: bool = False) -> str:
    met = value >= target if at_least else value <= target
    bound = "at least" if at_least else "at most"
    return (
        f"  {what:<44} {value:>9,.1f}{unit}  target {bound} {target:g}{unit}: "
        f"{'met' if met else 'NOT MET'}"
    )
