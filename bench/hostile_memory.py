"""The grader process's own peak memory while it grades hostile notebooks, beside a benign one.

    .venv/bin/python bench/hostile_memory.py [--data-dir DIR] [--only NAME ...]

Each notebook is graded in a fresh interpreter (the real bwrap sandbox, the course's limits but a
short time budget, no retraining), which then prints its own peak resident memory
(getrusage RUSAGE_SELF: the grader's process, not the sandboxed kernel nor a worker). The
hostile notebooks are those of the threat model: errors of 60 MB, stream floods, the kernel log
and the connection folder filled from inside, the largest arrays the harvest writes, a manifest
nested 100,000 deep (a post_run_cell hook), lying .npy headers (a thread), a forged manifest
after the harvest. The last line is JSON: every peak in MB, the benign one, the largest hostile
one and their ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

GOOD = "ex1_limit = (6 / 912) ** 0.5"
NOTEBOOKS = {
    "benign": [GOOD],
    "errors_60mb": ["raise ValueError('E' * 60_000_000)"] * 4 + [GOOD],
    "stream_flood": ["print('x' * 60_000_000)"] * 4 + [GOOD],
    "kernel_log_flood": ["import os\nfor _ in range(1000):\n    try:\n        os.write(2, b'x' * 1_000_000)\n"
                         "    except OSError:\n        break", GOOD],
    "connection_folder_fill": ["import os, ipykernel.connect\nfolder = os.path.dirname(ipykernel.connect.get_connection_file())\n"
                               "with open(os.path.join(folder, 'fill'), 'wb') as f:\n    for _ in range(1024):\n"
                               "        try:\n            f.write(b'x' * 1_000_000)\n        except OSError:\n            break", GOOD],
    "largest_arrays": ["import numpy as np\nex1_kernel = np.random.rand(20_000_000)\n"
                       "ex3_activation_variances = [float(v) for v in np.random.rand(1000)]", GOOD],
    "deep_manifest_hook": [GOOD, "import json, os\ndef rewrite(result):\n"
                           "    if os.path.exists('/opt/grader-out/manifest.json'):\n"
                           "        open('/opt/grader-out/manifest.json', 'w').write('{\"values\": {\"ex1_limit\": ' + '[' * 100000 + ']' * 100000 + '}}')\n"
                           "get_ipython().events.register('post_run_cell', rewrite)"],
    "lying_npy_thread": ["import threading, io, numpy as np, time\ndef loop():\n    header = io.BytesIO()\n"
                         "    np.lib.format.write_array_header_1_0(header, {'descr': '<f4', 'fortran_order': False, 'shape': (10**12,)})\n"
                         "    while True:\n        try:\n            open('/opt/grader-out/0001-array.npy', 'wb').write(header.getvalue())\n"
                         "        except OSError:\n            pass\n        time.sleep(0.001)\n"
                         "threading.Thread(target=loop, daemon=True).start()",
                         "import numpy as np\nex1_kernel = np.zeros((784, 128), 'float32')\n" + GOOD],
    "deep_json_patched_harvest": ["import json\n_dumps = json.dumps\n"
                                  "DEEP = '{\"values\": {\"ex1_limit\": ' + '[' * 100000 + ']' * 100000 + '}}'\n"
                                  "json.dumps = lambda obj, *a, **k: DEEP if isinstance(obj, dict) and 'harvest' in obj else _dumps(obj, *a, **k)",
                                  GOOD],
}

GRADE_ONE = """
import json, resource, sys
from dataclasses import replace
from pathlib import Path
from grader.pipeline import Options, grade, load_rubric
rubric = load_rubric()
rubric = replace(rubric, limits=replace(rubric.limits, total_timeout_s=180, cell_timeout_s=60))
result = grade(Path(sys.argv[1]), rubric, Options(out=Path(sys.argv[2]), data_dir=sys.argv[3], cache_dir=None,
                                               quiet=True, retrain="off"))
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "status": str(result.status),
                  "score": result.score, "message": str(result.message)[:160]}))
"""


def notebook(path: Path, cells: list[str]) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    nbformat.write(nb, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cells in NOTEBOOKS.items():
            if args.only and name not in args.only and name != "benign":
                continue
            path = notebook(Path(tmp) / f"{name}.ipynb", cells)
            done = subprocess.run([sys.executable, "-c", GRADE_ONE, str(path), str(Path(tmp) / "out"), args.data_dir],
                                  capture_output=True, text=True, cwd=ROOT, timeout=900)
            if done.returncode != 0:
                print(f"{name:28s} failed: {done.stderr[-800:]}")
                peaks[name] = None
                continue
            line = json.loads(done.stdout.strip().splitlines()[-1])
            peaks[name] = round(line["peak_mb"], 1)
            print(f"{name:28s} {line['peak_mb']:8.1f} MB  {line['status']:>12s}  score {line['score']:>5}  {line['message']}")
    hostile = {k: v for k, v in peaks.items() if k != "benign" and v is not None}
    worst = max(hostile, key=hostile.get) if hostile else None
    benign = peaks.get("benign")
    print(f"benign {benign} MB; the largest hostile peak: {worst} {hostile.get(worst)} MB "
          f"({hostile[worst] / benign:.2f}× the benign one)" if worst and benign else "")
    print(json.dumps({"peaks_mb": peaks, "benign_mb": benign, "worst": worst, "worst_mb": hostile.get(worst),
                      "ratio": round(hostile[worst] / benign, 3) if worst and benign else None}))


if __name__ == "__main__":
    main()
