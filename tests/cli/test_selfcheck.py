"""Student self-check: `grade check FILE` and `check()` from inside a running notebook."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from grader.messages import msg, render
from grader.selfcheck import check

from ..conftest import ROOT
from ..helpers import notebook

EX1 = """import numpy as np, keras
keras.utils.set_random_seed(42)
ex1_model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128)])
ex1_kernel = ex1_model.layers[0].kernel.numpy()
ex1_var_empirical = float(ex1_kernel.var())
ex1_var_theory = 2 / 912
ex1_limit = float(np.sqrt(6 / 784))
def build_model(kernel_initializer="glorot_uniform", activation="relu"):
    model = keras.Sequential([keras.Input((784,))])
    for units in [300, 200, 100, 50]:
        model.add(keras.layers.Dense(units, activation=activation, kernel_initializer=kernel_initializer))
    model.add(keras.layers.Dense(10, activation="softmax", kernel_initializer=kernel_initializer))
    return model
"""


def test_check_on_live_objects(subset, tmp_path):
    namespace: dict = {}
    exec(EX1, namespace)
    result = check(namespace, data_dir=str(subset.folder), out=str(tmp_path / "out"))
    statuses = {c.id: c.status for c in result.checks}
    assert statuses["ex1_kernel_distribution"] == "pass" and statuses["ex1_limit"] == "fail"
    assert statuses["hw_initial_distribution"] == "pass" and statuses["hw_declared_initializers"] == "pass"
    retrain = next(c for c in result.checks if c.id == "hw_retrain_reproduces")
    not_trained = render(msg("retrain.self_check_not_cached", why="\0"), "es").split("\0")[1]  # after the reason
    assert retrain.status == "warn" and not_trained in render(retrain.message, "es")
    assert result.sandbox["level"] == "none"
    saved = json.loads((tmp_path / "out" / result.student / "result.json").read_text())
    assert saved["sandbox"]["note"] == render(msg("selfcheck.note_live"), "es")
    assert render(msg("ui.sandbox_none"), "es") in (tmp_path / "out" / result.student / "report.html").read_text()


def test_check_from_inside_a_real_notebook(subset, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(EX1),
                nbformat.v4.new_code_cell(f"from grader import check\nr = check(data_dir={str(subset.folder)!r}, out={str(tmp_path / 'o')!r})\n"
                                          "print('SCORE', r.score)")]
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "wrong_limit" in text and "SCORE" in text
    assert render(msg("selfcheck.note"), "es") in text  # the live note begins with it


def test_grade_check_cli_runs_unsandboxed_with_a_note(subset, tmp_path, cache_dir):
    path = notebook(tmp_path / "mia.ipynb", EX1)
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(path), "--out", str(tmp_path / "o"),
                           "--data-dir", str(subset.folder), "--cache", str(cache_dir)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "wrong_limit" in done.stdout
    assert f"({render(msg('selfcheck.note'), 'es')})" in done.stdout
    saved = json.loads((tmp_path / "o" / "mia" / "result.json").read_text())
    assert saved["sandbox"]["level"] == "none"
    assert render(msg("ui.sandbox_none"), "es") in (tmp_path / "o" / "mia" / "report.html").read_text()
    english = subprocess.run([sys.executable, "-m", "grader", "check", str(path), "--out", str(tmp_path / "e"), "--lang", "en",
                              "--data-dir", str(subset.folder), "--cache", str(cache_dir)],
                             capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert english.returncode == 0, english.stderr[-3000:]
    assert f"({render(msg('selfcheck.note'), 'en')})" in english.stdout
    assert render(msg("cli.report_path", path=""), "en") in english.stdout and "informe:" not in english.stdout


@pytest.mark.sandbox
def test_self_check_cell_is_harmless_when_the_teacher_grades(subset, tmp_path, reference_rubric):
    from grader import execute, submission
    from grader.rubric import Limits
    from grader.sandbox import Sandbox

    path = notebook(tmp_path / "n.ipynb", "ex1_limit = 0.0811107", "from grader import check\ncheck()")
    with Sandbox(Limits(cell_timeout_s=60, total_timeout_s=200), subset.folder) as sandbox:
        execution = execute.run(submission.load(path), sandbox, reference_rubric.contract_path, tmp_path / "a")
    assert [c.status for c in execution.cells] == ["ok", "ok"]
