"""calibration.html: the figures, a dot plot per He variant, the advice and the decision, in the teacher's language.

Like the reports: one file, autoescaped, the plot as a PNG data URI, and a Content-Security-Policy
that allows no script and no network.

The page ends in a decision, not only a measurement: keep `hw_he_criterion` at 0 points unless
`threshold_95 ≥ criterion_pp` for every He variant (the check passes only when all of them meet
the criterion), and the rubric's fields that set it (`checks[id=hw_he_criterion].points`,
`homework.criterion_pp`). A negative `threshold_95` is said in words: He is not expected to beat
Glorot at all in 95 % of the seeds, the seed's noise dominates (docs/teacher.md, "Why the He
criterion is not scored"; docs/measurements.md, "The He criterion under the course protocol").
"""

from __future__ import annotations

import math

import jinja2

from ..messages import language, text
from ..stats import fail_share

PAGE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{{ t.title }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:920px;padding:16px;color:#1d1d1f;line-height:1.45}
table{border-collapse:collapse;font-size:.9rem;margin:8px 0}td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}
.advice{background:#fff4e5;border-radius:4px;padding:8px 10px;margin:8px 0}
.decision{background:#e8f0fb;border-left:4px solid #1565c0;border-radius:4px;padding:8px 10px;margin:8px 0}
.decision.verdict{font-weight:700}
img{max-width:100%;height:auto}
</style>
</head>
<body>
<h1>{{ t.title }}</h1>
<p>{{ t.intro }}</p>
{% for line in advice %}<p class="advice">{{ line }}</p>{% endfor %}
<h2>{{ t.decision_title }}</h2>
{% for kind, line in decision %}<p class="decision {{ kind }}">{{ line }}</p>{% endfor %}
<table>
<tr><th>{{ t.variant }}</th><th>{{ t.holds }}</th><th>{{ t.mean }}</th><th>{{ t.ci }}</th><th>{{ t.threshold }}</th></tr>
{% for row in rows %}<tr><td>{{ row.init }} − {{ baseline }}</td><td>{{ row.holds }} / {{ row.seeds }}</td><td>{{ row.mean }}</td><td>{{ row.ci }}</td><td>{{ row.threshold }}</td></tr>
{% endfor %}</table>
<p>{{ t.threshold_note }}</p>
{% if plot %}<figure><img src="{{ plot }}" alt="{{ t.plot_alt }}"><figcaption>{{ t.plot_caption }}</figcaption></figure>{% endif %}
<h2>{{ t.per_seed }}</h2>
<table>
<tr><th>{{ t.seed }}</th>{% for name in columns %}<th>{{ name }}</th>{% endfor %}</tr>
{% for row in seed_rows %}<tr><td>{{ row.seed }}</td>{% for value in row.cells %}<td>{{ value }}</td>{% endfor %}</tr>
{% endfor %}</table>
<h2>{{ t.measured_on_title }}</h2>
<p>{{ t.measured_on }}</p>
<p>{{ t.protocol }}</p>
</body>
</html>
"""


def _pp(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:+.2f}".replace("-", "−")


SCORED_CHECK = "hw_he_criterion"


def decision(calibration: dict, rubric, lang: str) -> list[tuple[str, str]]:
    """What the teacher should do with the criterion, as (kind, sentence): the verdict first, then
    each He variant's reason, the rule and where the rubric sets it."""
    hw = rubric.homework
    inits = [init for init in hw.he_initializers if init in calibration]
    points = next((spec.points for spec in rubric.checks if spec.id == SCORED_CHECK), 0.0)
    reasons, scorable = [], bool(inits)
    for init in inits:
        threshold = calibration[init].get("threshold_95")
        if threshold is None or not math.isfinite(threshold):
            scorable = False
            continue
        facts = {"init": init, "threshold": _pp(threshold), "criterion": hw.criterion_pp, "baseline": hw.baseline}
        if threshold >= hw.criterion_pp - 1e-9:
            reasons.append(text(lang, "calibrate.page.decide_score", **facts))
        else:
            scorable = False
            key = "calibrate.page.decide_negative" if threshold < 0 else "calibrate.page.decide_below"
            reasons.append(text(lang, key, **facts))
    verdict = text(lang, "calibrate.page.verdict_score" if scorable else "calibrate.page.verdict_zero", points=points)
    return [("verdict", verdict), *[("reason", line) for line in reasons],
            ("rule", text(lang, "calibrate.page.rule", criterion=hw.criterion_pp, inits=", ".join(inits))),
            ("setting", text(lang, "calibrate.page.setting", rubric=str(rubric.source), criterion=hw.criterion_pp))]


def render_page(calibration: dict, rubric, lang: str = "es") -> str:
    from ..report import plots

    lang = language(lang)
    hw = rubric.homework
    inits = [init for init in hw.he_initializers if init in calibration]
    where, protocol = calibration["measured_on"], calibration["protocol"]
    seeds = max(calibration[init]["seeds"] for init in inits)
    rows, dots = [], {}
    for init in inits:
        figures = calibration[init]
        low, high = figures["ci95"]
        rows.append({"init": init, "holds": figures["holds"], "seeds": figures["seeds"], "mean": _pp(figures["mean_pp"]),
                     "ci": f"{_pp(low)} … {_pp(high)}", "threshold": _pp(figures["threshold_95"])})
        dots[init] = {"diffs": [row["diff_pp"] for row in figures["per_seed"]], "mean": figures["mean_pp"],
                      "ci95": [math.nan if low is None else low, math.nan if high is None else high]}
    advice = [text(lang, "calibrate.page.advice", share=f"{fail_share(calibration[init]):.0f}", init=init,
                   baseline=hw.baseline, criterion=hw.criterion_pp, holds=calibration[init]["holds"],
                   seeds=calibration[init]["seeds"]) for init in inits]
    columns = [*hw.initializers, *[f"{init} − {hw.baseline}" for init in inits]]
    by_seed: dict = {}
    for init in inits:
        for row in calibration[init]["per_seed"]:
            entry = by_seed.setdefault(row["seed"], {})
            entry[init], entry[hw.baseline], entry[f"{init} − {hw.baseline}"] = row[init], row[hw.baseline], row["diff_pp"]
    seed_rows = [{"seed": seed, "cells": [(_pp(v[c]) if " − " in c else f"{v[c]:.2f}") if c in v else "—" for c in columns]}
                 for seed, v in by_seed.items()]
    t = {name: text(lang, f"calibrate.page.{name}") for name in
         ("title", "variant", "holds", "mean", "ci", "threshold", "plot_alt", "plot_caption", "per_seed", "seed",
          "measured_on_title", "decision_title")}
    t["intro"] = text(lang, "calibrate.page.intro", seeds=seeds, layers=len(hw.units), units=str(list(hw.units)),
                      epochs=protocol["epochs"], criterion=hw.criterion_pp, baseline=hw.baseline)
    t["threshold_note"] = text(lang, "calibrate.page.threshold_note", seeds=seeds)
    t["measured_on"] = text(lang, "calibrate.page.measured_on", machine=where.get("machine", "?"), cpu=where.get("cpu", "?"),
                            cores=int(where.get("cores") or 0), date=where.get("date", "?"), tf=where.get("tf", "?"),
                            seconds=f"{where.get('train_seconds', 0):.0f}")
    t["protocol"] = text(lang, "calibrate.page.protocol", optimizer=str(protocol["optimizer"]).upper(),
                         lr=protocol["learning_rate"], batch=protocol["batch_size"], epochs=protocol["epochs"],
                         validation=protocol["validation_size"], subset=text(lang, "calibrate.page.subset")
                         if protocol.get("data_subset") else "")
    plot = plots.seed_dots(dots, hw.criterion_pp, {"diff_pp": text(lang, "calibrate.page.axis")}, hw.baseline)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(PAGE).render(lang=lang, t=t, rows=rows, advice=advice, plot=plot, baseline=hw.baseline,
                                        columns=columns, seed_rows=seed_rows, decision=decision(calibration, rubric, lang))



def summary_lines(outcome, rubric, lang: str) -> list[str]:
    """What `grade calibrate` prints at the end: each He variant's figures, the advice, the decision, the files."""
    hw, calibration = rubric.homework, outcome.calibration
    lines = []
    for init in hw.he_initializers:
        if init not in calibration:
            continue
        figures = calibration[init]
        low, high = figures["ci95"]
        lines.append(text(lang, "calibrate.summary", init=init, baseline=hw.baseline, holds=figures["holds"],
                          seeds=figures["seeds"], mean=_pp(figures["mean_pp"]), low=_pp(low), high=_pp(high),
                          threshold=_pp(figures["threshold_95"])))
        lines.append("  " + text(lang, "calibrate.page.advice", share=f"{fail_share(figures):.0f}", init=init,
                                 baseline=hw.baseline, criterion=hw.criterion_pp, holds=figures["holds"],
                                 seeds=figures["seeds"]))
    lines += [line for kind, line in decision(calibration, rubric, lang) if kind in ("verdict", "reason")]
    if outcome.stored is not None:
        lines.append(text(lang, "calibrate.wrote", json=str(outcome.json_path), html=str(outcome.html_path),
                          stored=str(outcome.stored)))
    else:
        lines.append(text(lang, "calibrate.wrote_no_store", json=str(outcome.json_path), html=str(outcome.html_path)))
    return lines


__all__ = ["render_page", "summary_lines", "decision"]
