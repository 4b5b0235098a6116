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

from monitor.config import Settings
from monitor.importers.service import import_exports
from monitor.ingest import Analysis
from monitor.sentiment.service import load_scorer
from monitor.store import Store
from monitor.text import TextPipeline
from monitor.watch import add_term

WATCHED = [("Трамп", ["Trump"]), ("Бахмут", ["Артёмовск"]), ("мирные переговоры", []), ("санкции", []),
           ("Зеленский", []), ("ВСУ", []), ("НАТО", []), ("Курск", []), ("дрон", ["беспилотник"]), ("Пентагон", [])]  # fmt: skip


async def run(db: Path, export: Path, analysis: bool, processes: int | None) -> dict[str, float]:
    started = time.perf_counter()
    pipeline = TextPipeline()
    scorer = load_scorer(pipeline, Settings()) if analysis else None
    ready = time.perf_counter()
    async with await Store.open(db) as store:
        if analysis:
            for term, aliases in WATCHED:
                await add_term(store, pipeline, term, aliases, None, "bench", datetime.now(UTC))
        report = await import_exports(
            store, pipeline, [export], clock=lambda: datetime.now(UTC), scorer=scorer,
            parallel=Analysis(score=analysis) if processes != 0 else None, processes=processes,
        )  # fmt: skip
    finished = time.perf_counter()
    if report.problems:
        raise SystemExit(f"import problems: {report.problems[:3]}")
    return {
        "posts": report.totals.new,
        "pipeline_init_seconds": ready - started,
        "import_seconds": finished - ready,
        "peak_rss_mb": peak_rss_mb(),
        # The largest of the finished worker processes (their count: processes).
        "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux keeps ru_maxrss across exec, so a child
    started by a big parent would report the parent's peak; VmHWM belongs to this program's
    own address space."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--export", type=Path, required=True)
    parser.add_argument("--no-analysis", action="store_true", help="no sentiment, no watched terms")
    parser.add_argument(
        "--processes",
        type=int,
        help="worker processes (0: prepare in this one; default: a core each)",
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.db, args.export, not args.no_analysis, args.processes))))


if __name__ == "__main__":
    main()
