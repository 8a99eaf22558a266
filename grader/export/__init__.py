"""Grades into the LMS: `grade export GRADED_FOLDER --to canvas|moodle|gradescope`, and the
Gradescope autograder bundle (`grade gradescope-bundle`).

The export reads what a batch wrote (OUT/<student>/result.json) and regrades nothing, so the
grades it hands over are exactly the ones in the reports. Everyone it could not hand over, and
why, is said on the terminal and written beside the export (`<format>-problems.txt`):

    results.py     result.json → StudentResult, or BrokenResult (one bad file stops no one else)
    lms_files.py   a CSV as Excel or the LMS saved it (encoding, separator), and formula-safe cells
    roster.py      the roster (Canvas' gradebook export, Moodle's worksheet or grade export, the
                   plain form), and the one matching rule of roster rows to submissions
    summary.py     the report's summary as a feedback paragraph (text or Markdown)
    canvas.py      Canvas' gradebook import CSV (by Canvas ID; no blank cells)
    moodle.py      Moodle's grading worksheet and feedback zip, and its gradebook import CSV
    gradescope.py  Gradescope's results.json (the same file run_autograder writes)
    bundle.py      the autograder zip (setup.sh, run_autograder, the project)
    autograder.py  what run_autograder runs inside Gradescope's container

No grade is exported (the LMS keeps what it has) when there is nothing to grade: a rostered
student with no submission (0 with `--missing-zero`, and only when no unmatched submission could
be theirs), and a result the grader itself failed on (`grader_error`, or a result.json that
cannot be read): those are the grader's problem, so no flag turns them into 0. A roster and a
folder that disagree (a submission without its row, a row or submission with several
candidates) stop the export before anything is written, unless `--allow-unmatched`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OutputError, UsageError
from ..messages import Joined, Message, msg, render
from ..review.apply import needs_look_messages
from .canvas import canvas_csv, identified, roster_assignment
from .gradescope import VISIBILITIES, results_json
from .moodle import IDENTIFIERS, feedback_zip, moodle_csv, participant, worksheet_csv
from .results import NOT_GRADABLE, BrokenResult, GradedFolder, StudentResult, load_folder
from .roster import COLUMNS, Doubt, Entry, Matching, Roster, implicit_roster, load_roster, match
from .summary import feedback_text, points

FORMATS = ("canvas", "moodle", "gradescope")


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
    allow_unmatched: bool = False  # export what matched even when some rows or submissions did not

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


def _grade(entry: Entry, missing_zero: bool, plausible: frozenset) -> float | None:
    """None: nothing is exported for this row. 0 for "no submission" only when no submission
    matched under any rule and no unmatched submission could be theirs."""
    if entry.broken is not None:
        return None
    if entry.result is None:
        return 0.0 if missing_zero and entry.row.key not in plausible else None
    if entry.result.status in NOT_GRADABLE:
        return None
    return entry.result.score


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


DOUBT_KEYS = {"row_none": "export.doubt_row_none", "row_several": "export.doubt_row_several",
              "submission_none": "export.doubt_submission_none",
              "submission_several": "export.doubt_submission_several"}


def doubt_message(doubt: Doubt) -> Message:
    near = ", ".join(doubt.candidates) if doubt.candidates else "—"
    return msg(DOUBT_KEYS[doubt.kind], who=doubt.who, line=doubt.line, candidates=near)


def _stop_if_unmatched(matching: Matching, request: ExportRequest) -> None:
    """A roster and a folder that disagree stop the export: exporting what matched would put
    someone's work down as missing (or, with --missing-zero, as 0)."""
    blocking = matching.blocking
    if blocking and not request.allow_unmatched:
        raise UsageError(msg("export.unmatched_stop", n=len(blocking),
                             listing=Joined([doubt_message(d) for d in blocking], sep="\n    ")),
                         hint=msg("export.unmatched_hint"))


