"""What a wrong initializer is, and what it does, in numbers.

The class's table of common mistakes names the classic errors (Glorot with ReLU, a tiny
RandomNormal). Students also write initializers the table does not list: He's scale with
Glorot's fan, `lecun_normal` for `he_normal`, a fixed `RandomUniform(±0.05)`. Saying "wrong"
teaches nothing; this module says which part of Keras' `VarianceScaling` family differs
(scale, mode, distribution) or that the initializer is not of that family at all, and what it
does to the signal: the weight variance per layer against the expected initializer, and how
the variance of the signal grows or shrinks through the layers.

The signal arithmetic is the class's own (He's derivation): a Dense layer with fan_in inputs
and weight variance Var(W) multiplies the second moment of what flows through it by
fan_in·Var(W), and a ReLU keeps half of it, so each layer's gain is fan_in·Var(W)·½ (1 with
He). Through the layers the gains multiply: a product far above 1 explodes, far below 1
vanishes. Without ReLU (tanh near zero is linear) the ½ is dropped.

A fixed `seed=` is not wrong in itself; it matters when the same seed is reused across layers
(they start from the same random numbers: measured here as the correlation of their weights)
and because the grader retrains under the protocol's seed, not the student's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..initializers import InitSpec, compute_fans, target_variance, variance_scaling_triple
from ..messages import Joined, Message, msg
from .common import scientific
from .registry import ACTIVATION_NAMES

# The codes this module can give; the class's own rows keep their codes where they apply.
CODES = ("glorot_with_relu", "random_normal_small", "wrong_fan_mode", "wrong_scale", "wrong_distribution",
         "not_variance_scaling", "fixed_seed")
EXPLODES, VANISHES = 2.0, 0.5  # signal-variance factors past which the report says "explodes" / "vanishes"
RELU_LIKE = {"relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "swish"}



def weight_variance(spec: InitSpec, shape) -> float | None:
    """The variance of a fresh weight; 0 for the constant initializers, None when unknown."""
    if spec.name in ("zeros", "ones", "constant"):
        return 0.0
    if spec.name == "orthogonal":  # orthonormal rows or columns, gain 1: each entry has variance 1/max(fan)
        return 1.0 / max(compute_fans(shape))
    return target_variance(spec, shape)


def layer_gains(spec: InitSpec, shapes: list, activation: str) -> list[float] | None:
    """fan_in·Var(W)·½ per layer (½ only after a ReLU-like activation): 1 keeps the variance."""
    half = 0.5 if activation in RELU_LIKE else 1.0
    gains = []
    for shape in shapes:
        variance = weight_variance(spec, shape)
        if variance is None:
            return None
        gains.append(compute_fans(shape)[0] * variance * half)
    return gains


def signed_percent(ratio: float) -> str:
    """A ratio as a change: 1.446 → "+45 %", 0.5 → "−50 %" (a real minus)."""
    return f"{(ratio - 1) * 100:+.0f} %".replace("-", "−")


def factor(value: float) -> str:
    """A signal factor as the report writes it: 5.1, 0.16, 3.0×10⁻⁶ (never "3.0e-06")."""
    if value == 0:
        return "0"
    if 0.01 <= value < 100:
        return f"{value:.2g}"
    return scientific(value)


@dataclass(frozen=True)
class InitDiagnosis:
    """How `found` differs from `expected` on these kernel shapes, and what that does."""

    expected: InitSpec
    found: InitSpec
    codes: tuple[str, ...]
    differs: dict = field(default_factory=dict)     # parameter → (expected, found), VarianceScaling only
    ratios: tuple = ()                              # Var(found)/Var(expected) per layer
    through_expected: float | None = None           # product of the layer gains with `expected`
    through_found: float | None = None              # … with `found`
    activation: str = "relu"

    @property
    def trend(self) -> str:
        """'explodes', 'vanishes', 'symmetric' (no variance at all), 'stable' or 'unknown'."""
        if self.through_found is None or self.through_expected is None:
            return "unknown"
        if self.through_found == 0:
            return "symmetric"
        relative = self.through_found / self.through_expected if self.through_expected > 0 else math.inf
        if relative >= EXPLODES:
            return "explodes"
        if relative <= VANISHES:
            return "vanishes"
        return "stable"

    def what(self) -> Message:
        """One clause: which part differs, in the family's own terms."""
        expected, found = self.expected.describe(), self.found.describe()
        if "glorot_with_relu" in self.codes:
            return msg("diagnosis.glorot_for_he", expected=expected, found=found)
        if variance_scaling_triple(self.found) is None:
            if self.found.name.startswith("unknown:"):
                return msg("diagnosis.unknown_class", found=self.found.name[8:])
            if self.trend == "symmetric":
                return msg("diagnosis.constant", found=found)
            return msg("diagnosis.fixed_variance", found=found, expected=expected)
        parts = []
        for parameter, (want, got) in self.differs.items():
            parts.append(msg(f"diagnosis.differs.{parameter}", expected=expected, want=want, got=got))
        return msg("diagnosis.variance_scaling", found=found, parts=Joined(parts, "; "))

    def effect(self) -> Message | str:
        """The numbers: variance per layer against the expected initializer, and the signal through the layers."""
        if self.trend in ("unknown", "symmetric"):
            return ""
        layers = len(self.ratios)
        trend = msg(f"diagnosis.trend.{self.trend}")
        if all(math.isclose(r, 1.0, rel_tol=1e-9) for r in self.ratios):
            return msg("diagnosis.same_variance", layers=layers, expected=self.expected.describe())
        activation = ACTIVATION_NAMES.get(self.activation, self.activation) if self.activation in RELU_LIKE else ""
        return msg("diagnosis.effect", expected=self.expected.describe(), layers=layers, hidden=layers - 1,
                   ratios=", ".join(signed_percent(r) for r in self.ratios),
                   found_factor=factor(self.through_found), expected_factor=factor(self.through_expected), trend=trend,
                   activation=msg("diagnosis.with_activation", activation=activation) if activation else "")

    def message(self) -> Message:
        effect = self.effect()
        return msg("diagnosis.line", what=self.what(), effect=effect) if effect else self.what()

    def evidence(self) -> dict:
        return {"expected": self.expected.describe(), "found": self.found.describe(), "codes": list(self.codes),
                "differs": {k: list(v) for k, v in self.differs.items()}, "variance_ratio_per_layer": list(self.ratios),
                "signal_factor_expected": self.through_expected, "signal_factor_found": self.through_found,
                "trend": self.trend}


