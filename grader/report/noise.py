"""What the grader's own environment prints on stderr: not the student's errors.

TensorFlow, absl, Matplotlib and Fontconfig write notices to stderr when the student's code
imports them in the sandbox (a read-only system, no GPU, a scratch `$HOME`). On notebook.html
they would otherwise sit in the colour of an error (a module's, in its printed output, where its
stderr is merged), and a student would try to fix them. The page folds them into a note of the
grader's, labelled as the environment's (`ui.nb.noise`), and leaves everything else where the
student's code put it.

The list is data: `(source, pattern)`, a pattern matched against one whole line with
`re.fullmatch`, each written for one known notice and nothing wider. A line that looks like a
Python traceback or an exception (`NEVER_NOISE`) is never folded, whatever it matches; a
stderr output of which nothing is noise is shown unchanged; error outputs (tracebacks) are never
looked at. Add a pattern only for a notice seen on the sandbox's stderr, with a test
(`tests/report/test_report_notebook.py`).
"""

from __future__ import annotations

import re

# TensorFlow's C++ log prefix: "I0000 00:00:1733131234.123456   12345 " or "2026-12-01 10:00:00.000000: I "
_TF_LOG = r"(?:[IWE]\d{4} [\d:.]+\s+\d+ |\d{4}-\d\d-\d\d [\d:.]+: [IWE] )?\S*"

NOISE: tuple[tuple[str, str], ...] = (
    ("TensorFlow", _TF_LOG + r"port\.cc:\d+\] oneDNN custom operations are on\..*"),
    ("TensorFlow", _TF_LOG + r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized to use available CPU "
                   r"instructions in performance-critical operations\..*"),
    ("TensorFlow", r"To enable the following instructions: [A-Za-z0-9_., ]+, in other operations, rebuild TensorFlow "
                   r"with the appropriate compiler flags\."),
    ("TensorFlow", _TF_LOG + r"cuda_\w+\.cc:\d+\] (?:Could not find cuda drivers on your machine, GPU will not be used|"
                   r"Unable to register cu(?:DNN|FFT|BLAS) factory: .*|failed call to cuInit: .*)\.?"),
    ("TensorFlow", r"(?:\d{4}-\d\d-\d\d [\d:.]+: W \S+\] )?TF-TRT Warning: Could not find TensorRT"),
    ("absl", r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"),
    ("Fontconfig", r"Fontconfig (?:error|warning): .*"),
    ("Matplotlib", r"Matplotlib (?:is building the font cache; this may take a moment\.|created a temporary cache "
                   r"directory at \S+ because .* is not a writable directory; .*)"),
)
NEVER_NOISE = re.compile(r"Traceback \(most recent call last\)|^\s*(?:[A-Za-z_][\w.]*)?(?:Error|Exception)\b")
_COMPILED = tuple((source, re.compile(pattern)) for source, pattern in NOISE)


def noise_source(line: str) -> str | None:
    """The tool that printed `line`, when it is the environment's notice; None for anything else."""
    line = line.rstrip("\r\n")
    if not line.strip() or NEVER_NOISE.search(line):
        return None
    return next((source for source, pattern in _COMPILED if pattern.fullmatch(line)), None)


def split_noise(stderr: str) -> tuple[str, list[str], list[str]]:
    """(what stays on the student's stderr, the environment's lines, their sources in first-seen
    order). Lines keep their order; only whole noise lines leave."""
    kept, noise, sources = [], [], []
    for line in stderr.splitlines(keepends=True):
        source = noise_source(line)
        if source is None:
            kept.append(line)
        else:
            noise.append(line.rstrip("\r\n"))
            if source not in sources:
                sources.append(source)
    return "".join(kept), noise, sources


__all__ = ["NOISE", "NEVER_NOISE", "noise_source", "split_noise"]
