"""The report escapes every student-controlled string, and a real browser runs none of it."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from grader import report
from grader.checks import CheckResult, T
from grader.pipeline import GradeResult

MARK = "document.documentElement.setAttribute('data-pwned','yes')"
PAYLOADS = [f"<script>{MARK}</script>", f'<img src=x onerror="{MARK}">', f'"><svg onload="{MARK}">']


def hostile_result() -> GradeResult:
    payload = " ".join(PAYLOADS)
    check = CheckResult("ex1_limit", "ex1", "fail", 0.0, 2.0, T("t", "t"), T("w", "w"), T(payload, payload),
                        T(payload, payload), T(payload, payload), {"key": payload}, ("wrong_limit",))
    cell = {"index": 0, "status": "error", "source_head": payload, "ename": payload, "evalue": payload,
            "traceback": payload, "output_bytes": 0, "truncated": False}
    return GradeResult("x", payload, "crashed", 0.0, 25.0, (check,), {"level": "bwrap", "limits": {"k": payload}},
                       {"cells": [cell]}, {"folder": payload, "subset": False}, {"source": {payload: payload}, "runs": {}},
                       message=payload)


def test_payloads_are_escaped(reference_rubric):
    html = report.render(hostile_result(), None, reference_rubric, "es")
    for payload in PAYLOADS:
        assert payload not in html
    assert "&lt;script&gt;" in html
    assert "<script" not in html.lower()


def test_real_browser_runs_nothing_and_loads_nothing(reference_rubric, tmp_path):
    chromium = shutil.which("chromium")
    assert chromium, "chromium is installed by scripts/setup.sh"
    page = tmp_path / "report.html"
    page.write_text(report.render(hostile_result(), None, reference_rubric, "es"))
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<title>" in done.stdout
    assert 'data-pwned="yes"' not in done.stdout
    assert "Informe de corrección" in done.stdout
