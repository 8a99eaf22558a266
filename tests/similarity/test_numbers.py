"""The memo-key rule on results made by the real checks and the real memo log: equal numbers
from the same training are the protocol working, from different trainings they are a pair."""

from __future__ import annotations

from grader.checks import Context, run_checks
from grader.extract import Extracted
from grader.kinds import GradeStatus
from grader.memo import memo_claims
from grader.messages import msg
from grader.pipeline import GradeResult
from grader.retrain import Retraining
from grader.retrain.specs import RunResult
from grader.similarity.numbers import number_pairs, reported

INITS = ["glorot_uniform", "he_uniform", "he_normal"]
GRADER = {"glorot_uniform": 0.6736000180, "he_uniform": 0.7269999981, "he_normal": 0.7481999993}
PROTOCOL_KEYS = ["3f1a9c0d22e4b7a1", "9b0e77c15d2a6f38", "c4d2e8a90b1f3e57"]  # one per initializer's fit


def result(student: str, rubric, reported_accuracy: dict, keys: list[str] | None, memo_on: bool = True) -> dict:
    """A result.json as the pipeline writes it: the real checks over the student's numbers and the
    grader's runs, and the sandbox's memo log through the real memo_claims (keys None: no wrapper log)."""
    runs = {init: RunResult(init, 42, {"val_accuracy": [0.5, value]}, [], [], 1.0) for init, value in GRADER.items()}
    values = {"hw_val_accuracy": reported_accuracy}
    log = None if keys is None else {"log": [{"served": memo_on, "reason": "exact key" if memo_on else "memo off", "key": key}
                                             for key in keys]}
    checks = run_checks(Context(Extracted(values, {}), rubric, Retraining(runs, {}, {i: "hw_models" for i in runs})))
    execution = {"status": "completed", "memo": memo_claims(log, memo_on, "" if memo_on else msg("memo.off_flag"))}
    return GradeResult(student, student, GradeStatus.GRADED, 0.0, rubric.max_score, tuple(checks), {}, execution).to_json("es")


def test_reported_reads_the_check_and_the_memo_log(reference_rubric):
    side = reported(result("ana", reference_rubric, GRADER, PROTOCOL_KEYS))
    assert side.accuracy == {"glorot_uniform": 0.6736, "he_uniform": 0.727, "he_normal": 0.7482}
    assert side.keys == frozenset(PROTOCOL_KEYS) and side.memo_on and side.fits == 3
    assert reported({"student": "x", "checks": "nope", "execution": []}).accuracy == {}


def test_same_numbers_from_the_same_trainings_are_not_flagged(reference_rubric):
    results = [result(s, reference_rubric, GRADER, PROTOCOL_KEYS) for s in ("ana", "beto", "cata")]
    assert number_pairs(results, INITS) == ([], [])


def test_same_numbers_from_different_trainings_are_a_pair(reference_rubric):
    own = ["0d0d0d0d0d0d0d01", "0d0d0d0d0d0d0d02", "0d0d0d0d0d0d0d03"]
    copied = {**GRADER, "he_normal": GRADER["he_normal"] + 0.00001}  # the 5th decimal differs: still equal to 4
    results = [result("ana", reference_rubric, GRADER, PROTOCOL_KEYS), result("beto", reference_rubric, copied, own)]
    pairs, unjudged = number_pairs(results, INITS)
    assert unjudged == []
    assert [(p.a, p.b, p.inits, p.basis, p.score) for p in pairs] == [("ana", "beto", tuple(INITS), "different_keys", 1.0)]
    assert pairs[0].to_json()["source"] == "claim" and pairs[0].values["he_normal"] == 0.7482


def test_different_numbers_are_never_a_pair(reference_rubric):
    other = {init: value - 0.01 for init, value in GRADER.items()}
    results = [result("ana", reference_rubric, GRADER, PROTOCOL_KEYS), result("beto", reference_rubric, other, ["ff" * 8])]
    assert number_pairs(results, INITS) == ([], [])


def test_without_keys_the_rule_says_it_could_not_judge(reference_rubric):
    results = [result("ana", reference_rubric, GRADER, PROTOCOL_KEYS), result("beto", reference_rubric, GRADER, None, memo_on=False)]
    pairs, unjudged = number_pairs(results, INITS)
    assert pairs == []
    assert [(u.a, u.b, u.inits, u.reason) for u in unjudged] == [
        ("ana", "beto", tuple(INITS), msg("similarity.unjudged_memo_off", student="beto"))]


def test_numbers_with_no_fit_under_the_memo_are_a_pair(reference_rubric):
    """beto's sandbox ran no fit at all (the memo was on and saw none) yet reports ana's numbers."""
    results = [result("ana", reference_rubric, GRADER, PROTOCOL_KEYS), result("beto", reference_rubric, GRADER, [])]
    pairs, unjudged = number_pairs(results, INITS)
    assert [(p.a, p.b, p.basis) for p in pairs] == [("ana", "beto", "no_fit")] and unjudged == []
