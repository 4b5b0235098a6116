"""`python -m bench [--posts N]`: throughput and latency of the archive, in one run.

Measures the import of a Telegram Desktop export through the full pipeline beside the floor
(the same rows into one plain table plus an FTS5 index over the raw text, with plain sqlite3),
search latency for a lemma, a phrase and a filtered query, the bot's /search (its first and
tenth page), and the import's peak memory.
Prints a table and a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.collector import backfill_rate, live_latency
from bench.corpus import CorpusGenerator, channel_id, write_tdesktop_export
from monitor.bot.paging import PER_PAGE, SEARCH_SECONDS, search_page
from monitor.bot.render import render_search_page
from monitor.config import Settings
from monitor.digest import build_digest
from monitor.importers.service import BATCH_SIZE
from monitor.ingest import default_workers
from monitor.search.service import search
from monitor.sentiment.service import load_scorer
from monitor.store import SearchTimeout, Store, TimeBudget
from monitor.store.base import CACHE_KIB, CHECKPOINT_PAGES
from monitor.text import TextPipeline

END = datetime(2024, 12, 1, tzinfo=UTC)


def floor_insert(db: Path, rows: list[tuple[int, int, str, str]]) -> float:
    """Seconds to insert `rows` with plain sqlite3 into one table with an FTS5 index."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, channel_id INTEGER, message_id INTEGER, date TEXT, text TEXT)"
    )
    conn.execute(
        "CREATE VIRTUAL TABLE posts_fts USING fts5 (text, content='posts', content_rowid='id')"
    )
    started = time.perf_counter()
    for start in range(0, len(rows), 1000):
        batch = rows[start : start + 1000]
        with conn:
            conn.executemany(
                "INSERT INTO posts (channel_id, message_id, date, text) VALUES (?, ?, ?, ?)", batch
            )
            first = conn.execute("SELECT max(id) FROM posts").fetchone()[0] - len(batch) + 1
            conn.executemany(
                "INSERT INTO posts_fts (rowid, text) VALUES (?, ?)",
                [(first + i, row[3]) for i, row in enumerate(batch)],
            )
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def schema_floor(archive: Path, db: Path) -> tuple[int, float]:
    """(posts, seconds) to store the archive's posts, already prepared (lemmas, scores,
    revision hashes read back from `archive`), into this project's own schema with plain
    sqlite3, a batch per transaction: what its tables, indexes and full-text index cost
    with no Python pipeline in front. Watched-term mentions are left out."""
    with sqlite3.connect(archive) as source:
        posts = source.execute(
            "SELECT channel_id, message_id, date, text, entities, lemmas, sentiment FROM posts "
            "ORDER BY id"
        ).fetchall()
        hashes = dict(
            ((row[0], row[1]), (row[2], row[3]))
            for row in source.execute(
                "SELECT channel_id, message_id, prev_hash, hash FROM post_revisions"
            )
        )
        channels = source.execute("SELECT id, title, added_at, added_by FROM channels").fetchall()
    revisions = [(p[0], p[1], p[2], p[3], *hashes[(p[0], p[1])]) for p in posts]
    asyncio.run(_create_archive(db))
    conn = sqlite3.connect(db, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON",
                   f"cache_size = -{CACHE_KIB}", f"wal_autocheckpoint = {CHECKPOINT_PAGES}"):  # fmt: skip
        conn.execute(f"PRAGMA {pragma}")
    conn.executemany(
        "INSERT INTO channels (id, title, added_at, added_by) VALUES (?, ?, ?, ?)", channels
    )
    started = time.perf_counter()
    for start in range(0, len(posts), BATCH_SIZE):
        conn.execute("BEGIN IMMEDIATE")
        last = conn.execute("SELECT coalesce(max(id), 0) FROM posts").fetchone()[0]
        conn.executemany(
            "INSERT INTO posts (channel_id, message_id, date, text, entities, lemmas, sentiment, "
            "first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, '2024-12-01 00:00:00', "
            "'2024-12-01 00:00:00')",
            posts[start : start + BATCH_SIZE],
        )
        conn.execute(
            "INSERT INTO posts_fts (rowid, lemmas) SELECT id, lemmas FROM posts WHERE id > ?",
            (last,),
        )
        conn.executemany(
            "INSERT INTO post_revisions (channel_id, message_id, date, text, seen_at, prev_hash, "
            "hash) VALUES (?, ?, ?, ?, '2024-12-01 00:00:00', ?, ?)",
            revisions[start : start + BATCH_SIZE],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(posts), elapsed


async def _create_archive(db: Path) -> None:
    db.unlink(missing_ok=True)
    async with await Store.open(db):
        pass


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def search_latency(
    db: Path, queries: dict[str, str], runs: int
) -> dict[str, dict[str, float]]:
    pipeline = TextPipeline()
    results: dict[str, dict[str, float]] = {}
    async with await Store.open(db) as store:
        for name, query in queries.items():
            hits = len((await search(store, pipeline, query, limit=20)).hits)  # warm-up
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                await search(store, pipeline, query, limit=20)
                timings.append((time.perf_counter() - started) * 1000)
            results[name] = {
                "query": query,  # type: ignore[dict-item]
                "hits_first_page": hits,
                "p50_ms": round(percentile(timings, 0.5), 2),
                "p95_ms": round(percentile(timings, 0.95), 2),
            }
    return results


async def bot_search_latency(
    db: Path, queries: dict[str, str], runs: int
) -> dict[str, dict[str, Any]]:
    """The bot's /search as a user waits for it (Telegram aside): its first page, and its
    tenth reached by pressing "older" nine times, each page searched, rendered and its
    successor's start recorded by the functions the bot calls, under the bot's budget."""
    pipeline = TextPipeline()
    budget = TimeBudget(SEARCH_SECONDS)
    results: dict[str, dict[str, Any]] = {}
    async with await Store.open(db) as store:
        for name, query in queries.items():
            first: list[float] = []
            tenth: list[float] = []
            timeouts = 0
            for run in range(runs + 1):  # the first warms up
                search_id = await store.save_search(0, 0, query, datetime.now(UTC))
                for page in range(10):
                    started = time.perf_counter()
                    try:
                        result = await search_page(
                            store, pipeline, search_id, query, page, UTC, budget
                        )
                    except SearchTimeout:
                        timeouts += 1
                        break
                    assert result is not None
                    render_search_page(result.hits, page, PER_PAGE, result.has_more, UTC)
                    elapsed = (time.perf_counter() - started) * 1000
                    if run and page in (0, 9):
                        (first if page == 0 else tenth).append(elapsed)
                    if not result.has_more:
                        break
            results[name] = {
                "query": query,
                "first_page_p50_ms": round(percentile(first, 0.5), 2),
                "first_page_p95_ms": round(percentile(first, 0.95), 2),
                # Absent when the query has fewer than ten pages.
                "tenth_page_p50_ms": round(percentile(tenth, 0.5), 2) if tenth else None,
                "tenth_page_p95_ms": round(percentile(tenth, 0.95), 2) if tenth else None,
                "timeouts": timeouts,
            }
    return results


async def digest_time(db: Path, day: datetime) -> tuple[float, float]:
    """Seconds to build the digest of `day` (its scorer built beforehand, as in a service):
    the first build, with whatever of the file the OS has cached, and a repeat."""
    pipeline = TextPipeline()
    scorer = load_scorer(pipeline, Settings())
    timings = []
    async with await Store.open(db) as store:
        for _ in range(2):
            started = time.perf_counter()
            await build_digest(store, scorer, day, day + timedelta(days=1), day + timedelta(days=1))
            timings.append(time.perf_counter() - started)
    return timings[0], timings[1]


def markdown(table: list[tuple[str, str]], summary: dict[str, Any], args: Any) -> str:
    machine = summary["machine"]
    lines = [
        f"# Benchmark: {args.posts:,} posts",
        "",
        f"`python -m bench --posts {args.posts}` ({args.channels} channels, {args.days} days, "
        f"seed {args.seed}), run on {summary['date']} at commit `{summary['commit']}`, on "
        f"{machine['platform']} with {machine['cpus']} cores, Python {machine['python']}, "
        f"SQLite {machine['sqlite']}.",
        "",
        "| measure | value |",
        "| --- | --- |",
        *(f"| {label} | {value} |" for label, value in table),
        "",
    ]
    return "\n".join(lines)


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=50, help="search runs per query")
    parser.add_argument("--live-updates", type=int, default=500, help="live updates to time")
    parser.add_argument("--json", type=Path, help="also write the JSON summary here")
    parser.add_argument(
        "--markdown", type=Path, help="also write the table, with machine, date and commit, here"
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep the files here (default: a temporary folder)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        work = args.workdir or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        export = work / "result.json"
        started = time.perf_counter()
        write_tdesktop_export(export, args.posts, args.channels, args.days, args.seed, END)
        generated = time.perf_counter() - started
        print(
            f"generated {args.posts:,} posts in {generated:.1f} s ({export.stat().st_size / 2**20:.0f} MiB)",
            file=sys.stderr,
        )

        def import_once(db: Path, *flags: str) -> dict[str, Any]:
            db.unlink(missing_ok=True)
            child = subprocess.run(
                [sys.executable, "-m", "bench.import_child", "--db", str(db), "--export", str(export), *flags],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            return dict(json.loads(child.stdout))

        plain = import_once(work / "plain.db", "--no-analysis")
        archive = work / "archive.db"
        imported = import_once(archive)

        rows = [
            (
                channel_id(p.channel_index),
                p.message_id,
                p.date.strftime("%Y-%m-%d %H:%M:%S"),
                p.text,
            )
            for p in CorpusGenerator(args.seed).posts(args.posts, args.channels, args.days, END)
        ]
        floor_db = work / "floor.db"
        floor_db.unlink(missing_ok=True)
        floor_seconds = floor_insert(floor_db, rows)
        del rows
        floor_db.unlink()
        schema_posts, schema_seconds = schema_floor(archive, work / "schema.db")
        (work / "schema.db").unlink()

        queries = {
            "lemma": "Трамп",
            "phrase": '"мирные переговоры"',
            "filtered": f"санкции channel:{channel_id(3)} since:{date(2024, 11, 1)}",
        }
        latency = asyncio.run(search_latency(archive, queries, args.runs))
        # Трамп is in about 3% of the corpus's posts, наступление in two thirds of them.
        bot_queries = {"lemma": "Трамп", "common": "наступление"}
        bot_latency = asyncio.run(bot_search_latency(archive, bot_queries, args.runs))
        digest_first, digest_again = asyncio.run(digest_time(archive, END - timedelta(days=1)))

    # Backfill runs on the real clock: ten seconds each by default, twenty in a full run.
    seconds = 20 if args.posts >= 1_000_000 else 10
    backfill = [
        asyncio.run(backfill_rate(1, 100 * seconds, None)),  # the collector's default pacing
        asyncio.run(backfill_rate(5, 500 * seconds, 5)),  # pacing set to what Telegram permits
    ]
    live = asyncio.run(live_latency(args.live_updates))

    pipeline_rate = imported["posts"] / imported["import_seconds"]
    plain_rate = plain["posts"] / plain["import_seconds"]
    floor_rate = args.posts / floor_seconds
    summary: dict[str, Any] = {
        "posts": args.posts, "channels": args.channels, "days": args.days, "seed": args.seed,
        "import_posts_per_s": round(pipeline_rate),
        "import_without_analysis_posts_per_s": round(plain_rate),
        "analysis_overhead": round(plain_rate / pipeline_rate - 1, 3),
        "digest_one_day_seconds": {"first": round(digest_first, 3), "repeat": round(digest_again, 3)},
        "import_seconds": round(imported["import_seconds"], 2),
        "pipeline_init_seconds": round(imported["pipeline_init_seconds"], 2),
        "floor_posts_per_s": round(floor_rate),
        "schema_floor_posts_per_s": round(schema_posts / schema_seconds),
        "pipeline_to_floor": round(pipeline_rate / floor_rate, 3),
        "import_peak_rss_mb": round(imported["peak_rss_mb"], 1),
        "import_worker_peak_rss_mb": round(imported["worker_peak_rss_mb"], 1),
        "import_workers": default_workers(),
        "search": latency,
        "bot_search": bot_latency,
        "backfill": backfill,
        "live": live,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version},
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "commit": git_commit(),
    }  # fmt: skip
    table = [
        ("import, full pipeline (posts/s)", f"{pipeline_rate:,.0f}"),
        ("import without analysis (posts/s)", f"{plain_rate:,.0f}"),
        ("analysis adds to import time", f"{plain_rate / pipeline_rate - 1:.1%}"),
        ("floor: sqlite3, one table + FTS5 (posts/s)", f"{floor_rate:,.0f}"),
        ("pipeline / floor", f"{pipeline_rate / floor_rate:.3f}"),
        ("our schema, rows already prepared (posts/s)", f"{schema_posts / schema_seconds:,.0f}"),
        ("import peak memory, main process (MB)", f"{imported['peak_rss_mb']:.1f}"),
        (f"import peak memory, each of {default_workers()} workers (MB)",
         f"{imported['worker_peak_rss_mb']:.1f}"),
        ("digest of one day, first / repeat (s)", f"{digest_first:.2f} / {digest_again:.2f}"),
        *((f"search {name} p50 / p95 (ms)", f"{figures['p50_ms']:.2f} / {figures['p95_ms']:.2f}")
          for name, figures in latency.items()),
        *((f"bot /search {name}, first / tenth page p95 (ms)",
           f"{figures['first_page_p95_ms']:.2f} / "
           + (f"{figures['tenth_page_p95_ms']:.2f}" if figures["tenth_page_p95_ms"] is not None else "none")
           + (f", {figures['timeouts']} over the budget" if figures["timeouts"] else ""))
          for name, figures in bot_latency.items()),
        *((f"backfill, Telegram allows {run['permitted_requests_per_s']:g} requests/s, "
           f"{run['pacing']} pacing",
           f"{run['posts_per_s']:,.0f} posts/s = {run['share_of_ceiling']:.1%}, "
           f"{run['flood_waits']} flood waits") for run in backfill),
        ("live update to stored p50 / p99 (ms)", f"{live['p50_ms']:.2f} / {live['p99_ms']:.2f}"),
    ]  # fmt: skip
    width = max(len(label) for label, _ in table)
    for label, value in table:
        print(f"{label:<{width}}  {value}")
    if args.markdown:
        args.markdown.write_text(markdown(table, summary, args))
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2))
