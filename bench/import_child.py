"""Import one export into a fresh archive in this process and report time and peak memory,
so the parent can read this process's own peak resident set."""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

from monitor.importers.service import import_exports
from monitor.store import Store
from monitor.text import TextPipeline


async def run(db: Path, export: Path) -> dict[str, float]:
    started = time.perf_counter()
    pipeline = TextPipeline()
    ready = time.perf_counter()
    async with await Store.open(db) as store:
        report = await import_exports(store, pipeline, [export], clock=lambda: datetime.now(UTC))
    finished = time.perf_counter()
    if report.problems:
        raise SystemExit(f"import problems: {report.problems[:3]}")
    return {
        "posts": report.totals.new,
        "pipeline_init_seconds": ready - started,
        "import_seconds": finished - ready,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--export", type=Path, required=True)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.db, args.export))))


if __name__ == "__main__":
    main()
