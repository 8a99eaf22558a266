"""grade(path) = report(check(retrain(extract(execute(load(path)))))), with failures as data.

Every submission ends as a GradeResult written to OUT/<student>/result.json and report.html,
whatever happened to it: an unusable file is `invalid_submission`, a run that hit a limit keeps
the status of that limit, and the checks still grade whatever the run produced.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from . import data as data_module
from . import execute, extract, report, retrain, submission
from .checks import Context, Retraining, run_checks
from .errors import OutputError, RetrainError, SubmissionError
from .modeldesc import ModelDesc
from .rubric import Rubric
from .sandbox import Sandbox


@dataclass(frozen=True)
class Options:
    out: Path = Path("grades")
    lang: str = "es"
    data_dir: str | None = None
    seeds: int = 0
    allow_unsandboxed: bool = False
    cache_dir: Path | None = None  # None: no cache
    quiet: bool = False
    retrain: str = "run"  # "run" | "cache-only" (self-check: never train) | "off"


@dataclass(frozen=True)
class GradeResult:
    student: str
    display_name: str
    status: str  # graded | invalid_submission | timeout | memory_limit | process_limit | crashed
    score: float
    max_score: float
    checks: tuple = ()
    sandbox: dict = field(default_factory=dict)
    execution: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    retraining: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    message: str = ""
    sha256: str = ""
    fingerprint: str = ""

    def to_json(self, lang: str) -> dict:
        return {"student": self.student, "display_name": self.display_name, "status": self.status,
                "score": self.score, "max_score": self.max_score, "sandbox": self.sandbox,
                "message": self.message, "sha256": self.sha256, "fingerprint": self.fingerprint,
                "grader_version": __version__,
                "execution": self.execution, "data": self.data, "retraining": self.retraining,
                "timings": self.timings, "checks": [c.to_json(lang) for c in self.checks]}


def _say(options: Options, text: str) -> None:
    if not options.quiet:
        print(text, flush=True)


def choose_runs(extracted, rubric: Rubric) -> tuple[dict, dict]:
    """Which description the grader retrains per initializer: what the student trained
    (hw_models), else what build_model returns, else the reference architecture."""
    descs, source = {}, {}
    probes = extracted.values.get("build_model") or {}
    trained = extracted.values.get("hw_models") or {}
    for init in rubric.homework["initializers"]:
        if isinstance(trained.get(init), ModelDesc):
            descs[init], source[init] = trained[init].to_json(), "hw_models"
        elif isinstance(probes.get(init), ModelDesc):
            descs[init], source[init] = probes[init].to_json(), "build_model"
        else:
            descs[init], source[init] = reference_model(rubric, init), "reference"
    return descs, source


def mlp(units: list, hidden: str, output: str, init: dict) -> dict:
    """Canonical description of a plain MLP on flattened 28×28 images."""
    layers = [{"kind": "dense", "units": u, "use_bias": True, "activation": hidden if i < len(units) - 1 else output,
               "kernel_init": {"name": init["name"], "params": init.get("params", {})}, "bias_init": {"name": "zeros", "params": {}}}
              for i, u in enumerate(units)]
    return {"input_shape": [784], "layers": layers}


def reference_model(rubric: Rubric, init: str) -> dict:
    hw = rubric.homework
    return mlp(hw["units"], hw["hidden_activation"], hw["output_activation"], {"name": init})


def exercise_specs(rubric: Rubric, descs: dict) -> list:
    """The grader's own runs for exercises 2, 4 (training) and 5 (reproducibility probe)."""
    ex = rubric.exercises
    if not ex:
        return []
    specs = []
    for key in ("ex2", "ex4"):
        for label, init in ex[key]["runs"].items():
            model = mlp(ex[key]["units"], ex[key]["activation"], "softmax", init)
            specs.append(retrain.RunSpec(f"{key}:{label}", model, rubric.protocol.seed, ex["epochs"]))
    specs.append(retrain.RunSpec("ex5:repro", descs.get("he_normal") or reference_model(rubric, "he_normal"),
                                 rubric.protocol.seed, 1, "repro"))
    return specs


def _retrain(extracted, rubric: Rubric, dataset, options: Options, progress) -> Retraining:
    descs, source = choose_runs(extracted, rubric)
    if options.retrain == "off":
        return Retraining({}, {}, source, "el reentrenamiento está desactivado")
    seeds = [rubric.protocol.seed] + [s for s in range(1, options.seeds + 1) if s != rubric.protocol.seed][: options.seeds]
    specs = [retrain.RunSpec(init, descs[init], seed) for seed in seeds for init in rubric.homework["initializers"]]
    specs += exercise_specs(rubric, descs)
    cache = retrain.Cache(options.cache_dir)
    try:
        results = retrain.run_all(specs, rubric.protocol, dataset, cache, progress,
                                  cache_only=options.retrain == "cache-only")
    except (RetrainError, OSError) as exc:
        why = str(exc)
        if options.retrain == "cache-only":
            why = (f"{exc.message if isinstance(exc, RetrainError) else exc}; la auto-revisión no entrena (tardaría minutos). "
                   "Se verifica cuando el docente corrige, o con `grade check --retrain`")
        return Retraining({}, {}, source, why)
    by_seed: dict = {}
    exercises = {}
    for result in results:
        if ":" in result.label:
            exercises[result.label] = result
        else:
            by_seed.setdefault(result.seed, {})[result.label] = result
    return Retraining(by_seed[rubric.protocol.seed], by_seed if options.seeds else {}, source, exercises=exercises)


