"""The one slow test: alice graded with the full course protocol on real Fashion-MNIST
(her notebook trains 3 × 20 epochs plus exercises 2–5; the grader retrains 3 × 20 epochs)."""

import pytest

from grader.messages import render
from grader.pipeline import Options, grade

from .conftest import ASSIGNMENTS, needs_root_sandbox


@pytest.mark.slow
def test_alice_full_protocol_on_real_data(real_data, reference_rubric, tmp_path):
    needs_root_sandbox()
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
