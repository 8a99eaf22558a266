"""Run batched jobs in `python -m grader.retrain.batched_worker`, and the retraining's trainer for extra seeds.

`train_batched` has the signature of grader.retrain.client.train, so `run_all` caches, locks and
reuses what it trains exactly as it does Keras runs (their keys differ: RunKind.BATCHED).
"""

from __future__ import annotations

import json
import signal
import time

from ..errors import RetrainError
from ..messages import msg
from ..rubric import Protocol
from ..workerproc import TRAINING_ENV, Worker
from .batched import plain_layers


def run_job(models: list[dict], protocol: Protocol, data_folder, epochs: int | None = None,
            progress=lambda info: None, train_size: int | None = None) -> dict:
    """Train `models` ([{"label", "seed", "model"}], one architecture) in one worker process; its
    result line (`runs`, `seconds`). `train_size`: only the first images of the training split (tests)."""
    job = {"protocol": protocol.to_json(), "data": str(data_folder), "epochs": epochs, "models": models,
           "train_size": train_size}
    with Worker("grader.retrain.batched_worker", env=TRAINING_ENV, die_with_parent=signal.SIGKILL) as worker:
        result, code = None, None
        try:
            worker.send(job, last=True)
            for message in worker.messages():
                if "progress" in message:
                    progress(message["progress"])
                elif "runs" in message:
                    result = message
            code = worker.wait()
        except BrokenPipeError:  # it died before reading its job: said below with its stderr
            code = worker.wait()
        if code != 0 or result is None:
            raise RetrainError(msg("calibrate.worker_failed", code=code), hint=worker.stderr_tail())
    return result


def _shape(model: dict) -> str:
    return json.dumps([(layer["units"], layer.get("activation")) for layer in plain_layers(model)])


def train_batched(items, protocol: Protocol, dataset, progress, memo_store=None, workers: int | None = None,
                  on_announced=lambda: None):
    """Yield (key, value) for RunSpecs of one or more plain MLPs, each architecture one batch."""
    on_announced()
    groups: dict = {}
    for key, spec in items:
        groups.setdefault((_shape(spec.model), spec.epochs), []).append((key, spec))
    for (_, epochs), group in groups.items():
        started = time.monotonic()

        def say(info, n=len(group)):
            progress(msg("calibrate.batch_progress", models=n, epoch=info["epoch"], epochs=info["epochs"]))

        result = run_job([{"label": spec.label, "seed": spec.seed, "model": spec.model} for _, spec in group],
                         protocol, dataset.folder, epochs, say)
        seconds = time.monotonic() - started
        for (key, _), run in zip(group, result["runs"]):
            yield key, {"history": run["history"], "kernel_norms_before": run["kernel_norms_before"],
                        "kernel_norms_after": run["kernel_norms_after"], "duration_s": seconds / len(group),
                        "activations": {}, "extra": {"trained": "batched", "models_in_batch": len(group)}, "memo": {}}


__all__ = ["run_job", "train_batched"]
