"""Every figure is a real PNG for real inputs, and None (no figure) when there is nothing to draw."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
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
    images = plots.activation_rows({"He + ReLU": [layer] * 4, "RandomNormal": [layer, dead]}, LABELS)
    assert list(images) == ["He + ReLU", "RandomNormal"]  # one image per model: stacked on a phone
    for uri in images.values():
        assert_png(uri)
    assert plots.activation_rows({}, LABELS) is None
    assert plots.activation_rows({"x": []}, LABELS) is None


def test_initial_histograms_only_for_the_rubric_initializers(reference_rubric):
    rng = np.random.default_rng(0)
    kernels = [rng.uniform(-0.1, 0.1, (784, 300)), rng.uniform(-0.1, 0.1, (300, 10))]

    class Probe:  # what initial_histograms reads of a ModelDesc: its kernels
        pass

    probe = Probe()
    probe.kernels = kernels
    images = plots.initial_histograms({"glorot_uniform": probe}, LABELS, reference_rubric.homework.initializers)
    assert list(images) == ["glorot_uniform"]
    assert_png(images["glorot_uniform"])
    assert plots.initial_histograms({"glorot_uniform": probe}, LABELS, ("he_normal",)) is None
    assert plots.initial_histograms({}, LABELS, reference_rubric.homework.initializers) is None


def test_ex1_histogram():
    kernel = np.random.default_rng(1).uniform(-0.08, 0.08, (784, 128))
    assert_png(plots.ex1_histogram(kernel, 0.0811, 0.0875, LABELS))
    assert_png(plots.ex1_histogram(kernel, 0.0811, float("nan"), LABELS))
    assert plots.ex1_histogram(np.zeros((0,)), 0.0811, None, LABELS) is None


def test_norms_draw_every_initializer_the_homework_trains(reference_rubric):
    inits = reference_rubric.homework.initializers
    grader = {init: {"before": [24.0, 20.0], "after": [25.0, 21.0]} for init in inits}
    images = plots.norms({"he_normal": [24.0, 20.0]}, {"he_normal": [25.0, 21.0]}, grader, LABELS, inits,
                         reference={"he_normal": [24.5, 20.0]})
    assert list(images) == list(inits) and "glorot_uniform" in images  # Glorot has its panel too
    for uri in images.values():
        assert_png(uri)
    assert plots.norms({}, {}, {}, LABELS, inits) is None
    assert plots.norms({}, {"lecun_normal": [1.0]}, {}, LABELS, inits) is None  # not one the homework trains


def test_seed_dots(reference_rubric):
    seeds = {"he_normal": {"diffs": [0.4, 3.2, -0.3], "mean": 1.1, "ci95": [-2.0, 4.2]},
             "he_uniform": {"diffs": [0.1], "mean": 0.1, "ci95": [float("nan"), float("nan")]}}
    assert_png(plots.seed_dots(seeds, reference_rubric.homework.criterion_pp, LABELS, reference_rubric.homework.baseline))
    assert plots.seed_dots({}, 0.5, LABELS, "glorot_uniform") is None


def test_colors_keep_the_palette_and_cover_new_names():
    colors = plots.colors_for(["glorot_uniform", "lecun_normal", "orthogonal"])
    assert colors["glorot_uniform"] == plots.COLORS["glorot_uniform"]
    assert len(set(colors.values())) == 3


def test_curves_say_which_lie_on_top_of_each_other_and_when_the_student_has_none(monkeypatch):
    """A hidden curve looks like a missing one: the pairs that coincide are named, and a figure
    with only the grader's curves says that the student's are missing (not a legend of invisible
    lines); both notes sit above the axes, where they cover no curve."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    other = {"val_loss": [1.0, 0.7, 0.65]}
    pairs = plots._runs_on(ax, {"a": HISTORY}, {"a": HISTORY, "b": other}, "val_loss", LABELS, {"a": "red", "b": "blue"})
    assert pairs == [f"a ({LABELS['student']}) = a ({LABELS['grader']})"]
    assert all(t == int(t) for t in ax.get_xticks())  # epochs are whole numbers
    plt.close("all")
    figures = drawn(monkeypatch, lambda: plots.exercise_curves({}, {"a": HISTORY, "b": HISTORY}, "val_loss", LABELS))
    note = figures[0]._suptitle.get_text()
    assert LABELS["no_student_curves"].split()[0] in note and LABELS["overlap"].split()[0] in note
    legend = [t.get_text() for t in figures[0].legends[0].get_texts()]
    assert LABELS["grader"] in legend and LABELS["student"] not in legend  # no entry for lines that are not there
    figures = drawn(monkeypatch, lambda: plots.exercise_curves({"a": HISTORY}, {"b": {"val_loss": [1.0, 0.7, 0.65]}},
                                                               "val_loss", LABELS))
    assert figures[0]._suptitle is None  # nothing to note


