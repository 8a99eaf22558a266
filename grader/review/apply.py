"""A review applied to a result: the teacher's points replace the automatic ones, beside them.

`apply_review` is pure and idempotent: it first takes any earlier review out of the result (the
automatic points are kept in each check's `review.auto_points`), then applies the book again.
So a rerun, a hand edit of the review file, or a `--clear` all end in the same place, and a
regrade (a fresh result.json, no review in it) gets its overrides back.

An override is applied only while its basis holds: the same submission (sha256), the same rubric
(digest), and the same automatic verdict (status and points) it was decided against. When any of
them changed, the teacher decided about something that is no longer there: the override is not
applied, and it is listed under `needs_look` with the reason, for the class page and the export.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..messages import msg, render
from ..report import write_text_atomic
from .book import Basis, Comment, Override, ReviewBook

# Why an override was not applied (the keys of review.needs_look_<reason> in the catalog)
CHANGED_SUBMISSION, CHANGED_RUBRIC, CHANGED_VERDICT, CHECK_GONE, NOT_GRADED = (
    "submission", "rubric", "verdict", "check_gone", "not_graded")
UNSCORED = ("grader_error",)


@dataclass(frozen=True)
class StudentReview:
    """What the review did to one result: the overrides applied, those that need a look, the comments."""

    student: str
    applied: tuple[Override, ...]
    needs_look: tuple[tuple[Override, str], ...]
    comments: tuple[Comment, ...]
    auto_score: float | None
    score: float | None


def strip_review(result: dict) -> dict:
    """The result as the automatic pass wrote it (a copy): earlier overrides undone."""
    result = copy.deepcopy(result)
    review = result.pop("review", None)
    for check in result.get("checks") or []:
        earlier = check.pop("review", None)
        if isinstance(earlier, dict) and isinstance(earlier.get("auto_points"), (int, float)):
            check["points"] = earlier["auto_points"]
    if isinstance(review, dict) and "auto_score" in review:
        result["score"] = review["auto_score"]
    return result


def basis_of(result: dict, check: dict) -> Basis:
    """The basis an override of `check` in `result` is decided against now."""
    return Basis(str(result.get("sha256") or ""), str(result.get("rubric") or ""), str(check.get("status") or ""),
                 float(check.get("points") or 0.0))


def _why_not(result: dict, check: dict | None, override: Override) -> str | None:
    if result.get("status") in UNSCORED or result.get("score") is None:
        return NOT_GRADED
    if check is None:
        return CHECK_GONE
    if not override.basis.known:
        return None  # a row the teacher wrote by hand: decided against what is there now
    now = basis_of(result, check)
    if now.sha256 != override.basis.sha256:
        return CHANGED_SUBMISSION
    if now.rubric != override.basis.rubric:
        return CHANGED_RUBRIC
    if now.auto_status != override.basis.auto_status or abs(now.auto_points - override.basis.auto_points) > 1e-9:
        return CHANGED_VERDICT
    return None


def apply_review(result: dict, book: ReviewBook) -> tuple[dict, StudentReview, tuple[Override, ...]]:
    """(the reviewed result, what was done, the overrides whose basis was filled in now).

    The result's `score` becomes the reviewed score (every file and export reads it), with the
    automatic one kept in `review.auto_score`; each overridden check keeps its automatic points
    and status in `review`. A result without any review entry comes back without a `review` key."""
    result = strip_review(result)
    student = str(result.get("student", ""))
    overrides, comments = book.for_student(student)
    checks = {c.get("id"): c for c in result.get("checks") or [] if isinstance(c, dict)}
    applied, needs_look, sealed = [], [], []
    auto_score = result.get("score")
    delta = 0.0
    for override in overrides:
        check = checks.get(override.check)
        reason = _why_not(result, check, override)
        if reason is None and not 0 <= override.points <= float(check.get("max_points") or 0.0):
            reason = CHANGED_RUBRIC  # the check's maximum moved under it
        if reason is not None:
            needs_look.append((override, reason))
            continue
        if not override.basis.known:
            override = replace(override, basis=basis_of(result, check))
            sealed.append(override)
        check["review"] = {"points": override.points, "auto_points": check.get("points"),
                           "auto_status": check.get("status"), "why": override.why, "who": override.who,
                           "when": override.when}
        delta += override.points - float(check.get("points") or 0.0)
        check["points"] = override.points
        applied.append(override)
    score = auto_score
    if applied and isinstance(auto_score, (int, float)):
        score = round(min(max(auto_score + delta, 0.0), float(result.get("max_score") or 0.0)), 4)
        result["score"] = score
    if applied or needs_look or comments:
        result["review"] = {
            "auto_score": auto_score, "score": score,
            "overrides": [{"check": o.check, "points": o.points, "auto_points": o.basis.auto_points,
                           "auto_status": o.basis.auto_status, "why": o.why, "who": o.who, "when": o.when}
                          for o in applied],
            "needs_look": [{"check": o.check, "points": o.points, "why": o.why, "who": o.who, "when": o.when,
                            "reason": reason} for o, reason in needs_look],
            "comments": [{"text": c.text, "who": c.who, "when": c.when} for c in comments]}
    return result, StudentReview(student, tuple(applied), tuple(needs_look), comments, auto_score, score), tuple(sealed)


# The report carries two places the review rewrites, between markers only the template writes
# (a student's text reaches the page escaped: "<!--" becomes "&lt;!--", so it cannot forge one).
SCORE_MARK = ("<!--grader:score-->", "<!--/grader:score-->")
PANEL_MARK = ("<!--grader:review-->", "<!--/grader:review-->")


def _between(html: str, marks: tuple[str, str], inner: str) -> str:
    start = html.find(marks[0])
    end = html.find(marks[1], start + len(marks[0])) if start >= 0 else -1
    if start < 0 or end < 0:
        return html
    return html[:start + len(marks[0])] + inner + html[end:]


def restamp_report(html: str, result: dict, review: StudentReview, lang: str) -> str:
    """report.html with the reviewed score in its header and the teacher's panel at its top."""
    from .panel import points_html, render_panel, score_html

    html = _between(html, SCORE_MARK, score_html(result, lang))
    for check in result.get("checks") or []:
        if check.get("status") != "skipped" and isinstance(check.get("id"), str):
            marks = (f"<!--grader:points:{check['id']}-->", f"<!--/grader:points:{check['id']}-->")
            html = _between(html, marks, points_html(check, lang))
    return _between(html, PANEL_MARK, render_panel(result, review, lang))


