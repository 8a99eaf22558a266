"""`grade calibrate` and the batched training backend, on real TensorFlow and real data.

The slow tests train on the session's Fashion-MNIST subset (5,000 images validate, 1,000 train)
for one epoch: what they check (shapes, determinism, initial variances, the store) does not need
the protocol's 20 epochs. bench/calibrate.py validates the batched path's outcomes against Keras.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import numpy as np
import pytest

from grader.calibrate import load_calibration
from grader.report.criterion import criterion_paragraph
from grader.retrain.batched import batchable, permutations, plain_layers
from grader.retrain.batched_client import run_job
from grader.calibrate.measure import figures, summarize, threshold_95
from grader.calibrate.store import accuracy_table, protocol_json, save
from grader.calibrate.validate import compare_samples, curve_z, permutation_p, validate
from grader.initializers import EXCESS_KURTOSIS, InitSpec, shape_family, target_variance
from grader.kinds import RunKind
from grader.messages import msg, render
from grader.retrain.plan import extra_seed_kind, reference_model
from tests.spanish import spanish_words, untranslated

MACHINE = {"machine": "aula-7", "cpu": "Test CPU 3000", "cores": 8, "date": "2026-11-30 18:05 UTC", "tf": "2.21.0"}


def fake_calibration(rubric, diffs_u, diffs_n, checksum="c" * 64) -> dict:
    """A calibration as `grade calibrate` writes it, with chosen He − Glorot per seed (pp)."""
    per_seed = [{"seed": s, "val_accuracy_pct": {"glorot_uniform": 88.0, "he_uniform": 88.0 + du, "he_normal": 88.0 + dn}}
                for s, du, dn in zip(range(1, len(diffs_u) + 1), diffs_u, diffs_n)]
    hw = rubric.homework
    return {**figures(per_seed, hw.he_initializers, hw.baseline, hw.criterion_pp),
            "protocol": protocol_json(rubric, checksum), "measured_on": dict(MACHINE)}


# --- the figures --------------------------------------------------------------------------------

def test_threshold_95_is_the_largest_value_met_in_95_percent_of_seeds():
    diffs = [0.3, -0.2, 1.0, 0.7, 0.1, 0.4, 0.9, 0.5, 0.6, 0.8]
    assert threshold_95(diffs) == -0.2  # 10 seeds: all ten must meet it
    twenty = diffs + [d + 2 for d in diffs]
    assert threshold_95(twenty) == 0.1  # 19 of 20 meet the second smallest
    assert sum(d >= threshold_95(twenty) for d in twenty) >= 19
    assert sum(d >= 0.101 for d in twenty) < 19


def test_summarize_counts_holds_from_its_own_rows(reference_rubric):
    cal = fake_calibration(reference_rubric, [0.6, 0.2, -0.4, 0.5, 1.2], [0.1, 0.1, 0.1, 0.1, 0.1])
    u, n = cal["he_uniform"], cal["he_normal"]
    assert u["holds"] == sum(row["diff_pp"] >= 0.5 for row in u["per_seed"]) == 3  # 0.5 itself holds
    assert n["holds"] == 0 and n["threshold_95"] == pytest.approx(0.1)
    assert u["ci95"][0] < u["mean_pp"] < u["ci95"][1] and u["mean_pp"] == pytest.approx(0.42)
    one = summarize([{"seed": 1, "val_accuracy_pct": {"he_uniform": 90.0, "glorot_uniform": 89.0}}],
                    "he_uniform", "glorot_uniform", 0.5)
    assert one["ci95"] == [None, None] and one["holds"] == 1 and one["threshold_95"] == 1.0  # no CI from one seed


# --- the decision: what the teacher does with the criterion ------------------------------------

def _with_points(rubric, points: float):
    return replace(rubric, checks=tuple(replace(spec, points=points) if spec.id == "hw_he_criterion" else spec
                                        for spec in rubric.checks))


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_page_says_what_to_do_with_the_criterion(reference_rubric, lang):
    from grader.calibrate.page import render_page

    # the shipped measurement's shape: both thresholds negative (bench/results/calibration-2026-12-01)
    cal = fake_calibration(reference_rubric, [-0.74, 0.2, 0.1, -0.3, 0.4], [-0.38, 0.1, 0.56, 0.0, 0.2])
    assert cal["he_uniform"]["threshold_95"] < 0 and cal["he_normal"]["threshold_95"] < 0
    rubric = _with_points(reference_rubric, 2.0)  # a teacher who scored it
    page = page_text(render_page(cal, rubric, lang))
    facts = {"criterion": 0.5, "baseline": "glorot_uniform"}
    assert render(msg("calibrate.page.verdict_zero", points=2.0), lang) in page
    for init, threshold in (("he_uniform", "−0.74"), ("he_normal", "−0.38")):
        assert render(msg("calibrate.page.decide_negative", init=init, threshold=threshold, **facts), lang) in page
    assert render(msg("calibrate.page.rule", criterion=0.5, inits="he_uniform, he_normal"), lang) in page
    assert render(msg("calibrate.page.setting", rubric=str(rubric.source), criterion=0.5), lang) in page
    assert "hw_he_criterion" in page and "homework.criterion_pp" in page and "threshold_95 ≥ criterion_pp" in page
    if lang == "en":
        assert spanish_words(re.sub(r"data:image/png;base64,[^\"]+", "", page)) == []


def test_the_decision_follows_threshold_95_against_the_criterion(reference_rubric):
    from types import SimpleNamespace

    from grader.calibrate.page import decision, summary_lines

    said = lambda cal, rubric=reference_rubric: [line for _, line in decision(cal, rubric, "en")]  # noqa: E731
    # one variant between 0 and the criterion, one above: not every variant clears it, so 0 points
    mixed = fake_calibration(reference_rubric, [0.2, 0.3, 0.6, 0.9, 0.25], [0.6, 0.7, 0.55, 0.9, 0.8])
    lines = said(mixed)
    assert lines[0] == render(msg("calibrate.page.verdict_zero", points=0.0), "en")
    assert render(msg("calibrate.page.decide_below", init="he_uniform", threshold="+0.20", criterion=0.5,
                      baseline="glorot_uniform"), "en") in lines
    assert render(msg("calibrate.page.decide_score", init="he_normal", threshold="+0.55", criterion=0.5,
                      baseline="glorot_uniform"), "en") in lines
    # both at or above it (0.5 itself is enough): it may be scored
    both = fake_calibration(reference_rubric, [0.5, 0.7, 0.9], [0.6, 0.5, 1.1])
    assert said(both)[0] == render(msg("calibrate.page.verdict_score", points=0.0), "en")
    # a lower criterion in the rubric turns the same measurement around
    lower = replace(reference_rubric, homework=replace(reference_rubric.homework, criterion_pp=0.2))
    assert said(mixed, lower)[0] == render(msg("calibrate.page.verdict_score", points=0.0), "en")
    # `grade calibrate` prints the verdict and the reasons too
    outcome = SimpleNamespace(calibration=mixed, stored=None, json_path="c.json", html_path="c.html")
    printed = summary_lines(outcome, reference_rubric, "es")
    assert render(msg("calibrate.page.verdict_zero", points=0.0), "es") in printed


def page_text(html: str) -> str:
    """The page's text as a reader sees it (entities decoded)."""
    import html as html_module

    return html_module.unescape(html)


