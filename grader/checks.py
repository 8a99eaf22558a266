"""Stage 3: one function per rubric item, `(Context) -> Outcome`, registered by id.

A check compares what the student claims with what the grader recomputes (initializer
identity from the layer config, exact limits, statistical tests on the weights, norms, and the
grader's own retraining). Messages are bilingual (`T`); the report picks the language.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .extract import Extracted
from .initializers import EXCESS_KURTOSIS, InitSpec, compute_fans, glorot_limit
from .modeldesc import ModelDesc
from .rubric import Rubric
from .stats import (best_match, expected_kernel_norm, fit_kernels, hidden_variance_ratio, mean_ci, norms_outside_band,
                    variance_test)


@dataclass(frozen=True)
class T:
    """A message in both languages."""

    es: str
    en: str

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.es


@dataclass(frozen=True)
class Outcome:
    status: str  # pass | fail | warn | error
    fraction: float  # of the item's points
    message: T
    expected: T = T("", "")
    found: T = T("", "")
    evidence: dict = field(default_factory=dict)
    mistakes: tuple = ()


@dataclass(frozen=True)
class CheckResult:
    id: str
    exercise: str
    status: str
    points: float
    max_points: float
    title: T
    why: T
    message: T
    expected: T
    found: T
    evidence: dict
    mistakes: tuple

    def to_json(self, lang: str) -> dict:
        return {"id": self.id, "exercise": self.exercise, "status": self.status, "points": self.points,
                "max_points": self.max_points, "title": self.title(lang), "message": self.message(lang),
                "expected": self.expected(lang), "found": self.found(lang), "mistakes": list(self.mistakes),
                "evidence": self.evidence}


@dataclass(frozen=True)
class Retraining:
    """The grader's runs: label -> RunResult for the protocol seed, plus extra seeds."""

    main: dict  # init -> RunResult
    seeds: dict  # seed -> {init -> RunResult}
    source: dict  # init -> which description was trained ("hw_models", "build_model", "reference")
    error: str = ""
    exercises: dict = field(default_factory=dict)  # "ex2:he_normal", "ex4:…", "ex5:repro" -> RunResult


@dataclass(frozen=True)
class Context:
    extracted: Extracted
    rubric: Rubric
    retraining: Retraining | None = None


def _missing(ctx: Context, *names: str) -> Outcome | None:
    for name in names:
        if name not in ctx.extracted.values:
            spec = ctx.rubric.contract["names"].get(name, {})
            why = ctx.extracted.problems.get(name, "no está definido")
            example = spec.get("example", "")
            subject = "" if why.startswith(name) else f"`{name}` "
            return Outcome("fail", 0.0,
                           T(f"{subject}{why}. Defínalo así:\n{example}",
                             f"{subject}{_en(why)}. Define it like this:\n{example}"),
                           evidence={"missing": name})
    return None


def _en(why: str) -> str:
    return {"no está definido": "is not defined"}.get(why, why)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


CHECKS: dict = {}
TITLES: dict = {}
WHY: dict = {}


def check(check_id: str, title: T, why: T):
    def register(function):
        CHECKS[check_id] = function
        TITLES[check_id] = title
        WHY[check_id] = why
        return function
    return register


# --- Exercise 1 --------------------------------------------------------------------------------

def _ex1_fans(ctx: Context) -> tuple[int, int]:
    return int(ctx.rubric.exercise1["fan_in"]), int(ctx.rubric.exercise1["fan_out"])


@check("ex1_kernel_distribution",
       T("Ej. 1 — el kernel por defecto es glorot_uniform", "Ex. 1 — the default kernel is glorot_uniform"),
       T("Keras inicializa Dense con glorot_uniform; reconocer el default es el punto de partida para saber cuándo cambiarlo.",
         "Keras initializes Dense with glorot_uniform; knowing the default is how you know when to change it."))
def ex1_kernel_distribution(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "ex1_kernel")):
        return missing
    kernel = ctx.extracted.values["ex1_kernel"]
    alpha = ctx.rubric.tolerances["alpha"]
    fit = fit_kernels([kernel], InitSpec("glorot_uniform"), alpha)
    best, _ = best_match([kernel], alpha)
    evidence = {"ks_p": fit.pooled_ks_p, "variance": fit.layers[0].variance.observed,
                "expected_variance": fit.layers[0].variance.expected, "z": fit.layers[0].variance.z, "best_match": best}
    declared = None
    model = ctx.extracted.values.get("ex1_model")
    if isinstance(model, ModelDesc) and model.dense:
        declared = model.dense[0].kernel_init.describe()
        evidence["declared"] = declared
    if fit.ok and declared in (None, "glorot_uniform"):
        return Outcome("pass", 1.0, T("Los pesos siguen U(−√(6/912), +√(6/912)), como glorot_uniform.",
                                      "The weights follow U(−√(6/912), +√(6/912)), as glorot_uniform does."),
                       T("glorot_uniform", "glorot_uniform"), T(f"glorot_uniform (KS p = {fit.pooled_ks_p:.3g})", f"glorot_uniform (KS p = {fit.pooled_ks_p:.3g})"), evidence)
    return Outcome("fail", 0.0,
                   T(f"El kernel de ex1 no sigue glorot_uniform (se parece a {best}; inicializador declarado: {declared or '?'}). "
                     "El ejercicio pide inspeccionar el default: cree Dense(128) sin kernel_initializer.",
                     f"The ex1 kernel does not follow glorot_uniform (it looks like {best}; declared initializer: {declared or '?'}). "
                     "The exercise inspects the default: build Dense(128) without kernel_initializer."),
                   T("glorot_uniform", "glorot_uniform"), T(best, best), evidence)


@check("ex1_bias_zeros",
       T("Ej. 1 — el bias por defecto es zeros", "Ex. 1 — the default bias is zeros"),
       T("Los bias arrancan en cero: la asimetría la dan los pesos; un bias aleatorio solo agrega ruido.",
         "Biases start at zero: the weights break symmetry; a random bias only adds noise."))
def ex1_bias_zeros(ctx: Context) -> Outcome:
    if _missing(ctx, "ex1_model"):
        return Outcome("warn", 0.0, T("No se puede verificar el bias: defina `ex1_model` (el Sequential del ejercicio 1).",
                                      "The bias cannot be checked: define `ex1_model` (the exercise-1 Sequential)."),
                       evidence={"missing": "ex1_model"})
    dense = ctx.extracted.values["ex1_model"].dense[0]
    zero = dense.bias is None or not np.any(dense.bias)
    if dense.bias_init.name == "zeros" and zero:
        return Outcome("pass", 1.0, T("bias_initializer = zeros y todos los bias valen 0.", "bias_initializer = zeros and every bias is 0."),
                       T("zeros", "zeros"), T("zeros", "zeros"))
    return Outcome("fail", 0.0, T(f"El bias usa {dense.bias_init.describe()}.", f"The bias uses {dense.bias_init.describe()}."),
                   T("zeros", "zeros"), T(dense.bias_init.describe(), dense.bias_init.describe()),
                   {"bias_initializer": dense.bias_init.describe()}, ("bias_not_zeros",))


