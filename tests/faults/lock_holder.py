"""`python -m tests.faults.lock_holder DB [SECONDS]`: another program writing to the archive.

It takes SQLite's write lock (BEGIN IMMEDIATE), says `locked`, holds the lock for SECONDS or,
without them, until its standard input closes, then commits.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from contextlib import closing


def hold(db: str, seconds: float | None) -> None:
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        print("locked", flush=True)
        if seconds is None:
            sys.stdin.read()
        else:
            time.sleep(seconds)
        conn.execute("COMMIT")


if __name__ == "__main__":
    hold(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else None)
