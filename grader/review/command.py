"""`grade review OUT [STUDENT] [--set CHECK=POINTS --why …] [--comment …] [--clear [CHECK]]`.

The request is checked against the student's result before anything is written: an unknown
student or check, points outside the check's 0..max, an override without a reason, or a result
the grader failed on (no automatic verdict to adjust) is refused with the fix, and the review
file is left as it was. A new override is sealed at once with its basis (the submission, the
rubric, the automatic verdict), then the whole folder is reviewed again and its class files
rebuilt, so the report, result.json, the gradebook and the class page agree when it returns.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from rapidfuzz import process

from ..identity import fold
from ..messages import msg, text
from .apply import StudentReview, apply_to_folder, basis_of, strip_review
from .book import Comment, Override, ReviewBook, ReviewFileError, clean_text, read_book, write_book

ALL = "*"  # --clear without a check: every override and the comment of that student


@dataclass(frozen=True)
class ReviewRequest:
    out: Path
    student: str | None = None
    sets: tuple[str, ...] = ()  # "CHECK=POINTS"
    why: str = ""
    comment: str | None = None
    clear: str | None = None  # None, ALL or a check id
    who: str = ""


@dataclass(frozen=True)
class ReviewDone:
    """What the command did, for its terminal lines."""

    path: Path | None  # the review file written (None: only listed)
    student: str | None
    changed: tuple[str, ...]  # "set hw_x=1", "comment", "cleared hw_y"
    reviews: tuple[StudentReview, ...]


def default_who() -> str:
    """Who is reviewing, when --by is not given: the login name (what `git blame` would say)."""
    try:
        return os.environ.get("GRADER_REVIEWER") or getpass.getuser()
    except (KeyError, OSError):
        return "teacher"


def _results(out: Path) -> dict[str, Path]:
    out = Path(out)
    if not out.is_dir():
        raise ReviewFileError(msg("export.not_a_folder", path=str(out)), hint=msg("export.not_a_folder_hint"))
    found = {p.parent.name: p for p in sorted(out.glob("*/result.json")) if p.is_file() and not p.parent.is_symlink()}
    if not found:
        raise ReviewFileError(msg("export.not_graded", path=str(out)), hint=msg("export.not_graded_hint"))
    return found


def _load(path: Path) -> dict:
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReviewFileError(msg("export.result_unreadable", error=f"{path}: {exc}")) from None
    if not isinstance(result, dict):
        raise ReviewFileError(msg("export.result_bad_field", field="$"))
    return strip_review(result)


def resolve_student(name: str, results: dict[str, Path]) -> str:
    """The student id a teacher means: the folder's id, or a name that folds to exactly one
    student's id or display name (identity's rule); else the three nearest, and no guess."""
    if name in results:
        return name
    wanted, matches = fold(name), set()
    for student, path in results.items():
        try:
            shown = json.loads(path.read_text(encoding="utf-8")).get("display_name") or ""
        except (OSError, ValueError, AttributeError):
            shown = ""
        if wanted and wanted in (fold(student), fold(str(shown))):
            matches.add(student)
    if len(matches) == 1:
        return matches.pop()
    nearest = [choice for choice, _, _ in process.extract(name, list(results), limit=3)]
    raise ReviewFileError(msg("review.unknown_student", student=name, nearest=", ".join(nearest) or "—"),
                          hint=msg("review.unknown_student_hint"))


def _override(spec: str, why: str, who: str, when: str, student: str, result: dict) -> Override:
    check_id, sep, value = spec.partition("=")
    check_id = check_id.strip()
    if not sep or not check_id:
        raise ReviewFileError(msg("review.bad_set", spec=spec), hint=msg("review.bad_set_hint"))
    checks = {c.get("id"): c for c in result.get("checks") or [] if isinstance(c, dict)}
    if check_id not in checks:
        nearest = [choice for choice, _, _ in process.extract(check_id, list(checks), limit=3)]
        raise ReviewFileError(msg("review.unknown_check", check=check_id, student=student, nearest=", ".join(nearest) or "—"))
    check = checks[check_id]
    if check.get("status") == "skipped":
        raise ReviewFileError(msg("review.skipped_check", check=check_id, student=student))
    try:
        points = float(value.strip().replace(",", "."))
    except ValueError:
        raise ReviewFileError(msg("review.bad_points", where=f"--set {spec}", value=value), hint=msg("review.bad_points_hint")) from None
    top = float(check.get("max_points") or 0.0)
    if not 0 <= points <= top:
        raise ReviewFileError(msg("review.points_range", check=check_id, points=points, max=top))
    if not why:
        raise ReviewFileError(msg("review.no_why", where=f"--set {spec}"), hint=msg("review.no_why_hint"))
    return Override(student, check_id, points, why, who, when, basis_of(result, check))


def review(request: ReviewRequest) -> ReviewDone:
    """Change the class's review file as asked (or only apply it), then review the folder again."""
    results = _results(request.out)
    book = read_book(request.out)  # a broken file is refused before anything is written
    changes: list[str] = []
    student = None
    if request.student is not None:
        student = resolve_student(request.student, results)
        result = _load(results[student])
        who = clean_text(request.who or default_who(), "who", "--by")
        why = clean_text(request.why, "why", "--why")
        when = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if request.sets and (result.get("status") == "grader_error" or result.get("score") is None):
            raise ReviewFileError(msg("review.not_graded", student=student), hint=msg("review.not_graded_hint"))
        new = [_override(spec, why, who, when, student, result) for spec in request.sets]
        if request.why and not new:
            raise ReviewFileError(msg("review.why_without_set"), hint=msg("review.bad_set_hint"))
        comment = None if request.comment is None else clean_text(request.comment, "comment", "--comment")
        if request.clear is not None:
            if request.clear != ALL and request.clear not in {o.check for o in book.for_student(student)[0]}:
                raise ReviewFileError(msg("review.nothing_to_clear", check=request.clear, student=student))
            book = book.without(student, None if request.clear == ALL else request.clear)
            changes.append(f"clear {request.clear}")
        for o in new:
            book = replace(book, overrides=tuple(x for x in book.overrides if (x.student, x.check) != (student, o.check)) + (o,))
            changes.append(f"set {o.check}={o.points:g}")
        if comment is not None:
            kept = tuple(c for c in book.comments if c.student != student)
            book = replace(book, comments=kept + ((Comment(student, comment, who, when),) if comment else ()))
            changes.append("comment" if comment else "comment cleared")
        if not changes:
            raise ReviewFileError(msg("review.nothing_asked"), hint=msg("review.bad_set_hint"))
    reviews, path = review_folder(request.out, book, changed=bool(changes))
    return ReviewDone(path, student, tuple(changes), tuple(reviews))