def _diagnose(value: float, candidates: dict) -> str | None:
    for label, candidate in candidates.items():
        if math.isclose(value, candidate, rel_tol=1e-3):
            return label
    return None


@check("ex1_limit",
       T("Ej. 1 — límite de Glorot uniform calculado a mano", "Ex. 1 — Glorot uniform limit by hand"),
       T("±√(6/(fan_in+fan_out)) es el intervalo del que Keras saca cada peso; saber calcularlo es entender la regla.",
         "±√(6/(fan_in+fan_out)) is the interval Keras draws every weight from; computing it is understanding the rule."))
def ex1_limit(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "ex1_limit")):
        return missing
    fan_in, fan_out = _ex1_fans(ctx)
    expected = glorot_limit(fan_in, fan_out)
    value = ctx.extracted.values["ex1_limit"]
    evidence = {"expected": expected, "found": value}
    if math.isclose(value, expected, rel_tol=ctx.rubric.tolerances["ex1_relative"]):
        return Outcome("pass", 1.0, T(f"√(6/{fan_in + fan_out}) = {_fmt(expected)}.", f"√(6/{fan_in + fan_out}) = {_fmt(expected)}."),
                       T(_fmt(expected), _fmt(expected)), T(_fmt(value), _fmt(value)), evidence)
    cause = _diagnose(value, {f"√(6/fan_in) = √(6/{fan_in})": math.sqrt(6 / fan_in),
                              f"√(6/fan_out) = √(6/{fan_out})": math.sqrt(6 / fan_out),
                              "√(2/(fan_in+fan_out)) (la desviación estándar, no el límite)": math.sqrt(2 / (fan_in + fan_out)),
                              "6/(fan_in+fan_out) (falta la raíz)": 6 / (fan_in + fan_out)})
    detail = f" Parece que usó {cause}." if cause else ""
    return Outcome("fail", 0.0,
                   T(f"ex1_limit = {_fmt(value)}, pero √(6/(fan_in+fan_out)) = √(6/{fan_in + fan_out}) = {_fmt(expected)}.{detail}",
                     f"ex1_limit = {_fmt(value)}, but √(6/(fan_in+fan_out)) = √(6/{fan_in + fan_out}) = {_fmt(expected)}.{' It looks like ' + cause + '.' if cause else ''}"),
                   T(_fmt(expected), _fmt(expected)), T(_fmt(value), _fmt(value)), {**evidence, "diagnosis": cause}, ("wrong_limit",))


@check("ex1_var_theory",
       T("Ej. 1 — varianza teórica de Glorot", "Ex. 1 — Glorot's theoretical variance"),
       T("Var(W) = 2/(fan_in+fan_out) es el compromiso de Glorot entre preservar la varianza hacia adelante y hacia atrás.",
         "Var(W) = 2/(fan_in+fan_out) is Glorot's compromise between keeping variance forward and backward."))
def ex1_var_theory(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "ex1_var_theory")):
        return missing
    fan_in, fan_out = _ex1_fans(ctx)
    expected = 2 / (fan_in + fan_out)
    value = ctx.extracted.values["ex1_var_theory"]
    if math.isclose(value, expected, rel_tol=ctx.rubric.tolerances["ex1_relative"]):
        return Outcome("pass", 1.0, T(f"2/{fan_in + fan_out} = {_fmt(expected)}.", f"2/{fan_in + fan_out} = {_fmt(expected)}."),
                       T(_fmt(expected), _fmt(expected)), T(_fmt(value), _fmt(value)), {"expected": expected, "found": value})
    cause = _diagnose(value, {"2/fan_in (He)": 2 / fan_in, "1/fan_in (LeCun)": 1 / fan_in,
                              "1/(fan_in+fan_out)": 1 / (fan_in + fan_out), "6/(fan_in+fan_out) (el límite al cuadrado)": 6 / (fan_in + fan_out)})
    return Outcome("fail", 0.0,
                   T(f"ex1_var_theory = {_fmt(value)}; Glorot da 2/(fan_in+fan_out) = {_fmt(expected)}." + (f" Parece {cause}." if cause else ""),
                     f"ex1_var_theory = {_fmt(value)}; Glorot gives 2/(fan_in+fan_out) = {_fmt(expected)}." + (f" It looks like {cause}." if cause else "")),
                   T(_fmt(expected), _fmt(expected)), T(_fmt(value), _fmt(value)), {"expected": expected, "found": value, "diagnosis": cause})


@check("ex1_var_empirical",
       T("Ej. 1 — varianza empírica del kernel", "Ex. 1 — empirical variance of the kernel"),
       T("Medir la varianza de los pesos reales y compararla con la teórica es cómo se verifica una inicialización.",
         "Measuring the variance of the actual weights and comparing it with theory is how an initialization is verified."))
def ex1_var_empirical(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "ex1_var_empirical", "ex1_kernel")):
        return missing
    recomputed = float(np.var(ctx.extracted.values["ex1_kernel"].astype(np.float64)))
    value = ctx.extracted.values["ex1_var_empirical"]
    evidence = {"recomputed": recomputed, "found": value}
    if math.isclose(value, recomputed, rel_tol=ctx.rubric.tolerances["ex1_relative"]):
        return Outcome("pass", 1.0, T(f"np.var(ex1_kernel) = {_fmt(recomputed)}, coincide.", f"np.var(ex1_kernel) = {_fmt(recomputed)}, matches."),
                       T(_fmt(recomputed), _fmt(recomputed)), T(_fmt(value), _fmt(value)), evidence)
    return Outcome("fail", 0.0,
                   T(f"ex1_var_empirical = {_fmt(value)}, pero la varianza de ex1_kernel es {_fmt(recomputed)}. Calcúlela sobre el mismo kernel: float(ex1_kernel.var()).",
                     f"ex1_var_empirical = {_fmt(value)}, but the variance of ex1_kernel is {_fmt(recomputed)}. Compute it on the same kernel: float(ex1_kernel.var())."),
                   T(_fmt(recomputed), _fmt(recomputed)), T(_fmt(value), _fmt(value)), evidence)


@check("ex1_variance_band",
       T("Ej. 1 — la varianza empírica cae en la banda que permite el azar", "Ex. 1 — the empirical variance is within chance"),
       T("Con n pesos, la varianza muestral fluctúa ±σ²·√((2+κ)/n); fuera de esa banda, el kernel no viene de Glorot.",
         "With n weights the sample variance moves by ±σ²·√((2+κ)/n); outside that band the kernel is not Glorot's."))
