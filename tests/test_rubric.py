"""The rubric as typed data: the reference loads, every class fact is derived from it, and a
teacher's mistake names the field that is wrong."""

from __future__ import annotations

import json
import shutil

import pytest

from grader import rubric
from grader.checks import registered_ids
from grader.errors import RubricError
from grader.messages import msg, render

from .helpers import said


@pytest.fixture()
def reference_copy(tmp_path):
    folder = tmp_path / "ref"
    shutil.copytree(rubric.reference_dir(), folder)
    return folder


def field_error(folder, field: str, problem) -> RubricError:
    """The error a teacher gets for one wrong field of `folder`'s rubric.json: the field, what is wrong, where to fix it."""
    path = str(folder / "rubric.json")
    return RubricError(msg("rubric.field", file=path, field=field, problem=problem), hint=msg("rubric.field_hint", file=path))


def load_edited(folder, edit=None, contract_edit=None):
    path = folder / "rubric.json"
    raw = json.loads(path.read_text())
    if edit:
        edit(raw)
    path.write_text(json.dumps(raw))
    if contract_edit:
        contract = json.loads((folder / "contract.json").read_text())
        contract_edit(contract)
        (folder / "contract.json").write_text(json.dumps(contract))
    loaded = rubric.load(path, folder / "contract.json", folder / "mistakes.json")
    rubric.verify_check_ids(loaded, registered_ids())
    return loaded


def test_reference_loads_as_typed_sections(reference_rubric):
    hw = reference_rubric.homework
    assert hw.units == (300, 200, 100, 50, 10) and hw.input_size == 784
    assert hw.kernel_shapes == [(784, 300), (300, 200), (200, 100), (100, 50), (50, 10)]
    assert reference_rubric.exercise1.conv.kh == 3 and reference_rubric.tolerances.alpha == 1e-4
    assert reference_rubric.exercises.ex2.runs["random_normal"].params == {"mean": 0.0, "stddev": 0.01}
    assert reference_rubric.protocol.epochs == 20 and reference_rubric.limits.total_timeout_s == 4200
    assert reference_rubric.max_score == sum(c.points for c in reference_rubric.checks) == 33


def test_facts_are_derived_from_the_rubric(reference_rubric, reference_copy):
    facts = reference_rubric.facts()
    assert facts["ex1_fan_sum"] == 912 and round(facts["ex1_limit"], 4) == 0.0811
    assert facts["measured_seeds"] == 5 and facts["measured_holds"] == 1  # design.md's table
    edited = load_edited(reference_copy, lambda r: r["exercise1"].update(fan_in=100, fan_out=28),
                         lambda c: c["names"]["ex1_kernel"].update(shape=[100, 28]))
    assert edited.facts()["ex1_fan_sum"] == 128


def test_mistakes_quote_the_rubric(reference_rubric, reference_copy):
    assert "√(6/912) ≈ 0.0811" in reference_rubric.mistake("wrong_limit", "fix", "es")
    assert "on 784 inputs" in reference_rubric.mistake("wrong_limit", "fix", "en")
    edited = load_edited(reference_copy, lambda r: r["exercise1"].update(fan_in=100, fan_out=28),
                         lambda c: c["names"]["ex1_kernel"].update(shape=[100, 28]))
    assert "√(6/128) ≈ 0.2165" in edited.mistake("wrong_limit", "fix", "es")
    assert edited.mistake("no_such_code", "symptom", "es") == "no_such_code"


@pytest.mark.parametrize("edit, field, problem", [
    (lambda r: r["homework"].pop("units"), "homework.units", msg("rubric.missing_field")),
    (lambda r: r["homework"].update(units="300"), "homework.units", msg("rubric.want_list", found="'300'")),
    (lambda r: r["protocol"].update(epochs=2.5), "protocol.epochs", msg("rubric.want_integer", found="2.5")),
    (lambda r: r["tolerances"].update(alpha="0.01"), "tolerances.alpha", msg("rubric.want_number", found="'0.01'")),
    (lambda r: r["protocol"].update(epoch=3), "protocol.epoch", msg("rubric.unknown_field")),
    (lambda r: r.update(homwork={}), "homwork", msg("rubric.unknown_field")),
    (lambda r: r["limits"].update(memory_gb=4), "limits.memory_gb", msg("rubric.unknown_field")),
    (lambda r: r["exercises"]["ex2"]["runs"]["he_normal"].pop("name"), "exercises.ex2.runs.he_normal.name", msg("rubric.missing_field")),
    (lambda r: r["checks"][0].update(points="dos"), "checks[0].points", msg("rubric.want_number", found="'dos'")),
])
def test_a_broken_field_is_named(reference_copy, edit, field, problem):
    with pytest.raises(RubricError) as caught:
        load_edited(reference_copy, edit)
    spanish, english = caught.value.render("es"), caught.value.render("en")
    assert spanish == field_error(reference_copy, field, problem).render("es")
    assert english == field_error(reference_copy, field, problem).render("en") and "campo" not in english