def export(request: ExportRequest, rubric=None) -> ExportSummary:
    """Write one LMS's files for a graded folder. Raises UsageError for input that cannot be
    exported at all (not a graded folder, a bad roster, a roster that does not match the folder);
    anything per student is a problem line."""
    _validate(request)
    reviews = _apply_review(Path(request.folder))
    graded: GradedFolder = load_folder(Path(request.folder))
    if request.to == "moodle" and request.roster is None and request.moodle_id == "email" \
            and not any(r.identity.lms == "moodle" and r.identity.lms_user_id for r in graded.results):
        raise UsageError(msg("export.moodle_needs_roster"), hint=msg("export.moodle_needs_roster_hint"))
    roster: Roster = load_roster(request.roster) if request.roster else implicit_roster(graded.results, graded.broken)
    matching = match(roster, graded.results, graded.broken)
    _stop_if_unmatched(matching, request)
    implicit = roster.path is None
    out = request.output_folder()
    lang = request.lang
    grades = {e.row.key: _grade(e, request.missing_zero, matching.plausible) for e in matching.entries}
    problems: list[Message] = []
    problems += needs_look_messages(reviews)  # an override whose basis changed: the automatic score goes, said
    for item in graded.broken:
        problems.append(msg("export.problem_broken", student=item.student, path=str(item.path), reason=item.reason))
    for result in matching.unrostered:
        problems.append(msg("export.problem_unrostered", student=result.student, score=result.score,
                            max_score=result.max_score))
    for doubt in matching.doubts:
        if doubt.kind != "row_none" or doubt.candidates:
            problems.append(doubt_message(doubt))
    absent_key = "export.problem_absent_zero" if request.missing_zero else "export.problem_absent"
    for row in matching.absent:
        key = "export.problem_absent_maybe" if row.key in matching.plausible else absent_key
        problems.append(msg(key, student=row.label, name=row.name or row.label))
    for entry in matching.entries:
        if entry.result is not None and entry.result.status in NOT_GRADABLE:
            problems.append(msg("export.problem_grader_error", student=entry.row.label, message=entry.result.message))
    files: list[Path] = []
    points_possible = request.points_possible if request.points_possible is not None else _points_possible(rubric, graded)
    if request.to == "canvas":
        for entry in matching.entries:
            if grades.get(entry.row.key) is not None and not identified(entry, implicit):
                problems.append(msg("export.problem_no_canvas_id", student=entry.row.label))
        assignment = request.assignment or Path(request.folder).resolve().name
        assignment_id = request.assignment_id
        existing = roster_assignment(roster, assignment)
        if existing is not None and not assignment_id:
            assignment_id = existing.id
        if existing is not None and existing.id == assignment_id and existing.points_possible:
            try:
                theirs = float(existing.points_possible)
            except ValueError:
                theirs = None
            if theirs is not None and abs(theirs - points_possible) > 1e-9:
                problems.append(msg("export.problem_canvas_points", assignment=assignment, canvas=points(theirs),
                                    ours=points(points_possible)))
        path = out / "canvas.csv"
        content, left_out = canvas_csv(matching, grades, assignment, assignment_id, points_possible, implicit)
        if left_out:
            problems.append(msg("export.problem_canvas_left_out", n=len(left_out),
                                students=", ".join(e.row.label for e in left_out)))
        _write(path, content)
        files.append(path)
        exported = sum(1 for e in matching.entries if grades.get(e.row.key) is not None)
    elif request.to == "moodle":
        feedback = {e.row.key: (feedback_text(e.result, lang) if e.result is not None
                                else render(msg("export.feedback_no_submission"), lang))
                    for e in matching.entries if grades.get(e.row.key) is not None}
        exported = 0
        knows_participants = any(participant(e) for e in matching.entries)
        if knows_participants:
            locked = [e for e in matching.entries if e.row.can_change.strip().casefold() == "no"
                      and grades.get(e.row.key) is not None]
            for entry in locked:
                problems.append(msg("export.problem_moodle_locked", student=entry.row.label))
            open_grades = {k: (None if any(e.row.key == k for e in locked) else v) for k, v in grades.items()}
            labels = roster.header if roster.source == "moodle_worksheet" else ()
            content, written, unknown = worksheet_csv(matching, open_grades, feedback, points_possible, labels)
            for entry in unknown:
                problems.append(msg("export.problem_no_participant", student=entry.row.label))
            path = out / "moodle-worksheet.csv"
            _write(path, content)
            files.append(path)
            zip_path = out / "moodle-feedback.zip"
            count, missing = feedback_zip(zip_path, [e for e in written if e.result is not None])
            for entry in missing:
                problems.append(msg("export.problem_no_report", student=entry.row.label))
            files.append(zip_path)
            exported = len(written)
        if not knows_participants or any(getattr(e.row, request.moodle_id) for e in matching.entries):
            content, written_csv, no_identifier = moodle_csv(matching, grades, feedback, request.moodle_id, implicit)
            for student in no_identifier:
                problems.append(msg("export.problem_no_moodle_id", student=student, field=request.moodle_id))
            path = out / "moodle.csv"
            _write(path, content)
            files.append(path)
            exported = max(exported, written_csv)
    else:
        import json

        for entry in matching.entries:
            if entry.result is None:
                continue
            path = out / "gradescope" / entry.result.student / "results.json"
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


def _apply_review(folder: Path) -> list:
    """The teacher's review file applied to the results first, so that an edit made by hand since the
    last run is exported; a file that cannot be read stops the export (exporting the automatic scores
    would silently drop the teacher's adjustments)."""
    from ..review import ReviewFileError, review_folder
    if not folder.is_dir():
        return []
    try:
        return review_folder(folder)[0]
    except ReviewFileError as exc:
        raise ReviewFileError(msg("export.review_broken", error=exc.message), hint=exc.hint) from exc


def summary_lines(summary: ExportSummary, lang: str) -> list[str]:
    """What the terminal shows: each problem, then what was written where."""
    lines = [f"  {render(p, lang)}" for p in summary.problems]
    lines.append(render(msg("export.done", to=summary.to, n=summary.exported, blank=summary.blank,
                            problems=len(summary.problems)), lang))
    shown = list(summary.files[:3]) + ([Path("…")] if len(summary.files) > 3 else [])
    lines += [f"  {path}" for path in shown]
    lines.append("  " + render(msg("export.problems_file", path=str(summary.problems_file)), lang))
    return lines


__all__ = ["NOT_GRADABLE", "export", "ExportRequest", "ExportSummary", "summary_lines", "FORMATS", "COLUMNS", "load_folder",
           "load_roster", "match", "results_json", "canvas_csv", "moodle_csv", "feedback_text"]
