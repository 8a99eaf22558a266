"""Grade alice with the full protocol on real Fashion-MNIST and print each stage's time.

    .venv/bin/python bench/grade_one.py [--seeds K] [--cache DIR] [--out DIR]

Retraining runs cold (a fresh cache) unless --cache is given; then a second grading of the
same file runs warm, and both are printed side by side with their ratio. The retraining is then
split by run: the homework's three, and what exercises 2, 4 and 5 add (training time of each run
the grader had to train, 0 when the cache had it), cold and warm.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.pipeline import Options, grade, load_rubric  # noqa: E402

STAGES = ("execute", "extract", "retrain", "checks", "report", "total")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=0)
    parser.add_argument("--cache", default=None)
    parser.add_argument("--submission", default=str(ROOT / "assignments" / "alice.ipynb"))
    parser.add_argument("--out", default=None, help="keep the reports here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp) / "cache"
        options = Options(out=Path(args.out) if args.out else Path(tmp) / "grades", seeds=args.seeds, cache_dir=cache, quiet=True)
        the_rubric = load_rubric()
        runs = []
        for label in ("cold", "warm"):
            started = time.monotonic()
            result = grade(Path(args.submission), the_rubric, options)
            runs.append((label, result, time.monotonic() - started))
        print(f"submission: {args.submission}  protocol: {the_rubric.protocol.epochs} epochs, seeds: 1+{args.seeds}")
        print(f"data: {runs[0][1].data['folder']} (subset={runs[0][1].data['subset']})")
        print(f"{'stage':10s} {'cold s':>9s} {'warm s':>9s} {'warm/cold':>10s}")
        for stage in STAGES:
            cold, warm = runs[0][1].timings.get(stage, 0.0), runs[1][1].timings.get(stage, 0.0)
            print(f"{stage:10s} {cold:9.1f} {warm:9.1f} {warm / cold if cold else 0:10.2f}")
        print(f"\n{'retraining run':28s} {'cold s':>9s} {'warm s':>9s}")
        trained = lambda result, group: {label: 0.0 if run["cached"] else run["duration_s"] for label, run in result.retraining[group].items()}
        totals = {}
        for group in ("runs", "exercises"):
            cold, warm = trained(runs[0][1], group), trained(runs[1][1], group)
            for label in cold:
                print(f"{label:28s} {cold[label]:9.1f} {warm.get(label, 0.0):9.1f}")
            totals[group] = (sum(cold.values()), sum(warm.values()))
        (hw_cold, hw_warm), (ex_cold, ex_warm) = totals["runs"], totals["exercises"]
        total_cold, total_warm = runs[0][1].timings.get("total", 0.0), runs[1][1].timings.get("total", 0.0)
        print(f"{'homework runs':28s} {hw_cold:9.1f} {hw_warm:9.1f}")
        print(f"{'exercise runs (added)':28s} {ex_cold:9.1f} {ex_warm:9.1f}   "
              f"= {ex_cold / total_cold if total_cold else 0:.0%} of the cold total, {ex_warm / total_warm if total_warm else 0:.0%} of the warm one")
        for label, result, _ in runs:
            va = {k: round(v['history']['val_accuracy'][-1] * 100, 2) for k, v in result.retraining['runs'].items()}
            print(f"{label}: score {result.score}/{result.max_score}  status {result.status}  grader val_accuracy % {va}")


if __name__ == "__main__":
    main()
