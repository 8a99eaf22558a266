"""Which line of a cell a verdict is about: data-driven patterns per mistake or check.

A check names the contract values it read, and notebook.html knows which cell defined each; a
diagnosed mistake often also shows in the source itself (bob's `bias_initializer="glorot_uniform"`,
a `Dense(...)` that never receives `kernel_initializer`, `ex1_limit = float(np.sqrt(6 / fan_in))`).
Each `LinePointer` is looked for only in the cells that define what the failing check read, so a
pattern never points at an unrelated line. Its key is a mistake code (`reference/mistakes.json`,
the note then says that mistake's symptom) or a check id (the note says the check's title), used
when none of the check's mistakes found a line.

`pattern` is matched over the cell's whole source (a match may span lines: a call written over
several lines is highlighted whole); `{name}` stands for each name the check read. A match
whose line is commented out before it, or that `unless` matches, points at nothing. What the
pointer says is a hint beside the verdict, never the verdict: the report's message still says
what is wrong and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ASSIGNS = r"^[ \t]*{name}[ \t]*(?::[^=\n]*)?=(?!=).*$"  # the line that binds a read name at the cell's top level


@dataclass(frozen=True)
class LinePointer:
    key: str  # a mistake code or a check id
    pattern: str
    unless: str = ""


POINTERS: tuple[LinePointer, ...] = (
    # biases drawn from an initializer: every `bias_initializer=` that is not zeros
    LinePointer("bias_not_zeros", r"\bbias_initializer\s*=\s*[^,)\n]+", unless=r"zeros|Zeros|None"),
    # build_model's argument never reaches the layers: each Dense(...) call that passes no name as kernel_initializer
    LinePointer("initializer_argument_ignored", r"\bDense\((?:[^()]|\([^()]*\))*\)",
                unless=r"\bkernel_initializer\s*=\s*[A-Za-z_]\w*\s*(?:[,)]|$)"),
    # the limit is the value the student wrote by hand: the line that computes it
    LinePointer("wrong_limit", _ASSIGNS),
    LinePointer("ex1_limit", _ASSIGNS),
    LinePointer("ex1_var_theory", _ASSIGNS),
    LinePointer("ex1_conv_limit", _ASSIGNS),
)
_BY_KEY = {pointer.key: pointer for pointer in POINTERS}


def pointed_lines(key: str, source: str, names) -> list[tuple[int, int]]:
    """The 1-based (first, last) lines of each place in `source` that pointer `key` finds ([] if
    there is no such pointer or nothing matched)."""
    pointer = _BY_KEY.get(key)
    if pointer is None:
        return []
    patterns = ([pointer.pattern.replace("{name}", re.escape(name)) for name in sorted(names)]
                if "{name}" in pointer.pattern else [pointer.pattern])
    found: set[tuple[int, int]] = set()
    for pattern in patterns:
        for match in re.finditer(pattern, source, re.MULTILINE):
            line_start = source.rfind("\n", 0, match.start()) + 1
            if "#" in source[line_start:match.start()]:
                continue  # commented out (or after a '#' in a string: the rare miss is a missing hint, never a wrong one)
            if pointer.unless and re.search(pointer.unless, match.group(0)):
                continue
            first = source.count("\n", 0, match.start()) + 1
            found.add((first, first + match.group(0).rstrip("\n").count("\n")))
    return sorted(found)


__all__ = ["LinePointer", "POINTERS", "pointed_lines"]
