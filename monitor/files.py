"""Files that hold what others must not read: the archive (every bot user's searches and
subscriptions) and the sessions (an account's keys)."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def private_folder(path: Path) -> None:
    """Create `path` and any missing parents, the new ones open to their owner only. A folder
    that exists is left as it is: it may be shared on purpose (/tmp, a home)."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def private_file(path: Path) -> None:
    """Create `path` if needed and make it readable and writable by its owner only."""
    private_folder(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)


def create_private(path: Path) -> bool:
    """Create `path` empty, for its owner only, unless it exists; True when it was created."""
    private_folder(path.parent)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    return True


def readable_by_others(path: Path) -> bool:
    """True when users other than the file's owner may read it."""
    return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