def ex1_variance_band(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "ex1_kernel")):
        return missing
    fan_in, fan_out = _ex1_fans(ctx)
    test = variance_test(ctx.extracted.values["ex1_kernel"], 2 / (fan_in + fan_out), EXCESS_KURTOSIS["uniform"],
                         alpha=ctx.rubric.tolerances["alpha"])
    low, high = test.band()
    evidence = {"variance": test.observed, "expected": test.expected, "band": [low, high], "z": test.z, "n": test.n}
    text = (f"Var = {_fmt(test.observed)}; banda {_fmt(low)} … {_fmt(high)} (n = {test.n}, z = {test.z:+.2f})",
            f"Var = {_fmt(test.observed)}; band {_fmt(low)} … {_fmt(high)} (n = {test.n}, z = {test.z:+.2f})")
    found = T(_fmt(test.observed), _fmt(test.observed))
    expected = T(f"{_fmt(low)} … {_fmt(high)}", f"{_fmt(low)} … {_fmt(high)}")
    if test.ok:
        return Outcome("pass", 1.0, T(text[0] + ".", text[1] + "."), expected, found, evidence)
    return Outcome("fail", 0.0, T(text[0] + ": fuera de la banda.", text[1] + ": outside the band."), expected, found, evidence)


@check("ex1_conv_limit",
       T("Ej. 1 (extra) — límite de Glorot para una Conv2D", "Ex. 1 (extra) — Glorot limit for a Conv2D"),
       T("En una convolución cada salida ve kh·kw·canales entradas: ese es su fan_in.",
         "In a convolution each output sees kh·kw·channels inputs: that is its fan_in."))
def ex1_conv_limit(ctx: Context) -> Outcome:
    conv = ctx.rubric.exercise1["conv"]
    fan_in, fan_out = compute_fans((conv["kh"], conv["kw"], conv["in_channels"], conv["filters"]))
    expected = glorot_limit(fan_in, fan_out)
    if (missing := _missing(ctx, "ex1_conv_limit")):
        return Outcome("warn", 0.0, missing.message, T(_fmt(expected), _fmt(expected)), evidence=missing.evidence)
    value = ctx.extracted.values["ex1_conv_limit"]
    evidence = {"expected": expected, "found": value, "fan_in": fan_in, "fan_out": fan_out}
    if math.isclose(value, expected, rel_tol=ctx.rubric.tolerances["ex1_relative"]):
        return Outcome("pass", 1.0, T(f"fan_in = {fan_in}, fan_out = {fan_out}: √(6/{fan_in + fan_out}) = {_fmt(expected)}.",
                                      f"fan_in = {fan_in}, fan_out = {fan_out}: √(6/{fan_in + fan_out}) = {_fmt(expected)}."),
                       T(_fmt(expected), _fmt(expected)), T(_fmt(value), _fmt(value)), evidence)
    dense_like = glorot_limit(conv["in_channels"], conv["filters"])
    mistakes = ("conv_fan_in",) if math.isclose(value, dense_like, rel_tol=1e-3) else ("wrong_limit",)
    return Outcome("fail", 0.0,
                   T(f"ex1_conv_limit = {_fmt(value)}; con fan_in = {conv['kh']}·{conv['kw']}·{conv['in_channels']} = {fan_in} y fan_out = {fan_out} da {_fmt(expected)}.",
                     f"ex1_conv_limit = {_fmt(value)}; with fan_in = {conv['kh']}·{conv['kw']}·{conv['in_channels']} = {fan_in} and fan_out = {fan_out} it is {_fmt(expected)}."),
                   T(_fmt(expected), _fmt(expected)), T(_fmt(value), _fmt(value)), evidence, mistakes)


# --- Homework ------------------------------------------------------------------------------

def _hw_models(ctx: Context) -> dict:
    """Every model description we have for the homework, labelled for messages."""
    found = {}
    for init, desc in (ctx.extracted.values.get("build_model") or {}).items():
        found[f"build_model(kernel_initializer={init!r})"] = (init, desc)
    for init, desc in (ctx.extracted.values.get("hw_models") or {}).items():
        found[f"hw_models[{init!r}]"] = (init, desc)
    return found


@check("hw_architecture",
       T("Tarea — arquitectura [300, 200, 100, 50, 10], ReLU, softmax", "Homework — architecture [300, 200, 100, 50, 10], ReLU, softmax"),
       T("Comparar inicializaciones solo tiene sentido con la misma red; la tarea fija la arquitectura.",
         "Comparing initializations only makes sense on the same network; the homework fixes the architecture."))
def hw_architecture(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "build_model")):
        return missing
    hw = ctx.rubric.homework
    problems, checked = [], 0
    for label, (_, desc) in _hw_models(ctx).items():
        if isinstance(desc, str):
            problems.append(f"{label}: {desc.splitlines()[0] if desc else ''}")
            continue
        checked += 1
        units = [layer.units for layer in desc.dense]
        acts = [layer.activation for layer in desc.dense]
        if units != hw["units"]:
            problems.append(f"{label}: capas Dense {units}")
        if any(a != hw["hidden_activation"] for a in acts[:-1]) or acts[-1] != hw["output_activation"]:
            problems.append(f"{label}: activaciones {acts}")
        if math.prod(desc.input_shape) != 784:
            problems.append(f"{label}: entrada {desc.input_shape}")
    expected = f"Dense {hw['units']}, {hw['hidden_activation']} + {hw['output_activation']}"
    if not problems and checked:
        return Outcome("pass", 1.0, T(f"Los {checked} modelos tienen {expected}.", f"All {checked} models have {expected}."),
                       T(expected, expected), T(expected, expected), {"models": checked})
    text = "; ".join(problems[:6])
    return Outcome("fail", 0.0, T(f"Arquitectura distinta de la pedida: {text}", f"Architecture differs from the one asked: {text}"),
                   T(expected, expected), T(text, text), {"problems": problems})


@check("hw_declared_initializers",
       T("Tarea — cada Dense usa el inicializador declarado y bias zeros", "Homework — every Dense uses the declared initializer and zero bias"),
       T("Si build_model ignora kernel_initializer, las tres corridas son Glorot y la comparación no compara nada.",
         "If build_model ignores kernel_initializer, all three runs are Glorot and the comparison compares nothing."))
def hw_declared_initializers(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "build_model")):
        return missing
    wrong, total, mistakes = [], 0, set()
    relu = ctx.rubric.homework["hidden_activation"] == "relu"
    for label, (init, desc) in _hw_models(ctx).items():
        if isinstance(desc, str):
            continue
        for position, layer in enumerate(desc.dense, 1):
            total += 1
            name = layer.kernel_init.name
            if name != init:
                wrong.append(f"{label} capa {position}: {layer.kernel_init.describe()}")
                if init.startswith("he") and name.startswith("glorot") and relu:
                    mistakes.add("glorot_with_relu")
                if name == "random_normal" and layer.kernel_init.params.get("stddev", 1) <= 0.05:
                    mistakes.add("random_normal_small")
            if layer.bias_init.name != "zeros":
                wrong.append(f"{label} capa {position}: bias {layer.bias_init.describe()}")
                mistakes.add("bias_not_zeros")
    if total == 0:
        return Outcome("fail", 0.0, T("No hay modelos válidos para revisar.", "No valid models to inspect."))
    if not wrong:
        return Outcome("pass", 1.0, T(f"Las {total} capas Dense declaran el inicializador pedido y bias zeros.",
                                      f"All {total} Dense layers declare the requested initializer and zero bias."),
                       evidence={"layers": total})
    text = "; ".join(wrong[:8]) + (f" (y {len(wrong) - 8} más)" if len(wrong) > 8 else "")
    return Outcome("fail", max(0.0, 1 - len(wrong) / total),
                   T(f"Inicializadores distintos de los declarados: {text}", f"Initializers differ from the declared ones: {text}"),
                   found=T(text, text), evidence={"wrong": wrong, "layers": total}, mistakes=tuple(sorted(mistakes)))