def test_check_ids_must_match_the_registry_both_ways(reference_copy):
    edits = [(lambda r: r["checks"].append({"id": "ex9_nothing", "exercise": "ex9", "points": 1}), {"unknown": "ex9_nothing"}),
             (lambda r: r.update(checks=[c for c in r["checks"] if c["id"] != "ex1_limit"]), {"absent": "ex1_limit"}),
             (lambda r: r["checks"].append({"id": "hw_histories", "exercise": "hw", "points": 1}), {"duplicate": "hw_histories"})]
    found = {"duplicate": "—", "unknown": "—", "absent": "—"}
    for edit, wrong in edits:  # each edit stays in the copy: the ids wrong so far are all named
        with pytest.raises(RubricError) as caught:
            load_edited(reference_copy, edit)
        found.update(wrong)
        problem = msg("rubric.check_ids", **found)
        assert caught.value.render("es") == field_error(reference_copy, "checks", problem).render("es"), wrong


def test_contract_and_rubric_must_agree(reference_copy):
    with pytest.raises(RubricError, match="names.ex1_kernel.shape"):
        load_edited(reference_copy, lambda r: r["exercise1"].update(fan_out=64))
    with pytest.raises(RubricError, match="homework.he_initializers"):
        load_edited(reference_copy, lambda r: r["homework"].update(he_initializers=["lecun_normal"]))


def test_unreadable_rubric_is_a_clear_error(tmp_path, reference_copy):
    (reference_copy / "rubric.json").write_text("{not json")
    with pytest.raises(RubricError) as caught:
        rubric.load(reference_copy / "rubric.json", reference_copy / "contract.json", reference_copy / "mistakes.json")
    with pytest.raises(json.JSONDecodeError) as decoding:
        json.loads("{not json")
    unreadable = {"file": str(reference_copy / "rubric.json"), "why": str(decoding.value)}  # the file, and json's own words
    assert str(caught.value) == said("rubric.unreadable", "es", "rubric.unreadable_hint", **unreadable)
    assert render(caught.value.message, "en") == render(msg("rubric.unreadable", **unreadable), "en")


def test_edited_protocol_and_units_load(reference_copy):
    edited = load_edited(reference_copy, lambda r: (r["homework"].update(units=[256, 128, 10]), r["protocol"].update(epochs=3)))
    assert edited.homework.kernel_shapes == [(784, 256), (256, 128), (128, 10)]
    assert edited.facts()["units"] == [256, 128, 10] and edited.facts()["epochs"] == 3
    assert edited.digest != rubric.load().digest


def test_the_harvest_reserve_has_a_floor_and_a_ceiling(reference_copy, reference_rubric):
    """The harvest's share of the budget is the rubric's, never below the measured floor and never
    more than a third of the total; a rubric outside that is refused with both bounds."""
    from grader.rubric import HARVEST_RESERVE_FLOOR_S, Limits

    assert reference_rubric.limits.harvest_reserve() == reference_rubric.limits.harvest_reserve_s >= HARVEST_RESERVE_FLOOR_S
    for value in (HARVEST_RESERVE_FLOOR_S - 1, 4200):
        with pytest.raises(RubricError, match="harvest_reserve_s") as caught:
            load_edited(reference_copy, lambda r: r["limits"].update(harvest_reserve_s=value))
        problem = msg("rubric.harvest_reserve", value=value, floor=HARVEST_RESERVE_FLOOR_S, most=1400)  # a third of 4200 s
        for lang in ("es", "en"):
            assert caught.value.render(lang) == field_error(reference_copy, "limits.harvest_reserve_s", problem).render(lang)
    assert Limits(total_timeout_s=30, harvest_reserve_s=1).harvest_reserve() == 10  # a tiny test budget: a third
    assert Limits(total_timeout_s=3600, harvest_reserve_s=1).harvest_reserve() == HARVEST_RESERVE_FLOOR_S


def test_every_contract_example_is_code_the_report_can_quote(reference_rubric):
    """check.common.missing shows the example as `code` (one code span; its lines kept by the
    page's pre-wrap): a backtick inside would break out of it."""
    for name, spec in reference_rubric.contract["names"].items():
        example = spec.get("example") if isinstance(spec, dict) else None
        texts = example.values() if isinstance(example, dict) else [example]
        for text in texts:
            assert text and "`" not in text, name