def diagnose(expected: InitSpec, found: InitSpec, shapes: list, activation: str = "relu") -> InitDiagnosis | None:
    """What differs between the initializer the rubric expects and the one a layer has (None: the same)."""
    if found.name == expected.name and found.params == expected.params:
        return None
    shapes = [tuple(int(d) for d in shape) for shape in shapes]
    want, got = variance_scaling_triple(expected), variance_scaling_triple(found)
    differs, codes = {}, []
    if want is not None and got is not None:
        for parameter, a, b in zip(("scale", "mode", "distribution"), want, got):
            if a != b:
                differs[parameter] = (a, b)
        if expected.name.startswith("he_") and found.name.startswith("glorot_") and activation in RELU_LIKE:
            codes.append("glorot_with_relu")  # the class's own row: Glorot where ReLU asks for He
        else:
            codes += [{"mode": "wrong_fan_mode", "scale": "wrong_scale", "distribution": "wrong_distribution"}[p]
                      for p in ("mode", "scale", "distribution") if p in differs]
    elif found.name == "random_normal" and found.params.get("stddev", 0.05) <= 0.05:
        codes.append("random_normal_small")  # the class's own row
    else:
        codes.append("not_variance_scaling")
    ratios: tuple = ()
    gains_expected, gains_found = layer_gains(expected, shapes, activation), layer_gains(found, shapes, activation)
    if gains_expected is not None and gains_found is not None:
        ratios = tuple(f / e if e > 0 else math.inf for f, e in zip(gains_found, gains_expected))
    return InitDiagnosis(expected, found, tuple(codes), differs, ratios,
                         math.prod(gains_expected) if gains_expected is not None else None,
                         math.prod(gains_found) if gains_found is not None else None, activation)


@dataclass(frozen=True)
class SeedFinding:
    """Layers of one model whose initializer has a fixed seed, and whether one seed is reused."""

    label: str
    seeds: dict              # 1-based layer → seed
    reused: dict             # seed → 1-based layers that share it (only seeds used twice or more)
    correlation: float | None  # the largest |r| between the weights of two layers sharing a seed

    @property
    def matters(self) -> bool:
        return bool(self.reused)

    def message(self, labels: str | None = None) -> Message:
        """What the seeds do, said of `labels` (the models that share these seeds; default: this one)."""
        label = labels or self.label
        layers = ", ".join(str(n) for n in self.seeds)
        if not self.reused:
            return msg("diagnosis.seed_fixed", label=label, layers=layers)
        shared = Joined([msg("diagnosis.seed_shared", seed=seed, layers=", ".join(str(n) for n in where))
                         for seed, where in self.reused.items()], "; ")
        measured = msg("diagnosis.seed_correlation", r=self.correlation) if self.correlation is not None else ""
        return msg("diagnosis.seed_reused", label=label, shared=shared, measured=measured)

    def evidence(self) -> dict:
        return {"seeds": {str(k): v for k, v in self.seeds.items()}, "reused": {str(k): v for k, v in self.reused.items()},
                "correlation": self.correlation}


def _prefix_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """|r| between the first min(n) weights of two kernels: Keras draws a seeded kernel in flat
    order, so two layers with one seed share their leading random numbers whatever their shapes."""
    x, y = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    n = min(x.size, y.size)
    if n < 3:
        return None
    x, y = x[:n], y[:n]
    if x.std() == 0 or y.std() == 0:
        return None
    return float(abs(np.corrcoef(x, y)[0, 1]))


def seed_finding(label: str, layers: list) -> SeedFinding | None:
    """The fixed seeds of a model's Dense kernels (LayerDesc list); None when none is fixed."""
    seeds = {position: layer.kernel_init.seed for position, layer in enumerate(layers, 1)
             if layer.kernel_init.seed is not None}
    if not seeds:
        return None
    by_seed: dict = {}
    for position, seed in seeds.items():
        by_seed.setdefault(seed, []).append(position)
    reused = {seed: where for seed, where in by_seed.items() if len(where) > 1}
    correlations = []
    for where in reused.values():
        for i, first in enumerate(where):
            for second in where[i + 1:]:
                a, b = layers[first - 1].kernel, layers[second - 1].kernel
                if a is not None and b is not None and (r := _prefix_correlation(a, b)) is not None:
                    correlations.append(r)
    return SeedFinding(label, seeds, reused, max(correlations) if correlations else None)


__all__ = ["InitDiagnosis", "SeedFinding", "diagnose", "seed_finding", "layer_gains", "weight_variance", "signed_percent",
           "factor", "variance_scaling_triple", "CODES", "EXPLODES", "VANISHES"]
