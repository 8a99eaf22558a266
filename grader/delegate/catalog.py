"""The data a delegated fit may train on: arrays the grader holds itself, named by their digest.

A request names its arrays only by dtype, shape and sha256 (the memo key's own description); it
never carries data. The grader answers with arrays it makes from its own verified copy of the
dataset: the splits of the rubric's protocol (validation = the first `validation_size` training
images, as the course's starter does), the whole training and test sets, and the forms a
notebook of the course writes them in (raw uint8; divided by 255 in float32 or float64; float64
rounded to float32; labels as uint8, int32, int64 or float32). Shapes are free as long as the
bytes are the same (a flattened (n, 784) array hashes like the (n, 28, 28) one). Any other array
is not the grader's to reproduce: that fit trains in the sandbox.

The catalog (digest -> recipe) is computed once per dataset and protocol and kept in the cache
folder as JSON; hashing every variant takes a few seconds.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import IMAGE_SHAPE, Dataset, load

VERSION = 1
X_FORMS = ("uint8", "float32_div", "float64_div", "float64_div_to_float32")
Y_FORMS = ("uint8", "int32", "int64", "float32")
PIXELS = math.prod(IMAGE_SHAPE)


@dataclass(frozen=True)
class Recipe:
    """How the grader makes one known array: which set, which part, which rows, which form."""

    source: str  # "train" | "test"
    part: str  # "x" | "y"
    start: int
    stop: int
    form: str
    dtype: str

    @property
    def rows(self) -> int:
        return self.stop - self.start

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _x_form(x: np.ndarray, form: str, scale: float) -> np.ndarray:
    if form == "uint8":
        return x
    if form == "float32_div":
        return x.astype("float32") / scale
    if form == "float64_div":
        return x / scale
    return (x / scale).astype("float32")


def _y_form(y: np.ndarray, form: str) -> np.ndarray:
    return y if form == "uint8" else y.astype(form)


def make(recipe: Recipe, arrays: dict, scale: float) -> np.ndarray:
    """The array a recipe names (C-contiguous, shape (rows, 28, 28) or (rows,))."""
    whole = arrays[recipe.source][0 if recipe.part == "x" else 1]
    rows = whole[recipe.start:recipe.stop]
    made = _x_form(rows, recipe.form, scale) if recipe.part == "x" else _y_form(rows, recipe.form)
    return np.ascontiguousarray(made)


def _ranges(n_train: int, n_test: int, validation: int) -> list[tuple[str, int, int]]:
    ranges = [("train", 0, n_train), ("test", 0, n_test)]
    if 0 < validation < n_train:
        ranges += [("train", 0, validation), ("train", validation, n_train),
                   ("train", 0, n_train - validation), ("train", n_train - validation, n_train)]
    return list(dict.fromkeys(ranges))


def recipes(dataset: Dataset, validation: int) -> list[Recipe]:
    out = []
    for source, start, stop in _ranges(dataset.n_train, dataset.n_test, validation):
        out += [Recipe(source, "x", start, stop, form, "") for form in X_FORMS]
        out += [Recipe(source, "y", start, stop, form, "") for form in Y_FORMS]
    return out


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(memoryview(np.ascontiguousarray(array).reshape(-1)).cast("B")).hexdigest()


def build(dataset: Dataset, validation: int, scale: float) -> dict[str, Recipe]:
    """digest -> recipe, for every known array (computed: a few seconds on the full dataset)."""
    (x_train, y_train), (x_test, y_test) = load(dataset)
    arrays = {"train": (x_train, y_train), "test": (x_test, y_test)}
    known: dict[str, Recipe] = {}
    for recipe in recipes(dataset, validation):
        array = make(recipe, arrays, scale)
        recipe = Recipe(recipe.source, recipe.part, recipe.start, recipe.stop, recipe.form, str(array.dtype))
        known.setdefault(f"{recipe.dtype}:{_digest(array)}", recipe)
    return known


class Catalog:
    """The known arrays of one dataset and protocol, cached in `cache_dir/delegate`."""

    def __init__(self, known: dict[str, Recipe]) -> None:
        self.known = known

    @classmethod
    def load_or_build(cls, dataset: Dataset, validation: int, scale: float, cache_dir: Path | None) -> "Catalog":
        name = f"catalog-v{VERSION}-{dataset.checksum[:16]}-{validation}-{scale!r}.json"
        path = Path(cache_dir) / "delegate" / name if cache_dir is not None else None
        if path is not None:
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                return cls({digest: Recipe(**recipe) for digest, recipe in raw.items()})
            except (OSError, ValueError, TypeError):
                pass
        catalog = cls(build(dataset, validation, scale))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({d: r.to_json() for d, r in catalog.known.items()}), encoding="utf-8")
            os.replace(tmp, path)
        return catalog

    def find(self, described: dict) -> Recipe | None:
        """The recipe of an array a key describes ({"dtype", "shape", "sha256"}), if the grader has
        it in a shape it can give: (rows, 28, 28), (rows, 784) or (rows, 28, 28, 1) for images,
        (rows,) or (rows, 1) for labels."""
        if not isinstance(described, dict):
            return None
        dtype, shape, digest = described.get("dtype"), described.get("shape"), described.get("sha256")
        if not isinstance(dtype, str) or not isinstance(digest, str) or not isinstance(shape, list) or not shape:
            return None
        recipe = self.known.get(f"{dtype}:{digest}")
        if recipe is None or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape) or shape[0] != recipe.rows:
            return None
        rest = tuple(shape[1:])
        allowed = {IMAGE_SHAPE, (PIXELS,), (*IMAGE_SHAPE, 1)} if recipe.part == "x" else {(), (1,)}
        return recipe if rest in allowed else None


__all__ = ["Catalog", "Recipe", "make", "build", "recipes"]
