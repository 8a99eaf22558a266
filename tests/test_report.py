"""The report escapes every student-controlled string, and a real browser runs none of it."""

from __future__ import annotations

import shutil
import subprocess


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

    from grader.checks import Retraining
    from grader.extract import Extracted
    from grader.pipeline import GradeResult
    from grader.retrain import RunResult
    from grader.execute import Execution
    from grader.sandbox import SandboxReport

    history = {"val_accuracy": [0.7, 0.8, 0.85], "val_loss": [0.9, 0.6, 0.5]}
    layer = {"var": 0.1, "hist": [1, 3, 5, 3, 1], "edges": [0, 1, 2, 3, 4, 5]}
    run = RunResult("x", 42, history, [24.0, 20.0, 14.0, 10.0, 4.0], [25.0, 21.0, 15.0, 11.0, 5.0], 1.0,
                    activations={"init": [layer] * 5})
    retraining = Retraining({k: run for k in ("glorot_uniform", "he_uniform", "he_normal")}, {}, {},
                            exercises={"ex2:he_normal": run, "ex2:random_normal": run, "ex4:he_normal_tanh": run})
    import numpy as np
    values = {"hw_histories": {"he_normal": history}, "ex2_histories": {"he_normal": history},
              "ex4_histories": {"he_normal_tanh": history}, "ex1_kernel": np.random.default_rng(0).uniform(-0.08, 0.08, (784, 128)),
              "ex1_limit": 0.081, "hw_kernel_norms_before": {"he_normal": [24.0, 20.0]}, "hw_kernel_norms_after": {"he_normal": [25.0, 21.0]}}
    material = report.Material(Extracted(values, {}), retraining,
                               Execution("completed", (), None, SandboxReport("bwrap", 65534, False, "cgroup", "cgroup", "tmpfs"), 1.0))
    result = GradeResult("ana", "ana", "graded", 20.0, 33.0, (), {"level": "bwrap", "limits": {}}, {"cells": []},
                         {"folder": "/x", "subset": False}, {"source": {}, "runs": {}})
    html = report.render(result, material, reference_rubric, "es")
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
