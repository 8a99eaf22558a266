"""Student self-check: the same checks, on the student's own machine, in seconds.

`grade check FILE` runs the file without bubblewrap (it is the student's own code; the report
and the terminal say so) and serves the retraining checks from the cache only. From inside a
notebook, `from grader import check; check()` as the last cell inspects the live objects
without re-running anything.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from dataclasses import replace
from pathlib import Path

from . import data as data_module
from . import leftovers, preflight
from .execute import Execution
from .execute import harvest as harvest_module
from .kinds import RetrainMode, RunStatus, SandboxLevel
from .messages import language, msg, render, text
from .pipeline import Options, finish, grade, load_rubric
from .report import terminal_summary
from .retrain import default_cache_dir
from .sandbox import SandboxReport
from .submission import Submission, student_id


def _mode(retrain: bool) -> RetrainMode:
    return RetrainMode.RUN if retrain else RetrainMode.CACHE_ONLY


def check_file(path: Path, options: Options, rubric=None, retrain: bool = False, lang: str | None = None):
    """Grade one file unsandboxed; print the summary in `lang` (the terminal's; default the report's)."""
    rubric = rubric or load_rubric()
    lang = language(lang or options.lang)
    options = replace(options, allow_unsandboxed=True, retrain=_mode(retrain), quiet=True, self_check=True)
    result = grade(Path(path), rubric, options)
    print(terminal_summary(result, rubric, lang))
    print(f"\n  ({text(lang, 'selfcheck.note')})")
    print("  " + text(lang, "cli.report_path", path=str(options.out / result.student / "report.html")))
    return result


def _notebook_name(namespace: dict) -> str:
    for key in ("__session__", "__vsc_ipynb_file__"):
        value = namespace.get(key)
        if isinstance(value, str) and value:
            return Path(value).stem
    return "mi_notebook"


def check(namespace: dict | None = None, *, lang: str = "es", out: str = "grades-check",
          data_dir: str | None = None, retrain: bool = False):
    """Grade the live objects of the calling notebook (call it as the last cell)."""
    if namespace is None:
        namespace = inspect.currentframe().f_back.f_globals
    if (missing := preflight.problem(preflight.inspect())) is not None:  # said, not raised: the notebook goes on
        print(text(language(lang), "preflight.cannot_check", problem=render(missing, language(lang))))
        return None
    rubric = load_rubric()
    dataset = data_module.locate(data_dir)
    name = _notebook_name(namespace)
    options = Options(out=Path(out), lang=lang, data_dir=data_dir, allow_unsandboxed=True, quiet=True,
                      cache_dir=default_cache_dir(), retrain=_mode(retrain), self_check=True)
    with leftovers.owned_tempdir("grader-check-") as tmp:
        folder = Path(tmp) / "out"
        harvest_module.harvest(namespace, str(folder), str(rubric.contract_path))
        report = SandboxReport(SandboxLevel.NONE, os.geteuid(), True, "none", "none", "none", {},
                               note=msg("selfcheck.note_live"))
        execution = Execution(RunStatus.COMPLETED, (), folder, report, 0.0)
        digest = hashlib.sha256(name.encode()).hexdigest()
        sub = Submission(Path(name + ".ipynb"), student_id(name), name, digest, "ipynb", b"")
        result = finish(sub, execution, rubric, options, dataset)
    print(terminal_summary(result, rubric, lang))
    print("\n  " + text(lang, "cli.report_path", path=str(Path(out) / result.student / "report.html")))
    return result


__all__ = ["check", "check_file"]
