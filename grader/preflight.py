"""Before a self-check runs anything: does this Python have a TensorFlow with Keras 3?

A student installs the grader on top of the TensorFlow they already use (`tensorflow`,
`tensorflow-cpu`, `tensorflow-macos`, …), so the package does not name one wheel; the
self-check asks here instead, from the installed packages' metadata, without importing
TensorFlow (which takes seconds and prints pages when it is broken). What is missing is said
in one sentence with the one command that fixes it, never as a traceback.

Keras 3 is what the class uses (`keras.utils.set_random_seed`, `keras.initializers.*`, the
`.keras` model format), and TensorFlow ships it from 2.16 on.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import metadata

from .messages import Message, msg

FIRST_KERAS3_TENSORFLOW = (2, 16)
PYTHONS = ((3, 10), (3, 13))  # what TensorFlow 2.16-2.21 publish wheels for, together (docs/student.md)
# Every distribution on PyPI that installs the `tensorflow` package.
TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel",
                            "tensorflow-aarch64", "tensorflow-rocm", "tf-nightly", "tf-nightly-cpu")


def _version_tuple(version: str) -> tuple[int, ...]:
    """"2.21.0" → (2, 21), "2.16.0rc1" → (2, 16), "3.12.0.dev2025" → (3, 12)."""
    found = re.match(r"(\d+)(?:\.(\d+))?", version)
    return tuple(int(part) for part in found.groups() if part is not None) if found else ()


@dataclass(frozen=True)
class Stack:
    """The TensorFlow and Keras this Python has: (distribution, version) or None."""

    python: tuple[int, int]
    tensorflow: tuple[str, str] | None
    keras: str | None

    def describe(self) -> str:
        tf = f"{self.tensorflow[0]} {self.tensorflow[1]}" if self.tensorflow else "—"
        return f"Python {self.python[0]}.{self.python[1]}, {tf}, keras {self.keras or '—'}"


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def inspect() -> Stack:
    """What is installed, read from package metadata only (nothing is imported)."""
    tensorflow = next(((name, version) for name in TENSORFLOW_DISTRIBUTIONS if (version := _installed(name))), None)
    return Stack((sys.version_info.major, sys.version_info.minor), tensorflow, _installed("keras"))


def problem(stack: Stack) -> Message | None:
    """Why a self-check cannot work here, with the one command that fixes it (None: it can)."""
    low, high = PYTHONS
    if not low <= stack.python <= high:
        return msg("preflight.python", found=f"{stack.python[0]}.{stack.python[1]}", low=f"{low[0]}.{low[1]}",
                   high=f"{high[0]}.{high[1]}", command=f"python{high[0]}.{high[1]} -m venv .venv")
    if stack.tensorflow is None:
        return msg("preflight.no_tensorflow", command='pip install "tensorflow>=2.16"')
    name, version = stack.tensorflow
    if _version_tuple(version) < FIRST_KERAS3_TENSORFLOW:
        return msg("preflight.old_tensorflow", name=name, version=version, command=f'pip install --upgrade "{name}>=2.16"')
    if stack.keras is None or _version_tuple(stack.keras) < (3,):
        return msg("preflight.keras2", version=stack.keras or "—", command='pip install --upgrade "keras>=3"')
    return None


__all__ = ["Stack", "inspect", "problem", "FIRST_KERAS3_TENSORFLOW", "PYTHONS", "TENSORFLOW_DISTRIBUTIONS"]
