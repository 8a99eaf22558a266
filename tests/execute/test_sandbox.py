"""The real cage: bubblewrap + cgroups + rlimits + an unprivileged uid (no mocks)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from grader.sandbox import Limits, Sandbox

from ..conftest import ROOT, needs_root_sandbox


@pytest.fixture(autouse=True)
def _root_and_bwrap():
    needs_root_sandbox()


def run_inside(code: str, limits: Limits = Limits(), data: Path | None = None, timeout: int = 120):
    with Sandbox(limits, data) as sandbox:
        done = subprocess.run(sandbox.wrap([sys.executable, "-c", code]), capture_output=True, text=True,
                              timeout=timeout, cwd=sandbox.work)
        return done, sandbox


def test_runs_as_nobody_without_capabilities():
    done, _ = run_inside("import os\nprint(os.getuid(), os.getgid())\n"
                         "print([l for l in open('/proc/self/status') if l.startswith(('CapEff', 'NoNewPrivs'))])")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("65534 65534")
    assert "CapEff:\\t0000000000000000" in done.stdout and "NoNewPrivs:\\t1" in done.stdout


def test_network_is_unreachable_and_loopback_server_sees_nothing():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(8)
    port = server.getsockname()[1]
    seen = []

    def accept():
        try:
            seen.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    code = ("import socket\n"
            f"for host in ('127.0.0.1', '1.1.1.1'):\n"
            f"    try:\n        socket.create_connection((host, {port}), timeout=3); print('CONNECTED', host)\n"
            f"    except OSError as e:\n        print('blocked', host, e.errno)\n")
    done, _ = run_inside(code)
    thread.join()
    server.close()
    assert "CONNECTED" not in done.stdout, done.stdout
    assert done.stdout.count("blocked") == 2
    assert not seen


def test_host_files_are_invisible_and_system_is_read_only():
    code = ("import os\n"
            f"for path in ['/etc/shadow', {str(ROOT / 'reference' / 'rubric.json')!r}, {str(ROOT / 'assignments' / 'alice.ipynb')!r}, '/root/.bashrc']:\n"
            "    print(path, os.path.exists(path))\n"
            "for path in ['/usr/evil', '/opt/grader/x', '/evil']:\n"
            "    try:\n        open(path, 'w'); print('WROTE', path)\n"
            "    except OSError as e:\n        print('refused', path, e.errno)\n"
            "open('/home/student/ok.txt', 'w').write('scratch is writable')\nprint('scratch ok')")
    done, _ = run_inside(code)
    assert done.returncode == 0, done.stderr
    assert " True" not in done.stdout, done.stdout
    assert "WROTE" not in done.stdout
    assert "scratch ok" in done.stdout


def test_data_is_where_keras_looks_and_read_only(real_data):
    code = ("import keras, os\n(x, y), _ = keras.datasets.fashion_mnist.load_data()\nprint(x.shape)\n"
            "try:\n    open(os.path.expanduser('~/.keras/datasets/fashion-mnist/evil'), 'w'); print('WROTE')\n"
            "except OSError as e:\n    print('refused', e.errno)")
    done, _ = run_inside(code, data=real_data.folder, timeout=180)
    assert "(60000, 28, 28)" in done.stdout, done.stderr[-2000:]
    assert "refused" in done.stdout


def test_memory_cap_kills_a_hog():
    done, sandbox = run_inside("x = bytearray(3 * 1024**3)\nprint('ALLOCATED')", Limits(memory_mb=512))
    assert "ALLOCATED" not in done.stdout
    assert done.returncode != 0


def test_process_cap_stops_a_fork_bomb():
    code = ("import os, time\nkids = 0\n"
            "try:\n    for _ in range(10000):\n        if os.fork() == 0:\n            time.sleep(30); os._exit(0)\n        kids += 1\n"
            "except OSError as e:\n    print('stopped after', kids, e.errno)\n")
    done, _ = run_inside(code, Limits(pids=64), timeout=60)
    assert "stopped after" in done.stdout, done.stdout + done.stderr
    assert int(done.stdout.split()[2]) < 64


def test_scratch_size_is_capped():
    code = ("try:\n    f = open('/home/student/big', 'wb')\n    for _ in range(200): f.write(b'x' * 1024**2)\n    f.flush(); print('WROTE ALL')\n"
            "except OSError as e:\n    print('full', e.errno)")
    done, _ = run_inside(code, Limits(scratch_mb=32))
    assert "full" in done.stdout, done.stdout + done.stderr


def test_leftover_processes_are_killed_on_close():
    with Sandbox(Limits(), None) as sandbox:
        process = subprocess.Popen(sandbox.wrap([sys.executable, "-c", "import os, time\nif os.fork() == 0:\n    time.sleep(300)\ntime.sleep(300)"]),
                                   cwd=sandbox.work)
        cgroup = sandbox._cgroups.paths["pids"]
        import time
        time.sleep(1.5)
        assert len((cgroup / "cgroup.procs").read_text().split()) >= 2
    process.wait(timeout=10)
    assert not cgroup.exists()


def test_report_is_typed_and_its_note_reads_in_both_languages():
    from grader.kinds import SandboxLevel
    from grader.messages import Message, msg, render

    with Sandbox(Limits(), None, level="none") as sandbox:
        report = sandbox.report()
    assert report.level is SandboxLevel.NONE and isinstance(report.note, Message)
    data = report.to_json()
    assert set(data) == {"level", "uid", "network", "memory_cap", "process_cap", "scratch_cap", "userns_cap", "limits", "note"}
    assert data["limits"]["memory_mb"] == Limits().memory_mb and data["note"] is report.note
    assert render(data, "es")["note"] == render(msg("sandbox.unsandboxed_note"), "es")
    assert render(data, "en")["note"] == render(msg("sandbox.unsandboxed_note"), "en")
    with Sandbox(Limits(), None) as sandbox:
        assert sandbox.level is SandboxLevel.BWRAP and sandbox.report().to_json()["note"] == ""
    with pytest.raises(ValueError):
        Sandbox(Limits(), None, level="docker")


def test_missing_bwrap_is_explained(monkeypatch):
    from grader import sandbox as sandbox_module
    from grader.errors import SandboxUnavailable
    from grader.messages import msg, render

    from ..helpers import said

    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: None)
    reason = sandbox_module.probe()
    assert render(reason, "es") == render(msg("sandbox.no_bwrap"), "es")
    cage = Sandbox(Limits(), None)
    with pytest.raises(SandboxUnavailable) as info:
        cage.__enter__()
    cage.close()
    assert not cage.work.exists()
    assert info.value.render("es") == said("sandbox.unavailable", "es", hint="sandbox.unavailable_hint", reason=msg("sandbox.no_bwrap"))
    assert info.value.render("en") == said("sandbox.unavailable", "en", hint="sandbox.unavailable_hint", reason=msg("sandbox.no_bwrap"))