# --- the store and the report's paragraph -------------------------------------------------------

def test_the_paragraph_quotes_the_stored_calibration(reference_rubric, tmp_path):
    cal = fake_calibration(reference_rubric, [0.6, 0.2, -0.4, 0.5, 1.2, 0.0, 0.3], [0.1] * 7)
    save(tmp_path, cal)
    found = load_calibration(tmp_path, reference_rubric, "c" * 64)
    assert found is not None and found["measured_on"]["machine"] == "aula-7"
    es = criterion_paragraph(reference_rubric, "es", found)
    holds = msg("ui.and", head=msg("ui.holds_one", holds=3, seeds=7, init="he_uniform"),
                last=msg("ui.holds_one", holds=0, seeds=7, init="he_normal"))
    fail = msg("ui.and", head=msg("criterion.fail_one", share="57", init="he_uniform"),  # 4 of 7 and 7 of 7 correct runs fail it
               last=msg("criterion.fail_one", share="100", init="he_normal"))
    # the machine, the date, the seeds, what held and what scoring would fail; the differences' figures in between
    measured = msg("criterion.measured", **MACHINE, seeds=7, differences="\0", holds=holds, fail=fail)
    before, after = render(measured, "es").split("\0")
    assert es.startswith(before) and after in es
    assert "homework.measured" not in es and "5 semillas" not in es
    en = criterion_paragraph(reference_rubric, "en", found)
    before, after = render(measured, "en").split("\0")
    assert en.startswith(before) and after in en and spanish_words(en) == [] and untranslated(en) == []
    # the report's own page quotes it: ui_texts is what the template reads
    from grader.report.student import ui_texts
    assert ui_texts(reference_rubric, "es", found)["noise"] == es


