"""Everything a class run leaves in its output folder, written from the gradebook in one pass.

- ``grades.csv``: ``student``, one column per exercise, ``total`` (then ``max_total``, ``late``);
- ``results/<student>.json``: Gradescope's results.json schema;
- ``junit.xml``: one ``testsuite`` per student, one ``testcase`` per test;
- ``feedback/<student>.md``: what a teacher can hand out (no hidden test source, inputs or
  expected values: hidden-suite messages are redacted when graded);
- ``report.html``: how the class did (see :mod:`autograder.report`).

An exercise a student's current run did not grade (a rerun ``--only`` others, merged with
classmates graded on it) is blank in their row, left out of their totals and files, and named as
not graded in their feedback: it is never scored 0. A student whose current run graded none of
the exercises exported has a blank row, and no files, suite or report entry of this export.

Each file is written beside its place and renamed into it, so a run stopped half-way leaves the
previous exports whole; a student's files that cannot be written (a name the file system
refuses) are reported and the other students' are written all the same.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from autograder.gradebook import Gradebook, StudentGrade
from autograder.grading import GradeResult
from autograder.plugin import TestResult
from autograder.report import ClassStats, report_html
from autograder.text import plain_text

TEST_FIELDS = ("name", "nodeid", "exercise", "score", "max_score", "status", "output", "visibility", "seconds",
               "internal")


@dataclass
class Exports:
    """What :func:`write_exports` did: the class statistics, and the students whose own files
    (results, feedback) could not be written, with the reason."""

    stats: ClassStats
    unwritten: list = field(default_factory=list)      # (student, reason)


@contextmanager
def _replacing(path: Path, newline: str | None = None):
    """A text file to write that takes the place of ``path`` once closed without error. It is
    written beside it under a short name of its own (a student's file name may be as long as the
    system allows; two runs may export to one folder at once)."""
    fd, partial = tempfile.mkstemp(prefix=f".{path.name[:32]}.", suffix=".partial", dir=path.parent)
    try:
        with open(fd, "w", newline=newline) as f:
            yield f
        umask = os.umask(0o022)                   # read it (single-threaded here): the file gets the
        os.umask(umask)                           # mode open() would give, not mkstemp's 0600
        os.chmod(partial, 0o666 & ~umask)
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)


def _write_student_files(out: Path, student: str, files: dict[str, str], unwritten: list) -> None:
    """Write one student's files (path in ``out`` -> text); those that cannot be written are
    noted in ``unwritten`` (and an earlier run's file there is removed if it can be, so that no
    stale grade is uploaded) and the class goes on."""
    failed, reasons = [], set()
    for name, text in files.items():
        try:
            with _replacing(out / name) as f:
                f.write(text)
        except OSError as e:
            failed.append(f"{name.split('/')[0]}/")
            reasons.add(e.strerror or str(e))
            try:
                (out / name).unlink(missing_ok=True)
            except OSError:
                pass
    if failed:
        unwritten.append((student, f"cannot write their file in {' and '.join(failed)} ({'; '.join(sorted(reasons))})"))


def grade_result(grade: StudentGrade, exercises) -> GradeResult:
    """The student's latest run as a GradeResult of those of ``exercises`` it graded (the run may
    hold more: a class graded ``--only`` some exercises exports those, totals included; it may
    hold fewer: a student's rerun ``--only`` some, merged with a class graded on all)."""
    tests = [TestResult(**{k: t[k] for k in TEST_FIELDS}) for t in grade.tests if t["exercise"] in exercises]
    graded = [ex for ex in exercises if any(t.exercise == ex for t in tests)]
    return GradeResult(tests, graded, grade.notes, grade.protections, grade.seconds, grade.digest)


