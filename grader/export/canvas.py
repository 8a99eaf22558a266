"""Canvas' gradebook import CSV.

Canvas reads the layout of its own gradebook export: `Student, ID, SIS User ID, SIS Login ID,
Section`, then one column per assignment named `Name (assignment id)`; a second row
`Points Possible` gives each assignment's points; then one row per student. Canvas matches a
student by ID, SIS User ID or SIS Login ID, so at least one of them must be filled in (without a
roster, the submission's id goes into SIS Login ID). A column without an id creates a new
assignment on import; with `--assignment-id`, the grades go to that existing assignment. An
empty cell leaves the student ungraded.
"""

from __future__ import annotations

import csv
import io

from .roster import Matching
from .summary import points

HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def assignment_column(assignment: str, assignment_id: str | None) -> str:
    return f"{assignment} ({assignment_id})" if assignment_id else assignment


def canvas_csv(matching: Matching, grades: dict[str, float | None], assignment: str, assignment_id: str | None,
               points_possible: float, implicit: bool) -> str:
    """The CSV text. `grades[student]` is None for a blank cell. `implicit`: no roster was given,
    so the student id stands in for the SIS Login ID."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*HEADER, assignment_column(assignment, assignment_id)])
    writer.writerow(["Points Possible", "", "", "", "", points(points_possible)])
    for entry in matching.entries:
        row = entry.row
        grade = grades.get(row.student)
        login = row.sis_login_id or (row.student if implicit else "")
        writer.writerow([row.name or (entry.result.display_name if entry.result else row.student), row.canvas_id,
                         row.sis_user_id, login, row.section, "" if grade is None else points(grade)])
    return buffer.getvalue()


def identified(row, implicit: bool) -> bool:
    return bool(row.canvas_id or row.sis_user_id or row.sis_login_id or implicit)


__all__ = ["canvas_csv", "assignment_column", "identified", "HEADER"]
