"""Every figure is a real PNG for real inputs, and None (no figure) when there is nothing to draw."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from grader.report import plots
from grader.report.student import ui_texts
from grader.rubric import load as load_rubric

LABELS = ui_texts(load_rubric(), "es")["label"]  # the catalog's own words: a label the plots need and it lacks fails here
HISTORY = {"val_accuracy": [0.7, 0.8, 0.85], "val_loss": [0.9, 0.6, 0.5]}


def assert_png(uri: str | None, min_width: int = 200) -> None:
    assert uri is not None and uri.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert image.format == "PNG" and image.size[0] >= min_width


def test_curves(reference_rubric):
    inits = reference_rubric.homework.initializers
    assert_png(plots.curves({"he_normal": HISTORY}, {"glorot_uniform": HISTORY}, LABELS, inits))
    assert plots.curves({}, {}, LABELS, inits) is None


def test_exercise_curves():
    assert_png(plots.exercise_curves({"a": HISTORY}, {"a": HISTORY, "b": HISTORY}, "val_loss", LABELS))
    assert plots.exercise_curves({}, {}, "val_loss", LABELS) is None


def test_activation_rows_including_a_dead_layer():
    layer = {"var": 0.1, "hist": [1, 3, 5, 3, 1], "edges": [0, 1, 2, 3, 4, 5]}
    dead = {"var": 0.0, "hist": [0, 50, 0], "edges": [0.1, 0.1, 0.1, 0.1]}
    assert_png(plots.activation_rows({"He + ReLU": [layer] * 4, "RandomNormal": [layer, dead]}, LABELS))
    assert plots.activation_rows({}, LABELS) is None
    assert plots.activation_rows({"x": []}, LABELS) is None


def test_initial_histograms_only_for_the_rubric_initializers(reference_rubric):
    rng = np.random.default_rng(0)
    kernels = [rng.uniform(-0.1, 0.1, (784, 300)), rng.uniform(-0.1, 0.1, (300, 10))]

    class Probe:  # what initial_histograms reads of a ModelDesc: its kernels
        pass

    probe = Probe()
    probe.kernels = kernels
    assert_png(plots.initial_histograms({"glorot_uniform": probe}, LABELS, reference_rubric.homework.initializers))
    assert plots.initial_histograms({"glorot_uniform": probe}, LABELS, ("he_normal",)) is None
    assert plots.initial_histograms({}, LABELS, reference_rubric.homework.initializers) is None


def test_ex1_histogram():
    kernel = np.random.default_rng(1).uniform(-0.08, 0.08, (784, 128))
    assert_png(plots.ex1_histogram(kernel, 0.0811, 0.0875, LABELS))
    assert_png(plots.ex1_histogram(kernel, 0.0811, float("nan"), LABELS))
    assert plots.ex1_histogram(np.zeros((0,)), 0.0811, None, LABELS) is None


def test_norms_draw_the_rubric_he_variants(reference_rubric):
    he = reference_rubric.homework.he_initializers
    grader = {init: {"before": [24.0, 20.0], "after": [25.0, 21.0]} for init in he}
    assert_png(plots.norms({"he_normal": [24.0, 20.0]}, {"he_normal": [25.0, 21.0]}, grader, LABELS, he))
    assert plots.norms({}, {}, {}, LABELS, he) is None
    assert plots.norms({}, {"glorot_uniform": [1.0]}, {}, LABELS, he) is None  # not a He variant: nothing to draw


def test_seed_dots(reference_rubric):
    seeds = {"he_normal": {"diffs": [0.4, 3.2, -0.3], "mean": 1.1, "ci95": [-2.0, 4.2]},
             "he_uniform": {"diffs": [0.1], "mean": 0.1, "ci95": [float("nan"), float("nan")]}}
    assert_png(plots.seed_dots(seeds, reference_rubric.homework.criterion_pp, LABELS, reference_rubric.homework.baseline))
    assert plots.seed_dots({}, 0.5, LABELS, "glorot_uniform") is None


def test_colors_keep_the_palette_and_cover_new_names():
    colors = plots.colors_for(["glorot_uniform", "lecun_normal", "orthogonal"])
    assert colors["glorot_uniform"] == plots.COLORS["glorot_uniform"]
    assert len(set(colors.values())) == 3


def test_curves_say_which_lie_on_top_of_each_other_and_when_the_student_has_none():
    """A hidden curve looks like a missing one: the pairs that coincide are named, and axes with
    only the grader's curves say that the student's are missing (not a legend of invisible lines)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    other = {"val_loss": [1.0, 0.7, 0.65]}
    pairs = plots._runs_on(ax, {"a": HISTORY}, {"a": HISTORY, "b": other}, "val_loss", LABELS, {"a": "red", "b": "blue"})
    assert pairs == [f"a ({LABELS['student']}) = a ({LABELS['grader']})"]
    assert LABELS["no_student_curves"] not in [t.get_text() for t in ax.texts]
    assert all(t == int(t) for t in ax.get_xticks())  # epochs are whole numbers
    fig2, ax2 = plt.subplots()
    assert plots._runs_on(ax2, {}, {"b": other}, "val_loss", LABELS, {"b": "blue"}) == []
    assert LABELS["no_student_curves"] in [t.get_text() for t in ax2.texts]
    plt.close("all")
