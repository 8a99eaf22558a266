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
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import markupsafe
import numpy as np
from markupsafe import Markup

from ..initializers import InitSpec, glorot_limit, target_variance
from ..messages import catalog, fill, language, render, text
from . import plots
from .notebook import definitions, notebook_page, render_notebook_page
from .criterion import criterion_paragraph
from .numbers import and_join, exercise_tables, signed_pp
from .output import write_text_atomic

TEMPLATES = Path(__file__).resolve().parent / "templates"
EXERCISE_ORDER = ("ex1", "hw", "ex2", "ex3", "ex4", "ex5")
ACTIVATION_NAMES = {"relu": "ReLU"}  # how the class writes an activation in prose; others as Keras names them
# Building blocks of longer sentences: rendered with their own parameters, not as page labels
_OWN_PREFIXES = ("nb.", "num.", "env.", "term.", "points_n", "protocol_words", "evidence_more")
_BLOCKS = {"noise_first", "noise_next", "holds_each", "holds_one", "and"}


@dataclass(frozen=True)
class Material:
    """What the report draws from beyond the result: the validated values and the runs."""

    extracted: object
    retraining: object
    execution: object


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


def ui_texts(rubric, lang: str, calibration: dict | None = None) -> dict:
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
        if name in _BLOCKS or name.startswith(_OWN_PREFIXES):  # sentences with their own parameters
            continue
        value = fill(template, params)
        if "." in name:
            group, item = name.split(".", 1)
            ui.setdefault(group, {})[item] = value
        else:
            ui[name] = value
    ui["noise"] = criterion_paragraph(rubric, lang, calibration)
    return ui


# which exercise a figure belongs to, and the checks it illustrates: its section shows it right
# after the last of them (a figure whose checks are all absent closes its exercise)
FIGURE_EXERCISE = {"curves": "hw", "ex1_hist": "ex1", "init_hist": "hw", "norms": "hw", "ex2_fig": "ex2",
                   "ex3_fig": "ex3", "ex4_fig": "ex4", "seeds": "hw"}
FIGURE_CHECKS = {"curves": ("hw_histories", "hw_retrain_reproduces"), "ex1_hist": ("ex1_kernel_distribution", "ex1_limit"),
                 "init_hist": ("hw_initial_distribution",), "norms": ("hw_kernel_norms", "hw_norms_similar"),
                 "ex2_fig": ("ex2_curves", "ex2_vanishing"), "ex3_fig": ("ex3_layer_variances",), "ex4_fig": ("ex4_tanh",),
                 "seeds": ("hw_he_criterion",)}
# terms a student may not know, explained in one line where they appear (ui.term.<name>)
TERMS = {"ks": re.compile(r"\bKS\b"), "z": re.compile(r"\bz\s*[=_]"), "kappa": re.compile("κ"),
         "ci": re.compile(r"\bIC 95|\bCI 95|95 % CI")}
_BACKTICKS = re.compile(r"`([^`]{1,600})`")  # a contract example may span lines (the page keeps them)


def inline_code(value) -> Markup:
    """Escaped text in which `name` becomes <code>name</code> (the catalogs write code that way)."""
    escaped = str(markupsafe.escape(str(value)))
    return Markup(_BACKTICKS.sub(r"<code>\1</code>", escaped))


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["code"] = inline_code
    return env