@check("hw_initial_distribution",
       T("Tarea — los pesos iniciales siguen la distribución declarada", "Homework — initial weights follow the declared distribution"),
       T("El nombre del inicializador es una promesa; la varianza y la forma (uniforme o normal truncada) de los pesos son la prueba.",
         "The initializer's name is a promise; the variance and shape (uniform or truncated normal) of the weights are the proof."))
def hw_initial_distribution(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "build_model")):
        return missing
    alpha = ctx.rubric.tolerances["alpha"]
    results, failures, mistakes = {}, [], set()
    for init in ctx.rubric.homework["initializers"]:
        desc = ctx.extracted.values["build_model"].get(init)
        if not isinstance(desc, ModelDesc):
            failures.append(f"build_model(kernel_initializer={init!r}) no devolvió un modelo válido")
            continue
        fit = fit_kernels(desc.kernels, InitSpec(init), alpha)
        best, _ = best_match(desc.kernels, alpha)
        results[init] = {"ok": fit.ok, "ks_p": fit.pooled_ks_p, "best_match": best,
                         "z": [layer.variance.z for layer in fit.layers], "z_crit": fit.layers[0].variance.z_crit}
        if not fit.ok:
            failures.append(f"{init}: los pesos se parecen a {best}")
            if init.startswith("he") and best.startswith("glorot"):
                mistakes.add("glorot_with_relu")
    if not failures:
        return Outcome("pass", 1.0, T("Para los tres inicializadores, varianza por capa y forma (KS) coinciden con la teoría.",
                                      "For all three initializers, per-layer variance and shape (KS) match theory."),
                       evidence=results)
    text = "; ".join(failures)
    return Outcome("fail", (len(results) - sum(not r["ok"] for r in results.values())) / len(ctx.rubric.homework["initializers"]),
                   T(f"{text}.", f"{text}."), evidence=results, mistakes=tuple(sorted(mistakes)))


@check("hw_biases_zero",
       T("Tarea — los bias arrancan en cero", "Homework — biases start at zero"),
       T("El bias debe empezar en cero; inicializarlo como el kernel agrega ruido sin romper ninguna simetría útil.",
         "Biases must start at zero; initializing them like kernels adds noise without breaking any useful symmetry."))
def hw_biases_zero(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "build_model")):
        return missing
    bad, valid = [], 0
    for init, desc in ctx.extracted.values["build_model"].items():
        if not isinstance(desc, ModelDesc):
            continue
        valid += 1
        for position, layer in enumerate(desc.dense, 1):
            if layer.bias is not None and np.any(layer.bias):
                bad.append(f"build_model({init!r}) capa {position}: |b| máx = {float(np.abs(layer.bias).max()):.3g}")
    if not valid:
        return Outcome("fail", 0.0, T("build_model no devolvió ningún modelo válido.", "build_model returned no valid model."))
    if not bad:
        return Outcome("pass", 1.0, T("Todos los bias iniciales valen 0.", "Every initial bias is 0."))
    text = "; ".join(bad[:6])
    return Outcome("fail", 0.0, T(f"Bias iniciales distintos de cero: {text}", f"Non-zero initial biases: {text}"),
                   evidence={"nonzero": bad}, mistakes=("bias_not_zeros",))


@check("hw_histories",
       T("Tarea — historias y val_accuracy reportadas son coherentes", "Homework — reported histories and val_accuracy agree"),
       T("El número que se reporta debe salir del entrenamiento: val_accuracy de la última época.",
         "The reported number must come from training: the last epoch's val_accuracy."))
def hw_histories(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "hw_val_accuracy", "hw_histories")):
        return missing
    problems, epochs = [], ctx.rubric.protocol.epochs
    for init in ctx.rubric.homework["initializers"]:
        history = ctx.extracted.values["hw_histories"].get(init, {})
        curve = history.get("val_accuracy")
        reported = ctx.extracted.values["hw_val_accuracy"].get(init)
        if not curve:
            problems.append(f"{init}: la historia no tiene val_accuracy (¿falta validation_data?)")
            continue
        if len(curve) != epochs:
            problems.append(f"{init}: {len(curve)} épocas (se pedían {epochs})")
        if reported is not None and not (math.isclose(reported, curve[-1], abs_tol=1e-4) or math.isclose(reported / 100, curve[-1], abs_tol=1e-4)):
            problems.append(f"{init}: hw_val_accuracy = {reported:.4f} pero la última época dio {curve[-1]:.4f}")
    if not problems:
        return Outcome("pass", 1.0, T(f"{epochs} épocas por inicializador; val_accuracy reportada = última época.",
                                      f"{epochs} epochs per initializer; reported val_accuracy = last epoch."))
    text = "; ".join(problems)
    return Outcome("fail", 0.0, T(text, text), evidence={"problems": problems})


@check("hw_kernel_norms",
       T("Tarea — normas de los kernels antes y después", "Homework — kernel norms before and after"),
       T("La norma de Frobenius de cada kernel resume su escala: al inicio la fija el inicializador, al final el entrenamiento.",
         "Each kernel's Frobenius norm summarizes its scale: the initializer sets it at the start, training at the end."))
