"""grade(path) = report(check(retrain(extract(execute(load(path)))))), with failures as data.

Every submission ends as a GradeResult written to OUT/<student>/result.json and report.html,
whatever happened to it: an unusable file is `invalid_submission`, a run that hit a limit keeps
the status of that limit, and the checks still grade whatever the run produced. Each stage
takes one typed object and returns one; text and JSON are made only at the edge
(`GradeResult.to_json(lang)`, the report).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from . import __version__
from . import data as data_module
from . import execute, extract, leftovers, report, submission
from . import rubric as rubric_module
from .checks import Context, registered_ids, run_checks
from .errors import SubmissionError
from .kinds import GradeStatus, RetrainMode, SandboxLevel
from .messages import Message, render
from .retrain import retrain, retraining_json
from .rubric import Rubric
from .sandbox import Sandbox


@dataclass(frozen=True)
class Options:
    """How to grade: the same for every submission of a run (and part of its fingerprint)."""

    out: Path = Path("grades")
    lang: str = "es"
    data_dir: str | None = None
    seeds: int = 0
    allow_unsandboxed: bool = False
    cache_dir: Path | None = None  # None: no cache
    quiet: bool = False
    retrain: RetrainMode = RetrainMode.RUN

    def to_json(self) -> dict:
        """Plain JSON, for the batch worker process (the one place Options crosses a boundary)."""
        return {"out": str(self.out), "lang": self.lang, "data_dir": self.data_dir, "seeds": self.seeds,
                "allow_unsandboxed": self.allow_unsandboxed, "cache_dir": str(self.cache_dir) if self.cache_dir else None,
                "quiet": self.quiet, "retrain": str(self.retrain)}

    @classmethod
    def from_json(cls, raw: dict) -> "Options":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        values["out"] = Path(values.get("out", "grades"))
        values["cache_dir"] = Path(values["cache_dir"]) if values.get("cache_dir") else None
        values["retrain"] = RetrainMode(values.get("retrain", RetrainMode.RUN))
        return cls(**values)

    @property
    def sandbox_level(self) -> SandboxLevel:
        return SandboxLevel.NONE if self.allow_unsandboxed else SandboxLevel.BWRAP


@dataclass(frozen=True)
class GradeResult:
    student: str
    display_name: str
    status: GradeStatus
    score: float
    max_score: float
    checks: tuple = ()
    sandbox: dict = field(default_factory=dict)
    execution: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    retraining: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    message: Message | str = ""
    sha256: str = ""
    fingerprint: str = ""

    def to_json(self, lang: str) -> dict:
        return render({"student": self.student, "display_name": self.display_name, "status": self.status,
                       "score": self.score, "max_score": self.max_score, "sandbox": self.sandbox,
                       "message": self.message, "sha256": self.sha256, "fingerprint": self.fingerprint,
                       "grader_version": __version__,
                       "execution": self.execution, "data": self.data, "retraining": self.retraining,
                       "timings": self.timings, "checks": [c.to_json(lang) for c in self.checks]}, lang)


def load_rubric(rubric_path: Path | None = None) -> Rubric:
    """The rubric every entry point grades with: typed, cross-checked against the contract, and
    its check ids equal to the implemented checks, both ways."""
    rubric = rubric_module.load(rubric_path)
    rubric_module.verify_check_ids(rubric, registered_ids())
    return rubric


def error_result(student: str, display_name: str, status: GradeStatus, message: Message | str, rubric: Rubric,
                 **extra) -> GradeResult:
    """A result for a submission that could not be graded: 0 points, and the reason."""
    return GradeResult(student, display_name, status, 0.0, rubric.max_score, message=message, **extra)


def fingerprint(sha256: str, rubric: Rubric, options: Options) -> str:
    """What a result depends on: a rerun with the same fingerprint has nothing new to grade."""
    material = [sha256, rubric.digest, json.dumps(rubric.protocol.to_json(), sort_keys=True), __version__,
                options.lang, str(options.seeds), str(options.sandbox_level), str(options.retrain)]
    return hashlib.sha256("|".join(material).encode()).hexdigest()


def _say(options: Options, message: Message) -> None:
    if not options.quiet:
        print(render(message, options.lang), flush=True)


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
        result = error_result(submission.student_id(stem), stem, GradeStatus.INVALID_SUBMISSION, exc.as_message(),
                              rubric, data=data_info(dataset), sha256=sha, fingerprint=fingerprint(sha, rubric, options))
        report.write_result(result, None, rubric, options.out, options.lang)
        return result
    _say(options, Message("pipeline.executing", {"student": sub.student}))
    if on_stage:
        on_stage("execute", "")
    with leftovers.owned_tempdir("grader-art-") as artifacts_dir:
        sandbox = Sandbox(rubric.limits, dataset.folder, level=options.sandbox_level)
        try:
            with sandbox:
                execution = execute.run(sub, sandbox, rubric.contract_path, Path(artifacts_dir) / "a")
        finally:
            sandbox.close()
        return finish(sub, execution, rubric, options, dataset, on_stage, started)


def data_info(dataset) -> dict:
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
    if options.retrain == RetrainMode.RUN:
        _say(options, Message("pipeline.retraining", {"student": sub.student, "epochs": rubric.protocol.epochs,
                                                      "inits": len(rubric.homework.initializers),
                                                      "seeds_text": Message("pipeline.seeds", {"n": options.seeds + 1})
                                                      if options.seeds else ""}))
    stage("retrain")
    last = [0.0]

    def progress(message: str) -> None:
        stage("retrain", message)
        if time.monotonic() - last[0] > 10:
            last[0] = time.monotonic()
            _say(options, Message("pipeline.progress", {"student": sub.student, "message": message}))

    retraining = retrain(extracted.values, rubric, dataset, cache_dir=options.cache_dir, mode=options.retrain,
                         extra_seeds=options.seeds, progress=progress)
    timings["retrain"] = time.monotonic() - t0
    t0 = time.monotonic()
    stage("checks")
    checks = run_checks(Context(extracted, rubric, retraining))
    timings["checks"] = time.monotonic() - t0
    exec_info = {"status": execution.status, "message": execution.message, "duration_s": execution.duration_s,
                 "cells": [cell.to_json() for cell in execution.cells], "extraction_note": extracted.note}
    result = GradeResult(sub.student, sub.display_name, GradeStatus.of_run(execution.status),
                         round(sum(c.points for c in checks), 2), rubric.max_score, tuple(checks),
                         execution.sandbox.to_json(), exec_info, data_info(dataset), retraining_json(retraining, rubric),
                         timings, execution.message, sub.sha256, fingerprint(sub.sha256, rubric, options))
    t0 = time.monotonic()
    stage("report")
    html = report.render_report(result, report.Material(extracted, retraining, execution), rubric, options.lang)
    timings["report"] = time.monotonic() - t0
    timings["total"] = time.monotonic() - started
    result = replace(result, timings=timings)
    report.write_result(result, html, rubric, options.out, options.lang)
    return result


__all__ = ["grade", "finish", "load_rubric", "Options", "GradeResult", "error_result", "fingerprint", "data_info"]
