"""notebook.html: the student's notebook as it ran, rendered by nbconvert, inert whatever it holds.

Hostile payloads go in every place a student controls (Markdown, raw cells, HTML, Markdown, SVG,
JavaScript and widget outputs, a broken image, a forged anchor); the page must keep none of them
as markup, and a real Chromium must run nothing and request nothing when it opens the page.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import markupsafe
import nbformat
import pytest

from grader.messages import msg, render as render_message
from grader.report import notebook as nbpage
from grader.report.noise import NOISE, noise_source, split_noise
from grader.report.notebook import assigned_names, definitions, notebook_page, render_notebook_page
from ..conftest import ASSIGNMENTS
from ..golden import GOLDENS

MARK = "document.documentElement.setAttribute('data-pwned','yes')"
PAYLOADS = [
    f"<script>{MARK}</script>",
    f'<img src=x onerror="{MARK}">',
    f'<a href="javascript:{MARK}">click me</a>',
    f'<svg onload="{MARK}"><script>{MARK}</script></svg>',
    '<iframe src="http://127.0.0.1:9/frame"></iframe>',
    '<img src="http://127.0.0.1:9/pixel.png">',
    '<object data="http://127.0.0.1:9/o"></object><embed src="http://127.0.0.1:9/e">',
    '<meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/r"><base href="http://127.0.0.1:9/">',
    '<link rel="stylesheet" href="http://127.0.0.1:9/s.css"><style>body{background:url(http://127.0.0.1:9/bg)}</style>',
    '<form action="http://127.0.0.1:9/f"><input name="q"></form>',
    '<div id="cell-2" style="background:url(http://127.0.0.1:9/d)">forged anchor</div>',
]
SVG = f'<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><script>{MARK}</script><circle r="5"/></svg>'
PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
NAMES = ["ex1_kernel", "hw_histories", "build_model"]


def hostile_notebook() -> dict:
    payload = "\n".join(PAYLOADS)
    cells = [
        nbformat.v4.new_markdown_cell("# Tarea\n\n" + payload),
        nbformat.v4.new_code_cell("hw_histories = {}\nex1_kernel = 1\n%time x = 1", outputs=[
            nbformat.v4.new_output("display_data", data={"text/html": payload, "text/plain": "html"}),
            nbformat.v4.new_output("display_data", data={"application/javascript": MARK}),
            nbformat.v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "x"}}),
            nbformat.v4.new_output("display_data", data={"image/svg+xml": SVG}),
            nbformat.v4.new_output("display_data", data={"text/markdown": payload}),
            nbformat.v4.new_output("display_data", data={"image/png": "not base64 at all <script>"}),
            nbformat.v4.new_output("display_data", data={"image/png": PNG_1PX}),
            nbformat.v4.new_output("error", ename="ValueError", evalue=payload, traceback=[payload]),
        ]),
        nbformat.v4.new_raw_cell(payload),
        nbformat.v4.new_code_cell(f"def build_model():\n    return 1\nprint({payload!r})", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text=payload)]),
    ]
    return dict(nbformat.v4.new_notebook(cells=cells))


CHECKS = [{"id": "hw_histories", "title": "Historiales <b>", "shown_status": "fail", "reads": ["hw_histories"]},
          {"id": "hw_architecture", "title": "Arquitectura", "shown_status": "pass", "reads": ["build_model"]}]


def shown(key: str, lang: str, **params) -> str:
    """A catalog sentence as the page shows it (rendered, then HTML-escaped)."""
    return str(markupsafe.escape(render_message(msg(key, **params), lang)))


def render(notebook=None, lang="es", kind="ipynb") -> str:
    page = notebook_page(notebook or hostile_notebook(), [{"index": 1, "status": "error"}, {"index": 3, "status": "ok"}],
                         CHECKS, NAMES, "Ana <script>x</script>", kind, lang)
    return render_notebook_page(page, lang)


def test_assigned_names_are_what_a_cell_binds_at_module_level():
    source = ("import numpy as np\nfrom keras import layers as L\nx, (y, z) = 1, (2, 3)\nfor i in range(3):\n    w = i\n"
              "with open('f') as handle:\n    pass\ndef f():\n    hidden = 1\nclass C:\n    inside = 2\n"
              "%time q = 1\n!pip install x\nlam = lambda a: a\nann: int = 3\nn += 1\n")
    assert assigned_names(source) == {"np", "L", "x", "y", "z", "i", "w", "handle", "f", "C", "lam", "ann", "n"}
    # not Python (a magic mid-line): a plain `name =` at the start of a line is still found
    assert assigned_names("ex1_limit = 0.08\nthis is not python\n") == {"ex1_limit"}


def test_definitions_name_the_last_code_cell_that_binds_each_name():
    cells = [nbformat.v4.new_code_cell("ex1_kernel = 1"), nbformat.v4.new_markdown_cell("ex1_kernel = 'md'"),
             nbformat.v4.new_code_cell("ex1_kernel = 2\nother = 3"), nbformat.v4.new_code_cell("print(ex1_kernel)")]
    assert definitions({"cells": cells}, ["ex1_kernel", "hw_histories"]) == {"ex1_kernel": 2}


class Markup(HTMLParser):
    """Every element and attribute a browser would build from the page (text is not markup)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict]]:
    parser = Markup()
    parser.feed(html)
    return parser.elements


