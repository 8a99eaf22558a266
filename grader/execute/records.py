"""What running a submission produced: one CellRecord per code cell, one Execution per run."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

from ..kinds import CellStatus, RunStatus
from ..messages import Message
from ..sandbox import SandboxReport

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _status(value) -> CellStatus | RunStatus:
    """A cell ends ok/error/timeout/not_run, or, for the cell that was running when the whole
    run stopped, with the run's own status (memory_limit, process_limit, crashed)."""
    try:
        return CellStatus(value)
    except ValueError:
        return RunStatus(value)


@dataclass(frozen=True)
class CellRecord:
    index: int  # position in the notebook (0-based, all cells), or 0 for a module
    status: CellStatus | RunStatus
    source_head: str
    ename: str = ""
    evalue: Message | str = ""  # the student's exception text, or a grader Message
    traceback: str = ""
    output_bytes: int = 0
    truncated: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", _status(self.status))

    def to_json(self) -> dict:
        """The keys result.json has always had; `evalue` may still be a Message (rendered later)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Execution:
    """What running the student's code produced. `status` is about the run as a whole."""

    status: RunStatus
    cells: tuple
    artifacts: Path | None  # grader-owned copy of the harvest output, or None
    sandbox: SandboxReport
    duration_s: float
    message: Message | str = ""
    log_tail: str = ""
    harvest_s: float | None = None  # how long the harvest took (None: it never finished)
    notebook: dict | None = None  # the notebook as it ran, outputs included (capped): the report renders it
    delegation: dict | None = None  # the grader's own count of the fits it trained for this run (grader/delegate)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RunStatus(self.status))
        object.__setattr__(self, "cells", tuple(self.cells))


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def head(source: str) -> str:
    """A cell's first line (120 characters), with " …" if more follows: how the report names it."""
    lines = source.strip().splitlines()
    return (lines[0][:120] + (" …" if len(lines) > 1 else "")) if lines else ""


__all__ = ["CellRecord", "Execution", "strip_ansi", "head"]
