"""Benchmarks: `python -m bench` (see bench/RESULTS.md for the latest full run)."""
