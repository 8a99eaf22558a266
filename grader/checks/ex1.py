"""Exercise 1: one Dense layer's default initialization, inspected and computed by hand."""

from __future__ import annotations

import math

import numpy as np

from ..initializers import EXCESS_KURTOSIS, InitSpec, compute_fans, glorot_limit, he_limit
from ..kinds import CheckStatus
from ..messages import msg
from ..modeldesc import ModelDesc
from ..stats import best_match, fit_kernels, variance_test
from .common import fmt, missing, skipped, undefined
from .registry import Context, Outcome, check

PASS, FAIL = CheckStatus.PASS, CheckStatus.FAIL


def _fans(ctx: Context) -> tuple[int, int]:
    return ctx.rubric.exercise1.fan_in, ctx.rubric.exercise1.fan_out


def _diagnose(value: float, candidates: list):
    """The first (label, value) whose value the student's number matches: what they computed instead."""
    for label, candidate in candidates:
        if math.isclose(value, candidate, rel_tol=1e-3):
            return label
    return None


@check("ex1_kernel_distribution")
def ex1_kernel_distribution(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "ex1_kernel")):
        return absent
    fan_in, fan_out = _fans(ctx)
    kernel = ctx.extracted.values["ex1_kernel"]
    alpha = ctx.rubric.tolerances.alpha
    fit = fit_kernels([kernel], InitSpec("glorot_uniform"), alpha)
    best, _ = best_match([kernel], alpha)
    evidence = {"ks_p": fit.pooled_ks_p, "variance": fit.layers[0].variance.observed,
                "expected_variance": fit.layers[0].variance.expected, "z": fit.layers[0].variance.z, "best_match": best}
    declared = None
    if (dense := _ex1_dense(ctx)) is not None:
        declared = dense.kernel_init.describe()
        evidence["declared"] = declared
    if fit.ok and declared in (None, "glorot_uniform"):
        return Outcome(PASS, 1.0, msg("check.ex1_kernel_distribution.pass", fan_sum=fan_in + fan_out), "glorot_uniform",
                       msg("check.ex1_kernel_distribution.found", ks_p=fit.pooled_ks_p), evidence)
    return Outcome(FAIL, 0.0, msg("check.ex1_kernel_distribution.fail", best=best, declared=declared or "?", units=fan_out),
                   "glorot_uniform", best, evidence)


def _ex1_dense(ctx: Context):
    """The Dense layer of exercise 1, from `ex1_model` or `ex1_layer` (both optional); None without either."""
    for name in ("ex1_model", "ex1_layer"):
        value = ctx.extracted.values.get(name)
        if isinstance(value, ModelDesc) and value.dense:
            return value.dense[0]
    return None


@check("ex1_bias_zeros")
def ex1_bias_zeros(ctx: Context) -> Outcome:
    dense = _ex1_dense(ctx)
    if dense is None:
        broken = [name for name in ("ex1_model", "ex1_layer") if not undefined(ctx, name)]
        if broken:  # defined, but not a usable model (or the run never got that far): that is graded
            return missing(ctx, broken[0])
        return skipped(ctx, "ex1_model", msg("check.ex1_bias_zeros.would_show"))
    zero = dense.bias is None or not np.any(dense.bias)
    if dense.bias_init.name == "zeros" and zero:
        return Outcome(PASS, 1.0, msg("check.ex1_bias_zeros.pass"), "zeros", "zeros")
    described = dense.bias_init.describe()
    return Outcome(FAIL, 0.0, msg("check.ex1_bias_zeros.fail", init=described), "zeros", described,
                   {"bias_initializer": described}, ("bias_not_zeros",))


@check("ex1_limit")
def ex1_limit(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "ex1_limit")):
        return absent
    fan_in, fan_out = _fans(ctx)
    expected = glorot_limit(fan_in, fan_out)
    value = ctx.extracted.values["ex1_limit"]
    evidence = {"expected": expected, "found": value}
    if math.isclose(value, expected, rel_tol=ctx.rubric.tolerances.ex1_relative):
        return Outcome(PASS, 1.0, msg("check.ex1_limit.pass", fan_sum=fan_in + fan_out, expected=expected),
                       fmt(expected), fmt(value), evidence)
    cause = _diagnose(value, [(msg("check.ex1_limit.cause_fan_in", fan_in=fan_in), he_limit(fan_in)),
                              (msg("check.ex1_limit.cause_fan_out", fan_out=fan_out), he_limit(fan_out)),
                              (msg("check.ex1_limit.cause_std"), expected / math.sqrt(3)),
                              (msg("check.ex1_limit.cause_no_root"), expected ** 2)])
    detail = msg("check.ex1_limit.looks_like", cause=cause) if cause else ""
    return Outcome(FAIL, 0.0, msg("check.ex1_limit.fail", value=value, fan_sum=fan_in + fan_out, expected=expected, detail=detail),
                   fmt(expected), fmt(value), {**evidence, "diagnosis": cause}, ("wrong_limit",))


