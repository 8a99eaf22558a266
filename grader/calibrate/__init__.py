"""`grade calibrate`: how often the homework's criterion holds for a correct solution.

    run.py        calibrate(): K seeds × the homework's initializers, calibration.json + .html, the store
    measure.py    holds, mean and 95 % CI, threshold_95, from per-seed accuracies
    store.py      the calibrations in the grader's store, keyed by protocol; load_calibration()
    page.py       calibration.html and the terminal summary
    validate.py   is the batched path's outcome distribution Keras'? (bench/calibrate.py)

The training itself is the retraining engine's batched backend (grader/retrain/batched.py);
the report's paragraph that quotes a calibration is grader/report/criterion.py.

Not to be confused with grader/false_alarms.py, which measures the statistical verdicts' false
alarms and power.
"""

from .store import load_calibration

__all__ = ["load_calibration"]