def _figures(result, material: Material | None, rubric, ui: dict, lang: str) -> list[dict]:
    """The report's figures, each tagged with its exercise and the checks it illustrates:
    {exercise, checks, title, caption, images: [{uri, alt}]}. A caption says who drew what: the
    grader draws every figure, from the student's values where they exist (solid lines, their
    norms, their weights), so a student whose notebook plots nothing is never said to have."""
    if material is None:
        return []
    labels = ui["label"]
    values = material.extracted.values
    retraining = material.retraining
    hw = rubric.homework
    figures = []

    def add(key: str, drawn, caption: str | None = None) -> None:
        """`drawn`: one PNG data URI, {panel name: URI} for a figure drawn one image per panel, or None."""
        if not drawn:
            return
        caption = ui[caption or _ALT[key]]
        if isinstance(drawn, dict):
            images = [{"uri": uri, "alt": f"{ui[key]}: {name}"} for name, uri in drawn.items()]
        else:
            images = [{"uri": drawn, "alt": caption.replace("`", "")}]  # an attribute: the name without its <code>
        figures.append({"exercise": FIGURE_EXERCISE[key], "checks": FIGURE_CHECKS[key], "title": ui[key],
                        "caption": caption, "images": images})

    def alt(key: str, student_drew: bool) -> str:
        return _ALT[key] if student_drew else f"{_ALT[key]}_grader"

    inits = hw.initializers
    student_hist = {k: v for k, v in (values.get("hw_histories") or {}).items() if k in inits}
    grader_hist = {k: run.history for k, run in (retraining.main or {}).items()}
    add("curves", plots.curves(student_hist, grader_hist, labels, inits), alt("curves", _has_curves(student_hist)))
    if isinstance(values.get("ex1_kernel"), np.ndarray):
        ex1 = rubric.exercise1
        limit = values.get("ex1_limit")
        drew_limit = limit is not None and bool(np.isfinite(limit))  # as ex1_histogram decides to draw it
        add("ex1_hist", plots.ex1_histogram(values["ex1_kernel"], glorot_limit(ex1.fan_in, ex1.fan_out), limit, labels),
            "ex1_alt" if drew_limit else "ex1_alt_no_limit")
    add("init_hist", plots.initial_histograms(values.get("build_model") or {}, labels, inits))
    grader_norms = {k: {"before": run.kernel_norms_before, "after": run.kernel_norms_after}
                    for k, run in (retraining.main or {}).items()}
    before = {k: v for k, v in (values.get("hw_kernel_norms_before") or {}).items() if k in inits}
    after = {k: v for k, v in (values.get("hw_kernel_norms_after") or {}).items() if k in inits}
    add("norms", plots.norms(before, after, grader_norms, labels, inits, reference=_initial_norms(rubric)),
        alt("norms", bool(before or after)))
    if rubric.exercises is not None:
        ex2_runs, ex4_runs = retraining.exercise("ex2"), retraining.exercise("ex4")
        ex2, ex4 = rubric.exercises.ex2, rubric.exercises.ex4
        student_ex2 = {k: v for k, v in (values.get("ex2_histories") or {}).items() if k in ex2.runs}
        add("ex2_fig", plots.exercise_curves(student_ex2, {k: r.history for k, r in ex2_runs.items()}, "val_loss", labels),
            alt("ex2_fig", _has_curves(student_ex2, ("val_loss",))))
        models = sorted(ex2.runs.items(), key=_model_order)
        rows = {_model_name(ref, ex2.activation): ex2_runs[label].activations.get("init", [])
                for label, ref in models if label in ex2_runs}
        add("ex3_fig", plots.activation_rows(rows, labels, output_activation=rubric.homework.output_activation))
        student_ex4 = {k: v for k, v in (values.get("ex4_histories") or {}).items() if k in ex4.runs}
        add("ex4_fig", plots.exercise_curves(student_ex4, {k: r.history for k, r in ex4_runs.items()}, "val_accuracy",
                                             labels), alt("ex4_fig", _has_curves(student_ex4, ("val_accuracy",))))
    criterion = next((c for c in result.checks if c.id == "hw_he_criterion"), None)
    seeds = criterion.evidence.get("seeds") if criterion else None
    if seeds:
        add("seeds", plots.seed_dots(seeds, hw.criterion_pp, labels, hw.baseline))
    return figures


def _has_curves(histories: dict, metrics=("val_accuracy", "val_loss")) -> bool:
    """Whether the plot draws any curve of the student's (what its caption may then say)."""
    return any(isinstance(h, dict) and h.get(m) for h in histories.values() for m in metrics)


