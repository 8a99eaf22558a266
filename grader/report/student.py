"""One student's report: a self-contained HTML page (autoescaped, inline CSS, PNG data URIs).

Everything the student wrote (outputs, tracebacks, file names, dict keys) reaches the page only
through Jinja2 autoescaping; figures are PNG images, so nothing in them can run. Every word of
the page is a catalog message in the reader's language, and every class fact it quotes (units,
epochs, the measured seed table, the criterion) is read from the rubric, so a teacher who edits
the rubric gets a report that says what the grader did.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import numpy as np

from ..initializers import glorot_limit
from ..messages import catalog, fill, language, render, text
from ..stats import mean_ci
from . import plots
from .output import write_text_atomic

TEMPLATES = Path(__file__).resolve().parent / "templates"
EXERCISE_ORDER = ("ex1", "hw", "ex2", "ex3", "ex4", "ex5")
ACTIVATION_NAMES = {"relu": "ReLU"}  # how the class writes an activation in prose; others as Keras names them
# Building blocks of longer sentences: rendered with their own parameters, not as page labels
_BLOCKS = {"noise", "noise_unmeasured", "noise_first", "noise_next", "holds_each", "holds_one", "and"}


@dataclass(frozen=True)
class Material:
    """What the report draws from beyond the result: the validated values and the runs."""

    extracted: object
    retraining: object
    execution: object


def and_join(items: list[str], lang: str) -> str:
    """"a, b y c" / "a, b and c"."""
    items = [str(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    return text(lang, "ui.and", head=", ".join(items[:-1]), last=items[-1])


def signed_pp(value: float) -> str:
    """A difference in percentage points as the class writes it: a sign always, a real minus."""
    if not math.isfinite(value):
        return "—"
    return f"{value:+.2f}".replace("-", "−")


def _family(ref) -> str:
    """How the prose names an initializer of the exercises: He, Glorot, RandomNormal(σ)."""
    if ref.name.startswith("he_"):
        return "He"
    if ref.name.startswith("glorot_"):
        return "Glorot"
    if ref.name == "random_normal":
        return f"RandomNormal({ref.params.get('stddev', 0.05):g})"  # 0.05: Keras's own default
    return ref.name


def _model_name(ref, activation: str) -> str:
    family = _family(ref)
    return family if ref.name == "random_normal" else f"{family} + {ACTIVATION_NAMES.get(activation, activation)}"


def _model_order(item) -> int:
    """Exercise 3 shows He first, then Glorot, then the rest: the order of the lesson."""
    return {"He": 0, "Glorot": 1}.get(_family(item[1]), 2)


def noise_paragraph(rubric, lang: str) -> str:
    """What the measured seed table says about the He ≥ Glorot + criterion, from the rubric."""
    hw = rubric.homework
    table = hw.measured.val_accuracy_pct
    inits = [init for init in hw.he_initializers
             if table and all(init in row and hw.baseline in row for row in table.values())]
    if not inits:
        return text(lang, "ui.noise_unmeasured")
    differences, holds = [], {}
    for position, init in enumerate(inits):
        diffs = [row[init] - row[hw.baseline] for row in table.values()]
        mean, low, high = mean_ci(diffs)
        differences.append(text(lang, "ui.noise_first" if position == 0 else "ui.noise_next", init=init, baseline=hw.baseline,
                                mean=signed_pp(mean), low=signed_pp(low), high=signed_pp(high)))
        holds[init] = sum(d >= hw.criterion_pp for d in diffs)
    seeds = len(table)
    if len(set(holds.values())) == 1:
        held = text(lang, "ui.holds_each", holds=next(iter(holds.values())), seeds=seeds)
    else:
        held = and_join([text(lang, "ui.holds_one", holds=n, seeds=seeds, init=init) for init, n in holds.items()], lang)
    facts = rubric.facts()
    return text(lang, "ui.noise", seeds=seeds, differences=and_join(differences, lang), holds=held, layers=facts["layers"],
                epochs=facts["epochs"], optimizer=facts["optimizer"])


def ui_texts(rubric, lang: str) -> dict:
    """Every label of the page in `lang`, class facts filled in; `ui.a.b` keys become ui["a"]["b"]."""
    lang = language(lang)
    facts = rubric.facts()
    params = {"criterion": rubric.homework.criterion_pp, "ex1_units": facts["ex1_units"],
              "ex2_units": "", "ex2_activation": "", "ex2_labels": "", "ex2_names": "", "ex3_models": "", "ex4_labels": "",
              "chance_loss": 0.0}
    if rubric.exercises is not None:
        ex2, ex4 = rubric.exercises.ex2, rubric.exercises.ex4
        models = sorted(ex2.runs.items(), key=_model_order)
        params.update(ex2_units=str(list(ex2.units)), ex2_activation=ACTIVATION_NAMES.get(ex2.activation, ex2.activation),
                      ex2_labels=and_join(list(ex2.runs), lang), ex2_names=and_join([_family(r) for r in ex2.runs.values()], lang),
                      ex3_models=", ".join(_model_name(ref, ex2.activation) for _, ref in models),
                      ex4_labels=and_join(list(ex4.runs), lang),
                      chance_loss=math.log(ex2.units[-1]))  # a softmax that learned nothing: ln(classes)
    ui: dict = {}
    for key, template in catalog(lang).items():
        if not key.startswith("ui."):
            continue
        name = key[3:]
        if name in _BLOCKS:
            continue
        value = fill(template, params)
        if "." in name:
            group, item = name.split(".", 1)
            ui.setdefault(group, {})[item] = value
        else:
            ui[name] = value
    ui["noise"] = noise_paragraph(rubric, lang)
    return ui


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def _figures(result, material: Material | None, rubric, ui: dict) -> list[dict]:
    if material is None:
        return []
    labels = ui["label"]
    values = material.extracted.values
    retraining = material.retraining
    hw = rubric.homework
    figures = []

    def add(title: str, alt: str, uri: str | None) -> None:
        if uri:
            figures.append({"title": ui[title], "alt": ui[alt], "uri": uri})

    inits = hw.initializers
    student_hist = {k: v for k, v in (values.get("hw_histories") or {}).items() if k in inits}
    grader_hist = {k: run.history for k, run in (retraining.main or {}).items()}
    add("curves", "curves_alt", plots.curves(student_hist, grader_hist, labels, inits))
    if isinstance(values.get("ex1_kernel"), np.ndarray):
        ex1 = rubric.exercise1
        add("ex1_hist", "ex1_alt", plots.ex1_histogram(values["ex1_kernel"], glorot_limit(ex1.fan_in, ex1.fan_out),
                                            values.get("ex1_limit"), labels))
    add("init_hist", "init_alt", plots.initial_histograms(values.get("build_model") or {}, labels, inits))
    grader_norms = {k: {"before": run.kernel_norms_before, "after": run.kernel_norms_after}
                    for k, run in (retraining.main or {}).items()}
    before = {k: v for k, v in (values.get("hw_kernel_norms_before") or {}).items() if k in inits}
    after = {k: v for k, v in (values.get("hw_kernel_norms_after") or {}).items() if k in inits}
    add("norms", "norms_alt", plots.norms(before, after, grader_norms, labels, hw.he_initializers))
    if rubric.exercises is not None:
        ex2_runs, ex4_runs = retraining.exercise("ex2"), retraining.exercise("ex4")
        ex2, ex4 = rubric.exercises.ex2, rubric.exercises.ex4
        student_ex2 = {k: v for k, v in (values.get("ex2_histories") or {}).items() if k in ex2.runs}
        add("ex2_fig", "ex2_alt", plots.exercise_curves(student_ex2, {k: r.history for k, r in ex2_runs.items()}, "val_loss",
                                                        labels))
        models = sorted(ex2.runs.items(), key=_model_order)
        rows = {_model_name(ref, ex2.activation): ex2_runs[label].activations.get("init", [])
                for label, ref in models if label in ex2_runs}
        add("ex3_fig", "ex3_alt", plots.activation_rows(rows, labels))
        student_ex4 = {k: v for k, v in (values.get("ex4_histories") or {}).items() if k in ex4.runs}
        add("ex4_fig", "ex4_alt", plots.exercise_curves(student_ex4, {k: r.history for k, r in ex4_runs.items()},
                                                        "val_accuracy", labels))
    criterion = next((c for c in result.checks if c.id == "hw_he_criterion"), None)
    seeds = criterion.evidence.get("seeds") if criterion else None
    if seeds:
        add("seeds", "seeds_alt", plots.seed_dots(seeds, hw.criterion_pp, labels, hw.baseline))
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
    return json.dumps(clean(evidence), ensure_ascii=False, indent=1, default=str)[:4000]


def memo_lines(memo: dict, lang: str) -> list[str]:
    """What the training memo did for this notebook, in words (result["execution"]["memo"])."""
    if not memo:
        return []
    if not memo.get("enabled"):
        return [text(lang, "memo.off", reason=render(memo.get("off_reason") or "", lang))]
    lines = []
    if memo.get("fits"):
        lines.append(text(lang, "memo.served", served=memo.get("served", 0), fits=memo["fits"],
                          seconds=f"{memo.get('seconds_served', 0):.1f}"))
    why = {k: n for k, n in (memo.get("why") or {}).items() if k != "served"}
    if why:
        known = catalog(lang)
        parts = [f"{n} {known.get(f'memo.why.{k}', known['memo.why.other'])}" for k, n in sorted(why.items())]
        lines.append(text(lang, "memo.trained", trained=memo.get("trained", 0), why="; ".join(parts)))
    return lines


def render_report(result, material: Material | None, rubric, lang: str = "es") -> str:
    """The report page of one result, in `lang`; `material` None draws no figures (an error result)."""
    lang = language(lang)
    ui = ui_texts(rubric, lang)
    mistakes: dict = {}
    for check in result.checks:
        for code in check.mistakes:
            mistakes.setdefault(code, {"code": code, "symptom": rubric.mistake(code, "symptom", lang),
                                       "fix": rubric.mistake(code, "fix", lang), "checks": []})["checks"].append(
                render(check.title, lang))
    groups = []
    for exercise in EXERCISE_ORDER:
        items = [c for c in result.checks if c.exercise == exercise]
        if items:
            groups.append({"name": ui["exercise"].get(exercise, exercise), "checks": [{
                "id": c.id, "status": str(c.status), "status_name": ui["check_status"].get(str(c.status), str(c.status)),
                "points": c.points, "max_points": c.max_points, "title": render(c.title, lang), "message": render(c.message, lang),
                "expected": render(c.expected, lang), "found": render(c.found, lang), "why": render(c.why, lang),
                "fixes": [rubric.mistake(code, "fix", lang) for code in c.mistakes],
                "mistakes": list(c.mistakes), "evidence": _fmt_evidence(render(c.evidence, lang)) if c.evidence else ""}
                for c in items], "score": sum(c.points for c in items), "max": sum(c.max_points for c in items)})
    # a collapsed comparison is said first: every verdict about one initializer against another depends on it
    first = list(dict.fromkeys(str(render(c.evidence["collapse"]["message"], lang)) for c in result.checks
                               if isinstance(c.evidence.get("collapse"), dict) and "message" in c.evidence["collapse"]))
    criterion = next((c for c in result.checks if c.id == "hw_he_criterion"), None)
    show_noise = not (criterion is not None and "collapse" in criterion.evidence)  # no noise card for a model against itself
    shown = render({"display_name": result.display_name, "message": result.message, "sandbox": result.sandbox,
                    "data": result.data, "retraining": result.retraining, "execution": result.execution}, lang)
    cells = [cell for cell in shown["execution"].get("cells", []) if str(cell["status"]) in ("error", "timeout")]
    not_run = [str(cell["index"] + 1) for cell in shown["execution"].get("cells", []) if str(cell["status"]) == "not_run"]
    status = str(result.status)
    run_message = text(lang, f"run.{status}", epochs=rubric.protocol.epochs) if f"run.{status}" in catalog(lang) else ""
    if status == "timeout" and shown["execution"].get("harvested"):  # the budget kept time to harvest what ran
        run_message = text(lang, "run.timeout_partial", not_run=and_join(not_run, lang) if not_run else "—")
    return _env().get_template("report.html.j2").render(
        ui=ui, lang=lang, r=shown, score=result.score, max_score=result.max_score,
        status_name=ui["grade_status"].get(status, status), groups=groups, mistakes=list(mistakes.values()),
        first=first, show_noise=show_noise,
        figures=_figures(result, material, rubric, ui), cells=cells, run_message=run_message, not_run=not_run,
        memo_lines=memo_lines(result.execution.get("memo") or {}, lang),
        protocol=rubric.protocol.to_json(), generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def write_result(result, html: str | None, rubric, out: Path, lang: str = "es") -> None:
    """OUT/<student>/report.html, then result.json, each written once and atomically.

    The report goes first: a result.json on disk is what makes a rerun skip the student, so it
    must never exist without its report."""
    if html is None:
        html = render_report(result, None, rubric, lang)
    folder = Path(out) / result.student
    write_text_atomic(folder / "report.html", html)
    write_text_atomic(folder / "result.json", json.dumps(result.to_json(lang), indent=1, ensure_ascii=False))


__all__ = ["render_report", "write_result", "memo_lines", "Material", "ui_texts", "noise_paragraph", "and_join", "signed_pp"]
