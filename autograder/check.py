"""`autograder check`: the public tests on a student's own folder, explained test by test."""

from __future__ import annotations

import sys
from pathlib import Path

from autograder.course import student_bundle
from autograder.grading import Grader, GradingError


def render(result, stream) -> None:
    """Per exercise, each test with ✓ or ✗ and, for a failure, what went wrong; when every test
    of an exercise failed for one reason (its file is missing, say), that reason once."""
    for ex in result.by_exercise():
        tests = [t for t in result.tests if t.exercise == ex]
        failed = [t for t in tests if t.status != "passed"]
        mark = "✓" if not failed else "✗"
        print(f"\n{mark} {ex}: {len(tests) - len(failed)} of {len(tests)} public tests pass", file=stream)
        reasons = {t.output for t in failed}
        if len(tests) > 1 and len(failed) == len(tests) and len(reasons) == 1 and "" not in reasons:
            print("   every test failed for one reason:", file=stream)
            _print_output(reasons.pop(), stream)
            continue
        for t in tests:
            print(f"   {'✓' if t.status == 'passed' else '✗'} {t.name}", file=stream)
            if t.status != "passed" and t.output:
                _print_output(t.output, stream)
    for note in result.notes:
        print(f"\nNote: {note}", file=stream)
    passed = sum(t.status == "passed" for t in result.tests)
    print(f"\n{passed} passed, {len(result.tests) - passed} failed", file=stream)


def _print_output(output: str, stream) -> None:
    for line in output.splitlines():
        print(f"       {line}", file=stream)


def run_check(folder: Path, only, timeouts, zygote=None, stream=sys.stdout) -> int:
    """Exit status 0 when every public test passes, 1 otherwise. An exercise whose public tests
    are missing from the folder is left out, with a note (and status 1); GradingError if that
    leaves none."""
    course = student_bundle(folder)
    wanted = list(only or course.exercises)
    untested = [ex for ex in wanted if ex in course.exercises and not course.suite(ex).is_file()]
    missing = [f"{ex} was not checked: its public tests, {course.suite(ex).relative_to(course.root)}, are "
               "missing from your folder; get them again from the assignment" for ex in untested]
    if untested == wanted:
        raise GradingError(missing[0])
    with Grader(course, exercises=[ex for ex in wanted if ex not in untested], redact=False, timeouts=timeouts,
                zygote=zygote) as grader:
        result = grader.grade_path(Path(folder))
    result.notes += missing
    render(result, stream)
    return 0 if all(t.status == "passed" for t in result.tests) and not untested else 1
