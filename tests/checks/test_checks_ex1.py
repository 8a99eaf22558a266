"""Exercise 1's checks (grader/checks/ex1.py) on real Keras-drawn kernels and real ModelDescs."""

from __future__ import annotations

import json
import math

import pytest

from grader.checks import CHECKS, ex1
from grader.kinds import CheckStatus
from grader.messages import Localized, msg, render

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
    he = msg("check.ex1_limit.cause_fan_in", fan_in=reference_rubric.exercise1.fan_in)
    assert render(outcome.message, "en").endswith(render(msg("check.ex1_limit.looks_like", cause=he), "en"))


def test_std_instead_of_limit_is_named_in_each_language(reference_rubric):
    s = reference_rubric.exercise1.fan_in + reference_rubric.exercise1.fan_out
    outcome = CHECKS["ex1_limit"](ctx(reference_rubric, {"ex1_limit": math.sqrt(2 / s)}))
    std = msg("check.ex1_limit.cause_std")
    assert render(outcome.evidence["diagnosis"], "es") == render(std, "es")
    assert render(outcome.evidence["diagnosis"], "en") == render(std, "en") != render(std, "es")
    assert render(outcome.message, "es").endswith(render(msg("check.ex1_limit.looks_like", cause=std), "es"))


@pytest.mark.parametrize("check_id, formula, cause", [
    ("ex1_limit", lambda i, o: math.sqrt(6 / i), msg("check.ex1_limit.cause_fan_in", fan_in=784)),
    ("ex1_limit", lambda i, o: math.sqrt(6 / o), msg("check.ex1_limit.cause_fan_out", fan_out=128)),
    ("ex1_limit", lambda i, o: 6 / (i + o), msg("check.ex1_limit.cause_no_root")),
    ("ex1_var_theory", lambda i, o: 6 / (i + o), msg("check.ex1_var_theory.cause_limit_squared")),
])
def test_each_wrong_formula_written_by_hand_is_named(reference_rubric, check_id, formula, cause):
    """The wrong answers as a student types them, not through the grader's own initializers."""
    fan_in, fan_out = reference_rubric.exercise1.fan_in, reference_rubric.exercise1.fan_out
    outcome = CHECKS[check_id](ctx(reference_rubric, {check_id: formula(fan_in, fan_out)}))
    assert outcome.status == "fail" and render(outcome.evidence["diagnosis"], "en") == render(cause, "en")


def test_var_theory_diagnoses_he(reference_rubric):
    outcome = CHECKS["ex1_var_theory"](ctx(reference_rubric, {"ex1_var_theory": 2 / reference_rubric.exercise1.fan_in}))
    said = msg("check.ex1_var_theory.fail", value=2 / 784, expected=2 / 912,
               detail=msg("check.ex1_var_theory.looks_like", cause=msg("check.ex1_var_theory.cause_he")))
    assert render(outcome.message, "es") == render(said, "es")
    assert render(outcome.message, "en") == render(said, "en")


def test_conv_fan_in_mistake(reference_rubric):
    conv = reference_rubric.exercise1.conv
    dense_like = math.sqrt(6 / (conv.in_channels + conv.filters))
    outcome = CHECKS["ex1_conv_limit"](ctx(reference_rubric, {"ex1_conv_limit": dense_like}))
    assert outcome.status == "fail" and outcome.mistakes == ("conv_fan_in",)
    said = msg("check.ex1_conv_limit.fail", value=math.sqrt(6 / 33), kh=3, kw=3, channels=1, fan_in=9, fan_out=288,
               expected=math.sqrt(6 / 297))
    assert render(outcome.message, "es") == render(said, "es")
    right = CHECKS["ex1_conv_limit"](ctx(reference_rubric, {"ex1_conv_limit": math.sqrt(6 / 297)}))
    said = msg("check.ex1_conv_limit.pass", fan_in=9, fan_out=288, fan_sum=297, expected=math.sqrt(6 / 297))
    assert right.status == "pass" and render(right.message, "es") == render(said, "es")


