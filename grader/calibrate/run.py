"""`grade calibrate`: how often the homework's criterion holds for its reference solution.

Trains the rubric's reference MLP with each homework initializer under K seeds (the protocol
seed first, then 1, 2, …), all K × 3 models in one batched computation, and writes
`calibration.json`, a page with the dot plot and the advice, and the same figures into the
grader's store, where every report then finds them (grader/calibrate/store.py).
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..messages import msg
from ..report.output import write_text_atomic
from ..retrain.batched_client import run_job
from ..retrain.plan import reference_model, seed_list
from ..retrain.specs import tf_version
from ..rubric import Rubric
from .measure import figures, per_seed_table
from .page import render_page
from .store import protocol_json, save

DEFAULT_SEEDS = 10


@dataclass(frozen=True)
class Outcome:
    calibration: dict
    json_path: Path
    html_path: Path
    stored: Path | None
    runs: list  # each model's run as the worker gave it (history per epoch), for bench/calibrate.py


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """Where a calibration was measured, as its page and every report quote it."""
    return {"machine": platform.node() or "?", "cpu": cpu_name(), "cores": os.cpu_count() or 0,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "tf": tf_version(),
            "python": platform.python_version(), "grader": __version__}


def calibrate(rubric: Rubric, dataset, *, seeds: int = DEFAULT_SEEDS, out: Path = Path("calibration"),
              cache_dir: Path | None = None, lang: str = "es", progress=lambda message: None,
              train_size: int | None = None) -> Outcome:
    """Train, measure, write OUT/calibration.json and OUT/calibration.html, and keep the figures in
    the store (`cache_dir`, None: not kept). `train_size`: only the first images (tests)."""
    hw = rubric.homework
    chosen = seed_list(rubric, seeds - 1)
    models = [{"label": init, "seed": seed, "model": reference_model(rubric, init)}
              for seed in chosen for init in hw.initializers]
    progress(msg("calibrate.training", models=len(models), seeds=len(chosen), epochs=rubric.protocol.epochs))
    started = time.monotonic()
    last = [0.0]

    def say(info):
        if time.monotonic() - last[0] > 15 or info["epoch"] == info["epochs"]:
            last[0] = time.monotonic()
            progress(msg("calibrate.batch_progress", models=len(models), epoch=info["epoch"], epochs=info["epochs"]))

    result = run_job(models, rubric.protocol, dataset.folder, None, say, train_size=train_size)
    found = figures(per_seed_table(result["runs"]), hw.he_initializers, hw.baseline, hw.criterion_pp)
    where = {**machine(), "trained": "batched", "train_seconds": round(time.monotonic() - started, 1),
             "seed_list": chosen}
    protocol = protocol_json(rubric, dataset.checksum, dataset.subset)
    if train_size:
        protocol["train_size"] = train_size
    calibration = {**found, "protocol": protocol, "measured_on": where}
    out = Path(out)
    json_path, html_path = out / "calibration.json", out / "calibration.html"
    write_text_atomic(json_path, json.dumps(calibration, indent=1, ensure_ascii=False))
    write_text_atomic(html_path, render_page(calibration, rubric, lang))
    stored = save(cache_dir, calibration) if cache_dir is not None else None
    return Outcome(calibration, json_path, html_path, stored, result["runs"])


__all__ = ["calibrate", "Outcome", "machine", "DEFAULT_SEEDS"]