def feedback_markdown(student: str, result: GradeResult, titles: dict, ungraded=()) -> str:
    """A student's feedback; ``ungraded``: exercises of the class their run did not grade."""
    lines = [f"# Feedback for {student}", "", f"**Score: {result.score:g} / {result.max_score:g}**", ""]
    if ungraded:
        names = ", ".join(f"{titles.get(ex, ex)} ({ex})" for ex in ungraded)
        lines += [f"Not graded this time, and not in this score: {names}.", ""]
    if result.notes:            # first: they say which files were graded, and why
        lines += ["## Notes on your files", ""] + [f"- {n}" for n in result.notes] + [""]
    for ex, (score, max_score) in result.by_exercise().items():
        lines += [f"## {titles.get(ex, ex)} ({ex}): {score:g} / {max_score:g}", ""]
        tests = [t for t in result.tests if t.exercise == ex]
        if len(tests) > 1 and all(t.status != "passed" for t in tests) and len({t.output for t in tests}) == 1:
            lines += [f"All {len(tests)} tests failed for one reason:", ""]      # a missing file, an import error
            lines += [f"    {line}" for line in tests[0].output.splitlines()] + [""]
            continue
        for t in tests:
            if t.status == "passed":
                lines.append(f"- ✓ {t.name} ({t.score:g}/{t.max_score:g})")
            else:
                lines.append(f"- ✗ {t.name} (0/{t.max_score:g})")
                lines += [f"    {line}" for line in t.output.splitlines()]
        lines.append("")
    return "\n".join(lines)


def _junit_suite(student: str, result: GradeResult) -> str:
    failures = sum(t.status != "passed" for t in result.tests)
    parts = [f'  <testsuite name={quoteattr(student)} tests="{len(result.tests)}" failures="{failures}" '
             f'errors="0" time="{result.seconds:.3f}">']
    for t in result.tests:
        head = (f'    <testcase classname={quoteattr(f"{student}.{t.exercise}")} name={quoteattr(t.name)} '
                f'time="{t.seconds:.4f}"')
        if t.status == "passed":
            parts.append(head + "/>")
        else:
            output = plain_text(t.output)
            first = (output.splitlines() or ["failed"])[0]
            parts.append(f"{head}>\n      <failure message={quoteattr(first)}>{escape(output)}</failure>\n"
                         "    </testcase>")
    parts.append("  </testsuite>")
    return "\n".join(parts)


EXPORT_NAMES = ("grades.csv", "junit.xml", "report.html", "results", "feedback")   # what write_exports writes in out


def write_exports(gradebook: Gradebook, out: Path, course, exercises) -> Exports:
    """Write every export (``EXPORT_NAMES``) for the students in ``gradebook``."""
    out = Path(out)
    (out / "results").mkdir(parents=True, exist_ok=True)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    titles = {ex: course.exercises[ex].title for ex in exercises}
    done = Exports(ClassStats(list(exercises)))
    with _replacing(out / "grades.csv", newline="") as csv_file, _replacing(out / "junit.xml") as junit:
        writer = csv.writer(csv_file)
        writer.writerow(["student", *exercises, "total", "max_total", "late"])
        junit.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="dl-autograder">\n')
        for grade in gradebook.current():
            result = grade_result(grade, exercises)
            if not result.exercises:      # graded on other exercises only (a run --only others): nothing of it here
                writer.writerow([grade.student, *("" for _ in exercises), "", "", "yes" if grade.late else ""])
                continue
            per = result.by_exercise()
            ungraded = [ex for ex in exercises if ex not in per]
            writer.writerow([grade.student, *(f"{per[ex][0]:g}" if ex in per else "" for ex in exercises),
                             f"{result.score:g}", f"{result.max_score:g}", "yes" if grade.late else ""])
            _write_student_files(out, grade.student, {
                f"results/{grade.student}.json": json.dumps(result.gradescope(), indent=1),
                f"feedback/{grade.student}.md": feedback_markdown(grade.student, result, titles, ungraded)},
                done.unwritten)
            junit.write(_junit_suite(grade.student, result) + "\n")
            done.stats.add(grade.student, result)
        junit.write("</testsuites>\n")
    with _replacing(out / "report.html") as report:
        report.write(report_html(done.stats, titles))
    return done
