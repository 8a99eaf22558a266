"""Delegated fits: a sandbox's training, done once by the grader's own workers.

When a `fit` in the sandbox misses the memo but the memo can describe it exactly, the sandbox
writes a request instead of training; the grader rebuilds that fit from allow-listed parts,
computes its memo key itself, trains it (only if the keys are equal) in its training worker,
and writes the entry; the sandbox, which waited, is served it by key. The grader's retraining of
the same architecture under the protocol is then served too: each training happens once.

    request.py   a request read as a claim: bounded, allow-listed, capped (FitRequest)
    catalog.py   the data a request may name: arrays the grader makes from its own dataset
    rebuild.py   in the training worker: rebuild, prove by the key, train through the memo
    trainers.py  who trains: a local worker process, or a Dask task per memo key on a cluster
    service.py   the grader's side while the sandbox runs: watch, check, answer, cancel

Trust: the request folder is the student's; nothing read there is believed. An entry is only
ever written by the grader's worker, under the key it computed from what it trained.
"""

from __future__ import annotations

from .catalog import Catalog
from .request import Caps, FitRequest, RequestRefused
from .service import Delegation, Summary
from .trainers import ClusterTrainer, LocalTrainer


def caps_for(rubric) -> Caps:
    """The rubric's `delegation` section as the service's caps."""
    d = rubric.delegation
    return Caps(fits=rubric.expected_fits * d.fits_factor, epochs=rubric.protocol.epochs * d.epochs_factor,
                params=d.max_params, max_bytes=d.max_request_mb << 20)


def sandbox_settings(rubric, sandbox) -> dict | None:
    """memo.json's "delegate" entry: where the sandbox writes and reads, and what it may send."""
    where = sandbox.delegate_config()
    if where is None:
        return None
    d = rubric.delegation
    return dict(where, min_steps=d.min_steps, start_steps=d.start_steps, max_bytes=d.max_request_mb << 20)


def open_delegation(sandbox, rubric, dataset, store, *, cache_dir, cluster: str | None = None,
                    data_dir: str | None = None) -> Delegation | None:
    """The running service for one sandbox (None when this sandbox cannot delegate)."""
    if not sandbox.delegating or store is None:
        return None
    protocol = rubric.protocol
    if cluster:
        trainer = ClusterTrainer(cluster, protocol, dataset, data_dir, store)
    else:
        trainer = LocalTrainer(protocol, dataset.folder, store)

    def catalog() -> Catalog:
        return Catalog.load_or_build(dataset, protocol.validation_size, protocol.pixel_scale, cache_dir)

    return Delegation(sandbox.requests, sandbox.answers, store=store, caps=caps_for(rubric), catalog=catalog,
                      trainer=trainer).start()


__all__ = ["Catalog", "Caps", "FitRequest", "RequestRefused", "Delegation", "Summary", "LocalTrainer", "ClusterTrainer",
           "caps_for", "sandbox_settings", "open_delegation"]
