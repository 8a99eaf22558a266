"""The report escapes every student-controlled string, and a real browser runs none of it."""

from __future__ import annotations

import shutil
import subprocess


import json
import re

import markupsafe
import pytest

from grader import report
from grader.checks import CheckResult
from grader.kinds import CheckStatus, GradeStatus
from grader.messages import catalog, msg, render
from grader.pipeline import GradeResult

MARK = "document.documentElement.setAttribute('data-pwned','yes')"
PAYLOADS = [f"<script>{MARK}</script>", f'<img src=x onerror="{MARK}">', f'"><svg onload="{MARK}">']
HOLE = "\0"  # a parameter left open: what the page says around it is checked, not its value


def shown(key: str, lang: str, **params) -> str:
    """A catalog sentence as the page shows it (rendered, then HTML-escaped)."""
    return str(markupsafe.escape(render(msg(key, **params), lang)))


def fixed_parts(key: str, lang: str, **params) -> list[str]:
    """The stretches of a catalog sentence between its parameters given as HOLE, as the page shows them."""
    return [str(markupsafe.escape(part)) for part in render(msg(key, **params), lang).split(HOLE) if part.strip()]


def hostile_result() -> GradeResult:
    payload = " ".join(PAYLOADS)
    check = CheckResult("ex1_limit", "ex1", CheckStatus.FAIL, 0.0, 2.0, "t", "w", payload, payload, payload,
                        {"key": payload}, ("wrong_limit",))
    cell = {"index": 0, "status": "error", "source_head": payload, "ename": payload, "evalue": payload,
            "traceback": payload, "output_bytes": 0, "truncated": False}
    return GradeResult("x", payload, GradeStatus.CRASHED, 0.0, 25.0, (check,), {"level": "bwrap", "limits": {"k": payload}},
                       {"cells": [cell]}, {"folder": payload, "subset": False}, {"source": {payload: payload}, "runs": {}},
                       message=payload)


def test_payloads_are_escaped(reference_rubric):
    html = report.render_report(hostile_result(), None, reference_rubric, "es")
    for payload in PAYLOADS:
        assert payload not in html
    assert "&lt;script&gt;" in html
    assert "<script" not in html.lower()


def test_real_browser_runs_nothing_and_loads_nothing(reference_rubric, tmp_path):
    chromium = shutil.which("chromium")
    assert chromium, "chromium is installed by scripts/setup.sh"
    page = tmp_path / "report.html"
    page.write_text(report.render_report(hostile_result(), None, reference_rubric, "es"))
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<title>" in done.stdout
    assert 'data-pwned="yes"' not in done.stdout
    assert render(msg("ui.title"), "es") in done.stdout


def _chromium(page, tmp_path, *extra):
    return subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


def test_real_report_renders_offline_on_desktop_and_phone(reference_rubric, tmp_path):
    """A report with every figure, in Chromium: screenshots at desktop and phone width, no console
    errors, no network request at all (net log), every figure a valid PNG with an alt text."""
    import base64
    import io
    import re

    from PIL import Image

    material = _material()
    result = GradeResult("ana", "ana", GradeStatus.GRADED, 20.0, 33.0, (), {"level": "bwrap", "limits": {}}, {"cells": []},
                         {"folder": "/x", "subset": False}, {"source": {}, "runs": {}})
    html = report.render_report(result, material, reference_rubric, "es")
    page = tmp_path / "report.html"
    page.write_text(html)
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', html)
    assert len(images) >= 5
    for data, alt in images:
        assert Image.open(io.BytesIO(base64.b64decode(data))).size[0] > 100 and len(alt) > 20
    assert re.search(r"<h1>.+</h1>", html) and html.count("<h2") >= 5
    netlog = tmp_path / "net.json"
    for width, name in ((1000, "desktop"), (390, "phone")):
        shot = tmp_path / f"{name}.png"
        done = _chromium(page, tmp_path, f"--window-size={width},2400", f"--screenshot={shot}", "--enable-logging=stderr",
                         "--v=0", f"--log-net-log={netlog}")
        assert done.returncode == 0 and shot.stat().st_size > 10_000, done.stderr[-2000:]
        assert "Uncaught" not in done.stderr and ":CONSOLE(" not in done.stderr, done.stderr[-2000:]
        # Chromium's own housekeeping (time sync, updates) is not the page's doing; anything else is
        browser_own = re.compile(r"^https?://[^/]*(google\.com|googleapis\.com|gvt1\.com)/")
        requests = [u for u in re.findall(r'"url":"(https?://[^"]+)"', netlog.read_text()) if not browser_own.match(u)]
        assert requests == [], requests
    phone = Image.open(tmp_path / "phone.png")
    assert phone.size[0] == 390