def _placed(figures: list[dict], exercise: str, check_ids: list[str]) -> tuple[dict, list[dict]]:
    """{check id: the figures shown right after it}, and the exercise's figures none of whose
    checks is on the page (shown at the end of its section)."""
    after: dict[str, list[dict]] = {}
    rest = []
    for figure in (f for f in figures if f["exercise"] == exercise):
        present = [i for i in check_ids if i in figure["checks"]]
        if present:
            after.setdefault(present[-1], []).append(figure)
        else:
            rest.append(figure)
    return after, rest


_ALT = {"curves": "curves_alt", "ex1_hist": "ex1_alt", "init_hist": "init_alt", "norms": "norms_alt", "ex2_fig": "ex2_alt",
        "ex3_fig": "ex3_alt", "ex4_fig": "ex4_alt", "seeds": "seeds_alt"}


def _initial_norms(rubric) -> dict[str, list[float]]:
    """What ‖W‖_F of each homework kernel is at initialization, per initializer: each of its
    fan_in·fan_out weights has the initializer's variance, so ‖W‖_F ≈ √(fan_in·fan_out·Var)
    (He: √(2·fan_out); Glorot: √(2·fan_in·fan_out/(fan_in+fan_out))), the reference the norms
    plot draws."""
    hw = rubric.homework
    sizes = [hw.input_size, *hw.units]
    norms = {}
    for init in hw.initializers:
        shapes = list(zip(sizes, sizes[1:]))
        variances = [target_variance(InitSpec(init), shape) for shape in shapes]
        if all(v is not None for v in variances):
            norms[init] = [math.sqrt(fan_in * fan_out * v) for (fan_in, fan_out), v in zip(shapes, variances)]
    return norms


