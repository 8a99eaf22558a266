"""What a person reads in the terminal after grading one file: score, each check, what to fix."""

from __future__ import annotations

import re

from ..messages import language, render, text
from .student import ui_texts

# A submission's text (a class name, a student name, an exception message) must not drive the
# teacher's terminal: ESC/CSI/OSC sequences retitle it or erase earlier lines, C0/C1 controls move
# the cursor, bidi overrides make a line read other than it is. \n and \t stay.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|[ -/]*[0-~])?"
                      r"|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x9c]*[\x07\x9c]?")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(value) -> str:
    """`value` as text a terminal shows and does not obey: escape sequences dropped whole, every
    other control and bidi override removed. Used for every line the CLI prints."""
    return _CONTROLS.sub("", _ESCAPES.sub("", str(value)))


SYMBOL = {"pass": "✔", "fail": "✘", "warn": "!", "error": "?", "skipped": "–"}


def _first_line(value, lang: str, width: int) -> str:
    lines = str(render(value, lang)).splitlines()
    return lines[0][:width] if lines else ""


def score_text(score: float | None, max_score: float, sep: str = " / ") -> str:
    """"12 / 33", or "— / 33" where the grader failed and gave no score."""
    return f"{'—' if score is None else format(score, 'g')}{sep}{max_score:g}"


def terminal_summary(result, rubric, lang: str = "es") -> str:
    """A few lines per check, in `lang` (the terminal's, which may differ from the report's)."""
    lang = language(lang)
    ui = ui_texts(rubric, lang)
    status = str(result.status)
    lines = [f"{result.display_name}: {score_text(result.shown_score, result.max_score)}  "
             f"({ui['grade_status'].get(status, status)})"]
    if result.message:
        lines.append(f"  {_first_line(result.message, lang, 200)}")
    if result.sandbox.get("level") == "none" and result.sandbox.get("note"):
        lines.append("  " + text(lang, "terminal.note", note=render(result.sandbox["note"], lang)))
    for check in result.checks:
        lines.append(f"  {SYMBOL.get(str(check.status), '?')} {check.points:>4g}/{check.max_points:<3g} {render(check.title, lang)}")
        if str(check.status) != "pass":
            lines.append(f"      {_first_line(check.message, lang, 160)}")
            for code in check.mistakes:
                lines.append(f"      → [{code}] {rubric.mistake(code, 'fix', lang)[:200]}")
    return terminal_safe("\n".join(lines))


__all__ = ["terminal_summary", "terminal_safe", "score_text"]
