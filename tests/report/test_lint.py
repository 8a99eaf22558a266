"""The report lint's rules (tests/report/lint.py), each shown able to fail and to pass on a small
page written the way report.html.j2 writes one; and the figure rules, on matplotlib figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from . import lint  # noqa: E402


def page(body: str, lang: str = "es") -> str:
    return f'<!DOCTYPE html><html lang="{lang}"><head><title>Informe</title><style>p{{}}</style></head><body><main>{body}</main></body></html>'


def numbers(rows: list[tuple[str, str, str]]) -> str:
    """An exercise's numbers table, as the template writes it (label, yours, the grader's)."""
    cells = "".join(f'<tr><td><a href="#check-x">{label}</a></td><td class="num">{yours}</td><td class="num">{grader}</td></tr>'
                    for label, yours, grader in rows)
    return f'<table aria-label="Sus números"><tr><th>Qué</th><th>Usted</th><th>Corrector</th></tr>{cells}</table>'


ACC = [("val_accuracy final, he_normal (%)", "86.90", "87.10"), ("val_accuracy final, glorot_uniform (%)", "87.06", "86.80")]


def kinds(findings: list[lint.Finding]) -> list[str]:
    return [f.kind for f in findings]


# --- sign ------------------------------------------------------------------------------------------

def test_sign_finds_a_difference_row_that_contradicts_its_own_rows():
    wrong = page(f'<section id="ex-hw">{numbers([*ACC, ("he_normal − Glorot (pp)", "+0.16", "+0.30")])}</section>')
    found = lint.sign(wrong)
    assert kinds(found) == ["sign"] and "+0.16" in found[0].excerpt and "−0.16" in found[0].excerpt
    right = page(f'<section id="ex-hw">{numbers([*ACC, ("he_normal − Glorot (pp)", "−0.16", "+0.30")])}</section>')
    assert lint.sign(right) == []


def test_sign_finds_a_sentence_that_contradicts_the_section_numbers():
    sentence = '<article id="check-ex4_tanh"><dl><dt>Encontrado</dt><dd>Glorot − He: usted {} pp, corrector +0.30 pp</dd></dl></article>'
    table = numbers([("val_accuracy final, glorot_uniform (%)", "86.90", "87.10"),
                     ("val_accuracy final, he_normal (%)", "87.06", "86.80")])
    assert kinds(lint.sign(page(f'<section>{table}{sentence.format("+0.16")}</section>'))) == ["sign"]
    assert lint.sign(page(f'<section>{table}{sentence.format("−0.16")}</section>')) == []
    # the same sentence with its numbers in it: "He 86.90 %, Glorot 87.06 %, He − Glorot: 0.16 pp"
    inline = "<p>He 86.90 %, Glorot 87.06 %; He − Glorot: {} pp.</p>"
    assert kinds(lint.sign(page(inline.format("0.16")))) == ["sign"]
    assert lint.sign(page(inline.format("−0.16"))) == []
    # accuracies as fractions (exercise 4's rows) round 100 times finer: 0.0016 apart is a sign
    fractions = numbers([("val_accuracy final, glorot_uniform_tanh", "0.8690", "0.8710"),
                         ("val_accuracy final, he_normal_tanh", "0.8706", "0.8680")])
    assert kinds(lint.sign(page(f"<section>{fractions}{sentence.format('+0.16')}</section>"))) == ["sign"]
    assert lint.sign(page(f"<section>{fractions}{sentence.format('−0.16')}</section>")) == []


def test_sign_says_nothing_where_it_cannot_tell():
    """He may be he_normal or he_uniform: a statement that agrees with one reading is not a
    finding; a difference inside rounding, or one with no numbers to compare, neither."""
    rows = [("val_accuracy final, he_normal (%)", "86.90", "86.90"), ("val_accuracy final, he_uniform (%)", "87.50", "87.50"),
            ("val_accuracy final, glorot_uniform (%)", "87.06", "87.06")]
    assert lint.sign(page(f"<section>{numbers(rows)}<p>He − Glorot: +0.44 pp</p></section>")) == []
    assert lint.sign(page(f"<section>{numbers(ACC)}<p>He − Glorot: +0.00 pp</p></section>")) == []
    assert lint.sign(page("<p>He − Glorot: +0.16 pp</p>")) == []
    assert lint.sign(page("<p>U(−√(6/912), +√(6/912))</p>")) == []


# --- duplicate fix ---------------------------------------------------------------------------------

def fix_first(*items: tuple[str, str]) -> str:
    lis = "".join(f'<li><a href="#check-{check}">Título</a> <span class="gain">+2 puntos</span><br>{fix}</li>'
                  for check, fix in items)
    return f'<section id="fix-first"><ol class="fixfirst">{lis}</ol></section>'


def test_duplicate_fix_in_what_to_fix_first():
    fix = "Pase el argumento a cada capa: <code>Dense(units, kernel_initializer=kernel_initializer)</code>."
    twice = lint.duplicate_fix(page(fix_first(("hw_declared_initializers", fix),
                                              ("hw_initial_distribution", fix.replace(" ", "  \n")))))
    assert kinds(twice) == ["duplicate_fix"] and "hw_initial_distribution" in twice[0].excerpt
    inside = lint.duplicate_fix(page(fix_first(("a", fix), ("b", "Primero: " + fix + " Y vuelva a entrenar."))))
    assert kinds(inside) == ["duplicate_fix"]
    assert lint.duplicate_fix(page(fix_first(("a", fix), ("b", "El bias debe arrancar en zeros.")))) == []


def test_duplicate_fix_under_one_check():
    how = "<dt>Cómo arreglarlo</dt><dd>Síntoma. Solución: use he_normal.</dd>"
    article = '<article class="check fail" id="check-x"><h3>T</h3><dl><dt>Encontrado</dt><dd>m</dd>{}</dl></article>'
    assert kinds(lint.duplicate_fix(page(article.format(how * 2)))) == ["duplicate_fix"]
    assert lint.duplicate_fix(page(article.format(how))) == []


# --- contradicting initializer ---------------------------------------------------------------------

def check_article(check: str, expected: str, fix: str) -> str:
    return (f'<article class="check fail" id="check-{check}"><h3>T</h3><dl><dt>Encontrado</dt><dd>m</dd>'
            f'<dt>Esperado</dt><dd>{expected}</dd><dt>Por qué importa</dt><dd>w</dd>'
            f'<dt>Cómo arreglarlo</dt><dd>{fix}</dd></dl></article>')


def test_a_bias_fix_that_hard_codes_the_kernel_initializer():
    bad = "El bias debe arrancar en zeros. Dense(..., kernel_initializer='he_normal', bias_initializer='zeros')."
    found = lint.contradicting_initializer(page(check_article("hw_biases_zero", "zeros", bad)))
    assert kinds(found) == ["contradicting_initializer"] and "kernel_initializer='he_normal'" in found[0].excerpt
    good = "El bias debe arrancar en zeros (el valor por defecto): Dense(..., bias_initializer='zeros')."
    assert lint.contradicting_initializer(page(check_article("hw_biases_zero", "zeros", good))) == []
    # in "what to fix first" too, found by the item's link to its check
    assert kinds(lint.contradicting_initializer(page(fix_first(("hw_biases_zero", bad))))) == ["contradicting_initializer"]


def test_a_fix_that_names_an_initializer_its_check_does_not_expect():
    fix = "Solución: kernel_initializer='he_normal' en cada Dense."
    found = lint.contradicting_initializer(page(check_article("hw_declared_initializers", "glorot_uniform, he_uniform", fix)))
    assert kinds(found) == ["contradicting_initializer"]
    assert lint.contradicting_initializer(page(check_article("hw_declared_initializers", "he_normal, he_uniform", fix))) == []
    # result.json's expected wins over the page's words
    result = {"checks": [{"id": "hw_declared_initializers", "expected": {"he_uniform": "he_uniform"}}]}
    html = page(check_article("hw_declared_initializers", "he_normal", fix))
    assert kinds(lint.contradicting_initializer(html, result)) == ["contradicting_initializer"]


# --- truncated -------------------------------------------------------------------------------------

def test_truncated_words_and_sentences():
    assert kinds(lint.truncated(page("<li>Reconstruya el modelo y vuelv…</li>"))) == ["truncated"]
    assert kinds(lint.truncated(page("<li>Reconstruya el modelo y …</li>"))) == ["truncated"]
    assert kinds(lint.truncated(page("<li>build_model no devolvió un modelo…</li>"))) == ["truncated"]
    assert lint.truncated(page("<li>build_model no devolvió un modelo válido.</li>")) == []
    assert kinds(lint.truncated(page("<li><code>build_model</code> could not be exported:</li>", "en"))) == ["truncated"]
    assert lint.truncated(page("<li><code>build_model</code> could not be exported: it raised RuntimeError.</li>", "en")) == []
    assert lint.truncated(page("<p>ex1_limit debe ser un número (float), es None. Defínalo así: <code>ex1_limit = 0.08</code></p>")) == []
    # a whole word before "…" is an etc., and "…" between numbers a range
    assert lint.truncated(page("<p>(RandomUniform, TruncatedNormal, constante…)</p>")) == []
    assert lint.truncated(page("<p>IC 95 % −0.75 … +0.63</p>")) == []
    assert lint.truncated(page("<dd><code>x = vuelv…</code></dd>")) == []  # code is the student's business


def test_a_title_that_runs_into_the_next_sentence():
    run_on = "<dd>Límite de Glorot uniform mal calculado El límite de Glorot uniform es ±√(6/(fan_in+fan_out)).</dd>"
    found = lint.truncated(page(run_on))
    assert kinds(found) == ["truncated"] and "calculado El" in found[0].excerpt
    assert lint.truncated(page(run_on.replace("calculado El", "calculado. El"))) == []
    for name in ("con He", "de Glorot", "usa Keras", "con ReLU", "de Fashion-MNIST", "la Conv2D"):
        assert lint.truncated(page(f"<p>Un modelo {name} arranca bien.</p>")) == [], name
    assert kinds(lint.truncated(page("<p>Glorot uniform limit computed wrongly The limit is</p>", "en"))) == ["truncated"]
    symptom_fix = "<dd>build_model ignora su argumento: los tres son un mismo modelo Pase el argumento a cada capa.</dd>"
    assert kinds(lint.truncated(page(symptom_fix))) == ["truncated"]
    assert lint.truncated(page(symptom_fix.replace("modelo Pase", "modelo. Pase"))) == []


# --- language --------------------------------------------------------------------------------------

def test_english_words_in_a_spanish_page():
    found = lint.language(page("<p>Cada batch usa el mismo seed; ver el warning de la cache.</p>"), "es")
    assert sorted(f.excerpt.split(":")[0] for f in found) == ["batch", "cache", "seed", "warning"]
    clean = ("<p>Cada lote usa la misma semilla: <code>model.fit(x, batch_size=32, seed=1)</code>, "
             "<code>val_accuracy</code>, kernel_initializer, 'fit'.</p><pre>seed = 1  # batch</pre>")
    assert lint.language(page(clean), "es") == []


def test_spanish_words_in_an_english_page_but_not_the_student_s():
    assert kinds(lint.language(page("<p>The model has 5 capas.</p>", "en"), "en")) == ["language"]
    assert lint.language(page("<p>The model has 5 layers.</p>", "en"), "en") == []
    own = page("<header><strong>José Núñez</strong></header><p>Cell 3: ValueError — falta la capa</p>", "en")
    assert set(kinds(lint.language(own, "en"))) == {"language"}
    student = {"display_name": "José Núñez", "execution": {"cells": [{"ename": "ValueError", "evalue": "falta la capa"}]}}
    assert lint.language(own, "en", lint.student_strings(student)) == []
    notebook = page('<section class="g-cell"><div class="g-body"><pre>las capas</pre><p>Mi modelo está listo</p></div></section>', "en")
    assert lint.language(notebook, "en") == []


# --- machinery -------------------------------------------------------------------------------------

def test_machinery_outside_the_folded_how_graded_section():
    said = "<p>Su código corrió en el sandbox con bubblewrap (uid 65534); resultado tomado de la caché.</p>"
    found = lint.machinery(page(said))
    assert {f.excerpt.split(":")[0].lower() for f in found} == {"sandbox", "bubblewrap", "uid 65534", "caché"}
    folded = f'<details id="{lint.HOW_GRADED}"><summary>Cómo se corrigió</summary>{said}</details>'
    assert lint.machinery(page(folded)) == []
    assert kinds(lint.machinery(page(f"<details><summary>Evidencia</summary>{said}</details>"))) == ["machinery"] * 4
    assert lint.machinery(page("<p>La red aprende más rápido con He.</p>")) == []


# --- units -----------------------------------------------------------------------------------------

def test_accuracy_as_percent_and_as_fraction_on_one_page():
    mixed = numbers([("val_accuracy final, he_normal (%)", "86.90", "87.10"), ("val_accuracy final, he_normal_tanh", "0.8690", "0.8710")])
    found = lint.units_mixed(page(f"<section>{mixed}</section>"))
    assert kinds(found) == ["units"] and "0.8690" in found[0].excerpt
    assert lint.units_mixed(page(f"<section>{numbers(ACC)}<p>Su val_accuracy final fue 86.90 %.</p></section>")) == []
    assert kinds(lint.units_mixed(page(f"<section>{numbers(ACC)}<p>Su val_accuracy final fue 0.869.</p></section>"))) == ["units"]
    figure = '<figure><img src="data:image/png;base64,AA" alt="val_accuracy por época (fracción de 0 a 1)"></figure>'
    assert kinds(lint.units_mixed(page(f"<section>{numbers(ACC)}{figure}</section>"))) == ["units"]
    assert lint.units_mixed(page(figure)) == []  # a fraction alone is consistent


# --- figures ---------------------------------------------------------------------------------------

def test_unlabelled_axes_lists_drawn_axes_without_labels():
    fig, (a, b, c) = plt.subplots(1, 3)
    a.set_xlabel("época")
    a.set_ylabel("val_loss")
    b.set_xlabel("época")
    c.axis("off")
    assert lint.unlabelled_axes(fig) == ["axes 1 (untitled): no ylabel"]
    b.set_ylabel("pérdida")
    assert lint.unlabelled_axes(fig) == []
    plt.close(fig)


@pytest.mark.parametrize("width_in, size_pt, viewport, small", [(6, 12, 1280, False), (6, 8, 1280, True),
                                                                 (10, 12, 390, True), (3, 9, 390, False)])
def test_small_text_scales_the_font_to_the_width_it_is_shown_at(width_in, size_pt, viewport, small):
    """12 pt on a 6-inch figure is 15 px at 1280 (shown at its natural 540 px); on a 10-inch one
    shrunk to 378 px at 390 it is about 6 px; 9 pt on a 3-inch one is shown whole: 11.25 px."""
    fig, ax = plt.subplots(figsize=(width_in, 2))
    ax.set_xlabel("x", fontsize=size_pt)
    ax.set_ylabel("y", fontsize=size_pt)
    ax.tick_params(labelsize=size_pt)
    ax.set_xticks([])
    ax.set_yticks([])
    assert bool(lint.small_text(fig, viewport)) == small
    plt.close(fig)


# --- the report's own figures ----------------------------------------------------------------------



def _figure_calls() -> dict:
    """Each plotting function of grader/report/plots.py with small real inputs (as
    tests/report/test_plots.py calls them), by the figure's name in the report."""
    import numpy as np

    from grader.report import plots
    from grader.report.student import ui_texts
    from grader.rubric import load

    rubric = load()
    labels = ui_texts(rubric, "es")["label"]
    history = {"val_accuracy": [0.7, 0.8, 0.85], "val_loss": [0.9, 0.6, 0.5]}
    layer = {"var": 0.1, "hist": [1, 3, 5, 3, 1], "edges": [0, 1, 2, 3, 4, 5]}
    hw = rubric.homework
    rng = np.random.default_rng(0)

    class Probe:  # what initial_histograms reads of a ModelDesc: its kernels
        kernels = [rng.uniform(-0.1, 0.1, (784, 300)), rng.uniform(-0.1, 0.1, (300, 10))]

    seeds = {"he_normal": {"diffs": [0.4, 3.2, -0.3], "mean": 1.1, "ci95": [-2.0, 4.2]}}
    return {
        "curves": lambda: plots.curves({"he_normal": history}, {i: history for i in hw.initializers}, labels, hw.initializers),
        "ex2_fig": lambda: plots.exercise_curves({"he_normal": history}, {"he_normal": history, "random_normal": history},
                                                 "val_loss", labels),
        "ex3_fig": lambda: plots.activation_rows({"He + ReLU": [layer] * 5, "Glorot + ReLU": [layer] * 5}, labels),
        "init_hist": lambda: plots.initial_histograms({i: Probe() for i in hw.initializers}, labels, hw.initializers),
        "ex1_hist": lambda: plots.ex1_histogram(rng.uniform(-0.08, 0.08, (784, 128)), 0.0811, 0.0875, labels),
        "norms": lambda: plots.norms({"he_normal": [24.0, 20.0]}, {"he_normal": [25.0, 21.0]},
                                     {i: {"before": [24.0, 20.0], "after": [25.0, 21.0]} for i in hw.he_initializers},
                                     labels, hw.he_initializers, reference={i: [24.5, 20.0] for i in hw.he_initializers}),
        "seeds": lambda: plots.seed_dots(seeds, hw.criterion_pp, labels, hw.baseline),
    }


