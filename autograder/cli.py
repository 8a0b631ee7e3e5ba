"""The command line: parse arguments, call the library, print what happened."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from autograder import __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autograder", description="Grade deep-learning exercises.")
    p.add_argument("--version", action="version", version=f"dl-autograder {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grade", help="grade one submission (--json) or a class (--out) with the hidden suites")
    g.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="a submission (folder, .zip, <exercise>.py or .ipynb); with --out, also a folder or "
                        ".zip of submissions")
    g.add_argument("--json", type=Path, metavar="FILE", help="write Gradescope's results.json for one submission")
    g.add_argument("--out", type=Path, metavar="DIR", help="grade a class into DIR")
    g.add_argument("--allow-forbidden", action="store_true",
                   help="do not zero functions that use forbidden calls (to check the suites with reference/)")
    g.add_argument("--gradebook", type=Path, metavar="FILE", help="SQLite gradebook (default: DIR/gradebook.sqlite)")
    g.add_argument("--jobs", type=_jobs, default=0, help="grader processes (default: one per core)")
    g.add_argument("--shard", type=_shard, metavar="K/N", help="grade only slice K of N (deterministic by student)")
    g.add_argument("--regrade", nargs="+", default=[], metavar="STUDENT", help="grade these students again")
    g.add_argument("--regrade-all", action="store_true", help="grade every student again")
    _common(g)

    m = sub.add_parser("merge", help="merge shard gradebooks into one and write the exports")
    m.add_argument("gradebooks", nargs="+", type=Path, metavar="GRADEBOOK")
    m.add_argument("--out", type=Path, required=True, metavar="DIR")
    m.add_argument("--course", type=Path, help="the course folder")

    r = sub.add_parser("release", help="write the student bundle: stubs (or notebooks), public tests, course.toml")
    r.add_argument("--out", type=Path, required=True, metavar="DIR", help="a new or empty folder for the bundle")
    r.add_argument("--notebooks", action="store_true", help="one Jupyter notebook per exercise instead of its .py stub")
    r.add_argument("--course", type=Path, help="the course folder")

    c = sub.add_parser("check", help="run the public tests on your own copy of the assignments")
    c.add_argument("folder", nargs="?", type=Path, default=Path("."), help="your assignments folder (default: .)")
    c.add_argument("--only", nargs="+", action="extend", type=_exercise, metavar="EXERCISE",
                   help="check only these exercises")
    c.add_argument("--timeout", type=_seconds, default=10.0, help="seconds one call may take (default 10)")
    return p


def _common(p):
    p.add_argument("--course", type=Path, help="the course folder (default: $AUTOGRADER_COURSE, the current "
                                               "folder, or the checkout this package came from)")
    p.add_argument("--only", nargs="+", action="extend", type=_exercise, metavar="EXERCISE",
                   help="grade only these exercises")
    p.add_argument("--timeout", type=_seconds, default=10.0, help="seconds one call may take (default 10)")


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return seconds


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if jobs < 0:
        raise argparse.ArgumentTypeError("must be 0 (one per core) or more")
    return jobs


def _exercise(text: str) -> str:
    """An exercise's name: a module's, and no existing file or folder (``--only`` takes every word
    after it, so a path given after it would otherwise be taken for one, ``hw2`` as well as ``hw2/``)."""
    if not text.isidentifier() or Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text!r} is not an exercise; --only takes every name after it, "
                                         "so give the paths before --only")
    return text


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError("use K/N, e.g. 2/8") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError("K must be between 1 and N")
    return k, n


def main(argv=None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("autograder: interrupted", file=sys.stderr)
        _forget_interrupt()
        return 130
    except BrokenPipeError:
        # the reader of our output is gone (`... | head -1`): stop quietly, as a command killed by
        # SIGPIPE does; what was written to files (--json, --out) is complete
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # nothing left to flush at exit
        return 128 + signal.SIGPIPE


def _forget_interrupt() -> None:
    """Let the status returned stand. CPython remembers a KeyboardInterrupt that ended an ``exec``
    of source text (dataclasses and namedtuples make their methods so, while pytest and torch load
    lazily), caught or not, and under ``python -m`` ends the process by SIGINT on exit instead;
    running source text again that ends normally clears what it remembers."""
    exec("pass")


def _main(argv) -> int:
    args = _parser().parse_args(argv)
    try:
        problem = _argument_problem(args)
    except OSError as e:                      # a path the system refuses to look at (a name too long)
        problem = f"cannot use {e.filename}: {e.strerror}"
    if problem:
        print(f"autograder: {problem}", file=sys.stderr)
        return 2
    if args.command == "release":
        return _release(args)
    from autograder.zygote import Zygote     # no torch yet: the zygote's import runs beside ours

    zygote = Zygote() if args.command != "merge" else None
    try:
        _import_grading_modules()
    except BaseException:
        if zygote is not None:
            zygote.close()
        raise
    from autograder.client import Timeouts
    from autograder.course import CourseError
    from autograder.gradebook import GradebookError
    from autograder.grading import GradingError

    try:
        if args.command == "merge":
            return _merge(args)
        timeouts = Timeouts(call=args.timeout)
        if args.command == "check":
            return _check(args, timeouts, zygote)
        if args.out is not None:
            return _grade_class(args, timeouts, zygote)
        return _grade(args, timeouts, zygote)
    except (CourseError, GradebookError, GradingError) as e:
        print(f"autograder: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    finally:
        if zygote is not None:
            zygote.close()


def _import_grading_modules() -> None:
    """Import torch, pytest and the grader with Ctrl-C held back until they are loaded. An
    interrupt inside an extension's import is lost (numpy turns it into an ImportError that torch
    passes over, and grading goes on) or makes Python kill itself on exit; held back, it arrives
    once the imports are done, where ``main`` reports it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        from autograder import batch, check  # noqa: F401 - torch, pytest and the rest come with them
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _argument_problem(args) -> str | None:
    """What is wrong with the paths given, found before anything starts (no torch, no zygote)."""
    if args.command == "merge":
        inputs, out = [p for p in args.gradebooks if not p.is_file()], args.out
    elif args.command == "grade":
        inputs, out = [p for p in args.paths if not p.exists()], args.out
    else:
        return None
    if inputs:
        return f"{inputs[0]} does not exist"
    if args.command == "grade" and args.json is not None and out is not None:
        return "give --json FILE (one submission) or --out DIR (a class), not both"
    if out is not None and out.exists() and not out.is_dir():
        return f"--out {out} is a file; give a folder for the results"
    if args.command == "merge":
        return None
    if out is not None:
        return _unwritable(out / ".autograder-write-test", "--out")
    if args.json is None:
        return "say where results go: --json FILE (one submission) or --out DIR (a class)"
    if len(args.paths) != 1:
        return "--json grades one submission; use --out DIR for several"
    if args.json.is_dir():
        return f"--json {args.json} is a folder; give the file to write"
    return _unwritable(args.json, "--json")


