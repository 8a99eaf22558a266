"""`grade calibrate`: how often the homework's criterion holds for a correct solution.

    run.py        calibrate(): K seeds × the homework's initializers, calibration.json + .html, the store
    batched.py    every model of one architecture trained as one batched computation (stacked weights)
    worker.py     `python -m grader.calibrate.worker`: the batched training in a process of its own
    client.py     run_job() and train_batched(), the retraining's trainer for `grade --seeds K`
    measure.py    holds, mean and 95 % CI, threshold_95, from per-seed accuracies
    store.py      the calibrations in the grader's store, keyed by protocol; load_calibration()
    paragraph.py  criterion_paragraph(): the report's paragraph, from the teacher's measurement
    page.py       calibration.html and the terminal summary
    validate.py   is the batched path's outcome distribution Keras'? (bench/calibrate.py)

Not to be confused with grader/false_alarms.py, which measures the statistical verdicts' false
alarms and power.
"""

from .paragraph import criterion_paragraph
from .store import load_calibration

__all__ = ["criterion_paragraph", "load_calibration"]
