"""The closed vocabularies that cross stage boundaries, as enums that serialise as plain strings.

Each is a `str` subclass, so `json.dumps`, f-strings and Jinja see exactly the old string
values ("pass", "graded", …): result.json does not change shape, but code can no longer
misspell a status.
"""

from __future__ import annotations

from enum import Enum


class _Vocabulary(str, Enum):
    __str__ = str.__str__
    __format__ = str.__format__


class CheckStatus(_Vocabulary):
    """How one check ended."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    ERROR = "error"  # the grader failed, not the student: no points, says so
    SKIPPED = "skipped"  # nothing to grade: an optional name the student did not define; its points leave max_score


class RunStatus(_Vocabulary):
    """How running the student's code ended (Execution.status)."""

    COMPLETED = "completed"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    PROCESS_LIMIT = "process_limit"
    CRASHED = "crashed"


class GradeStatus(_Vocabulary):
    """How grading one submission ended (GradeResult.status)."""

    GRADED = "graded"
    INVALID_SUBMISSION = "invalid_submission"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    PROCESS_LIMIT = "process_limit"
    CRASHED = "crashed"
    GRADER_ERROR = "grader_error"

    @classmethod
    def of_run(cls, run: RunStatus) -> "GradeStatus":
        return cls.GRADED if run == RunStatus.COMPLETED else cls(run.value)


class CellStatus(_Vocabulary):
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    NOT_RUN = "not_run"


class RetrainMode(_Vocabulary):
    """Whether the grader may train: a teacher's run trains, a self-check only reads the cache."""

    RUN = "run"
    CACHE_ONLY = "cache-only"
    OFF = "off"


class RunKind(_Vocabulary):
    """What the retraining worker does with one spec."""

    TRAIN = "train"
    REPRO = "repro"  # exercise 5: trained twice with a seed and twice without, one short epoch
    BATCHED = "batched"  # an extra seed (--seeds), trained with the others in one batch (grader/retrain/batched.py)


class SandboxLevel(_Vocabulary):
    BWRAP = "bwrap"
    UNPRIVILEGED = "unprivileged"  # no bubblewrap, but the student's code runs as uid 65534 (Gradescope's container)
    NONE = "none"


__all__ = ["CheckStatus", "RunStatus", "GradeStatus", "CellStatus", "RetrainMode", "RunKind", "SandboxLevel"]