FIGURES = ("curves", "ex1_hist", "init_hist", "norms", "ex2_fig", "ex3_fig", "ex4_fig", "seeds")


def test_every_figure_of_the_report_is_drawn_here():
    """ex4_fig is exercise_curves again (ex2_fig's function); every other figure the report
    draws (student.FIGURE_EXERCISE) has its own call below, so a new figure cannot skip the lint."""
    from grader.report.student import FIGURE_EXERCISE

    assert set(FIGURE_EXERCISE) == set(FIGURES) and set(_figure_calls()) == set(FIGURES) - {"ex4_fig"}


@pytest.mark.parametrize("name", sorted(set(FIGURES) - {"ex4_fig"}))
def test_each_figure_labels_its_axes_and_its_text_is_readable_at_1280_and_390(name, monkeypatch):
    """Axis labels on every drawn axes, and every text ≥ 11 px where the report shows the
    figure (lint.small_text: the figure's natural width, or the content width at 1280 and 390 px)."""
    from grader.report import plots

    figures = []
    monkeypatch.setattr(plots, "png_data_uri", lambda fig: figures.append(fig) or "data:image/png;base64,")
    assert _figure_calls()[name]() is not None and figures  # one image, or one per panel (they stack on a phone)
    found = []
    for fig in figures:
        try:
            found += lint.unlabelled_axes(fig) + [f"{w} px: {t}" for w in lint.CONTENT_PX for t in lint.small_text(fig, w)]
        finally:
            plt.close(fig)
    assert found == [], "\n".join(found)
