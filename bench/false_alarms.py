"""Calibration table of every statistical verdict, with kernels drawn by Keras itself.

    .venv/bin/python bench/false_alarms.py [--draws 1000] [--alpha A] [--data-dir DIR]

First the table grader.false_alarms measures (what tests/calibrate/test_false_alarms.py asserts): for each
verdict, shape set and expected initializer, the false alarms over N correct draws and the
rejection rate of every wrong initializer. Then why exercise 3's similarity verdict is not asked
to tell Glorot from He: the spread of its statistic, and of the best alternative found (the
per-layer gain fitted across layers), for both, over the same draws.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import data, false_alarms  # noqa: E402
from grader.pipeline import load_rubric  # noqa: E402
from grader.stats import hidden_variance_ratio  # noqa: E402


def separation(reference, batch, draws: int) -> None:
    shapes = false_alarms.shape_sets(reference)["ex2"]
    stats = {}
    for generator in ("he_normal", "glorot_uniform"):
        ratios, gains = [], []
        for seed in range(draws):
            variances = false_alarms.layer_variances(batch, false_alarms.draw(generator, shapes, seed))
            hidden = np.log(variances[:-1])
            ratios.append(hidden_variance_ratio(variances))
            steps = np.arange(hidden.size) - (hidden.size - 1) / 2
            gains.append(float(np.exp((hidden * steps).sum() / (steps ** 2).sum())))
        stats[generator] = np.array(ratios), np.array(gains)
    (he_ratio, he_gain), (gl_ratio, gl_gain) = stats["he_normal"], stats["glorot_uniform"]
    print(f"\nExercise 3 on {draws} draws, one batch of {len(batch)} real images: can a verdict from one model tell Glorot + ReLU from He + ReLU?")
    print(f"  hidden max/min     He: median {np.median(he_ratio):.2f}, 99.9th pct {np.percentile(he_ratio, 99.9):.2f}"
          f"   Glorot: 1st pct {np.percentile(gl_ratio, 1):.2f}, median {np.median(gl_ratio):.2f}")
    print(f"  gain per layer     He: 0.1th pct {np.percentile(he_gain, 0.1):.3f}, median {np.median(he_gain):.3f}"
          f"   Glorot: median {np.median(gl_gain):.3f}, 99th pct {np.percentile(gl_gain, 99):.3f}")
    overlap = np.percentile(he_ratio, 99.9) >= np.percentile(gl_ratio, 1)
    print("  → " + ("the ranges overlap: no bound keeps false alarms ≤ 1e-3 and rejects Glorot in ≥ 99 %; "
                    "the kernel checks (initializer verdict) are the ones that catch Glorot with ReLU."
                    if overlap else "a bound between them separates the two."))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--alpha", type=float, default=None, help="default: the rubric's tolerances.alpha")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    reference = load_rubric()
    started = time.monotonic()
    rows = false_alarms.measure(reference, args.draws, alpha=args.alpha, data_dir=args.data_dir)
    alpha = reference.tolerances.alpha if args.alpha is None else args.alpha
    print(f"Every statistical verdict, alpha = {alpha:g}, {args.draws} draws per row "
          f"(targets: false alarms ≤ {false_alarms.FALSE_ALARM_MAX:g}, wrong initializer rejected ≥ {false_alarms.POWER_MIN:.0%}; "
          f"in parentheses: pairs of equal variance a variance-only verdict cannot and need not separate)\n")
    print(false_alarms.format_table(rows))
    print(f"\n[{time.monotonic() - started:.0f} s]")
    separation(reference, false_alarms.image_batch(data.locate(args.data_dir)), args.draws)


if __name__ == "__main__":
    main()