# --- language and class facts -------------------------------------------------------------------

def _spanish_only(prefixes=("ui.", "run.", "terminal.")) -> list[str]:
    """The report's Spanish sentences that differ from their English (long enough to be unmistakable)."""
    es, en = catalog("es"), catalog("en")
    found = []
    for key, value in es.items():
        if key.startswith(prefixes) and value != en[key]:
            # the fixed stretch of each template (placeholders cut out) is what must not show up
            found += [piece.strip() for piece in re.split(r"\{[^}]*\}", value) if len(piece.strip()) >= 6]
    return found


def failing_result(rubric) -> GradeResult:
    """A result with real checks that fail: run_checks on a submission that has almost nothing right."""
    import numpy as np

    from grader.checks import Context, run_checks
    from grader.extract import Extracted
    from grader.retrain import Retraining

    values = {"ex1_limit": float(np.sqrt(6 / rubric.exercise1.fan_in)), "ex1_var_theory": 1.0}
    checks = run_checks(Context(Extracted(values, {}), rubric, Retraining({}, {}, {}, msg("retrain.off"))))
    assert any(c.status == CheckStatus.FAIL for c in checks) and any(c.mistakes for c in checks)
    return GradeResult("ana", "ana", GradeStatus.TIMEOUT, sum(c.points for c in checks), rubric.max_score, tuple(checks),
                       {"level": "none", "limits": {}, "note": msg("selfcheck.note")},
                       {"cells": [{"index": 2, "status": "error", "source_head": "fit()", "ename": "ValueError",
                                   "evalue": "bad", "traceback": "tb", "output_bytes": 0, "truncated": False}]},
                       {"folder": "/x", "subset": True}, {"source": {}, "runs": {}}, message="boom")


def test_english_report_has_no_spanish(reference_rubric):
    result = failing_result(reference_rubric)
    html = report.render_report(result, None, reference_rubric, "en")
    spanish = _spanish_only()
    assert len(spanish) > 60
    leaked = [s for s in spanish if s in html]
    assert leaked == [], leaked
    assert shown("ui.title", "en") in html and shown("ui.sandbox_none", "en") in html
    assert shown("run.timeout", "en", epochs=20) in html  # the timeout message quotes the protocol's epochs
    for code in {code for c in result.checks for code in c.mistakes}:
        assert reference_rubric.mistake(code, "fix", "en") in html.replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">")
    terminal = report.terminal_summary(result, reference_rubric, "en")
    assert render(msg("terminal.note", note=msg("selfcheck.note")), "en") in terminal and [s for s in spanish if s in terminal] == []
    spanish_page = report.render_report(result, None, reference_rubric, "es")
    assert shown("ui.grade_status.timeout", "es") in spanish_page and shown("ui.fix_first", "es") in spanish_page


def test_noise_paragraph_reproduces_the_measured_table(reference_rubric):
    """The reference table gives the numbers the class has always quoted (design.md)."""
    text = report.render_report(failing_result(reference_rubric), None, reference_rubric, "es")
    differences = msg("ui.and",
                      head=msg("ui.noise_first", init="he_uniform", baseline="glorot_uniform", mean="−0.06", low="−0.75", high="+0.63"),
                      last=msg("ui.noise_next", init="he_normal", baseline="glorot_uniform", mean="+0.58", low="−1.31", high="+2.46"))
    assert shown("criterion.shipped", "es", file="rubric.json", seeds=5, differences=differences,
                 holds=msg("ui.holds_each", holds=1, seeds=5)) in text
    for part in fixed_parts("criterion.tail", "es", low=HOLE, high=HOLE, criterion=0.5, layers=5, epochs=20, optimizer="SGD"):
        assert part in text, part
    assert shown("ui.noise_title", "es", criterion=0.5) in text