@check("ex1_var_theory")
def ex1_var_theory(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "ex1_var_theory")):
        return absent
    fan_in, fan_out = _fans(ctx)
    expected = 2 / (fan_in + fan_out)
    value = ctx.extracted.values["ex1_var_theory"]
    evidence = {"expected": expected, "found": value}
    if math.isclose(value, expected, rel_tol=ctx.rubric.tolerances.ex1_relative):
        return Outcome(PASS, 1.0, msg("check.ex1_var_theory.pass", fan_sum=fan_in + fan_out, expected=expected),
                       fmt(expected), fmt(value), evidence)
    cause = _diagnose(value, [(msg("check.ex1_var_theory.cause_he"), 2 / fan_in),
                              (msg("check.ex1_var_theory.cause_lecun"), 1 / fan_in),
                              (msg("check.ex1_var_theory.cause_sum"), 1 / (fan_in + fan_out)),
                              (msg("check.ex1_var_theory.cause_limit_squared"), glorot_limit(fan_in, fan_out) ** 2)])
    detail = msg("check.ex1_var_theory.looks_like", cause=cause) if cause else ""
    return Outcome(FAIL, 0.0, msg("check.ex1_var_theory.fail", value=value, expected=expected, detail=detail),
                   fmt(expected), fmt(value), {**evidence, "diagnosis": cause})


@check("ex1_var_empirical")
def ex1_var_empirical(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "ex1_var_empirical", "ex1_kernel")):
        return absent
    recomputed = float(np.var(ctx.extracted.values["ex1_kernel"].astype(np.float64)))
    value = ctx.extracted.values["ex1_var_empirical"]
    evidence = {"recomputed": recomputed, "found": value}
    if math.isclose(value, recomputed, rel_tol=ctx.rubric.tolerances.ex1_relative):
        return Outcome(PASS, 1.0, msg("check.ex1_var_empirical.pass", recomputed=recomputed), fmt(recomputed), fmt(value), evidence)
    return Outcome(FAIL, 0.0, msg("check.ex1_var_empirical.fail", value=value, recomputed=recomputed),
                   fmt(recomputed), fmt(value), evidence)


@check("ex1_variance_band")
def ex1_variance_band(ctx: Context) -> Outcome:
    if (absent := missing(ctx, "ex1_kernel")):
        return absent
    fan_in, fan_out = _fans(ctx)
    test = variance_test(ctx.extracted.values["ex1_kernel"], 2 / (fan_in + fan_out), EXCESS_KURTOSIS["uniform"],
                         alpha=ctx.rubric.tolerances.alpha)
    low, high = test.band()
    evidence = {"variance": test.observed, "expected": test.expected, "band": [low, high], "z": test.z, "n": test.n}
    params = {"variance": test.observed, "low": low, "high": high, "n": test.n, "z": test.z}
    expected, found = f"{fmt(low)} … {fmt(high)}", fmt(test.observed)
    if test.ok:
        return Outcome(PASS, 1.0, msg("check.ex1_variance_band.pass", **params), expected, found, evidence)
    return Outcome(FAIL, 0.0, msg("check.ex1_variance_band.fail", **params), expected, found, evidence)


@check("ex1_conv_limit")
def ex1_conv_limit(ctx: Context) -> Outcome:
    conv = ctx.rubric.exercise1.conv
    fan_in, fan_out = compute_fans((conv.kh, conv.kw, conv.in_channels, conv.filters))
    expected = glorot_limit(fan_in, fan_out)
    if "ex1_conv_limit" not in ctx.extracted.values:  # optional: left out, it costs nothing
        if not undefined(ctx, "ex1_conv_limit"):
            return missing(ctx, "ex1_conv_limit")
        return skipped(ctx, "ex1_conv_limit", msg("check.ex1_conv_limit.would_show", fan_in=fan_in, fan_out=fan_out))
    value = ctx.extracted.values["ex1_conv_limit"]
    evidence = {"expected": expected, "found": value, "fan_in": fan_in, "fan_out": fan_out}
    if math.isclose(value, expected, rel_tol=ctx.rubric.tolerances.ex1_relative):
        return Outcome(PASS, 1.0, msg("check.ex1_conv_limit.pass", fan_in=fan_in, fan_out=fan_out, fan_sum=fan_in + fan_out,
                                      expected=expected), fmt(expected), fmt(value), evidence)
    dense_like = glorot_limit(conv.in_channels, conv.filters)
    mistakes = ("conv_fan_in",) if math.isclose(value, dense_like, rel_tol=1e-3) else ("wrong_limit",)
    return Outcome(FAIL, 0.0, msg("check.ex1_conv_limit.fail", value=value, kh=conv.kh, kw=conv.kw, channels=conv.in_channels,
                                  fan_in=fan_in, fan_out=fan_out, expected=expected),
                   fmt(expected), fmt(value), evidence, mistakes)


__all__ = ["ex1_kernel_distribution", "ex1_bias_zeros", "ex1_limit", "ex1_var_theory", "ex1_var_empirical",
           "ex1_variance_band", "ex1_conv_limit"]
