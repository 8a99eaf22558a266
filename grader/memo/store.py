"""The memo's persistent store, and what a sandbox is handed of it.

One file per key in FOLDER/entries. The folder is mode 0711 and its files 0644, owned by the
grader: bound read-only into a sandbox whose user is not the owner, an entry can be opened by
its exact name (a sha256 of the fit's inputs) but the folder cannot be listed, and nothing can be
written. The grader's worker writes entries with a rename, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..messages import Message

SOURCE = Path(__file__).with_name("fitmemo.py")
KEY_PATTERN = re.compile(r"[0-9a-f]{64}")


class MemoStore:
    def __init__(self, cache_dir: Path) -> None:
        self.folder = Path(cache_dir) / "memo" / "entries"
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o711)

    def has(self, key: str) -> bool:
        return (self.folder / key).is_file()

    def read(self, key: str) -> bytes | None:
        if not KEY_PATTERN.fullmatch(key):
            return None
        try:
            return (self.folder / key).read_bytes()
        except OSError:
            return None

    def put(self, key: str, raw: bytes) -> bool:
        """Store an entry that arrived from elsewhere (a cluster worker), if it is what its name
        says: a well-formed entry whose header names `key` and whose payload matches its
        checksum. Written with a rename (a reader never sees half a file), mode 0644."""
        from .fitmemo import decode_entry

        if not KEY_PATTERN.fullmatch(key) or not isinstance(raw, bytes):
            return False
        try:
            decode_entry(raw, key)
        except (ValueError, KeyError, TypeError):
            return False
        if self.has(key):
            return True
        tmp = self.folder / f".{key}.{os.getpid()}.tmp"
        tmp.write_bytes(raw)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.folder / key)
        return True

    def keys(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if not p.name.startswith(".") and "." not in p.name)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())


@dataclass(frozen=True)
class MemoSettings:
    """How one run uses the memo. `store` None: nothing to serve; `off_reason` says why."""

    store: MemoStore | None
    threads: int
    determinism: bool = True
    off_reason: Message | str = ""

    @property
    def serving(self) -> bool:
        return self.store is not None

    def sandbox_config(self, store_path: str | None) -> dict:
        """memo.json as the sandbox reads it (read-only): it serves, never records."""
        return {"store": store_path if self.serving else None, "serve": self.serving, "record": False,
                "threads": self.threads, "determinism": self.determinism}


__all__ = ["MemoStore", "MemoSettings", "SOURCE"]
