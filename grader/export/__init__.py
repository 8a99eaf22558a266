"""Grades into the LMS: `grade export GRADED_FOLDER --to canvas|moodle|gradescope`, and the
Gradescope autograder bundle (`grade gradescope-bundle`).

The export reads what a batch wrote (OUT/<student>/result.json) and regrades nothing, so the
grades it hands over are exactly the ones in the reports. Everyone it could not hand over, and
why, is said on the terminal and written beside the export (`<format>-problems.txt`):

    results.py     result.json → StudentResult, or BrokenResult (one bad file stops no one else)
    roster.py      the roster CSV, and the matching of roster rows to results, both ways
    summary.py     the report's summary as a feedback paragraph (text or Markdown)
    canvas.py      Canvas' gradebook import CSV
    moodle.py      Moodle's grade import CSV (never a feedback without its grade)
    gradescope.py  Gradescope's results.json
    bundle.py      the autograder zip (setup.sh, run_autograder, the project)
    autograder.py  what run_autograder runs inside Gradescope's container

A grade is blank, not 0, when there is nothing to grade: a rostered student with no submission
(0 with `--missing-zero`), and a result the grader itself failed on (`grader_error`, or a
result.json that cannot be read): those are the grader's problem, so no flag turns them into 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OutputError, UsageError
from ..messages import Message, msg, render
from .canvas import canvas_csv, identified
from .gradescope import VISIBILITIES, results_json
from .moodle import IDENTIFIERS, moodle_csv
from .results import BrokenResult, GradedFolder, StudentResult, load_folder
from .roster import COLUMNS, Matching, Roster, implicit_roster, load_roster, match
from .summary import feedback_text

FORMATS = ("canvas", "moodle", "gradescope")
NOT_GRADABLE = ("grader_error",)  # the grader failed, not the student: regrade, never export a 0


@dataclass(frozen=True)
class ExportRequest:
    folder: Path
    to: str
    roster: Path | None = None
    assignment: str | None = None  # default: the graded folder's name
    assignment_id: str | None = None
    out: Path | None = None  # default: GRADED_FOLDER/lms
    missing_zero: bool = False
    moodle_id: str = "email"
    visibility: str = "visible"
    lang: str = "es"
    points_possible: float | None = None  # default: the rubric's total

    def output_folder(self) -> Path:
        return Path(self.out) if self.out else Path(self.folder) / "lms"


@dataclass(frozen=True)
class ExportSummary:
    """What the export wrote and whom it could not hand over; `problems` are the lines of the
    problems file, as Messages (the terminal and the file render them)."""

    to: str
    files: tuple[Path, ...]
    exported: int
    blank: int
    problems: tuple[Message, ...]
    problems_file: Path
    matching: Matching
    broken: tuple[BrokenResult, ...] = field(default=())


def _grade(result: StudentResult | None, missing_zero: bool) -> float | None:
    if result is None:
        return 0.0 if missing_zero else None
    if result.status in NOT_GRADABLE:
        return None
    return result.score


def _write(path: Path, content: str) -> None:
    from ..report import write_text_atomic  # the report package's one atomic writer

    try:
        write_text_atomic(path, content)
    except OSError as exc:
        raise OutputError(msg("export.cannot_write", path=str(path), error=str(exc))) from exc


def _validate(request: ExportRequest) -> None:
    if request.to not in FORMATS:
        raise UsageError(msg("export.unknown_format", to=request.to, formats=", ".join(FORMATS)))
    if request.moodle_id not in IDENTIFIERS:
        raise UsageError(msg("export.unknown_moodle_id", found=request.moodle_id, allowed=", ".join(IDENTIFIERS)))
    if request.visibility not in VISIBILITIES:
        raise UsageError(msg("export.unknown_visibility", found=request.visibility, allowed=", ".join(VISIBILITIES)))
    if request.to == "moodle" and request.roster is None and request.moodle_id == "email":
        raise UsageError(msg("export.moodle_needs_roster"), hint=msg("export.moodle_needs_roster_hint"))


def export(request: ExportRequest, rubric=None) -> ExportSummary:
    """Write one LMS's files for a graded folder. Raises UsageError for input that cannot be
    exported at all (not a graded folder, a bad roster); anything per student is a problem line."""
    _validate(request)
    graded: GradedFolder = load_folder(Path(request.folder))
    roster: Roster = load_roster(request.roster) if request.roster else implicit_roster(graded.results)
    if request.roster is None:  # a broken result still has a row: its student must not vanish
        known = {row.student for row in roster.rows}
        extra = [b for b in graded.broken if b.student not in known]
        if extra:
            from .roster import RosterRow
            roster = Roster(tuple(sorted([*roster.rows, *(RosterRow(b.student) for b in extra)],
                                         key=lambda r: r.student)), None)
    matching = match(roster, graded.results)
    implicit = roster.path is None
    out = request.output_folder()
    lang = request.lang
    broken_ids = {b.student for b in graded.broken}
    grades = {e.row.student: _grade(e.result, request.missing_zero and e.row.student not in broken_ids)
              for e in matching.entries}
    problems: list[Message] = []
    for item in graded.broken:
        problems.append(msg("export.problem_broken", student=item.student, path=str(item.path), reason=item.reason))
    for result in matching.unrostered:
        problems.append(msg("export.problem_unrostered", student=result.student, score=result.score,
                            max_score=result.max_score))
    absent_key = ("export.problem_absent_zero" if request.missing_zero
                  else "export.problem_absent_moodle" if request.to == "moodle" else "export.problem_absent")
    for row in matching.absent:
        if row.student not in broken_ids:
            problems.append(msg(absent_key, student=row.student, name=row.name or row.student))
    for entry in matching.entries:
        if entry.result is not None and entry.result.status in NOT_GRADABLE:
            problems.append(msg("export.problem_grader_error", student=entry.row.student, message=entry.result.message))
    files: list[Path] = []
    if request.to == "canvas":
        points_possible = request.points_possible if request.points_possible is not None else _points_possible(rubric, graded)
        for entry in matching.entries:
            if not identified(entry.row, implicit):
                problems.append(msg("export.problem_no_canvas_id", student=entry.row.student))
        assignment = request.assignment or Path(request.folder).resolve().name
        path = out / "canvas.csv"
        _write(path, canvas_csv(matching, grades, assignment, request.assignment_id, points_possible, implicit))
        files.append(path)
        exported = sum(1 for e in matching.entries if grades.get(e.row.student) is not None)
    elif request.to == "moodle":
        feedback = {e.row.student: (feedback_text(e.result, lang) if e.result is not None
                                    else render(msg("export.feedback_no_submission"), lang))
                    for e in matching.entries if grades.get(e.row.student) is not None}
        content, written, no_identifier = moodle_csv(matching, grades, feedback, request.moodle_id, implicit)
        for student in no_identifier:
            problems.append(msg("export.problem_no_moodle_id", student=student, field=request.moodle_id))
        path = out / "moodle.csv"
        _write(path, content)
        files.append(path)
        exported = written
    else:
        import json

        for entry in matching.entries:
            if entry.result is None:
                continue
            path = out / "gradescope" / entry.row.student / "results.json"
            _write(path, json.dumps(results_json(entry.result, lang, request.visibility), indent=1, ensure_ascii=False))
            files.append(path)
        exported = len(files)
    blank = len(matching.entries) - exported
    problems_file = out / f"{request.to}-problems.txt"
    lines = [render(p, lang) for p in problems] or [render(msg("export.no_problems"), lang)]
    _write(problems_file, "\n".join(lines) + "\n")
    return ExportSummary(request.to, tuple(files), exported, blank, tuple(problems), problems_file, matching,
                         graded.broken)


def _points_possible(rubric, graded: GradedFolder) -> float:
    if rubric is not None:
        return float(rubric.max_score)
    return max((r.max_score for r in graded.results), default=0.0)


def summary_lines(summary: ExportSummary, lang: str) -> list[str]:
    """What the terminal shows: each problem, then what was written where."""
    lines = [f"  {render(p, lang)}" for p in summary.problems]
    lines.append(render(msg("export.done", to=summary.to, n=summary.exported, blank=summary.blank,
                            problems=len(summary.problems)), lang))
    shown = list(summary.files[:3]) + ([Path("…")] if len(summary.files) > 3 else [])
    lines += [f"  {path}" for path in shown]
    lines.append("  " + render(msg("export.problems_file", path=str(summary.problems_file)), lang))
    return lines


__all__ = ["export", "ExportRequest", "ExportSummary", "summary_lines", "FORMATS", "COLUMNS", "load_folder",
           "load_roster", "match", "results_json", "canvas_csv", "moodle_csv", "feedback_text"]
