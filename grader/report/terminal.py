"""What a person reads in the terminal after grading one file: score, each check, what to fix."""

from __future__ import annotations

from ..messages import language, render, text
from .student import ui_texts

SYMBOL = {"pass": "✔", "fail": "✘", "warn": "!", "error": "?", "skipped": "–"}


def _first_line(value, lang: str, width: int) -> str:
    lines = str(render(value, lang)).splitlines()
    return lines[0][:width] if lines else ""


def terminal_summary(result, rubric, lang: str = "es") -> str:
    """A few lines per check, in `lang` (the terminal's, which may differ from the report's)."""
    lang = language(lang)
    ui = ui_texts(rubric, lang)
    status = str(result.status)
    lines = [f"{result.display_name}: {result.score:g} / {result.max_score:g}  ({ui['grade_status'].get(status, status)})"]
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
    return "\n".join(lines)


__all__ = ["terminal_summary"]