def hw_kernel_norms(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "hw_kernel_norms_before", "hw_kernel_norms_after")):
        return missing
    tol = ctx.rubric.tolerances
    before, after = ctx.extracted.values["hw_kernel_norms_before"], ctx.extracted.values["hw_kernel_norms_after"]
    models = ctx.extracted.values.get("hw_models") or {}
    problems, mistakes, evidence = [], set(), {}
    for init in ctx.rubric.homework["he_initializers"]:
        b, a = before.get(init), after.get(init)
        if b is None or a is None:
            problems.append(f"falta {init}")
            continue
        if len(b) == len(a) and np.allclose(b, a, rtol=1e-7, atol=0):
            problems.append(f"{init}: las normas 'antes' son idénticas a las 'después'")
            mistakes.add("reset_weights")
        shapes = [(784, 300), (300, 200), (200, 100), (100, 50), (50, 10)]
        desc = models.get(init)
        if isinstance(desc, ModelDesc):
            shapes = [k.shape for k in desc.kernels]
            recomputed = [float(np.linalg.norm(k.astype(np.float64))) for k in desc.kernels]
            evidence[init] = {"after_recomputed": recomputed}
            if len(a) != len(recomputed) or not np.allclose(a, recomputed, rtol=tol["norms_relative"]):
                problems.append(f"{init}: normas 'después' {np.round(a, 3).tolist()} ≠ recalculadas de hw_models {np.round(recomputed, 3).tolist()}")
        expected = [expected_kernel_norm(InitSpec(init), shape) for shape in shapes]
        evidence.setdefault(init, {})["before_expected"] = [e for e, _ in expected]
        if len(b) != len(expected):
            problems.append(f"{init}: {len(b)} normas 'antes' para {len(expected)} capas Dense")
        elif "reset_weights" not in mistakes:
            off = norms_outside_band(b, InitSpec(init), shapes, tol["alpha"])
            if off:
                glorot = [expected_kernel_norm(InitSpec("glorot_uniform"), shape)[0] for shape in shapes]
                like_glorot = np.allclose(b, glorot, rtol=0.05)
                problems.append(f"{init}: normas iniciales de las capas {off} lejos de √(n·Var) = {np.round([e for e, _ in expected], 2).tolist()}"
                                + (" (coinciden con glorot_uniform)" if like_glorot else ""))
                if like_glorot:
                    mistakes.add("glorot_with_relu")
    if not problems:
        return Outcome("pass", 1.0, T("Las normas iniciales coinciden con √(fan_in·fan_out·Var) y las finales con los modelos entrenados.",
                                      "Initial norms match √(fan_in·fan_out·Var) and final norms match the trained models."), evidence=evidence)
    text = "; ".join(problems)
    return Outcome("fail", 0.0, T(text, text), evidence=evidence, mistakes=tuple(sorted(mistakes)))


# --- Retraining -----------------------------------------------------------------------------

def _no_retrain(ctx: Context) -> Outcome | None:
    r = ctx.retraining
    if r is None or r.error or not r.main:
        why = r.error if r is not None and r.error else "el reentrenamiento no se ejecutó"
        return Outcome("warn", 0.0, T(f"No verificado: {why}.", f"Not verified: {why}."), evidence={"retraining": why})
    borrowed = [init for init, source in r.source.items() if source == "reference"]
    if borrowed:
        names = ", ".join(borrowed)
        return Outcome("warn", 0.0,
                       T(f"No verificado: no hay un modelo suyo para {names} (falta hw_models o build_model válido); "
                         "el grader entrenó la arquitectura de referencia solo como comparación.",
                         f"Not verified: there is no model of yours for {names} (hw_models or a valid build_model is missing); "
                         "the grader trained the reference architecture only for comparison."),
                       evidence={"reference_only": borrowed})
    return None


@check("hw_retrain_reproduces",
       T("Tarea — el grader reproduce las val_accuracy reportadas", "Homework — the grader reproduces the reported val_accuracy"),
       T("Un resultado que otro puede reproducir con la misma semilla y protocolo es evidencia; uno que no, es una anécdota.",
         "A result someone else reproduces with the same seed and protocol is evidence; one that doesn't is an anecdote."))
def hw_retrain_reproduces(ctx: Context) -> Outcome:
    if (skip := _no_retrain(ctx)) or (skip := _missing(ctx, "hw_val_accuracy")):
        return skip
    tol = ctx.rubric.tolerances["val_accuracy_pp"]
    reported = ctx.extracted.values["hw_val_accuracy"]
    rows, off = {}, []
    for init, run in ctx.retraining.main.items():
        value = reported.get(init)
        if value is None:
            off.append(init)
            continue
        student_pp = value if value > 1.0 else value * 100
        grader_pp = run.final_val_accuracy * 100
        rows[init] = {"student_pp": student_pp, "grader_pp": grader_pp, "diff_pp": student_pp - grader_pp,
                      "source": ctx.retraining.source.get(init), "cached": run.cached}
        if abs(student_pp - grader_pp) > tol:
            off.append(init)
    table = "; ".join(f"{k}: {v['student_pp']:.2f} vs {v['grader_pp']:.2f}" for k, v in rows.items())
    if not off:
        return Outcome("pass", 1.0, T(f"Dentro de ±{tol} pp en los tres: {table} (estudiante vs grader).",
                                      f"Within ±{tol} pp for all three: {table} (student vs grader)."), evidence=rows)
    return Outcome("warn", (len(rows) - len(off)) / max(1, len(ctx.retraining.main)),
                   T(f"Diferencia mayor que ±{tol} pp en {', '.join(off)}: {table}. Revise que fije la semilla con keras.utils.set_random_seed(42) "
                     "justo antes de construir cada modelo y que siga el protocolo (SGD 0.01, batch 32, validación = primeras 5000).",
                     f"Difference above ±{tol} pp for {', '.join(off)}: {table}. Check that you call keras.utils.set_random_seed(42) right "
                     "before building each model and follow the protocol (SGD 0.01, batch 32, validation = first 5000)."),
                   evidence=rows)


@check("hw_norms_similar",
       T("Tarea — normas finales de tamaño similar entre capas", "Homework — final kernel norms of similar size across layers"),
       T("Normas que difieren en órdenes de magnitud indican capas que no aprenden o que explotan.",
         "Norms orders of magnitude apart mean layers that don't learn or that blow up."))
def hw_norms_similar(ctx: Context) -> Outcome:
    if (skip := _no_retrain(ctx)):
        return skip
    limit = ctx.rubric.homework["norm_ratio_max"]
    ratios = {init: max(run.kernel_norms_after) / min(run.kernel_norms_after)
              for init, run in ctx.retraining.main.items() if init in ctx.rubric.homework["he_initializers"]}
    student = {}
    for init, norms in (ctx.extracted.values.get("hw_kernel_norms_after") or {}).items():
        if norms and min(norms) > 0:
            student[init] = max(norms) / min(norms)
    evidence = {"grader_ratio": ratios, "student_ratio": student, "limit": limit}
    text = ", ".join(f"{k}: {v:.2f}" for k, v in ratios.items())
    if all(r < limit for r in ratios.values()) and all(r < limit for r in student.values()):
        return Outcome("pass", 1.0, T(f"máx/mín de las normas < {limit:g} ({text}).", f"max/min of the norms < {limit:g} ({text})."), evidence=evidence)
    return Outcome("fail", 0.0, T(f"máx/mín de las normas ≥ {limit:g}: grader {text}; estudiante {student}.",
                                  f"max/min of the norms ≥ {limit:g}: grader {text}; student {student}."), evidence=evidence)


@check("hw_he_criterion",
       T("Tarea — criterio «He ≥ Glorot + 0.5 pp» (informativo)", "Homework — criterion “He ≥ Glorot + 0.5 pp” (informational)"),
       T("Con una sola semilla, la diferencia entre inicializaciones está dentro del ruido del entrenamiento: medido aquí, el criterio se cumple en 1 de 5 semillas.",
         "With one seed the difference between initializations is within training noise: measured here, the criterion holds in 1 of 5 seeds."))
