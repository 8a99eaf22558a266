"""One submission, graded in its own process: `python -m grader.batch.worker`.

Reads one JSON object on stdin ({"path", "student", "rubric", "protocol", "options", "identity"}, the
options as `Options.to_json()`), writes JSON lines on stdout: {"stage", "detail"} as it goes,
then {"done": {score, max_score, status, fault, reason}} (fault: the grader_fault's kind, or None), {"error": text} (this student's grader failure) or
{"fatal": text} (the output disk: the parent stops the batch). JSON both ways, never pickle:
the parent trusts nothing from a process that ran next to a student's code.
"""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import replace
from pathlib import Path

from ..errors import GraderError, Interrupted, OutputError
from ..identity import Identity
from ..messages import render
from ..pipeline import Options, grade, load_rubric


def job(path: Path, student: str, rubric_path: Path | None, rubric, options: Options,
        identity: Identity | None = None) -> str:
    """The stdin payload for one submission (the parent's half of the protocol); `identity`
    (discovery's: the person's name and LMS ids) travels as plain JSON into the result."""
    return json.dumps({"path": str(path), "student": student, "rubric": str(rubric_path) if rubric_path else None,
                       "protocol": rubric.protocol.to_json(), "options": replace(options, quiet=True).to_json(),
                       "identity": identity.to_json() if identity is not None else None}, ensure_ascii=False)


def _emit(**message) -> None:
    print(json.dumps(message), flush=True)


def _terminated(signum, frame) -> None:
    raise Interrupted(signum)  # so the run's `finally` blocks stop its kernel and sandbox


def main() -> int:
    signal.signal(signal.SIGTERM, _terminated)
    payload = json.loads(sys.stdin.read())
    options = replace(Options.from_json(payload["options"]), quiet=True)
    rubric = load_rubric(payload["rubric"]).with_protocol(**payload["protocol"])

    def on_stage(stage: str, detail: str) -> None:
        _emit(stage=stage, detail=detail)

    try:
        identity = (Identity.from_json(payload["identity"], payload["student"])
                    if isinstance(payload.get("identity"), dict) else None)
        result = grade(Path(payload["path"]), rubric, options, payload["student"], on_stage, identity=identity)
    except KeyboardInterrupt:
        return 130
    except OutputError as exc:
        _emit(fatal=exc.render(options.lang))
        return 1
    except GraderError as exc:
        _emit(error=f"{type(exc).__name__}: {exc.render(options.lang)}")
        return 1
    except Exception as exc:  # reported to the parent as this student's error, never a batch stop
        _emit(error=f"{type(exc).__name__}: {exc}")
        return 1
    _emit(done={"score": result.shown_score, "max_score": result.max_score, "status": str(result.status),
                "fault": result.grader_fault.get("kind"), "reason": render(result.message, options.lang)
                if result.grader_fault else ""})
    return 0


__all__ = ["job", "main"]

if __name__ == "__main__":
    sys.exit(main())
