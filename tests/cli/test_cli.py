"""The command line: help and usage errors in the reader's language, and the exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from grader.cli import main, requested_lang

from ..conftest import ROOT
from ..helpers import notebook


@pytest.fixture()
def env(monkeypatch):
    """A terminal with no language preference; each test sets LANG if it wants one."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def run(argv, capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's --help and its own usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


SPANISH_HELP = ("carpeta de salida", "idioma del informe", "opciones", "uso: ", "muestra esta ayuda")
ENGLISH_HELP = ("output folder", "language of the report", "options", "usage: ", "show this help message")


def test_help_is_spanish_by_default(env, capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    assert all(word in out for word in SPANISH_HELP), out
    assert not any(word in out for word in ENGLISH_HELP[:2])


@pytest.mark.parametrize("argv", [["--help", "--lang", "en"], ["--lang=en", "--help"], ["check", "--help", "--lang", "en"]])
def test_help_in_english_with_lang(env, capsys, argv):
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert "output folder" in out and "usage: grade" in out
    assert not any(word in out for word in SPANISH_HELP), out


def test_help_follows_the_environment(env, capsys):
    env.setenv("LANG", "en_US.UTF-8")
    code, out, _ = run(["check", "--help"], capsys)
    assert code == 0 and "Self-check: the same checks" in out and "Autorrevisión" not in out
    env.setenv("LANG", "es_AR.UTF-8")
    code, out, _ = run(["check", "--help"], capsys)
    assert code == 0 and "Autorrevisión" in out
    env.setenv("LANG", "en_US.UTF-8")  # --lang wins over the environment
    code, out, _ = run(["--help", "--lang", "es"], capsys)
    assert "carpeta de salida" in out


@pytest.mark.parametrize("lang, argv, spanish, english", [
    ("es", ["x.ipynb", "--seeds", "99"], "grade: --seeds debe estar entre 0 y 50", None),
    ("en", ["x.ipynb", "--seeds", "-1"], None, "grade: --seeds must be between 0 and 50"),
    ("es", ["x.ipynb", "--jobs", "0"], "grade: --jobs debe ser ≥ 1", None),
    ("en", ["x.ipynb", "--epochs", "0"], None, "grade: --epochs must be ≥ 1"),
    ("es", ["x.ipynb", "--epochs", "0"], "grade: --epochs debe ser ≥ 1", None),
])
def test_usage_errors_exit_2_in_the_chosen_language(env, capsys, lang, argv, spanish, english):
    code, out, err = run([*argv, "--lang", lang], capsys)
    assert code == 2 and out == ""
    assert (spanish or english) in err
    if english:
        assert "debe" not in err


def test_check_on_a_folder_is_a_usage_error(env, capsys, tmp_path):
    code, _, err = run(["check", str(tmp_path)], capsys)
    assert code == 2 and f"{tmp_path} es una carpeta; grade check revisa un archivo" in err
    env.setenv("LANG", "en_GB.UTF-8")
    code, _, err = run(["check", str(tmp_path)], capsys)
    assert code == 2 and f"{tmp_path} is a folder; grade check checks one file" in err


def test_missing_data_exits_3(env, capsys, tmp_path):
    path = notebook(tmp_path / "ana.ipynb", "ex1_limit = 0.08")
    code, _, err = run([str(path), "--data-dir", str(tmp_path / "nada"), "--out", str(tmp_path / "o")], capsys)
    assert code == 3 and err.startswith("grade: datos: ")
    code, _, err = run([str(path), "--data-dir", str(tmp_path / "nada"), "--out", str(tmp_path / "o"), "--lang", "en"], capsys)
    assert code == 3 and err.startswith("grade: data: ")
    assert not (tmp_path / "o").exists()  # nothing graded, nothing written


def test_requested_lang():
    assert requested_lang(["a", "--lang", "en"]) == "en" and requested_lang(["--lang=es"]) == "es"
    assert requested_lang(["--lang", "fr"]) is None and requested_lang(["--lang"]) is None and requested_lang([]) is None


def test_module_entry_point_in_a_real_process(tmp_path):
    """`python -m grader` is the same CLI: the usage error and its exit code cross the process boundary."""
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES")} | {"LANG": "en_US.UTF-8"}
    done = subprocess.run([sys.executable, "-m", "grader", "x.ipynb", "--seeds", "51"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 2 and "grade: --seeds must be between 0 and 50" in done.stderr