def hw_he_criterion(ctx: Context) -> Outcome:
    if (skip := _no_retrain(ctx)):
        return skip
    hw = ctx.rubric.homework
    need = hw["criterion_pp"]
    base = hw["baseline"]
    grader = {init: (run.final_val_accuracy - ctx.retraining.main[base].final_val_accuracy) * 100
              for init, run in ctx.retraining.main.items() if init in hw["he_initializers"]}
    reported = ctx.extracted.values.get("hw_val_accuracy") or {}
    scale = 100 if reported and max(reported.values()) <= 1.0 else 1
    student = {init: (reported[init] - reported[base]) * scale for init in hw["he_initializers"]
               if init in reported and base in reported}
    seeds = {}
    for init in hw["he_initializers"]:
        diffs = [(runs[init].final_val_accuracy - runs[base].final_val_accuracy) * 100
                 for runs in ctx.retraining.seeds.values() if init in runs and base in runs]
        if diffs:
            mean, low, high = mean_ci(diffs)
            seeds[init] = {"diffs": diffs, "mean": mean, "ci95": [low, high],
                           "holds": sum(d >= need for d in diffs), "n": len(diffs)}
    evidence = {"grader_diff_pp": grader, "student_diff_pp": student, "seeds": seeds, "criterion_pp": need}
    holds = {init: d >= need for init, d in grader.items()}
    g = ", ".join(f"{k} − {base}: {v:+.2f} pp" for k, v in grader.items())
    s = ", ".join(f"{k} − {base}: {v:+.2f} pp" for k, v in student.items()) or "—"
    seed_text_es = "".join(f" Con {v['n']} semillas, {k}: media {v['mean']:+.2f} pp, IC95 {v['ci95'][0]:+.2f} … {v['ci95'][1]:+.2f}; se cumple en {v['holds']} de {v['n']}."
                           for k, v in seeds.items())
    seed_text_en = "".join(f" Over {v['n']} seeds, {k}: mean {v['mean']:+.2f} pp, 95% CI {v['ci95'][0]:+.2f} … {v['ci95'][1]:+.2f}; holds in {v['holds']} of {v['n']}."
                           for k, v in seeds.items())
    status = "pass" if holds and all(holds.values()) else "warn"
    return Outcome(status, 1.0 if status == "pass" else 0.0,
                   T(f"Grader (semilla {ctx.rubric.protocol.seed}): {g}. Estudiante: {s}.{seed_text_es} "
                     "Una semilla no decide: el ruido entre semillas (±1–3 pp) es mayor que el umbral de 0.5 pp, así que este resultado no se usa para aprobar ni reprobar.",
                     f"Grader (seed {ctx.rubric.protocol.seed}): {g}. Student: {s}.{seed_text_en} "
                     "One seed decides nothing: seed-to-seed noise (±1–3 pp) is larger than the 0.5 pp threshold, so this result neither passes nor fails you."),
                   T(f"≥ +{need} pp", f"≥ +{need} pp"), T(g, g), evidence)


# --- Exercises 2–5 ---------------------------------------------------------------------------

def _exercise_runs(ctx: Context, prefix: str) -> dict:
    r = ctx.retraining
    if r is None:
        return {}
    return {label.split(":", 1)[1]: run for label, run in r.exercises.items() if label.startswith(prefix + ":")}


def _not_recomputed(ctx: Context, prefix: str) -> Outcome | None:
    if _exercise_runs(ctx, prefix):
        return None
    why = (ctx.retraining.error if ctx.retraining and ctx.retraining.error else "el grader no recalculó este ejercicio")
    return Outcome("warn", 0.0, T(f"No verificado: {why}.", f"Not verified: {why}."))


def _compare_curves(student: dict, runs: dict, metric: str, close) -> tuple[dict, list]:
    """Student's curve vs the grader's run at their last common epoch: (rows, labels that differ)."""
    rows, off = {}, []
    for label, run in runs.items():
        mine_curve, theirs_curve = student.get(label, {}).get(metric, []), run.history.get(metric, [])
        epoch = min(len(mine_curve), len(theirs_curve))
        if not epoch:
            off.append(label)
            continue
        mine, theirs = mine_curve[epoch - 1], theirs_curve[epoch - 1]
        rows[label] = {"epoch": epoch, "student": mine, "grader": theirs}
        if not close(mine, theirs):
            off.append(label)
    return rows, off


@check("ex2_curves",
       T("Ej. 2 — curvas de val_loss de Glorot, He y RandomNormal(0.01)", "Ex. 2 — val_loss curves for Glorot, He and RandomNormal(0.01)"),
       T("Ver las tres curvas juntas muestra qué hace la inicialización: con ReLU, He y Glorot aprenden; la normal diminuta casi no se mueve.",
         "Seeing the three curves together shows what initialization does: with ReLU, He and Glorot learn; the tiny normal barely moves."))
def ex2_curves(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "ex2_histories")):
        return missing
    if (skip := _not_recomputed(ctx, "ex2")):
        return skip
    tol = ctx.rubric.exercises["ex2"]["val_loss_tolerance"]
    runs = _exercise_runs(ctx, "ex2")
    rows, off = _compare_curves(ctx.extracted.values["ex2_histories"], runs, "val_loss",
                                lambda mine, theirs: abs(mine - theirs) <= tol * max(theirs, 0.1))
    if not off:
        return Outcome("pass", 1.0, T("Sus tres curvas coinciden con las del grader (ver el gráfico).",
                                      "Your three curves match the grader's (see the plot)."), evidence=rows)
    text = "; ".join(f"{label}: val_loss {rows[label]['student']:.3f} en la época {rows[label]['epoch']} (grader {rows[label]['grader']:.3f})"
                     if label in rows else f"{label}: sin val_loss" for label in off)
    return Outcome("fail", (len(runs) - len(off)) / len(runs),
                   T(f"Curvas distintas de las esperadas: {text}. Revise que cada corrida use su inicializador y el protocolo.",
                     f"Curves differ from the expected ones: {text}. Check each run uses its initializer and the protocol."),
                   evidence=rows)


@check("ex2_vanishing",
       T("Ej. 2 — la firma del vanishing con RandomNormal(0.01)", "Ex. 2 — the vanishing signature of RandomNormal(0.01)"),
       T("Con pesos de desviación 0.01, cada capa multiplica la varianza por ~fan_in·10⁻⁴: la señal se apaga capa a capa y la pérdida queda en ln 10 ≈ 2.30 al principio.",
         "With weights of std 0.01 each layer multiplies variance by ~fan_in·10⁻⁴: the signal dies layer by layer and the loss sits at ln 10 ≈ 2.30 early on."))
