"""The one slow test: alice graded with the full course protocol on real Fashion-MNIST.

The grader trains the reference runs (3 × 20 epochs, exercises 2 and 4) while her notebook
runs; her protocol fits are served from the training memo, so her numbers are the grader's,
bit for bit, and the retraining finds every run already trained."""

import pytest

from grader.messages import render
from grader.pipeline import Options, grade

from ..conftest import ASSIGNMENTS

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_alice_full_protocol_on_real_data(real_data, reference_rubric, tmp_path):
    result = grade(ASSIGNMENTS / "alice.ipynb", reference_rubric,
                   Options(out=tmp_path, data_dir=str(real_data.folder), cache_dir=tmp_path / "cache", quiet=True))
    assert result.status == "graded" and not result.data["subset"]
    assert result.score == result.max_score, [(c.id, c.status, render(c.message, 'en')) for c in result.checks if c.status != "pass"]
    runs = result.retraining["runs"]
    assert set(runs) == {"glorot_uniform", "he_uniform", "he_normal"}
    for run in runs.values():
        assert len(run["history"]["val_accuracy"]) == 20
        assert 0.80 < run["history"]["val_accuracy"][-1] < 0.95  # real training, real data
    assert result.retraining["protocol"]["epochs"] == 20
    memo = result.execution["memo"]
    # 3 homework fits, exercise 2's glorot and he runs, exercise 4's two: served. Her random_normal
    # initializer is made before she seeds (so its weights are not the protocol's), and exercise
    # 5's fits are her own 1-epoch model: those train.
    assert memo["enabled"] and memo["served"] >= 7, memo
    reproduces = next(c for c in result.checks if c.id == "hw_retrain_reproduces")
    assert all(reproduces.evidence[init]["diff_pp"] == 0.0 for init in runs), reproduces.evidence
