"""Moodle, in the two forms it imports, plus the feedback files.

1. The assignment's grading worksheet (`moodle-worksheet.csv`), for Assignment ▸ View all
   submissions ▸ Upload grading worksheet (the "offline grading worksheet" feedback plugin,
   mod/assign/feedback/offline). Its columns are those of "Download grading worksheet":
   Identifier ("Participant N"), Full name, Email address, Status, Grade, Maximum Grade,
   Grade can be changed, Last modified (submission), Last modified (grade), Feedback comments.
   Moodle finds the person by the participant number alone and requires Identifier, Grade and
   Last modified (grade). It skips a row whose grade was changed in Moodle after the worksheet's
   "Last modified (grade)" (unless the teacher ticks the override), so that cell is written back
   exactly as the downloaded worksheet had it; a row is written only for a known participant
   (from a worksheet roster, or a result whose identity came from a Moodle download).
2. The gradebook's CSV import (`moodle.csv`, Grades ▸ Import ▸ CSV file): an identifier column
   (mapped to "Email address" or "ID number"), `grade`, `feedback`. In that import one
   identifier Moodle does not know aborts the whole import, so a row is written only when the
   roster gives the identifier (a Moodle grade export, or the plain form); Moodle clears a grade
   when a feedback arrives without one, so a row always has both.
3. `moodle-feedback.zip`, for "Upload multiple feedback files in a zip": each student's
   report.html in a folder named as Moodle's own download names it,
   `<Full name>_<participant>_assignfeedback_file_/` (Moodle reads the participant number from
   the second `_`-separated part, so an underscore in a name is replaced by a space).

A student with no grade is in none of them: a blank grade would mean nothing, a feedback alone
would clear the grade. Text cells are neutralised against Excel formula injection.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

from .lms_files import safe_cell
from .roster import WORKSHEET, Entry, Matching, moodle_label
from .summary import points

IDENTIFIERS = ("email", "idnumber")
FEEDBACK_PLUGIN = "assignfeedback_file"


def identifier(row, field: str, implicit: bool) -> str:
    value = getattr(row, field)
    return value or (row.student if implicit and field == "idnumber" else "")


def moodle_csv(matching: Matching, grades: dict[str, float | None], feedback: dict[str, str], field: str,
               implicit: bool) -> tuple[str, int, list[str]]:
    """The CSV text, how many rows it has, and the rows left out for want of an identifier."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([field, "grade", "feedback"])
    no_identifier, written = [], 0
    for entry in matching.entries:
        grade, note = grades.get(entry.row.key), feedback.get(entry.row.key, "")
        if grade is None or not note:
            continue  # never one without the other
        ident = identifier(entry.row, field, implicit)
        if not ident:
            no_identifier.append(entry.row.label)
            continue
        writer.writerow([safe_cell(ident), points(grade), safe_cell(note)])
        written += 1
    return buffer.getvalue(), written, no_identifier


def participant(entry: Entry) -> str:
    """Moodle's participant number for this entry, if the roster or the result knows it."""
    if entry.row.lms == "moodle" and entry.row.lms_user_id:
        return entry.row.lms_user_id
    ident = entry.result.identity if entry.result is not None else None
    return ident.lms_user_id if ident is not None and ident.lms == "moodle" else ""


def full_name(entry: Entry) -> str:
    return entry.row.name or (entry.result.display_name if entry.result is not None else entry.row.student)


def worksheet_header(downloaded: tuple[str, ...] = ()) -> list[str]:
    """The worksheet's column labels: those of the downloaded worksheet where it had the column
    (Moodle reads an upload by the labels of the teacher's language: a Spanish worksheet goes back
    in Spanish), English for the rest."""
    own = {moodle_label(label): label.strip() for label in downloaded}
    return [own.get(moodle_label(english), english) for english in WORKSHEET]


def worksheet_csv(matching: Matching, grades: dict[str, float | None], feedback: dict[str, str],
                  max_grade: float, labels: tuple[str, ...] = ()) -> tuple[str, list[Entry], list[Entry]]:
    """The worksheet text, the entries written, and those left out for want of a participant
    number (graded, but Moodle could not place them). `labels`: the downloaded worksheet's header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(worksheet_header(labels))
    written, unknown = [], []
    for entry in matching.entries:
        row = entry.row
        grade = grades.get(row.key)
        if grade is None:
            continue
        number = participant(entry)
        if not number:
            unknown.append(entry)
            continue
        # the worksheet's own Identifier when it came from one: Moodle strips its (translated)
        # "Participant" label by length, so a rebuilt English label could name someone else
        identifier = row.identifier if row.identifier and row.lms_user_id == number else f"Participant {number}"
        writer.writerow([safe_cell(identifier), safe_cell(full_name(entry)), safe_cell(row.email),
                         safe_cell(row.status), points(grade), row.max_grade or points(max_grade),
                         row.can_change or "Yes", _as_downloaded(row.modified_submission),
                         _as_downloaded(row.modified_grade),
                         safe_cell(feedback.get(row.key, ""))])
        written.append(entry)
    return buffer.getvalue(), written, unknown


def _as_downloaded(value: str) -> str:
    """A worksheet date cell written back exactly (Moodle compares it with its own record), "-"
    (never graded) included; anything else that Excel could run as a formula is neutralised."""
    return value if value == "-" else safe_cell(value)


def feedback_folder(name: str, number: str) -> str:
    """`<Full name>_<participant>_assignfeedback_file_`, as Moodle's download names its folders. The
    trailing `_` is what Moodle before 4.1 needs (it splits path and file name on `_` into five
    parts); 4.1 and later read both forms."""
    clean = re.sub(r"[\x00-\x1f_/\\:*?\"<>|]+", " ", name).strip(" .") or "Participant"
    return f"{' '.join(clean.split())}_{number}_{FEEDBACK_PLUGIN}_"


def feedback_zip(path: Path, entries: list[Entry]) -> tuple[int, list[Entry]]:
    """Write the zip of report.html files; how many went in, and the entries without a report."""
    missing, count = [], 0
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in entries:
            report = entry.result.path.parent / "report.html" if entry.result is not None else None
            if report is None or not report.is_file():
                missing.append(entry)
                continue
            info = zipfile.ZipInfo(f"{feedback_folder(full_name(entry), participant(entry))}/report.html",
                                   date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, report.read_bytes())
            count += 1
    partial.replace(path)
    return count, missing


__all__ = ["moodle_csv", "worksheet_csv", "feedback_zip", "feedback_folder", "participant", "identifier",
           "IDENTIFIERS"]