def ex2_vanishing(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "ex2_histories")):
        return missing
    if (skip := _not_recomputed(ctx, "ex2")):
        return skip
    ex = ctx.rubric.exercises["ex2"]
    grader = _exercise_runs(ctx, "ex2").get("random_normal")
    variances = [layer["var"] for layer in grader.activations.get("init", [])] if grader else []
    collapse = variances[-2] / variances[0] if len(variances) > 2 and variances[0] > 0 else None
    student = ctx.extracted.values["ex2_histories"].get("random_normal", {})
    first = (student.get("val_loss") or [None])[0]
    evidence = {"grader_hidden_variances_at_init": variances[:-1], "collapse_ratio": collapse, "student_first_val_loss": first,
                "grader_first_val_loss": grader.history["val_loss"][0] if grader else None}
    shows = first is not None and first >= ex["stuck_loss"]
    collapse_text = f"{collapse:.1e}" if collapse is not None else "?"
    if shows:
        return Outcome("pass", 1.0,
                       T(f"Su corrida RandomNormal(0.01) empieza con val_loss {first:.3f} ≈ ln 10: la red casi no aprende al principio. "
                         f"En el grader, la varianza de las activaciones cae ×{collapse_text} de la primera a la última capa oculta.",
                         f"Your RandomNormal(0.01) run starts with val_loss {first:.3f} ≈ ln 10: the net barely learns at first. "
                         f"In the grader's run activation variance drops ×{collapse_text} from the first to the last hidden layer."),
                       evidence=evidence)
    return Outcome("fail", 0.0,
                   T(f"Su corrida 'random_normal' no muestra la firma esperada (val_loss de la 1.ª época {first if first is not None else '—'}, "
                     f"se esperaba ≥ {ex['stuck_loss']}). ¿Usó keras.initializers.RandomNormal(stddev=0.01) en todas las capas?",
                     f"Your 'random_normal' run does not show the expected signature (first-epoch val_loss {first if first is not None else '—'}, "
                     f"expected ≥ {ex['stuck_loss']}). Did you use keras.initializers.RandomNormal(stddev=0.01) on every layer?"),
                   evidence=evidence, mistakes=())


@check("ex3_layer_variances",
       T("Ej. 3 — la varianza de las activaciones se mantiene entre capas", "Ex. 3 — activation variance stays similar across layers"),
       T("Es la idea central de la clase: con la inicialización correcta, la señal ni explota ni se apaga al atravesar las capas.",
         "This is the class's central idea: with the right initialization the signal neither explodes nor dies through the layers."))
def ex3_layer_variances(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "ex3_activation_variances")):
        return missing
    ex = ctx.rubric.exercises["ex3"]
    values = ctx.extracted.values["ex3_activation_variances"]
    hidden = values[:-1] if len(values) > 1 else values
    ratio = hidden_variance_ratio(values)
    if not math.isfinite(ratio):
        return Outcome("fail", 0.0, T("Se esperaba una varianza positiva por capa Dense.", "Expected one positive variance per Dense layer."),
                       evidence={"values": values})
    grader = _exercise_runs(ctx, "ex2").get("he_normal")
    evidence = {"student": values, "hidden_ratio": ratio, "limit": ex["similar_ratio_max"]}
    close = True
    if grader and grader.activations:
        refs = {stage: [layer["var"] for layer in grader.activations.get(stage, [])][:-1] for stage in ("init", "trained")}
        evidence["grader"] = refs
        factor = ex["variance_factor"]
        close = any(len(ref) == len(hidden) and all(1 / factor <= v / r <= factor for v, r in zip(hidden, ref) if r > 0)
                    for ref in refs.values())
    model_problem = _ex3_model_problem(ctx, evidence)
    if ratio <= ex["similar_ratio_max"] and close and model_problem is None:
        checked = "ex3_model" in evidence
        return Outcome("pass", 1.0, T(f"Capas ocultas: máx/mín = {ratio:.2f} ≤ {ex['similar_ratio_max']:g}, y del orden de las del grader."
                                      + (" Los kernels de `ex3_model` siguen su inicializador He." if checked else
                                         " Defina `ex3_model` (el modelo recién construido) para que el grader verifique que es He: "
                                         "esta razón sola no distingue Glorot de He con 4 capas."),
                                      f"Hidden layers: max/min = {ratio:.2f} ≤ {ex['similar_ratio_max']:g}, and of the grader's order."
                                      + (" The kernels of `ex3_model` follow its He initializer." if checked else
                                         " Define `ex3_model` (the freshly built model) so the grader can check it is He: "
                                         "this ratio alone cannot tell Glorot from He over 4 layers.")),
                       evidence=evidence)
    why_es, why_en = [f"máx/mín = {ratio:.2f}"], [f"max/min = {ratio:.2f}"]
    if not close:
        why_es.append("lejos de las varianzas que calcula el grader para He + ReLU")
        why_en.append("far from the variances the grader computes for He + ReLU")
    mistakes = ()
    if model_problem is not None:
        why_es.append(model_problem[0])
        why_en.append(model_problem[1])
        mistakes = model_problem[2]
    return Outcome("fail", 0.0, T(f"Varianzas por capa: {'; '.join(why_es)}. Mídalas sobre el modelo bien inicializado (He + ReLU) recién "
                                  "construido, antes de entrenar, con un mismo batch: el ejercicio es sobre la inicialización.",
                                  f"Per-layer variances: {'; '.join(why_en)}. Measure them on the well-initialized model (He + ReLU) right after "
                                  "building it, before training, on one batch: the exercise is about initialization."),
                   evidence=evidence, mistakes=mistakes)


def _ex3_model_problem(ctx: Context, evidence: dict) -> tuple[str, str, tuple] | None:
    """With the optional `ex3_model`, what the variances alone cannot show: its hidden layers
    are ReLU and declare a He initializer, and their fresh kernels follow it (calibrated:
    grader/calibration.py, 100 % of Glorot kernels rejected at these shapes)."""
    model = ctx.extracted.values.get("ex3_model")
    if not isinstance(model, ModelDesc) or len(model.dense) < 2:
        return None
    hidden = model.dense[:-1]
    declared = sorted({layer.kernel_init.describe() for layer in hidden})
    activations = sorted({layer.activation for layer in hidden})
    evidence["ex3_model"] = {"declared": declared, "activations": activations}
    if activations != ["relu"]:
        return (f"las capas ocultas de `ex3_model` usan {', '.join(activations)}, no ReLU",
                f"the hidden layers of `ex3_model` use {', '.join(activations)}, not ReLU", ())
    if len(declared) != 1 or not declared[0].startswith("he_"):
        mistakes = ("glorot_with_relu",) if any(name.startswith("glorot") for name in declared) else ()
        return (f"`ex3_model` declara {', '.join(declared)} en sus capas ocultas; con ReLU corresponde He",
                f"`ex3_model` declares {', '.join(declared)} on its hidden layers; ReLU calls for He", mistakes)
    kernels = [layer.kernel for layer in hidden if layer.kernel is not None]
    fit = fit_kernels(kernels, InitSpec(declared[0]), ctx.rubric.tolerances["alpha"]) if kernels else None
    if fit is None:
        return None
    evidence["ex3_model"].update(ok=fit.ok, ks_p=fit.pooled_ks_p, z=[layer.variance.z for layer in fit.layers])
    if fit.ok:
        return None
    best, _ = best_match(kernels, ctx.rubric.tolerances["alpha"])
    evidence["ex3_model"]["best_match"] = best
    return (f"los kernels de `ex3_model` no son los de un {declared[0]} recién inicializado (se parecen a {best}; ¿lo entrenó antes de medir?)",
            f"the kernels of `ex3_model` are not those of a freshly initialized {declared[0]} (they look like {best}; did you train it before measuring?)",
            ("glorot_with_relu",) if best.startswith("glorot") else ())


