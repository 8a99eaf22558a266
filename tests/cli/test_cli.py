"""The command line: help and usage errors in the reader's language, and the exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from grader import cli
from grader.cli import main, requested_lang
from grader.messages import msg, text

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
    assert _flat(text("en", "cli.out", default="\0").split("\0")[0]) in _flat(out) and "usage: grade" in out
    assert not any(word in out for word in SPANISH_HELP), out


def test_help_follows_the_environment(env, capsys):
    env.setenv("LANG", "en_US.UTF-8")
    code, out, _ = run(["check", "--help"], capsys)
    assert code == 0 and _flat(text("en", "cli.check_description")) in _flat(out) and "Autorrevisión" not in out
    env.setenv("LANG", "es_AR.UTF-8")
    code, out, _ = run(["check", "--help"], capsys)
    assert code == 0 and _flat(text("es", "cli.check_description")) in _flat(out)
    env.setenv("LANG", "en_US.UTF-8")  # --lang wins over the environment
    code, out, _ = run(["--help", "--lang", "es"], capsys)
    assert _flat(text("es", "cli.out", default="\0").split("\0")[0]) in _flat(out)


@pytest.mark.parametrize("lang, argv, error", [
    ("es", ["x.ipynb", "--seeds", "99"], msg("cli.seeds_range", max=50)),
    ("en", ["x.ipynb", "--seeds", "-1"], msg("cli.seeds_range", max=50)),
    ("es", ["x.ipynb", "--jobs", "0"], msg("cli.jobs_min")),
    ("en", ["x.ipynb", "--epochs", "0"], msg("cli.epochs_min")),
    ("es", ["x.ipynb", "--epochs", "0"], msg("cli.epochs_min")),
])
def test_usage_errors_exit_2_in_the_chosen_language(env, capsys, lang, argv, error):
    code, out, err = run([*argv, "--lang", lang], capsys)
    assert code == 2 and out == ""
    assert text(lang, "cli.error", error=error) in err
    if lang == "en":
        assert "debe" not in err


def test_check_on_a_folder_is_a_usage_error(env, capsys, tmp_path):
    code, _, err = run(["check", str(tmp_path)], capsys)
    assert code == 2 and text("es", "cli.is_folder", path=str(tmp_path)) in err
    env.setenv("LANG", "en_GB.UTF-8")
    code, _, err = run(["check", str(tmp_path)], capsys)
    assert code == 2 and text("en", "cli.is_folder", path=str(tmp_path)) in err


def test_missing_data_exits_3(env, capsys, tmp_path):
    path = notebook(tmp_path / "ana.ipynb", "ex1_limit = 0.08")
    code, _, err = run([str(path), "--data-dir", str(tmp_path / "nada"), "--out", str(tmp_path / "o")], capsys)
    assert code == 3 and err.startswith(text("es", "cli.error_data", error=""))
    code, _, err = run([str(path), "--data-dir", str(tmp_path / "nada"), "--out", str(tmp_path / "o"), "--lang", "en"], capsys)
    assert code == 3 and err.startswith(text("en", "cli.error_data", error=""))
    assert not (tmp_path / "o").exists()  # nothing graded, nothing written


def test_requested_lang():
    assert requested_lang(["a", "--lang", "en"]) == "en" and requested_lang(["--lang=es"]) == "es"
    assert requested_lang(["--lang", "fr"]) is None and requested_lang(["--lang"]) is None and requested_lang([]) is None


def test_module_entry_point_in_a_real_process(tmp_path):
    """`python -m grader` is the same CLI: the usage error and its exit code cross the process boundary."""
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES")} | {"LANG": "en_US.UTF-8"}
    done = subprocess.run([sys.executable, "-m", "grader", "x.ipynb", "--seeds", "51"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 2 and text("en", "cli.error", error=msg("cli.seeds_range", max=50)) in done.stderr


def _flat(out: str) -> str:
    return " ".join(out.split())  # argparse wraps at the terminal's width


@pytest.mark.parametrize("lang", ["es", "en"])
def test_help_lists_every_verb_with_its_line(env, capsys, lang):
    code, out, _ = run(["--help", "--lang", lang], capsys)
    assert code == 0
    assert {"check", "export", "calibrate", "gradescope-bundle"} <= set(cli.VERBS)
    assert _flat(text(lang, "cli.verbs") + ": " + text(lang, "cli.verbs_hint")) in _flat(out)
    for verb, (_, key) in cli.VERBS.items():
        assert f"\n  {verb}  " in out and _flat(f"{verb} {text(lang, key)}") in _flat(out), verb
    assert (("verbos:" in out) == (lang == "es")) and (("verbs:" in out) == (lang == "en"))


@pytest.mark.parametrize("verb", sorted(cli.VERBS))
@pytest.mark.parametrize("lang, usage", [("es", "uso: grade "), ("en", "usage: grade ")])
def test_each_verb_has_its_own_help(env, capsys, verb, lang, usage):
    code, out, _ = run([verb, "--help", "--lang", lang], capsys)
    assert code == 0 and out.startswith(usage + verb) and "gradescope-bundle  " not in out  # its options, not the list


def test_export_help_in_english_from_the_environment(env, capsys):
    env.setenv("LANG", "en_US.UTF-8")
    code, out, _ = run(["export", "--help"], capsys)
    assert code == 0 and "usage: grade export" in out and "--to {canvas,moodle,gradescope}" in out
    assert _flat(text("en", "cli.export_description")) in _flat(out)


GRADE_OPTIONS = ["--allow-unsandboxed", "--cache", "--cluster", "--data-dir", "--epochs", "--force", "--help", "--jobs",
                 "--lang", "--no-cache", "--no-delegate", "--no-memo", "--out", "--quiet", "--rubric", "--scheduler", "--seeds",
                 "--train-workers", "-h"]


def test_a_path_keeps_the_grading_options_and_its_help(env, capsys):
    options = sorted(o for action in cli.grade_parser("en")._actions for o in action.option_strings)
    assert options == GRADE_OPTIONS
    assert [a.dest for a in cli.grade_parser("en")._actions if not a.option_strings] == ["path"]  # the verbs are shown only
    _, bare, _ = run(["--help", "--lang", "en"], capsys)
    code, out, _ = run(["assignments/alice.ipynb", "--help", "--lang", "en"], capsys)
    assert code == 0 and out == bare and "--seeds SEEDS" in out


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_folder_named_like_a_verb(env, capsys, tmp_path, lang):
    """The verb wins (its meaning never depends on what the current folder holds); `./export` grades
    the folder, and a refused verb next to such a folder says so."""
    env.chdir(tmp_path)
    (tmp_path / "export").mkdir()
    code, _, err = run(["./export", "--seeds", "51", "--lang", lang], capsys)  # the grading parser took --seeds
    assert code == 2 and any(text(either, "cli.seeds_range", max=50) in err for either in ("en", "es"))
    code, _, err = run(["export", "--seeds", "51", "--lang", lang], capsys)
    assert code == 2 and "grade export" in err and text(lang, "cli.verb_or_path", verb="export") in err
    (tmp_path / "export").rmdir()
    code, _, err = run(["export", "--seeds", "51", "--lang", lang], capsys)
    assert code == 2 and "./export" not in err
