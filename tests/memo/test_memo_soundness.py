"""The training memo is exact: a served fit gives bitwise what training would have given.

Nineteen programs (tests/memo/memo_programs.py) each change something a fit depends on: an extra
random draw, another seed, `shuffle=False`, EarlyStopping, a learning-rate schedule,
`validation_split`, sample and class weights, float64 inputs, another batch size, `fit` twice,
momentum, no seed at all, dropout, a custom layer, the functional API… Each runs, in real
processes with real TensorFlow on real Fashion-MNIST images, with the memo off, recording (the
grader's worker), serving from a store that holds every program's entries, and serving from a
store that holds only the base program's. The weights, the optimizer's variables, the history
and the RNG draws after the fit must be bitwise equal in all four; a hit must happen where an
entry exists for those exact inputs, and nowhere else.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PROGRAM = TESTS / "memo_programs.py"
sys.path.insert(0, str(TESTS))
from memo_programs import PROGRAMS  # noqa: E402

pytestmark = pytest.mark.slow

DIGESTS = ("weights", "optimizer", "history", "after", "evaluate")
# keyable programs: every one of their fits has an exact key, so a store with their entries serves them
UNKEYABLE = {"early_stopping": "callback EarlyStopping", "custom_layer": "Scale from"}


def _run(mode: str, store: Path, *names: str) -> dict:
    done = subprocess.run([sys.executable, str(PROGRAM), mode, str(store), *names], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    every = tmp_path_factory.mktemp("memo-every")
    base_only = tmp_path_factory.mktemp("memo-base")
    with ThreadPoolExecutor(2) as pool:  # two independent pairs, one per core
        off = pool.submit(_run, "off", tmp_path_factory.mktemp("memo-unused"))
        record = pool.submit(_run, "record", every)
        base = pool.submit(lambda: (_run("record", base_only, "base"), _run("serve", base_only))[1])
        off, record, served_base = off.result(), record.result(), base.result()
    served_every = _run("serve", every)
    return {"off": off, "record": record, "serve": served_every, "serve_base": served_base, "store": every}


@pytest.mark.parametrize("name", [p for p in PROGRAMS if p != "no_seed"])
def test_memo_on_and_off_give_bitwise_the_same_training(runs, name):
    off = runs["off"][name]
    for mode in ("record", "serve", "serve_base"):
        for part in DIGESTS:
            assert runs[mode][name][part] == off[part], f"{name}: {part} differs with the memo in mode {mode}"


@pytest.mark.parametrize("name", [p for p in PROGRAMS if p not in UNKEYABLE and p != "no_seed"])
def test_a_store_with_the_exact_entry_serves_it(runs, name):
    assert all(runs["serve"][name]["served"]), runs["serve"][name]["reasons"]


def test_a_store_serves_only_the_inputs_it_was_trained_on(runs):
    """With only the base program's entries, only the fits that are the base program are served:
    the base itself, the first fit of `fit_twice`, and the same model written with the
    functional API (measured bitwise identical to the Sequential one)."""
    served = {name: r["served"] for name, r in runs["serve_base"].items()}
    assert {name for name, flags in served.items() if any(flags)} == {"base", "fit_twice", "functional"}
    assert served["fit_twice"] == [True, False]


@pytest.mark.parametrize("name, why", sorted(UNKEYABLE.items()))
def test_what_the_key_cannot_describe_trains_as_usual(runs, name, why):
    assert runs["serve"][name]["served"] == [False] and why in runs["serve"][name]["reasons"][0]


def test_no_seed_at_all_is_never_served(runs):
    """Without any seed the process starts from one drawn from the OS (op determinism needs a
    seed): the fit still runs, differs from process to process, and is never served."""
    assert [r["no_seed"]["served"] for r in runs.values() if isinstance(r, dict) and "no_seed" in r] == [[False]] * 4
    assert runs["off"]["no_seed"]["weights"] != runs["record"]["no_seed"]["weights"]


@pytest.mark.parametrize("forgery", ["garbage", "another_key", "truncated"])
def test_a_forged_or_damaged_entry_is_refused_and_the_fit_trains(runs, tmp_path, forgery):
    store = tmp_path / "store"
    shutil.copytree(runs["store"], store)
    entries = sorted(p for p in store.iterdir() if "." not in p.name)
    base_key, = [p for p in entries if p.name.startswith(runs["record"]["base"]["keys"][0])]
    other = [p for p in entries if p != base_key][0]
    raw = base_key.read_bytes()
    base_key.write_bytes({"garbage": b"GRDMEMO1" + b"\xff" * 64, "another_key": other.read_bytes(),
                          "truncated": raw[: len(raw) // 2]}[forgery])
    result = _run("serve", store, "base")["base"]
    assert result["served"] == [False] and result["reasons"] == ["corrupt entry"]
    assert all(result[part] == runs["off"]["base"][part] for part in DIGESTS)