def test_another_protocol_or_data_finds_no_calibration_and_the_report_says_so(reference_rubric, tmp_path):
    save(tmp_path, fake_calibration(reference_rubric, [0.6, 0.2, -0.4], [0.1, 0.2, 0.3]))
    assert load_calibration(tmp_path, reference_rubric.with_protocol(epochs=7), "c" * 64) is None
    assert load_calibration(tmp_path, reference_rubric.with_protocol(learning_rate=0.1), "c" * 64) is None
    assert load_calibration(tmp_path, reference_rubric, "d" * 64) is None
    assert load_calibration(None, reference_rubric, "c" * 64) is None
    # a new threshold alone keeps the measurement, its figures recomputed
    stricter = replace(reference_rubric, homework=replace(reference_rubric.homework, criterion_pp=0.1))
    assert load_calibration(tmp_path, stricter, "c" * 64)["he_uniform"]["holds"] == 2
    es = criterion_paragraph(reference_rubric, "es", None)
    # the shipped table's figures, as the class has always quoted them
    differences = msg("ui.and", head=msg("ui.noise_first", init="he_uniform", baseline="glorot_uniform", mean="−0.06",
                                         low="−0.75", high="+0.63"),
                      last=msg("ui.noise_next", init="he_normal", baseline="glorot_uniform", mean="+0.58", low="−1.31",
                               high="+2.46"))
    shipped = msg("criterion.shipped", file=reference_rubric.source.name, seeds=5, differences=differences,
                  holds=msg("ui.holds_each", holds=1, seeds=5))
    assert reference_rubric.source.name == "rubric.json" and es.startswith(render(shipped, "es"))
    assert "Medido en esta máquina" not in es and "aula-7" not in es
    en = criterion_paragraph(reference_rubric, "en", None)
    assert en.startswith(render(shipped, "en")) and spanish_words(en) == []
    empty = replace(reference_rubric, homework=replace(reference_rubric.homework, measured=replace(
        reference_rubric.homework.measured, val_accuracy_pct={})))
    assert criterion_paragraph(empty, "es", None) == render(msg("criterion.unmeasured"), "es")


def test_a_corrupt_or_foreign_store_file_is_ignored(reference_rubric, tmp_path):
    path = save(tmp_path, fake_calibration(reference_rubric, [0.6, 0.2], [0.1, 0.2]))
    path.write_text("{not json")
    assert load_calibration(tmp_path, reference_rubric, "c" * 64) is None
    path.write_text(json.dumps({"protocol": {}, "measured_on": {}}))
    assert load_calibration(tmp_path, reference_rubric, "c" * 64) is None


# --- the verb ------------------------------------------------------------------------------------

def _cli(argv, capsys):
    from grader.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_calibrate_help_and_usage_in_either_language(capsys, monkeypatch):
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    code, out, _ = _cli(["calibrate", "--help", "--lang", "en"], capsys)
    flat = lambda out: " ".join(out.split())  # argparse wraps at the terminal's width
    seeds = msg("cli.calibrate_seeds", default=10)
    assert code == 0 and "grade calibrate" in out and render(seeds, "en") in flat(out) and spanish_words(out) == []
    code, out, _ = _cli(["calibrate", "--help"], capsys)
    assert code == 0 and render(seeds, "es") in flat(out)
    code, out, err = _cli(["calibrate", "--seeds", "1", "--lang", "en"], capsys)
    assert code == 2 and render(msg("cli.calibrate_seeds_range", max=50), "en") in err and out == ""


# --- which runs go batched ----------------------------------------------------------------------

def test_only_extra_seeds_of_plain_mlps_train_batched_and_locally(reference_rubric):
    desc = reference_model(reference_rubric, "he_normal")
    seed = reference_rubric.protocol.seed
    assert extra_seed_kind(desc, seed, reference_rubric, None) == RunKind.TRAIN  # the memo's run stays on Keras
    assert extra_seed_kind(desc, 1, reference_rubric, None) == RunKind.BATCHED
    assert extra_seed_kind(desc, 1, reference_rubric, trainer=object()) == RunKind.TRAIN  # a cluster run
    dropout = {**desc, "layers": [desc["layers"][0], {"kind": "dropout", "rate": 0.2}, *desc["layers"][1:]]}
    assert plain_layers(dropout) is None and extra_seed_kind(dropout, 1, reference_rubric, None) == RunKind.TRAIN
    assert not batchable(desc, reference_rubric.with_protocol(optimizer="adam").protocol)
    p = permutations(3, 100, 2)
    assert sorted(p[0]) == list(range(100)) and not np.array_equal(p[0], p[1])
    assert np.array_equal(p, permutations(3, 100, 2)) and not np.array_equal(p, permutations(4, 100, 2))