def _fmt_evidence(evidence: dict, lang: str) -> str:
    """The evidence as readable JSON: 4 significant digits, and a long list says how much it left out."""
    def clean(value):
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, float):
            return float(f"{value:.4g}") if math.isfinite(value) else str(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            shown = [clean(v) for v in value[:EVIDENCE_ITEMS]]
            if len(value) > EVIDENCE_ITEMS:
                shown.append(text(lang, "ui.evidence_more", n=len(value) - EVIDENCE_ITEMS))
            return shown
        return value
    return json.dumps(clean(evidence), ensure_ascii=False, indent=1, default=str)[:6000]


EVIDENCE_ITEMS = 30
LONG_MESSAGE = 360  # characters: about 60 words, what a student reads before looking for the fix


def memo_lines(memo: dict, lang: str, delegation: dict | None = None) -> list[str]:
    """What the training memo did for this notebook, in words (result["execution"]["memo"]), and
    which fits the grader trained for it (result["execution"]["delegation"], the grader's count)."""
    if not memo:
        return []
    if not memo.get("enabled"):
        return [text(lang, "memo.off", reason=render(memo.get("off_reason") or "", lang))]
    lines = []
    if memo.get("fits"):
        lines.append(text(lang, "memo.served", served=memo.get("served", 0), fits=memo["fits"],
                          seconds=f"{memo.get('seconds_served', 0):.1f}"))
    lines += delegation_lines(delegation or {}, lang)
    why = {k: n for k, n in (memo.get("why") or {}).items() if k not in ("served", "delegated")}
    if why:
        known = catalog(lang)
        parts = [f"{n} {known.get(f'memo.why.{k}', known['memo.why.other'])}" for k, n in sorted(why.items())]
        lines.append(text(lang, "memo.trained", trained=memo.get("trained", 0), why="; ".join(parts)))
    return lines


def delegation_lines(delegation: dict, lang: str) -> list[str]:
    if not delegation.get("enabled") or not delegation.get("requests"):
        return []
    lines = []
    if delegation.get("trained") or delegation.get("already"):
        lines.append(text(lang, "delegate.summary", trained=delegation.get("trained", 0),
                          requests=delegation["requests"], already=delegation.get("already", 0)))
    refused = delegation.get("refused") or {}
    if refused:
        known = catalog(lang)
        why = "; ".join(f"{n} {known.get(f'delegate.kind.{k}', known['delegate.kind.malformed'])}" for k, n in sorted(refused.items()))
        lines.append(text(lang, "delegate.refused", n=sum(refused.values()), why=why))
    if delegation.get("cancelled"):
        lines.append(text(lang, "delegate.cancelled", n=delegation["cancelled"]))
    return lines


def environment_lines(sandbox: dict, lang: str) -> list[str]:
    """The sandbox as sentences ("sin red", "6 GB de memoria"), not its raw keys."""
    limits = sandbox.get("limits") or {}
    level = str(sandbox.get("level", ""))
    lines = [text(lang, f"ui.env.level_{level}") if f"ui.env.level_{level}" in catalog(lang) else level]
    if level != "none":
        lines.append(text(lang, "ui.env.network_off" if not sandbox.get("network") else "ui.env.network_on"))
        uid = sandbox.get("uid")
        if uid not in (None, 0):
            lines.append(text(lang, "ui.env.user", uid=uid))
    gib = lambda mb: f"{mb / 1024:g}" if mb >= 1024 else None  # noqa: E731
    if limits.get("memory_mb"):
        mb = limits["memory_mb"]
        lines.append(text(lang, "ui.env.memory_gb", gb=gib(mb)) if gib(mb) else text(lang, "ui.env.memory_mb", mb=mb))
    if limits.get("pids"):
        lines.append(text(lang, "ui.env.pids", n=limits["pids"]))
    if limits.get("scratch_mb"):
        lines.append(text(lang, "ui.env.scratch", mb=limits["scratch_mb"]))
    if limits.get("cell_timeout_s"):
        lines.append(text(lang, "ui.env.cell_time", minutes=round(limits["cell_timeout_s"] / 60)))
    if limits.get("total_timeout_s"):
        lines.append(text(lang, "ui.env.total_time", minutes=round(limits["total_timeout_s"] / 60),
                          reserve=limits.get("harvest_reserve_s", 0)))
    if limits.get("output_bytes_per_cell"):
        lines.append(text(lang, "ui.env.output", cell_mb=f"{limits['output_bytes_per_cell'] / 1e6:g}",
                          total_mb=f"{limits.get('output_bytes_total', 0) / 1e6:g}"))
    note = render(sandbox.get("note") or "", lang)
    if note:
        lines.append(str(note))
    return lines


def _one_line(value: str) -> str:
    """The first sentence of a message, whole (never cut mid-sentence: a cut reads as a different
    claim): what "what to fix first" and a folded long result show. A first line that ends in ":"
    keeps the line it introduces, as code."""
    lines = str(value).strip().split("\n")
    first = lines[0].rstrip()
    if first.endswith(":") and len(lines) > 1 and lines[1].strip():
        introduced = lines[1].strip()
        first = f"{first} {introduced}" if "`" in introduced else f"{first} `{introduced}`"
    cut = re.search(r"(?<=[.!?])\s", first)
    return first[: cut.start()] if cut and cut.start() > 20 else first


def _shown_status(check) -> str:
    """fail with some points earned reads "partial", not "incorrect"; an item worth no points
    (the He criterion) reads "for information", never a warning a student with full marks hunts for."""
    status = str(check.status)
    if check.max_points == 0 and status in ("pass", "warn"):
        return "info"
    return "partial" if status == "fail" and check.points > 0 else status


def _terms(texts: list[str], lang: str) -> list[str]:
    joined = "\n".join(texts)
    return [text(lang, f"ui.term.{name}") for name, pattern in TERMS.items() if pattern.search(joined)]


def render_report(result, material: Material | None, rubric, lang: str = "es", has_notebook: bool = False,
                  calibration: dict | None = None) -> str:
    """The report page of one result, in `lang`; `material` None draws no figures (an error result).

    Read top to bottom: what to fix first, a summary that links to each exercise, one section per
    exercise (its numbers, its checks, its figures), the cells that failed, and the environment
    in words. With `has_notebook`, each check links to the cells of notebook.html that defined
    the names it read."""
    lang = language(lang)
    ui = ui_texts(rubric, lang, calibration)
    where: dict[str, int] = {}
    if has_notebook and material is not None and getattr(material.execution, "notebook", None):
        where = definitions(material.execution.notebook, rubric.contract.get("names") or {})
    figures = _figures(result, material, rubric, ui, lang)
    tables = exercise_tables(result.checks, lang)
    fix_first, groups = [], []
    for exercise in EXERCISE_ORDER:
        items = [c for c in result.checks if c.exercise == exercise]
        if not items and not any(f["exercise"] == exercise for f in figures):
            continue
        figures_after, figures_last = _placed(figures, exercise, [c.id for c in items])
        checks = []
        for c in items:
            # a collapse's cause comes first: every other fix of that check follows from it
            cause = c.evidence.get("collapse", {}).get("cause") if isinstance(c.evidence.get("collapse"), dict) else None
            codes = sorted(c.mistakes, key=lambda code: code != cause)
            fixes = [{"symptom": rubric.mistake(code, "symptom", lang), "fix": rubric.mistake(code, "fix", lang)}
                     for code in codes]
            message, found = str(render(c.message, lang)), str(render(c.found, lang))
            shown = _shown_status(c)
            entry = {"id": c.id, "status": shown, "status_name": ui["check_status"].get(shown, shown),
                     "points": c.points, "max_points": c.max_points, "title": render(c.title, lang), "message": message,
                     "expected": render(c.expected, lang), "found": "" if found and found in message else found,
                     "why": render(c.why, lang), "fixes": fixes, "mistakes": codes,
                     "cells": sorted({where[n] + 1 for n in c.reads if n in where}),
                     "evidence": _fmt_evidence(render(c.evidence, lang), lang) if c.evidence else "",
                     "figures": figures_after.get(c.id, [])}
            # a long result shows its first sentence; the whole of it is one click away
            summary = _one_line(message) if len(message) > LONG_MESSAGE else ""
            entry["summary"] = summary if len(summary) < len(message) - 40 else ""  # only when there is more to fold
            entry["terms"] = _terms([message, entry["found"], str(entry["expected"]), str(entry["why"])], lang)
            checks.append(entry)
            lost = round(c.max_points - c.points, 2)
            if lost > 0 and str(c.status) != "skipped":
                fix_first.append({"id": c.id, "title": entry["title"], "lost": lost, "exercise": exercise,
                                  "causes": codes or ([cause] if cause else []), "fixes": fixes,
                                  "fix": _one_line(message)})
        groups.append({"id": exercise, "name": ui["exercise"].get(exercise, exercise), "checks": checks,
                       "score": sum(c.points for c in items), "max": sum(c.max_points for c in items),
                       # the items that count: one worth no points is information, not a pass or a miss
                       "passed": sum(str(c.status) == "pass" for c in items if c.max_points > 0),
                       "count": sum(1 for c in items if c.max_points > 0),
                       "figures": figures_last, "numbers": tables.get(exercise, [])})
    order = {c.id: position for position, c in enumerate(result.checks)}
    fix_first = fix_groups(fix_first, order, rubric, lang)
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
        ui=ui, lang=lang, r=shown, score=result.shown_score, max_score=result.max_score,
        status_name=ui["grade_status"].get(status, status), groups=groups, fix_first=fix_first,
        grader_failed=status == "grader_error",  # the grader failed, not the student: nothing for them to fix
        first=first, show_noise=show_noise, has_notebook=has_notebook, points_text=lambda n: points_text(n, lang),
        cells=cells, run_message=run_message, not_run=not_run, environment=environment_lines(shown["sandbox"], lang),
        memo_lines=memo_lines(result.execution.get("memo") or {}, lang, result.execution.get("delegation")),
        protocol=protocol_lines(rubric, lang), generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def fix_groups(items: list[dict], order: dict[str, int], rubric, lang: str) -> list[dict]:
    """"What to fix first", one entry per cause: checks that share a mistake (or whose verdict a
    collapse's cause decided) are one group, because one fix gives all their points back, and a
    check with two mistakes joins both causes into one group (its points need both fixes); checks
    without a known mistake whose fix reads the same (one name not defined) are one group too. Each
    group: its causes' fixes (one each), the points the whole group gives back, and its checks.
    Sorted by those points, then by the rubric's order."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    for item in items:
        keys = [f"cause:{code}" for code in item["causes"]] or [f"fix:{item['fix']}"]
        for key in keys[1:]:
            parent[root(key)] = root(keys[0])
        root(keys[0])
    groups: dict[str, dict] = {}
    for item in items:
        key = root(f"cause:{item['causes'][0]}" if item["causes"] else f"fix:{item['fix']}")
        group = groups.setdefault(key, {"id": item["id"], "causes": [], "lost": 0.0, "checks": [], "fixes": []})
        group["lost"] = round(group["lost"] + item["lost"], 2)
        group["checks"].append({"id": item["id"], "title": item["title"]})
        for code in item["causes"]:
            if code not in group["causes"]:
                group["causes"].append(code)
    for group in groups.values():
        first = min(group["checks"], key=lambda c: order[c["id"]])
        group["id"] = first["id"]
        lone = next(i for i in items if i["id"] == first["id"])
        if group["causes"]:
            group["title"] = rubric.mistake(group["causes"][0], "symptom", lang)
            group["fixes"] = [rubric.mistake(code, "fix", lang) for code in group["causes"]]
        else:
            group["title"], group["fixes"] = first["title"], [lone["fix"]]
        group["checks"].sort(key=lambda c: order[c["id"]])
    return sorted(groups.values(), key=lambda g: (-g["lost"], order[g["id"]]))


def points_text(n: float, lang: str) -> str:
    """"1 punto", "2,5 puntos" as the class writes them (a point is a decimal point here: 2.5)."""
    return text(lang, "ui.points_n", n=float(f"{n:g}"))


def protocol_lines(rubric, lang: str) -> list[str]:
    """The retraining protocol in words."""
    p = {k: v for k, v in rubric.protocol.to_json().items() if isinstance(v, (int, float, str))}
    p["optimizer"] = rubric.facts()["optimizer"]
    return [text(lang, "ui.protocol_words", **p)]


def render_notebook(result, execution, rubric, lang: str = "es") -> str | None:
    """notebook.html for a run that has a notebook (or a module), or None."""
    notebook = getattr(execution, "notebook", None)
    if not notebook:
        return None
    checks = [{"id": c.id, "title": str(render(c.title, lang)), "shown_status": _shown_status(c), "reads": c.reads,
               "mistakes": {code: rubric.mistake(code, "symptom", lang) for code in c.mistakes}} for c in result.checks]
    kind = "py" if (notebook.get("metadata") or {}).get("grader", {}).get("kind") == "py" else "ipynb"
    try:
        page = notebook_page(notebook, [render(cell, lang) for cell in result.execution.get("cells", [])], checks,
                             rubric.contract.get("names") or {}, str(result.display_name), kind, lang)
        return render_notebook_page(page, lang)
    except Exception as exc:  # the notebook page is a view: it never costs the student their report and result
        print(text(lang, "ui.nb.not_rendered", student=result.student, error=f"{type(exc).__name__}: {exc}"[:300]),
              file=sys.stderr)
        return None


def write_result(result, html: str | None, rubric, out: Path, lang: str = "es", notebook_html: str | None = None) -> None:
    """OUT/<student>/notebook.html (when there is one), report.html, then result.json, each
    written once and atomically.

    result.json goes last: on disk, it is what makes a rerun skip the student, so it must never
    exist without the files it stands for."""
    if html is None:
        html = render_report(result, None, rubric, lang)
    folder = Path(out) / result.student
    if notebook_html is not None:
        write_text_atomic(folder / "notebook.html", notebook_html)
    write_text_atomic(folder / "report.html", html)
    write_text_atomic(folder / "result.json", json.dumps(result.to_json(lang), indent=1, ensure_ascii=False))


__all__ = ["render_report", "fix_groups", "render_notebook", "environment_lines", "inline_code", "write_result", "memo_lines", "Material", "ui_texts"]
