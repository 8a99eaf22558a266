"""Build small notebooks and modules for tests."""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader.errors import GraderError
from grader.messages import msg


def said(key: str, lang: str, hint: str = "", **params) -> str:
    """What the grader says for catalog `key` (and its `hint` key) in `lang`, rendered the way an error
    renders: tests of wording read the catalog, so a rewording touches the catalog only."""
    return GraderError(msg(key, **params), hint=msg(hint) if hint else "").render(lang)


def notebook(path: Path, *cells: str, markdown: str | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    if markdown:
        nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
    nb.cells += [nbformat.v4.new_code_cell(cell) for cell in cells]
    nbformat.write(nb, path)
    return path


# Exercise 1 done right (every ex1 contract name, optional ones included): what a student writes first.
EX1_DONE = """import numpy as np
import keras
keras.utils.set_random_seed(42)
ex1_model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128)])
ex1_kernel = ex1_model.layers[0].kernel.numpy()
fan_in, fan_out = ex1_kernel.shape
ex1_var_empirical = float(ex1_kernel.var())
ex1_var_theory = 2 / (fan_in + fan_out)
ex1_limit = float(np.sqrt(6 / (fan_in + fan_out)))
ex1_conv_limit = float(np.sqrt(6 / (3 * 3 * 1 + 3 * 3 * 32)))"""
