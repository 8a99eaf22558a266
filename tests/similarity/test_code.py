"""Code pairs with the real copydetect on the real samples: planted copies found, independent
solutions not, the starter alone makes no pair, and hostile files are skipped, never a crash."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pytest

from grader.messages import msg
from grader.similarity import MIN_SHARED_CHARS, THRESHOLD, compare, starter_files
from grader.similarity.code import Fingerprints, boilerplate_hashes, read_code
from grader.submission import MAX_BYTES

from ..conftest import ASSIGNMENTS
from ..helpers import notebook

SAMPLES = Path(__file__).resolve().parent / "samples"
PROJECT = {"alice": ASSIGNMENTS / "alice.ipynb", "bob": ASSIGNMENTS / "bob.ipynb", "carol": ASSIGNMENTS / "carol.py"}
WRITTEN = {p.stem: p for p in SAMPLES.glob("*") if p.suffix in (".ipynb", ".py")}
PLANTED = {"alice_renamed": "alice", "alice_reordered": "alice", "alice_commented": "alice", "alice_all_edits": "alice",
           "bob_whitespace": "bob"}
STARTER = [ASSIGNMENTS / "starter.ipynb"]
INITS = ["glorot_uniform", "he_uniform", "he_normal"]


def pairs_of(submissions: dict) -> dict:
    found = compare(list(submissions.items()), [], INITS, STARTER)
    return {frozenset((p.a, p.b)): p for p in found.pairs if p.kind == "code"}


def test_the_samples_are_the_ones_the_bench_measured():
    assert len(WRITTEN) >= 5 and {p.suffix for p in WRITTEN.values()} == {".ipynb", ".py"}
    assert sorted(p.stem for p in (SAMPLES / "planted").glob("*.ipynb")) == sorted(PLANTED)


def test_every_planted_copy_is_found_against_its_original():
    submissions = {**PROJECT, **WRITTEN, **{name: SAMPLES / "planted" / f"{name}.ipynb" for name in PLANTED}}
    pairs = pairs_of(submissions)
    for copy, original in PLANTED.items():
        pair = pairs.get(frozenset((copy, original)))
        assert pair is not None, f"{copy} not paired with {original}"
        assert pair.score >= 0.9 and pair.cells, (copy, pair.score)


def test_no_independent_pair_is_flagged():
    """Each written solution against every other and against alice, bob and carol: none is a pair.
    (alice, bob and carol share an origin; their own pairs are expected, and asserted as such.)"""
    pairs = pairs_of({**PROJECT, **WRITTEN})
    independent = {frozenset(p) for p in combinations([*PROJECT, *WRITTEN], 2) if not set(p) <= set(PROJECT)}
    assert len(independent) == len(WRITTEN) * (len(WRITTEN) - 1) // 2 + 3 * len(WRITTEN)
    assert sorted(tuple(sorted(k)) for k in pairs if k in independent) == []
    assert {frozenset(("alice", "carol")), frozenset(("alice", "bob"))} <= set(pairs)


def test_reordered_cells_still_match_cell_by_cell():
    pairs = pairs_of({"alice": PROJECT["alice"], "reordered": SAMPLES / "planted" / "alice_reordered.ipynb"})
    pair = pairs[frozenset(("alice", "reordered"))]
    assert pair.score > 0.99
    exercises = next(c for c in pair.cells if c.a_cell == 9 or c.b_cell == 9)  # alice's exercises cell is her last
    assert exercises.a_cell != exercises.b_cell  # found in another place of the other notebook
    assert sum(line.shared for line in exercises.a_lines) > 20


def test_the_starter_alone_makes_two_students_similar_only_without_the_boilerplate(tmp_path):
    """Two students who only ran the starter (one filled in a single line) share nothing once the
    starter is boilerplate; without it they would be a pair: the boilerplate is what clears them."""
    cells = [c["source"] for c in json.loads(STARTER[0].read_text())["cells"] if c["cell_type"] == "code"]
    first = notebook(tmp_path / "ana.ipynb", *["".join(c) for c in cells])
    second = notebook(tmp_path / "beto.ipynb", *["".join(c) for c in cells[:-1]], "ex5_same_seed_identical = True")
    submissions = [("ana", first), ("beto", second)]
    assert compare(submissions, [], INITS, STARTER).pairs == ()
    without = compare(submissions, [], INITS, [])
    assert [(p.a, p.b) for p in without.pairs] == [("ana", "beto")]
    assert any(s.reason == msg("similarity.no_starter") for s in without.skipped)


def test_the_starter_is_found_in_the_class_folder_first(tmp_path):
    (tmp_path / "starter.ipynb").write_text(STARTER[0].read_text())
    one = notebook(tmp_path / "ana.ipynb", "x = 1")
    assert starter_files([one], ["starter.ipynb"]) == [tmp_path / "starter.ipynb"]
    sub = tmp_path / "sub"
    sub.mkdir()
    other = notebook(sub / "beto.ipynb", "x = 2")
    assert starter_files([other], ["starter.ipynb"]) == STARTER  # none beside it: the checkout's


@pytest.fixture()
def hostile(tmp_path) -> dict:
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "not_json.ipynb").write_text("{esto no es json")
    huge = folder / "huge.ipynb"
    with open(huge, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    (folder / "latin1.py").write_bytes("print('año')\n".encode("latin-1"))
    (folder / "nested.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "no_code.ipynb").write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": "hola"}]}))
    (folder / "weird_cells.ipynb").write_text(json.dumps({"cells": [None, 3, {"cell_type": "code", "source": 7},
                                                                    {"cell_type": "code", "source": ["x = 1\n", None]}]}))
    return {p.stem: p for p in folder.iterdir()}


def test_hostile_files_are_skipped_with_their_reason(hostile):
    reasons = {name: read_code(name, path).skipped for name, path in hostile.items()}
    assert reasons["not_json"] == msg("similarity.skip_not_json")
    assert reasons["nested"] == msg("similarity.skip_not_json")
    assert reasons["latin1"] == msg("similarity.skip_not_utf8")
    assert reasons["no_code"] == msg("similarity.skip_no_code")
    assert reasons["huge"] == msg("similarity.skip_too_big", size_mb=50.0, max_mb=MAX_BYTES / 2**20)
    assert reasons["weird_cells"] == "" and read_code("w", hostile["weird_cells"]).cells[0].source == "x = 1\n"
    assert read_code("gone", hostile["huge"].parent / "gone.ipynb").skipped.key == "similarity.skip_unreadable"
    found = compare([*hostile.items(), ("alice", PROJECT["alice"])], [], INITS, STARTER)
    assert {s.student for s in found.skipped} == {"not_json", "nested", "latin1", "no_code", "huge"}
    assert found.compared == 2 and found.pairs == ()


def test_scores_are_order_free_and_need_shared_code():
    codes = [read_code(name, path) for name, path in {**PROJECT, "dana": WRITTEN["dana"]}.items()]
    prints = Fingerprints(codes, boilerplate_hashes([read_code("starter", STARTER[0])]))
    assert prints.score("alice", "carol").score == pytest.approx(prints.score("carol", "alice").score)
    independent = prints.score("alice", "dana")
    assert independent.score < THRESHOLD / 2 and independent.shared_chars < MIN_SHARED_CHARS
