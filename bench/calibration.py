"""Calibration table of every statistical check, with kernels drawn by Keras itself.

    .venv/bin/python bench/calibration.py [--draws 1000]

For each shape set (exercise 1, the homework MLP, exercise 2's MLP) and each correct
initializer: the false-alarm rate of the initializer verdict (variance bands + pooled KS shape
test, alpha = 1e-3) over N draws, and its power against the wrong initializers (Glorot vs He,
uniform vs truncated normal, RandomNormal(0.01)). Then the layer-variance similarity verdict of
exercise 3 (hidden-layer max/min ≤ the rubric bound) for He+ReLU, Glorot+ReLU and
RandomNormal(0.01) at initialization on one batch of real images.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402

from grader import data, rubric  # noqa: E402
from grader.initializers import InitSpec  # noqa: E402
from grader.stats import fit_kernels  # noqa: E402

SHAPES = {
    "ex1 Dense(128)": [(784, 128)],
    "homework [300,200,100,50,10]": [(784, 300), (300, 200), (200, 100), (100, 50), (50, 10)],
    "ex2 [512,256,128,64,10]": [(784, 512), (512, 256), (256, 128), (128, 64), (64, 10)],
}
CLASSES = {"glorot_uniform": "GlorotUniform", "he_uniform": "HeUniform", "he_normal": "HeNormal"}
WRONG = {"glorot_uniform": ["he_uniform", "he_normal"], "he_uniform": ["he_normal", "glorot_uniform"],
         "he_normal": ["he_uniform", "glorot_uniform"]}
SMALL = InitSpec("random_normal", {"mean": 0.0, "stddev": 0.01})


def draw(name: str, shapes, seed: int) -> list[np.ndarray]:
    return [np.asarray(keras.initializers.get({"class_name": CLASSES[name], "config": {"seed": seed * 100 + i}})(shape))
            for i, shape in enumerate(shapes)]


def kernels_table(draws: int) -> None:
    print(f"\nInitializer verdict (alpha = 1e-3), {draws} draws per row")
    print(f"{'shapes':32s} {'true init':15s} {'false alarms':>13s} | power against: " )
    for label, shapes in SHAPES.items():
        for name in CLASSES:
            started = time.monotonic()
            alarms, caught = 0, {w: 0 for w in WRONG[name]}
            for seed in range(draws):
                kernels = draw(name, shapes, seed)
                alarms += not fit_kernels(kernels, InitSpec(name)).ok
                for wrong in WRONG[name]:
                    caught[wrong] += not fit_kernels(kernels, InitSpec(wrong)).ok
            rn_caught = 0
            for seed in range(min(draws, 200)):
                rng = np.random.default_rng(seed)
                small = [rng.normal(0, 0.01, s).astype("float32") for s in shapes]
                rn_caught += not fit_kernels(small, InitSpec(name)).ok
            power = "  ".join(f"{w} {caught[w] / draws:6.1%}" for w in WRONG[name])
            print(f"{label:32s} {name:15s} {alarms:>5d}/{draws} ({alarms / draws:.1e}) | {power}  "
                  f"RandomNormal(0.01) {rn_caught / min(draws, 200):6.1%}   [{time.monotonic() - started:.0f} s]", flush=True)


def similarity_table(draws: int) -> None:
    bound = rubric.load().exercises["ex3"]["similar_ratio_max"]
    (x, _), _ = data.load(data.locate())
    batch = x[:256].reshape(256, -1).astype("float32") / 255.0
    units = [512, 256, 128, 64]
    print(f"\nExercise 3 verdict: hidden-layer output variance max/min ≤ {bound:g}, one batch of 256 real images, {draws} draws")
    for label, make in [("He + ReLU (correct)", lambda s: keras.initializers.HeNormal(seed=s)),
                        ("Glorot + ReLU", lambda s: keras.initializers.GlorotUniform(seed=s)),
                        ("RandomNormal(0.01) + ReLU", lambda s: keras.initializers.RandomNormal(stddev=0.01, seed=s))]:
        ratios = []
        for seed in range(draws):
            h, fan_in, variances = batch, 784, []
            for i, u in enumerate(units):
                w = np.asarray(make(seed * 10 + i)((fan_in, u)))
                h = np.maximum(h @ w, 0.0)
                variances.append(float(h.var()))
                fan_in = u
            ratios.append(max(variances) / min(variances))
        ratios = np.array(ratios)
        print(f"{label:28s} fails the bound in {np.mean(ratios > bound):7.2%}  (ratio median {np.median(ratios):.3g}, "
              f"99.9th pct {np.percentile(ratios, 99.9):.3g})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    similarity_table(args.draws)
    kernels_table(args.draws)


if __name__ == "__main__":
    main()