# --- what a reader can read: every text ≥ 11 px on a phone, every axis labelled, no note on a curve ---

def drawn(monkeypatch, call) -> list:
    """The figures `call` draws (each as it is when saved), captured at png_data_uri."""
    import matplotlib.pyplot as plt

    figures = []

    def capture(fig):
        figures.append(fig)
        fig.sizes = plots.text_sizes(fig)  # measured here, inside the plot's own style
        fig.canvas.draw()
        fig.renderer = fig.canvas.get_renderer()  # the layout as saved, for the extents read later
        plt.close(fig)  # out of pyplot's list; the figure itself stays to be inspected
        return "data:image/png;base64,"

    monkeypatch.setattr(plots, "png_data_uri", capture)
    call()
    return figures


def every_figure(rubric, labels):
    """Each plotting function, called with small real inputs (as the report calls it)."""
    hw = rubric.homework
    rng = np.random.default_rng(0)

    class Probe:
        kernels = [rng.uniform(-0.08, 0.08, (784, 300)), rng.uniform(-0.3, 0.3, (50, 10))]

    history = {"val_accuracy": [0.6, 0.7, 0.75, 0.8, 0.82], "val_loss": [1.2, 0.9, 0.7, 0.6, 0.55]}
    other = {"val_accuracy": [0.5, 0.6, 0.65, 0.7, 0.72], "val_loss": [1.4, 1.0, 0.8, 0.7, 0.65]}
    layer = {"var": 0.15, "hist": [900, 300, 120, 40, 9, 2], "edges": [0, 0.3, 0.6, 0.9, 1.2, 1.5, 1.8]}
    output = {"var": 0.0046, "hist": [3, 40, 80, 20, 2], "edges": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25]}
    norms = {init: {"before": [24.0, 20.0, 14.0, 10.0, 4.4], "after": [25.0, 21.0, 15.0, 11.0, 5.0]} for init in hw.initializers}
    seeds = {"he_normal": {"diffs": [0.4, 3.2, -0.3], "mean": 1.1, "ci95": [-2.0, 4.2]},
             "he_uniform": {"diffs": [0.1, 1.0, 0.2], "mean": 0.4, "ci95": [-0.7, 1.6]}}
    return {
        "curves": lambda: plots.curves({}, {i: history for i in hw.initializers}, labels, hw.initializers),
        "curves (student)": lambda: plots.curves({"he_normal": history}, {"he_normal": other, "glorot_uniform": history},
                                                 labels, hw.initializers),
        "exercise_curves": lambda: plots.exercise_curves({"he_normal": history}, {"he_normal": history, "random_normal": other},
                                                         "val_loss", labels),
        "activation_rows": lambda: plots.activation_rows({"He + ReLU": [layer] * 4 + [output],
                                                          "RandomNormal(0.01)": [layer] * 4 + [output]}, labels),
        "initial_histograms": lambda: plots.initial_histograms({i: Probe() for i in hw.initializers}, labels, hw.initializers),
        "ex1_histogram": lambda: plots.ex1_histogram(rng.uniform(-0.08, 0.08, (784, 128)), 0.0811, 0.0875, labels),
        "norms": lambda: plots.norms({"he_normal": norms["he_normal"]["before"]}, {"he_normal": norms["he_normal"]["after"]},
                                     norms, labels, hw.initializers, reference={"he_normal": [24.5, 20.0, 14.1, 10.0, 4.5]}),
        "seed_dots": lambda: plots.seed_dots(seeds, hw.criterion_pp, labels, hw.baseline),
    }


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_text_of_every_figure_is_readable_on_a_phone(reference_rubric, monkeypatch, lang):
    """An image is shown at min(its natural width, the phone's column) px, so a text of f points
    measures f · DPI/72 · shown/natural px: titles, labels, ticks, legends, notes, all ≥ 11 px."""
    labels = ui_texts(reference_rubric, lang)["label"]
    for name, call in every_figure(reference_rubric, labels).items():
        figures = drawn(monkeypatch, call)
        assert figures, name
        for fig in figures:
            assert fig.sizes, name
            small = [(text, round(px, 1)) for text, px in fig.sizes if px < plots.MIN_TEXT_PX]
            assert small == [], (name, small)


