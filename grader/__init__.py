"""grader: an autograder for class 108 (weight initialization).

Stages, one subpackage each, one typed object across each boundary:

    submission.load → execute.run (sandbox) → extract.extract → retrain.retrain → checks.run_checks → report
       Submission        Execution              Extracted          Retraining        [CheckResult]       HTML/JSON

`grade()` runs all of it for one file, `batch.grade_folder()` for a class, `check()` inside a
student's own notebook. Class facts come from the rubric (`rubric.load()`), every sentence from
the message catalog (`messages`).
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

__all__ = ["grade", "check", "Options", "GradeResult", "__version__"]

# Loaded on first use (PEP 562), not when the package is: a process that needs one stage (the
# training worker, `python -m grader.retrain.worker`) then does not also load the report stack
# and matplotlib that `pipeline` brings.
_LAZY = {"grade": "pipeline", "Options": "pipeline", "GradeResult": "pipeline", "check": "selfcheck"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
