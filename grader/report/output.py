"""Writing what a person or a program reads later: all or nothing, never half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import OutputError
from ..messages import msg


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over: a reader (the batch resume,
    a browser, the gradebook) never sees half a result, and a full disk leaves no debris."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        raise OutputError(msg("output.cannot_write", path=str(path), why=str(exc.strerror or exc)),
                          hint=msg("output.cannot_write_hint", folder=str(path.parent))) from exc


__all__ = ["write_text_atomic"]
