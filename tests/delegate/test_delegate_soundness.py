"""Delegated fits are exact: the grader's training of a sandbox's fit is bitwise the sandbox's own.

The memo's nineteen programs (tests/memo/memo_programs.py) run twice in real processes with real
TensorFlow on real Fashion-MNIST images: once with the memo off (every fit trains in the
program's process), once delegating every miss to a real grader-side service (grader/delegate)
whose real training worker rebuilds the fit, proves it by its key, trains it and writes the
entry the program is then served. The weights, the optimizer's variables, the history, the RNG
draws after the fit and a later evaluate/predict must be bitwise equal; the fits the grader can
rebuild must really have been delegated, and the others must say why they were not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader import data
from grader.delegate import Caps, Catalog, Delegation, LocalTrainer
from grader.memo import MemoStore
from grader.rubric import Protocol

TESTS = Path(__file__).resolve().parent.parent
PROGRAM = TESTS / "memo" / "memo_programs.py"
sys.path.insert(0, str(TESTS / "memo"))
from memo_programs import N_TRAIN, N_VAL, PROGRAMS  # noqa: E402

pytestmark = pytest.mark.slow

DIGESTS = ("weights", "optimizer", "history", "after", "evaluate")
# what the grader cannot rebuild, and the reason the program's log gives
NOT_DELEGATED = {
    "early_stopping": "unkeyable",  # a callback: no key at all
    "custom_layer": "unkeyable",  # a class of the student's own
    "lr_schedule": "not delegable",  # a schedule object in the optimizer's config
    "sample_weight": "refused: an array the grader does not hold",  # weights of the program's own
    "class_weight": "refused: data the grader does not hold",
    "float64": "refused: an array the grader does not hold",  # float32/255 cast to float64: no course form
}


def _run(mode: str, store: Path, env: dict | None = None) -> dict:
    done = subprocess.run([sys.executable, str(PROGRAM), mode, str(store)], capture_output=True, text=True,
                          timeout=1200, env=dict(os.environ, **(env or {})))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(real_data, tmp_path_factory):
    # the programs' images are the first N_VAL + N_TRAIN of the training set, /255 in float32:
    # the protocol's split of a subset of exactly that size, which the grader's catalog holds
    subset = data.build_subset(real_data, tmp_path_factory.mktemp("fmnist-delegate") / "subset", N_TRAIN + N_VAL, 100)
    protocol = Protocol(validation_size=N_VAL, epochs=2)
    store = MemoStore(tmp_path_factory.mktemp("delegate-store"))
    requests, answers = tmp_path_factory.mktemp("requests"), tmp_path_factory.mktemp("answers")
    service = Delegation(requests, answers, store=store, caps=Caps(fits=100, epochs=10, params=2_000_000, max_bytes=64 << 20),
                         catalog=Catalog.load_or_build(subset, N_VAL, 255.0, None),
                         trainer=LocalTrainer(protocol, subset.folder, store)).start()
    try:
        with ThreadPoolExecutor(2) as pool:
            off = pool.submit(_run, "off", tmp_path_factory.mktemp("memo-unused"))
            delegated = pool.submit(_run, "delegate", store.folder,
                                    {"GRADER_TEST_DELEGATE": f"{requests}:{answers}"})
            off, delegated = off.result(), delegated.result()
    finally:
        summary = service.close()
    return {"off": off, "delegate": delegated, "summary": summary, "store": store}


@pytest.mark.parametrize("name", [p for p in PROGRAMS if p != "no_seed"])
def test_a_delegated_fit_gives_bitwise_the_training_of_the_sandbox(runs, name):
    for part in DIGESTS:
        assert runs["delegate"][name][part] == runs["off"][name][part], f"{name}: {part} differs when delegated"


# the same fit as an earlier program (the base program's key): served by that key, no request
SAME_AS_BASE = {"functional": ["exact key"], "fit_twice": ["exact key", "delegated"]}


@pytest.mark.parametrize("name", [p for p in PROGRAMS if p not in NOT_DELEGATED])
def test_what_the_grader_can_rebuild_is_delegated(runs, name):
    result = runs["delegate"][name]
    assert all(result["served"]), (result["reasons"], result["delegation"])
    assert result["reasons"] == SAME_AS_BASE.get(name, ["delegated"]), result["delegation"]


@pytest.mark.parametrize("name, why", sorted(NOT_DELEGATED.items()))
def test_what_it_cannot_trains_in_the_sandbox_and_says_why(runs, name, why):
    result = runs["delegate"][name]
    assert result["served"] == [False]
    assert why in (result["reasons"][0] + " " + result["delegation"][0]), (result["reasons"], result["delegation"])


def test_the_grader_counts_its_own_trainings(runs):
    """The service's count is the grader's: every entry in the store is one it trained, and the
    fits served without a request (the same key again) cost no training."""
    summary = runs["summary"]
    entries = runs["store"].keys()
    assert summary.trained == len(entries) > 10
    assert summary.refused.get("data") == 3 and summary.cancelled == 0
    delegated = sum(1 for r in runs["delegate"].values() for reason in r["reasons"] if reason == "delegated")
    assert delegated == summary.trained + summary.already

