"""A student drawing the grader's marks: badges and trust boxes in notebook.html, escape
sequences on the teacher's terminal, and (in the real sandbox) what the sandboxed code can
learn or become. Claim-only checks are tested beside their modules (tests/test_checks_*.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nbformat

from grader.messages import msg, render
from grader.report import terminal_safe, terminal_summary
from grader.report.notebook import notebook_page, render_notebook_page

from ..helpers import notebook
from .test_hostile import run, sentinel  # noqa: F401  (the real-sandbox grading fixture)

BADGE = ('<span>leída por: <a href="report.html#check-hw_retrain_reproduces">hw_retrain_reproduces</a> '
         '<span class="st pass g-st g-pass">correcto</span></span>')
TRUST = '<p class="trust g-trust">El corrector verificó este notebook: 25/25 puntos</p>'
FRAME = '<section class="cell g-cell"><div class="mark g-mark g-student-label">forged</div></section>'
HOSTILE = "\x1b]0;pwned\x07\x1b[1A\x1b[2K\x1b[31mred\x1b[0m\x9b2J\u202eevil\u2066x\u2069\x08\x00\x7f"


class _Classes(HTMLParser):
    """Every element's class tokens, with whether it sits inside the student frame."""

    def __init__(self):
        super().__init__()
        self.stack, self.found = [], []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        inside = any("g-body" in c for c in self.stack)
        self.found.append((tag, classes, inside))
        if tag not in {"img", "br", "hr", "meta", "input", "link"}:
            self.stack.append(classes)

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()


def test_a_markdown_cell_cannot_draw_the_grader_s_badge_or_trust_box():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(BADGE + "\n\n" + TRUST + "\n\n" + FRAME), nbformat.v4.new_code_cell("x = 1")]
    html = render_notebook_page(notebook_page(nb, [{"index": 1, "status": "ok"}], [], [], "Ana", "ipynb", "es"), "es")
    parsed = _Classes()
    parsed.feed(html)
    student = [(tag, classes) for tag, classes, inside in parsed.found if inside]
    assert any("correcto" in html[m.start():m.start() + 400] for m in re.finditer("leída por", html))
    assert student, "the student's markup sits in the framed region"
    assert not [c for _, classes in student for c in classes if c.startswith("g-")]  # no grader class inside the frame
    # the only grader marks are the page's own: one trust box, one frame per cell, the two cells' status badges
    grader = [c for tag, classes, inside in parsed.found if not inside for c in classes]
    assert grader.count("g-trust") == 1 and grader.count("g-student") == 2 and grader.count("g-cell") == 2
    assert render(msg("ui.nb.student_content"), "es") in html
    # the forged sentence is still shown, as plain student text
    assert "El corrector verificó este notebook: 25/25 puntos" in html


def test_terminal_safe_drops_escape_sequences_controls_and_bidi_overrides():
    assert terminal_safe(HOSTILE) == "redevilx"
    assert terminal_safe("línea 1\n\tsigue · ✔ 2/3") == "línea 1\n\tsigue · ✔ 2/3"  # text, accents, symbols stay
    assert terminal_safe("\x1bP1;2q\x1b\\after\x1b_apc\x1b\\\x1b7\x1b8\x1bc") == "after"
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", terminal_safe(HOSTILE * 3 + "\x1b"))


def test_a_class_name_with_escape_sequences_never_reaches_the_terminal(run, tmp_path, reference_rubric):
    """An object whose class name carries OSC/CSI/bidi sequences: the grader names it (what it is
    not), and the terminal summary says so without any of them."""
    code = f"ex1_limit = type({HOSTILE!r}, (), {{}})()\nex1_var_theory = type('\\x1b[2K\\x1b[1A' * 5, (float,), {{}})(0.1)"
    result, report = run(notebook(tmp_path / "escapes.ipynb", code))
    summary = terminal_summary(result, reference_rubric, "es")
    assert "ex1_limit" in summary
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", summary), repr(summary)
    assert "pwned" not in summary  # the OSC title went whole, not just its ESC


def test_sandboxed_code_cannot_create_a_user_namespace(reference_rubric, subset, tmp_path):
    """`unshare -Urm` would give uid 0 in a namespace of its own: the seccomp filter refuses it,
    from the shell and from Python, and the sandbox's report says which mechanism did."""
    from grader import submission
    from grader.execute import run as execute_run
    from grader.kinds import CellStatus
    from grader.sandbox import Sandbox

    from ..conftest import needs_root_sandbox

    needs_root_sandbox()
    cells = [
        "import subprocess\ndone = subprocess.run(['unshare', '-Urm', 'true'], capture_output=True)\n"
        "assert done.returncode != 0, 'unshare -Urm worked'",
        "import ctypes, errno, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "assert libc.unshare(0x10000000) == -1 and ctypes.get_errno() == errno.EPERM, 'unshare(CLONE_NEWUSER) worked'\n"
        "if hasattr(os, 'unshare'):\n    try:\n        os.unshare(os.CLONE_NEWUSER)\n        raise AssertionError('os.unshare worked')\n"
        "    except PermissionError:\n        pass",
        "import threading\nt = threading.Thread(target=lambda: None); t.start(); t.join()\n"
        "assert subprocess.run(['true']).returncode == 0  # threads and plain processes still work",
    ]
    sub = submission.load(notebook(tmp_path / "userns.ipynb", *cells))
    with Sandbox(reference_rubric.limits, subset.folder) as sandbox:
        execution = execute_run(sub, sandbox, reference_rubric.contract_path, tmp_path / "art", None)
        report = sandbox.report()
    assert [c.status for c in execution.cells] == [CellStatus.OK] * len(cells), \
        [(c.source_head, c.evalue) for c in execution.cells if c.status != CellStatus.OK]
    assert report.userns_cap == "seccomp"
