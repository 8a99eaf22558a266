"""A scheduler and workers as separate processes on this machine, started the way docs/cluster.md
tells a teacher to start them (`dask scheduler`, `dask worker … --resources "grade=1,train=1"`):
for the tests and the benchmark, which must exercise real processes, not a LocalCluster.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SLOTS = "grade=1,train=1"
DASK = str(Path(sys.executable).parent / "dask")


@dataclass
class Spawned:
    address: str
    scheduler: subprocess.Popen
    workers: list = field(default_factory=list)
    folder: Path | None = None

    def stop(self) -> None:
        """SIGTERM every process group (each worker stops its tasks' processes), then SIGKILL."""
        processes = [*self.workers, self.scheduler]
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def __enter__(self) -> "Spawned":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def spawn(folder: Path, n_workers: int, resources: str | None = SLOTS, nthreads: int = 2,
          timeout_s: float = 120) -> Spawned:
    """Start `dask scheduler` on loopback and `n_workers` `dask worker` processes (each in its own
    process group, with its local directory under `folder`); return once all have registered."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    log_path = folder / "scheduler.log"
    with open(log_path, "w") as log:
        scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(scheduler_file)], stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
    spawned = Spawned("", scheduler, [], folder)
    deadline = time.monotonic() + timeout_s
    try:
        while not scheduler_file.exists():
            if time.monotonic() > deadline or scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.3)
        spawned.address = json.loads(scheduler_file.read_text())["address"]
        for number in range(n_workers):
            command = [DASK, "worker", spawned.address, "--nthreads", str(nthreads), "--nworkers", "1",
                       "--name", f"w{number}", "--no-dashboard", "--local-directory", str(folder / f"w{number}")]
            if resources:
                command += ["--resources", resources]
            spawned.workers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                    start_new_session=True))
        while log_path.read_text().count("Register worker") < n_workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers did not register: {log_path.read_text()[-2000:]}")
            time.sleep(0.3)
    except BaseException:
        spawned.stop()
        raise
    return spawned


__all__ = ["spawn", "Spawned", "SLOTS", "DASK"]