def test_hostile_markdown_and_outputs_keep_no_markup_that_runs_or_loads():
    html = render()
    built = elements(html)
    tags = {tag for tag, _ in built}
    assert not tags & {"script", "iframe", "object", "embed", "form", "input", "base", "link", "svg", "frame"}, tags
    assert [tag for tag, _ in built].count("style") == 1 and [t for t, _ in built].count("meta") == 4  # the page's own
    for tag, attrs in built:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert "style" not in attrs, (tag, attrs)
        for name in ("src", "href", "data", "action", "srcset"):
            url = (attrs.get(name) or "").strip().lower()
            assert not url or url.startswith(("data:image/", "report.html", "#", "https://", "http://")), (tag, attrs)
            assert "127.0.0.1" not in url or tag == "a", (tag, attrs)  # a link is inert until clicked
        if tag == "img":  # an image never loads from anywhere (nor shows broken)
            assert (attrs.get("src") or "").startswith("data:image/"), attrs
    # the student's forged anchor lost its id; the grader's cell keeps it (no student element has an id)
    assert [tag for tag, attrs in built if attrs.get("id") == "cell-2"] == ["section"]
    # what is shown instead: the SVG as an inert data: image, the escaped name, notes for what was left out
    sources = [attrs["src"] for tag, attrs in built if tag == "img"]
    svg = [src for src in sources if src.startswith("data:image/svg+xml;base64,")]
    assert len(svg) == 1 and b"<circle" in base64.b64decode(svg[0].split(",", 1)[1])
    assert f"data:image/png;base64,{PNG_1PX}" in sources and len(sources) == 2  # the broken PNG is left out
    assert "Ana &lt;script&gt;x&lt;/script&gt;" in html and "Historiales &lt;b&gt;" in html
    assert shown("ui.nb.left_out", "es", mimes="application/javascript") in html  # said, not run
    assert shown("ui.nb.bad_image", "es", mime="image/png") in html
    assert "default-src 'none'" in html and "script-src" not in html


def test_each_cell_is_marked_with_the_names_it_defines_and_the_checks_that_read_them():
    html = render()
    second = html[html.index('id="cell-2"'):]
    second = second[:second.index("</section>")]
    assert "<code>ex1_kernel</code>" in second and "<code>hw_histories</code>" in second
    assert 'href="report.html#check-hw_histories"' in second and 'class="g-st g-fail"' in second
    fourth = html[html.index('id="cell-4"'):]
    assert 'href="report.html#check-hw_architecture"' in fourth[:fourth.index("</section>")]
    assert 'class="g-st g-error"' in second  # the run's record for that cell


def test_english_page_is_wholly_english():
    html = render(lang="en")
    for spanish in ("Su cuaderno", "Volver al informe", "Aquí se define", "Lo usan", "no se pudo leer", "corrió"):
        assert spanish not in html, spanish
    assert shown("ui.nb.title", "en", name="Ana <script>x</script>") in html and shown("ui.nb.read_by", "en") in html


