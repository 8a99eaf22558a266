"""Code pairs: each submission's code cells, fingerprinted the way MOSS does, compared pairwise.

copydetect does the work (https://github.com/blingenf/copydetect): pygments tokenizes the code,
comments and whitespace are dropped, every identifier becomes `V`, function names `F`, class
names `O` and strings `S`, so renaming, re-commenting and re-indenting change nothing; the
fingerprints are the hashes of every run of NOISE characters of that folded text (window 1,
copydetect's default: every k-gram is kept, so the comparison guarantees to see any shared run of
that length). The starter notebook's own code is boilerplate: its fingerprints are removed from
every submission first, so two students who only ran the starter share nothing.

A fingerprint is a set, so the order of cells does not matter beyond the few k-grams that cross
a cell boundary (tests/similarity/test_code.py checks a reordered copy). The code is read here
with size caps (a notebook is JSON the student wrote: never trusted, never executed), and a file
that cannot be read is skipped with the reason, never an exception.

`hash()` of a str is salted per process: fingerprints compare only within one process, which is
why they are never stored.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, compare_files

from ..messages import Message, msg
from ..submission import MAX_BYTES

NOISE = 25  # copydetect's noise threshold (characters of folded code); shorter shared runs are chance
MAX_CODE_CHARS = 400_000  # a submission's code, all cells: the homework is about 6,000
MAX_LINES_SHOWN = 120  # per cell in a pair's side-by-side
MAX_CELL_MATCHES = 12  # per pair, most shared first: a class of copies stays a readable page
MAX_LINE_CHARS = 240


@dataclass(frozen=True)
class Cell:
    """One code cell (a module is one cell): its index in the notebook, and its text."""

    index: int
    source: str


@dataclass(frozen=True)
class Code:
    """A submission's code, as read: its cells, or why it could not be read (`skipped`)."""

    student: str
    cells: tuple[Cell, ...] = ()
    skipped: Message | str = ""


@dataclass(frozen=True)
class Line:
    number: int  # 1-based, within the cell
    text: str
    shared: bool


@dataclass(frozen=True)
class CellMatch:
    """A cell of A and a cell of B that share fingerprints, line by line, shared lines marked."""

    a_cell: int
    b_cell: int
    shared_chars: int
    a_lines: tuple[Line, ...]
    b_lines: tuple[Line, ...]

    def to_json(self) -> dict:
        return {"a_cell": self.a_cell, "b_cell": self.b_cell, "shared_chars": self.shared_chars,
                "a_lines": [[line.number, line.text, line.shared] for line in self.a_lines],
                "b_lines": [[line.number, line.text, line.shared] for line in self.b_lines]}


@dataclass(frozen=True)
class CodeScore:
    """Two submissions compared: the share of each one's fingerprinted code found in the other."""

    a: str
    b: str
    a_share: float
    b_share: float
    shared_chars: int

    @property
    def score(self) -> float:
        """The larger share: a copy padded with code of its own still has all of the original in it."""
        return max(self.a_share, self.b_share)


def _source(cell) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def read_code(student: str, path: Path | None) -> Code:
    """The code cells of a .ipynb (its JSON, not nbformat's validation: a damaged notebook that
    still has cells is still compared) or the text of a .py; skipped, with the reason, when the
    file is missing, larger than a submission may be, not JSON, not UTF-8, or holds no code."""
    if path is None:
        return Code(student, skipped=msg("similarity.skip_unreadable", error="-"))
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return Code(student, skipped=msg("similarity.skip_too_big", size_mb=size / 2**20, max_mb=MAX_BYTES / 2**20))
        raw = path.read_bytes()
    except OSError as exc:
        return Code(student, skipped=msg("similarity.skip_unreadable", error=str(exc.strerror or exc)))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Code(student, skipped=msg("similarity.skip_not_utf8"))
    if path.suffix.lower() == ".ipynb":
        try:
            notebook = json.loads(text)
        except (ValueError, RecursionError):
            return Code(student, skipped=msg("similarity.skip_not_json"))
        raw_cells = notebook.get("cells") if isinstance(notebook, dict) else None
        cells = tuple(Cell(i, _source(c)) for i, c in enumerate(raw_cells if isinstance(raw_cells, list) else [])
                      if isinstance(c, dict) and c.get("cell_type") == "code" and _source(c).strip())
    else:
        cells = (Cell(0, text),) if text.strip() else ()
    if not cells:
        return Code(student, skipped=msg("similarity.skip_no_code"))
    kept, total = [], 0
    for cell in cells:  # past the cap the rest is not compared (a real submission is far below it)
        if total + len(cell.source) > MAX_CODE_CHARS:
            break
        kept.append(cell)
        total += len(cell.source) + 2
    return Code(student, tuple(kept)) if kept else Code(student, skipped=msg("similarity.skip_too_big",
                                                                            size_mb=size / 2**20, max_mb=MAX_BYTES / 2**20))


