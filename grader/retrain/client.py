"""Run a list of RunSpecs: from the cache where possible, else in one worker process.

Training happens in `python -m grader.retrain.worker` (JSON jobs on stdin, JSON lines out), so
TensorFlow's state never leaks into the grader and a crash costs one RetrainError.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from ..data import Dataset
from ..errors import RetrainError
from ..messages import msg
from ..rubric import Protocol
from .cache import Cache
from .specs import RunResult, RunSpec


VALUE_KEYS = ("history", "kernel_norms_before", "kernel_norms_after", "duration_s", "activations", "extra")


def _result(spec: RunSpec, key: str, value: dict, cached: bool) -> RunResult:
    return RunResult(spec.label, spec.seed, value["history"], value["kernel_norms_before"],
                     value["kernel_norms_after"], value["duration_s"], cached, key,
                     value.get("activations") or {}, value.get("extra") or {})


def run_all(specs: list[RunSpec], protocol: Protocol, dataset: Dataset, cache: Cache,
            progress=lambda message: None, cache_only: bool = False) -> list[RunResult]:
    """Results in the order of `specs`. Cached keys are not retrained; equal keys train once;
    a key another process is training is waited for (a file lock per key), never trained twice.
    With `cache_only`, a missing key raises RetrainError instead of training."""
    keys = [spec.key(protocol, dataset) for spec in specs]
    found: dict[str, tuple[dict, bool]] = {}
    for key in dict.fromkeys(keys):
        hit = cache.get(key)
        if hit is not None:
            found[key] = (hit, True)
    missing = [key for key in dict.fromkeys(keys) if key not in found]
    if missing and cache_only:
        raise RetrainError(msg("retrain.not_cached", missing=len(missing), total=len(set(keys))))
    if missing:
        first_spec = {key: specs[keys.index(key)] for key in missing}
        with cache.claim(missing) as (mine, theirs):
            if mine:
                for key, value in _train([(key, first_spec[key]) for key in mine], protocol, dataset, progress):
                    cache.put(key, value)
                    cache.release(key)
                    found[key] = (value, False)
            for key in theirs:
                cache.wait(key)
                hit = cache.get(key)
                if hit is None:  # the other process failed: train it here
                    (_, hit), = _train([(key, first_spec[key])], protocol, dataset, progress)
                    cache.put(key, hit)
                    found[key] = (hit, False)
                else:
                    found[key] = (hit, True)
    return [_result(spec, key, *found[key]) for spec, key in zip(specs, keys)]


def _train(items: list[tuple[str, RunSpec]], protocol: Protocol, dataset: Dataset, progress):
    """Yield (key, value) as the worker process finishes each run."""
    jobs = [{"id": key, "label": spec.label, "model": spec.model, "seed": spec.seed, "epochs": spec.epochs, "kind": str(spec.kind)}
            for key, spec in items]
    payload = {"protocol": protocol.to_json(), "data": str(dataset.folder), "jobs": jobs}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0")
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen([sys.executable, "-m", "grader.retrain.worker"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=errors, text=True, env=env)
        try:
            process.stdin.write(json.dumps(payload))
            process.stdin.close()
            done = 0
            for line in process.stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if "progress" in message:
                    progress(message["progress"])
                    continue
                done += 1
                yield message["id"], {k: message.get(k) for k in VALUE_KEYS}
            if process.wait() != 0 or done != len(items):
                errors.seek(0)
                raise RetrainError(msg("retrain.worker_failed"), hint=errors.read().strip()[-2000:])
        finally:  # interrupted, or the caller stopped early: the worker never outlives its client
            if process.poll() is None:
                process.kill()
                process.wait()


__all__ = ["run_all"]
