"""The statistics' building blocks: false alarms and power over 150 seeds at the homework shapes
(the 1,000-draw table of every verdict is tests/calibrate/test_false_alarms.py), variance spread, KS, CI."""

import numpy as np
import pytest

import keras  # noqa: E402  (a missing keras must fail, never skip)

from grader.initializers import EXCESS_KURTOSIS, InitSpec
from grader.stats import best_match, fit_kernels, mean_ci, variance_test

HW_SHAPES = [(784, 300), (300, 200), (200, 100), (100, 50), (50, 10)]
SEEDS = 150
CLASSES = {"glorot_uniform": "GlorotUniform", "he_uniform": "HeUniform", "he_normal": "HeNormal"}
WRONG = {"glorot_uniform": "he_uniform", "he_uniform": "he_normal", "he_normal": "glorot_uniform"}


def draw(name, seed):
    return [np.asarray(keras.initializers.get({"class_name": CLASSES[name], "config": {"seed": seed * 10 + i}})(shape))
            for i, shape in enumerate(HW_SHAPES)]


@pytest.mark.parametrize("name", list(CLASSES))
def test_false_alarms_and_power_at_homework_shapes(name):
    false_alarms, caught = 0, 0
    for seed in range(SEEDS):
        kernels = draw(name, seed)
        false_alarms += not fit_kernels(kernels, InitSpec(name)).ok
        caught += not fit_kernels(kernels, InitSpec(WRONG[name])).ok
    # alpha = 1e-4: the expected count is 0.015; tests/calibrate/test_false_alarms.py measures 1,000 draws
    assert false_alarms <= 1, f"{false_alarms} false alarms in {SEEDS}"
    assert caught >= 0.99 * SEEDS, f"only {caught} of {SEEDS} wrong initializers caught"


def test_best_match_names_the_generator():
    for name in CLASSES:
        assert best_match(draw(name, 999))[0] == name


def test_random_normal_small_is_rejected_for_everything():
    kernels = [np.random.default_rng(0).normal(0, 0.01, s).astype("float32") for s in HW_SHAPES]
    assert all(not fit_kernels(kernels, InitSpec(n)).ok for n in CLASSES)


def test_variance_test_spread_matches_theory():
    rng = np.random.default_rng(1)
    zs = [variance_test(rng.uniform(-1, 1, 5000), 1 / 3, EXCESS_KURTOSIS["uniform"]).z for _ in range(400)]
    assert abs(np.mean(zs)) < 0.2
    assert 0.85 < np.std(zs) < 1.15


def test_ks_statistic_and_critical_value_agree_with_scipy():
    from scipy import stats as sps

    from grader.stats import ks_critical, ks_statistic, ks_uniform
    u = np.random.default_rng(3).random(5000)
    assert ks_statistic(u) == pytest.approx(sps.kstest(u, "uniform").statistic)
    d, p = ks_uniform(u)
    assert p == pytest.approx(sps.kstest(u, "uniform").pvalue, rel=1e-6)
    critical = ks_critical(0.01, 5000)
    assert sps.kstwo.sf(critical, 5000) == pytest.approx(0.01, rel=1e-6)
    assert (d <= critical) == (p >= 0.01)


def test_fit_ignores_weight_order_and_uses_the_exact_ks_level():
    kernels = draw("he_uniform", 5)
    shuffled = [np.random.default_rng(0).permutation(k.ravel()).reshape(k.shape) for k in kernels]
    a, b = fit_kernels(kernels, InitSpec("he_uniform")), fit_kernels(shuffled, InitSpec("he_uniform"))
    assert a.pooled_ks_stat == pytest.approx(b.pooled_ks_stat) and a.ok == b.ok
    assert a.pooled_n == sum(k.size for k in kernels)


def test_mean_ci_matches_design_table():
    mean, low, high = mean_ci([0.02, -0.22, -0.90, 0.58, 0.24])
    assert mean == pytest.approx(-0.056)
    assert low == pytest.approx(-0.75, abs=0.01) and high == pytest.approx(0.63, abs=0.01)
