"""The retraining cache: an embedded key → JSON store (SQLite) with one lock file per key.

Parallel workers share it; `claim` makes sure two processes never train the same key at once,
and a corrupt entry is deleted and recomputed, never trusted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from pathlib import Path


class Cache:
    """An embedded key → JSON store (SQLite); safe to share between processes."""

    def __init__(self, folder: Path | None) -> None:
        self.path = None if folder is None else Path(folder) / "retrain.sqlite"
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def get(self, key: str) -> dict | None:
        if self.path is None:
            return None
        with self._connect() as db:
            row = db.execute("SELECT value FROM runs WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            value = json.loads(row[0])
            if isinstance(value.get("history"), dict) and isinstance(value.get("kernel_norms_after"), list) \
                    and isinstance(value.get("duration_s"), (int, float)) and isinstance(value.get("extra", {}), dict):
                return value
        except (ValueError, AttributeError):
            pass
        self.delete(key)  # a corrupt entry is recomputed, never trusted
        return None

    def items(self) -> dict[str, dict]:
        """Every stored run, key → value (what a cluster run hands its workers first)."""
        if self.path is None:
            return {}
        with self._connect() as db:
            rows = db.execute("SELECT key FROM runs").fetchall()
        found = {key: self.get(key) for (key,) in rows}
        return {key: value for key, value in found.items() if value is not None}

    def put(self, key: str, value: dict) -> None:
        if self.path is None:
            return
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?)", (key, json.dumps(value), time.time()))

    def delete(self, key: str) -> None:
        if self.path is None:
            return
        with self._connect() as db:
            db.execute("DELETE FROM runs WHERE key = ?", (key,))

    # one lock file per key being trained: held while training, so no two processes train it
    def _lock_path(self, key: str) -> Path | None:
        if self.path is None:
            return None
        folder = self.path.parent / "locks"
        folder.mkdir(exist_ok=True)
        return folder / f"{key}.lock"

    @contextlib.contextmanager
    def claim(self, keys: list[str]):
        """(mine, theirs): keys this process locked and must train, keys someone else holds."""
        self._held: dict[str, int] = {}
        mine, theirs = [], []
        for key in keys:
            path = self._lock_path(key)
            if path is None:
                mine.append(key)
                continue
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                theirs.append(key)
                continue
            if self.get(key) is not None:  # finished between our lookup and the lock
                os.close(fd)
                theirs.append(key)
                continue
            self._held[key] = fd
            mine.append(key)
        try:
            yield mine, theirs
        finally:
            for key in list(self._held):
                self.release(key)

    def release(self, key: str) -> None:
        fd = getattr(self, "_held", {}).pop(key, None)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def wait(self, key: str) -> None:
        path = self._lock_path(key)
        if path is None:
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        finally:
            os.close(fd)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "grader"


__all__ = ["Cache", "default_cache_dir"]
