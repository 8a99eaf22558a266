"""`grade PATH`: a thin command line over pipeline.grade (exit 0 when graded, whatever the score)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from . import rubric as rubric_module
from .errors import DataError, GraderError, SandboxUnavailable, UsageError
from .pipeline import Options, grade
from .retrain import default_cache_dir

SYMBOL = {"pass": "✔", "fail": "✘", "warn": "!", "error": "?"}


def parser() -> argparse.ArgumentParser:
    defaults = Options()
    p = argparse.ArgumentParser(prog="grade", description="Corrige una entrega de la clase 108 (inicialización de pesos).")
    p.add_argument("path", help="notebook .ipynb o módulo .py de un estudiante")
    p.add_argument("--out", default=str(defaults.out), help="carpeta de salida (default: ./grades)")
    p.add_argument("--lang", choices=["es", "en"], default=defaults.lang, help="idioma del informe")
    p.add_argument("--data-dir", default=None, help="carpeta con los 4 archivos .gz de Fashion-MNIST")
    p.add_argument("--seeds", type=int, default=defaults.seeds, help="K semillas extra para medir el ruido de He − Glorot")
    p.add_argument("--allow-unsandboxed", action="store_true", help="ejecutar sin bubblewrap (solo código de confianza)")
    p.add_argument("--cache", default=None, help="carpeta de la caché de reentrenamiento")
    p.add_argument("--no-cache", action="store_true", help="no leer ni escribir la caché")
    p.add_argument("--rubric", default=None, help="rubric JSON (default: reference/rubric.json)")
    p.add_argument("--epochs", type=int, default=None, help="cambia las épocas del protocolo de reentrenamiento (el informe lo dice)")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.seeds < 0 or args.seeds > 50:
            raise UsageError("--seeds debe estar entre 0 y 50")
        rubric = rubric_module.load(args.rubric)
        if args.epochs is not None:
            if args.epochs < 1:
                raise UsageError("--epochs debe ser ≥ 1")
            rubric = rubric.with_protocol(epochs=args.epochs)
        path = Path(args.path)
        if path.is_dir():
            raise UsageError(f"{path} es una carpeta: esta versión corrige una entrega a la vez",
                             hint="Pase un archivo .ipynb o .py.")
        cache = None if args.no_cache else Path(args.cache) if args.cache else default_cache_dir()
        options = Options(Path(args.out), args.lang, args.data_dir, args.seeds, args.allow_unsandboxed, cache, args.quiet)
        result = grade(path, rubric, options)
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
    lang = args.lang
    print(f"\n{result.display_name}: {result.score:g} / {result.max_score:g}  ({result.status})")
    if result.message:
        print(f"  {result.message.splitlines()[0][:200]}")
    for check in result.checks:
        print(f"  {SYMBOL.get(check.status, '?')} {check.points:>4g}/{check.max_points:<3g} {check.title(lang)}")
        if check.status != "pass":
            print(f"      {check.message(lang).splitlines()[0][:160]}")
    print(f"\n  informe: {Path(args.out) / result.student / 'report.html'}")
    print(f"  resultado: {Path(args.out) / result.student / 'result.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