def test_missing_name_fails_with_the_contract_example_in_each_language(reference_rubric):
    outcome = CHECKS["ex1_var_theory"](ctx(reference_rubric))
    assert outcome.status == "fail" and outcome.evidence == {"missing": "ex1_var_theory"}
    examples = {name: Localized(spec["example"]) for name, spec in reference_rubric.contract["names"].items()}
    said = msg("check.common.missing", name="ex1_var_theory", why=msg("check.common.not_defined"), example=examples["ex1_var_theory"])
    assert render(outcome.message, "es") == render(said, "es")
    optional = CHECKS["ex1_conv_limit"](ctx(reference_rubric))  # optional: skipped, it costs nothing
    assert optional.status == "skipped" and optional.fraction == 0.0 and optional.evidence == {"skipped": "ex1_conv_limit"}
    said = msg("check.common.skipped", name="ex1_conv_limit", shows=msg("check.ex1_conv_limit.would_show", fan_in=9, fan_out=288),
               example=examples["ex1_conv_limit"])  # the contract's example, in the reader's language
    assert render(optional.message, "es") == render(said, "es")
    assert render(optional.message, "en") == render(said, "en") and "canal" not in render(optional.message, "en")


def test_a_problem_that_names_itself_is_not_prefixed_twice(reference_rubric):
    problem = Localized({"es": "ex1_limit debe ser un número (float), es texto", "en": "ex1_limit must be a number (float), it is text"})
    outcome = CHECKS["ex1_limit"](ctx(reference_rubric, problems={"ex1_limit": problem}))
    for lang in ("es", "en"):  # the problem, then the example: no "`ex1_limit` ex1_limit …"
        assert render(outcome.message, lang).startswith(render(msg("check.common.missing_named", why=problem, example="\0"), lang).split("\0")[0])
    plain = CHECKS["ex1_limit"](ctx(reference_rubric, problems={"ex1_limit": "ex1_limit vale nan"}))
    assert render(plain.message, "es").startswith(render(msg("check.common.missing_named", why="ex1_limit vale nan", example="\0"), "es").split("\0")[0])


def test_kernel_distribution_quotes_the_rubric_fans(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex1_kernel_distribution" and c.status == "pass")
    outcome = CHECKS["ex1_kernel_distribution"](case.context)
    assert render(outcome.message, "es") == render(msg("check.ex1_kernel_distribution.pass", fan_sum=912), "es")
    assert render(outcome.found, "es") == render(msg("check.ex1_kernel_distribution.found", ks_p=outcome.evidence["ks_p"]), "es")
    declared = next(c for c in cached_cases(reference_rubric) if c.check == "ex1_kernel_distribution" and c.name == "declared he")
    failed = CHECKS["ex1_kernel_distribution"](declared.context)
    said = msg("check.ex1_kernel_distribution.fail", best=failed.evidence["best_match"], declared="he_normal", units=128)
    assert render(failed.message, "en") == render(said, "en")


def test_bias_not_zeros_names_the_initializer(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex1_bias_zeros" and c.status == "fail")
    outcome = CHECKS["ex1_bias_zeros"](case.context)
    said = msg("check.ex1_bias_zeros.fail", init="random_uniform(-0.05, 0.05)")
    assert outcome.mistakes == ("bias_not_zeros",) and render(outcome.message, "es") == render(said, "es")


def test_variance_band_rejects_a_he_kernel(reference_rubric):
    case = next(c for c in cached_cases(reference_rubric) if c.check == "ex1_variance_band" and c.status == "fail")
    outcome = CHECKS["ex1_variance_band"](case.context)
    evidence = outcome.evidence
    said = msg("check.ex1_variance_band.fail", variance=evidence["variance"], low=evidence["band"][0], high=evidence["band"][1],
               n=evidence["n"], z=evidence["z"])  # the failing sentence, not the passing one with the same numbers
    assert render(outcome.message, "es") == render(said, "es") and evidence["z"] > 10
    assert render(outcome.message, "en") == render(said, "en")
