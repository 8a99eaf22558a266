"""The grader's own faults are never the student's (grader/readiness.py).

A real environment fault is injected for the sandbox's user only: one file of the installed
Keras made unreadable by uid 65534 (chmod 0600; root, outside, still reads it), restored in a
`finally` and checked restored. The window is kept short (one grading and one small batch)
because every sandbox on this machine sees that Keras meanwhile.
"""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest

import keras

from grader import pipeline, readiness
from grader.batch import _unchanged, grade_folder
from grader.batch.discover import Entry
from grader.errors import NotReady
from grader.kinds import RetrainMode
from grader.preflight import Stack

from .helpers import notebook

QUICK = "ex1_limit = (6 / 912) ** 0.5\nex1_var_theory = 2 / 912"
# imported by `import keras`, so a student's first Keras cell fails on it; not the package's
# own __init__, so the preamble's look-up does not see it: the lazy path (a failed cell) is tested.
# Its cached bytecode too: Python only stats the source when a readable .pyc is there.
BROKEN_SOURCE = Path(keras.__file__).parent / "src" / "__init__.py"
BROKEN = [BROKEN_SOURCE, *BROKEN_SOURCE.parent.glob("__pycache__/__init__.*.pyc")]


def options(tmp_path: Path, subset, **extra) -> pipeline.Options:
    return pipeline.Options(out=tmp_path / "out", data_dir=str(subset.folder), quiet=True, memo=False,
                            retrain=extra.pop("retrain", RetrainMode.OFF), **extra)


def result_of(out: Path, student: str) -> dict:
    return json.loads((out / student / "result.json").read_text())


def test_the_pin_comes_from_the_installed_metadata_and_is_compared_without_importing():
    assert readiness.teacher_pin() == "tensorflow-cpu==2.21.*"  # pyproject.toml's extra "teacher"
    pin = readiness.teacher_pin()
    assert readiness.stack_problem(Stack((3, 11), ("tensorflow-cpu", "2.21.0"), "3.15.1"), pin) is None
    assert readiness.stack_problem(Stack((3, 11), ("tensorflow", "2.21.3"), "3.15.1"), pin) is None
    for stack, key in ((Stack((3, 11), None, None), "readiness.no_tensorflow"),
                       (Stack((3, 11), ("tensorflow-cpu", "2.20.0"), "3.10.0"), "readiness.wrong_tensorflow"),
                       (Stack((3, 11), ("tensorflow-cpu", "2.210.0"), "3.10.0"), "readiness.wrong_tensorflow"),
                       (Stack((3, 11), ("tensorflow-cpu", "2.21.0"), "2.15.0"), "readiness.no_keras3"),
                       (Stack((3, 11), ("tensorflow-cpu", "2.21.0"), None), "readiness.no_keras3")):
        problem = readiness.stack_problem(stack, pin)
        assert problem is not None and problem.key == key, stack
        assert problem.params["command"] == 'pip install "tensorflow-cpu==2.21.*"'


@pytest.mark.sandbox
def test_ensure_ready_here_runs_a_real_kernel_in_the_sandbox(reference_rubric, subset, tmp_path):
    report = readiness.ensure_ready(reference_rubric, options(tmp_path, subset))
    assert report.kernel_versions["keras"] == keras.__version__ and report.kernel_versions["tensorflow"].startswith("2.21")
    assert report.kernel_s is not None and report.data_folder == str(subset.folder)
    assert not (tmp_path / "out").exists()


@pytest.mark.sandbox
def test_a_student_who_fakes_an_environment_fault_is_graded_as_usual(reference_rubric, subset, tmp_path,
                                                                         monkeypatch):
    """The three ways a student could imitate the signal: the preamble's line, a ModuleNotFoundError
    of their own, a poisoned sys.modules. The probe (no student code) finds Keras fine: graded."""
    path = notebook(tmp_path / "tramposo.ipynb",
                    f"import sys\nprint({readiness.ENV_MARK!r} + '[[\"keras\", \"not installed\"]]', file=sys.__stderr__, flush=True)",
                    "raise ModuleNotFoundError(\"No module named 'keras'\", name='keras')",
                    "import sys\nsys.modules['keras'] = None\nimport keras",
                    QUICK)
    opts = options(tmp_path, subset)
    probes = []
    real_probe = readiness.probe_kernel
    monkeypatch.setattr(readiness, "probe_kernel", lambda *a: probes.append(1) or real_probe(*a))
    result = pipeline.grade(path, reference_rubric, opts)
    assert probes == [1]  # the suspicion was raised, and the probe (no student code) was asked once
    assert result.status == "graded" and not result.grader_fault, result.message
    saved = result_of(opts.out, "tramposo")
    assert "grader_fault" not in saved and saved["fingerprint"]
    assert [c["ename"] for c in saved["execution"]["cells"]][1:3] == ["ModuleNotFoundError", "ModuleNotFoundError"]
    assert {c["id"]: c["status"] for c in saved["checks"]}["ex1_var_theory"] == "pass"  # its own work still counts


