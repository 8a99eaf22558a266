"""Which runs the grader trains for one submission, and how their results are grouped.

The homework's three initializers are retrained on what the student trained (`hw_models`),
else on what `build_model` returns, else on the rubric's reference MLP (which then earns no
credit: checks say so). Exercises 2 and 4 are the rubric's own MLPs; exercise 5 is the
reproducibility probe on the student's he_normal model. The "exercise:label" naming of those
specs is made and read here only.
"""

from __future__ import annotations

import threading
import time

from ..data import IMAGE_SHAPE
from ..errors import RetrainError
from ..kinds import RetrainMode, RunKind
from ..messages import Message, msg
from ..modeldesc import ModelDesc
from ..rubric import InitRef, Rubric
from .batched import batchable
from .batched_client import train_batched
from .cache import Cache
from .client import run_all, stop_workers
from .specs import Retraining, RunSpec

SOURCE_HW_MODELS, SOURCE_BUILD_MODEL, SOURCE_REFERENCE = "hw_models", "build_model", "reference"
_SEP = ":"


def choose_runs(values: dict, rubric: Rubric) -> tuple[dict, dict]:
    """(description JSON, source) per homework initializer."""
    descs, source = {}, {}
    probes = values.get("build_model") or {}
    trained = values.get("hw_models") or {}
    for init in rubric.homework.initializers:
        if isinstance(trained.get(init), ModelDesc):
            descs[init], source[init] = trained[init].to_json(), SOURCE_HW_MODELS
        elif isinstance(probes.get(init), ModelDesc):
            descs[init], source[init] = probes[init].to_json(), SOURCE_BUILD_MODEL
        else:
            descs[init], source[init] = reference_model(rubric, init), SOURCE_REFERENCE
    return descs, source


def mlp(units, hidden: str, output: str, init: InitRef) -> dict:
    """Canonical description of a plain MLP on images: `Input((28, 28))`, `Flatten()`, then the
    Dense layers, the form the starter notebook and the class use, so the grader's own run of it
    computes exactly the student's `fit` (the training memo serves it by that exact key)."""
    layers = [{"kind": "dense", "units": u, "use_bias": True, "activation": hidden if i < len(units) - 1 else output,
               "kernel_init": {"name": init.name, "params": dict(init.params)}, "bias_init": {"name": "zeros", "params": {}}}
              for i, u in enumerate(units)]
    return {"input_shape": list(IMAGE_SHAPE), "layers": [{"kind": "flatten"}, *layers]}


def reference_model(rubric: Rubric, init: str) -> dict:
    hw = rubric.homework
    return mlp(hw.units, hw.hidden_activation, hw.output_activation, InitRef(init))


def exercise_label(exercise: str, label: str) -> str:
    return f"{exercise}{_SEP}{label}"


def split_label(label: str) -> tuple[str, str] | None:
    """("ex2", "he_normal") for an exercise run's label; None for a homework run."""
    exercise, sep, rest = label.partition(_SEP)
    return (exercise, rest) if sep else None


def exercise_specs(rubric: Rubric, descs: dict) -> list[RunSpec]:
    """The grader's own runs for exercises 2, 4 (training) and 5 (reproducibility probe)."""
    ex = rubric.exercises
    if ex is None:
        return []
    specs = []
    for name, exercise in (("ex2", ex.ex2), ("ex4", ex.ex4)):
        for label, init in exercise.runs.items():
            model = mlp(exercise.units, exercise.activation, "softmax", init)
            specs.append(RunSpec(exercise_label(name, label), model, rubric.protocol.seed, ex.epochs))
    specs.append(RunSpec(exercise_label("ex5", "repro"), descs.get("he_normal") or reference_model(rubric, "he_normal"),
                         rubric.protocol.seed, 1, RunKind.REPRO))
    return specs


def seed_list(rubric: Rubric, extra_seeds: int) -> list[int]:
    """The protocol seed first, then 1, 2, … (skipping it) up to `extra_seeds` more."""
    seed = rubric.protocol.seed
    return [seed] + [s for s in range(1, extra_seeds + 2) if s != seed][:extra_seeds]


def reference_specs(rubric: Rubric) -> list[RunSpec]:
    """The protocol's own runs, known before any submission: the homework's initializers on the
    reference MLP and the exercises' runs. Trained first, they put in the memo what every
    protocol-following notebook is about to train."""
    specs = [RunSpec(init, reference_model(rubric, init), rubric.protocol.seed) for init in rubric.homework.initializers]
    return specs + exercise_specs(rubric, {})


def missing_references(rubric: Rubric, dataset, cache_dir) -> int:
    """How many reference runs are not cached yet (each one a training to come)."""
    cache = Cache(cache_dir)
    return sum(1 for spec in reference_specs(rubric) if cache.get(spec.key(rubric.protocol, dataset)) is None)


def train_references(rubric: Rubric, dataset, *, cache_dir, memo_store=None, workers: int | None = None,
                     progress=lambda message: None, on_announced=lambda: None) -> list:
    """Find or train the reference runs (see `reference_specs`); their results, cached."""
    return run_all(reference_specs(rubric), rubric.protocol, dataset, Cache(cache_dir), progress,
                   memo_store=memo_store, workers=workers, on_announced=on_announced)


