"""Gradescope's autograder results.json (gradescope-autograders.readthedocs.io/en/latest/specs/).

Top level: `score`, `execution_time` (whole seconds), `output` with `output_format: "md"`, and
`tests`, one per rubric check: `name`, `number`, `score`, `max_score`, `status`, `output`,
`visibility`. Gradescope knows only "passed" and "failed"; our other statuses map as follows:

    pass     passed
    fail     failed
    warn     passed when it kept every point (a caution, not a loss), failed otherwise
    error    failed (the grader could not check it; its output says so)
    skipped  not in `tests` at all: a test with no status and 0 of 0 points shows in Gradescope
             like a passed one, so the item is instead named in the top-level output, under
             "not graded" (an optional name the student did not define)

A whole result the grader failed on (`grader_error`) has no `score` key and no tests (the spec:
score is "optional, but required if not on each test case"), its output says the grader failed,
not the student, and `extra_data.grader_error` is true, as run_autograder's own failures write
it: Gradescope then shows no grade instead of a 0, and the teacher regrades.

Gradescope has no upload for results.json: inside Gradescope only run_autograder writes it
(autograder.py calls `results_json`). `grade export --to gradescope` writes the same file per
student, so a teacher sees, before publishing the autograder, exactly what each student will be
shown there, from a class graded at home.
"""

from __future__ import annotations

import math

from ..messages import msg, render
from .results import NOT_GRADABLE, CheckLine, StudentResult
from .summary import feedback_markdown

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def test_status(check: CheckLine) -> str | None:
    if check.status == "skipped":
        return None
    if check.status == "pass":
        return "passed"
    if check.status == "warn" and check.points >= check.max_points:
        return "passed"
    return "failed"


def test_output(check: CheckLine, lang: str) -> str:
    lines = []
    if check.status == "skipped":
        lines.append(render(msg("export.gs_skipped"), lang))
    elif check.status == "error":
        lines.append(render(msg("export.gs_error"), lang))
    elif check.status == "warn":
        lines.append(render(msg("export.gs_warn"), lang))
    if check.message:
        lines.append(check.message)
    if check.status not in ("pass", "skipped") and (check.expected or check.found) and check.expected != check.found:
        lines.append(render(msg("export.gs_expected_found", expected=check.expected or "—", found=check.found or "—"), lang))
    return "\n".join(lines)


def results_json(result: StudentResult, lang: str, visibility: str = "visible", sandbox_note: str = "") -> dict:
    seconds = result.execution_s if math.isfinite(result.execution_s) else 0.0
    if result.status in NOT_GRADABLE:
        return {"execution_time": int(round(seconds)), "output": feedback_markdown(result, lang, sandbox_note),
                "output_format": "md", "visibility": visibility, "tests": [], "extra_data": {"grader_error": True}}
    tests = []
    for number, check in enumerate(result.checks, start=1):
        if check.status == "skipped":  # named in the output instead (feedback_markdown)
            continue
        tests.append({"name": check.title, "number": str(number), "score": round(check.points, 4),
                      "max_score": round(check.max_points, 4), "status": test_status(check),
                      "output": test_output(check, lang), "visibility": visibility})
    return {"score": round(result.score, 4), "execution_time": int(round(seconds)),
            "output": feedback_markdown(result, lang, sandbox_note), "output_format": "md",
            "visibility": visibility, "tests": tests}


__all__ = ["results_json", "test_status", "test_output", "VISIBILITIES"]
