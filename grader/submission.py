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


def student_id(stem: str) -> str:
    """A folder-safe id: letters, digits, '.', '-', '_' kept (accents folded), the rest '_'."""
    folded = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", folded).strip("._") or "submission"
    return safe[:80]


def load(path: str | Path, student: str | None = None) -> Submission:
    """Read and validate the file; raises UsageError (no such file) or SubmissionError."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no existe", hint="Revise la ruta de la entrega.")
    if not path.is_file():
        raise UsageError(f"{path}: no es un archivo .ipynb o .py")
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"{path}: tipo de archivo no admitido ({path.suffix or 'sin extensión'})",
                         hint="Entregue un notebook .ipynb o un módulo .py.")
    stem = student or path.stem
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SubmissionError(f"el archivo pesa {size / 2**20:.0f} MB; el máximo es {MAX_BYTES / 2**20:.0f} MB",
                              hint="Borre las salidas del notebook (Kernel → Restart & Clear Output) y vuelva a entregar.")
    source = path.read_bytes()
    if not source.strip():
        raise SubmissionError("el archivo está vacío", hint="Entregue el notebook con su solución.")
    if kind == "ipynb":
        notebook(source)
    return Submission(path.resolve(), student_id(stem), stem, hashlib.sha256(source).hexdigest(), kind, source)


def notebook(source: bytes) -> nbformat.NotebookNode:
    """Parse a notebook (v3 is upgraded to v4); a clear SubmissionError if it is not one."""
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"el notebook no es texto UTF-8 (byte {exc.start})",
                              hint="Guárdelo de nuevo desde Jupyter; no lo edite con otro programa.") from exc
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise SubmissionError(f"el notebook no es JSON válido: {exc}",
                              hint="El archivo está dañado: ábralo en Jupyter, guárdelo y vuelva a entregar.") from exc
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise SubmissionError("el archivo no tiene la estructura de un notebook (falta 'cells')",
                              hint="Entregue el .ipynb que guarda Jupyter.")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several unrelated types
        raise SubmissionError(f"notebook inválido: {str(exc).splitlines()[0][:300]}",
                              hint="Ábralo en Jupyter, guárdelo y vuelva a entregar.") from exc
    if not any(cell.cell_type == "code" and cell.source.strip() for cell in nb.cells):
        raise SubmissionError("el notebook no tiene celdas de código", hint="Entregue el notebook con su solución.")
    return nb


__all__ = ["Submission", "load", "student_id", "notebook"]