def test_a_notebook_that_prints_megabytes_still_renders_cut_and_says_so(monkeypatch):
    monkeypatch.setattr(nbpage, "TOTAL_CAP", 400_000)
    cells = [nbformat.v4.new_code_cell(f"print('x' * 5_000_000)  # {i}", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="x" * 5_000_000)]) for i in range(12)]
    html = render({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert len(html) < 1_500_000
    assert shown("ui.nb.cut_chars", "es", n=4950000) in html  # each big print says what it cut
    assert shown("ui.nb.cut_total", "es") in html and shown("ui.nb.cut_total_page", "es") in html  # and the page, that it stopped
    assert html.count('class="g-cell"') == 12  # every cell is still there, with its source


def test_a_module_renders_its_source_and_what_it_printed():
    from grader.execute.module import module_notebook

    notebook = module_notebook("ex1_kernel = 1\nprint('hola <b>')\n", TF_NOISE[0] + "\nhola <b>\n")  # stderr merged
    html = render(notebook, kind="py")
    assert shown("ui.nb.trust_py", "es") in html and "hola &lt;b&gt;" in html and "<code>ex1_kernel</code>" in html
    assert shown("ui.nb.noise", "es", n=1, sources="absl") in html


# --- a real browser --------------------------------------------------------------------------------

def chromium(page, tmp_path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                           *extra, page.as_uri()], capture_output=True, text=True, timeout=120)


BROWSER_OWN = re.compile(r"^https?://[^/]*(google\.com|googleapis\.com|gvt1\.com)/")  # Chromium's housekeeping


def browse(page, tmp_path, name: str) -> dict:
    """Open `page` in Chromium at desktop and phone width: its DOM after scripts would have run,
    the console, every network request, and a screenshot of each width (in tmp_path)."""
    assert shutil.which("chromium"), "chromium is installed by scripts/setup.sh"
    netlog = tmp_path / f"{name}-net.json"
    dom = chromium(page, tmp_path, "--virtual-time-budget=3000", f"--log-net-log={netlog}", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    seen = {"dom": dom.stdout, "stderr": dom.stderr}
    for width in (1200, 390):
        shot = tmp_path / f"{name}-{width}.png"
        done = chromium(page, tmp_path, f"--window-size={width},2200", f"--screenshot={shot}")
        assert done.returncode == 0 and shot.stat().st_size > 5_000, done.stderr[-2000:]
        seen["stderr"] += done.stderr
    seen["requests"] = [u for u in re.findall(r'"url":"(https?://[^"]+)"', netlog.read_text()) if not BROWSER_OWN.match(u)]
    return seen


@pytest.mark.parametrize("lang", ["es", "en"])
def test_chromium_runs_nothing_and_loads_nothing_from_a_hostile_notebook(tmp_path, lang):
    page = tmp_path / "notebook.html"
    page.write_text(render(lang=lang))
    seen = browse(page, tmp_path, f"notebook-{lang}")
    assert 'data-pwned="yes"' not in seen["dom"]
    assert "Uncaught" not in seen["stderr"] and ":CONSOLE(" not in seen["stderr"], seen["stderr"][-2000:]
    assert seen["requests"] == []
    from PIL import Image

    assert Image.open(tmp_path / f"notebook-{lang}-390.png").size[0] == 390


# --- Markdown, the environment's notices, one number per cell, the lines a verdict points at ----------

TF_NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1733131234.123456   12345 port.cc:153] oneDNN custom operations are on. You may see slightly different "
    "numerical results due to floating-point round-off errors from different computation orders. To turn them off, set "
    "the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1733131234.223456   12345 cpu_feature_guard.cc:210] This TensorFlow binary is optimized to use available "
    "CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate "
    "compiler flags.",
    "Fontconfig error: No writable cache directories",
]
REAL_ERROR = ["Traceback (most recent call last):", '  File "<ipython-input-3>", line 2, in <module>',
              "    raise ValueError('fan_in must be positive')", "ValueError: fan_in must be positive"]


def section(html: str, number: int) -> str:
    part = html[html.index(f'id="cell-{number}"'):]
    return part[:part.index("</section>")]


def student_frame(cell_html: str) -> str:
    return cell_html[cell_html.index('class="g-student"'):cell_html.index('class="g-student"') + cell_html[
        cell_html.index('class="g-student"'):].index("</div></div>")]


