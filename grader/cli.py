"""`grade PATH` (a file or a class folder) and `grade check FILE` (student self-check).

A thin layer over pipeline.grade, batch.grade_folder and selfcheck.check_file; option defaults
come from `Options`. Exit 0 when graded (whatever the score); 2 usage, 3 data, 4 sandbox.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import rubric as rubric_module
from .errors import DataError, GraderError, SandboxUnavailable, UsageError
from .pipeline import Options, grade
from .report import terminal_summary
from .retrain import default_cache_dir


def _common(p: argparse.ArgumentParser, out_default: str) -> None:
    defaults = Options()
    p.add_argument("--out", default=out_default, help=f"carpeta de salida (default: ./{out_default})")
    p.add_argument("--lang", choices=["es", "en"], default=defaults.lang, help="idioma del informe")
    p.add_argument("--data-dir", default=None, help="carpeta con los 4 archivos .gz de Fashion-MNIST")
    p.add_argument("--cache", default=None, help="carpeta de la caché de reentrenamiento (default: ~/.cache/grader)")
    p.add_argument("--no-cache", action="store_true", help="no leer ni escribir la caché")
    p.add_argument("--rubric", default=None, help="rubric JSON (default: reference/rubric.json)")
    p.add_argument("--epochs", type=int, default=None, help="cambia las épocas del protocolo de reentrenamiento (el informe lo dice)")


def grade_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grade", description="Corrige entregas de la clase 108 (inicialización de pesos). "
                                "Para revisar su propia tarea antes de entregar: grade check ARCHIVO")
    p.add_argument("path", help="notebook .ipynb o módulo .py de un estudiante, o una carpeta con las entregas de la clase")
    _common(p, "grades")
    p.add_argument("--seeds", type=int, default=Options().seeds, help="K semillas extra para medir el ruido de He − Glorot")
    p.add_argument("--allow-unsandboxed", action="store_true", help="ejecutar sin bubblewrap (solo código de confianza)")
    p.add_argument("--jobs", type=int, default=1, help="carpeta: cuántas entregas a la vez")
    p.add_argument("--force", action="store_true", help="carpeta: recorregir también las que no cambiaron")
    p.add_argument("--quiet", action="store_true")
    return p


def check_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grade check", description="Auto-revisión: las mismas verificaciones, en su máquina, sin sandbox.")
    p.add_argument("path", help="su notebook .ipynb o módulo .py")
    _common(p, "grades-check")
    p.add_argument("--retrain", action="store_true", help="entrenar también los modelos del grader (minutos)")
    return p


def _rubric(args) -> rubric_module.Rubric:
    rubric = rubric_module.load(args.rubric)
    if args.epochs is not None:
        if args.epochs < 1:
            raise UsageError("--epochs debe ser ≥ 1")
        rubric = rubric.with_protocol(epochs=args.epochs)
    return rubric


def _options(args, **extra) -> Options:
    cache = None if args.no_cache else Path(args.cache) if args.cache else default_cache_dir()
    return Options(out=Path(args.out), lang=args.lang, data_dir=args.data_dir, cache_dir=cache, **extra)


def _run(argv: list[str]) -> int:
    if argv and argv[0] == "check":
        args = check_parser().parse_args(argv[1:])
        from .selfcheck import check_file
        path = Path(args.path)
        if path.is_dir():
            raise UsageError(f"{path} es una carpeta; grade check revisa un archivo")
        check_file(path, _options(args), _rubric(args), retrain=args.retrain)
        return 0
    args = grade_parser().parse_args(argv)
    if not 0 <= args.seeds <= 50:
        raise UsageError("--seeds debe estar entre 0 y 50")
    if args.jobs < 1:
        raise UsageError("--jobs debe ser ≥ 1")
    rubric = _rubric(args)
    options = _options(args, seeds=args.seeds, allow_unsandboxed=args.allow_unsandboxed, quiet=args.quiet)
    path = Path(args.path)
    if path.is_dir():
        from .batch import grade_folder
        summary = grade_folder(path, rubric, options, jobs=args.jobs, force=args.force,
                               rubric_path=Path(args.rubric) if args.rubric else None)
        print(f"\n{summary['n']} entregas · promedio {summary['mean']:.1f} / {summary['max_score']:g} · "
              + " · ".join(f"{k}: {v}" for k, v in summary["statuses"].items()))
        print(f"  corregidas ahora: {len(summary['graded_now'])} · sin cambios: {len(summary['reused'])}")
        print(f"  {options.out / 'index.html'} · {options.out / 'gradebook.csv'} · {options.out / 'results.jsonl'}")
        return 0
    if options.allow_unsandboxed:
        print("grade: ADVERTENCIA: --allow-unsandboxed ejecuta el código sin aislamiento; el informe lo dice.", file=sys.stderr)
    result = grade(path, rubric, options)
    print("\n" + terminal_summary(result, args.lang))
    print(f"\n  informe: {options.out / result.student / 'report.html'}")
    print(f"  resultado: {options.out / result.student / 'result.json'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    except DataError as exc:
        print(f"grade: datos: {exc}", file=sys.stderr)
        return 3
    except SandboxUnavailable as exc:
        print(f"grade: sandbox: {exc}", file=sys.stderr)
        return 4
    except GraderError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
