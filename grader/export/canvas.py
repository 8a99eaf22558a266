"""Canvas' gradebook import CSV (Grades ▸ Import).

Canvas reads the layout of its own gradebook export: `Student, ID, SIS User ID, SIS Login ID,
Section`, then one column per assignment named `Name (assignment id)`; a second row
`Points Possible`; then one row per student. Canvas finds the student by ID first, so the ID is
written wherever it is known (a Canvas roster, or a result whose identity came from a Canvas
download); without one, SIS User ID / SIS Login ID (without a roster, the submission id goes into
SIS Login ID). A column without an id creates a new assignment, with the Points Possible given;
with `--assignment-id` (or an assignment column of the same name in a Canvas roster) the grades go
to that existing assignment, which keeps its own points possible: the row does not change it,
so the export warns when the two differ.

What Canvas does with a blank cell: it clears a score that is already there. So a student
without a grade (no submission, a grader failure) is left out of the file altogether, and
listed beside it, instead of getting an empty cell. Text cells are neutralised against Excel
formula injection (lms_files.safe_cell): Canvas finds the student by ID, never by the name.
"""

from __future__ import annotations

import csv
import io

from ..identity import fold
from .lms_files import safe_cell
from .roster import Entry, Matching, Roster
from .summary import points

HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def assignment_column(assignment: str, assignment_id: str | None) -> str:
    return f"{assignment} ({assignment_id})" if assignment_id else assignment


def roster_assignment(roster: Roster, assignment: str):
    """The Canvas roster's column for this assignment (same name, folded), if exactly one."""
    found = [a for a in roster.canvas_assignments if fold(a.name) == fold(assignment)]
    return found[0] if len(found) == 1 else None


def canvas_id(entry: Entry) -> str:
    if entry.row.canvas_id:
        return entry.row.canvas_id
    ident = entry.result.identity if entry.result is not None else None
    return ident.lms_user_id if ident is not None and ident.lms == "canvas" else ""


def canvas_csv(matching: Matching, grades: dict[str, float | None], assignment: str, assignment_id: str | None,
               points_possible: float, implicit: bool) -> tuple[str, list[Entry]]:
    """The CSV text, and the entries left out (no grade: a blank cell would clear Canvas' score).
    `grades[row.key]` is None for no grade. `implicit`: no roster was given, so the student id
    stands in for the SIS Login ID where no Canvas ID is known."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*HEADER, safe_cell(assignment_column(assignment, assignment_id))])
    writer.writerow(["Points Possible", "", "", "", "", points(points_possible)])
    left_out = []
    for entry in matching.entries:
        row = entry.row
        grade = grades.get(row.key)
        if grade is None:
            left_out.append(entry)
            continue
        ident = canvas_id(entry)
        login = row.sis_login_id or (row.student if implicit and not ident else "")
        name = row.name or (entry.result.display_name if entry.result else row.student)
        writer.writerow([safe_cell(name), ident, safe_cell(row.sis_user_id), safe_cell(login), safe_cell(row.section),
                         points(grade)])
    return buffer.getvalue(), left_out


def identified(entry: Entry, implicit: bool) -> bool:
    row = entry.row
    return bool(canvas_id(entry) or row.sis_user_id or row.sis_login_id or implicit)


__all__ = ["canvas_csv", "assignment_column", "identified", "canvas_id", "roster_assignment", "HEADER"]
