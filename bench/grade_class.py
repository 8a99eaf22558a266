"""A class of ≥ 10 submissions graded cold with --jobs 2, then one submission alone, in one run.

    .venv/bin/python bench/grade_class.py [--data-dir DIR] [--students N]

Builds the class from alice, bob, carol and generated variants (alice with a wrong limit, bob
without his bias mistake, a module that stops half way, a broken file, …). Prints both wall
times, their ratio (the target is ≤ 1.3: retraining is shared through the cache, execution is
not), and the cache hit rate of the grader's training runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.batch import grade_folder  # noqa: E402
from grader.pipeline import Options, grade, load_rubric  # noqa: E402

A = ROOT / "assignments"


def build_class(folder: Path, n: int) -> None:
    alice = (A / "alice.ipynb").read_text()
    bob = (A / "bob.ipynb").read_text()
    carol = (A / "carol.py").read_text()
    variants = {
        "alice.ipynb": alice, "bob.ipynb": bob, "carol.py": carol,
        "diego.ipynb": alice.replace("np.sqrt(6 / (fan_in + fan_out))", "np.sqrt(6 / fan_in)"),
        "elena.ipynb": bob.replace(', bias_initializer=\\"glorot_uniform\\"', ""),
        "fabio.py": carol.replace("EPOCHS = 20", "EPOCHS = 20\nraise SystemExit('me rendí')"),
        "gina.ipynb": "{roto",
        "hugo.ipynb": alice.replace("ex5_no_seed_differs = not", "ex5_no_seed_differs ="),
        "ines.py": carol.replace('hw_kernel_norms_before[init] = kernel_norms(model)', 'hw_kernel_norms_before[init] = None'),
        "juan.ipynb": alice.replace("stddev=0.01", "stddev=0.05"),
    }
    for k in range(len(variants), n):
        variants[f"copia{k:02d}.ipynb"] = alice
    folder.mkdir(parents=True)
    for name, text in variants.items():
        (folder / name).write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    the_rubric = load_rubric()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_class(tmp / "clase", args.students)
        options = Options(out=tmp / "grades", data_dir=args.data_dir, cache_dir=tmp / "cache", quiet=True)
        started = time.monotonic()
        summary = grade_folder(tmp / "clase", the_rubric, options, jobs=args.jobs, stream=open("/dev/null", "w"))
        class_time = time.monotonic() - started
        results = [json.loads(p.read_text()) for p in (tmp / "grades").glob("*/result.json")]
        runs = [run for r in results for run in list((r.get("retraining") or {}).get("runs", {}).values())
                + list((r.get("retraining") or {}).get("exercises", {}).values())]
        hits = sum(run["cached"] for run in runs)
        alone_options = Options(out=tmp / "alone", data_dir=args.data_dir, cache_dir=tmp / "cache-alone", quiet=True)
        started = time.monotonic()
        grade(A / "alice.ipynb", the_rubric, alone_options)
        one_time = time.monotonic() - started
        print(f"data: {'subset ' + args.data_dir if args.data_dir else 'real Fashion-MNIST'}; protocol {the_rubric.protocol.epochs} epochs")
        print(f"class of {summary['n']} submissions, --jobs {args.jobs}, cold cache: {class_time:8.1f} s")
        print(f"one submission (alice) alone, cold cache:      {one_time:8.1f} s")
        print(f"ratio class / one: {class_time / one_time:.2f}  (target ≤ 1.3)")
        print(f"grader training runs: {len(runs)}, served from the cache: {hits} ({hits / max(1, len(runs)):.0%})")
        print("statuses:", summary["statuses"])


if __name__ == "__main__":
    main()
