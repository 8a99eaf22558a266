"""Exercise 1's checks (grader/checks/ex1.py) on real Keras-drawn kernels and real ModelDescs."""

from __future__ import annotations

import json
import math

import pytest

from grader.checks import CHECKS, ex1
from grader.kinds import CheckStatus
from grader.messages import Localized, render

from .checks_support import cached_cases, ctx
from ..golden import GOLDENS


@pytest.mark.parametrize("check_id", ex1.__all__)
def test_each_case_gets_its_status(check_id, reference_rubric):
    selected = [case for case in cached_cases(reference_rubric) if case.check == check_id]
    assert {case.status for case in selected} >= {"pass"} and len({case.status for case in selected}) >= 2
    for case in selected:
        outcome = CHECKS[check_id](case.context)
        assert outcome.status == case.status, (case.name, render(outcome.message, "en"))
        assert isinstance(outcome.status, CheckStatus)
        assert outcome.fraction == (1.0 if case.status == "pass" else 0.0), case.name


def test_he_limit_is_diagnosed_as_bob_was(reference_rubric):
    """Bob's golden: the same Spanish, byte for byte, and an English diagnosis."""
    golden = next(c for c in json.loads((GOLDENS / "bob.json").read_text())["checks"] if c["id"] == "ex1_limit")
    outcome = CHECKS["ex1_limit"](ctx(reference_rubric, {"ex1_limit": golden["evidence"]["found"]}))
    assert outcome.status == "fail" and outcome.mistakes == ("wrong_limit",)
    assert render(outcome.message, "es") == golden["message"]
    assert render(outcome.evidence["diagnosis"], "es") == golden["evidence"]["diagnosis"]
    assert (outcome.expected, outcome.found) == (golden["expected"], golden["found"])
    assert render(outcome.message, "en").endswith("It looks like you used √(6/fan_in) = √(6/784).")


def test_std_instead_of_limit_is_named_in_each_language(reference_rubric):
    s = reference_rubric.exercise1.fan_in + reference_rubric.exercise1.fan_out
    outcome = CHECKS["ex1_limit"](ctx(reference_rubric, {"ex1_limit": math.sqrt(2 / s)}))
    assert render(outcome.evidence["diagnosis"], "es") == "√(2/(fan_in+fan_out)) (la desviación estándar, no el límite)"
    assert render(outcome.evidence["diagnosis"], "en") == "√(2/(fan_in+fan_out)) (the standard deviation, not the limit)"
    assert render(outcome.message, "es").endswith(" Parece que usó √(2/(fan_in+fan_out)) (la desviación estándar, no el límite).")


@pytest.mark.parametrize("check_id, formula, cause", [
    ("ex1_limit", lambda i, o: math.sqrt(6 / i), "√(6/fan_in) = √(6/784)"),
    ("ex1_limit", lambda i, o: math.sqrt(6 / o), "√(6/fan_out) = √(6/128)"),
    ("ex1_limit", lambda i, o: 6 / (i + o), "6/(fan_in+fan_out) (the square root is missing)"),
    ("ex1_var_theory", lambda i, o: 6 / (i + o), "6/(fan_in+fan_out) (the limit squared)"),
])
def test_each_wrong_formula_written_by_hand_is_named(reference_rubric, check_id, formula, cause):
    """The wrong answers as a student types them, not through the grader's own initializers."""
    fan_in, fan_out = reference_rubric.exercise1.fan_in, reference_rubric.exercise1.fan_out
    outcome = CHECKS[check_id](ctx(reference_rubric, {check_id: formula(fan_in, fan_out)}))
    assert outcome.status == "fail" and render(outcome.evidence["diagnosis"], "en") == cause


def test_var_theory_diagnoses_he(reference_rubric):
    outcome = CHECKS["ex1_var_theory"](ctx(reference_rubric, {"ex1_var_theory": 2 / reference_rubric.exercise1.fan_in}))
    assert render(outcome.message, "es") == "ex1_var_theory = 0.002551; Glorot da 2/(fan_in+fan_out) = 0.002193. Parece 2/fan_in (He)."
    assert render(outcome.message, "en") == "ex1_var_theory = 0.002551; Glorot gives 2/(fan_in+fan_out) = 0.002193. It looks like 2/fan_in (He)."