class ReferenceTraining:
    """The reference runs, trained in a background thread while a notebook already executes: its
    protocol fits wait for the entries being trained (the worker's `.pending` markers) instead of
    training them a second time. A failure here costs nothing but time: the retraining that
    follows trains whatever is still missing."""

    def __init__(self, rubric: Rubric, dataset, *, cache_dir, memo_store, workers: int | None = None) -> None:
        self.seconds = 0.0
        self.error: Exception | None = None
        self.announced = threading.Event()  # every training to come is marked pending
        self._thread = threading.Thread(target=self._run, args=(rubric, dataset, cache_dir, memo_store, workers),
                                        name="grader-references", daemon=True)
        self._thread.start()

    def _run(self, rubric, dataset, cache_dir, memo_store, workers) -> None:
        started = time.monotonic()
        try:
            train_references(rubric, dataset, cache_dir=cache_dir, memo_store=memo_store, workers=workers,
                             on_announced=self.announced.set)
        except Exception as exc:  # RetrainError, OSError: the retraining will say it, if it persists
            self.error = exc
        finally:
            self.seconds = time.monotonic() - started
            self.announced.set()

    def wait_announced(self, timeout: float = 180) -> None:
        """Until a notebook can tell which fits to wait for (a worker's start and the keys: ~15 s)."""
        self.announced.wait(timeout)

    def join(self) -> float:
        self._thread.join()
        return self.seconds

    def stop(self) -> None:
        stop_workers()
        self._thread.join(timeout=30)


def extra_seed_kind(desc: dict, seed: int, rubric: Rubric, trainer) -> RunKind:
    """The protocol seed trains with Keras (the memo serves its fits bitwise); an extra seed of a
    plain MLP trains batched with the others, locally (a cluster run keeps one Keras task per key)."""
    if seed == rubric.protocol.seed or trainer is not None or not batchable(desc, rubric.protocol):
        return RunKind.TRAIN
    return RunKind.BATCHED


def retrain(values: dict, rubric: Rubric, dataset, *, cache_dir, mode: RetrainMode, extra_seeds: int = 0,
            progress=lambda message: None, memo_store=None, workers: int | None = None, trainer=None) -> Retraining:
    """Plan, run (or read from the cache) and group every run one submission needs (`trainer`:
    see `run_all`). In RetrainMode.RUN a worker that cannot start or a store that cannot be read
    raises RetrainError (the grading becomes grader_error); a self-check's cache-only run keeps
    the reason in `Retraining.error`, which its checks explain."""
    descs, source = choose_runs(values, rubric)
    if mode == RetrainMode.OFF:
        return Retraining({}, {}, source, msg("retrain.off"))
    seeds = seed_list(rubric, extra_seeds)
    specs = [RunSpec(init, descs[init], seed, kind=extra_seed_kind(descs[init], seed, rubric, trainer))
             for seed in seeds for init in rubric.homework.initializers]
    specs += exercise_specs(rubric, descs)
    batched = [spec for spec in specs if spec.kind == RunKind.BATCHED]
    try:
        results = run_all([spec for spec in specs if spec.kind != RunKind.BATCHED], rubric.protocol, dataset,
                          Cache(cache_dir), progress, cache_only=mode == RetrainMode.CACHE_ONLY, memo_store=memo_store,
                          workers=workers, trainer=trainer)
        if batched:  # the extra seeds: one batched computation (their keys are their own: kind BATCHED)
            results += run_all(batched, rubric.protocol, dataset, Cache(cache_dir), progress,
                               cache_only=mode == RetrainMode.CACHE_ONLY, trainer=train_batched)
    except (RetrainError, OSError) as exc:
        why: Message | str = exc.as_message() if isinstance(exc, RetrainError) else str(exc)
        if mode == RetrainMode.RUN:  # the grader's own training failed: never the student's to pay (pipeline.finish)
            raise RetrainError(msg("fault.retrain", why=why)) from exc
        if mode == RetrainMode.CACHE_ONLY:
            why = msg("retrain.self_check_not_cached", why=exc.message if isinstance(exc, RetrainError) else str(exc))
        return Retraining({}, {}, source, why)
    by_seed: dict = {}
    exercises: dict = {}
    for result in results:
        parts = split_label(result.label)
        if parts:
            exercises.setdefault(parts[0], {})[parts[1]] = result
        else:
            by_seed.setdefault(result.seed, {})[result.label] = result
    return Retraining(by_seed[rubric.protocol.seed], by_seed if extra_seeds else {}, source, exercises=exercises)


def retraining_json(retraining: Retraining, rubric: Rubric) -> dict:
    """The `retraining` section of result.json (exercise runs keyed "ex2:label", as always)."""
    return {"source": retraining.source, "error": retraining.error, "protocol": rubric.protocol.to_json(),
            "runs": {init: run.to_json() for init, run in retraining.main.items()},
            "exercises": {exercise_label(name, label): run.to_json()
                          for name, runs in retraining.exercises.items() for label, run in runs.items()},
            "seeds": {str(seed): {init: run.final_val_accuracy for init, run in runs.items()}
                      for seed, runs in retraining.seeds.items()}}


__all__ = ["retrain", "choose_runs", "reference_model", "mlp", "exercise_specs", "exercise_label", "split_label",
           "seed_list", "retraining_json", "SOURCE_HW_MODELS", "SOURCE_BUILD_MODEL", "SOURCE_REFERENCE"]
