"""Reach a Dask cluster, and refuse it unless every worker would grade as the client does.

`grade FOLDER --scheduler tcp://HOST:PORT` connects to a cluster the teacher runs;
`--cluster local --jobs N` starts a LocalCluster of N workers on this machine. Before anything
is sent, every worker reports its facts (grader version, the digest it computes for the
client's rubric, its data's checksum, TensorFlow's version, its sandbox level and its slots),
and any difference from the client's stops the run with the worker's name and what differs: a
worker that would grade differently is worse than no worker.
"""

from __future__ import annotations

import contextlib
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from .. import data as data_module
from ..errors import ClusterError, GraderError
from ..messages import Joined, msg
from ..retrain.dask import GRADE, TRAIN

CONNECT_TIMEOUT_S = 20
COMPARED = ("grader", "rubric", "data", "tensorflow", "bwrap", "root", "cgroups")


@dataclass(frozen=True)
class ClusterSpec:
    """Where to grade: an existing scheduler's address, or a LocalCluster of `local_workers`."""

    scheduler: str | None = None
    local_workers: int = 0
    connect_timeout_s: float = CONNECT_TIMEOUT_S


def facts(data_dir: str | None, rubric_text: str | None) -> dict:
    """This machine's facts, as the client compares them (run on the client and on every worker)."""
    from ..pipeline import load_rubric
    from ..retrain.specs import tf_version
    from ..sandbox import capabilities

    found = {"grader": __version__, "tensorflow": tf_version(), "python": platform.python_version(),
             "host": platform.node()}
    try:
        if rubric_text is None:
            found["rubric"] = load_rubric().digest
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "rubric.json"
                path.write_text(rubric_text, encoding="utf-8")
                found["rubric"] = load_rubric(path).digest
    except GraderError as exc:
        found["rubric"] = f"error: {exc.render('en')}"
    try:
        found["data"] = data_module.locate(data_dir).checksum
    except GraderError as exc:
        found["data"] = f"error: {exc.render('en')}"
    found.update(capabilities())
    return found


def worker_facts(data_dir: str | None, rubric_text: str | None, dask_worker=None) -> dict:
    """`facts`, plus the worker's slots (its Dask resources): run by `client.run`."""
    found = facts(data_dir, rubric_text)
    found["resources"] = dict(getattr(getattr(dask_worker, "state", None), "total_resources", {}) or {})
    return found


def differences(expected: dict, found: dict) -> list:
    """What makes a worker unfit: each compared fact that differs, and missing slots."""
    out = [msg("cluster.differs", what=name, worker_value=str(found.get(name))[:200], client_value=str(expected.get(name))[:200])
           for name in COMPARED if found.get(name) != expected.get(name)]
    resources = found.get("resources") or {}
    if resources.get(GRADE, 0) < 1 or resources.get(TRAIN, 0) < 1:
        out.append(msg("cluster.no_slots", found=str(resources or "{}")))
    return out


def check_workers(client, data_dir: str | None, rubric_text: str | None) -> dict:
    """Every worker's facts, or ClusterError naming each unfit worker and what differs."""
    expected = facts(data_dir, rubric_text)
    if str(expected.get("data", "")).startswith("error:"):
        data_module.locate(data_dir)  # the client's own data problem: its DataError, with how to get them
    workers = client.run(worker_facts, data_dir, rubric_text)
    if not workers:
        raise ClusterError(msg("cluster.no_workers", address=client.scheduler.address), hint=msg("cluster.start_hint"))
    problems = []
    for address, found in sorted(workers.items()):
        wrong = differences(expected, found)
        if wrong:
            problems.append(Joined([msg("cluster.worker", address=address, host=found.get("host", "")),
                                    Joined(wrong, "; ")], ": "))
    if problems:
        raise ClusterError(msg("cluster.unfit", n=len(problems), problems=Joined(problems, "\n  ")),
                           hint=msg("cluster.unfit_hint"))
    return workers


@contextlib.contextmanager
def open_cluster(spec: ClusterSpec, lang: str = "es"):
    """A connected Dask client (and the LocalCluster it started, if any), closed on the way out."""
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if spec.scheduler:
            try:
                client = Client(spec.scheduler, timeout=spec.connect_timeout_s)
            except (OSError, TimeoutError) as exc:
                raise ClusterError(msg("cluster.unreachable", address=spec.scheduler, error=str(exc)[:300]),
                                   hint=msg("cluster.start_hint")) from exc
        else:
            cluster = LocalCluster(n_workers=max(1, spec.local_workers), threads_per_worker=2, processes=True,
                                   resources={GRADE: 1, TRAIN: 1}, dashboard_address=":0", silence_logs=50)
            client = Client(cluster)
    except ValueError as exc:  # a malformed address
        raise ClusterError(msg("cluster.unreachable", address=spec.scheduler, error=str(exc)[:300]),
                           hint=msg("cluster.start_hint")) from exc
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def dashboard(client) -> str | None:
    """The Dask dashboard's address, when the scheduler really serves one (it lists the service
    even without bokeh, whose pages it then cannot draw: the link is tried first)."""
    import urllib.request

    try:
        if "dashboard" not in (client.scheduler_info().get("services") or {}):
            return None
        link = client.dashboard_link
        with urllib.request.urlopen(link, timeout=3) as answer:
            return link if answer.status == 200 else None
    except (OSError, KeyError, AttributeError, ValueError):
        return None


__all__ = ["ClusterSpec", "facts", "worker_facts", "differences", "check_workers", "open_cluster", "dashboard",
           "COMPARED"]
