"""What run_autograder runs inside Gradescope's container: `python -m grader.export.autograder
run` grades ROOT/submission and writes ROOT/results/results.json; `lock` (from setup.sh) makes
the bundle's source and the installed package readable by root only.

The sandbox level is measured at every run, never assumed: bubblewrap when `sandbox.probe()`
can build a namespace here and we are root; otherwise the unprivileged fallback (the student's
code as uid 65534, with rlimits and cgroups where they exist). Either way the level is written
into results.json's output, so the teacher sees what protected each run. A grading that fails
(no submission file, no data) still writes a results.json with the reason: Gradescope shows a
missing file only as "the autograder failed", which tells a student nothing. A failure that is
the grader's (it cannot grade here, it ran out of time, a bug) has no score at all, never a 0:
the student did nothing wrong, and a 0 would look like a grade.

Time: the bundle records Gradescope's timeout (grader-autograder.json), and `Budget` splits it.
The kernel's limits (total budget, harvest reserve, cell timeout) are derived from it for this
run (the rubric file is not touched); the retraining is stopped at its deadline, which the
pipeline records as the grader's failure (grader_error, with the reason: no score, regraded next
time), written before the cap; a watchdog writes a results.json before the cap if the
grader is still busy then, because Gradescope's own kill leaves the student a bare 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from ..errors import GraderError, RetrainError
from ..messages import msg, render
from .bundle import CONFIG, COST, GRADESCOPE_MAX_TIMEOUT_MIN, Budget, plan_budget

ROOT_ENV = "GRADER_AUTOGRADER_ROOT"
KINDS = (".ipynb", ".py")


def default_root() -> Path:
    return Path(os.environ.get(ROOT_ENV, "/autograder"))


def _lock_tree(path: Path) -> None:
    """Root only: no read, write or traversal for group and others, recursively."""
    for folder, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            target = Path(folder) / name
            if not target.is_symlink():
                target.chmod(target.stat().st_mode & ~0o077)
    path.chmod(path.stat().st_mode & ~0o077)


def lock(root: Path) -> list[Path]:
    """Lock ROOT/source, and the installed grader package when it is a real install (inside a
    site-packages); a source checkout (an editable install, a developer's tree) is left as is."""
    import grader

    locked = []
    source = root / "source"
    if source.is_dir():
        _lock_tree(source)
        locked.append(source)
    package = Path(grader.__file__).resolve().parent
    if "site-packages" in package.parts:
        _lock_tree(package)
        locked.append(package)
    for folder in (root, root / "results"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
    return locked


def find_submission(folder: Path) -> tuple[Path | None, list[Path]]:
    """The one notebook or module in the submission (a notebook first, then a module; the
    starter template never), and the other candidates, which the output names."""
    candidates = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in KINDS
                        and not any(part.startswith(".") or part == "__MACOSX" for part in p.relative_to(folder).parts)
                        and p.stem.lower() != "starter")
    notebooks = [p for p in candidates if p.suffix.lower() == ".ipynb"]
    chosen = (notebooks or candidates or [None])[0]
    return chosen, [p for p in candidates if p != chosen]


def sandbox_choice() -> tuple[bool, object]:
    """(use the unprivileged fallback, why bubblewrap is not used)."""
    from ..sandbox import probe

    reason = probe()
    if reason is None and os.geteuid() == 0:
        return False, None
    return True, reason if reason is not None else msg("sandbox.needs_root")


def _failure(message, lang: str, scored: bool = True) -> dict:
    """A results.json with the reason. `scored=False` (the grader's failure, not the student's):
    no score key at all, so Gradescope shows no grade instead of a 0."""
    results = {"execution_time": 0, "output": render(message, lang), "output_format": "md", "tests": []}
    if scored:
        results["score"] = 0.0
    else:
        results["extra_data"] = {"grader_error": True}
    return results


def _grader_failure(message, lang: str) -> dict:
    return _failure(message, lang, scored=False)


def budget_for(config: dict, epochs: int) -> Budget:
    """This run's time budget, from the timeout and CPUs the bundle was built for."""
    return plan_budget(float(config.get("timeout_min") or GRADESCOPE_MAX_TIMEOUT_MIN), int(epochs),
                       float(config.get("cpus") or COST.measured_cpus))


class Deadline:
    """The retraining's deadline, enforced from the pipeline's progress callback: a training
    worker reports every epoch, and a RetrainError raised there ends the retraining the way a
    failed worker does: the workers are killed, and `pipeline.finish` writes a grader_error
    result with this reason (the time was the grader's to plan, never the student's fault)."""

    def __init__(self, started: float, seconds: float) -> None:
        self.started, self.seconds = started, seconds

    def __call__(self, stage: str, detail: str = "") -> None:
        if stage == "retrain" and detail and time.monotonic() - self.started >= self.seconds:
            raise RetrainError(msg("autograder.retrain_deadline", seconds=int(self.seconds)))


def _watchdog(root: Path, lang: str, started: float, budget: Budget) -> threading.Timer:
    """At `budget.watchdog_s`, if the grading is still running: results.json says the grader ran
    out of time (no score), the training workers are killed, and the process ends, before
    Gradescope's own kill would leave nothing."""
    from ..retrain.client import stop_workers

    def fire() -> None:
        _write_results(root, _grader_failure(msg("autograder.out_of_time", minutes=round(budget.cap_s / 60)), lang))
        print(render(msg("autograder.out_of_time", minutes=round(budget.cap_s / 60)), lang), flush=True)
        stop_workers()
        os._exit(0)

    timer = threading.Timer(max(0.0, budget.watchdog_s - (time.monotonic() - started)), fire)
    timer.daemon = True
    timer.start()
    return timer


def readiness_check():
    """grader.readiness.ensure_ready, when this version has it (None: no check). READINESS CALL
    SITE: imported lazily, and only a missing module falls back to no check."""
    try:
        from ..readiness import ensure_ready
    except ImportError:
        return None
    return ensure_ready


def _write_results(root: Path, results: dict) -> Path:
    target = root / "results" / "results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(".results.json.part")
    temporary.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    temporary.replace(target)
    return target


def run(root: Path, epochs: int | None = None, data_dir: str | None = None, lang: str | None = None,
        fallback: bool | None = None, started: float | None = None) -> Path:
    """Grade the submission, write results.json, return its path. `fallback` forces the sandbox
    choice (None: measure it); `started`: when run_autograder started (monotonic; now if None),
    which the time budget counts from."""
    started = time.monotonic() if started is None else started
    from ..pipeline import Options, grade, load_rubric
    from .gradescope import results_json
    from .results import BrokenResult, read_result

    config_path = root / "source" / CONFIG
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    lang = lang or config.get("lang") or "es"
    epochs = epochs or config.get("epochs")
    # data_dir None: where setup.sh installed and verified it (the grader's default folders); never
    # the bundle's source/data, which `lock` makes unreadable to the student's code
    submission, others = find_submission(root / "submission")
    if submission is None:
        return _write_results(root, _failure(msg("autograder.no_submission", kinds=", ".join(KINDS)), lang))
    work = Path(tempfile.mkdtemp(prefix="grader-gradescope-"))
    watchdog = None
    try:
        rubric = load_rubric()
        if epochs:
            rubric = rubric.with_protocol(epochs=int(epochs))
        budget = budget_for(config, rubric.protocol.epochs)
        rubric = rubric.with_limits(**budget.limits(rubric.limits))
        watchdog = _watchdog(root, lang, started, budget)
        if fallback is None:
            fallback, why = sandbox_choice()
        else:
            why = msg("autograder.fallback_forced") if fallback else None
        if fallback:
            print(render(msg("autograder.fallback", reason=why if why is not None else ""), lang), flush=True)
        options = Options(out=work / "grades", lang=lang, data_dir=data_dir, cache_dir=work / "cache",
                          allow_unsandboxed=fallback, drop_to_nobody=fallback)
        ensure_ready = readiness_check()
        if ensure_ready is not None:
            try:
                ensure_ready(rubric, options)
            except GraderError as exc:
                shutil.rmtree(work, ignore_errors=True)
                return _write_results(root, _grader_failure(msg("autograder.not_ready", error=exc.as_message()), lang))
        result = grade(submission, rubric, options, on_stage=Deadline(started, budget.retrain_deadline_s))
    except GraderError as exc:
        shutil.rmtree(work, ignore_errors=True)
        return _write_results(root, _grader_failure(msg("autograder.grader_failed", error=exc.as_message()), lang))
    except Exception as exc:  # a grader bug: the traceback goes to Gradescope's stdout (teacher), a sentence to the student
        traceback.print_exc(file=sys.stdout)
        shutil.rmtree(work, ignore_errors=True)
        return _write_results(root, _grader_failure(msg("autograder.grader_failed", error=type(exc).__name__), lang))
    finally:
        if watchdog is not None:
            watchdog.cancel()
    graded = work / "grades" / result.student
    read = read_result(graded / "result.json")
    for name in ("result.json", "report.html"):  # for the teacher's debugging: Gradescope reads only results.json
        if (graded / name).is_file():
            (root / "results").mkdir(parents=True, exist_ok=True)
            shutil.copy(graded / name, root / "results" / f"grader-{name}")
    shutil.rmtree(work, ignore_errors=True)
    if isinstance(read, BrokenResult):
        return _write_results(root, _grader_failure(msg("autograder.grader_failed", error=read.reason), lang))
    note = render(msg("autograder.sandbox_line", level=read.sandbox_level), lang)
    note += " " + render(msg("autograder.budget_line", kernel=rubric.limits.total_timeout_s, cap=budget.cap_s), lang)
    if others:
        note += "\n\n" + render(msg("autograder.other_files", chosen=submission.name,
                                    others=", ".join(p.name for p in others)), lang)
    results = results_json(read, lang, sandbox_note=note)
    results["extra_data"] = {**results.get("extra_data", {}), "student": read.student, "status": read.status,
                             "sandbox": read.sandbox_level,
                             "limits": {key: getattr(rubric.limits, key) for key in
                                        ("total_timeout_s", "harvest_reserve_s", "cell_timeout_s")},
                             "budget": budget.figures()}
    return _write_results(root, results)


def check_data(data_dir: str | None, lang: str) -> int:
    """setup.sh's last step: the data as the grader will find it, with its own check
    (`grader.data.locate`: the four files and their checksums). Non-zero, and what to do, if not."""
    from .. import data as data_module

    try:
        dataset = data_module.locate(data_dir)
    except GraderError as exc:
        print(render(msg("autograder.data_missing", error=exc.as_message()), lang), file=sys.stderr)
        print(render(msg("autograder.data_missing_hint"), lang), file=sys.stderr)
        return 1
    print(render(msg("autograder.data_ok", folder=str(dataset.folder)), lang))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.export.autograder")
    parser.add_argument("verb", choices=["run", "lock", "check-data"])
    parser.add_argument("--root", default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--lang", default=None)
    parser.add_argument("--fallback", choices=["auto", "yes", "no"], default="auto")
    args = parser.parse_args(argv)
    started = time.monotonic()  # the budget counts from here (the imports before it are in its startup reserve)
    root = Path(args.root) if args.root else default_root()
    if args.verb == "check-data":
        config_path = root / "source" / CONFIG
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        return check_data(args.data_dir, args.lang or config.get("lang") or "es")
    if args.verb == "lock":
        for path in lock(root):
            print(path)
        return 0
    forced = {"auto": None, "yes": True, "no": False}[args.fallback]
    path = run(root, args.epochs, args.data_dir, args.lang, forced, started)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["run", "lock", "check_data", "find_submission", "sandbox_choice", "budget_for", "Deadline", "readiness_check",
           "default_root", "main", "ROOT_ENV"]
