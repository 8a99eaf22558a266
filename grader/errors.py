"""One exception tree for the whole grader.

    GraderError                  anything the grader itself reports to a user
    ├── UsageError               bad command line or path; exit 2, nothing graded
    ├── DataError                Fashion-MNIST missing or corrupt; says how to get it
    ├── RubricError              reference/ rubric or contract unreadable or inconsistent
    ├── SandboxUnavailable       bubblewrap cannot run here (keeps the exact reason)
    ├── SubmissionError          the submission file itself is unusable (invalid_submission)
    ├── ArtifactError            an artifact from the sandbox breaks the schema or a size cap
    ├── RetrainError             the grader's own training worker failed
    ├── OutputError              a report or result cannot be written (disk full, permissions)
    ├── ClusterError             a Dask scheduler unreachable, or a worker unlike the client
    ├── WorkerError              a worker process ended before its answer (its code, its stderr's tail)
    │   └── WorkerTimeout        … or did not answer in the time it was given
    └── NotReady                 this machine cannot grade (no teacher TensorFlow/Keras 3, a kernel
                                 that cannot import them or see the data); exit 5, nothing graded

    Interrupted (a KeyboardInterrupt, not a GraderError): SIGINT or SIGTERM stopped the run;
                 everything it started has been stopped on the way out

Failures of a student's code are not exceptions: they become data (an Execution with
failed cells, a CheckResult with status "error").

`message` and `hint` are catalog Messages (or language-neutral text), so the same error reads
in the language of whoever sees it: `exc.render("en")`. `str(exc)` is the default language.
"""

from __future__ import annotations

from .messages import DEFAULT_LANG, Message, render


class GraderError(Exception):
    """Base of every error the grader raises on purpose."""

    def __init__(self, message: "Message | str", *, hint: "Message | str" = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self, lang: str = DEFAULT_LANG) -> str:
        text, hint = render(self.message, lang), render(self.hint, lang)
        return f"{text}\n  → {hint}" if hint else text

    def as_message(self) -> "Message | str":
        """The error as one catalog message (text and hint), to keep in a result."""
        return Message("error.with_hint", {"text": self.message, "hint": self.hint}) if self.hint else self.message

    def __str__(self) -> str:
        return self.render(DEFAULT_LANG)


class Interrupted(KeyboardInterrupt):
    """The person running the grader stopped it (Ctrl-C, SIGTERM). A KeyboardInterrupt, so that
    no `except Exception` swallows it and every `finally` runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class UsageError(GraderError):
    pass


class DataError(GraderError):
    pass


class RubricError(GraderError):
    pass


class SandboxUnavailable(GraderError):
    pass


class SubmissionError(GraderError):
    pass


class ArtifactError(GraderError):
    pass


class RetrainError(GraderError):
    pass


class OutputError(GraderError):
    pass


class ClusterError(GraderError):
    pass


class WorkerError(GraderError):
    """A JSON-lines worker (grader/workerproc.py) that failed; callers translate it into their
    own error (RetrainError, …) with the tail of its stderr as the hint."""

    def __init__(self, message: "Message | str", *, hint: "Message | str" = "", code: int | None = None,
                 stderr: str = "") -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.stderr = stderr


class WorkerTimeout(WorkerError):
    pass


class NotReady(GraderError):
    """The grader's own environment cannot grade (grader/readiness.py): never the student's fault."""


__all__ = [
    "GraderError",
    "UsageError",
    "DataError",
    "RubricError",
    "SandboxUnavailable",
    "SubmissionError",
    "ArtifactError",
    "RetrainError",
    "OutputError",
    "ClusterError",
    "WorkerError",
    "WorkerTimeout",
    "NotReady",
    "Interrupted",
]
