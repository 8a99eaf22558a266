"""On a cluster, a delegated fit is one Dask task keyed by its memo key (`grader-fit-<key>`), run
by a real `dask worker` process with a training slot; the entry comes back as bytes, is checked
into the grading side's store, and the program is served it: bitwise its own training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader import data
from grader.cluster.spawn import spawn
from grader.delegate import Caps, Catalog, ClusterTrainer, Delegation
from grader.memo import MemoStore
from grader.rubric import Protocol

TESTS = Path(__file__).resolve().parent.parent
PROGRAM = TESTS / "memo" / "memo_programs.py"
sys.path.insert(0, str(TESTS / "memo"))
from memo_programs import N_TRAIN, N_VAL  # noqa: E402

pytestmark = pytest.mark.slow
DIGESTS = ("weights", "optimizer", "history", "after", "evaluate")


def _run(mode: str, store: Path, env: dict | None = None) -> dict:
    done = subprocess.run([sys.executable, str(PROGRAM), mode, str(store), "base", "momentum"], capture_output=True,
                          text=True, timeout=900, env=dict(os.environ, **(env or {})))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_delegated_fit_is_a_cluster_task_keyed_by_its_memo_key(real_data, tmp_path):
    subset = data.build_subset(real_data, tmp_path / "subset", N_TRAIN + N_VAL, 100)
    store = MemoStore(tmp_path / "store")
    requests, answers = tmp_path / "requests", tmp_path / "answers"
    requests.mkdir()
    answers.mkdir()
    with spawn(tmp_path / "cluster", 1) as cluster:
        trainer = ClusterTrainer(cluster.address, Protocol(validation_size=N_VAL, epochs=2), subset, str(subset.folder), store)
        service = Delegation(requests, answers, store=store, caps=Caps(fits=10, epochs=10, params=2_000_000, max_bytes=64 << 20),
                             catalog=Catalog.load_or_build(subset, N_VAL, 255.0, None), trainer=trainer).start()
        try:
            delegated = _run("delegate", store.folder, {"GRADER_TEST_DELEGATE": f"{requests}:{answers}"})
        finally:
            summary = service.close()
    off = _run("off", tmp_path / "unused")
    for name in ("base", "momentum"):
        assert delegated[name]["reasons"] == ["delegated"], delegated[name]["delegation"]
        for part in DIGESTS:
            assert delegated[name][part] == off[name][part], f"{name}: {part}"
    assert summary.trained == 2 and len(store.keys()) == 2
    assert {key[:16] for key in store.keys()} == set(summary.trained_keys)
