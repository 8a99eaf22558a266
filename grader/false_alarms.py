"""How often each statistical verdict is wrong, measured.

Named false_alarms, not calibration: `grade calibrate` (grader/calibrate/) is another thing, how
often the homework's accuracy criterion holds for a correct solution under the protocol.

Every verdict the checks give about weights is run here, through the same functions the checks
call, on kernels drawn by Keras itself at the shapes the class uses:

- false alarms: how often it rejects kernels drawn from the initializer it expects (target ≤ 1e-3);
- power: how often it rejects kernels drawn from a wrong one (target ≥ 99 %): Glorot vs He,
  uniform vs truncated normal, RandomNormal(0.01) vs anything.

A verdict that only looks at the variance (variance band, initial norm band) cannot tell two
initializers with the same variance apart (he_uniform vs he_normal); those pairs are reported
but not counted as misses: the initializer verdict, which also tests the shape, is the one that
must catch them. `bench/false_alarms.py` prints the table; tests/calibrate/test_false_alarms.py asserts it.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field

import numpy as np

from .errors import GraderError
from .messages import msg
from .initializers import EXCESS_KURTOSIS, InitSpec, shape_family, target_variance
from .rubric import Rubric
from .stats import fit_kernels, hidden_variance_ratio, norms_outside_band, variance_test
from .workerproc import Worker

FALSE_ALARM_MAX = 1e-3
POWER_MIN = 0.99

# label -> (Keras config drawn from, the InitSpec it is)
GENERATORS = {
    "glorot_uniform": ({"class_name": "GlorotUniform", "config": {}}, InitSpec("glorot_uniform")),
    "glorot_normal": ({"class_name": "GlorotNormal", "config": {}}, InitSpec("glorot_normal")),
    "he_uniform": ({"class_name": "HeUniform", "config": {}}, InitSpec("he_uniform")),
    "he_normal": ({"class_name": "HeNormal", "config": {}}, InitSpec("he_normal")),
    "random_normal(0.01)": ({"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.01}},
                            InitSpec("random_normal", {"mean": 0.0, "stddev": 0.01})),
}


@dataclass(frozen=True)
class Row:
    """One verdict at one shape set expecting one initializer: rejections per generator."""

    verdict: str
    shapes: str
    expected: str
    draws: int
    rejected: dict = field(hash=False)        # generator -> kernels rejected out of `draws`
    meant_to_catch: tuple = ()                 # the wrong generators this verdict must reject

    @property
    def false_alarms(self) -> int:
        return self.rejected[self.expected]

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.draws

    def power(self, generator: str) -> float:
        return self.rejected[generator] / self.draws

    @property
    def calibrated(self) -> bool:
        return (self.false_alarm_rate <= FALSE_ALARM_MAX
                and all(self.power(g) >= POWER_MIN for g in self.meant_to_catch))

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "shapes": self.shapes, "expected": self.expected, "draws": self.draws,
                "false_alarms": self.false_alarms, "rejected": self.rejected, "meant_to_catch": list(self.meant_to_catch),
                "calibrated": self.calibrated}


def shape_sets(rubric: Rubric) -> dict[str, list[tuple[int, int]]]:
    """The kernel shapes of exercise 1, the homework MLP, exercise 2's MLP and its hidden layers
    (exercise 3's model), from the rubric."""
    def mlp(units):
        fans = [rubric.homework.input_size, *units]
        return list(zip(fans[:-1], fans[1:]))
    sets = {"ex1": [(rubric.exercise1.fan_in, rubric.exercise1.fan_out)], "homework": rubric.homework.kernel_shapes}
    if rubric.exercises is not None:
        sets["ex2"] = mlp(rubric.exercises.ex2.units)
        sets["ex3"] = sets["ex2"][:-1]  # ex3_model's hidden layers: the ones its check tests
    return sets


def describe(shapes) -> str:
    return " ".join(f"{a}×{b}" for a, b in shapes)


def draw(generator: str, shapes, seed: int, sort: bool = False) -> list[np.ndarray]:
    """One kernel per shape from Keras' own initializer, seeded. `sort` = the same weights in
    order: no kernel verdict depends on their order, and the KS test sorts them anyway."""
    import keras

    config, _ = GENERATORS[generator]
    kernels = []
    for i, shape in enumerate(shapes):
        init = keras.initializers.get({"class_name": config["class_name"],
                                       "config": {**config["config"], "seed": seed * 16 + i}})
        kernel = np.asarray(init(shape))
        kernels.append(np.sort(kernel, axis=None).reshape(kernel.shape) if sort else kernel)
    return kernels


def _same_variance(a: InitSpec, b: InitSpec, shapes) -> bool:
    return all(math.isclose(target_variance(a, s), target_variance(b, s), rel_tol=1e-9) for s in shapes)


# verdict name -> function(kernels, expected InitSpec, alpha) -> rejected?
def _initializer_verdict(kernels, spec, alpha):
    return not fit_kernels(kernels, spec, alpha).ok


def _variance_band_verdict(kernels, spec, alpha):
    (kernel,) = kernels
    return not variance_test(kernel, target_variance(spec, kernel.shape), EXCESS_KURTOSIS[shape_family(spec)], alpha=alpha).ok


def _norm_band_verdict(kernels, spec, alpha):
    norms = [float(np.linalg.norm(k.astype(np.float64))) for k in kernels]
    return bool(norms_outside_band(norms, spec, [k.shape for k in kernels], alpha))


KERNEL_VERDICTS = {
    # verdict: (function, shape sets it is used at, expected initializers, variance-only?)
    "initializer (variance + KS)": (_initializer_verdict, ("ex1", "homework", "ex3"), None, False),
    "variance band": (_variance_band_verdict, ("ex1",), ("glorot_uniform",), True),
    "initial norm band": (_norm_band_verdict, ("homework",), None, True),
}


def _expected_inits(rubric: Rubric, set_name: str) -> tuple[str, ...]:
    if set_name == "ex1":
        return ("glorot_uniform",)
    if set_name == "ex3":
        return tuple(rubric.homework.he_initializers)
    return tuple(rubric.homework.initializers)


def _plan(rubric: Rubric) -> list[tuple[str, str, str]]:
    """(verdict, shape set, expected initializer) for every kernel verdict the checks give."""
    return [(name, set_name, expected)
            for set_name in shape_sets(rubric)
            for name, (_, used_at, only, _) in KERNEL_VERDICTS.items() if set_name in used_at
            for expected in (only or _expected_inits(rubric, set_name))]


SIMILARITY = "layer-variance similarity"


def count_rejections(job: dict, batch: np.ndarray | None) -> dict[str, int]:
    """For each seed of the job, draw every generator at every shape set and run every verdict
    expecting every initializer; rejections counted under "verdict|set|expected|generator"."""
    sets = {name: [tuple(shape) for shape in shapes] for name, shapes in job["sets"].items()}
    plan = [tuple(item) for item in job["plan"]]
    counts: dict[str, int] = {}

    def add(key, rejected):
        counts[key] = counts.get(key, 0) + int(bool(rejected))

    for seed in range(*job["seeds"]):
        for set_name in sorted({set_name for _, set_name, _ in plan}):
            drawn = {g: draw(g, sets[set_name], seed, sort=True) for g in GENERATORS}
            for name, at, expected in plan:
                if at == set_name:
                    for g, kernels in drawn.items():
                        add(f"{name}|{at}|{expected}|{g}", KERNEL_VERDICTS[name][0](kernels, GENERATORS[expected][1], job["alpha"]))
        if batch is not None:
            for g in GENERATORS:
                variances = layer_variances(batch, draw(g, sets["ex2"], seed))
                add(f"{SIMILARITY}|ex2|he_normal|{g}", hidden_variance_ratio(variances) > job["bound"])
    return counts


def layer_variances(batch: np.ndarray, kernels: list[np.ndarray]) -> list[float]:
    """Each Dense layer's output variance on one batch for a fresh ReLU MLP (biases are zeros
    when Keras builds it); the last layer's pre-softmax output, which the check leaves out."""
    h, variances = batch, []
    for i, kernel in enumerate(kernels):
        h = h @ kernel
        if i < len(kernels) - 1:
            h = np.maximum(h, 0.0)
        variances.append(float(h.var()))
    return variances


# one process per core, each single-threaded: TF's and BLAS's own thread pools would fight over the cores
ONE_THREAD_ENV = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
                  "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def measure(rubric: Rubric, draws: int, alpha: float | None = None, data_dir: str | None = None,
              workers: int = 2, similarity: bool = True) -> list[Row]:
    """The false-alarm table: `draws` seeds split over `workers` processes (python -m
    grader.false_alarms, a JSON job on stdin, JSON counts on stdout), counts summed."""
    alpha = rubric.tolerances.alpha if alpha is None else alpha
    similarity = similarity and rubric.exercises is not None
    workers = max(1, min(workers, draws))
    bounds = [draws * i // workers for i in range(workers + 1)]
    base = {"sets": shape_sets(rubric), "plan": _plan(rubric), "alpha": alpha, "similarity": similarity,
            "bound": rubric.exercises.ex3.similar_ratio_max if rubric.exercises else None, "data_dir": data_dir}
    started = []
    try:
        for start, stop in zip(bounds[:-1], bounds[1:]):
            started.append(Worker("grader.false_alarms", env=ONE_THREAD_ENV))
            started[-1].send({**base, "seeds": [start, stop]}, last=True)
        counts: dict[str, int] = {}
        for worker in started:
            answers = list(worker.messages())
            code = worker.wait()
            if code != 0 or not answers:
                raise GraderError(msg("false_alarms.worker_failed", code=code, stderr=worker.stderr_tail()))
            for key, value in answers[-1].items():
                counts[key] = counts.get(key, 0) + value
    finally:
        for worker in started:
            worker.close()
    return rows_from_counts(rubric, counts, draws, similarity)


def rows_from_counts(rubric: Rubric, counts: dict[str, int], draws: int, similarity: bool) -> list[Row]:
    sets = shape_sets(rubric)
    rows = []
    for name, set_name, expected in _plan(rubric):
        spec, shapes = GENERATORS[expected][1], sets[set_name]
        variance_only = KERNEL_VERDICTS[name][3]
        catch = tuple(g for g in GENERATORS if g != expected
                      and not (variance_only and _same_variance(GENERATORS[g][1], spec, shapes)))
        rows.append(Row(name, f"{set_name} {describe(shapes)}", expected, draws,
                        {g: counts.get(f"{name}|{set_name}|{expected}|{g}", 0) for g in GENERATORS}, catch))
    if similarity:
        bound = rubric.exercises.ex3.similar_ratio_max
        # he_uniform is as right as he_normal for ReLU; Glorot+ReLU shrinks the variance ~0.66× per
        # layer, which one batch through one draw of these widths cannot tell from He's own spread
        rows.append(Row(f"{SIMILARITY} (max/min ≤ {bound:g})", f"ex3 {describe(sets['ex2'][:-1])} + ReLU", "he_normal", draws,
                        {g: counts.get(f"{SIMILARITY}|ex2|he_normal|{g}", 0) for g in GENERATORS}, ("random_normal(0.01)",)))
    return rows


def image_batch(dataset, size: int = 256, pixel_scale: float = 255.0) -> np.ndarray:
    from .data import load

    (x, _), _ = load(dataset)
    return x[:size].reshape(size, -1).astype("float32") / pixel_scale


def format_table(rows: list[Row]) -> str:
    """Plain-text table: false alarms, then the rejection rate of every other generator
    (in parentheses: pairs the verdict is not meant to separate)."""
    lines = [f"{'verdict':42s} {'shapes':44s} {'expected':15s} {'false alarms':>18s}  rejects the wrong initializer"]
    for row in rows:
        others = []
        for g in GENERATORS:
            if g == row.expected:
                continue
            text = f"{g} {row.power(g):.1%}"
            others.append(text if g in row.meant_to_catch else f"({text})")
        flag = "" if row.calibrated else "  ← NOT CALIBRATED"
        lines.append(f"{row.verdict:42s} {row.shapes:44s} {row.expected:15s} "
                     f"{row.false_alarms:>5d}/{row.draws} ({row.false_alarm_rate:.1e})  {'  '.join(others)}{flag}")
    return "\n".join(lines)


def main() -> None:
    """Worker: one JSON job on stdin (seeds, shapes, plan, alpha), one JSON line of counts out."""
    job = json.loads(sys.stdin.read())
    batch = None
    if job["similarity"]:
        from .data import locate
        batch = image_batch(locate(job["data_dir"]))
    print(json.dumps(count_rejections(job, batch)))


if __name__ == "__main__":
    main()


__all__ = ["Row", "measure", "count_rejections", "layer_variances", "rows_from_counts", "shape_sets", "format_table", "image_batch", "GENERATORS",
           "FALSE_ALARM_MAX", "POWER_MIN"]
