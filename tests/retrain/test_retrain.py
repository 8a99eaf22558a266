"""The retraining cache: corrupt entries are recomputed, and two processes never train one key twice."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3

from grader import retrain
from grader.retrain import reference_model
from grader.rubric import Protocol


def spec(reference_rubric):
    small = dict(reference_model(reference_rubric, "he_normal"))
    return retrain.RunSpec("he_normal", small, 7)


def test_corrupt_cache_entry_is_recomputed(subset, reference_rubric, tmp_path):
    cache = retrain.Cache(tmp_path)
    protocol = Protocol(epochs=1)
    first, = retrain.run_all([spec(reference_rubric)], protocol, subset, cache)
    assert not first.cached
    with sqlite3.connect(cache.path) as db:
        db.execute("UPDATE runs SET value = ?", (json.dumps({"history": "garbage"}),))
    second, = retrain.run_all([spec(reference_rubric)], protocol, subset, cache)
    assert not second.cached and second.history == first.history  # retrained, same deterministic result
    third, = retrain.run_all([spec(reference_rubric)], protocol, subset, cache)
    assert third.cached


def _train(args):
    folder, subset_folder, model = args
    from grader import data

    dataset = data.locate(subset_folder)
    result, = retrain.run_all([retrain.RunSpec("he_normal", model, 11)], Protocol(epochs=1), dataset, retrain.Cache(folder))
    return result.cached


def test_two_processes_train_one_key_once(subset, reference_rubric, tmp_path):
    model = reference_model(reference_rubric, "he_normal")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        cached = pool.map(_train, [(tmp_path, str(subset.folder), model)] * 2)
    assert sorted(cached) == [False, True]


def test_parallel_workers_and_the_memo_give_bitwise_the_results_of_one_worker(subset, reference_rubric, tmp_path):
    """Two workers, or a worker served from the memo, give exactly what one worker trains."""
    from grader.memo import MemoStore

    specs = [retrain.RunSpec(init, reference_model(reference_rubric, init), 5) for init in ("he_normal", "glorot_uniform")]
    protocol = Protocol(epochs=1)

    def fields(results):
        return [(r.label, r.history, r.kernel_norms_before, r.kernel_norms_after, r.activations) for r in results]

    one = retrain.run_all(specs, protocol, subset, retrain.Cache(tmp_path / "one"), workers=1)
    two = retrain.run_all(specs, protocol, subset, retrain.Cache(tmp_path / "two"), workers=2)
    assert fields(two) == fields(one)
    store = MemoStore(tmp_path / "memo")
    recorded = retrain.run_all(specs, protocol, subset, retrain.Cache(tmp_path / "three"), memo_store=store, workers=2)
    assert [{k: v for k, v in r.memo.items() if k != "entries"} for r in recorded] == [{"fits": 1, "served": 0, "recorded": 1}] * 2
    assert sorted(key for r in recorded for key in r.memo["entries"]) == store.keys()  # each run names the entry it wrote
    served = retrain.run_all(specs, protocol, subset, retrain.Cache(tmp_path / "four"), memo_store=store, workers=1)
    assert [r.memo["served"] for r in served] == [1, 1] and not any(r.cached for r in served)
    assert [r.memo["entries"] for r in served] == [r.memo["entries"] for r in recorded]
    assert fields(served) == fields(recorded) == fields(one)
