"""Stage 3b: the grader's own training of a student's architecture under the rubric protocol.

The one training engine: `run_all` finds each run in the cache or has a trainer train it, and
`retrain(trainer=…)` picks the trainer. Three backends share `client.train`'s signature:

    Keras      client.train: parallel `python -m grader.retrain.worker` processes (the default)
    batched    batched_client.train_batched: a plain MLP's extra seeds in one batched computation
    Dask       dask.cluster_trainer(address): one Dask task per run key (Dask imported only when used)

    plan.py            which runs a submission needs, and grouping their results (Retraining)
    specs.py           RunSpec (its cache key), RunResult, Retraining
    client.py          run_all (cache first), and the Keras backend: parallel worker processes
    cache.py           SQLite store + one lock file per key, shared by parallel graders
    worker.py          `python -m grader.retrain.worker`: Keras, seeded, op determinism on, fits through the memo
    batched.py         every model of one architecture trained as one batched computation (stacked weights)
    batched_worker.py  `python -m grader.retrain.batched_worker`: the batched training in a process of its own
    batched_client.py  run_job() (also `grade calibrate`'s) and train_batched()
    dask.py            the runs as Dask tasks keyed by their content; the cluster's worker environment
"""

from .cache import Cache, default_cache_dir
from .client import run_all
from .dask import cluster_trainer
from .plan import ReferenceTraining, missing_references, choose_runs, reference_model, reference_specs, retrain, retraining_json, train_references
from .specs import Retraining, RunResult, RunSpec, tf_version

__all__ = ["ReferenceTraining", "missing_references", "retrain", "retraining_json", "choose_runs", "reference_model", "reference_specs", "train_references", "run_all", "cluster_trainer", "Cache", "default_cache_dir",
           "Retraining", "RunResult", "RunSpec", "tf_version"]