def test_conv_fan_in_mistake(reference_rubric):
    conv = reference_rubric.exercise1.conv
    dense_like = math.sqrt(6 / (conv.in_channels + conv.filters))
    outcome = CHECKS["ex1_conv_limit"](ctx(reference_rubric, {"ex1_conv_limit": dense_like}))
    assert outcome.status == "fail" and outcome.mistakes == ("conv_fan_in",)
    assert render(outcome.message, "es") == "ex1_conv_limit = 0.4264; con fan_in = 3·3·1 = 9 y fan_out = 288 da 0.1421."
    right = CHECKS["ex1_conv_limit"](ctx(reference_rubric, {"ex1_conv_limit": math.sqrt(6 / 297)}))
    assert right.status == "pass" and render(right.message, "es") == "fan_in = 9, fan_out = 288: √(6/297) = 0.1421."


def test_missing_name_fails_with_the_contract_example_in_each_language(reference_rubric):
    outcome = CHECKS["ex1_var_theory"](ctx(reference_rubric))
    assert outcome.status == "fail" and outcome.evidence == {"missing": "ex1_var_theory"}
    assert render(outcome.message, "es") == "`ex1_var_theory` no está definido. Defínalo así:\nex1_var_theory = 2 / (fan_in + fan_out)"
    optional = CHECKS["ex1_conv_limit"](ctx(reference_rubric))  # optional: skipped, it costs nothing
    assert optional.status == "skipped" and optional.fraction == 0.0 and optional.evidence == {"skipped": "ex1_conv_limit"}
    assert "fan_in = 9, fan_out = 288" in render(optional.message, "es")
    assert "sobre imágenes de 1 canal" in render(optional.message, "es")
    assert "on 1-channel images" in render(optional.message, "en") and "canal" not in render(optional.message, "en")


def test_a_problem_that_names_itself_is_not_prefixed_twice(reference_rubric):
    problem = Localized({"es": "ex1_limit debe ser un número (float), es texto", "en": "ex1_limit must be a number (float), it is text"})
    outcome = CHECKS["ex1_limit"](ctx(reference_rubric, problems={"ex1_limit": problem}))
    assert render(outcome.message, "es").startswith("ex1_limit debe ser un número (float), es texto. Defínalo así:\n")
    assert render(outcome.message, "en").startswith("ex1_limit must be a number (float), it is text. Define it like this:\n")
    plain = CHECKS["ex1_limit"](ctx(reference_rubric, problems={"ex1_limit": "ex1_limit vale nan"}))
    assert render(plain.message, "es").startswith("ex1_limit vale nan. Defínalo así:")


def test_kernel_distribution_quotes_the_rubric_fans(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex1_kernel_distribution" and c.status == "pass")
    outcome = CHECKS["ex1_kernel_distribution"](case.context)
    assert render(outcome.message, "es") == "Los pesos siguen U(−√(6/912), +√(6/912)), como glorot_uniform."
    assert render(outcome.found, "es").startswith("glorot_uniform (KS p = ")
    declared = next(c for c in cached_cases(reference_rubric) if c.check == "ex1_kernel_distribution" and c.name == "declared he")
    text = render(CHECKS["ex1_kernel_distribution"](declared.context).message, "en")
    assert "declared initializer: he_normal" in text and "Dense(128)" in text


def test_bias_not_zeros_names_the_initializer(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex1_bias_zeros" and c.status == "fail")
    outcome = CHECKS["ex1_bias_zeros"](case.context)
    assert outcome.mistakes == ("bias_not_zeros",) and render(outcome.message, "es") == "El bias usa random_uniform(-0.05, 0.05)."


def test_variance_band_rejects_a_he_kernel(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex1_variance_band" and c.status == "fail")
    outcome = CHECKS["ex1_variance_band"](case.context)
    assert render(outcome.message, "es").endswith(": fuera de la banda.") and outcome.evidence["z"] > 10
    assert render(outcome.message, "en").endswith(": outside the band.")
