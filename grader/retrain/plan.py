"""Which runs the grader trains for one submission, and how their results are grouped.

The homework's three initializers are retrained on what the student trained (`hw_models`),
else on what `build_model` returns, else on the rubric's reference MLP (which then earns no
credit: checks say so). Exercises 2 and 4 are the rubric's own MLPs; exercise 5 is the
reproducibility probe on the student's he_normal model. The "exercise:label" naming of those
specs is made and read here only.
"""

from __future__ import annotations

from ..errors import RetrainError
from ..kinds import RetrainMode, RunKind
from ..messages import Message, msg
from ..modeldesc import ModelDesc
from ..rubric import InitRef, Rubric
from .cache import Cache
from .client import run_all
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


def mlp(input_size: int, units, hidden: str, output: str, init: InitRef) -> dict:
    """Canonical description of a plain MLP on flattened images."""
    layers = [{"kind": "dense", "units": u, "use_bias": True, "activation": hidden if i < len(units) - 1 else output,
               "kernel_init": {"name": init.name, "params": dict(init.params)}, "bias_init": {"name": "zeros", "params": {}}}
              for i, u in enumerate(units)]
    return {"input_shape": [input_size], "layers": layers}


def reference_model(rubric: Rubric, init: str) -> dict:
    hw = rubric.homework
    return mlp(hw.input_size, hw.units, hw.hidden_activation, hw.output_activation, InitRef(init))


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
            model = mlp(rubric.homework.input_size, exercise.units, exercise.activation, "softmax", init)
            specs.append(RunSpec(exercise_label(name, label), model, rubric.protocol.seed, ex.epochs))
    specs.append(RunSpec(exercise_label("ex5", "repro"), descs.get("he_normal") or reference_model(rubric, "he_normal"),
                         rubric.protocol.seed, 1, RunKind.REPRO))
    return specs


def seed_list(rubric: Rubric, extra_seeds: int) -> list[int]:
    """The protocol seed first, then 1, 2, … (skipping it) up to `extra_seeds` more."""
    seed = rubric.protocol.seed
    return [seed] + [s for s in range(1, extra_seeds + 2) if s != seed][:extra_seeds]


def retrain(values: dict, rubric: Rubric, dataset, *, cache_dir, mode: RetrainMode, extra_seeds: int = 0,
            progress=lambda message: None) -> Retraining:
    """Plan, run (or read from the cache) and group every run one submission needs."""
    descs, source = choose_runs(values, rubric)
    if mode == RetrainMode.OFF:
        return Retraining({}, {}, source, msg("retrain.off"))
    seeds = seed_list(rubric, extra_seeds)
    specs = [RunSpec(init, descs[init], seed) for seed in seeds for init in rubric.homework.initializers]
    specs += exercise_specs(rubric, descs)
    try:
        results = run_all(specs, rubric.protocol, dataset, Cache(cache_dir), progress,
                          cache_only=mode == RetrainMode.CACHE_ONLY)
    except (RetrainError, OSError) as exc:
        why: Message | str = exc.as_message() if isinstance(exc, RetrainError) else str(exc)
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