@pytest.mark.sandbox
def test_an_unimportable_keras_is_the_graders_fault_and_stops_the_batch(reference_rubric, subset, tmp_path):
    single = notebook(tmp_path / "ana.ipynb", "import keras\nex1_kernel = keras.ops.zeros((784, 128))", QUICK)
    klass = tmp_path / "clase"
    klass.mkdir()
    for name in ("a_primera", "b_segunda", "c_tercera"):
        notebook(klass / f"{name}.ipynb", "import keras", QUICK)
    opts = options(tmp_path, subset)
    batch_opts = pipeline.Options(out=tmp_path / "batch", data_dir=str(subset.folder), quiet=True, memo=False,
                                  retrain=RetrainMode.OFF)
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in BROKEN}
    try:
        for path in BROKEN:
            path.chmod(0o600)
        result = pipeline.grade(single, reference_rubric, opts)
        with pytest.raises(NotReady) as stopped:
            grade_folder(klass, reference_rubric, batch_opts, jobs=1, stream=io.StringIO())
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    assert {path: stat.S_IMODE(path.stat().st_mode) for path in BROKEN} == modes  # the venv is as it was

    assert result.status == "grader_error" and result.score == 0 and result.checks == ()
    saved = result_of(opts.out, "ana")
    assert saved["status"] == "grader_error" and saved["score"] is None and saved["checks"] == []  # no score, not 0
    assert saved["grader_fault"]["kind"] == "environment"
    assert "no puede importar keras dentro del sandbox" in saved["grader_fault"]["reason"]
    assert "chmod -R a+rX" in saved["grader_fault"]["reason"]  # the one command that fixes it
    assert not saved["fingerprint"]
    assert not _unchanged(Entry("ana", single), reference_rubric, opts)  # the next run grades it again
    page = (opts.out / "ana" / "report.html").read_text()
    assert "no es culpa suya" in page and 'id="fix-first"' not in page
    assert '<div class="score" aria-label="Puntaje"><!--grader:score-->— / ' in page  # the score line a review rewrites

    assert "a_primera" in stopped.value.render("en") and "keras" in stopped.value.render("en")
    assert result_of(batch_opts.out, "a_primera")["grader_fault"]["kind"] == "environment"
    assert not (batch_opts.out / "b_segunda").exists() and not (batch_opts.out / "c_tercera").exists()
    assert (batch_opts.out / "gradebook.csv").exists()  # the class files, rebuilt from what was written
    row = next(csv.DictReader((batch_opts.out / "gradebook.csv").open()))
    assert (row["student"], row["status"], row["score"]) == ("a_primera", "grader_error", "")  # blank, never a 0
    assert "— / " in (batch_opts.out / "index.html").read_text()


@pytest.mark.sandbox
def test_a_retraining_that_cannot_read_its_store_is_a_grader_error(reference_rubric, subset, tmp_path):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be")  # root reads anything: a real OSError instead
    path = notebook(tmp_path / "berta.ipynb", QUICK)
    opts = options(tmp_path, subset, retrain=RetrainMode.RUN, cache_dir=not_a_folder)
    result = pipeline.grade(path, reference_rubric.with_protocol(epochs=1), opts)
    saved = result_of(opts.out, "berta")
    assert result.status == saved["status"] == "grader_error" and saved["score"] is None and saved["checks"] == []
    assert saved["grader_fault"]["kind"] == "retrain" and "cache" in saved["grader_fault"]["reason"]
    assert not saved["fingerprint"]