def test_class_facts_come_from_the_rubric(reference_rubric):
    """Another table, another network, another criterion: the report says what this rubric says."""
    from dataclasses import replace

    hw = reference_rubric.homework
    table = {"1": {"glorot_uniform": 80.0, "he_uniform": 81.0, "he_normal": 80.0},
             "2": {"glorot_uniform": 80.0, "he_uniform": 81.5, "he_normal": 80.1},
             "3": {"glorot_uniform": 80.0, "he_uniform": 80.5, "he_normal": 79.0}}
    rubric = replace(reference_rubric, homework=replace(hw, units=(64, 32, 10), criterion_pp=0.75,
                                                        measured=replace(hw.measured, val_accuracy_pct=table)),
                     exercises=replace(reference_rubric.exercises,
                                       ex2=replace(reference_rubric.exercises.ex2, units=(128, 10))))
    rubric = rubric.with_protocol(epochs=7, optimizer="adam")
    html = report.render_report(failing_result(rubric), None, rubric, "es")
    said = [*fixed_parts("ui.noise_first", "es", init="he_uniform", baseline="glorot_uniform", mean="+1.00", low=HOLE, high=HOLE),
            *fixed_parts("ui.noise_next", "es", init="he_normal", baseline="glorot_uniform", mean="−0.30", low=HOLE, high=HOLE),
            shown("ui.and", "es", head=msg("ui.holds_one", holds=2, seeds=3, init="he_uniform"),
                  last=msg("ui.holds_one", holds=0, seeds=3, init="he_normal")),
            *fixed_parts("criterion.tail", "es", low=HOLE, high=HOLE, criterion=0.75, layers=3, epochs=7, optimizer="ADAM"),
            *fixed_parts("criterion.shipped", "es", file=rubric.source.name, seeds=3, differences=HOLE, holds=HOLE),
            shown("ui.noise_title", "es", criterion=0.75), shown("run.timeout", "es", epochs=7)]
    for part in said:
        assert part in html, part
    assert "5 semillas" not in html and "20 épocas" not in html
    empty = replace(rubric, homework=replace(rubric.homework, measured=replace(hw.measured, val_accuracy_pct={})))
    assert shown("criterion.unmeasured", "es") in report.render_report(failing_result(empty), None, empty, "es")


def test_write_result_writes_each_file_once_report_first(reference_rubric, tmp_path, monkeypatch):
    from grader.report import student

    result = failing_result(reference_rubric)
    calls = []
    real = student.write_text_atomic
    monkeypatch.setattr(student, "write_text_atomic", lambda path, text: (calls.append(path.name), real(path, text)))
    report.write_result(result, None, reference_rubric, tmp_path, "en")
    assert calls == ["report.html", "result.json"]
    saved = json.loads((tmp_path / "ana" / "result.json").read_text())
    assert saved == json.loads(json.dumps(result.to_json("en")))
    assert saved["status"] == "timeout" and saved["sandbox"]["note"].startswith("self-check")
    assert shown("ui.title", "en") in (tmp_path / "ana" / "report.html").read_text()
    report.write_result(result, "<p>given</p>", reference_rubric, tmp_path, "es")
    assert (tmp_path / "ana" / "report.html").read_text() == "<p>given</p>"
    assert not list(tmp_path.rglob(".tmp-*"))


def test_unwritable_output_is_an_output_error_in_the_reader_language(tmp_path):
    from grader.errors import GraderError, OutputError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = blocker / "sub" / "result.json"
    with pytest.raises(OutputError) as caught:
        report.write_text_atomic(target, "{}")
    said = {lang: GraderError(msg("output.cannot_write", path=str(target), why=HOLE),  # why: the system's own words
                              hint=msg("output.cannot_write_hint", folder=str(target.parent))).render(lang).split(HOLE)
            for lang in ("es", "en")}
    for lang, parts in said.items():  # what failed, then what to do (--out)
        assert all(part in caught.value.render(lang) for part in parts), (lang, parts)
    assert said["es"][0] not in caught.value.render("en")


# --- the order a student reads ------------------------------------------------------------------

def _material():
    """Real inputs for every figure (the offline browser test's and the section-order golden's)."""
    import numpy as np

    from grader.execute import Execution
    from grader.extract import Extracted
    from grader.retrain import Retraining, RunResult
    from grader.sandbox import SandboxReport

    history = {"val_accuracy": [0.7, 0.8, 0.85], "val_loss": [0.9, 0.6, 0.5]}
    layer = {"var": 0.1, "hist": [1, 3, 5, 3, 1], "edges": [0, 1, 2, 3, 4, 5]}
    run = RunResult("x", 42, history, [24.0, 20.0, 14.0, 10.0, 4.0], [25.0, 21.0, 15.0, 11.0, 5.0], 1.0,
                    activations={"init": [layer] * 5})
    retraining = Retraining({k: run for k in ("glorot_uniform", "he_uniform", "he_normal")}, {}, {},
                            exercises={"ex2": {"he_normal": run, "random_normal": run}, "ex4": {"he_normal_tanh": run}})
    values = {"hw_histories": {"he_normal": history}, "ex2_histories": {"he_normal": history},
              "ex4_histories": {"he_normal_tanh": history},
              "ex1_kernel": np.random.default_rng(0).uniform(-0.08, 0.08, (784, 128)), "ex1_limit": 0.081,
              "hw_kernel_norms_before": {"he_normal": [24.0, 20.0]}, "hw_kernel_norms_after": {"he_normal": [25.0, 21.0]}}
    return report.Material(Extracted(values, {}), retraining,
                           Execution("completed", (), None, SandboxReport("bwrap", 65534, False, "cgroup", "cgroup", "tmpfs"), 1.0))


