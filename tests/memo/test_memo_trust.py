"""The memo's trust lines, in the real bwrap sandbox: a sandbox opens entries by exact key and
can neither list nor write the store; a notebook that patches the wrapper changes what it says
about itself, never what the grader computes; --no-memo serves nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pytest

from grader import submission
from grader.execute import run as execute_run
from grader.kinds import CellStatus
from grader.memo import MemoSettings, MemoStore, memo_claims
from grader.messages import msg, render
from grader.pipeline import Options, grade
from grader.sandbox import MEMO, Sandbox

from ..conftest import ASSIGNMENTS
from ..helpers import notebook

KEY = "ab" * 32


def _snapshot(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.sandbox
def test_a_sandbox_opens_an_entry_by_key_but_cannot_list_write_or_delete(reference_rubric, subset, tmp_path):
    store = MemoStore(tmp_path / "cache")
    (store.folder / KEY).write_bytes(b"an entry")
    before = _snapshot(store.folder)
    cells = [
        f"assert open({MEMO + '/' + KEY!r}, 'rb').read() == b'an entry'",
        f"import os\ntry:\n    os.listdir({MEMO!r})\n    raise AssertionError('listed the store')\nexcept PermissionError:\n    pass",
        f"try:\n    open({MEMO + '/forged'!r}, 'wb')\n    raise AssertionError('wrote an entry')\nexcept OSError:\n    pass",
        f"try:\n    open({MEMO + '/' + KEY!r}, 'r+b')\n    raise AssertionError('opened an entry for writing')\nexcept OSError:\n    pass",
        f"try:\n    os.unlink({MEMO + '/' + KEY!r})\n    raise AssertionError('deleted an entry')\nexcept OSError:\n    pass",
        "try:\n    open('/opt/grader/fitmemo.py', 'a')\n    raise AssertionError('changed the wrapper')\nexcept OSError:\n    pass",
    ]
    sub = submission.load(notebook(tmp_path / "probe.ipynb", *cells))
    settings = MemoSettings(store, reference_rubric.protocol.threads)
    with Sandbox(reference_rubric.limits, subset.folder, memo_folder=store.folder) as sandbox:
        execution = execute_run(sub, sandbox, reference_rubric.contract_path, tmp_path / "art",
                                settings.sandbox_config(sandbox.memo_path))
    assert [c.status for c in execution.cells] == [CellStatus.OK] * len(cells), \
        [(c.source_head, c.evalue) for c in execution.cells if c.status != CellStatus.OK]
    assert _snapshot(store.folder) == before


FORGE = '''import sys, keras
_memo = sys.modules["_grader_memo"].memo
def _forged_fit(original, model, args, kwargs):
    """claims every fit served, returns invented numbers, trains nothing"""
    epochs = kwargs.get("epochs", 1)
    history = keras.callbacks.History()
    history.history = {"loss": [0.01] * epochs, "accuracy": [0.999] * epochs,
                       "val_loss": [0.01] * epochs, "val_accuracy": [0.999] * epochs}
    history.epoch = list(range(epochs))
    _memo.log.append({"served": True, "reason": "exact key", "key": "f" * 16, "seconds": 0.0})
    return history
_memo.fit = _forged_fit
'''


@pytest.mark.slow
@pytest.mark.sandbox
def test_a_patched_wrapper_changes_nothing_the_grader_computes(reference_rubric, subset, cache_dir, tmp_path):
    """A notebook replaces the memo's `fit` with one that trains nothing and claims every fit was
    served: its claims say so, the store is untouched, the grader's own runs are those of an
    honest alice, and the checks that compare claims with them fail."""
    options = Options(out=tmp_path / "out", data_dir=str(subset.folder), cache_dir=cache_dir, quiet=True)
    honest = json.loads(json.dumps(grade(ASSIGNMENTS / "alice.ipynb", reference_rubric, options).to_json("en")))
    store = MemoStore(cache_dir)
    before = _snapshot(store.folder)
    nb = nbformat.read(ASSIGNMENTS / "alice.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(FORGE))
    forger = tmp_path / "mallory.ipynb"
    nbformat.write(nb, forger)
    forged = grade(forger, reference_rubric, options).to_json("en")
    assert forged["status"] == "graded", forged["message"]
    assert forged["execution"]["memo"]["served"] == forged["execution"]["memo"]["fits"] > 0
    assert forged["execution"]["memo"]["source"] == "claim"
    assert {k: v for k, v in _snapshot(store.folder).items() if k in before} == before
    assert forged["retraining"]["runs"].keys() == honest["retraining"]["runs"].keys()
    for init, run in honest["retraining"]["runs"].items():
        assert forged["retraining"]["runs"][init]["history"] == run["history"]
    statuses = {c["id"]: c["status"] for c in forged["checks"]}
    assert statuses["hw_retrain_reproduces"] != "pass"  # the invented numbers are caught
    assert forged["score"] < honest["score"]


@pytest.mark.slow
@pytest.mark.sandbox
def test_no_memo_serves_nothing_and_says_so(reference_rubric, subset, cache_dir, tmp_path):
    options = Options(out=tmp_path / "out", data_dir=str(subset.folder), cache_dir=cache_dir, quiet=True, memo=False)
    result = grade(ASSIGNMENTS / "carol.py", reference_rubric, options).to_json("es")
    memo = result["execution"]["memo"]
    assert memo["enabled"] is False and memo["served"] == 0 and memo["fits"] >= 8
    assert memo["off_reason"] == render(msg("memo.off_flag"), "es")
    assert {f["reason"] for f in memo["log"]} <= {"memo off"}
    from grader.report.student import inline_code  # the report shows the flag as code
    assert str(inline_code(render(msg("memo.off", reason=msg("memo.off_flag")), "es"))) in \
        (tmp_path / "out" / "carol" / "report.html").read_text()


def test_hostile_memo_claims_are_read_as_bounded_data():
    garbage = {"log": [{"served": "yes", "reason": 7, "key": ["x"], "seconds": "fast"}, "not a dict",
                       {"served": True, "reason": "exact key", "key": "k" * 500, "seconds": 1e9}] + [{}] * 10_000}
    claims = memo_claims(garbage, True)
    assert claims["fits"] == 200 and claims["served"] == 1
    assert claims["log"][0] == {"served": False, "reason": "", "key": "", "seconds": None, "delegation": ""}
    assert len(claims["log"][1]["key"]) == 16
    for hostile in (None, [], "memo", {"log": "x"}, {"log": None}):
        assert memo_claims(hostile, False)["fits"] == 0
