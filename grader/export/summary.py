"""The report's summary in a few lines, for the LMS: Moodle's feedback column and Gradescope's
top-level output. Built from result.json alone (its titles and messages are already in the
report's language); the few words added here follow the export's `lang`."""

from __future__ import annotations

from ..messages import Message, msg, render
from .results import NOT_GRADABLE, StudentResult

FEEDBACK_MAX = 4000  # Moodle keeps feedback as text; a class-sized CSV stays readable


def points(value: float) -> str:
    """Points as an LMS reads them: 12, 12.5, never 12.000000001."""
    return f"{round(value, 2):g}"


def _status_line(result: StudentResult) -> Message:
    if result.status in NOT_GRADABLE:  # its 0 is not a score: never print it as one
        return msg("export.summary_no_score", max_score=points(result.max_score), status=result.status)
    return msg("export.summary_score", score=points(result.score), max_score=points(result.max_score), status=result.status)


def to_fix(result: StudentResult) -> list:
    """The checks that lost points or could not be graded, in rubric order."""
    return [c for c in result.checks
            if c.status == "error" or (c.status in ("fail", "warn") and c.points < c.max_points)]


def skipped(result: StudentResult) -> list:
    """The items that were not graded (an optional name not defined): never shown as passed."""
    return [c for c in result.checks if c.status == "skipped"]


def verdict(result: StudentResult) -> Message:
    """The closing sentence. "Every check passed" only when checks ran and none lost points:
    a result the grader failed on, or one with nothing graded, must never read as all fine."""
    if result.status in NOT_GRADABLE:
        return msg("export.summary_grader_error")
    if not any(c.status != "skipped" for c in result.checks):
        return msg("export.summary_nothing_checked")
    return msg("export.summary_all_passed")


def review_parts(result: StudentResult, lang: str) -> list[str]:
    """The teacher's review in sentences: each adjustment (automatic points, the teacher's, why), then the comment."""
    parts = [render(msg("export.summary_adjusted", title=a.title, auto=points(a.auto_points), points=points(a.points),
                        why=a.why), lang) for a in result.adjustments]
    return parts + [render(msg("export.summary_comment", text=comment), lang) for comment in result.comments]


def feedback_text(result: StudentResult, lang: str) -> str:
    """One plain-text paragraph: the score, the teacher's review, the run's message, then each check to fix."""
    parts = [render(_status_line(result), lang), *review_parts(result, lang)]
    if result.message:
        parts.append(result.message)
    fixes = to_fix(result)
    if fixes and result.status not in NOT_GRADABLE:
        parts.append(render(msg("export.summary_to_fix", n=len(fixes)), lang) + " "
                     + " | ".join(f"{c.title}: {c.message}" if c.message else c.title for c in fixes))
    else:
        parts.append(render(verdict(result), lang))
    if skipped(result):
        parts.append(render(msg("export.summary_not_graded", items=", ".join(c.title for c in skipped(result))), lang))
    text = " — ".join(part.replace("\r", " ").replace("\n", " ").strip() for part in parts if part)
    return text if len(text) <= FEEDBACK_MAX else text[:FEEDBACK_MAX - 1] + "…"


def _md(text: str) -> str:
    """Student-written text can reach a message (a name, an error): keep it from becoming markup."""
    out = text
    for char in "\\`*_[]<>#|":
        out = out.replace(char, "\\" + char)
    return out


def feedback_markdown(result: StudentResult, lang: str, sandbox_note: str = "") -> str:
    lines = [f"**{_md(render(_status_line(result), lang))}**", ""]
    if result.adjustments or result.comments:
        lines += [_md(part) for part in review_parts(result, lang)] + [""]
    if result.message:
        lines += [_md(result.message), ""]
    fixes = to_fix(result)
    if fixes and result.status not in NOT_GRADABLE:
        lines.append(_md(render(msg("export.summary_to_fix", n=len(fixes)), lang)))
        lines += [f"- **{_md(c.title)}** ({points(c.points)}/{points(c.max_points)}): {_md(c.message)}" for c in fixes]
    else:
        lines.append(_md(render(verdict(result), lang)))
    if skipped(result):
        lines += ["", _md(render(msg("export.summary_not_graded", items=", ".join(c.title for c in skipped(result))),
                                 lang))]
    if sandbox_note:
        lines += ["", _md(sandbox_note)]
    return "\n".join(lines).strip() + "\n"


__all__ = ["feedback_text", "review_parts", "feedback_markdown", "points", "to_fix", "skipped", "verdict", "FEEDBACK_MAX"]
