"""The small table per exercise that puts the student's numbers beside the grader's.

The numbers come from the checks' evidence (what the checks compared), never recomputed here:
the table cannot disagree with the verdicts under it. Which evidence fields make a row is data
(ROWS below); each row's words are catalog keys `ui.num.<row>`; numbers are shown readable:
four significant digits and a real minus sign.
"""

from __future__ import annotations

import math

from ..messages import text

# How a row's numbers are shown: an accuracy is always a percentage with two decimals (86.90 %,
# never 0.869 in one table and 86.9 in another), a difference in points always signed.
PLAIN, PERCENT, FRACTION, POINTS = "plain", "percent", "fraction", "points"

# check id -> rows: (row key in the catalog, path to the student's number, path to the grader's[, unit]).
# A "*" in a path stands for each key of that level (one row per initializer or run).
ROWS = {
    "ex1_limit": [("limit", ("found",), ("expected",))],
    "ex1_var_theory": [("var_theory", ("found",), ("expected",))],
    "ex1_var_empirical": [("var_empirical", ("found",), ("recomputed",))],
    "ex1_conv_limit": [("conv_limit", ("found",), ("expected",))],
    "hw_retrain_reproduces": [("final_acc", ("*", "student_pp"), ("*", "grader_pp"), PERCENT)],
    "hw_he_criterion": [("he_minus_glorot", ("student_diff_pp", "*"), ("grader_diff_pp", "*"), POINTS)],
    "hw_norms_similar": [("norm_ratio", ("student_ratio", "*"), ("grader_ratio", "*"))],
    "ex2_curves": [("final_val_loss", ("*", "student"), ("*", "grader"))],
    "ex2_vanishing": [("first_val_loss", ("student_first_val_loss",), ("grader_first_val_loss",))],
    "ex4_tanh": [("final_val_acc", ("*", "student"), ("*", "grader"), FRACTION),
                 ("tanh_diff", ("student_diff_pp",), ("grader_diff_pp",), POINTS)],
    "ex5_reproducibility": [("same_seed", ("student_same_seed_identical",), ("grader_same_seed_identical",)),
                            ("no_seed", ("student_no_seed_differs",), ("grader_no_seed_differs",))],
}


def readable(value, lang: str) -> str:
    """A number as a student reads it: 4 significant digits, a real minus; yes/no for a boolean;
    a dash for what is missing."""
    if isinstance(value, bool):
        return text(lang, "ui.num.yes" if value else "ui.num.no")
    if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e6:
        shown = f"{int(value)}"
    elif abs(value) >= 1e-3:
        shown = f"{value:.4g}"
    else:
        shown = f"{value:.3e}"
    return shown.replace("-", "−")


def shown(value, unit: str, lang: str) -> str:
    """A row's number in its unit: accuracies as "86.90 %" (a fraction is turned into one), point
    differences as "+0.16"; anything else as `readable`."""
    if unit == PLAIN or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return readable(value, lang)
    if unit == POINTS:
        return signed_pp(float(value))
    percent = float(value) * 100 if unit == FRACTION and abs(value) <= 1.0 else float(value)
    return f"{percent:.2f} %".replace("-", "−")


def _lookup(evidence: dict, path: tuple, key: str | None):
    value = evidence
    for step in path:
        step = key if step == "*" else step
        if not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return value


def _keys(evidence: dict, path: tuple) -> list[str | None]:
    """The keys a "*" stands for: those whose entry is a dict holding the rest of the path."""
    if "*" not in path:
        return [None]
    head = path[: path.index("*")]
    level = _lookup(evidence, head, None) if head else evidence
    if not isinstance(level, dict):
        return []
    return [k for k, v in level.items() if _lookup(evidence, path, k) is not None]


def and_join(items: list[str], lang: str) -> str:
    """"a, b y c" / "a, b and c"."""
    items = [str(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    return text(lang, "ui.and", head=", ".join(items[:-1]), last=items[-1])


def signed_pp(value: float) -> str:
    """A difference in percentage points as the class writes it: a sign always, a real minus."""
    if not math.isfinite(value):
        return "—"
    return f"{value:+.2f}".replace("-", "−")


def exercise_tables(checks, lang: str) -> dict[str, list[dict]]:
    """exercise → rows {label, yours, grader, check}: only rows where at least one side has a number."""
    tables: dict[str, list[dict]] = {}
    for check in checks:
        evidence = check.evidence if isinstance(check.evidence, dict) else {}
        for row, mine, theirs, *unit in ROWS.get(check.id, ()):
            unit = unit[0] if unit else PLAIN
            for key in _keys(evidence, mine) or _keys(evidence, theirs):
                yours, grader = _lookup(evidence, mine, key), _lookup(evidence, theirs, key)
                if yours is None and grader is None:
                    continue
                tables.setdefault(check.exercise, []).append({
                    "label": text(lang, f"ui.num.{row}", run=key or ""), "yours": shown(yours, unit, lang),
                    "grader": shown(grader, unit, lang), "check": check.id})
    return tables


__all__ = ["exercise_tables", "readable", "shown", "PLAIN", "PERCENT", "FRACTION", "POINTS", "and_join", "signed_pp", "ROWS"]
