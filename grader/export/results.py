"""What a class batch left on disk, read back as typed data: one StudentResult per result.json.

The export reads only these files (never the submissions, never the grader's store), so it can
run anywhere the graded folder was copied to, and a result that cannot be read becomes a
BrokenResult the export lists, instead of an exception that would stop everyone else's export.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..identity import Identity
from ..messages import Message, msg

NOT_GRADABLE = ("grader_error",)  # the grader failed, not the student: regrade, never a score
MAX_RESULT_BYTES = 20 * 1024 * 1024  # a result.json is 50–500 KB; anything far larger is not one of ours


@dataclass(frozen=True)
class CheckLine:
    """One rubric item as the result recorded it (already rendered in the report's language)."""

    id: str
    title: str
    status: str  # pass | fail | warn | error | skipped
    points: float
    max_points: float
    message: str
    expected: str = ""
    found: str = ""


@dataclass(frozen=True)
class Adjustment:
    """A teacher's override as the result recorded it (grader/review/): the automatic points beside."""

    check: str
    title: str
    auto_points: float
    points: float
    why: str


@dataclass(frozen=True)
class StudentResult:
    """One student's grading, as much of it as an LMS needs."""

    student: str
    display_name: str
    status: str
    score: float
    max_score: float
    checks: tuple[CheckLine, ...]
    message: str
    execution_s: float
    sandbox_level: str
    path: Path
    # who the submission belongs to, as the grading recorded it (an LMS download carries the LMS
    # and its user id); an older result.json without `identity` gets the plain student id
    identity: Identity = Identity("", "")
    # the teacher's review, already applied to `score` and the checks' points (result.json's "review")
    adjustments: tuple[Adjustment, ...] = ()
    comments: tuple[str, ...] = ()
    auto_score: float | None = None


@dataclass(frozen=True)
class BrokenResult:
    """A result.json the export could not use, and why (the teacher regrades or fixes it)."""

    student: str
    path: Path
    reason: Message | str


@dataclass(frozen=True)
class GradedFolder:
    folder: Path
    results: tuple[StudentResult, ...]
    broken: tuple[BrokenResult, ...]


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(field)
    return float(value)


def _text(value) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def parse_result(raw, path: Path) -> StudentResult:
    """A result.json's content as a StudentResult; ValueError(field) names the first bad field."""
    if not isinstance(raw, dict):
        raise ValueError("$")
    student = raw.get("student")
    if not isinstance(student, str) or not student:
        raise ValueError("student")
    checks = []
    for position, check in enumerate(raw.get("checks") or []):
        if not isinstance(check, dict) or not isinstance(check.get("id"), str):
            raise ValueError(f"checks[{position}]")
        checks.append(CheckLine(check["id"], _text(check.get("title")) or check["id"], _text(check.get("status")),
                                _number(check.get("points", 0.0), f"checks[{position}].points"),
                                _number(check.get("max_points", 0.0), f"checks[{position}].max_points"),
                                _text(check.get("message")), _text(check.get("expected")), _text(check.get("found"))))
    timings = raw.get("timings") if isinstance(raw.get("timings"), dict) else {}
    execution = raw.get("execution") if isinstance(raw.get("execution"), dict) else {}
    seconds = timings.get("total", execution.get("duration_s", 0.0))
    sandbox = raw.get("sandbox") if isinstance(raw.get("sandbox"), dict) else {}
    status = raw.get("status")
    if not isinstance(status, str) or not status:
        raise ValueError("status")
    display_name = _text(raw.get("display_name")) or student
    identity = Identity.from_json(raw.get("identity"), student, display_name)
    if identity.student != student:  # the file's own student id is the one graded; never two ids
        identity = Identity(student, identity.display_name, identity.lms, identity.lms_user_id, identity.late,
                            identity.source_name)
    unscored = status in NOT_GRADABLE and raw.get("score") is None  # the grader failed: no score was given
    adjustments, comments, auto_score = _review(raw.get("review"), {c.id: c.title for c in checks})
    return StudentResult(student, display_name, status,
                         0.0 if unscored else _number(raw.get("score"), "score"), _number(raw.get("max_score"), "max_score"), tuple(checks),
                         _text(raw.get("message")),
                         float(seconds) if isinstance(seconds, (int, float)) and math.isfinite(seconds) else 0.0,
                         _text(sandbox.get("level")), path, identity, adjustments, comments, auto_score)


def _review(raw, titles: dict[str, str]) -> tuple[tuple[Adjustment, ...], tuple[str, ...], float | None]:
    """result.json's "review" (grader/review/apply.py wrote it) as typed data; ValueError(field) when malformed."""
    if raw is None:
        return (), (), None
    if not isinstance(raw, dict):
        raise ValueError("review")
    adjustments = []
    for position, item in enumerate(raw.get("overrides") or []):
        if not isinstance(item, dict) or not isinstance(item.get("check"), str):
            raise ValueError(f"review.overrides[{position}]")
        adjustments.append(Adjustment(item["check"], titles.get(item["check"], item["check"]),
                                      _number(item.get("auto_points"), f"review.overrides[{position}].auto_points"),
                                      _number(item.get("points"), f"review.overrides[{position}].points"),
                                      _text(item.get("why"))))
    comments = tuple(_text(c.get("text")) for c in raw.get("comments") or [] if isinstance(c, dict) and c.get("text"))
    auto = raw.get("auto_score")
    return tuple(adjustments), comments, None if auto is None else _number(auto, "review.auto_score")


def read_result(path: Path) -> StudentResult | BrokenResult:
    student = path.parent.name
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            return BrokenResult(student, path, msg("export.result_too_large", mb=MAX_RESULT_BYTES >> 20))
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return BrokenResult(student, path, msg("export.result_unreadable", error=str(exc)))
    except ValueError as exc:
        return BrokenResult(student, path, msg("export.result_not_json", error=str(exc)))
    try:
        result = parse_result(raw, path)
    except ValueError as exc:
        return BrokenResult(student, path, msg("export.result_bad_field", field=str(exc)))
    if result.student != student:  # a copied or renamed folder: the id inside is the one graded
        return BrokenResult(student, path, msg("export.result_other_student", found=result.student))
    return result


def load_folder(folder: Path) -> GradedFolder:
    """Every OUT/<student>/result.json of a batch. Raises UsageError only when `folder` is not a
    graded folder at all; a bad result is kept as a BrokenResult."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(msg("export.not_a_folder", path=str(folder)), hint=msg("export.not_a_folder_hint"))
    paths = sorted(p for p in folder.glob("*/result.json") if p.is_file() and not p.parent.is_symlink())
    if not paths:
        raise UsageError(msg("export.not_graded", path=str(folder)), hint=msg("export.not_graded_hint"))
    results, broken = [], []
    for path in paths:
        item = read_result(path)
        (broken if isinstance(item, BrokenResult) else results).append(item)
    return GradedFolder(folder, tuple(results), tuple(broken))


__all__ = ["NOT_GRADABLE", "Adjustment", "CheckLine", "StudentResult", "BrokenResult", "GradedFolder", "load_folder", "read_result", "parse_result"]
