"""The command line: parse arguments, call the library, print what happened."""

from __future__ import annotations

import argparse
import json
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
    _common(g)

    c = sub.add_parser("check", help="run the public tests on your own copy of the assignments")
    c.add_argument("folder", nargs="?", type=Path, default=Path("."), help="your assignments folder (default: .)")
    c.add_argument("--only", nargs="+", metavar="EXERCISE", help="check only these exercises")
    c.add_argument("--timeout", type=float, default=10.0, help="seconds one call may take (default 10)")
    return p


def _common(p):
    p.add_argument("--course", type=Path, help="the course folder (default: $AUTOGRADER_COURSE, the current "
                                               "folder, or the checkout this package came from)")
    p.add_argument("--only", nargs="+", metavar="EXERCISE", help="grade only these exercises")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds one call may take (default 10)")


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from autograder.zygote import Zygote     # no torch yet: the zygote's import runs beside ours

    zygote = Zygote()
    from autograder.client import Timeouts
    from autograder.course import CourseError
    from autograder.grading import GradingError

    timeouts = Timeouts(call=args.timeout)
    try:
        if args.command == "check":
            return _check(args, timeouts, zygote)
        return _grade(args, timeouts, zygote)
    except (CourseError, GradingError) as e:
        print(f"autograder: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("autograder: interrupted", file=sys.stderr)
        return 130
    finally:
        zygote.close()


def _grade(args, timeouts, zygote) -> int:
    from autograder.course import instructor_course
    from autograder.grading import Grader

    if args.out is None and args.json is None:
        print("autograder: say where results go: --json FILE (one submission) or --out DIR (a class)",
              file=sys.stderr)
        return 2
    if args.out is not None:
        from autograder.batch import grade_class
        return grade_class(args, timeouts, zygote)
    if len(args.paths) != 1:
        print("autograder: --json grades one submission; use --out DIR for several", file=sys.stderr)
        return 2
    if not args.paths[0].exists():
        print(f"autograder: {args.paths[0]} does not exist", file=sys.stderr)
        return 2
    course = instructor_course(args.course)
    with Grader(course, exercises=args.only, timeouts=timeouts, zygote=zygote) as grader:
        result = grader.grade_path(args.paths[0])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result.gradescope(), indent=2))
    print(result.summary())
    return 0


def _check(args, timeouts, zygote) -> int:
    from autograder.check import run_check

    return run_check(args.folder, args.only, timeouts, zygote)
