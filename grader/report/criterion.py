"""The report's paragraph about the He ≥ Glorot + criterion: whose measurement, where, when.

With a calibration in the store (`grade calibrate` on the teacher's machine, this protocol), the
paragraph quotes it: the machine, the date, the seeds and TensorFlow it ran with, and what scoring
the criterion would do to correct work. Without one it says so, and quotes the table the rubric
ships (homework.measured) as what it is: the rubric author's measurement, not this machine's.
"""

from __future__ import annotations

from ..messages import text
from ..stats import fail_share, mean_ci
from .numbers import and_join as _and, signed_pp as _signed


def _differences(diffs_by_init: dict, baseline: str, lang: str) -> str:
    parts = []
    for position, (init, diffs) in enumerate(diffs_by_init.items()):
        mean, low, high = mean_ci(diffs)
        parts.append(text(lang, "ui.noise_first" if position == 0 else "ui.noise_next", init=init, baseline=baseline,
                          mean=_signed(mean), low=_signed(low), high=_signed(high)))
    return _and(parts, lang)


def _holds(holds: dict, seeds: int, lang: str) -> str:
    if len(set(holds.values())) == 1:
        return text(lang, "ui.holds_each", holds=next(iter(holds.values())), seeds=seeds)
    return _and([text(lang, "ui.holds_one", holds=n, seeds=seeds, init=init) for init, n in holds.items()], lang)


def _tail(rubric, diffs_by_init: dict, lang: str) -> str:
    facts = rubric.facts()
    every = [d for diffs in diffs_by_init.values() for d in diffs]
    return text(lang, "criterion.tail", low=_signed(min(every)), high=_signed(max(every)),
                criterion=rubric.homework.criterion_pp, layers=facts["layers"], epochs=facts["epochs"],
                optimizer=facts["optimizer"])


def criterion_paragraph(rubric, lang: str, calibration: dict | None = None) -> str:
    """The paragraph in `lang`: from `calibration` (what `load_calibration` returns) when given,
    else from the rubric's shipped table, else a plain "not measured"."""
    hw = rubric.homework
    if calibration is not None:
        inits = [init for init in hw.he_initializers if init in calibration]
        diffs = {init: [row["diff_pp"] for row in calibration[init]["per_seed"]] for init in inits}
        holds = {init: calibration[init]["holds"] for init in inits}
        seeds = max(calibration[init]["seeds"] for init in inits)
        where = calibration.get("measured_on") or {}
        fail = _and([text(lang, "criterion.fail_one", share=f"{fail_share(calibration[init]):.0f}", init=init)
                     for init in inits], lang)
        head = text(lang, "criterion.measured", date=where.get("date", "?"), machine=where.get("machine", "?"),
                    cpu=where.get("cpu", "?"), cores=int(where.get("cores") or 0), tf=where.get("tf", "?"), seeds=seeds,
                    differences=_differences(diffs, hw.baseline, lang), holds=_holds(holds, seeds, lang), fail=fail)
        return f"{head} {_tail(rubric, diffs, lang)}"
    table = hw.measured.val_accuracy_pct
    inits = [init for init in hw.he_initializers
             if table and all(init in row and hw.baseline in row for row in table.values())]
    if not inits:
        return text(lang, "criterion.unmeasured")
    diffs = {init: [row[init] - row[hw.baseline] for row in table.values()] for init in inits}
    holds = {init: sum(d >= hw.criterion_pp for d in values) for init, values in diffs.items()}
    head = text(lang, "criterion.shipped", seeds=len(table),
                differences=_differences(diffs, hw.baseline, lang), holds=_holds(holds, len(table), lang))
    return f"{head} {_tail(rubric, diffs, lang)}"


__all__ = ["criterion_paragraph"]
