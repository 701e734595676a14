"""Kept for roam/cpo_cmd.py until it imports roam.bench.cpo (issue 17): `roam cpo bench`."""

from roam.bench.cpo import BenchResult, run_bench

__all__ = ["BenchResult", "run_bench"]
