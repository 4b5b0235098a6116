"""The connection, its settings, migrations and the write transaction shared by all parts."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import aiosqlite

from monitor.files import create_private, readable_by_others
from monitor.store.schema import LATEST_VERSION, MIGRATIONS

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
DB_TIME = "%Y-%m-%d %H:%M:%S"
# SQLite's default limit on bound parameters is far above this; chunks keep statements small.
IN_CHUNK = 500
CACHE_KIB = 64 * 1024
CHECKPOINT_PAGES = 10_000


class StoreError(Exception):
    """The database cannot be used as asked; the message says why in one sentence."""


def to_db(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # DB_TIME's text, in half the time strftime takes.
    return moment.isoformat(" ", "seconds")[:19]


def from_db(value: str | None) -> datetime | None:
    if value is None:
        return None
    # fromisoformat reads DB_TIME forty times faster than strptime.
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def fts_any(patterns: Sequence[str]) -> str:
    """An FTS5 query for rows holding any of the lemma sequences, each as a quoted phrase, so
    nothing in them is read as FTS5 syntax."""
    return " OR ".join('"' + p.replace('"', '""') + '"' for p in patterns)


def placeholders(count: int) -> str:
    return ",".join("?" * count)


def post_filter(
    channel_ids: Sequence[int] | None, since: datetime | None, until: datetime | None
) -> tuple[list[str], list[Any]]:
    """WHERE clauses (on posts aliased `p`) and their values for a channel and time window."""
    clauses: list[str] = []
    params: list[Any] = []
    if channel_ids is not None:
        clauses.append(f"p.channel_id IN ({placeholders(len(channel_ids))})")
        params.extend(channel_ids)
    if since is not None:
        clauses.append("p.date >= ?")
        params.append(to_db(since))
    if until is not None:
        clauses.append("p.date < ?")
        params.append(to_db(until))
    return clauses, params


def _check_file(path: Path) -> None:
    """Refuse a file that is not SQLite before SQLite can touch it."""
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a database file")
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as handle:
            if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise StoreError(
                    f"{path} is not an SQLite database; it was left untouched "
                    "(pass --db with another path)"
                )


class StoreBase:
    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._write_lock = asyncio.Lock()
        # Searches run on a connection of their own, opened at the first one (see search.py).
        self._search_db: aiosqlite.Connection | None = None
        self._search_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Self:
        """Open (creating if needed) the archive at `path` and bring its schema up to date."""
        path = Path(path)
        if str(path) != ":memory:":
            _check_file(path)
            try:
                # SQLite gives its -wal and -shm files the database file's mode.
                if not create_private(path) and readable_by_others(path):
                    log.warning(
                        "%s is readable by other users of this machine; it holds every bot "
                        "user's searches and subscriptions (chmod 600 it, and its -wal and "
                        "-shm files, unless it is shared on purpose)",
                        path,
                    )
            except OSError as error:
                raise StoreError(f"cannot create {path}: {error.strerror}") from None
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open {path}: {error}") from None
        store = cls(db, path)
        try:
            await store._configure()
            await store._migrate()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        if self._search_db is not None:
            await self._search_db.close()
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _configure(self) -> None:
        try:
            await self._db.execute("PRAGMA busy_timeout = 10000")
            await self._check_version()
            # Switching to WAL rewrites the header, so it comes only after the checks.
            if str(self.path) != ":memory:":
                await self._db.execute("PRAGMA journal_mode = WAL")
            await self._db.execute("PRAGMA synchronous = NORMAL")
            await self._db.execute("PRAGMA foreign_keys = ON")
            # A big archive's indexes are written all over; 64 MiB of page cache (against
            # SQLite's 2 MiB) keeps their inner pages in memory.
            await self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB:d}")
            # Checkpoint every ~40 MiB of log rather than 4 MiB: pages a big import rewrites
            # batch after batch (index and FTS pages) are then copied into the file once.
            await self._db.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES:d}")
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path} cannot be used as a database: {error}") from None

    async def _check_version(self) -> None:
        version = await self._scalar("PRAGMA user_version")
        if version > LATEST_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this program knows "
                f"({LATEST_VERSION}); upgrade the program, the file was left untouched"
            )
        if version == 0 and await self._scalar(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ):
            raise StoreError(
                f"{self.path} is an SQLite database of another program; it was left untouched"
            )

    async def _migrate(self) -> None:
        version = await self._scalar("PRAGMA user_version")
        for migration in MIGRATIONS:
            if migration.version <= version:
                continue
            async with self.write():
                # Another process opening the same archive may have applied it while this one
                # waited for the lock: the version read before the lock is only a hint.
                if await self._scalar("PRAGMA user_version") >= migration.version:
                    continue
                for statement in _statements(migration.sql):
                    await self._db.execute(statement)
                await self._db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, to_db(datetime.now(UTC))),
                )
                await self._db.execute(f"PRAGMA user_version = {migration.version:d}")

    async def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        async with self._db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return None if row is None else row[0]

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._db.execute(sql, params) as cursor:
            cursor.row_factory = sqlite3.Row
            return list(await cursor.fetchall())

    async def _stream(self, sql: str, params: Sequence[Any] = ()) -> AsyncIterator[sqlite3.Row]:
        async with self._db.execute(sql, params) as cursor:
            cursor.row_factory = sqlite3.Row
            while rows := await cursor.fetchmany(500):
                for row in rows:
                    yield row

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time; rolled back whole if anything inside fails."""
        async with self._write_lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise StoreError(_explain(self.path, error)) from None
            try:
                yield self._db
                await self._db.commit()
            except sqlite3.OperationalError as error:
                await self._rollback()
                raise StoreError(_explain(self.path, error)) from None
            except BaseException:
                await self._rollback()
                raise

    async def _rollback(self) -> None:
        # SQLite may have rolled back already (a full disk does that); then there is nothing to undo.
        if self._db.in_transaction:
            await self._db.rollback()


def _explain(path: Path, error: sqlite3.OperationalError) -> str:
    message = str(error)
    if "locked" in message or "busy" in message:
        return f"{path} is locked by another process; try again when it has finished"
    if "readonly" in message:
        return f"{path} is read-only; nothing was written"
    if "full" in message:
        return f"the disk holding {path} is full; nothing of the last batch was written"
    return f"writing to {path} failed: {message}"


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
