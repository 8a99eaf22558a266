"""Stage 3b: the grader's own training of a student's architecture under the rubric protocol.

    plan.py    which runs a submission needs, and grouping their results (Retraining)
    specs.py   RunSpec (its cache key), RunResult, Retraining
    client.py  cache first, then parallel worker processes for what is missing
    cache.py   SQLite store + one lock file per key, shared by parallel graders
    worker.py  `python -m grader.retrain.worker`: Keras, seeded, op determinism on, fits through the memo
"""

from .cache import Cache, default_cache_dir
from .client import run_all
from .plan import ReferenceTraining, missing_references, choose_runs, reference_model, reference_specs, retrain, retraining_json, train_references
from .specs import Retraining, RunResult, RunSpec, tf_version

__all__ = ["ReferenceTraining", "missing_references", "retrain", "retraining_json", "choose_runs", "reference_model", "reference_specs", "train_references", "run_all", "Cache", "default_cache_dir",
           "Retraining", "RunResult", "RunSpec", "tf_version"]
