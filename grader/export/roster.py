"""The roster: which LMS identity each submission's student id stands for.

A CSV with a header row; `student` (the id the grader gave the submission: its file or folder
name, as in OUT/<student>/) is required, every other column is optional:

    student       the submission's id (required, unique)
    name          the name the LMS shows ("Last, First" in Canvas)
    canvas_id     Canvas' numeric user ID (the ID column of a Canvas gradebook export)
    sis_user_id   Canvas' SIS User ID
    sis_login_id  Canvas' SIS Login ID
    section       Canvas' Section
    email         Moodle's email address identifier
    idnumber      Moodle's ID number identifier

An unknown column is refused rather than ignored: a misspelt `emial` would otherwise export
every student without an identifier. The matching keeps both kinds of mismatch (graded but not
rostered, rostered but not graded) so that the export can list them; nobody is dropped silently.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..messages import msg
from .results import StudentResult

COLUMNS = ("student", "name", "canvas_id", "sis_user_id", "sis_login_id", "section", "email", "idnumber")
MAX_ROSTER_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class RosterRow:
    student: str
    name: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""
    idnumber: str = ""
    line: int = 0  # where it is in the roster file (0: made up from a result, no roster given)


@dataclass(frozen=True)
class Roster:
    rows: tuple[RosterRow, ...]
    path: Path | None  # None: no roster was given, each result stands for itself


@dataclass(frozen=True)
class Entry:
    """One line of an export: a rostered student, with their result if there is one."""

    row: RosterRow
    result: StudentResult | None


@dataclass(frozen=True)
class Matching:
    entries: tuple[Entry, ...]  # roster order: every rostered student, graded or not
    unrostered: tuple[StudentResult, ...]  # graded, but no roster row: not exported
    absent: tuple[RosterRow, ...]  # rostered, but no usable result


def load_roster(path: Path) -> Roster:
    """Read and validate a roster CSV; UsageError says which line or column is wrong."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise UsageError(msg("export.roster_too_large", path=str(path), mb=MAX_ROSTER_BYTES >> 20))
        raw = path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
    except FileNotFoundError:
        raise UsageError(msg("export.roster_missing", path=str(path))) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(msg("export.roster_unreadable", path=str(path), error=str(exc)),
                         hint=msg("export.roster_hint", columns=", ".join(COLUMNS))) from exc
    try:
        records = list(csv.reader(io.StringIO(raw, newline=""), strict=True))
    except csv.Error as exc:
        raise UsageError(msg("export.roster_not_csv", path=str(path), error=str(exc)),
                         hint=msg("export.roster_hint", columns=", ".join(COLUMNS))) from exc
    if not records or not any(cell.strip() for cell in records[0]):
        raise UsageError(msg("export.roster_empty", path=str(path)), hint=msg("export.roster_hint", columns=", ".join(COLUMNS)))
    header = [cell.strip().lower() for cell in records[0]]
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise UsageError(msg("export.roster_unknown_columns", path=str(path), columns=", ".join(repr(u) for u in unknown)),
                         hint=msg("export.roster_hint", columns=", ".join(COLUMNS)))
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise UsageError(msg("export.roster_repeated_columns", path=str(path), columns=", ".join(repeated)))
    if "student" not in header:
        raise UsageError(msg("export.roster_no_student", path=str(path)), hint=msg("export.roster_hint", columns=", ".join(COLUMNS)))
    rows, seen = [], {}
    for line, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise UsageError(msg("export.roster_row_width", path=str(path), line=line, found=len(record), expected=len(header)))
        values = {name: cell.strip() for name, cell in zip(header, record)}
        if not values["student"]:
            raise UsageError(msg("export.roster_row_no_student", path=str(path), line=line))
        if values["student"] in seen:
            raise UsageError(msg("export.roster_duplicate", path=str(path), student=values["student"], line=line,
                                 first=seen[values["student"]]))
        seen[values["student"]] = line
        rows.append(RosterRow(line=line, **values))
    return Roster(tuple(rows), path)


def implicit_roster(results) -> Roster:
    """Without --roster each result is its own row: the student id stands in for the LMS login."""
    return Roster(tuple(RosterRow(r.student, name=r.display_name) for r in sorted(results, key=lambda r: r.student)), None)


def match(roster: Roster, results) -> Matching:
    by_student = {r.student: r for r in results}
    entries = tuple(Entry(row, by_student.get(row.student)) for row in roster.rows)
    rostered = {row.student for row in roster.rows}
    unrostered = tuple(r for r in sorted(results, key=lambda r: r.student) if r.student not in rostered)
    absent = tuple(e.row for e in entries if e.result is None)
    return Matching(entries, unrostered, absent)


__all__ = ["COLUMNS", "RosterRow", "Roster", "Entry", "Matching", "load_roster", "implicit_roster", "match"]
