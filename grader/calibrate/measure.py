"""From per-seed accuracies to the calibration figures (calibration.json's shape).

Per He variant: how often `He − Glorot ≥ criterion_pp` held, the mean difference and its 95 %
Student-t CI, each seed's value, and `threshold_95`, the largest threshold a correct solution
meets in at least 95 % of the seeds measured (with 10 seeds: all 10, so the smallest difference).
"""

from __future__ import annotations

import math

from ..stats import mean_ci

SHARE = 0.95


def threshold_95(diffs: list[float], share: float = SHARE) -> float:
    """The largest t with #{d ≥ t} ≥ share · n: the (n − ⌈share·n⌉)-th smallest difference."""
    ordered = sorted(diffs)
    need = math.ceil(share * len(ordered) - 1e-9)
    return ordered[len(ordered) - need]


def summarize(per_seed: list[dict], init: str, baseline: str, criterion_pp: float) -> dict:
    """`per_seed`: [{"seed", "val_accuracy_pct": {init: %, …}}]; the figures of `init − baseline`."""
    rows = []
    for row in per_seed:
        accuracy = row["val_accuracy_pct"]
        diff = round(accuracy[init] - accuracy[baseline], 4)
        rows.append({"seed": int(row["seed"]), "diff_pp": diff, init: accuracy[init], baseline: accuracy[baseline],
                     "holds": diff >= criterion_pp})
    diffs = [row["diff_pp"] for row in rows]
    mean, low, high = mean_ci(diffs)
    return {"seeds": len(rows), "holds": sum(row["holds"] for row in rows), "mean_pp": round(mean, 4),
            "ci95": [None if math.isnan(low) else round(low, 4), None if math.isnan(high) else round(high, 4)],
            "per_seed": rows, "threshold_95": round(threshold_95(diffs), 4)}


def per_seed_table(runs: list[dict]) -> list[dict]:
    """[{"seed", "val_accuracy_pct": {label: last-epoch val_accuracy in %}}] from trained runs, by seed."""
    table: dict = {}
    for run in runs:
        table.setdefault(int(run["seed"]), {})[run["label"]] = round(100.0 * run["history"]["val_accuracy"][-1], 4)
    return [{"seed": seed, "val_accuracy_pct": row} for seed, row in table.items()]


def figures(per_seed: list[dict], he_initializers, baseline: str, criterion_pp: float) -> dict:
    return {init: summarize(per_seed, init, baseline, criterion_pp) for init in he_initializers}


__all__ = ["summarize", "figures", "per_seed_table", "threshold_95", "SHARE"]
