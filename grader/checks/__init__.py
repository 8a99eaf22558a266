"""Stage 3: one function per rubric item, `(Context) -> Outcome`, registered by id.

A check compares what the student claims with what the grader recomputes (initializer
identity from the layer config, exact limits, statistical tests on the weights, norms, and the
grader's own retraining). Outcomes carry catalog Messages; `CheckResult.to_json(lang)` renders
them in the reader's language.

    registry.py    Outcome, CheckResult, Context, @check, run_checks, jsonable
    common.py      helpers several checks share
    ex1.py         exercise 1 (one Dense layer's default initialization)
    homework.py    the homework's static checks (models, weights, histories, norms)
    retraining.py  the homework checks that need the grader's own training
    exercises.py   exercises 2–5
    diagnosis.py   what a wrong initializer is in Keras' terms and what it does to the signal
    collapse.py    runs that should differ (one per initializer) and are one run
"""

from . import ex1, exercises, homework, retraining  # noqa: F401  (importing registers the checks)
from .registry import CHECKS, CheckResult, Context, Outcome, jsonable, registered_ids, run_checks

__all__ = ["run_checks", "Context", "CheckResult", "Outcome", "registered_ids", "CHECKS", "jsonable"]
