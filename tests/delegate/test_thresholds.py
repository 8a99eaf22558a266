"""Which fits a sandbox sends (grader/memo/fitmemo.py, Memo._delegate): none shorter than
`min_steps`; one shorter than `start_steps` only once the grader's worker for this submission
runs (the service's `trainer.json` answer); a long one always."""

from __future__ import annotations

import numpy as np

from grader.delegate.service import Delegation
from grader.memo import fitmemo


def _bound(rows: int, epochs: int) -> dict:
    return {"x": np.zeros((rows, 2), "float32"), "batch_size": 32, "epochs": epochs, "initial_epoch": 0,
            "validation_split": 0.0, "steps_per_epoch": None}


def _why(tmp_path, rows, epochs) -> str:
    memo = fitmemo.Memo(None)
    memo.delegation = {"requests": str(tmp_path), "answers": str(tmp_path), "min_steps": 2000, "start_steps": 20_000}
    found, why = memo._delegate("0" * 64, None, _bound(rows, epochs))  # no model: a sent fit fails to describe it
    assert found is None
    return why


def test_short_medium_and_long_fits(tmp_path):
    assert _why(tmp_path, 1000, 1).startswith("short fit: trained here")  # 32 steps
    assert _why(tmp_path, 55_000, 5).startswith("short fit for a worker yet to start")  # 8,595 steps
    assert _why(tmp_path, 55_000, 20).startswith("not delegable")  # 34,375 steps: sent (and fails here)


def test_a_medium_fit_is_sent_once_the_worker_runs(tmp_path):
    service = Delegation.__new__(Delegation)  # only its answer writer, on a real folder
    service.answers = tmp_path
    service._answer(fitmemo.TRAINER_READY, {"state": "running"})
    assert _why(tmp_path, 55_000, 5).startswith("not delegable")
