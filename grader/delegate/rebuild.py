"""In the grader's training worker: a delegated fit rebuilt, proven equal, trained once.

The worker builds the model with the grader's own code (`modeldesc.to_keras`, zeros for every
initializer: nothing is drawn), compiles it with an optimizer made from the allow-listed class
and its scalar settings, sets every model and optimizer variable from the request's bytes, makes
the data from the grader's own dataset (catalog recipes), takes on the request's RNG states, and
computes the memo key of *that* fit with the memo's own code. Only when the key equals the one
the sandbox asked for does it call `fit`, through the memo in record mode: the entry written is
then the grader's training of inputs that hash to that key, which is all a hit ever relies on.
"""

from __future__ import annotations

import time

import numpy as np

from .catalog import Recipe, make
from .request import FitRequest, RequestRefused


def _data(tree, arrays: dict, scale: float, made: dict):
    if tree is None:
        return None
    if "ndarray" in tree:
        recipe = Recipe(**tree["recipe"])
        if recipe not in made:
            made[recipe] = make(recipe, arrays, scale)
        return made[recipe].reshape(tree["ndarray"]["shape"])
    (kind, items), = tree.items()
    values = [_data(item, arrays, scale, made) for item in items]
    return tuple(values) if kind == "tuple" else values


def _assign(variables, specs, payload: bytes, what: str) -> None:
    if len(variables) != len(specs):
        raise RequestRefused(f"{what}: {len(specs)} arrays for {len(variables)} variables")
    for variable, spec in zip(variables, specs):
        value = np.frombuffer(payload[spec["offset"]:spec["offset"] + spec["nbytes"]], dtype=spec["dtype"]).reshape(spec["shape"])
        if tuple(variable.shape) != tuple(value.shape) or str(variable.dtype) != spec["dtype"]:
            raise RequestRefused(f"{what}: a variable's shape or dtype differs")
        variable.assign(value)


def rebuild(request: FitRequest, arrays: dict, scale: float, made: dict):
    """(model, fit keyword arguments), the model exactly as the request describes it."""
    import keras

    from ..modeldesc import to_keras

    model = to_keras(request.model)
    config = {k: v for k, v in request.optimizer["config"].items() if k != "name"}
    try:
        optimizer = getattr(keras.optimizers, request.optimizer["class"])(**config)  # a name of request.OPTIMIZERS
    except (TypeError, ValueError) as exc:
        raise RequestRefused(f"optimizer settings: {exc}"[:160]) from exc
    compile_config = dict(request.compile)
    model.compile(optimizer=optimizer, **compile_config)
    if request.optimizer["built"]:
        optimizer.build(model.trainable_variables)
    _assign(model.variables, [a for a in request.arrays if a["role"] == "model"], request.payload, "model")
    _assign(optimizer.variables, [a for a in request.arrays if a["role"] == "optimizer"], request.payload, "optimizer")
    fit = {name: value for name, value in request.fit.items()}
    for name, tree in request.data.items():
        fit[name] = _data(tree, arrays, scale, made)
    return model, fit


def train(request: FitRequest, memo, fitmemo, arrays: dict, scale: float, made: dict, on_epoch=None) -> dict:
    """{"key", "trained", "served", "seconds"} or {"refused": why}. The memo key is computed
    here, by the memo's own code, on the rebuilt fit: a different key refuses the request."""
    import keras

    started = time.monotonic()
    keras.backend.clear_session()
    try:
        model, fit = rebuild(request, arrays, scale, made)
    except RequestRefused as exc:
        return {"refused": str(exc)}
    fitmemo.become_rng_states(request.rng)
    memo.dry = True
    try:
        model.fit(**fit, verbose=0)
        return {"refused": "the key could not be computed"}
    except fitmemo.DryRun as dry:
        key = dry.key
    finally:
        memo.dry = False
    if key != request.key:
        return {"refused": "rebuilt fit has another key" if key else "rebuilt fit has another key: none (unkeyable)"}
    before = len(memo.log)
    memo.on_epoch = on_epoch
    try:
        model.fit(**fit, verbose=0)
    finally:
        memo.on_epoch = None
    log = memo.log[before:]
    recorded = bool(log and log[-1].get("recorded"))
    served = bool(log and log[-1].get("served"))
    if not (recorded or served):
        return {"refused": "trained but not recorded: " + str(log[-1].get("record_error", "") if log else "")[:150]}
    return {"key": key, "trained": recorded, "served": served, "seconds": round(time.monotonic() - started, 3)}


__all__ = ["rebuild", "train"]
