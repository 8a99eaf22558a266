"""Stage 0 on real files: what is accepted, and what each refusal says in both languages."""

from __future__ import annotations

import json

import nbformat
import pytest

from grader import submission
from grader.errors import SubmissionError, UsageError
from grader.messages import msg, render

from .helpers import notebook, said
from .spanish import spanish_words, untranslated

SPANISH = ("archivo", "notebook no", "no existe", "Entregue", "Revise", "vacío", "máximo", "válido", "celdas", "Guárdelo",
           "extensión", "inválido", "ábralo", "Ábralo", "falta")


def refusal(path, error=SubmissionError):
    with pytest.raises(error) as info:
        submission.load(path)
    es, en = info.value.render("es"), info.value.render("en")
    assert not [word for word in SPANISH if word in en], en
    assert not spanish_words(en) and not untranslated(en), en
    assert es != en
    return es, en


def test_valid_notebook_and_module(tmp_path):
    nb = submission.load(notebook(tmp_path / "Álvaro Pérez.ipynb", "x = 1", markdown="# hola"))
    assert nb.kind == "ipynb" and nb.student == "Alvaro_Perez" and nb.display_name == "Álvaro Pérez"
    assert nb.sha256 == __import__("hashlib").sha256(nb.source).hexdigest() and nb.path.is_absolute()
    py = tmp_path / "bob.py"
    py.write_text("ex1_limit = 0.08\n")
    module = submission.load(py, student="Bob Smith")
    assert module.kind == "py" and module.student == "Bob_Smith" and module.source == b"ex1_limit = 0.08\n"


def test_missing_file_is_a_usage_error(tmp_path):
    es, en = refusal(tmp_path / "nope.ipynb", UsageError)
    assert (es, en) == tuple(said("submission.no_such_file", lang, "submission.no_such_file_hint", path=tmp_path / "nope.ipynb")
                             for lang in ("es", "en"))


def test_folder_and_wrong_suffix_are_usage_errors(tmp_path):
    (tmp_path / "dir.ipynb").mkdir()
    es, en = refusal(tmp_path / "dir.ipynb", UsageError)
    assert es == said("submission.not_a_file", "es", path=tmp_path / "dir.ipynb")
    for name in ("work.txt", "Makefile"):
        (tmp_path / name).write_text("x = 1")
        es, en = refusal(tmp_path / name, UsageError)
        suffix = msg("submission.no_suffix") if name == "Makefile" else ".txt"
        for lang, text in (("es", es), ("en", en)):
            assert text.startswith(said("submission.bad_suffix", lang, "submission.bad_suffix_hint", path=tmp_path / name, suffix=suffix))
        assert f"({render(suffix, 'es')})" in es and f"({render(suffix, 'en')})" in en


def test_empty_and_blank_files(tmp_path):
    for name, content in (("a.ipynb", b""), ("b.py", b"  \n\t\n")):
        (tmp_path / name).write_bytes(content)
        es, en = refusal(tmp_path / name)
        assert (es, en) == tuple(said("submission.empty", lang, "submission.hand_in_solution") for lang in ("es", "en"))


def test_file_over_20_mb(tmp_path):
    path = tmp_path / "huge.ipynb"
    with open(path, "wb") as handle:
        handle.truncate(submission.MAX_BYTES + 3 * 2**20)
    es, en = refusal(path)
    assert (es, en) == tuple(said("submission.too_big", lang, "submission.too_big_hint", size_mb=23, max_mb=20) for lang in ("es", "en"))
    assert " 23 MB" in es and " 20 MB" in en
    exactly = tmp_path / "edge.py"
    exactly.write_bytes(b"x = 1\n" + b"#" * (submission.MAX_BYTES - 6))
    assert submission.load(exactly).kind == "py"  # the cap itself is allowed


def test_non_utf8_notebook(tmp_path):
    path = tmp_path / "latin1.ipynb"
    path.write_bytes('{"cells": [], "metadata": {"x": "ñandú"}}'.encode("latin-1"))
    es, en = refusal(path)
    assert (es, en) == tuple(said("submission.not_utf8", lang, "submission.not_utf8_hint", byte=33) for lang in ("es", "en"))


def test_invalid_json_and_not_a_notebook(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [')
    es, en = refusal(path)
    for lang, text in (("es", es), ("en", en)):
        assert text.startswith(said("submission.not_json", lang, error="Expecting value: line 1 column 12"))
    for content in ('["cells"]', '{"nbformat": 4}', "42"):
        path.write_text(content)
        es, en = refusal(path)
        assert (es, en) == tuple(said("submission.not_notebook", lang, "submission.not_notebook_hint") for lang in ("es", "en"))
    path.write_text(json.dumps({"cells": [{"cell_type": "code"}], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}))
    es, en = refusal(path)
    for lang, text in (("es", es), ("en", en)):
        assert text.startswith(said("submission.invalid_notebook", lang, error="").rstrip())


def test_markdown_only_notebook(tmp_path):
    path = tmp_path / "essay.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# mi respuesta"), nbformat.v4.new_code_cell("   \n")]
    nbformat.write(nb, path)
    es, en = refusal(path)
    assert (es, en) == tuple(said("submission.no_code", lang, "submission.hand_in_solution") for lang in ("es", "en"))


def test_nbformat_v3_is_upgraded(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"},
          "worksheets": [{"cells": [{"cell_type": "code", "input": "ex1_limit = 0.08", "language": "python",
                                     "outputs": [], "prompt_number": 1, "metadata": {}}], "metadata": {}}]}
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(v3))
    sub = submission.load(path)
    nb = submission.notebook(sub.source)
    assert nb.nbformat == 4 and [c.source for c in nb.cells if c.cell_type == "code"] == ["ex1_limit = 0.08"]


@pytest.mark.parametrize("stem, expected", [
    ("Álvaro Pérez", "Alvaro_Perez"),
    ("ñandú-Ünal_2", "nandu-Unal_2"),
    ("$(rm -rf ~); echo `id`", "rm_-rf_echo_id"),
    ("../../etc/passwd", "etc_passwd"),
    ("a|b&c>d<e*f?g", "a_b_c_d_e_f_g"),
    ("...", "submission"),
    ("李小龙", "submission"),
    ("x" * 200, "x" * 80),
    ("ﬁle", "file"),  # a ligature folds to letters
])
def test_student_id_is_folder_safe(stem, expected):
    folded = submission.student_id(stem)
    assert folded == expected
    assert folded and all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in folded)
    assert not folded.startswith(".") and "/" not in folded