def _unwritable(path: Path, option: str) -> str | None:
    """Why ``path`` cannot be written (its folders are made), or None: found before grading, not
    after it, when the results would be lost. A file made only to find out is removed."""
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
        if not existed:
            path.unlink()
    except OSError as e:
        return f"cannot write {option} {path if option == '--json' else path.parent}: {e.strerror}"
    return None


def _grade(args, timeouts, zygote) -> int:
    from autograder.course import instructor_course
    from autograder.grading import Grader

    course = instructor_course(args.course)
    with Grader(course, exercises=args.only, timeouts=timeouts, zygote=zygote,
                check_forbidden=not args.allow_forbidden) as grader:
        result = grader.grade_path(args.paths[0])
    args.json.write_text(json.dumps(result.gradescope(), indent=2))
    print(result.summary())
    return 0


def _grade_class(args, timeouts, zygote) -> int:
    from autograder.batch import Progress, grade_class
    from autograder.course import instructor_course

    course = instructor_course(args.course)
    summary, students = grade_class(
        args.paths, course, args.out, gradebook_path=args.gradebook, exercises=args.only, jobs=args.jobs,
        shard=args.shard, regrade=args.regrade, regrade_all=args.regrade_all, timeouts=timeouts, zygote=zygote,
        progress=Progress(), check_forbidden=not args.allow_forbidden)
    failed = f", {len(summary.failed)} could not be graded" if summary.failed else ""
    print(f"Graded {_count(summary.graded, 'submission')} ({summary.skipped} unchanged, skipped{failed}) in "
          f"{summary.seconds:.1f} s; {_count(students, 'student')} in {args.out}/ (grades.csv, report.html, results/, "
          f"feedback/, junit.xml, {(args.gradebook or args.out / 'gradebook.sqlite').name})")
    for student, reason in summary.failed:
        print(f"  not graded: {student}: {reason} (run the same command again to grade it)", file=sys.stderr)
    for student, sources in summary.combined:
        print(f"  one student, several entries: {student} ({sources}); their files were combined", file=sys.stderr)
    for student, doubt in summary.doubts:
        print(f"  check {student}: {doubt}", file=sys.stderr)
    for note in summary.class_notes:
        print(f"  note: {note}", file=sys.stderr)
    if summary.absent:
        print(f"  note: {_count(len(summary.absent), 'student')} in the gradebook "
              f"{'was' if len(summary.absent) == 1 else 'were'} not found in this run and "
              f"{'keeps an earlier grade' if len(summary.absent) == 1 else 'keep their earlier grades'}: "
              f"{_names(summary.absent)}",
              file=sys.stderr)
    if summary.retried:
        print(f"  note: graded again, as an exercise timed out in their last run (a second timeout is final): "
              f"{_names(summary.retried)}", file=sys.stderr)
    if summary.other_shard:
        print(f"  note: not regraded by this shard, as another shard grades them: {_names(summary.other_shard)}",
              file=sys.stderr)
    return _print_unwritten(summary.unwritten)


