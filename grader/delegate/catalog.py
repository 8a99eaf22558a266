"""The data a delegated fit may train on: arrays the grader holds itself, named by their digest.

A request names its arrays only by dtype, shape and sha256 (the memo key's own description); it
never carries data. The grader answers with arrays it makes from its own verified copy of the
dataset: the splits of the rubric's protocol (validation = the first `validation_size` training
images, as the course's starter does), the whole training and test sets, and the forms a
notebook of the course writes them in (raw uint8; divided by 255 in float32 or float64; float64
rounded to float32; labels as uint8, int32, int64 or float32). Shapes are free as long as the
bytes are the same (a flattened (n, 784) array hashes like the (n, 28, 28) one). Any other array
is not the grader's to reproduce: that fit trains in the sandbox.

A recipe's digest is computed when a request names an array of its dtype and row count (one or
two hashes of one array, about a second the first time) and kept in the cache folder as JSON.
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

VERSION = 2
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


X_DTYPES = {"uint8": "uint8", "float32_div": "float32", "float64_div": "float64", "float64_div_to_float32": "float32"}
Y_DTYPES = {form: form for form in Y_FORMS}


def recipes(dataset: Dataset, validation: int) -> list[Recipe]:
    out = []
    for source, start, stop in _ranges(dataset.n_train, dataset.n_test, validation):
        out += [Recipe(source, "x", start, stop, form, X_DTYPES[form]) for form in X_FORMS]
        out += [Recipe(source, "y", start, stop, form, Y_DTYPES[form]) for form in Y_FORMS]
    return out


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(memoryview(np.ascontiguousarray(array).reshape(-1)).cast("B")).hexdigest()


def _allowed_rest(part: str) -> set:
    return {IMAGE_SHAPE, (PIXELS,), (*IMAGE_SHAPE, 1)} if part == "x" else {(), (1,)}


class Catalog:
    """The known arrays of one dataset and protocol. A digest is computed only for the recipes
    whose dtype and row count match an array a request names (a request's x costs one or two
    hashes, not all of them), and kept in `cache_dir/delegate` for the next request and process."""

    def __init__(self, dataset: Dataset, validation: int, scale: float, path: Path | None = None) -> None:
        self.dataset, self.validation, self.scale, self.path = dataset, validation, scale, path
        self.recipes = recipes(dataset, validation)
        self.digests: dict[Recipe, str] = {}
        self._arrays = None
        if path is not None:
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                self.digests = {Recipe(**item["recipe"]): item["sha256"] for item in raw if isinstance(item, dict)}
            except (OSError, ValueError, TypeError, KeyError):
                self.digests = {}

    @classmethod
    def load_or_build(cls, dataset: Dataset, validation: int, scale: float, cache_dir: Path | None) -> "Catalog":
        name = f"catalog-v{VERSION}-{dataset.checksum[:16]}-{validation}-{scale!r}.json"
        return cls(dataset, validation, scale, Path(cache_dir) / "delegate" / name if cache_dir is not None else None)

    def digest(self, recipe: Recipe) -> str:
        if recipe not in self.digests:
            if self._arrays is None:
                (x_train, y_train), (x_test, y_test) = load(self.dataset)
                self._arrays = {"train": (x_train, y_train), "test": (x_test, y_test)}
            self.digests[recipe] = _digest(make(recipe, self._arrays, self.scale))
            self._save()
        return self.digests[recipe]

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps([{"recipe": r.to_json(), "sha256": d} for r, d in self.digests.items()]),
                           encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:  # a read-only cache: the digests are computed again next time
            pass

    def find(self, described: dict) -> Recipe | None:
        """The recipe of an array a key describes ({"dtype", "shape", "sha256"}), if the grader has
        it in a shape it can give: (rows, 28, 28), (rows, 784) or (rows, 28, 28, 1) for images,
        (rows,) or (rows, 1) for labels."""
        if not isinstance(described, dict):
            return None
        dtype, shape, digest = described.get("dtype"), described.get("shape"), described.get("sha256")
        if not isinstance(dtype, str) or not isinstance(digest, str) or not isinstance(shape, list) or not shape \
                or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
            return None
        for recipe in self.recipes:
            if recipe.dtype == dtype and recipe.rows == shape[0] and tuple(shape[1:]) in _allowed_rest(recipe.part) \
                    and self.digest(recipe) == digest:
                return recipe
        return None


__all__ = ["Catalog", "Recipe", "make", "recipes"]
