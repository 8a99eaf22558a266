"""A plain (non-editable) install ships the rubric, contract, mistakes, catalog and templates,
and grades with them from any folder; `--rubric` still takes a teacher's own file.

The wheel is built from this checkout and installed with --no-deps into a fresh venv that sees
the project venv's dependencies through a .pth line (a .pth inside a directory added that way is
not processed, so the project's editable `grader` stays invisible: the test asserts it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from grader.messages import text

from ..conftest import ROOT
from ..helpers import notebook


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("install")
    dist = base / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True, text=True, timeout=600)
    wheel = next(dist.glob("grader-*.whl"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "-q",
                    str(wheel)], check=True, capture_output=True, text=True, timeout=600)
    return wheel, venv, site


def test_wheel_carries_the_reference_files(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("grader/reference/rubric.json", "grader/reference/contract.json", "grader/reference/mistakes.json",
                   "grader/messages/es.json", "grader/messages/en.json", "grader/report/templates/report.html.j2",
                   "grader/execute/harvest.py", "grader/checks/homework.py", "grader/retrain/worker.py",
                   "grader/memo/fitmemo.py"):
        assert needed in names
    for name in ("reference/rubric.json",):
        assert (ROOT / name).read_bytes() == zipfile.ZipFile(wheel).read("grader/" + name)


def test_installed_grader_grades_from_another_folder(installed, subset, tmp_path):
    _, venv, site = installed
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import grader, grader.rubric as r; print(grader.__file__); print(r.reference_dir())"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout.split()
    assert where[0].startswith(str(site)) and where[1] == str(site / "grader" / "reference")
    path = notebook(tmp_path / "ana.ipynb", "ex1_limit = 6 ** 0.5 / 784 ** 0.5", "ex1_var_theory = 2 / 912")
    done = subprocess.run([str(venv / "bin" / "grade"), "check", str(path), "--out", str(tmp_path / "o"), "--no-cache",
                           "--data-dir", str(subset.folder)], capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "o" / "ana" / "result.json").read_text())
    checks = {c["id"]: c for c in result["checks"]}
    # ex1_model and ex1_conv_limit are optional and left out: skipped, their 2 points out of max_score
    assert result["max_score"] == 33 - 2 and checks["ex1_var_theory"]["status"] == "pass"
    assert checks["ex1_bias_zeros"]["status"] == checks["ex1_conv_limit"]["status"] == "skipped"
    assert checks["ex1_limit"]["status"] == "fail" and checks["ex1_limit"]["mistakes"] == ["wrong_limit"]
    assert "√(6/912) ≈ 0.0811" in (tmp_path / "o" / "ana" / "report.html").read_text()  # the shipped mistakes table

    teacher = json.loads((ROOT / "reference" / "rubric.json").read_text())
    next(c for c in teacher["checks"] if c["id"] == "ex1_limit")["points"] = 5
    (tmp_path / "mi_rubric.json").write_text(json.dumps(teacher))
    again = subprocess.run([str(venv / "bin" / "grade"), "check", str(path), "--out", str(tmp_path / "o2"), "--no-cache",
                            "--data-dir", str(subset.folder), "--rubric", str(tmp_path / "mi_rubric.json")],
                           capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((tmp_path / "o2" / "ana" / "result.json").read_text())["max_score"] == 36 - 2


HIDDEN = ("tensorflow", "tf_keras", "keras", "tensorboard", "grader", "__editable__")  # name prefixes, any case


@pytest.fixture(scope="module")
def installed_without_tensorflow(installed, tmp_path_factory):
    """The same wheel in a venv whose dependencies are the project's minus TensorFlow and Keras:
    a folder of symlinks to every entry of the project's site-packages except theirs (modules and
    metadata alike), so neither an import nor `importlib.metadata` finds them."""
    wheel, _, _ = installed
    base = tmp_path_factory.mktemp("install-no-tf")
    deps = base / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(HIDDEN) and not entry.name.endswith(".pth"):
            (deps / entry.name).symlink_to(entry)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "project-deps.pth").write_text(f"{deps}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "-q",
                    str(wheel)], check=True, capture_output=True, text=True, timeout=600)
    return venv


def test_a_plain_install_without_tensorflow_refuses_to_grade(installed_without_tensorflow, subset, tmp_path):
    """`pip install .` without the extra "teacher": every `grade` stops before anyone is graded,
    says what is missing and the one command that fixes it, exits 5 and writes nothing."""
    venv = installed_without_tensorflow
    absent = subprocess.run([str(venv / "bin" / "python"), "-c",
                             "import importlib.util as u, importlib.metadata as m, grader\n"
                             "print(u.find_spec('tensorflow'), u.find_spec('keras'), m.requires('grader'))"],
                            capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert absent.startswith("None None [") and "tensorflow-cpu==2.21.*" in absent  # the pin still in the metadata
    path = notebook(tmp_path / "ana.ipynb", "import keras", "ex1_var_theory = 2 / 912")
    klass = tmp_path / "clase"
    klass.mkdir()
    notebook(klass / "bea.ipynb", "import keras")
    for target in (path, klass):
        out = tmp_path / f"out-{target.stem}"
        done = subprocess.run([str(venv / "bin" / "grade"), str(target), "--out", str(out), "--lang", "en",
                               "--data-dir", str(subset.folder), "--no-cache"],
                              capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert done.returncode == 5, (done.returncode, done.stderr[-2000:])
        not_ready = text("en", "cli.error_not_ready", error="")
        no_tensorflow = text("en", "readiness.no_tensorflow", pin="\0", command="").split("\0")[0]  # up to the pin
        assert not_ready in done.stderr and no_tensorflow in done.stderr
        assert 'pip install "tensorflow-cpu==2.21.*"' in done.stderr and "Traceback" not in done.stderr
        assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))
