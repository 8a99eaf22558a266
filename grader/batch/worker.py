"""One submission, graded in its own process: `python -m grader.batch.worker`.

Reads one JSON object on stdin ({"path", "student", "rubric", "protocol", "options"}, the
options as `Options.to_json()`), writes JSON lines on stdout: {"stage", "detail"} as it goes,
then {"done": {score, max_score, status}}, {"error": text} (this student's grader failure) or
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
from ..pipeline import Options, grade, load_rubric


def job(path: Path, student: str, rubric_path: Path | None, rubric, options: Options) -> str:
    """The stdin payload for one submission (the parent's half of the protocol)."""
    return json.dumps({"path": str(path), "student": student, "rubric": str(rubric_path) if rubric_path else None,
                       "protocol": rubric.protocol.to_json(), "options": replace(options, quiet=True).to_json()})


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
        result = grade(Path(payload["path"]), rubric, options, payload["student"], on_stage)
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
    _emit(done={"score": result.score, "max_score": result.max_score, "status": str(result.status)})
    return 0


__all__ = ["job", "main"]

if __name__ == "__main__":
    sys.exit(main())
