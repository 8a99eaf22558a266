"""What one Gradescope grading costs: the bundle's run_autograder, in a simulated Gradescope root,
timed and with the memory of its whole process tree polled.

    .venv/bin/python bench/gradescope_bundle.py [--epochs 1 2] [--timeout-min 40] [--data-dir DIR]

For each --epochs E it builds the bundle (`grade gradescope-bundle --epochs E`), unzips it into a
temporary /autograder, puts alice.ipynb with `EPOCHS = E` in submission/ (a student following a
protocol of E epochs; exercises 2 and 4 keep their 5), locks it as setup.sh does, and runs
run_autograder under tests/container_sim.py (no CAP_SYS_ADMIN, Docker's seccomp rules for
namespaces), so the sandbox level is `unprivileged` as in Gradescope's container and the memo
is off: the notebook trains every fit, then the grader retrains every fit.

Memory: every 0.5 s, the sum over run_autograder's process tree (the grader, the student's
kernel as uid 65534, the training workers) of Pss (shared pages split between the processes
that map them: what a container's memory cgroup is charged, near enough) and of Rss (shared
pages counted in each process: an upper bound). A peak shorter than the poll can be missed.

Time: wall time of run_autograder, and the grader's own stage timings (grader-result.json).
With two or more epoch counts it fits wall = fixed + per_epoch * E and extrapolates to the
rubric's protocol (20 epochs): an extrapolation, not a measurement. Last line, machine-readable:
    gradescope_bundle epochs=<E,...> wall_s=<...> peak_pss_mb=<...> peak_rss_mb=<...> per_epoch_s=<s> fixed_s=<s> extrapolated_s=<s> load=<1-min load at start>
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.container_sim import reachable_interpreter  # noqa: E402


def tree(pid: int) -> list[int]:
    """pid and every descendant, from /proc (children of children included)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def memory_kb(pids: list[int]) -> tuple[int, int]:
    pss = rss = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
            elif line.startswith("Rss:"):
                rss += int(line.split()[1])
    return pss, rss


class Poller(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_pss, self.peak_rss, self.peak_procs, self.done = pid, 0, 0, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            pids = tree(self.pid)
            pss, rss = memory_kb(pids)
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
            self.peak_procs = max(self.peak_procs, len(pids))
            self.done.wait(0.5)


def one_run(epochs: int, timeout_min: int, data_dir: str) -> dict:
    base = Path(tempfile.mkdtemp(prefix="grader-gs-bench-"))
    root = base / "autograder"
    try:
        (root / "source").mkdir(parents=True)
        subprocess.run([sys.executable, "-m", "grader", "gradescope-bundle", "--out", str(base / "autograder.zip"),
                        "--epochs", str(epochs), "--timeout-min", str(timeout_min)], check=True, cwd=ROOT)
        with zipfile.ZipFile(base / "autograder.zip") as archive:
            archive.extractall(root / "source")
        shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
        (root / "run_autograder").chmod(0o755)
        (root / "submission").mkdir()
        text = (ROOT / "assignments" / "alice.ipynb").read_text(encoding="utf-8")
        text, count = re.subn(r"EPOCHS = 20\b", f"EPOCHS = {epochs}", text)
        assert count == 1, "alice.ipynb no longer says EPOCHS = 20"
        (root / "submission" / "alice.ipynb").write_text(text, encoding="utf-8")
        env = {**os.environ, "GRADER_AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": sys.executable}
        subprocess.run([sys.executable, "-m", "grader.export.autograder", "lock", "--root", str(root)], env=env,
                       check=True, cwd=ROOT, capture_output=True)
        command = [*reachable_interpreter(), sys.executable, str(ROOT / "tests" / "container_sim.py"),
                   str(root / "run_autograder"), "--data-dir", data_dir, "--lang", "en"]
        started = time.monotonic()
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        poller = Poller(process.pid)
        poller.start()
        output = process.communicate()[0]
        wall = time.monotonic() - started
        poller.done.set()
        poller.join()
        results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
        graded_path = root / "results" / "grader-result.json"
        graded = json.loads(graded_path.read_text(encoding="utf-8")) if graded_path.is_file() else {}
        return {"epochs": epochs, "wall_s": round(wall, 1), "exit": process.returncode,
                "peak_pss_mb": round(poller.peak_pss / 1024), "peak_rss_mb": round(poller.peak_rss / 1024),
                "peak_processes": poller.peak_procs, "score": results.get("score"),
                "sandbox": results.get("extra_data", {}).get("sandbox"), "status": graded.get("status"),
                "timings": {k: round(v, 1) for k, v in graded.get("timings", {}).items()},
                "limits": results.get("extra_data", {}).get("limits"), "tail": output[-600:]}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout-min", type=int, default=40)
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--protocol-epochs", type=int, default=20, help="extrapolate to this many epochs")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}", flush=True)
    runs = []
    for epochs in args.epochs:
        run = one_run(epochs, args.timeout_min, args.data_dir)
        runs.append(run)
        print(json.dumps({k: v for k, v in run.items() if k != "tail"}), flush=True)
        if run["exit"] != 0 or run["score"] is None:
            print(run["tail"], flush=True)
    per_epoch = fixed = extrapolated = float("nan")
    if len({r["epochs"] for r in runs}) >= 2:
        xs, ys = [r["epochs"] for r in runs], [r["wall_s"] for r in runs]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        per_epoch = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
        fixed = mean_y - per_epoch * mean_x
        extrapolated = fixed + per_epoch * args.protocol_epochs
    print(f"uptime at the end: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"gradescope_bundle epochs={','.join(str(r['epochs']) for r in runs)} "
          f"wall_s={','.join(str(r['wall_s']) for r in runs)} "
          f"peak_pss_mb={max(r['peak_pss_mb'] for r in runs)} peak_rss_mb={max(r['peak_rss_mb'] for r in runs)} "
          f"per_epoch_s={per_epoch:.1f} fixed_s={fixed:.1f} extrapolated_s={extrapolated:.1f} load={load:.2f}")


if __name__ == "__main__":
    main()
