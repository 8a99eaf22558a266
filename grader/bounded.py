"""The one way the grader reads a byte of the outbox: every bound checked before anything is read.

The outbox is written by the harvest inside the student's process, so a student thread, an
IPython hook or a patched library can leave anything there: JSON nested 100,000 deep (the C
decoder recurses: RecursionError), a 200-byte `.npy` whose header claims 10**12 elements (numpy
allocates before it reads), the same 200 MB array named by a thousand manifest entries. Each
reader here states what it will allocate before it allocates it and refuses with a `Refused`
(a catalog Message) otherwise; the callers turn that into the item's own refusal, so a hostile
file costs the student that item and never crashes the grader.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import numpy as np

from .messages import Message, msg

MAX_FILE = 200 * 1024 * 1024
"""One artifact file: the largest model the grader accepts (modeldesc.MAX_PARAMS float32 weights)
fits, and so does the harvest's largest array (MAX_ARRAY float64 values is 160 MB)."""
MAX_OUTBOX = 400 * 1024 * 1024
"""All of an outbox, copied out, and all the bytes one extraction may load from it (a manifest
can name the same file many times: each read counts). Two of the largest models fit."""
MAX_MANIFEST = 20 * 1024 * 1024
"""manifest.json: values are small (arrays and models live in their own files); the harvest's
largest list (100,000 numbers) is about 3 MB."""
MAX_MODEL_JSON = 5 * 1024 * 1024
"""One model.json: a hundred layers' configs (the reader looks at the first 100) is tens of KB."""
MAX_JSON_DEPTH = 64
"""Nesting of any JSON read: the harvest nests values at most 6 deep and layer configs 12 deep;
Python's decoder recurses once per level and raises RecursionError near 1,000."""
MAX_JSON_ITEMS = 2_000_000
"""Values plus keys in one JSON file (counted on the bytes, before parsing). Parsed, a value is at
most a few hundred bytes of Python objects, so this keeps one parse under a few hundred MB even
for an outbox written to be as expensive as possible; the harvest's largest list is 500,000."""
NPY_KINDS = "biuf"
"""Array dtypes read at all: booleans, integers and floats, native or either byte order, no
structured, object, string or pickled dtype (`allow_pickle=False` is never reached: the header is
refused first)."""
MAX_NPY_ITEMSIZE = 8
MAX_NPY_HEADER = 10_000
"""numpy's own limit for a header it parses with ast.literal_eval."""

_CHUNK = 1 << 20
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class Refused(Exception):
    """A file the bounds refuse; carries the reason as a catalog Message."""

    def __init__(self, message: Message) -> None:
        super().__init__(message)
        self.message = message


class Budget:
    """Bytes one extraction may still load (MAX_OUTBOX to begin with), shared by every read, and the
    files it may not read at all (`refused`: name -> why; the copy out of the sandbox refused them)."""

    def __init__(self, total: int = MAX_OUTBOX, refused: dict[str, Message] | None = None) -> None:
        self.left = total
        self.refused = dict(refused or {})

    def take(self, size: int, name: str) -> None:
        if size > self.left:
            raise Refused(msg("extract.bound.budget", name=name, limit=MAX_OUTBOX))
        self.left -= size


def _open(path: Path, limit: int, budget: Budget | None):
    """An open regular file (no link followed) whose size is within `limit` and the budget."""
    if budget is not None and path.name in budget.refused:
        raise Refused(budget.refused[path.name])
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise Refused(msg("extract.bound.missing", name=path.name, error=exc.strerror or str(exc))) from exc
    handle = os.fdopen(fd, "rb")
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        handle.close()
        raise Refused(msg("extract.bound.not_a_file", name=path.name))
    if info.st_size > limit:
        handle.close()
        raise Refused(msg("extract.bound.too_big", name=path.name, size=info.st_size, limit=limit))
    if budget is not None:
        try:
            budget.take(info.st_size, path.name)
        except Refused:
            handle.close()
            raise
    return handle, info.st_size


