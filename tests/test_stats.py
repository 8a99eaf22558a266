"""False alarms and power of the statistical initializer checks, over a few hundred seeds,
at the homework shapes, with kernels drawn by Keras itself."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

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
    # alpha = 1e-3: the expected count is 0.15; more than 2 would happen with probability < 1e-3
    assert false_alarms <= 2, f"{false_alarms} false alarms in {SEEDS}"
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


def test_mean_ci_matches_design_table():
    mean, low, high = mean_ci([0.02, -0.22, -0.90, 0.58, 0.24])
    assert mean == pytest.approx(-0.056)
    assert low == pytest.approx(-0.75, abs=0.01) and high == pytest.approx(0.63, abs=0.01)
