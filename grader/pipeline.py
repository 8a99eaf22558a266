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
from . import delegate, execute, extract, leftovers, report, submission
from . import rubric as rubric_module
from .checks import Context, registered_ids, run_checks
from .errors import RetrainError, SubmissionError
from .identity import Identity
from .kinds import GradeStatus, RetrainMode, SandboxLevel
from .calibrate import load_calibration
from .memo import MemoSettings, MemoStore, memo_claims
from .messages import Message, msg, render
from .readiness import FAULT_RETRAIN, GraderFault, environment_fault
from .retrain import ReferenceTraining, cluster_trainer, missing_references, retrain, retraining_json
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
    memo: bool = True  # serve fits the grader already trained (grader/memo); --no-memo turns it off
    delegate: bool = True  # a sandbox's describable fit is trained by the grader's workers (grader/delegate); --no-delegate
    train_workers: int | None = None  # parallel training processes; None: one per core
    self_check: bool = False  # the student's own run on their machine (the memo may then be unsandboxed)
    references: bool = True  # train the reference runs first (a batch's workers leave it to the batch)
    cluster: str | None = None  # a Dask scheduler's address: the grader's trainings run there, one task per key
    drop_to_nobody: bool = False  # with allow_unsandboxed, as root: the student's code runs as uid 65534 (Gradescope)

    def to_json(self) -> dict:
        """Plain JSON, for the batch worker process (the one place Options crosses a boundary)."""
        return {"out": str(self.out), "lang": self.lang, "data_dir": self.data_dir, "seeds": self.seeds,
                "allow_unsandboxed": self.allow_unsandboxed, "cache_dir": str(self.cache_dir) if self.cache_dir else None,
                "quiet": self.quiet, "retrain": str(self.retrain), "memo": self.memo, "delegate": self.delegate,
                "train_workers": self.train_workers,
                "self_check": self.self_check, "references": self.references, "cluster": self.cluster,
                "drop_to_nobody": self.drop_to_nobody}

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
        if not self.allow_unsandboxed:
            return SandboxLevel.BWRAP
        return SandboxLevel.UNPRIVILEGED if self.drop_to_nobody else SandboxLevel.NONE


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
    grader_fault: dict = field(default_factory=dict)  # {"kind", "reason"}: the grader failed, not the student
    identity: Identity | None = None  # whose it is (an LMS download's user id, late mark); None: the plain one
    rubric_digest: str = ""  # the rubric it was graded with: a teacher's override holds only while it is the same

    @property
    def shown_score(self) -> float | None:
        """The score as every file and screen shows it: none for a grading the grader failed (it
        graded nothing; a 0 there reads as the student's)."""
        return None if self.status == GradeStatus.GRADER_ERROR else self.score

    @property
    def who(self) -> Identity:
        return self.identity or Identity(self.student, self.display_name)

    def to_json(self, lang: str) -> dict:
        fault = {"grader_fault": self.grader_fault} if self.grader_fault else {}
        return render({**fault, "student": self.student, "display_name": self.display_name,
                       "identity": self.who.to_json(), "status": self.status,
                       "score": self.shown_score, "max_score": self.max_score, "sandbox": self.sandbox,
                       "message": self.message, "sha256": self.sha256, "rubric": self.rubric_digest,
                       "fingerprint": self.fingerprint,
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
    """A result for a submission that could not be graded: 0 points (none shown for a grader_error),
    and the reason."""
    return GradeResult(student, display_name, status, 0.0, rubric.max_score, message=message, rubric_digest=rubric.digest,
                       **extra)


def fingerprint(sha256: str, rubric: Rubric, options: Options) -> str:
    """What a result depends on: a rerun with the same fingerprint has nothing new to grade."""
    material = [sha256, rubric.digest, json.dumps(rubric.protocol.to_json(), sort_keys=True), __version__,
                options.lang, str(options.seeds), str(options.sandbox_level), str(options.retrain)]
    return hashlib.sha256("|".join(material).encode()).hexdigest()


def memo_settings(rubric: Rubric, options: Options) -> MemoSettings:
    """Whether this run's sandboxes are served from the memo, and why not. The grader's TF
    settings (threads, op determinism) apply in the sandbox either way, so that a notebook
    computes what the grader computes."""
    threads = rubric.protocol.threads
    if not options.memo:
        return MemoSettings(None, threads, off_reason=msg("memo.off_flag"))
    if options.cache_dir is None:
        return MemoSettings(None, threads, off_reason=msg("memo.off_no_cache"))
    if options.sandbox_level != SandboxLevel.BWRAP and not options.self_check:
        # without bubblewrap the student's code runs as the grader's user: it could write the store
        return MemoSettings(None, threads, off_reason=msg("memo.off_unsandboxed"))
    return MemoSettings(MemoStore(options.cache_dir), threads)


def delegating(options: Options, memo: MemoSettings) -> bool:
    """Delegated fits need the memo (entries to serve) and a bubblewrap sandbox (the request folder
    is then the student's own, the answers read-only); a self-check trains on the student's machine."""
    return options.delegate and memo.store is not None and options.sandbox_level == SandboxLevel.BWRAP \
        and not options.self_check


def start_references(rubric: Rubric, options: Options, dataset, memo: MemoSettings) -> ReferenceTraining | None:
    """Reference runs first: the protocol's own runs start training (in the background) before
    the notebook runs, so its protocol fits are served, or wait for the entry being trained,
    instead of training twice. None when there is nothing to do (memo off, no retraining, the
    batch's parent already does it, everything cached)."""
    if memo.store is None or options.retrain != RetrainMode.RUN or not options.references:
        return None
    missing = missing_references(rubric, dataset, options.cache_dir)
    if not missing:
        return None
    _say(options, Message("pipeline.references", {"runs": missing}))
    return ReferenceTraining(rubric, dataset, cache_dir=options.cache_dir, memo_store=memo.store,
                             workers=options.train_workers)


def _say(options: Options, message: Message) -> None:
    if not options.quiet:
        print(render(message, options.lang), flush=True)


def grade(path: Path, rubric: Rubric, options: Options, student: str | None = None,
          on_stage=None, identity: Identity | None = None) -> GradeResult:
    """Grade one submission and write its report and result; never raises for student faults.

    `on_stage(stage, detail)` is called as the run moves on (for batch progress). `identity`
    (a batch's, from discovery: the person's name, LMS and LMS user id) goes into the result;
    without it the file's name is the person (lms "")."""
    started = time.monotonic()
    dataset = data_module.locate(options.data_dir)  # DataError is the teacher's problem: raise
    try:
        sub = submission.load(path, student, identity)
    except SubmissionError as exc:
        stem = student or Path(path).stem
        try:
            sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            sha = ""
        who = identity or submission.plain_identity(path, student)
        result = error_result(submission.student_id(stem), who.display_name, GradeStatus.INVALID_SUBMISSION,
                              exc.as_message(), rubric, data=data_info(dataset), sha256=sha,
                              fingerprint=fingerprint(sha, rubric, options), identity=who)
        report.write_result(result, None, rubric, options.out, options.lang)
        return result
    memo = memo_settings(rubric, options)
    references = start_references(rubric, options, dataset, memo)
    if references is not None:
        references.wait_announced()
    _say(options, Message("pipeline.executing", {"student": sub.student}))
    if on_stage:
        on_stage("execute", "")
    try:
        with leftovers.owned_tempdir("grader-art-") as artifacts_dir:
            sandbox = Sandbox(rubric.limits, dataset.folder, level=options.sandbox_level,
                              memo_folder=memo.store.folder if memo.store else None,
                              delegate_mb=rubric.delegation.folder_mb if delegating(options, memo) else 0)
            service = None
            try:
                with sandbox:
                    try:
                        service = delegate.open_delegation(sandbox, rubric, dataset, memo.store, cache_dir=options.cache_dir,
                                                           cluster=options.cluster, data_dir=options.data_dir)
                    except OSError:  # no private folder for it: the notebook trains its own fits, as before
                        service = None
                    config = dict(memo.sandbox_config(sandbox.memo_path),
                                  delegate=delegate.sandbox_settings(rubric, sandbox) if service else None)
                    execution = execute.run(sub, sandbox, rubric.contract_path, Path(artifacts_dir) / "a", config)
            finally:
                delegation = service.close().to_json() if service is not None else {}  # nothing outlives the run
                sandbox.close()
            execution = replace(execution, delegation=delegation)
            references_s = references.join() if references is not None else 0.0
            return finish(sub, execution, rubric, options, dataset, on_stage, started, memo, references_s)
    except BaseException:  # interrupted: the background training never outlives the run
        if references is not None:
            references.stop()
        raise


def data_info(dataset) -> dict:
    return {"folder": str(dataset.folder), "subset": dataset.subset, "n_train": dataset.n_train, "checksum": dataset.checksum}


def finish(sub, execution, rubric: Rubric, options: Options, dataset, on_stage=None, started=None,
           memo: MemoSettings | None = None, references_s: float = 0.0) -> GradeResult:
    """extract → retrain → check → report, for an Execution however it was obtained."""
    started = started if started is not None else time.monotonic()
    memo = memo if memo is not None else memo_settings(rubric, options)
    timings = {"references": references_s, "execute": execution.duration_s}

    def stage(name: str, detail: str = "") -> None:
        if on_stage is not None:
            on_stage(name, detail)

    # a run that failed the way a broken environment fails, confirmed by a probe outside the
    # student's reach, is the grader's fault: not graded, not scored, graded again next run
    # (a self-check runs in the student's own environment: preflight.py speaks for it)
    fault = None if options.self_check else environment_fault(execution, rubric, options, dataset)
    if fault is not None:
        return fault_result(sub, execution, fault, rubric, options, dataset, timings, started)
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

    trainer = cluster_trainer(options.cluster, options.data_dir) if options.cluster else None  # Dask loads only then
    try:
        retraining = retrain(extracted.values, rubric, dataset, cache_dir=options.cache_dir, mode=options.retrain,
                             extra_seeds=options.seeds, progress=progress, memo_store=memo.store,
                             workers=options.train_workers, trainer=trainer)
    except RetrainError as exc:  # RetrainMode.RUN: the grader's training failed, not the student
        return fault_result(sub, execution, GraderFault(FAULT_RETRAIN, exc.as_message()), rubric, options, dataset,
                            timings, started)
    timings["retrain"] = time.monotonic() - t0
    t0 = time.monotonic()
    stage("checks")
    checks = run_checks(Context(extracted, rubric, retraining))
    timings["checks"] = time.monotonic() - t0
    exec_info = {"status": execution.status, "message": execution.message, "duration_s": execution.duration_s,
                 "harvested": execution.artifacts is not None, "harvest_s": execution.harvest_s,
                 "cells": [cell.to_json() for cell in execution.cells], "extraction_note": extracted.note,
                 "memo": memo_claims(extracted.memo, memo.serving, memo.off_reason),
                 "delegation": delegation_info(execution, options, memo)}
    result = GradeResult(sub.student, sub.display_name, GradeStatus.of_run(execution.status),
                         round(sum(c.points for c in checks), 2), round(sum(c.max_points for c in checks), 2), tuple(checks),
                         execution.sandbox.to_json(), exec_info, data_info(dataset), retraining_json(retraining, rubric),
                         timings, execution.message, sub.sha256, fingerprint(sub.sha256, rubric, options),
                         identity=sub.identity, rubric_digest=rubric.digest)
    t0 = time.monotonic()
    stage("report")
    notebook_html = report.render_notebook(result, execution, rubric, options.lang)
    html = report.render_report(result, report.Material(extracted, retraining, execution), rubric, options.lang,
                                has_notebook=notebook_html is not None,
                                calibration=load_calibration(options.cache_dir, rubric, dataset.checksum))
    timings["report"] = time.monotonic() - t0
    timings["total"] = time.monotonic() - started
    result = replace(result, timings=timings)
    report.write_result(result, html, rubric, options.out, options.lang, notebook_html)
    return result


def delegation_info(execution, options: Options, memo: MemoSettings) -> dict:
    """The grader's own count of the fits it trained for this sandbox (grader/delegate), or why none."""
    if not delegating(options, memo):
        return {"enabled": False, "off_reason": msg("delegate.off_flag") if not options.delegate else
                msg("delegate.off_memo") if memo.store is None else msg("delegate.off_other")}
    return {"enabled": True, **(execution.delegation or {})}


def fault_result(sub, execution, fault: GraderFault, rubric: Rubric, options: Options, dataset, timings: dict,
                 started: float) -> GradeResult:
    """A grading the grader itself failed: grader_error with the reason, 0 points and no check
    credited or charged, no fingerprint (a rerun grades it again), and a report that says the
    grader failed, not the student. Written like any result."""
    exec_info = {"status": execution.status, "message": execution.message, "duration_s": execution.duration_s}
    result = error_result(sub.student, sub.display_name, GradeStatus.GRADER_ERROR, fault.reason, rubric,
                          sandbox=execution.sandbox.to_json(), execution=exec_info, data=data_info(dataset),
                          timings={**timings, "total": time.monotonic() - started}, sha256=sub.sha256,
                          grader_fault=fault.to_json(), identity=sub.identity)
    report.write_result(result, None, rubric, options.out, options.lang)
    return result


__all__ = ["grade", "finish", "fault_result", "load_rubric", "Options", "GradeResult", "error_result", "fingerprint", "data_info",
           "memo_settings", "start_references"]