def reading_order(html: str) -> list[str]:
    """The page as a reader meets it: each section's id, and inside an exercise its numbers
    table, its checks and its figures, in order."""
    order = []
    for section in re.finditer(r'<section[^>]*aria-labelledby="([^"]+)"(.*?)</section>', html, re.S):
        order.append(section.group(1))
        for part in re.finditer(r'<table aria-label|<article [^>]*id="(check-[^"]+)"|<figure>|id="noise"', section.group(2)):
            order.append("  " + (part.group(1) or {"<table aria-label": "numbers", "<figure>": "figure",
                                                   'id="noise"': "noise"}[part.group(0)]))
    return order


def test_section_order_matches_its_golden(reference_rubric, update_goldens):
    """What to fix first, the summary, one section per exercise (numbers, checks, figures
    together), the failed cells, the environment: a change to this order is made on purpose
    (pytest --update-goldens), never by accident."""
    from .. import golden

    result = failing_result(reference_rubric)
    html = report.render_report(result, _material(), reference_rubric, "es")
    order = reading_order(html)
    path = golden.GOLDENS / "report_sections.json"
    if update_goldens:
        path.write_text(json.dumps(order, indent=1) + "\n")
    assert order == json.loads(path.read_text())
    # and what the order means: fix-first before the summary, every exercise's figures inside it
    assert order.index("s-fix") < order.index("s-summary") < order.index("ex-ex1-h") < order.index("s-env")
    hw = order[order.index("ex-hw-h"):order.index("ex-ex2-h")]
    assert "  figure" in hw and "  check-hw_he_criterion" in hw


def test_fix_first_lists_each_cause_once_with_the_points_its_group_gives_back(reference_rubric):
    result = failing_result(reference_rubric)
    html = report.render_report(result, None, reference_rubric, "es")
    part = html[html.index('id="s-fix"'):html.index('id="s-summary"')]
    items = re.findall(r"<li>(.*?)</li>", part, re.S)
    lost = {c.id: c.max_points - c.points for c in result.checks if c.max_points - c.points > 0 and c.status != "skipped"}
    gains, linked, fixes = [], [], []
    for item in items:
        gains.append(float(re.search(r'class="gain">\+([\d.]+) punto', item).group(1)))
        ids = list(dict.fromkeys(re.findall(r'href="#check-([^"]+)"', item)))
        linked += ids
        assert gains[-1] == pytest.approx(sum(lost[i] for i in ids))  # the group's points: all its checks'
        fixes += [line.strip() for line in re.sub(r"<small>.*?</small>", "", item, flags=re.S).split("<br>")[1:] if line.strip()]
    assert items and sorted(linked) == sorted(lost)  # every check that lost points, in exactly one group
    assert gains == sorted(gains, reverse=True)
    assert len(fixes) == len(set(fixes))  # no fix said twice
    for check_id in linked:  # each link lands on its check
        assert f'id="check-{check_id}"' in html
    assert "`" not in re.sub(r"<pre>.*?</pre>", "", html, flags=re.S)  # Markdown backticks became <code>