def _names(students: list) -> str:
    """Up to five names, and ', ...' if there are more."""
    return ", ".join(students[:5]) + (", ..." if len(students) > 5 else "")


def _print_unwritten(unwritten: list) -> int:
    """Say whose own export files (results, feedback) are missing, and why; the exit status: 1 if
    any are (a script must not go on to upload what is there), else 0."""
    for student, reason in unwritten:
        print(f"  exports not written: {student}: {reason} (their row is in grades.csv and junit.xml)",
              file=sys.stderr)
    return 1 if unwritten else 0


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


def _release(args) -> int:
    from autograder.course import CourseError, instructor_course
    from autograder.release import ReleaseError, release

    try:
        written = release(instructor_course(args.course), args.out, notebooks=args.notebooks)
    except (CourseError, ReleaseError) as e:
        print(f"autograder: {e}", file=sys.stderr)
        return 2
    kind = "notebooks" if args.notebooks else "stubs"
    print(f"Wrote the student bundle to {args.out}/ ({len(written)} files: {kind}, tests/, course.toml)")
    return 0


def _merge(args) -> int:
    from autograder.batch import merge_gradebooks
    from autograder.course import instructor_course

    added, unwritten, versions = merge_gradebooks(args.gradebooks, instructor_course(args.course), args.out)
    print(f"Merged {added} runs into {args.out}/gradebook.sqlite and wrote the exports")
    if len(versions) > 1:
        counts = ", ".join(f"{n} under {h}" for h, n in sorted(versions.items()))
        print(f"  grades of different suite versions ({counts}): the suites, references, grader or "
              "--allow-forbidden differed between the runs; grade the class again with one to compare "
              "like with like", file=sys.stderr)
    return _print_unwritten(unwritten)


def _check(args, timeouts, zygote) -> int:
    from autograder.check import run_check

    return run_check(args.folder, args.only, timeouts, zygote)