def _fingerprint(text: str, boilerplate: np.ndarray) -> CodeFingerprint:
    return CodeFingerprint("code.py", NOISE, 1, boilerplate, language="python", fp=io.StringIO(text))


def boilerplate_hashes(codes: list[Code]) -> np.ndarray:
    """Every fingerprint of the starter's cells (window 1, as copydetect's own boilerplate does)."""
    hashes: set = set()
    for code in codes:
        for cell in code.cells:
            hashes |= _fingerprint(cell.source, np.array([])).hashes
    return np.unique(np.array(sorted(hashes), dtype=np.int64)) if hashes else np.array([], dtype=np.int64)


class Fingerprints:
    """The fingerprints of each submission (all its cells joined) and of each of its cells,
    computed once, with the starter's removed."""

    def __init__(self, codes: list[Code], boilerplate: np.ndarray) -> None:
        self.codes = {code.student: code for code in codes if not code.skipped}
        self.boilerplate = boilerplate
        self.whole = {student: _fingerprint("\n\n".join(cell.source for cell in code.cells), boilerplate)
                      for student, code in self.codes.items()}
        self._cells: dict[str, list[CodeFingerprint]] = {}

    def cells(self, student: str) -> list[CodeFingerprint]:
        if student not in self._cells:
            self._cells[student] = [_fingerprint(cell.source, self.boilerplate) for cell in self.codes[student].cells]
        return self._cells[student]

    def score(self, a: str, b: str) -> CodeScore:
        fa, fb = self.whole[a], self.whole[b]
        if not fa.hashes or not fb.hashes or not fa.hashes & fb.hashes:
            return CodeScore(a, b, 0.0, 0.0, 0)
        overlap, (share_a, share_b), _ = compare_files(fa, fb)
        return CodeScore(a, b, float(share_a), float(share_b), int(overlap))

    def all_scores(self) -> list[CodeScore]:
        return [self.score(a, b) for a, b in combinations(sorted(self.whole), 2)]

    def matches(self, a: str, b: str) -> list[CellMatch]:
        """The (cell of A, cell of B) that share fingerprints, most shared first (MAX_CELL_MATCHES)."""
        found = []
        for fa, cell_a in zip(self.cells(a), self.codes[a].cells):
            for fb, cell_b in zip(self.cells(b), self.codes[b].cells):
                if not fa.hashes & fb.hashes:
                    continue
                overlap, _, (slices_a, slices_b) = compare_files(fa, fb)
                if overlap <= 0:
                    continue
                found.append(CellMatch(cell_a.index, cell_b.index, int(overlap), _lines(cell_a.source, slices_a),
                                       _lines(cell_b.source, slices_b)))
        return sorted(found, key=lambda m: (-m.shared_chars, m.a_cell, m.b_cell))[:MAX_CELL_MATCHES]


def _lines(source: str, slices) -> tuple[Line, ...]:
    """The cell's lines, each marked when a shared run of code touches it (slices: copydetect's
    [starts, ends] in the unfolded text)."""
    starts = [int(s) for s in np.asarray(slices[0]).ravel()] if len(slices) else []
    ends = [int(e) for e in np.asarray(slices[1]).ravel()] if len(slices) > 1 else []
    lines, offset = [], 0
    for number, text in enumerate(source.split("\n"), start=1):
        end = offset + len(text)
        shared = bool(text.strip()) and not text.lstrip().startswith("#") and any(s < end and e > offset for s, e in zip(starts, ends))
        if number <= MAX_LINES_SHOWN:
            lines.append(Line(number, text[:MAX_LINE_CHARS], shared))
        offset = end + 1
    return tuple(lines)


__all__ = ["Cell", "Code", "CellMatch", "CodeScore", "Fingerprints", "Line", "read_code", "boilerplate_hashes", "NOISE"]
