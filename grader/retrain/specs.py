"""What one training run is (RunSpec), what it gave (RunResult), and all of a submission's (Retraining).

A RunSpec's key hashes every input a result depends on; a RunResult is plain JSON-able data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import metadata

from ..data import Dataset
from ..kinds import RunKind
from ..messages import Message
from ..rubric import Protocol


def tf_version() -> str:
    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


@dataclass(frozen=True)
class RunSpec:
    label: str  # e.g. "he_normal"
    model: dict  # ModelDesc.to_json()
    seed: int
    epochs: int | None = None  # None: the protocol's
    kind: RunKind = RunKind.TRAIN

    def key(self, protocol: Protocol, dataset: Dataset) -> str:
        material = {"model": self.model, "seed": self.seed, "protocol": protocol.to_json(), "epochs": self.epochs,
                    "kind": self.kind, "data": dataset.checksum, "tf": tf_version(), "threads": protocol.threads, "v": 2}
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class RunResult:
    label: str
    seed: int
    history: dict  # metric -> list per epoch
    kernel_norms_before: list
    kernel_norms_after: list
    duration_s: float
    cached: bool = False
    key: str = ""
    activations: dict = field(default_factory=dict)  # "init"/"trained" -> per Dense layer {var, hist, edges}
    extra: dict = field(default_factory=dict)  # repro probe results
    memo: dict = field(default_factory=dict)  # {"fits", "served", "recorded"} in the worker that ran it

    @property
    def final_val_accuracy(self) -> float:
        return float(self.history["val_accuracy"][-1])

    def to_json(self) -> dict:
        return {"label": self.label, "seed": self.seed, "history": self.history,
                "kernel_norms_before": self.kernel_norms_before, "kernel_norms_after": self.kernel_norms_after,
                "duration_s": self.duration_s, "cached": self.cached, "extra": self.extra, "memo": self.memo}


@dataclass(frozen=True)
class Retraining:
    """The grader's runs for one submission.

    `main`: initializer -> run at the protocol seed; `seeds`: seed -> {initializer -> run} when
    extra seeds were asked for; `source`: which description was trained per initializer;
    `exercises`: exercise ("ex2", "ex4", "ex5") -> {label -> run}; `error`: why nothing ran.
    """

    main: dict
    seeds: dict
    source: dict
    error: Message | str = ""
    exercises: dict = field(default_factory=dict)

    def exercise(self, name: str) -> dict:
        return self.exercises.get(name, {})


__all__ = ["RunSpec", "RunResult", "Retraining", "tf_version"]
