"""Stage 0: a file on disk becomes a `Submission` (or a clear SubmissionError)."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .errors import SubmissionError, UsageError
from .identity import Identity
from .messages import msg

MAX_BYTES = 20 * 1024 * 1024
KINDS = {".ipynb": "ipynb", ".py": "py"}


@dataclass(frozen=True)
class Submission:
    path: Path
    student: str  # safe as a folder name
    display_name: str  # the original stem, for the report (escaped there)
    sha256: str
    kind: str  # "ipynb" | "py"
    source: bytes
    identity: Identity | None = None  # whose it is: load() always sets it (a batch's from discovery)


def student_id(stem: str) -> str:
    """A folder-safe id: letters, digits, '.', '-', '_' kept (accents folded), the rest '_'."""
    folded = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", folded).strip("._") or "submission"
    return safe[:80]


def load(path: str | Path, student: str | None = None, identity: Identity | None = None) -> Submission:
    """Read and validate the file; raises UsageError (no such file) or SubmissionError.

    `identity` (a batch's, from discovery) names the person; without it the file's name does
    (`José Pérez.ipynb` is student `Jose_Perez`, display name "José Pérez", lms "")."""
    path = Path(path)
    if not path.exists():
        raise UsageError(msg("submission.no_such_file", path=str(path)), hint=msg("submission.no_such_file_hint"))
    if not path.is_file():
        raise UsageError(msg("submission.not_a_file", path=str(path)))
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(msg("submission.bad_suffix", path=str(path), suffix=path.suffix or msg("submission.no_suffix")),
                         hint=msg("submission.bad_suffix_hint"))
    stem = student or path.stem
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SubmissionError(msg("submission.too_big", size_mb=size / 2**20, max_mb=MAX_BYTES / 2**20),
                              hint=msg("submission.too_big_hint"))
    source = path.read_bytes()
    if not source.strip():
        raise SubmissionError(msg("submission.empty"), hint=msg("submission.hand_in_solution"))
    if kind == "ipynb":
        notebook(source)
    who = identity or plain_identity(path, student)
    return Submission(path.resolve(), student_id(stem), who.display_name, hashlib.sha256(source).hexdigest(), kind, source,
                      who)


def plain_identity(path: str | Path, student: str | None = None) -> Identity:
    """The identity of a file graded on its own: its name is the person (NFC, so an NFD name
    from a Mac reads as typed), no LMS."""
    path = Path(path)
    stem = unicodedata.normalize("NFC", student or path.stem)
    return Identity(student_id(stem), stem, source_name=unicodedata.normalize("NFC", path.name))


def notebook(source: bytes) -> nbformat.NotebookNode:
    """Parse a notebook (v3 is upgraded to v4); a clear SubmissionError if it is not one."""
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(msg("submission.not_utf8", byte=exc.start), hint=msg("submission.not_utf8_hint")) from exc
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise SubmissionError(msg("submission.not_json", error=str(exc)), hint=msg("submission.not_json_hint")) from exc
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise SubmissionError(msg("submission.not_notebook"), hint=msg("submission.not_notebook_hint"))
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several unrelated types
        raise SubmissionError(msg("submission.invalid_notebook", error=(str(exc).splitlines() or [type(exc).__name__])[0][:300]),
                              hint=msg("submission.resave_hint")) from exc
    if not any(cell.cell_type == "code" and cell.source.strip() for cell in nb.cells):
        raise SubmissionError(msg("submission.no_code"), hint=msg("submission.hand_in_solution"))
    return nb


__all__ = ["Submission", "load", "plain_identity", "student_id", "notebook", "KINDS", "MAX_BYTES"]