def json_shape(data: bytes) -> tuple[int, int]:
    """(deepest nesting, values and keys) of JSON bytes, counted without parsing: strings are cut
    out first (a bracket inside one is text), then brackets, commas and colons are counted."""
    bare = np.frombuffer(_STRING.sub(b"0", data), dtype=np.uint8)
    depth = level = 0
    items = 1
    for start in range(0, len(bare), _CHUNK):  # in chunks: the temporaries stay a few MB
        part = bare[start:start + _CHUNK]
        opens = (part == ord("[")) | (part == ord("{"))
        step = opens.astype(np.int32) - ((part == ord("]")) | (part == ord("}")))
        levels = np.cumsum(step, dtype=np.int32) + level
        depth, level = max(depth, int(levels.max(initial=level))), int(levels[-1]) if len(levels) else level
        items += int(np.count_nonzero(opens | (part == ord(",")) | (part == ord(":"))))
    return depth, items


def read_json(path: Path, limit: int, budget: Budget | None = None):
    """JSON from `path`: at most `limit` bytes, MAX_JSON_DEPTH deep, MAX_JSON_ITEMS values."""
    handle, size = _open(path, limit, budget)
    with handle:
        data = handle.read(size)
    depth, items = json_shape(data)
    if depth > MAX_JSON_DEPTH:
        raise Refused(msg("extract.bound.too_deep", name=path.name, depth=depth, limit=MAX_JSON_DEPTH))
    if items > MAX_JSON_ITEMS:
        raise Refused(msg("extract.bound.too_many", name=path.name, limit=MAX_JSON_ITEMS))
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # RecursionError: a nesting the count above missed
        raise Refused(msg("extract.bound.bad_json", name=path.name, error=str(exc)[:200])) from exc


def read_npy(path: Path, limit: int = MAX_FILE, budget: Budget | None = None, kinds: str = NPY_KINDS) -> np.ndarray:
    """A `.npy` array whose header is parsed and checked before its data is read: a format
    numpy writes, an allowed dtype, a shape whose bytes fit `limit` and the file's exact size."""
    handle, size = _open(path, limit, budget)
    with handle:
        try:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle, max_header_size=MAX_NPY_HEADER)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle, max_header_size=MAX_NPY_HEADER)
            else:
                raise ValueError(f"version {version}")
        except (ValueError, OSError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            raise Refused(msg("extract.bound.npy_header", name=path.name, error=str(exc)[:200])) from exc
        if dtype.kind not in kinds or dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None \
                or dtype.itemsize > MAX_NPY_ITEMSIZE:
            raise Refused(msg("extract.bound.npy_dtype", name=path.name, dtype=str(dtype)[:60]))
        if not all(isinstance(d, int) and d >= 0 for d in shape) or len(shape) > 32:
            raise Refused(msg("extract.bound.npy_header", name=path.name, error=str(shape)[:80]))
        count = 1
        for d in shape:
            count *= d  # Python ints: a claimed shape cannot overflow into a small product
        nbytes = count * dtype.itemsize
        if nbytes > limit or handle.tell() + nbytes != size:
            raise Refused(msg("extract.bound.npy_size", name=path.name, claimed=nbytes, size=size))
        data = bytearray(nbytes)  # writable, like np.load's arrays, and read without a second copy
        got = handle.readinto(data)
    if got != nbytes:  # the file shrank under us: it is a grader-owned copy, but say so anyway
        raise Refused(msg("extract.bound.npy_size", name=path.name, claimed=nbytes, size=len(data)))
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)


__all__ = ["Refused", "Budget", "read_json", "read_npy", "json_shape", "MAX_FILE", "MAX_OUTBOX", "MAX_MANIFEST",
           "MAX_MODEL_JSON", "MAX_JSON_DEPTH", "MAX_JSON_ITEMS", "NPY_KINDS", "MAX_NPY_ITEMSIZE"]