def test_text_sizes_follow_the_displayed_width():
    """The rule's arithmetic: an image wider than the column is scaled down, and its text with it."""
    import matplotlib.pyplot as plt

    for width_in, expected in ((3.0, 12 * 90 / 72), (9.0, None)):
        fig = plt.figure(figsize=(width_in, 1))
        fig.text(0.01, 0.5, "x" * 4, fontsize=12)
        fig.text(0.99, 0.5, "y" * 4, fontsize=12, ha="right")  # the saved image spans the figure's width
        [(_, px), _] = plots.text_sizes(fig)
        natural = int.from_bytes(plots._save(fig)[16:20], "big")
        plt.close(fig)
        assert px == pytest.approx(12 * 90 / 72 * min(natural, plots.NARROW_PX) / natural)
        if expected:
            assert natural <= plots.NARROW_PX and px == pytest.approx(expected)
        else:
            assert natural > 2 * plots.NARROW_PX and px < 12 * 90 / 72 / 2  # half its natural size


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_axis_is_labelled_and_no_note_or_legend_covers_an_axes(reference_rubric, monkeypatch, lang):
    labels = ui_texts(reference_rubric, lang)["label"]
    catalog_words = set(labels.values())
    for name, call in every_figure(reference_rubric, labels).items():
        for fig in drawn(monkeypatch, call):
            renderer = fig.renderer
            shared = {"x": fig._supxlabel, "y": fig._supylabel}
            axes = [ax for ax in fig.axes if ax.axison]
            for ax in axes:
                for which, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
                    ticks = [t.get_text() for t in getattr(ax, f"get_{which}ticklabels")()]
                    categorical = which == "y" and all(t and not t.lstrip("−-").replace(".", "").isdigit() for t in ticks)
                    assert label or shared[which] is not None or categorical, (name, which)
            if name in ("initial_histograms", "ex1_histogram"):  # the review's example: named in the reader's words
                assert {axes[0].get_xlabel(), axes[0].get_ylabel()} <= catalog_words, name
            outside = [fig._suptitle, *fig.legends]
            for artist in (a for a in outside if a is not None):
                box = artist.get_window_extent(renderer)
                for ax in axes:
                    assert not box.overlaps(ax.get_window_extent(renderer)), (name, artist)
    assert "_F" not in "".join(labels.values())


def test_the_norm_axis_is_mathtext(reference_rubric, monkeypatch):
    """‖W‖_F with a real subscript, not a literal underscore."""
    inits = reference_rubric.homework.initializers
    figures = drawn(monkeypatch, lambda: plots.norms({}, {}, {i: {"before": [1.0], "after": [2.0]} for i in inits},
                                                     LABELS, inits))
    assert [fig.axes[0].get_ylabel() for fig in figures] == [r"$\|W\|_F$"] * len(inits)
