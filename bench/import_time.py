"""How long a worker process takes to import what it runs, this tree against an earlier commit.

    .venv/bin/python bench/import_time.py [--before a3657a1] [--module grader.retrain.worker] [-n 9]

The earlier commit is checked out into a temporary git worktree; each run is a fresh interpreter
(this venv's) that imports MODULE from one tree or the other, the two taking turns (A B A B …) so
that a drift of the machine's speed lands on both. Prints each side's median wall time and peak
memory and the ratio of the medians; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = ("import importlib, resource, sys, time\n"
         "started = time.perf_counter()\n"
         "importlib.import_module(sys.argv[1])\n"
         "assert sys.modules['grader'].__file__.startswith(sys.argv[2]), sys.modules['grader'].__file__\n"
         "print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n")


def once(tree: Path, module: str) -> tuple[float, float, float]:
    """(the process's wall seconds, the import's own seconds, peak MB) for one fresh interpreter."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, module, str(tree)], cwd=tree, capture_output=True, text=True,
                          check=True)
    wall = time.perf_counter() - started
    seconds, peak = (float(x) for x in done.stdout.split())
    return wall, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default="a3657a1", help="the commit to compare with (default: before the lazy imports)")
    parser.add_argument("--module", default="grader.retrain.worker")
    parser.add_argument("-n", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(before), args.before], check=True)
        try:
            runs = {"now": [], "before": []}
            once(ROOT, args.module), once(before, args.module)  # warm the file cache, not counted
            for _ in range(args.n):
                runs["now"].append(once(ROOT, args.module))
                runs["before"].append(once(before, args.module))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=False)
    median = {side: [statistics.median(r[k] for r in rs) for k in range(3)] for side, rs in runs.items()}
    print(f"python -c 'import {args.module}', {args.n} runs each, in turn; medians")
    print(f"{'tree':8s} {'process s':>10s} {'import s':>9s} {'peak MB':>8s}")
    for side in ("before", "now"):
        wall, seconds, peak = median[side]
        print(f"{side:8s} {wall:10.3f} {seconds:9.3f} {peak:8.1f}")
    ratio = median["now"][0] / median["before"][0]
    print(f"now/before (process wall): {ratio:.3f}")
    print(json.dumps({"module": args.module, "before": args.before, "runs": args.n,
                      "before_s": round(median["before"][0], 3), "now_s": round(median["now"][0], 3),
                      "before_peak_mb": round(median["before"][2], 1), "now_peak_mb": round(median["now"][2], 1),
                      "ratio": round(ratio, 3)}))


if __name__ == "__main__":
    main()
