"""A student installs the self-check on their own machine, in a real fresh venv, from PyPI.

The venv gets `tensorflow` (the full package, not the teacher's `tensorflow-cpu`) first, as a
student who already uses it would, then the grader's wheel with its dependencies: the
student's TensorFlow stays the only one, and `grade check` and `check()` work there. Then
TensorFlow is uninstalled (the last test): `grade check` says what is missing and the one
command that fixes it, and nothing ends in a traceback. (Keras 2 and a too-new Python are the
same code path with another sentence: tests/test_preflight.py.) One venv, not two: the
grader's dependencies are installed once (CI's time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.messages import msg, render

from ..conftest import ROOT
from ..helpers import EX1_DONE, notebook

pytestmark = pytest.mark.slow

PIP_TIMEOUT = 1800


def _run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("student-wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT], check=True, timeout=600)
    return next(dist.glob("grader-*.whl"))


def _venv(path: Path, *requirements: str) -> Path:
    """A fresh venv with pip, then `pip install` each requirement in order (each its own step)."""
    _run([sys.executable, "-m", "venv", path], check=True, timeout=300)
    for requirement in requirements:
        # --no-compile: byte-compiling TensorFlow's thousands of modules is most of an install's time
        done = _run([path / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check",
                     requirement],
                    timeout=PIP_TIMEOUT)
        assert done.returncode == 0, (requirement, done.stderr[-3000:])
    return path


def _distributions(venv: Path) -> dict:
    listed = _run([venv / "bin" / "python", "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                  check=True, timeout=120)
    return {row["name"].lower(): row["version"] for row in json.loads(listed.stdout)}


@pytest.fixture(scope="module")
def student_venv(wheel, tmp_path_factory):
    """`tensorflow` first, then the grader: (venv, distributions before the grader, after)."""
    venv = _venv(tmp_path_factory.mktemp("student") / "venv", "tensorflow==2.21.*")
    before = _distributions(venv)
    done = _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check", wheel],
                timeout=PIP_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv, before, _distributions(venv)


def test_the_students_own_tensorflow_is_kept_and_the_check_works(student_venv, subset, tmp_path):
    venv, before, after = student_venv
    assert "tensorflow" in before and "tensorflow-cpu" not in before
    assert "tensorflow-cpu" not in after and after["tensorflow"] == before["tensorflow"]  # theirs, untouched
    assert after["keras"] == before["keras"] and after["numpy"] == before["numpy"]

    path = notebook(tmp_path / "tarea.ipynb", EX1_DONE)
    done = _run([venv / "bin" / "grade", "check", path, "--out", tmp_path / "o", "--no-cache", "--data-dir", subset.folder],
                cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "o" / "tarea" / "result.json").read_text())
    ex1 = [c for c in result["checks"] if c["exercise"] == "ex1"]
    assert len(ex1) == 7 and all(c["status"] == "pass" for c in ex1), [(c["id"], c["status"]) for c in ex1]

    script = tmp_path / "en_vivo.py"  # check() as the last statement, on the live objects
    script.write_text(EX1_DONE + f"\nfrom grader import check\ncheck(out={str(tmp_path / 'live')!r}, "
                                 f"data_dir={str(subset.folder)!r})\n")
    live = _run([venv / "bin" / "python", script], cwd=tmp_path, timeout=900)
    assert live.returncode == 0, live.stdout[-3000:] + live.stderr[-3000:]
    saved = next((tmp_path / "live").glob("*/result.json"))
    checks = {c["id"]: c["status"] for c in json.loads(saved.read_text())["checks"]}
    assert checks["ex1_limit"] == checks["ex1_kernel_distribution"] == "pass"


def test_without_tensorflow_the_check_says_what_is_missing(student_venv, tmp_path):
    """Last: it uninstalls the student's TensorFlow from the shared venv."""
    venv, _, _ = student_venv
    gone = _run([venv / "bin" / "python", "-m", "pip", "uninstall", "-y", "-q", "tensorflow"], timeout=600)
    assert gone.returncode == 0, gone.stderr[-2000:]
    assert not any(name.startswith("tensorflow") for name in _distributions(venv))
    path = notebook(tmp_path / "tarea.ipynb", "x = 1")
    done = _run([venv / "bin" / "grade", "check", path], cwd=tmp_path, timeout=300,
                env={**os.environ, "LANG": "es_AR.UTF-8"})
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    no_tensorflow = msg("preflight.no_tensorflow", command='pip install "tensorflow>=2.16"')
    assert render(no_tensorflow, "es") in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    english = _run([venv / "bin" / "grade", "check", path], cwd=tmp_path, timeout=300,
                   env={**os.environ, "LANG": "en_US.UTF-8"})
    assert english.returncode == 2 and render(no_tensorflow, "en") in english.stderr
    live = _run([venv / "bin" / "python", "-c", "x = 1\nfrom grader import check\ncheck()"], cwd=tmp_path, timeout=300)
    assert live.returncode == 0 and 'pip install "tensorflow>=2.16"' in live.stdout
    assert "Traceback" not in live.stdout + live.stderr
