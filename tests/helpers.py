"""Build small notebooks and modules for tests."""

from __future__ import annotations

from pathlib import Path

import nbformat


def notebook(path: Path, *cells: str, markdown: str | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    if markdown:
        nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
    nb.cells += [nbformat.v4.new_code_cell(cell) for cell in cells]
    nbformat.write(nb, path)
    return path
