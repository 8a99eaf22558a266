"""`--lang en` means English everywhere the grader writes: result.json and report.html carry no
Spanish apart from what the student wrote. Bob (every classic mistake) and hostile or broken
submissions, graded in the real sandbox on the Fashion-MNIST subset."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from grader.messages import msg, render
from grader.pipeline import Options, grade

from ..conftest import ASSIGNMENTS
from ..helpers import notebook
from ..report import browser, lint
from ..spanish import spanish_words, untranslated


HOSTILE = {
    "wrong_types": ['ex1_limit = "0.08"', "ex1_var_theory = float('nan')", "ex1_kernel = [[1, 2], [3, 4]]",
                    "hw_val_accuracy = {'glorot_uniform': 0.9}", "hw_histories = 42",
                    "class Liar:\n    def __eq__(self, other): return True\n    def __len__(self): return 3\nex1_var_empirical = Liar()"],
    "failing_cells": ["raise ValueError('boom')", "def build_model(kernel_initializer='x', activation='relu'):\n    raise RuntimeError('no model')",
                      "import keras\nex3_model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3)])"],
    "slow_cell": ["import time\ntime.sleep(60)", "ex1_limit = (6 / 912) ** 0.5"],
}


def grader_written(saved: dict) -> str:
    """result.json without the fields that hold the student's own text (cell sources, tracebacks)."""
    saved = dict(saved, display_name="", student="", identity={})  # identity: the student's own names again
    saved["execution"] = {k: v for k, v in saved["execution"].items() if k != "cells"}
    return json.dumps(saved, ensure_ascii=False)


def assert_english(folder):
    saved = json.loads((folder / "result.json").read_text())
    text = json.dumps(saved, ensure_ascii=False)
    assert untranslated(text) == []
    assert spanish_words(grader_written(saved)) == []
    html = (folder / "report.html").read_text()
    assert 'lang="en"' in html and untranslated(html) == []
    return saved


@pytest.fixture(scope="module")
def english(subset, reference_rubric, cache_dir, tmp_path_factory):
    """Each submission graded once in English for the whole module (its language tests and its
    lint read the same pages): bob with the class's protocol, a hostile case with 1 epoch and
    5 s per cell."""
    out = tmp_path_factory.mktemp("english")
    graded = {}

    def get(case: str):
        if case not in graded:
            if case == "bob":
                path, rubric = ASSIGNMENTS / "bob.ipynb", reference_rubric
            else:
                rubric = reference_rubric.with_protocol(epochs=1)
                rubric = replace(rubric, limits=replace(rubric.limits, cell_timeout_s=5))
                path = notebook(out / f"{case}.ipynb", *HOSTILE[case])
            graded[case] = (grade(path, rubric, Options(out=out / "out", lang="en", data_dir=str(subset.folder),
                                                        cache_dir=cache_dir, quiet=True)), out / "out" / case)
        return graded[case]
    return get


@pytest.mark.slow
@pytest.mark.sandbox
def test_bob_in_english(english):
    result, folder = english("bob")
    saved = assert_english(folder)
    failing = [c for c in saved["checks"] if c["status"] == "fail"]
    assert len(failing) >= 4 and {code for c in failing for code in c["mistakes"]} == {"wrong_limit", "initializer_argument_ignored", "bias_not_zeros"}
    html = (folder / "report.html").read_text()
    # what build_model declares sits in the middle of the sentence: the sentence around it
    ignored, fix = render(msg("collapse.cause.initializer_argument_ignored", declared="\0"), "en").split("\0")
    assert ignored in html and render(msg("ui.first"), "en") in html
    assert fix in html and "Solución" not in html
    assert result.status == "graded"
    # the notebook page too: the grader's words in English (the student's own cells stay as written)
    from grader.messages import catalog

    page = (folder / "notebook.html").read_text()
    assert 'lang="en"' in page and render(msg("ui.nb.title", name="\0"), "en").split("\0")[0] in page
    assert render(msg("ui.fix_first"), "en") in html
    spanish = [v for k, v in catalog("es").items() if k.startswith("ui.nb.") and "{" not in v and v != catalog("en")[k]]
    assert [v for v in spanish if v in page] == []


@pytest.mark.sandbox
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_and_broken_in_english(case, english):
    _, folder = english(case)
    saved = assert_english(folder)
    if case == "slow_cell":
        assert {c["id"]: c["status"] for c in saved["checks"]}["ex1_limit"] == "pass"
        assert [cell["status"] for cell in saved["execution"]["cells"]] == ["timeout", "ok"]


# bob's grading is a slow run (the class's protocol): its lint is slow with it
CASES = [pytest.param("bob", marks=pytest.mark.slow), *sorted(HOSTILE)]


@pytest.mark.sandbox
@pytest.mark.parametrize("case", CASES)
def test_english_pages_pass_the_lint(case, english):
    """The English pages under tests/report/lint.py's rules (Spanish words, grader machinery,
    cut sentences, signs, fixes, units), on the pages the tests above graded."""
    _, folder = english(case)
    found = lint.folder_findings(folder, "en")
    assert found == [], lint.summary(found)


@pytest.mark.sandbox
@pytest.mark.parametrize("case", [pytest.param("bob", marks=pytest.mark.slow), "failing_cells",
                                  "slow_cell", "wrong_types"])
def test_english_pages_read_on_desktop_and_phone(case, english, tmp_path):
    """At 1280 and 390 px in Chromium: no sideways scroll, no image wider than the screen, no
    text under 11 px (tests/report/browser.py)."""
    _, folder = english(case)
    found = browser.layout_findings(browser.measure(browser.folder_pages(folder), tmp_path))
    assert found == [], lint.summary(found)


@pytest.mark.sandbox
def test_invalid_and_module_in_english(subset, reference_rubric, cache_dir, tmp_path):
    options = Options(out=tmp_path / "out", lang="en", data_dir=str(subset.folder), cache_dir=cache_dir, quiet=True)
    (tmp_path / "rota.ipynb").write_text("{not json")
    (tmp_path / "mod.py").write_text("ex1_limit = 0.0811\nimport sys\nsys.exit(3)\n")
    (tmp_path / "syntax.py").write_text("def broken(:\n")
    rubric = reference_rubric.with_protocol(epochs=1)
    for name in ("rota.ipynb", "mod.py", "syntax.py"):
        grade(tmp_path / name, rubric, options)
        assert_english(tmp_path / "out" / name.split(".")[0])