@check("ex4_tanh",
       T("Ej. 4 — He con tanh contra Glorot con tanh", "Ex. 4 — He with tanh versus Glorot with tanh"),
       T("He está pensado para ReLU; con tanh (simétrica, no 'mata' la mitad) Glorot es la combinación correcta.",
         "He is designed for ReLU; with tanh (symmetric, kills nothing) Glorot is the right match."))
def ex4_tanh(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "ex4_histories")):
        return missing
    if (skip := _not_recomputed(ctx, "ex4")):
        return skip
    ex = ctx.rubric.exercises["ex4"]
    runs = _exercise_runs(ctx, "ex4")
    rows, off = _compare_curves(ctx.extracted.values["ex4_histories"], runs, "val_accuracy",
                                lambda mine, theirs: abs(mine - theirs) * 100 <= ex["val_accuracy_pp"])
    diff = lambda who: (rows["glorot_uniform_tanh"][who] - rows["he_normal_tanh"][who]) * 100 if len(rows) == 2 else None
    student_diff, grader_diff = diff("student"), diff("grader")
    noise = ex["noise_pp"]
    reading_es = reading_en = ""
    if grader_diff is not None:
        within = abs(grader_diff) <= noise
        reading_es = (f" Glorot − He: usted {student_diff:+.2f} pp, grader {grader_diff:+.2f} pp; "
                      + (f"una diferencia dentro del ruido entre semillas (±{noise} pp): con tan pocas épocas no se puede afirmar cuál es mejor."
                         if within else "mayor que el ruido entre semillas."))
        reading_en = (f" Glorot − He: you {student_diff:+.2f} pp, grader {grader_diff:+.2f} pp; "
                      + (f"within seed-to-seed noise (±{noise} pp): with so few epochs neither can be called better."
                         if within else "larger than seed-to-seed noise."))
    evidence = {**rows, "noise_pp": noise, "student_diff_pp": student_diff, "grader_diff_pp": grader_diff}
    if not off:
        return Outcome("pass", 1.0, T("Sus curvas coinciden con las del grader." + reading_es, "Your curves match the grader's." + reading_en),
                       evidence=evidence)
    return Outcome("fail", 0.0, T(f"Curvas distintas de las esperadas en {', '.join(off)}." + reading_es,
                                  f"Curves differ from the expected ones for {', '.join(off)}." + reading_en), evidence=evidence)


@check("ex5_reproducibility",
       T("Ej. 5 — misma semilla, mismos pesos; sin semilla, distintos", "Ex. 5 — same seed, same weights; no seed, different"),
       T("Fijar la semilla antes de construir el modelo hace reproducible la inicialización y el orden de los datos; sin ella cada corrida es otra.",
         "Seeding before building the model makes the initialization and data order reproducible; without it every run differs."))
def ex5_reproducibility(ctx: Context) -> Outcome:
    if (missing := _missing(ctx, "ex5_same_seed_identical", "ex5_no_seed_differs")):
        return missing
    probe = ctx.retraining.exercises.get("ex5:repro") if ctx.retraining else None
    if probe is None:
        return Outcome("warn", 0.0, T("No verificado: el grader no pudo correr la prueba de reproducibilidad.",
                                      "Not verified: the grader could not run the reproducibility probe."))
    seen_same, seen_differs = probe.extra["same_seed_identical"], probe.extra["no_seed_differs"]
    said_same = ctx.extracted.values["ex5_same_seed_identical"]
    said_differs = ctx.extracted.values["ex5_no_seed_differs"]
    evidence = {"grader_same_seed_identical": seen_same, "grader_no_seed_differs": seen_differs,
                "grader_max_abs_diff": probe.extra.get("same_seed_max_abs_diff"),
                "student_same_seed_identical": said_same, "student_no_seed_differs": said_differs}
    if not seen_same:
        return Outcome("warn", 1.0,
                       T("En esta máquina, dos entrenamientos con la misma semilla no dieron pesos idénticos bit a bit "
                         "(la plataforma no es determinista); no se le descuenta nada.",
                         "On this machine two trainings with the same seed did not give bit-identical weights "
                         "(the platform is not deterministic); nothing is deducted."), evidence=evidence)
    if said_same == seen_same and said_differs == seen_differs:
        return Outcome("pass", 1.0, T("Lo que reporta coincide con lo que observó el grader al entrenar su modelo dos veces con y sin semilla.",
                                      "What you report matches what the grader saw training your model twice with and without a seed."),
                       evidence=evidence)
    return Outcome("fail", 0.0,
                   T(f"Reporta misma semilla → idénticos = {said_same}, sin semilla → distintos = {said_differs}; el grader observó "
                     f"{seen_same} y {seen_differs}. Llame keras.utils.set_random_seed(42) antes de construir cada modelo y compare con np.array_equal.",
                     f"You report same seed → identical = {said_same}, no seed → different = {said_differs}; the grader saw "
                     f"{seen_same} and {seen_differs}. Call keras.utils.set_random_seed(42) before building each model and compare with np.array_equal."),
                   evidence=evidence)


# --- running ------------------------------------------------------------------------------

def run_checks(ctx: Context) -> list[CheckResult]:
    results = []
    for spec in ctx.rubric.checks:
        function = CHECKS.get(spec.id)
        if function is None:
            outcome = Outcome("error", 0.0, T(f"check desconocido {spec.id!r}", f"unknown check {spec.id!r}"))
        else:
            try:
                outcome = function(ctx)
            except Exception as exc:  # a grader bug must not hide the other checks
                outcome = Outcome("error", 0.0, T(f"error interno del grader: {exc!r}", f"grader internal error: {exc!r}"))
        points = round(spec.points * outcome.fraction, 2) if outcome.status != "error" else 0.0
        results.append(CheckResult(spec.id, spec.exercise, outcome.status, points, spec.points,
                                   TITLES.get(spec.id, T(spec.id, spec.id)), WHY.get(spec.id, T("", "")),
                                   outcome.message, outcome.expected, outcome.found, _jsonable(outcome.evidence), outcome.mistakes))
    return results


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


__all__ = ["Context", "CheckResult", "Retraining", "T", "run_checks", "CHECKS"]