def review_lines(done: ReviewDone, summary: dict, lang: str) -> list[str]:
    """The command's terminal lines: what changed, then every reviewed student's score and what needs a look."""
    from .apply import needs_look_lines
    from ..report.terminal import score_text
    lines = []
    if done.changed:
        lines.append(text(lang, "review.done_changes", student=done.student, changes=", ".join(done.changed)))
        lines.append(text(lang, "review.done_file", path=str(done.path)))
    if not done.reviews:
        lines.append(text(lang, "review.none"))
    scores = {row["student"]: (row["score"], row["max_score"]) for row in summary.get("rows", [])}
    for r in done.reviews:
        score = score_text(*scores.get(r.student, (r.score, 0.0)))
        lines.append("  " + text(lang, "review.student_line", student=r.student, score=score, adjusted=len(r.applied),
                                 comment=text(lang, "review.student_comment") if r.comments else "",
                                 looks=text(lang, "review.student_looks", n=len(r.needs_look)) if r.needs_look else ""))
    return lines + ["  " + line for line in needs_look_lines(list(done.reviews), lang)]


def review_folder(out: Path, book: ReviewBook | None = None, students: list[str] | None = None,
                  changed: bool = False) -> tuple[list[StudentReview], Path | None]:
    """Apply the review file (or `book`) to the folder's results, and write the file back when it
    changed or when rows a teacher wrote by hand were just sealed with the basis they were applied
    against (so the next regrade can tell whether they still hold)."""
    book = read_book(out) if book is None else book
    reviews, sealed = apply_to_folder(out, book, students)
    if sealed:
        by_key = {(o.student, o.check): o for o in sealed}
        book = replace(book, overrides=tuple(by_key.get((o.student, o.check), o) for o in book.overrides))
    return reviews, write_book(out, book) if changed or sealed else book.path


__all__ = ["ReviewRequest", "ReviewDone", "review", "review_folder", "review_lines", "resolve_student", "default_who", "ALL"]