def test_the_validation_statistics_tell_same_from_different():
    rng = np.random.default_rng(0)
    same = compare_samples(rng.normal(0.88, 0.01, 10), rng.normal(0.88, 0.01, 10))
    assert same["welch_p"] > 0.01 and same["diff_ci95"][0] < 0 < same["diff_ci95"][1]
    shifted = compare_samples(rng.normal(0.88, 0.005, 10), rng.normal(0.86, 0.005, 10))
    assert shifted["welch_p"] < 1e-4 and shifted["permutation_p"] < 1e-3
    assert permutation_p([1, 2, 3], [4, 5, 6]) == pytest.approx(0.1)  # exact: 2 of C(6, 3) = 20 splits
    curves = rng.normal(0.85, 0.01, (8, 5))
    assert max(abs(z) for z in curve_z(curves, curves + 0.05)) > 5
    keras = {init: {str(s): list(rng.normal(0.85, 0.01, 3)) for s in range(6)} for init in ("g", "h")}
    batched = {init: {str(s): list(rng.normal(0.85, 0.01, 3)) for s in range(6)} for init in ("g", "h")}
    report = validate(keras, batched, ["h"], "g")
    assert set(report["final"]) == {"g", "h"} and set(report["difference"]) == {"h"} and report["z_level"] > 2.5


# --- the batched path, trained ------------------------------------------------------------------

@pytest.mark.slow
def test_batched_runs_are_seeded_deterministic_and_start_from_keras_weights(reference_rubric, subset):
    import keras

    from grader.modeldesc import to_keras

    protocol = reference_rubric.protocol
    models = [{"label": init, "seed": seed, "model": reference_model(reference_rubric, init)}
              for seed in (42, 7) for init in reference_rubric.homework.initializers]
    first = run_job(models, protocol, subset.folder, epochs=1)
    again = run_job(models, protocol, subset.folder, epochs=1)
    assert [r["history"] for r in first["runs"]] == [r["history"] for r in again["runs"]]  # same seed, same numbers
    assert [r["kernel_norms_after"] for r in first["runs"]] == [r["kernel_norms_after"] for r in again["runs"]]
    by = {(r["label"], r["seed"]): r for r in first["runs"]}
    for init in reference_rubric.homework.initializers:
        assert by[(init, 42)]["history"]["val_accuracy"] != by[(init, 7)]["history"]["val_accuracy"]
        assert by[(init, 42)]["kernel_norms_before"] != by[(init, 7)]["kernel_norms_before"]
    for (init, seed), run in by.items():
        assert len(run["history"]["val_accuracy"]) == 1 and 0.1 < run["history"]["val_accuracy"][0] < 1
        assert run["kernel_norms_after"] != run["kernel_norms_before"]  # it trained
        spec = InitSpec(init)
        for (fan_in, fan_out), variance in zip(reference_rubric.homework.kernel_shapes, run["initial_kernels_var"]):
            n, kappa = fan_in * fan_out, EXCESS_KURTOSIS[shape_family(spec)]
            spread = math.sqrt((2 + kappa) / n)  # relative sd of a sample variance of n weights
            assert abs(variance / target_variance(spec, (fan_in, fan_out)) - 1) < 5 * spread, (init, fan_in)
    # the initial weights are Keras' own for that seed: the protocol seed's model as the worker builds it
    keras.utils.set_random_seed(42)
    built = to_keras(reference_model(reference_rubric, "he_normal"))
    norms = [float(np.linalg.norm(layer.kernel.numpy())) for layer in built.layers if isinstance(layer, keras.layers.Dense)]
    assert by[("he_normal", 42)]["kernel_norms_before"] == pytest.approx(norms, rel=1e-6)
    # a model's run depends on its seed, not on the others in the batch
    alone = run_job([models[0]], protocol, subset.folder, epochs=1)["runs"][0]
    assert alone["history"]["val_accuracy"] == pytest.approx(first["runs"][0]["history"]["val_accuracy"], abs=1e-3)


