"""Do batched runs have the outcomes of Keras `fit`? The statistics bench/calibrate.py prints.

Both sides train the same models under the same seeds, but the batched path shuffles with other
permutations and sums in another order, so no run can be compared with its Keras twin: their
distributions are compared. Per initializer, the final val_accuracy of the seeds on each side:
Welch's t test and a two-sided permutation test of the difference of means. The same for each He
variant's He − Glorot difference, the quantity `grade calibrate` measures. Per epoch, the
difference of the mean val_accuracy curves against its standard error; with Bonferroni over
every (initializer, epoch), a curve within noise has every |z| below the level's critical value.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from scipy import stats

ALPHA = 0.05
PERMUTATIONS = 20000


def permutation_p(a, b, rounds: int = PERMUTATIONS, seed: int = 0) -> float:
    """Two-sided p-value of mean(a) − mean(b) under exchangeability (exact when the splits are few)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    pooled, n = np.concatenate([a, b]), len(a)
    observed = abs(a.mean() - b.mean())
    total = math.comb(len(pooled), n)
    if total <= rounds:
        diffs = [abs(pooled[list(idx)].mean() - np.delete(pooled, list(idx)).mean()) for idx in combinations(range(len(pooled)), n)]
        return float(np.mean(np.asarray(diffs) >= observed - 1e-12))
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(rounds):
        order = rng.permutation(len(pooled))
        hits += abs(pooled[order[:n]].mean() - pooled[order[n:]].mean()) >= observed - 1e-12
    return float((hits + 1) / (rounds + 1))


def compare_samples(keras, batched) -> dict:
    """Mean, sd, Welch's t and its p, the Welch 95 % CI of batched − Keras, the permutation p, and
    Levene's test of equal spread (reported, not part of the verdict: with 8–10 seeds one outlier
    decides it)."""
    k, b = np.asarray(keras, float), np.asarray(batched, float)
    test = stats.ttest_ind(b, k, equal_var=False)
    vk, vb = k.var(ddof=1) / len(k), b.var(ddof=1) / len(b)
    dof = (vk + vb) ** 2 / (vk ** 2 / (len(k) - 1) + vb ** 2 / (len(b) - 1)) if vk + vb > 0 else float("inf")
    half = float(stats.t.ppf(0.975, dof) * math.sqrt(vk + vb))
    diff = float(b.mean() - k.mean())
    return {"levene_p": float(stats.levene(k, b).pvalue), "keras_n": len(k), "batched_n": len(b), "keras_mean": float(k.mean()), "keras_sd": float(k.std(ddof=1)),
            "batched_mean": float(b.mean()), "batched_sd": float(b.std(ddof=1)), "diff": diff,
            "diff_ci95": [diff - half, diff + half], "welch_t": float(test.statistic), "welch_p": float(test.pvalue),
            "permutation_p": permutation_p(b, k)}


def curve_z(keras_curves, batched_curves) -> list[float]:
    """Per epoch: (mean batched − mean Keras) / its standard error."""
    k, b = np.asarray(keras_curves, float), np.asarray(batched_curves, float)  # [seeds, epochs]
    se = np.sqrt(k.var(axis=0, ddof=1) / len(k) + b.var(axis=0, ddof=1) / len(b))
    return [float(d / s) if s > 0 else 0.0 for d, s in zip(b.mean(axis=0) - k.mean(axis=0), se)]


def validate(keras: dict, batched: dict, he_initializers, baseline: str, alpha: float = ALPHA) -> dict:
    """`keras`, `batched`: init -> seed (str) -> val_accuracy per epoch. Every test's numbers and
    the verdicts: final accuracies and He − Glorot agree (no p below alpha / tests, Bonferroni),
    curves within noise (every |z| below the Bonferroni critical value)."""
    inits = [init for init in keras if init in batched]
    final = {init: compare_samples([c[-1] for c in keras[init].values()], [c[-1] for c in batched[init].values()])
             for init in inits}

    def diffs(side, init):
        return [side[init][s][-1] - side[baseline][s][-1] for s in side[init] if s in side[baseline]]

    difference = {init: compare_samples(diffs(keras, init), diffs(batched, init)) for init in he_initializers
                  if init in inits and baseline in inits}
    curves = {init: curve_z(list(keras[init].values()), list(batched[init].values())) for init in inits}
    tests = len(final) + len(difference)
    p_level = alpha / max(1, tests)
    comparisons = sum(len(z) for z in curves.values())
    z_level = float(stats.norm.isf(alpha / 2 / max(1, comparisons)))
    worst_p = min(min(r["welch_p"], r["permutation_p"]) for r in [*final.values(), *difference.values()])
    worst_z = max(abs(z) for zs in curves.values() for z in zs)
    return {"final": final, "difference": difference, "curves_z": curves, "alpha": alpha,
            "p_level": p_level, "z_level": z_level, "worst_p": worst_p, "worst_z": worst_z,
            "finals_agree": worst_p >= p_level, "curves_agree": worst_z < z_level}


__all__ = ["validate", "compare_samples", "curve_z", "permutation_p", "ALPHA"]