def apply_to_folder(out: Path, book: ReviewBook,
                    students: list[str] | None = None) -> tuple[list[StudentReview], tuple[Override, ...]]:
    """Apply the book to every OUT/<student>/result.json (or those named), rewriting result.json and
    report.html where anything changed; (each student's review, the overrides sealed now). The
    panel is written in the report's own language, whoever runs the command."""
    out = Path(out)
    names = students if students is not None else sorted(p.parent.name for p in out.glob("*/result.json"))
    reviews, sealed = [], []
    for student in names:
        path = out / student / "result.json"
        try:
            before = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(before, dict) or before.get("student") != student:
            continue
        after, review, newly = apply_review(before, book)
        sealed.extend(newly)
        if review.applied or review.needs_look or review.comments:
            reviews.append(review)
        if after == before:
            continue
        report = out / student / "report.html"
        if report.is_file():
            html = report.read_text(encoding="utf-8")
            write_text_atomic(report, restamp_report(html, after, review, _report_lang(html)))
        write_text_atomic(path, json.dumps(after, indent=1, ensure_ascii=False))
    return reviews, tuple(sealed)


def _report_lang(html: str) -> str:
    """The language the report was written in (its <html lang>), so a panel never mixes languages."""
    found = re.search(r'<html lang="(\w+)"', html[:400])
    return found.group(1) if found else "es"


def needs_look_messages(reviews: list[StudentReview]) -> list:
    """One message per override the review could not apply (the export's notices, the terminal)."""
    return [msg("review.needs_look_line", student=r.student, check=o.check, points=o.points,
                reason=msg(f"review.reason_{reason}")) for r in reviews for o, reason in r.needs_look]


def needs_look_lines(reviews: list[StudentReview], lang: str) -> list[str]:
    """needs_look_messages, rendered for the terminal."""
    return [str(render(message, lang)) for message in needs_look_messages(reviews)]


__all__ = ["StudentReview", "apply_review", "strip_review", "basis_of", "apply_to_folder", "restamp_report",
           "needs_look_lines", "needs_look_messages", "SCORE_MARK", "PANEL_MARK", "CHANGED_SUBMISSION", "CHANGED_RUBRIC", "CHANGED_VERDICT",
           "CHECK_GONE", "NOT_GRADED"]
