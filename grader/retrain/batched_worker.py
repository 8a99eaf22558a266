"""`python -m grader.retrain.batched_worker`: one JSON job on stdin, progress lines and one result line out.

The job: `{"protocol", "data", "epochs", "models": [{"label", "seed", "model"}]}`. Every model
trains in one batched computation (grader/retrain/batched.py), with the protocol's threads and
op determinism, in this process of its own, so TensorFlow's settings never leak into the grader.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ..data import Dataset
from ..rubric import Protocol


def main() -> None:
    job = json.loads(sys.stdin.read())
    protocol = Protocol(**job["protocol"])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from . import batched

    batched.configure(protocol.threads)
    started = time.monotonic()
    x_train, y_train, x_val, y_val = batched.protocol_arrays(Dataset(Path(job["data"]), False, "", 0, 0), protocol)
    limit = job.get("train_size")
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    models = [batched.Model(item["label"], int(item["seed"]), item["model"]) for item in job["models"]]

    def progress(epoch, total):
        print(json.dumps({"progress": {"epoch": epoch, "epochs": total, "seconds": time.monotonic() - started}}), flush=True)

    runs = batched.train(models, protocol, x_train, y_train, x_val, y_val, job.get("epochs"), progress)
    print(json.dumps({"runs": [{"label": run.label, "seed": run.seed, "history": run.history,
                                "kernel_norms_before": run.kernel_norms_before, "kernel_norms_after": run.kernel_norms_after,
                                "initial_kernels_var": run.initial_kernels_var} for run in runs],
                      "seconds": time.monotonic() - started}), flush=True)


if __name__ == "__main__":
    main()


__all__ = ["main"]
