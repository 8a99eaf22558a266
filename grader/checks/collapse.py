"""Collapsed comparisons: runs that should differ (one per initializer) and are one run.

A homework that compares Glorot with He compares nothing when `build_model` ignores its
`kernel_initializer` argument, or when one model object is stored under every key: the
"three" accuracies are one accuracy, their difference is exactly 0.00 pp, and seed noise has
nothing to do with it. That must be said first, with its cause and its fix, and no check may
present the collapsed runs as evidence about one initializer against another.

What is compared, cheapest first: the initializers `build_model` declares for each argument
(the grader's own probe), the trained models' weights, the histories and the reported norms.
Equal means bitwise equal: two genuine runs with different initializers never are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..messages import Joined, Message, msg
from ..modeldesc import ModelDesc

ARGUMENT_IGNORED, MODEL_REUSED, HISTORY_REUSED = "initializer_argument_ignored", "same_model_reused", "same_history_reused"


def _same_models(a: ModelDesc, b: ModelDesc) -> bool:
    ka, kb = a.kernels, b.kernels
    return len(ka) == len(kb) > 0 and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(ka, kb))


def _same_declared(a: ModelDesc, b: ModelDesc) -> bool:
    return [layer.kernel_init for layer in a.dense] == [layer.kernel_init for layer in b.dense] and \
        [layer.kernel_init.params for layer in a.dense] == [layer.kernel_init.params for layer in b.dense]


def _same_history(a, b) -> bool:
    return isinstance(a, dict) and isinstance(b, dict) and bool(a) and a == b


def groups(items: dict, same) -> list[tuple[str, ...]]:
    """The keys of `items` whose values are `same`, grouped; only groups of two or more, in key order."""
    found: list[list[str]] = []
    for key, value in items.items():
        for group in found:
            if same(items[group[0]], value):
                group.append(key)
                break
        else:
            found.append([key])
    return [tuple(group) for group in found if len(group) > 1]


@dataclass(frozen=True)
class Collapse:
    """Initializers whose runs are one run, what is identical, and why."""

    groups: tuple            # tuples of initializer names that are one model
    identical: tuple         # "declared", "trained_weights", "histories", "norms_before" (what was found equal)
    cause: str               # a mistake code: ARGUMENT_IGNORED, MODEL_REUSED or HISTORY_REUSED
    declared: str = ""       # with ARGUMENT_IGNORED: what build_model declares whatever it is given
    accuracy: float | None = None  # the one val_accuracy the collapsed runs share, when reported

    def together(self, a: str, b: str) -> bool:
        return any(a in group and b in group for group in self.groups)

    def message(self) -> Message:
        what = [msg(f"collapse.what.{item}") for item in self.identical]
        identical = what[0] if len(what) == 1 else msg("ui.and", head=Joined(what[:-1], ", "), last=what[-1])
        names = " / ".join(", ".join(f"'{name}'" for name in group) for group in self.groups)
        accuracy = msg("collapse.accuracy", accuracy=self.accuracy * 100) if self.accuracy is not None else ""
        return msg("collapse.message", names=names, identical=identical, accuracy=accuracy,
                   cause=msg(f"collapse.cause.{self.cause}", declared=self.declared))

    def evidence(self) -> dict:
        return {"groups": [list(g) for g in self.groups], "identical": list(self.identical), "cause": self.cause,
                "message": self.message()}


def homework_collapse(values: dict, initializers) -> Collapse | None:
    """The homework's collapse, from what the student defined (None: the runs differ as they should)."""
    probe = {k: v for k, v in (values.get("build_model") or {}).items() if k in initializers and isinstance(v, ModelDesc)}
    trained = {k: v for k, v in (values.get("hw_models") or {}).items() if k in initializers and isinstance(v, ModelDesc)}
    histories = {k: v for k, v in (values.get("hw_histories") or {}).items() if k in initializers}
    before = {k: v for k, v in (values.get("hw_kernel_norms_before") or {}).items() if k in initializers}
    # build_model ignores its argument when every probe declares the same: a build_model that maps two
    # names onto one initializer is a wrong initializer (diagnosis.py), not a collapse
    declared_groups = [g for g in groups(probe, _same_declared) if len(probe) > 1 and len(g) == len(probe)]
    trained_groups = groups(trained, _same_models)
    history_groups = groups(histories, _same_history)
    identical = [name for name, found in (("declared", declared_groups), ("trained_weights", trained_groups),
                                          ("histories", history_groups)) if found]
    if not identical:
        return None
    if groups(before, lambda a, b: list(a) == list(b)):
        identical.append("norms_before")
    if declared_groups:
        cause, chosen = ARGUMENT_IGNORED, declared_groups
        first = probe[declared_groups[0][0]].dense
        kinds = sorted({layer.kernel_init.describe() for layer in first})
        declared = ", ".join(kinds)
    elif trained_groups:
        cause, chosen, declared = MODEL_REUSED, trained_groups, ""
    else:
        cause, chosen, declared = HISTORY_REUSED, history_groups, ""
    accuracy = None
    reported = values.get("hw_val_accuracy") or {}
    shared = {reported.get(name) for name in chosen[0]}
    if len(shared) == 1 and isinstance(next(iter(shared)), (int, float)):
        value = float(next(iter(shared)))
        accuracy = value / 100 if value > 1 else value
    return Collapse(tuple(chosen), tuple(identical), cause, declared, accuracy)


def identical_histories(histories: dict) -> list[tuple[str, ...]]:
    """Labels of an exercise whose histories are identical (exercises 2 and 4)."""
    return groups({k: v for k, v in histories.items() if isinstance(v, dict)}, _same_history)


__all__ = ["Collapse", "homework_collapse", "identical_histories", "groups", "ARGUMENT_IGNORED", "MODEL_REUSED",
           "HISTORY_REUSED"]
