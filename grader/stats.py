"""Honest statistics for initializer checks (design.md, "Statistics for initializer checks").

A kernel of n weights drawn i.i.d. from a zero-mean distribution with variance σ² and excess
kurtosis κ has mean(w²) with standard deviation σ²·√((2+κ)/n). The variance test compares
mean(w²) with σ² in units of that spread; the shape test is a KS test against the exact
distribution. A model-level verdict pools every layer: per-layer variance tests at a
Bonferroni-split level, and one KS test on the probability-integral transforms of all weights.
The false-alarm level `alpha` is for the whole verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .initializers import EXCESS_KURTOSIS, InitSpec, VARIANCE_SCALING_PRESETS, cdf, shape_family, target_variance

DEFAULT_ALPHA = 1e-3


@dataclass(frozen=True)
class VarianceTest:
    n: int
    observed: float
    expected: float
    sd: float
    z: float
    z_crit: float

    @property
    def ok(self) -> bool:
        return abs(self.z) <= self.z_crit

    def band(self) -> tuple[float, float]:
        return self.expected - self.z_crit * self.sd, self.expected + self.z_crit * self.sd


def ks_uniform(u: np.ndarray) -> tuple[float, float]:
    """Two-sided one-sample KS statistic and p-value of u against U(0, 1)."""
    s = np.sort(np.asarray(u, dtype=np.float64).ravel())
    n = s.size
    i = np.arange(1, n + 1)
    d = float(max((i / n - s).max(), (s - (i - 1) / n).max()))
    return d, float(stats.kstwo.sf(d, n))


def z_critical(alpha: float) -> float:
    return float(stats.norm.isf(alpha / 2))


def variance_test(weights: np.ndarray, expected_var: float, kurtosis: float, mean: float = 0.0,
                  alpha: float = DEFAULT_ALPHA) -> VarianceTest:
    """mean((w-μ)²) against σ² with its exact large-n spread σ²√((2+κ)/n)."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    n = int(w.size)
    observed = float(np.mean((w - mean) ** 2))
    sd = expected_var * math.sqrt((2.0 + kurtosis) / n)
    z = (observed - expected_var) / sd if sd > 0 else math.inf
    return VarianceTest(n, observed, expected_var, sd, z, z_critical(alpha))


@dataclass(frozen=True)
class LayerFit:
    shape: tuple
    variance: VarianceTest
    ks_p: float


@dataclass(frozen=True)
class ModelFit:
    """How well a list of kernels matches one initializer."""

    init: str
    layers: tuple
    pooled_ks_stat: float
    pooled_ks_p: float
    alpha: float

    @property
    def ok(self) -> bool:
        return self.pooled_ks_p >= self.alpha / 2 and all(layer.variance.ok for layer in self.layers)


def fit_kernels(kernels: list[np.ndarray], spec: InitSpec, alpha: float = DEFAULT_ALPHA) -> ModelFit | None:
    """Test every kernel against `spec`; None when `spec` is not a random distribution."""
    family = shape_family(spec)
    if family is None or not kernels:
        return None
    per_test_alpha = alpha / 2 / len(kernels)
    layers, transformed = [], []
    for kernel in kernels:
        kernel = np.asarray(kernel, dtype=np.float64)
        var = target_variance(spec, kernel.shape)
        mean = spec.params.get("mean", 0.0) if spec.name in ("random_normal", "truncated_normal") else 0.0
        if spec.name == "random_uniform":
            mean = (spec.params["minval"] + spec.params["maxval"]) / 2
        vt = variance_test(kernel, var, EXCESS_KURTOSIS[family], mean=mean, alpha=per_test_alpha)
        u = cdf(spec, kernel.shape, kernel.ravel())
        layers.append(LayerFit(tuple(kernel.shape), vt, ks_uniform(u)[1]))
        transformed.append(u)
    statistic, pvalue = ks_uniform(np.concatenate(transformed))
    return ModelFit(spec.name, tuple(layers), statistic, pvalue, alpha)


def best_match(kernels: list[np.ndarray], alpha: float = DEFAULT_ALPHA) -> tuple[str, dict[str, ModelFit]]:
    """Which Keras preset the kernels look like: the candidate with the smallest pooled KS distance."""
    fits = {name: fit_kernels(kernels, InitSpec(name), alpha) for name in VARIANCE_SCALING_PRESETS}
    best = min(fits, key=lambda name: fits[name].pooled_ks_stat)
    return best, fits


def mean_ci(values: list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and a Student-t confidence interval; (mean, nan, nan) for fewer than two values."""
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size))
    return mean, mean - half, mean + half


__all__ = ["variance_test", "VarianceTest", "fit_kernels", "ModelFit", "LayerFit", "best_match", "mean_ci", "z_critical", "DEFAULT_ALPHA"]