def fingerprint(sha256: str, rubric: Rubric, options: Options) -> str:
    """What a result depends on: a rerun with the same fingerprint has nothing new to grade."""
    material = [sha256, rubric.digest, json.dumps(rubric.protocol.to_json(), sort_keys=True), __version__,
                options.lang, str(options.seeds), "none" if options.allow_unsandboxed else "bwrap", options.retrain]
    return hashlib.sha256("|".join(material).encode()).hexdigest()


def grade(path: Path, rubric: Rubric, options: Options, student: str | None = None,
          on_stage=None) -> GradeResult:
    """Grade one submission and write its report and result; never raises for student faults.

    `on_stage(stage, detail)` is called as the run moves on (for batch progress)."""
    started = time.monotonic()
    dataset = data_module.locate(options.data_dir)  # DataError is the teacher's problem: raise
    try:
        sub = submission.load(path, student)
    except SubmissionError as exc:
        stem = student or Path(path).stem
        try:
            sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            sha = ""
        result = GradeResult(submission.student_id(stem), stem, "invalid_submission", 0.0, rubric.max_score,
                             message=str(exc), data=_data_info(dataset), sha256=sha,
                             fingerprint=fingerprint(sha, rubric, options))
        _write(result, None, rubric, options)
        return result
    _say(options, f"[{sub.student}] ejecutando en el sandbox…")
    if on_stage:
        on_stage("execute", "")
    with tempfile.TemporaryDirectory(prefix="grader-art-") as artifacts_dir:
        sandbox = Sandbox(rubric.limits, dataset.folder, level="none" if options.allow_unsandboxed else "bwrap")
        try:
            with sandbox:
                execution = execute.run(sub, sandbox, rubric.contract_path, Path(artifacts_dir) / "a")
        finally:
            sandbox.close()
        return finish(sub, execution, rubric, options, dataset, on_stage, started)


def _data_info(dataset) -> dict:
    return {"folder": str(dataset.folder), "subset": dataset.subset, "n_train": dataset.n_train, "checksum": dataset.checksum}


def finish(sub, execution, rubric: Rubric, options: Options, dataset, on_stage=None, started=None) -> GradeResult:
    """extract → retrain → check → report, for an Execution however it was obtained."""
    started = started if started is not None else time.monotonic()
    timings = {"execute": execution.duration_s}

    def stage(name: str, detail: str = "") -> None:
        if on_stage is not None:
            on_stage(name, detail)

    t0 = time.monotonic()
    stage("extract")
    extracted = extract.extract(execution, rubric.contract)
    timings["extract"] = time.monotonic() - t0
    t0 = time.monotonic()
    if options.retrain == "run":
        _say(options, f"[{sub.student}] reentrenando ({rubric.protocol.epochs} épocas × {len(rubric.homework['initializers'])} inicializadores"
                      + (f" × {options.seeds + 1} semillas" if options.seeds else "") + ")…")
    stage("retrain")
    last = [0.0]

    def progress(message: str) -> None:
        stage("retrain", message)
        if time.monotonic() - last[0] > 10:
            last[0] = time.monotonic()
            _say(options, f"[{sub.student}]   {message}")

    retraining = _retrain(extracted, rubric, dataset, options, progress)
    timings["retrain"] = time.monotonic() - t0
    t0 = time.monotonic()
    stage("checks")
    checks = run_checks(Context(extracted, rubric, retraining))
    timings["checks"] = time.monotonic() - t0
    status = "graded" if execution.status == "completed" else execution.status
    score = round(sum(c.points for c in checks), 2)
    exec_info = {"status": execution.status, "message": execution.message, "duration_s": execution.duration_s,
                 "cells": [cell.__dict__ for cell in execution.cells], "extraction_note": extracted.note}
    retrain_info = {"source": retraining.source, "error": retraining.error, "protocol": rubric.protocol.to_json(),
                    "runs": {init: run.to_json() for init, run in retraining.main.items()},
                    "exercises": {label: run.to_json() for label, run in retraining.exercises.items()},
                    "seeds": {str(seed): {init: run.final_val_accuracy for init, run in runs.items()}
                              for seed, runs in retraining.seeds.items()}}
    result = GradeResult(sub.student, sub.display_name, status, score, rubric.max_score, tuple(checks),
                         execution.sandbox.to_json(), exec_info, _data_info(dataset), retrain_info, timings,
                         execution.message, sub.sha256, fingerprint(sub.sha256, rubric, options))
    t0 = time.monotonic()
    stage("report")
    _write(result, report.Material(extracted, retraining, execution), rubric, options)
    timings["report"] = time.monotonic() - t0
    timings["total"] = time.monotonic() - started
    _write_json(result, options)
    return result


def _atomic_write(path: Path, text: str) -> None:
    """Write to a temporary file, then rename: a reader never sees half a result."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        raise OutputError(f"no se pudo escribir {path}: {exc.strerror or exc}",
                          hint=f"Libere espacio o permisos en {path.parent}, o elija otra carpeta con --out.") from exc


def _write_json(result: GradeResult, options: Options) -> None:
    _atomic_write(options.out / result.student / "result.json",
                  json.dumps(result.to_json(options.lang), indent=1, ensure_ascii=False))


def _write(result: GradeResult, material, rubric: Rubric, options: Options) -> None:
    html = report.render(result, material, rubric, options.lang)
    _atomic_write(options.out / result.student / "report.html", html)
    _write_json(result, options)


__all__ = ["grade", "Options", "GradeResult", "choose_runs"]
