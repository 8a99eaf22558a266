"""Keras `fit` one model at a time against the batched path (grader/retrain/batched.py).

    .venv/bin/python bench/calibrate.py [--seeds 10] [--keras-seeds N] [--epochs E] [--keras-json FILE]

Trains the homework's reference MLP under the course protocol for every initializer and seed,
both ways, on the real data, with validation every epoch: first the grader's own Keras worker
(`python -m grader.retrain.worker`, one fit per model, the protocol's threads), then all the
models in one batched computation. Prints runs per hour each way and their ratio, then the
validation: per initializer, Welch's t test and a permutation test on the final val_accuracy,
and per epoch the difference of the mean curves against its standard error. The last line is
JSON. `--keras-json FILE`: the Keras side is read from FILE when it exists (written by an earlier
`--keras-only` run on this machine), else trained and written there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import data  # noqa: E402
from grader.pipeline import load_rubric  # noqa: E402


def keras_runs(rubric, dataset, seeds: list[int], epochs: int | None, workers: int | None, save=None) -> dict:
    """One Keras fit per (initializer, seed) in the grader's training workers (one per core by
    default, as the grader trains); `save(partial)` after each run, so an interrupted side keeps
    its finished seeds."""
    from grader.retrain.client import train
    from grader.retrain.plan import reference_model
    from grader.retrain.specs import RunSpec

    specs = [RunSpec(init, reference_model(rubric, init), seed, epochs)
             for seed in seeds for init in rubric.homework.initializers]
    items = [(f"{spec.label}|{spec.seed}", spec) for spec in specs]
    started = time.monotonic()
    runs, done = {}, 0
    from grader.retrain.client import worker_count

    result = {"seconds": 0.0, "models": 0, "seeds": seeds, "val_accuracy": runs,
              "workers": worker_count(len(items), workers), "epochs": epochs or rubric.protocol.epochs}
    for key, value in train(items, rubric.protocol, dataset, lambda message: None, None, workers=workers):
        init, seed = key.split("|")
        runs.setdefault(init, {})[seed] = value["history"]["val_accuracy"]
        done += 1
        result.update(seconds=time.monotonic() - started, models=done,
                      date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        print(f"  keras {init} seed {seed}: {value['history']['val_accuracy'][-1]:.4f} ({value['duration_s']:.0f} s, "
              f"{done}/{len(items)} after {result['seconds']:.0f} s)", flush=True)
        if save is not None:
            save(result)
    return result


def per_hour(models: int, seconds: float) -> float:
    return 3600.0 * models / seconds if seconds > 0 else float("nan")


def pp(value: float) -> str:
    return f"{100 * value:+.2f}"


def compare(rubric, dataset, keras: dict, seeds: list[int], args) -> None:
    """The batched side (it is `grade calibrate`: the figures go to --out and into the store), then
    the two side by side and the validation."""
    import os

    from grader.calibrate.run import calibrate
    from grader.calibrate.validate import validate
    from grader.retrain import default_cache_dir

    if args.epochs:
        rubric = rubric.with_protocol(epochs=args.epochs)
    load = os.getloadavg()
    print(f"Batched side: {len(seeds)} seeds × {len(rubric.homework.initializers)} initializers in one computation "
          f"(load average before: {load[0]:.1f})", flush=True)
    started = time.monotonic()
    outcome = calibrate(rubric, dataset, seeds=len(seeds), out=Path(args.out), cache_dir=None if args.no_store else default_cache_dir(),
                        lang="en", progress=lambda message: None)
    seconds = time.monotonic() - started
    batched: dict = {}
    for run in outcome.runs:
        batched.setdefault(run["label"], {})[str(run["seed"])] = run["history"]["val_accuracy"]
    keras_rate, batched_rate = per_hour(keras["models"], keras["seconds"]), per_hour(len(outcome.runs), seconds)
    print(f"\n{'':28s}{'Keras fit':>16s}{'batched':>16s}")
    print(f"{'models trained':28s}{keras['models']:>16d}{len(outcome.runs):>16d}")
    print(f"{'wall time (s)':28s}{keras['seconds']:>16.0f}{seconds:>16.0f}")
    print(f"{'runs per hour':28s}{keras_rate:>16.1f}{batched_rate:>16.1f}")
    print(f"ratio batched / Keras: {batched_rate / keras_rate:.2f}×  (Keras: {keras.get('workers', '?')} worker processes, "
          f"the grader's default; batched: one process; {keras['epochs']} epochs, validation every epoch on both sides; "
          f"load average after: {os.getloadavg()[0]:.1f})")
    hw = rubric.homework
    report = validate(keras["val_accuracy"], batched, hw.he_initializers, hw.baseline)
    print(f"\nValidation, final val_accuracy (%) per initializer: Keras {len(next(iter(keras['val_accuracy'].values())))} seeds, "
          f"batched {len(seeds)} seeds; Welch's t test and a permutation test of the difference of means, "
          f"Bonferroni level {report['p_level']:.4f}")
    for name, rows in (("final", report["final"]), ("He − Glorot", report["difference"])):
        for init, r in rows.items():
            label = init if name == "final" else f"{init} − {hw.baseline}"
            print(f"  {label:34s} Keras {100 * r['keras_mean']:6.2f} ± {100 * r['keras_sd']:4.2f}   batched {100 * r['batched_mean']:6.2f} ± "
                  f"{100 * r['batched_sd']:4.2f}   diff {pp(r['diff'])} pp (95 % CI {pp(r['diff_ci95'][0])} … {pp(r['diff_ci95'][1])})   "
                  f"Welch t {r['welch_t']:+.2f} p {r['welch_p']:.3f}   permutation p {r['permutation_p']:.3f}   "
                  f"spread: Levene p {r['levene_p']:.3f}")
    print(f"\nPer-epoch mean curves: z = (mean batched − mean Keras) / SE per epoch; Bonferroni over "
          f"{sum(len(z) for z in report['curves_z'].values())} comparisons: |z| < {report['z_level']:.2f}")
    for init, zs in report["curves_z"].items():
        print(f"  {init:16s} max |z| {max(abs(z) for z in zs):.2f}   z per epoch: {' '.join(f'{z:+.1f}' for z in zs)}")
    print(f"\nVerdict: final accuracies {'agree' if report['finals_agree'] else 'DIFFER'} (smallest p {report['worst_p']:.3f}); "
          f"curves {'within noise' if report['curves_agree'] else 'OUTSIDE noise'} (max |z| {report['worst_z']:.2f})")
    print(f"calibration: {outcome.json_path}, {outcome.html_path}" + (f", stored {outcome.stored}" if outcome.stored else ""))
    print(json.dumps({"keras_models": keras["models"], "keras_seconds": round(keras["seconds"], 1),
                      "keras_runs_per_hour": round(keras_rate, 2), "keras_workers": keras.get("workers"),
                      "batched_models": len(outcome.runs), "batched_seconds": round(seconds, 1),
                      "batched_runs_per_hour": round(batched_rate, 2), "ratio": round(batched_rate / keras_rate, 3),
                      "epochs": keras["epochs"], "finals_agree": report["finals_agree"], "curves_agree": report["curves_agree"],
                      "worst_p": round(report["worst_p"], 4), "worst_z": round(report["worst_z"], 3),
                      "final": {k: {m: round(v, 5) if isinstance(v, float) else v for m, v in r.items() if not isinstance(v, list)}
                                for k, r in report["final"].items()},
                      "he_minus_glorot": {k: {m: round(v, 5) for m, v in r.items() if isinstance(v, float)}
                                          for k, r in report["difference"].items()}}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the batched run (and of the Keras one)")
    parser.add_argument("--keras-seeds", type=int, default=None, help="fewer seeds for the Keras side (time)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the protocol's")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--keras-json", default=None)
    parser.add_argument("--keras-only", action="store_true")
    parser.add_argument("--keras-workers", type=int, default=None, help="default: one per core, as the grader trains")
    parser.add_argument("--out", default="calibration", help="where the batched side writes calibration.json/.html")
    parser.add_argument("--no-store", action="store_true", help="do not keep the batched figures in the grader's store")
    args = parser.parse_args()
    rubric = load_rubric()
    dataset = data.locate(args.data_dir)
    from grader.retrain.plan import seed_list

    seeds = seed_list(rubric, args.seeds - 1)
    keras_seeds = seed_list(rubric, (args.keras_seeds or args.seeds) - 1)
    saved = Path(args.keras_json) if args.keras_json else None
    if saved is not None and saved.is_file():
        keras = json.loads(saved.read_text())
        print(f"Keras side read from {saved} ({keras['models']} models, measured {keras.get('date', '?')})", flush=True)
    else:
        print(f"Keras side: {len(keras_seeds)} seeds × {len(rubric.homework.initializers)} initializers, one fit each", flush=True)
        keras = keras_runs(rubric, dataset, keras_seeds, args.epochs, args.keras_workers,
                           save=(lambda partial: saved.write_text(json.dumps(partial))) if saved else None)
    if args.keras_only:
        print(json.dumps({"keras_seconds": keras["seconds"], "keras_models": keras["models"]}))
        return
    compare(rubric, dataset, keras, seeds, args)


if __name__ == "__main__":
    main()
