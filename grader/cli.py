"""`grade PATH` (a file, a class folder or an LMS download zip), and the verbs: `grade check FILE`
(student self-check), `grade export`, `grade calibrate`, `grade gradescope-bundle`, `grade review`.

A verb is the first argument spelled exactly as one (`VERBS`); anything else is a PATH, so a path
spelled like a verb is graded when written as a path (`./export`). `grade --help` lists the verbs,
`grade VERB --help` gives each one's options.

A thin layer over pipeline.grade, batch.grade_folder (cluster.grade_folder_on_cluster with
`--scheduler tcp://HOST:PORT` or `--cluster local`) and selfcheck.check_file; option defaults
come from `Options`. Exit 0 when graded (whatever the score); 2 usage, 3 data, 4 sandbox, 5 cannot
grade here (grader/readiness.py: no teacher TensorFlow, a kernel that cannot import it; or a batch
stopped on such a fault), 1 any other grader error.

Two languages are in play: the report's (`--lang`, default Spanish: it is the class's) and the
terminal's (`--lang` when given, else the environment's, LANG=en_US… → English), which is also
the language of `--help`; so `--lang` is looked for before the parser is built.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from .errors import DataError, GraderError, Interrupted, NotReady, SandboxUnavailable, UsageError
from .messages import LANGS, language_from_env, msg, render, text
from .pipeline import Options, grade, load_rubric
from .rubric import Rubric
from .report import terminal_safe, terminal_summary
from .retrain import default_cache_dir

MAX_SEEDS = 50  # a guard against typos (each seed is a full retraining per initializer), not a class fact


def requested_lang(argv: list[str]) -> str | None:
    """The value of --lang in argv, if any (looked for before argparse, so --help can use it)."""
    for position, arg in enumerate(argv):
        if arg == "--lang" and position + 1 < len(argv):
            return argv[position + 1] if argv[position + 1] in LANGS else None
        if arg.startswith("--lang="):
            value = arg.split("=", 1)[1]
            return value if value in LANGS else None
    return None


def _parser(prog: str, description: str, lang: str) -> argparse.ArgumentParser:
    class Formatter(argparse.HelpFormatter):
        def add_usage(self, usage, actions, groups, prefix=None):
            return super().add_usage(usage, actions, groups, text(lang, "cli.usage") if prefix is None else prefix)

    p = argparse.ArgumentParser(prog=prog, description=description, add_help=False, formatter_class=Formatter)
    p._positionals.title = text(lang, "cli.positionals")
    p._optionals.title = text(lang, "cli.optionals")
    p.add_argument("-h", "--help", action="help", help=text(lang, "cli.help"))
    return p


def _common(p: argparse.ArgumentParser, out_default: str, lang: str) -> None:
    p.add_argument("--out", default=out_default, help=text(lang, "cli.out", default=out_default))
    p.add_argument("--lang", choices=list(LANGS), default=None, help=text(lang, "cli.lang"))
    p.add_argument("--data-dir", default=None, help=text(lang, "cli.data_dir"))
    p.add_argument("--cache", default=None, help=text(lang, "cli.cache", default=str(default_cache_dir())))
    p.add_argument("--no-cache", action="store_true", help=text(lang, "cli.no_cache"))
    p.add_argument("--rubric", default=None, help=text(lang, "cli.rubric"))
    p.add_argument("--epochs", type=int, default=None, help=text(lang, "cli.epochs"))
    p.add_argument("--no-memo", action="store_true", help=text(lang, "cli.no_memo"))
    p.add_argument("--no-delegate", action="store_true", help=text(lang, "cli.no_delegate"))
    p.add_argument("--train-workers", type=int, default=None, help=text(lang, "cli.train_workers"))


def grade_parser(lang: str = "es") -> argparse.ArgumentParser:
    p = _parser("grade", text(lang, "cli.description"), lang)
    p.add_argument("path", help=text(lang, "cli.path"))
    _common(p, "grades", lang)
    p.add_argument("--seeds", type=int, default=Options().seeds, help=text(lang, "cli.seeds"))
    p.add_argument("--allow-unsandboxed", action="store_true", help=text(lang, "cli.allow_unsandboxed"))
    p.add_argument("--jobs", type=int, default=1, help=text(lang, "cli.jobs"))
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT", help=text(lang, "cli.scheduler"))
    p.add_argument("--cluster", choices=["local"], default=None, help=text(lang, "cli.cluster"))
    p.add_argument("--force", action="store_true", help=text(lang, "cli.force"))
    p.add_argument("--quiet", action="store_true", help=text(lang, "cli.quiet"))
    _list_verbs(p, lang)
    return p


def _list_verbs(p: argparse.ArgumentParser, lang: str) -> None:
    """The verbs as the help's first section, one line each. They are matched on argv[0] before any
    parser runs (a subparser would make every PATH an invalid choice), so they are shown, never parsed."""
    group = p.add_argument_group(text(lang, "cli.verbs"), text(lang, "cli.verbs_hint"))
    group._group_actions.extend(argparse.Action([], verb, help=text(lang, key)) for verb, (_, key) in VERBS.items())
    p._action_groups.insert(0, p._action_groups.pop())


def check_parser(lang: str = "es") -> argparse.ArgumentParser:
    p = _parser("grade check", text(lang, "cli.check_description"), lang)
    p.add_argument("path", help=text(lang, "cli.check_path"))
    _common(p, "grades-check", lang)
    p.add_argument("--retrain", action="store_true", help=text(lang, "cli.retrain"))
    return p


def export_parser(lang: str = "es") -> argparse.ArgumentParser:
    from .export import FORMATS
    from .export.gradescope import VISIBILITIES
    from .export.moodle import IDENTIFIERS
    from .export.roster import COLUMNS

    p = _parser("grade export", text(lang, "cli.export_description"), lang)
    p.add_argument("folder", help=text(lang, "cli.export_folder"))
    p.add_argument("--to", required=True, choices=list(FORMATS), help=text(lang, "cli.export_to"))
    p.add_argument("--roster", default=None, help=text(lang, "cli.export_roster", columns=", ".join(COLUMNS)))
    p.add_argument("--assignment", default=None, help=text(lang, "cli.export_assignment"))
    p.add_argument("--assignment-id", default=None, help=text(lang, "cli.export_assignment_id"))
    p.add_argument("--out", default=None, help=text(lang, "cli.export_out"))
    p.add_argument("--missing-zero", action="store_true", help=text(lang, "cli.export_missing_zero"))
    p.add_argument("--allow-unmatched", action="store_true", help=text(lang, "cli.export_allow_unmatched"))
    p.add_argument("--moodle-id", choices=list(IDENTIFIERS), default="email", help=text(lang, "cli.export_moodle_id"))
    p.add_argument("--visibility", choices=list(VISIBILITIES), default="visible", help=text(lang, "cli.export_visibility"))
    p.add_argument("--points-possible", type=float, default=None, help=text(lang, "cli.export_points"))
    p.add_argument("--rubric", default=None, help=text(lang, "cli.rubric"))
    p.add_argument("--lang", choices=list(LANGS), default=None, help=text(lang, "cli.lang"))
    return p


def bundle_parser(lang: str = "es") -> argparse.ArgumentParser:
    p = _parser("grade gradescope-bundle", text(lang, "cli.bundle_description"), lang)
    p.add_argument("--out", default="autograder.zip", help=text(lang, "cli.bundle_out"))
    p.add_argument("--data-dir", default=None, help=text(lang, "cli.bundle_data"))
    p.add_argument("--epochs", type=int, default=None, help=text(lang, "cli.bundle_epochs"))
    p.add_argument("--timeout-min", type=float, default=40, help=text(lang, "cli.bundle_timeout"))
    p.add_argument("--cpus", type=float, default=2, help=text(lang, "cli.bundle_cpus"))
    p.add_argument("--lang", choices=list(LANGS), default=None, help=text(lang, "cli.lang"))
    return p


def calibrate_parser(lang: str = "es") -> argparse.ArgumentParser:
    from .calibrate.run import DEFAULT_SEEDS

    p = _parser("grade calibrate", text(lang, "cli.calibrate_description"), lang)
    p.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help=text(lang, "cli.calibrate_seeds", default=DEFAULT_SEEDS))
    p.add_argument("--rubric", default=None, help=text(lang, "cli.rubric"))
    p.add_argument("--out", default="calibration", help=text(lang, "cli.calibrate_out", default="calibration"))
    p.add_argument("--lang", choices=list(LANGS), default=None, help=text(lang, "cli.lang"))
    p.add_argument("--data-dir", default=None, help=text(lang, "cli.data_dir"))
    p.add_argument("--cache", default=None, help=text(lang, "cli.cache", default=str(default_cache_dir())))
    p.add_argument("--no-cache", action="store_true", help=text(lang, "cli.no_cache"))
    p.add_argument("--epochs", type=int, default=None, help=text(lang, "cli.epochs"))
    return p


def review_parser(lang: str = "es") -> argparse.ArgumentParser:
    from .review.command import ALL

    p = _parser("grade review", text(lang, "cli.review_description"), lang)
    p.add_argument("folder", help=text(lang, "cli.review_folder"))
    p.add_argument("student", nargs="?", default=None, help=text(lang, "cli.review_student"))
    p.add_argument("--set", action="append", default=[], metavar="CHECK=POINTS", help=text(lang, "cli.review_set"))
    p.add_argument("--why", default="", help=text(lang, "cli.review_why"))
    p.add_argument("--comment", default=None, help=text(lang, "cli.review_comment"))
    p.add_argument("--clear", nargs="?", const=ALL, default=None, metavar="CHECK", help=text(lang, "cli.review_clear"))
    p.add_argument("--by", default="", help=text(lang, "cli.review_by"))
    p.add_argument("--rubric", default=None, help=text(lang, "cli.rubric"))
    p.add_argument("--lang", choices=list(LANGS), default=None, help=text(lang, "cli.lang"))
    return p


def _review(argv: list[str], lang: str) -> int:
    """`grade review`: grader/review/, then the class files rebuilt so that every page agrees."""
    args = review_parser(lang).parse_args(argv)
    if args.student is None and (args.set or args.why or args.comment is not None or args.clear is not None):
        raise UsageError(msg("review.nothing_asked"), hint=msg("review.bad_set_hint"))
    from .batch.class_files import rebuild_class_files
    from .review import ReviewRequest, review
    from .review.command import review_lines
    done = review(ReviewRequest(Path(args.folder), args.student, tuple(args.set), args.why, args.comment, args.clear,
                                args.by))
    summary = rebuild_class_files(Path(args.folder), load_rubric(args.rubric))
    print(terminal_safe("\n".join(review_lines(done, summary, lang))))
    return 0


def _calibrate(argv: list[str], lang: str) -> int:
    """`grade calibrate`: grader/calibrate/run.py, then a summary on the terminal."""
    args = calibrate_parser(lang).parse_args(argv)
    if not 2 <= args.seeds <= MAX_SEEDS:
        raise UsageError(msg("cli.calibrate_seeds_range", max=MAX_SEEDS))
    from .calibrate.run import calibrate
    from .data import locate
    cache = None if args.no_cache else Path(args.cache) if args.cache else default_cache_dir()
    rubric = _rubric(args)
    outcome = calibrate(rubric, locate(args.data_dir), seeds=args.seeds, out=Path(args.out), cache_dir=cache,
                        lang=args.lang or lang, progress=lambda message: print(render(message, lang), flush=True))
    from .calibrate.page import summary_lines
    print("\n".join(summary_lines(outcome, rubric, lang)))
    return 0


def _rubric(args) -> Rubric:
    rubric = load_rubric(args.rubric)
    if args.epochs is not None:
        if args.epochs < 1:
            raise UsageError(msg("cli.epochs_min"))
        rubric = rubric.with_protocol(epochs=args.epochs)
    return rubric


def _options(args, **extra) -> Options:
    cache = None if args.no_cache else Path(args.cache) if args.cache else default_cache_dir()
    if args.train_workers is not None and args.train_workers < 1:
        raise UsageError(msg("cli.train_workers_min"))
    return Options(out=Path(args.out), lang=args.lang or Options().lang, data_dir=args.data_dir, cache_dir=cache,
                   memo=not args.no_memo, delegate=not args.no_delegate, train_workers=args.train_workers, **extra)


def _export(argv: list[str], lang: str) -> int:
    args = export_parser(lang).parse_args(argv)
    from .export import ExportRequest, export, summary_lines as export_lines
    request = ExportRequest(Path(args.folder), args.to, Path(args.roster) if args.roster else None, args.assignment,
                            args.assignment_id, Path(args.out) if args.out else None, args.missing_zero,
                            args.moodle_id, args.visibility, args.lang or lang, args.points_possible,
                            args.allow_unmatched)
    print("\n".join(export_lines(export(request, load_rubric(args.rubric)), lang)))
    return 0


def _bundle(argv: list[str], lang: str) -> int:
    args = bundle_parser(lang).parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        raise UsageError(msg("cli.epochs_min"))
    from .export.bundle import build_bundle
    path = build_bundle(Path(args.out), Path(args.data_dir) if args.data_dir else None, args.epochs,
                        args.lang or Options().lang, args.timeout_min, args.cpus)
    print(text(lang, "cli.bundle_written", path=str(path), size_kb=path.stat().st_size / 1024))
    return 0


def _check(argv: list[str], lang: str) -> int:
    args = check_parser(lang).parse_args(argv)
    from . import preflight
    if (missing := preflight.problem(preflight.inspect())) is not None:  # no traceback: what is missing, and the fix
        print(text(lang, "preflight.cannot_check", problem=render(missing, lang)), file=sys.stderr)
        return 2
    from .selfcheck import check_file
    path = Path(args.path)
    if path.is_dir():
        raise UsageError(msg("cli.is_folder", path=str(path)))
    check_file(path, _options(args), _rubric(args), retrain=args.retrain, lang=lang)
    return 0


# verb -> (its runner, its one line in `grade --help`), in the help's order
VERBS = {
    "check": (_check, "cli.verb_check"),
    "export": (_export, "cli.verb_export"),
    "calibrate": (_calibrate, "cli.verb_calibrate"),
    "gradescope-bundle": (_bundle, "cli.verb_gradescope_bundle"),
    "review": (_review, "cli.verb_review"),
}


def _verb(name: str, argv: list[str], lang: str) -> int:
    """Run one verb; when its arguments are refused and a file or folder of the verb's name is here,
    say how to grade that path instead (the verb always wins: its meaning never depends on the folder)."""
    try:
        return VERBS[name][0](argv, lang)
    except (SystemExit, UsageError) as exc:
        if (isinstance(exc, UsageError) or exc.code == 2) and Path(name).exists():
            print(text(lang, "cli.verb_or_path", verb=name), file=sys.stderr)
        raise


def _run(argv: list[str], lang: str) -> int:
    if argv and argv[0] in VERBS:
        return _verb(argv[0], argv[1:], lang)
    return _grade(argv, lang)


def _grade(argv: list[str], lang: str) -> int:
    """`grade PATH`: one submission, a class folder or an LMS download zip."""
    args = grade_parser(lang).parse_args(argv)
    if not 0 <= args.seeds <= MAX_SEEDS:
        raise UsageError(msg("cli.seeds_range", max=MAX_SEEDS))
    if args.jobs < 1:
        raise UsageError(msg("cli.jobs_min"))
    rubric = _rubric(args)
    options = _options(args, seeds=args.seeds, allow_unsandboxed=args.allow_unsandboxed, quiet=args.quiet)
    path = Path(args.path)
    is_class = path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip")  # a zip: an LMS download
    if args.scheduler and args.cluster:
        raise UsageError(msg("cli.cluster_both"))
    if (args.scheduler or args.cluster) and not is_class:
        raise UsageError(msg("cli.cluster_needs_folder", path=str(path)))
    if not is_class:  # a wrong path is a usage error, said before the readiness probe's seconds
        from .errors import SubmissionError
        from .submission import load as load_submission
        try:
            load_submission(path)
        except SubmissionError:  # an unusable file is the student's: graded as invalid_submission
            pass
    from .readiness import ensure_ready
    ensure_ready(rubric, options)  # before anyone is graded (a batch: once, here): NotReady, exit 5, no result
    if is_class:  # a folder, or a Canvas/Moodle download zip (unpacked by plan_batch into OUT/.download/)
        from .batch import grade_folder, summary_lines
        rubric_path = Path(args.rubric) if args.rubric else None
        if args.scheduler or args.cluster:
            from .cluster import ClusterSpec, grade_folder_on_cluster
            spec = ClusterSpec(scheduler=args.scheduler, local_workers=args.jobs if args.cluster else 0)
            summary = grade_folder_on_cluster(path, rubric, options, spec, force=args.force, rubric_path=rubric_path,
                                              lang=lang)
        else:
            summary = grade_folder(path, rubric, options, jobs=args.jobs, force=args.force, rubric_path=rubric_path,
                                   lang=lang)
        print(terminal_safe("\n".join(summary_lines(summary, options.out, lang))))
        return 0
    if options.allow_unsandboxed:
        print(text(lang, "cli.unsandboxed_warning"), file=sys.stderr)
    result = grade(path, rubric, options)
    _review_one(options.out, result.student, lang)
    print("\n" + terminal_summary(result, rubric, lang))
    print(terminal_safe("\n  " + text(lang, "cli.report_path", path=str(options.out / result.student / "report.html"))))
    print(terminal_safe("  " + text(lang, "cli.result_path", path=str(options.out / result.student / "result.json"))))
    return 0


def _review_one(out: Path, student: str, lang: str) -> None:
    """A student regraded alone into a reviewed class folder gets the teacher's review back (a
    batch does this when it rebuilds the class files); a broken review file is said, not fatal."""
    from .review import ReviewFileError, needs_look_lines, review_folder, review_path
    try:
        if review_path(out) is not None:
            for line in needs_look_lines(review_folder(out, students=[student])[0], lang):
                print(terminal_safe(line), file=sys.stderr)
    except ReviewFileError as exc:
        print(terminal_safe(text(lang, "cli.error", error=exc.render(lang))), file=sys.stderr)


def _terminated(signum, frame) -> None:
    """SIGTERM, turned into an exception so that every `finally` (kernel, sandbox, temporary
    folders) runs on the way out, as it does for Ctrl-C."""
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    lang = requested_lang(argv) or language_from_env()
    try:
        previous = signal.signal(signal.SIGTERM, _terminated)
    except ValueError:  # not the main thread (an embedding program): its own handlers stay
        previous = None
    try:
        return _run(argv, lang)
    except KeyboardInterrupt as exc:
        print(text(lang, "cli.interrupted"), file=sys.stderr)
        return 128 + (exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)
    except UsageError as exc:
        print(terminal_safe(text(lang, "cli.error", error=exc.render(lang))), file=sys.stderr)
        return 2
    except DataError as exc:
        print(terminal_safe(text(lang, "cli.error_data", error=exc.render(lang))), file=sys.stderr)
        return 3
    except SandboxUnavailable as exc:
        print(terminal_safe(text(lang, "cli.error_sandbox", error=exc.render(lang))), file=sys.stderr)
        return 4
    except NotReady as exc:  # the grader cannot grade here (grader/readiness.py): never the students' fault
        print(terminal_safe(text(lang, "cli.error_not_ready", error=exc.render(lang))), file=sys.stderr)
        return 5
    except GraderError as exc:
        print(terminal_safe(text(lang, "cli.error", error=exc.render(lang))), file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["main", "grade_parser", "check_parser", "export_parser", "bundle_parser", "calibrate_parser", "review_parser", "requested_lang", "VERBS"]
