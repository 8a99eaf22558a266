"""What run_autograder runs inside Gradescope's container: `python -m grader.export.autograder
run` grades ROOT/submission and writes ROOT/results/results.json; `lock` (from setup.sh) makes
the bundle's source and the installed package readable by root only.

The sandbox level is measured at every run, never assumed: bubblewrap when `sandbox.probe()`
can build a namespace here and we are root; otherwise the unprivileged fallback (the student's
code as uid 65534, with rlimits and cgroups where they exist). Either way the level is written
into results.json's output, so the teacher sees what protected each run. A grading that fails
(no submission file, no data) still writes a results.json with the reason: Gradescope shows a
missing file only as "the autograder failed", which tells a student nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from ..errors import GraderError
from ..messages import msg, render
from .bundle import CONFIG

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


def _failure(message, lang: str) -> dict:
    text = render(message, lang)
    return {"score": 0.0, "execution_time": 0, "output": text, "output_format": "md", "tests": []}


def _write_results(root: Path, results: dict) -> Path:
    target = root / "results" / "results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(".results.json.part")
    temporary.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    temporary.replace(target)
    return target


def run(root: Path, epochs: int | None = None, data_dir: str | None = None, lang: str | None = None,
        fallback: bool | None = None) -> Path:
    """Grade the submission, write results.json, return its path. `fallback` forces the sandbox
    choice (None: measure it)."""
    from ..pipeline import Options, grade, load_rubric
    from .gradescope import results_json
    from .results import BrokenResult, read_result

    config_path = root / "source" / CONFIG
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    lang = lang or config.get("lang") or "es"
    epochs = epochs or config.get("epochs")
    if data_dir is None and (root / "source" / "data").is_dir():
        data_dir = str(root / "source" / "data")
    submission, others = find_submission(root / "submission")
    if submission is None:
        return _write_results(root, _failure(msg("autograder.no_submission", kinds=", ".join(KINDS)), lang))
    if fallback is None:
        fallback, why = sandbox_choice()
    else:
        why = msg("autograder.fallback_forced") if fallback else None
    if fallback:
        print(render(msg("autograder.fallback", reason=why if why is not None else ""), lang), flush=True)
    work = Path(tempfile.mkdtemp(prefix="grader-gradescope-"))
    options = Options(out=work / "grades", lang=lang, data_dir=data_dir, cache_dir=work / "cache",
                      allow_unsandboxed=fallback, drop_to_nobody=fallback)
    try:
        rubric = load_rubric()
        if epochs:
            rubric = rubric.with_protocol(epochs=int(epochs))
        result = grade(submission, rubric, options)
    except GraderError as exc:
        shutil.rmtree(work, ignore_errors=True)
        return _write_results(root, _failure(msg("autograder.grader_failed", error=exc.as_message()), lang))
    except Exception as exc:  # a grader bug: the traceback goes to Gradescope's stdout (teacher), a sentence to the student
        traceback.print_exc(file=sys.stdout)
        shutil.rmtree(work, ignore_errors=True)
        return _write_results(root, _failure(msg("autograder.grader_failed", error=type(exc).__name__), lang))
    graded = work / "grades" / result.student
    read = read_result(graded / "result.json")
    for name in ("result.json", "report.html"):  # for the teacher's debugging: Gradescope reads only results.json
        if (graded / name).is_file():
            (root / "results").mkdir(parents=True, exist_ok=True)
            shutil.copy(graded / name, root / "results" / f"grader-{name}")
    shutil.rmtree(work, ignore_errors=True)
    if isinstance(read, BrokenResult):
        return _write_results(root, _failure(msg("autograder.grader_failed", error=read.reason), lang))
    note = render(msg("autograder.sandbox_line", level=read.sandbox_level), lang)
    if others:
        note += "\n\n" + render(msg("autograder.other_files", chosen=submission.name,
                                    others=", ".join(p.name for p in others)), lang)
    results = results_json(read, lang, sandbox_note=note)
    results["extra_data"] = {"student": read.student, "status": read.status, "sandbox": read.sandbox_level}
    return _write_results(root, results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.export.autograder")
    parser.add_argument("verb", choices=["run", "lock"])
    parser.add_argument("--root", default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--lang", default=None)
    parser.add_argument("--fallback", choices=["auto", "yes", "no"], default="auto")
    args = parser.parse_args(argv)
    root = Path(args.root) if args.root else default_root()
    if args.verb == "lock":
        for path in lock(root):
            print(path)
        return 0
    forced = {"auto": None, "yes": True, "no": False}[args.fallback]
    path = run(root, args.epochs, args.data_dir, args.lang, forced)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["run", "lock", "find_submission", "sandbox_choice", "default_root", "main", "ROOT_ENV"]