def test_one_cause_is_one_group_even_across_exercises(reference_rubric):
    """A check with two mistakes joins both causes: its points come back only with both fixes."""
    from grader.report.student import fix_groups
    items = [{"id": "a", "title": "A", "lost": 3.0, "causes": ["initializer_argument_ignored", "bias_not_zeros"], "fix": "x"},
             {"id": "b", "title": "B", "lost": 1.0, "causes": ["bias_not_zeros"], "fix": "y"},
             {"id": "c", "title": "C", "lost": 2.0, "causes": ["initializer_argument_ignored"], "fix": "z"},
             {"id": "d", "title": "D", "lost": 2.0, "causes": ["wrong_limit"], "fix": "w"},
             {"id": "e", "title": "E", "lost": 1.0, "causes": [], "fix": "ex2_histories no está definido."},
             {"id": "f", "title": "F", "lost": 2.0, "causes": [], "fix": "ex2_histories no está definido."}]
    groups = fix_groups(items, {i["id"]: n for n, i in enumerate(items)}, reference_rubric, "es")
    assert [(g["lost"], [c["id"] for c in g["checks"]]) for g in groups] == [(6.0, ["a", "b", "c"]), (3.0, ["e", "f"]),
                                                                               (2.0, ["d"])]
    assert groups[0]["fixes"] == [reference_rubric.mistake(code, "fix", "es")
                                  for code in ("initializer_argument_ignored", "bias_not_zeros")]


def test_partial_credit_reads_partial_and_points_are_counted_words(reference_rubric):
    from dataclasses import replace

    result = failing_result(reference_rubric)
    check = next(c for c in result.checks if c.max_points >= 2)
    partial = replace(check, points=1.0)
    result = replace(result, checks=(partial,) + tuple(c for c in result.checks if c.id != check.id))
    html = report.render_report(result, None, reference_rubric, "es")
    article = html[html.index(f'id="check-{check.id}"'):]
    article = article[:article.index("</article>")]
    status = {name: f">{shown(f'ui.check_status.{name}', 'es')}<" for name in ("partial", "fail")}
    assert status["partial"] in article and status["fail"] not in article
    assert f"1 / {shown('ui.points_n', 'es', n=float(check.max_points))}" in article
    one_points = "1 / " + render(msg("ui.points_n", n=2), "es").replace("2", "1", 1)  # "1 / 1 puntos": the noun must agree
    assert one_points not in html and "1.0 /" not in html


def test_environment_is_said_in_words(reference_rubric):
    from grader.report.student import environment_lines

    limits = {"memory_mb": 6144, "pids": 512, "scratch_mb": 1024, "cell_timeout_s": 1500, "total_timeout_s": 4200,
              "harvest_reserve_s": 60, "output_bytes_per_cell": 1_000_000, "output_bytes_total": 5_000_000}
    words = [msg("ui.env.level_bwrap"), msg("ui.env.network_off"), msg("ui.env.user", uid=65534), msg("ui.env.memory_gb", gb="6"),
             msg("ui.env.pids", n=512), msg("ui.env.scratch", mb=1024), msg("ui.env.cell_time", minutes=25),
             msg("ui.env.total_time", minutes=70, reserve=60), msg("ui.env.output", cell_mb="1", total_mb="5")]
    lines = environment_lines({"level": "bwrap", "uid": 65534, "network": False, "note": "", "limits": limits}, "es")
    assert lines == [render(m, "es") for m in words]
    said = " · ".join(lines)
    assert "level" not in said and "None" not in said
    english = environment_lines({"level": "bwrap", "uid": 65534, "network": False, "limits": limits}, "en")
    assert english == [render(m, "en") for m in words] and render(msg("ui.env.network_off"), "es") not in " · ".join(english)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_figure_captions_say_who_drew_what(reference_rubric, lang):
    """The grader draws every figure: from the student's histories where they exist (said so), and
    a caption never speaks of the student's solid lines when there are none."""
    from dataclasses import replace

    from grader.report.student import inline_code

    said = {key: str(inline_code(render(msg(key), lang))) for key in ("ui.curves_alt", "ui.curves_alt_grader")}
    result = failing_result(reference_rubric)
    material = _material()
    html = report.render_report(result, material, reference_rubric, lang)
    assert said["ui.curves_alt"] in html and said["ui.curves_alt_grader"] not in html
    values = {k: v for k, v in material.extracted.values.items() if not k.endswith("_histories")}
    bare = replace(material, extracted=replace(material.extracted, values=values))
    html = report.render_report(result, bare, reference_rubric, lang)
    solid = re.compile({"es": r"\bcontinuas", "en": r"\bsolid"}[lang])  # not "discontinuas"
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", html, re.S)
    assert [c for c in captions if solid.search(c)] == []
    assert sum(said["ui.curves_alt_grader"] in c for c in captions) == 1
    figures = re.findall(r"<figure>.*?</figure>", html, re.S)
    norms = next(f for f in figures if shown("ui.norms", lang) in f)
    assert len(re.findall(r"<img ", norms)) == len(reference_rubric.homework.initializers)  # Glorot's panel too