@pytest.mark.slow
def test_grade_calibrate_writes_calibration_json_the_page_and_the_store(reference_rubric, subset, tmp_path):
    from grader.cli import main

    out, cache = tmp_path / "cal", tmp_path / "cache"
    code = main(["calibrate", "--seeds", "3", "--epochs", "1", "--data-dir", str(subset.folder), "--out", str(out),
                 "--cache", str(cache), "--lang", "en"])
    assert code == 0
    cal = json.loads((out / "calibration.json").read_text())
    assert set(cal) == {"he_uniform", "he_normal", "protocol", "measured_on"}
    for init in ("he_uniform", "he_normal"):
        figures_ = cal[init]
        assert set(figures_) == {"seeds", "holds", "mean_pp", "ci95", "per_seed", "threshold_95"}
        assert figures_["seeds"] == 3 == len(figures_["per_seed"]) and len(figures_["ci95"]) == 2
        assert [row["seed"] for row in figures_["per_seed"]] == [42, 1, 2]
        diffs = [row["diff_pp"] for row in figures_["per_seed"]]
        assert figures_["holds"] == sum(d >= 0.5 for d in diffs) == sum(row["holds"] for row in figures_["per_seed"])
        assert figures_["threshold_95"] == pytest.approx(min(diffs))  # 3 seeds: all three
        assert figures_["ci95"][0] <= figures_["mean_pp"] <= figures_["ci95"][1]
        for row in figures_["per_seed"]:
            assert row["diff_pp"] == pytest.approx(row[init] - row["glorot_uniform"], abs=1e-3)
    assert cal["protocol"]["epochs"] == 1 and cal["protocol"]["data_subset"] is True
    assert {"machine", "cpu", "cores", "date", "tf"} <= set(cal["measured_on"]) and cal["measured_on"]["trained"] == "batched"
    page = (out / "calibration.html").read_text()
    assert "default-src 'none'" in page and "<script" not in page and "data:image/png;base64," in page
    would_fail = render(msg("calibrate.page.advice", init="\0", share="\0", holds=0, seeds=3), "en").split("\0")[1]
    assert would_fail in page and spanish_words(re.sub(r"data:image/png;base64,[^\"]+", "", page)) == []
    rubric = reference_rubric.with_protocol(epochs=1)
    stored = load_calibration(cache, rubric, subset.checksum)
    assert stored is not None and stored["he_normal"]["per_seed"] == cal["he_normal"]["per_seed"]
    assert accuracy_table(cal, rubric)[0]["seed"] == 42
    text = criterion_paragraph(rubric, "es", stored)
    where = {key: cal["measured_on"][key] for key in ("machine", "cpu", "cores", "date", "tf")}
    measured = render(msg("criterion.measured", **where, seeds=3, differences="\0", holds="", fail=""), "es").split("\0")[0]
    assert text.startswith(measured)  # the date, the machine and its 3 seeds
    assert load_calibration(cache, reference_rubric, subset.checksum) is None  # 20 epochs: never measured


@pytest.mark.slow
def test_extra_seeds_train_batched_through_the_retraining_cache(reference_rubric, subset, tmp_path):
    """`grade --seeds K`: the extra seeds' RunSpecs (kind BATCHED) train in one batch, are cached
    under keys of their own (never a Keras run's), and a second grading reads them back."""
    from grader.retrain.batched_client import train_batched
    from grader.retrain import Cache, RunSpec, run_all

    rubric = reference_rubric.with_protocol(epochs=1)
    specs = [RunSpec(init, reference_model(rubric, init), seed, kind=RunKind.BATCHED)
             for seed in (1, 2) for init in rubric.homework.initializers]
    keras_key = RunSpec("he_normal", specs[2].model, 1).key(rubric.protocol, subset)
    assert specs[2].key(rubric.protocol, subset) != keras_key
    cache = Cache(tmp_path)
    runs = run_all(specs, rubric.protocol, subset, cache, trainer=train_batched)
    assert [(r.label, r.seed) for r in runs] == [(s.label, s.seed) for s in specs] and not any(r.cached for r in runs)
    assert all(r.extra["trained"] == "batched" and r.extra["models_in_batch"] == 6 for r in runs)
    assert len({r.final_val_accuracy for r in runs}) > 1
    again = run_all(specs, rubric.protocol, subset, cache, cache_only=True)
    assert all(r.cached for r in again) and [r.history for r in again] == [r.history for r in runs]
    assert cache.get(keras_key) is None
