"""Moodle's grade import CSV: an identifier column, the grade, and the feedback.

In Moodle's import (Grades ▸ Import ▸ CSV file) the teacher maps the identifier column to
"Email address" or "ID number", `grade` to the assignment's grade item and `feedback` to its
feedback. Moodle clears a grade when a feedback arrives without one, so a row is written only
when it has both: a student with no grade (no submission without --missing-zero, or no usable
result) is left out of the file and listed beside it instead.
"""

from __future__ import annotations

import csv
import io

from .roster import Matching
from .summary import points

IDENTIFIERS = ("email", "idnumber")


def identifier(row, field: str, implicit: bool) -> str:
    value = getattr(row, field)
    return value or (row.student if implicit and field == "idnumber" else "")


def moodle_csv(matching: Matching, grades: dict[str, float | None], feedback: dict[str, str], field: str,
               implicit: bool) -> tuple[str, int, list[str]]:
    """The CSV text, how many rows it has, and the students left out for want of an identifier."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([field, "grade", "feedback"])
    no_identifier, written = [], 0
    for entry in matching.entries:
        grade, note = grades.get(entry.row.student), feedback.get(entry.row.student, "")
        if grade is None or not note:
            continue  # never one without the other
        ident = identifier(entry.row, field, implicit)
        if not ident:
            no_identifier.append(entry.row.student)
            continue
        writer.writerow([ident, points(grade), note])
        written += 1
    return buffer.getvalue(), written, no_identifier


__all__ = ["moodle_csv", "identifier", "IDENTIFIERS"]