def test_markdown_cells_render_as_markdown_and_stay_inert():
    md = ("# Clase 108\n\n## Tarea\n\n- He para **ReLU**\n- Glorot para `tanh`\n\nLímite $\\sqrt{6/(n_{in}+n_{out})}$\n\n"
          f"[web](https://keras.io) [js](javascript:{MARK})\n\n<script>{MARK}</script>")
    html = render({"cells": [nbformat.v4.new_markdown_cell(md)], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    cell = section(html, 1)
    assert "<h1>Clase 108</h1>" in cell and "<h2>Tarea</h2>" in cell
    assert "<li>He para <strong>ReLU</strong></li>" in cell and "<code>tanh</code>" in cell
    assert "$\\sqrt{6/(n_{in}+n_{out})}$" in cell  # math as its text: no script typesets it
    assert "<script" not in cell and 'href="https://keras.io"' in cell and 'href="javascript:' not in cell
    # the samples' headings are headings (they once began with a stray "MD")
    sample = nbformat.read(ASSIGNMENTS / "bob.ipynb", as_version=4)
    assert "<h1>Clase 108 — Tarea (Bob)</h1>" in render(dict(sample))
    for name in ("alice.ipynb", "bob.ipynb", "starter.ipynb"):
        for c in nbformat.read(ASSIGNMENTS / name, as_version=4).cells:
            assert c.cell_type != "markdown" or c.source.lstrip().startswith("#"), (name, c.source[:40])


def test_the_environments_notices_are_folded_and_a_real_error_is_not():
    assert {noise_source(line) for line in TF_NOISE} == {"absl", "TensorFlow", "Fontconfig"}
    for line in [*REAL_ERROR, "UserWarning: Do not pass an `input_shape`", "Error: fontconfig", "oneDNN is great",
                 "I0000 00:00:1733131234.1   1 port.cc:153] ValueError: oneDNN custom operations are on."]:
        assert noise_source(line) is None, line
    kept, folded, sources = split_noise("\n".join(TF_NOISE[:2] + REAL_ERROR + TF_NOISE[2:]) + "\n")
    assert kept == "\n".join(REAL_ERROR) + "\n" and folded == TF_NOISE and sources == ["absl", "TensorFlow", "Fontconfig"]
    assert all(source and pattern for source, pattern in NOISE)

    cells = [nbformat.v4.new_code_cell("import keras", outputs=[
                 nbformat.v4.new_output("stream", name="stderr", text="\n".join(TF_NOISE) + "\n")]),
             nbformat.v4.new_code_cell("import traceback\nraise ValueError('fan_in must be positive')", outputs=[
                 nbformat.v4.new_output("stream", name="stderr", text="\n".join([TF_NOISE[0], *REAL_ERROR]) + "\n"),
                 nbformat.v4.new_output("error", ename="ValueError", evalue="fan_in must be positive",
                                        traceback=REAL_ERROR)])]
    for lang in ("es", "en"):
        html = render({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, lang=lang)
        first, second = section(html, 1), section(html, 2)
        # only noise: no stderr output left in the student's frame, a muted note of the grader's instead
        assert "output_stderr" not in student_frame(first) and "oneDNN" not in student_frame(first)
        assert 'class="g-noise"' in first and shown("ui.nb.noise", lang, n=5, sources="absl, TensorFlow, Fontconfig") in first
        assert str(markupsafe.escape(TF_NOISE[1])) in first[first.index('class="g-noise"'):]
        # the real error stays where it was, in the error's colour, beside one folded notice
        frame = student_frame(second)
        assert "output_stderr" in frame and "output_error" in frame and frame.count("ValueError: fan_in must be positive") == 2
        assert shown("ui.nb.noise", lang, n=1, sources="absl") in second and "absl::InitializeLog" not in frame
    plain = render({"cells": cells[1:], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    html = render({"cells": [nbformat.v4.new_code_cell("1/0", outputs=[nbformat.v4.new_output(
        "stream", name="stderr", text="\n".join(REAL_ERROR))])], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert 'class="g-noise"' not in html and "output_stderr" in html and 'class="g-noise"' in plain


def test_a_student_who_prints_the_notices_by_the_thousand_fills_no_page():
    flood = "".join(f"Fontconfig error: {'x' * 5000} {i}\n" for i in range(3000))
    cells = [nbformat.v4.new_code_cell("import sys", outputs=[nbformat.v4.new_output("stream", name="stderr", text=flood)])]
    html = render({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert len(html) < 200_000 and shown("ui.nb.noise", "es", n=3000, sources="Fontconfig") in html
    assert shown("ui.nb.noise_cut", "es", n=3000 - nbpage.NOISE_CAP[0]) in html


def test_a_cell_is_named_by_its_position_only():
    cells = [nbformat.v4.new_markdown_cell("# Tarea"),
             nbformat.v4.new_code_cell("x = 1", execution_count=7, outputs=[
                 nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=7)])]
    html = render({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert "In&nbsp;[" not in html and "Out[" not in html and "[7]" not in html
    assert f"{shown('ui.nb.cell', 'es')} 2" in section(html, 2)


def bob_checks(rubric, lang: str) -> list[dict]:
    """bob's graded checks (the golden) as the report hands them to the page."""
    golden = json.loads((GOLDENS / "bob.json").read_text())
    return [{"id": c["id"], "title": c["title"], "shown_status": c["status"], "reads": c["reads"],
             "mistakes": {code: rubric.mistake(code, "symptom", lang) for code in c["mistakes"]}} for c in golden["checks"]]


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_verdict_points_at_the_line_bob_wrote(reference_rubric, lang):
    bob = dict(nbformat.read(ASSIGNMENTS / "bob.ipynb", as_version=4))
    page = notebook_page(bob, [], bob_checks(reference_rubric, lang), reference_rubric.contract["names"], "bob", "ipynb", lang)
    html = render_notebook_page(page, lang)
    marked = dict(re.findall(r'<mark class="g-line" id="cell-(\d+-line-\d+)">(.*?)</mark>', html))
    assert set(marked) == {"3-line-7", "4-line-5", "4-line-6"}  # the limit's line and build_model's two Dense lines
    assert "fan_in" in marked["3-line-7"] and all("glorot_uniform" in marked[k] for k in ("4-line-5", "4-line-6"))
    notes = {mark.number: mark.lines for mark, _ in page.cells if mark.lines}
    assert set(notes) == {3, 4}
    (limit,) = notes[3]
    assert limit.spans == ((7, 7),) and limit.code == "ex1_limit = float(np.sqrt(6 / fan_in))"
    assert limit.what == reference_rubric.mistake("wrong_limit", "symptom", lang) and [c.id for c in limit.checks] == ["ex1_limit"]
    by_what = {note.what: note for note in notes[4]}
    bias = by_what[reference_rubric.mistake("bias_not_zeros", "symptom", lang)]
    ignored = by_what[reference_rubric.mistake("initializer_argument_ignored", "symptom", lang)]
    assert bias.spans == ignored.spans == ((5, 5), (6, 6))
    assert {c.id for c in bias.checks} == {"hw_biases_zero", "hw_declared_initializers"}
    assert "hw_initial_distribution" in {c.id for c in ignored.checks}
    four = section(html, 4)
    assert f'{shown("ui.nb.lines", lang)} <a href="#cell-4-line-5">5</a>, <a href="#cell-4-line-6">6</a>' in four
    assert str(markupsafe.escape(bias.what)) in four and 'href="report.html#check-hw_biases_zero"' in four


def test_a_pointer_skips_comments_correct_lines_and_passing_checks(reference_rubric):
    source = ("def build_model(kernel_initializer='he_normal'):\n"
              "    # keras.layers.Dense(10, bias_initializer='ones')\n"
              "    return keras.Sequential([keras.layers.Dense(\n"
              "        300, activation='relu',\n"
              "        kernel_initializer=kernel_initializer, bias_initializer='zeros'),\n"
              "        keras.layers.Dense(10, kernel_initializer=kernel_initializer,\n"
              "                           bias_initializer=keras.initializers.Constant(0.1))])\n")
    checks = [{"id": "hw_biases_zero", "title": "Bias", "shown_status": "fail", "reads": ["build_model"],
               "mistakes": {"bias_not_zeros": "bias", "initializer_argument_ignored": "ignored"}},
              {"id": "hw_architecture", "title": "Arq", "shown_status": "pass", "reads": ["build_model"],
               "mistakes": {"bias_not_zeros": "never shown"}}]
    nb = {"cells": [nbformat.v4.new_code_cell(source)], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    page = notebook_page(nb, [], checks, ["build_model"], "x", "ipynb", "es")
    ((mark, html),) = page.cells
    (note,) = mark.lines  # the Constant(0.1) bias on line 7; every Dense passes the argument; the comment is no code
    assert note.spans == ((7, 7),) and note.what == "bias" and [c.id for c in note.checks] == ["hw_biases_zero"]
    assert re.findall(r'id="cell-1-line-(\d+)"', html) == ["7"]
    # leading blank lines (which Pygments drops) and Windows or old-Mac line ends still land on the line
    limit = [{"id": "ex1_limit", "title": "Límite", "shown_status": "fail", "reads": ["ex1_limit"], "mistakes": {}}]
    nb = {"cells": [nbformat.v4.new_code_cell("\n\n# ok\r\nx = 1\rex1_limit = 0.0874\n")], "metadata": {}, "nbformat": 4,
          "nbformat_minor": 5}
    ((mark, html),) = notebook_page(nb, [], limit, ["ex1_limit"], "x", "ipynb", "es").cells
    assert mark.lines[0].spans == ((5, 5),) and mark.lines[0].code == "ex1_limit = 0.0874"
    assert re.search(r'<mark class="g-line" id="cell-1-line-5"><span class="n">ex1_limit</span>', html)


def test_the_students_text_cannot_forge_a_pointed_line():
    forged = "\ue0011\ue002 fake \ue003 \ue000 9 \ue000"
    cells = [nbformat.v4.new_markdown_cell(forged), nbformat.v4.new_code_cell(f"print({forged!r})", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=forged)])]
    html = render({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert "<mark" not in html and not any(ch in html for ch in "\ue000\ue001\ue002\ue003")
    assert html.count('class="g-cell"') == 2
