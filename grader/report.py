"""Stage 4: one self-contained HTML report (autoescaped, inline CSS, PNG data URIs).

Everything the student wrote (outputs, tracebacks, file names, dict keys) reaches the page only
through Jinja2 autoescaping; figures are PNG images, so nothing in them can run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import numpy as np

from . import plots
from .initializers import glorot_limit

REFERENCE = Path(__file__).resolve().parent.parent / "reference"
MISTAKES = json.loads((REFERENCE / "mistakes.json").read_text())

UI = {
    "es": {
        "title": "Informe de corrección — Clase 108: Inicialización", "student": "Estudiante", "score": "Puntaje",
        "status": "Estado", "summary": "Resumen", "mistakes": "Errores comunes detectados", "checks": "Verificaciones",
        "expected": "Esperado", "found": "Encontrado", "why": "Por qué importa", "how": "Cómo arreglarlo",
        "evidence": "Evidencia", "points": "puntos", "curves": "Curvas de validación: su entrenamiento y el del grader",
        "curves_alt": "val_accuracy y val_loss por época para cada inicializador; líneas continuas: estudiante; discontinuas: grader",
        "init_hist": "Pesos iniciales de build_model contra la densidad teórica",
        "init_alt": "Histogramas de los pesos iniciales de la primera y la última capa para cada inicializador, con la densidad teórica superpuesta",
        "ex1_hist": "Ejercicio 1: el kernel de Dense(128) y el intervalo de Glorot",
        "ex1_alt": "Histograma de ex1_kernel con la densidad uniforme de Glorot y el límite calculado por el estudiante",
        "norms": "Normas de los kernels por capa, antes y después de entrenar",
        "norms_alt": "Barras con la norma de Frobenius de cada kernel: estudiante y grader, antes y después",
        "seeds": "¿Cuánto pesa una semilla? He − Glorot en varias semillas",
        "seeds_alt": "Un punto por semilla con la diferencia He menos Glorot en puntos porcentuales, la media, su intervalo de confianza y la línea de 0.5 pp",
        "noise_title": "Sobre el criterio «He ≥ Glorot + 0.5 pp»",
        "noise": ("Medido en esta máquina con el protocolo del curso (5 semillas), he_uniform − glorot_uniform dio en promedio −0.06 pp "
                  "(IC 95 % −0.75 … +0.63) y he_normal − glorot_uniform +0.58 pp (IC 95 % −1.31 … +2.46): el criterio se cumplió en 1 de 5 "
                  "semillas para cada variante de He. La diferencia entre semillas (1–3 pp) es mayor que el umbral, así que una sola corrida "
                  "no demuestra que He sea mejor ni peor. Por eso este punto se informa pero no se califica: lo que se califica es lo que usted "
                  "controla (inicializadores correctos, una corrida genuina que el grader reproduce y números honestos). "
                  "Con ReLU, He mantiene la varianza de las activaciones estable capa a capa; en una red de 5 capas entrenada 20 épocas con SGD, "
                  "esa ventaja se nota sobre todo al principio del entrenamiento."),
        "cells": "Celdas que fallaron", "cell": "Celda", "sandbox": "Entorno de ejecución y límites",
        "sandbox_none": "ADVERTENCIA: el código se ejecutó SIN sandbox (sin aislamiento de red ni de archivos).",
        "data": "Datos", "data_real": "Fashion-MNIST real (checksums verificados)",
        "data_subset": "Subconjunto de Fashion-MNIST para pruebas (no es el protocolo completo)",
        "protocol": "Protocolo de reentrenamiento", "cached": "resultado tomado de la caché",
        "retrain_source": "Modelo reentrenado", "none_found": "Ninguno.",
        "status_names": {"pass": "correcto", "fail": "incorrecto", "warn": "atención", "error": "error del grader"},
        "run_status": {"graded": "corregido", "invalid_submission": "entrega inválida", "timeout": "tiempo agotado",
                       "memory_limit": "límite de memoria", "process_limit": "límite de procesos", "crashed": "la ejecución se interrumpió",
                       "grader_error": "error del corrector"},
        "labels": {"student": "estudiante", "grader": "grader", "epoch": "época", "weights": "pesos", "theory": "teoría",
                   "layer": "capa", "log_count": "frecuencia, escala log", "your_limit": "su ex1_limit", "student_before": "estudiante antes", "student_after": "estudiante después",
                   "grader_before": "grader antes", "grader_after": "grader después", "diff_pp": "diferencia de val_accuracy (pp)"},
        "exercises": {"ex1": "Ejercicio 1 — defaults de Keras", "hw": "Tarea — MLP en Fashion-MNIST",
                      "ex2": "Ejercicio 2 — Glorot, He y RandomNormal(0.01)", "ex3": "Ejercicio 3 — histogramas de activaciones",
                      "ex4": "Ejercicio 4 — He con tanh", "ex5": "Ejercicio 5 — reproducibilidad"},
        "ex2_fig": "Ejercicio 2: val_loss de las tres inicializaciones (MLP [512, 256, 128, 64, 10], ReLU)",
        "ex2_alt": "val_loss por época para glorot_uniform, he_normal y random_normal; continuas: estudiante; discontinuas: grader. La curva random_normal queda plana cerca de 2.30 al principio: la señal se apaga.",
        "ex3_fig": "Ejercicio 3: salida de cada capa Dense para un mismo batch, al inicializar (frecuencias en escala logarítmica: ReLU deja en 0 cerca de la mitad)",
        "ex3_alt": "Una fila de histogramas por modelo (He + ReLU, Glorot + ReLU, RandomNormal(0.01)); con He la dispersión se mantiene entre capas, con RandomNormal se encoge capa a capa hasta casi cero.",
        "ex4_fig": "Ejercicio 4: val_accuracy con tanh, He contra Glorot",
        "ex4_alt": "val_accuracy por época para he_normal_tanh y glorot_uniform_tanh; continuas: estudiante; discontinuas: grader",
        "generated": "Generado", "message": "Mensaje", "symptom": "Síntoma", "fix": "Arreglo de la clase",
    },
    "en": {
        "title": "Grading report — Class 108: Initialization", "student": "Student", "score": "Score",
        "status": "Status", "summary": "Summary", "mistakes": "Common mistakes found", "checks": "Checks",
        "expected": "Expected", "found": "Found", "why": "Why it matters", "how": "How to fix it",
        "evidence": "Evidence", "points": "points", "curves": "Validation curves: your training and the grader's",
        "curves_alt": "val_accuracy and val_loss per epoch for each initializer; solid: student; dashed: grader",
        "init_hist": "Initial weights from build_model against the theoretical density",
        "init_alt": "Histograms of the first and last layer's initial weights for each initializer, with the theoretical density on top",
        "ex1_hist": "Exercise 1: the Dense(128) kernel and Glorot's interval",
        "ex1_alt": "Histogram of ex1_kernel with Glorot's uniform density and the student's computed limit",
        "norms": "Kernel norms per layer, before and after training",
        "norms_alt": "Bars with each kernel's Frobenius norm: student and grader, before and after",
        "seeds": "How much does one seed say? He − Glorot over several seeds",
        "seeds_alt": "One dot per seed with He minus Glorot in percentage points, the mean, its confidence interval and the 0.5 pp line",
        "noise_title": "About the criterion “He ≥ Glorot + 0.5 pp”",
        "noise": ("Measured on this machine under the course protocol (5 seeds), he_uniform − glorot_uniform averaged −0.06 pp "
                  "(95% CI −0.75 … +0.63) and he_normal − glorot_uniform +0.58 pp (95% CI −1.31 … +2.46): the criterion held in 1 of 5 seeds "
                  "for each He variant. Seed-to-seed differences (1–3 pp) exceed the threshold, so one run proves neither that He is better nor worse. "
                  "That is why this item is reported, not scored: what is scored is what you control (the right initializers, a genuine run the "
                  "grader reproduces, honest numbers). With ReLU, He keeps activation variance stable layer to layer; on a 5-layer net trained "
                  "20 epochs with SGD the advantage shows mostly early in training."),
        "cells": "Cells that failed", "cell": "Cell", "sandbox": "Execution environment and limits",
        "sandbox_none": "WARNING: the code ran WITHOUT a sandbox (no network or file isolation).",
        "data": "Data", "data_real": "Real Fashion-MNIST (checksums verified)",
        "data_subset": "Fashion-MNIST subset for tests (not the full protocol)",
        "protocol": "Retraining protocol", "cached": "result served from the cache",
        "retrain_source": "Model retrained", "none_found": "None.",
        "status_names": {"pass": "pass", "fail": "fail", "warn": "warning", "error": "grader error"},
        "run_status": {"graded": "graded", "invalid_submission": "invalid submission", "timeout": "timed out",
                       "memory_limit": "memory limit", "process_limit": "process limit", "crashed": "the run was interrupted",
                       "grader_error": "grader error"},
        "labels": {"student": "student", "grader": "grader", "epoch": "epoch", "weights": "weights", "theory": "theory",
                   "layer": "layer", "log_count": "count, log scale", "your_limit": "your ex1_limit", "student_before": "student before", "student_after": "student after",
                   "grader_before": "grader before", "grader_after": "grader after", "diff_pp": "val_accuracy difference (pp)"},
        "exercises": {"ex1": "Exercise 1 — Keras defaults", "hw": "Homework — MLP on Fashion-MNIST",
                      "ex2": "Exercise 2 — Glorot, He and RandomNormal(0.01)", "ex3": "Exercise 3 — activation histograms",
                      "ex4": "Exercise 4 — He with tanh", "ex5": "Exercise 5 — reproducibility"},
        "ex2_fig": "Exercise 2: val_loss of the three initializations (MLP [512, 256, 128, 64, 10], ReLU)",
        "ex2_alt": "val_loss per epoch for glorot_uniform, he_normal and random_normal; solid: student; dashed: grader. The random_normal curve stays flat near 2.30 at first: the signal dies.",
        "ex3_fig": "Exercise 3: each Dense layer's output for one batch, at initialization (counts on a log scale: ReLU sends about half to 0)",
        "ex3_alt": "One row of histograms per model (He + ReLU, Glorot + ReLU, RandomNormal(0.01)); with He the spread stays across layers, with RandomNormal it shrinks layer by layer to almost zero.",
        "ex4_fig": "Exercise 4: val_accuracy with tanh, He versus Glorot",
        "ex4_alt": "val_accuracy per epoch for he_normal_tanh and glorot_uniform_tanh; solid: student; dashed: grader",
        "generated": "Generated", "message": "Message", "symptom": "Symptom", "fix": "The class's fix",
    },
}

RUN_MESSAGES = {
    "timeout": {"es": "Su código superó el tiempo máximo. Revise bucles infinitos y que las celdas de entrenamiento usen 20 épocas, no más.",
                "en": "Your code exceeded the time limit. Look for infinite loops, and train 20 epochs, not more."},
    "memory_limit": {"es": "Su código superó el límite de memoria y el proceso fue detenido. Evite copias enormes de los datos.",
                     "en": "Your code exceeded the memory limit and was stopped. Avoid huge copies of the data."},
    "process_limit": {"es": "Su código creó demasiados procesos o hilos y fue detenido.", "en": "Your code created too many processes or threads and was stopped."},
    "crashed": {"es": "La ejecución se interrumpió antes de terminar (el proceso murió). Las verificaciones usan solo lo que alcanzó a producir.",
                "en": "The run stopped before finishing (the process died). Checks use only what it produced."},
    "invalid_submission": {"es": "No se pudo leer la entrega.", "en": "The submission could not be read."},
    "grader_error": {"es": "El corrector falló con esta entrega (no es culpa suya); se volverá a corregir.",
                     "en": "The grader failed on this submission (not your fault); it will be graded again."},
}

SYMBOL = {"pass": "✔", "fail": "✘", "warn": "!", "error": "?"}


def terminal_summary(result, lang: str = "es") -> str:
    """What a person reads in the terminal: score, each check, and what to fix."""
    ui = UI["en" if lang == "en" else "es"]
    lines = [f"{result.display_name}: {result.score:g} / {result.max_score:g}  ({ui['run_status'].get(result.status, result.status)})"]
    if result.message:
        lines.append(f"  {result.message.splitlines()[0][:200]}")
    if result.sandbox.get("level") == "none" and result.sandbox.get("note"):
        lines.append(f"  nota: {result.sandbox['note']}")
    for check in result.checks:
        lines.append(f"  {SYMBOL.get(check.status, '?')} {check.points:>4g}/{check.max_points:<3g} {check.title(lang)}")
        if check.status != "pass":
            lines.append(f"      {check.message(lang).splitlines()[0][:160]}")
            for code in check.mistakes:
                fix = MISTAKES.get(code, {}).get("fix", {}).get(lang, "")
                lines.append(f"      → [{code}] {fix[:200]}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Material:
    """What the report draws from beyond the result: the validated values and the runs."""

    extracted: object
    retraining: object
    execution: object


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
                              autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _figures(result, material: Material | None, rubric, ui: dict) -> list[dict]:
    if material is None:
        return []
    labels = ui["labels"]
    values = material.extracted.values
    figures = []
    inits = rubric.homework["initializers"]
    student_hist = {k: v for k, v in (values.get("hw_histories") or {}).items() if k in inits}
    grader_hist = {k: run.history for k, run in (material.retraining.main or {}).items()}
    if (uri := plots.curves(student_hist, grader_hist, labels)):
        figures.append({"title": ui["curves"], "alt": ui["curves_alt"], "uri": uri})
    if isinstance(values.get("ex1_kernel"), np.ndarray):
        fan_in, fan_out = rubric.exercise1["fan_in"], rubric.exercise1["fan_out"]
        uri = plots.ex1_histogram(values["ex1_kernel"], glorot_limit(fan_in, fan_out), values.get("ex1_limit"), labels)
        figures.append({"title": ui["ex1_hist"], "alt": ui["ex1_alt"], "uri": uri})
    if (uri := plots.initial_histograms(values.get("build_model") or {}, labels)):
        figures.append({"title": ui["init_hist"], "alt": ui["init_alt"], "uri": uri})
    grader_norms = {k: {"before": run.kernel_norms_before, "after": run.kernel_norms_after}
                    for k, run in (material.retraining.main or {}).items()}
    before = {k: v for k, v in (values.get("hw_kernel_norms_before") or {}).items() if k in inits}
    after = {k: v for k, v in (values.get("hw_kernel_norms_after") or {}).items() if k in inits}
    if (uri := plots.norms(before, after, grader_norms, labels)):
        figures.append({"title": ui["norms"], "alt": ui["norms_alt"], "uri": uri})
    exercises = getattr(material.retraining, "exercises", {}) or {}
    runs = lambda prefix: {label.split(":", 1)[1]: run for label, run in exercises.items() if label.startswith(prefix + ":")}
    ex2_keys = ("glorot_uniform", "he_normal", "random_normal")
    student_ex2 = {k: v for k, v in (values.get("ex2_histories") or {}).items() if k in ex2_keys}
    if (uri := plots.exercise_curves(student_ex2, {k: r.history for k, r in runs("ex2").items()}, "val_loss", labels)):
        figures.append({"title": ui["ex2_fig"], "alt": ui["ex2_alt"], "uri": uri})
    names = {"he_normal": "He + ReLU", "glorot_uniform": "Glorot + ReLU", "random_normal": "RandomNormal(0.01)"}
    rows = {names[k]: runs("ex2")[k].activations.get("init", []) for k in ("he_normal", "glorot_uniform", "random_normal") if k in runs("ex2")}
    if (uri := plots.activation_rows(rows, labels)):
        figures.append({"title": ui["ex3_fig"], "alt": ui["ex3_alt"], "uri": uri})
    ex4_keys = ("he_normal_tanh", "glorot_uniform_tanh")
    student_ex4 = {k: v for k, v in (values.get("ex4_histories") or {}).items() if k in ex4_keys}
    if (uri := plots.exercise_curves(student_ex4, {k: r.history for k, r in runs("ex4").items()}, "val_accuracy", labels)):
        figures.append({"title": ui["ex4_fig"], "alt": ui["ex4_alt"], "uri": uri})
    criterion = next((c for c in result.checks if c.id == "hw_he_criterion"), None)
    seeds = criterion.evidence.get("seeds") if criterion else None
    if seeds and (uri := plots.seed_dots(seeds, rubric.homework["criterion_pp"], labels)):
        figures.append({"title": ui["seeds"], "alt": ui["seeds_alt"], "uri": uri})
    return figures


def _fmt_evidence(evidence: dict) -> str:
    def clean(value):
        if isinstance(value, float):
            return float(f"{value:.6g}") if math.isfinite(value) else str(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value[:30]]
        return value
    return json.dumps(clean(evidence), ensure_ascii=False, indent=1)[:4000]


def render(result, material: Material | None, rubric, lang: str = "es") -> str:
    ui = UI["en" if lang == "en" else "es"]
    mistakes = {}
    for check in result.checks:
        for code in check.mistakes:
            entry = MISTAKES.get(code, {})
            mistakes.setdefault(code, {"code": code, "symptom": entry.get("symptom", {}).get(lang, code),
                                       "fix": entry.get("fix", {}).get(lang, ""), "checks": []})["checks"].append(check.title(lang))
    groups = []
    for exercise in ("ex1", "hw", "ex2", "ex3", "ex4", "ex5"):
        items = [c for c in result.checks if c.exercise == exercise]
        if items:
            groups.append({"name": ui["exercises"].get(exercise, exercise), "checks": [{
                "id": c.id, "status": c.status, "status_name": ui["status_names"].get(c.status, c.status),
                "points": c.points, "max_points": c.max_points, "title": c.title(lang), "message": c.message(lang),
                "expected": c.expected(lang), "found": c.found(lang), "why": c.why(lang),
                "fixes": [MISTAKES.get(code, {}).get("fix", {}).get(lang, "") for code in c.mistakes],
                "mistakes": list(c.mistakes), "evidence": _fmt_evidence(c.evidence) if c.evidence else ""} for c in items],
                "score": sum(c.points for c in items), "max": sum(c.max_points for c in items)})
    cells = [cell for cell in result.execution.get("cells", []) if cell["status"] in ("error", "timeout")]
    template = _env().get_template("report.html.j2")
    return template.render(ui=ui, lang=lang, r=result, groups=groups, mistakes=list(mistakes.values()),
                           figures=_figures(result, material, rubric, ui), cells=cells,
                           run_message=RUN_MESSAGES.get(result.status, {}).get(lang, ""),
                           protocol=rubric.protocol.to_json(),
                           generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


__all__ = ["render", "terminal_summary", "Material", "UI", "MISTAKES"]
