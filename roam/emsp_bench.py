"""Kept for roam/emsp_cmd.py until it imports roam.bench.emsp (issue 17): `roam emsp bench`."""

from roam.bench.emsp import BenchResult, run_bench

__all__ = ["BenchResult", "run_bench"]
