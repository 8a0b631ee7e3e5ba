"""The pytest plugin that grades: markers, the ``student`` fixture, and one result per test.

It runs in the trusted grader process. Student code runs only in workers (see
:mod:`autograder.client`); what a test sees of it is data. Scores come from positive evidence:
a test earns its points only if it ran and passed; skipped, errored, timed out and crashed
tests score 0.
"""

from __future__ import annotations

import re
import time
import traceback
from dataclasses import dataclass, field, replace

import pytest
import torch

from autograder.client import (CallStopped, ExerciseSession, ExerciseUnavailable, ForbiddenCall, Student,
                               StudentError, Timeouts, WorkerFailure, WrongResult)
from autograder.course import Course
from autograder.forbidden import Violation, find_forbidden, sibling_rules, under
from autograder.notebook import NotebookModule
from autograder.sandbox import Limits
from autograder.submission import Submission
from autograder.testing import GradingFailure
from autograder.text import plain_text

MAX_OUTPUT = 4000   # characters of feedback per test
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
MARKERS = {
    "exercise": "exercise(id): the exercise a suite grades (its tag)",
    "points": "points(n): points the test is worth (default 1)",
    "covers": "covers(*names): contract names the test exercises (forbidden calls there fail it)",
    "visibility": "visibility(v): Gradescope visibility: " + ", ".join(VISIBILITIES),
}


@dataclass
class TestResult:
    """One test's outcome, in the shape of a Gradescope results.json test."""

    name: str
    nodeid: str
    exercise: str
    score: float
    max_score: float
    status: str                      # "passed" or "failed"
    output: str                      # what the student sees
    visibility: str = "visible"
    seconds: float = 0.0
    internal: str = ""               # instructor-only detail (a grader bug's traceback)
    covers: tuple = ()

    def gradescope(self) -> dict:
        return {"name": self.name, "score": self.score, "max_score": self.max_score, "status": self.status,
                "output": self.output, "visibility": self.visibility, "tags": [self.exercise]}


class _Forbidden(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass
class GradingTask:
    """One submission to grade, and the exercises of it to grade."""

    submission: Submission
    exercises: list


@dataclass
class GradingPlugin:
    """Grades ``tasks`` one after another in one pytest session: the suites are collected once,
    then each submission runs the tests of its exercises. ``on_done(task, error)`` is called
    after each (``error``: what stopped it being graded, or None), while ``results`` and
    ``sessions`` hold what that submission got."""

    course: Course
    zygote: object
    redact: bool                                  # hidden suites: no inputs, expected values or prints
    tasks: object = ()                            # an iterable of GradingTask, read as it is graded
    on_done: object = None
    check_forbidden: bool = True                  # off only to validate suites with the reference
    limits: Limits = field(default_factory=Limits)
    timeouts: Timeouts = field(default_factory=Timeouts)
    suite_errors: list = field(default_factory=list)
    submission: Submission | None = None          # the submission being graded, and what it got so far
    results: list = field(default_factory=list)
    sessions: dict = field(default_factory=dict)
    _violations: dict = field(default_factory=dict)
    _output_marks: dict = field(default_factory=dict)   # exercise -> its output mark when the test began
    started: float = 0.0                          # time.monotonic() when this submission began

    def begin(self, submission: Submission, exercises) -> None:
        """Start grading ``submission``: its workers are asked for at once, so they start (fork,
        confine, import the student's module) while earlier exercises are graded."""
        self.submission, self.results, self.sessions, self._violations = submission, [], {}, {}
        self.started = time.monotonic()
        for exercise in exercises:
            if exercise in self.course.exercises and exercise not in submission.problems:
                self.session(exercise).prepare()

    def end(self) -> None:
        for s in self.sessions.values():
            s.close()
        self._zero_forbidden()

    def _zero_forbidden(self) -> None:
        """A forbidden call seen while a function ran scores 0 for that function, like one found
        in its source: its tests that passed before the call was seen fail too."""
        for t in self.results:
            known = self._violations.get(t.exercise, {})
            name = next((n for n in t.covers if n in known), None)
            if name is not None and t.status == "passed":
                session = self.sessions.get(t.exercise)
                t.score, t.status = 0.0, "failed"
                t.output = known[name].message(session.locate_line if session else None)

    # ------------------------------------------------------------------ pytest hooks
    def pytest_configure(self, config):
        for text in MARKERS.values():
            config.addinivalue_line("markers", text)
        # a suite that fails to load is reported with a plain traceback (pytest's default style
        # re-parses every source file in it)
        config.option.tbstyle = "native"

    def pytest_collection_modifyitems(self, items):
        """Number the cases of each parametrized test, so hidden ids (which may show inputs)
        never reach the student."""
        groups: dict = {}
        for item in items:
            if getattr(item, "callspec", None) is not None:
                groups.setdefault((item.path, item.originalname), []).append(item)
        for group in groups.values():
            for i, item in enumerate(group, 1):
                item._autograder_case = f"{i} of {len(group)}"

    def pytest_collectreport(self, report):
        if report.failed:
            self.suite_errors.append(f"{report.nodeid}: {report.longreprtext[-3000:]}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        """The report of a test phase, made here rather than by pytest, whose report of a failure
        formats a traceback by re-reading every source file in it (milliseconds a test, seconds
        a failing submission); feedback is made from the exception itself."""
        if call.excinfo is None:
            outcome, longrepr = "passed", None
        elif isinstance(call.excinfo.value, pytest.skip.Exception):
            outcome, longrepr = "skipped", (str(item.path), 0, str(call.excinfo.value))
        else:
            outcome, longrepr = "failed", call.excinfo.exconly()
        report = pytest.TestReport(item.nodeid, item.location, {}, outcome, longrepr, call.when,
                                   duration=call.duration, start=call.start, stop=call.stop)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            if call.excinfo is not None and isinstance(call.excinfo.value, ForbiddenCall):
                self._note_forbidden(exercise_of(item), call.excinfo.value)
            self.results.append(self._result(item, call, report))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        """Each task in turn: its exercises' tests, in suite order, through pytest's own test
        protocol (fixtures, hooks, reports), with every fixture torn down between tasks."""
        if self.suite_errors:
            return True
        exercise_items = [(exercise_of(item), item) for item in session.items]
        for task in self.tasks:
            items = [item for exercise, item in exercise_items if exercise in task.exercises]
            error = None
            try:
                self.begin(task.submission, task.exercises)
                for i, item in enumerate(items):
                    nextitem = items[i + 1] if i + 1 < len(items) else None
                    item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            except Exception as e:  # noqa: BLE001 - this submission cannot be graded; the next can
                error = e
                try:
                    session._setupstate.teardown_exact(None)   # what it left set up, for the next
                except Exception:  # noqa: BLE001
                    pass
            finally:
                self.end()
            self.on_done(task, error)
        return True

    def pytest_runtest_setup(self, item):
        """Every test starts from the same global random state, so results are reproducible (and
        cacheable) even where a suite draws from it without a generator. What student code
        prints from here on is this test's."""
        torch.default_generator.manual_seed(0)   # CPU only: torch.manual_seed also seeds (and probes) accelerators
        self._output_marks = {ex: s.output_mark() for ex, s in self.sessions.items()}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        """A test ends only when its deferred requests have answered; an error one of them
        raised fails the test."""
        try:
            result = yield
        except BaseException:
            for s in self.sessions.values():
                s.settle(raise_errors=False)
            raise
        for s in self.sessions.values():
            s.settle()
        return result

    def pytest_runtest_teardown(self, item, nextitem):
        """An exercise's worker stops as soon as its last test has run (memory stays flat)."""
        exercise = exercise_of(item)
        if (nextitem is None or exercise_of(nextitem) != exercise) and exercise in self.sessions:
            self.sessions[exercise].close()

    @pytest.fixture
    def student(self, request):
        exercise = exercise_of(request.node)
        if exercise not in self.course.exercises:
            raise RuntimeError(f"test {request.node.nodeid} has no known exercise mark")
        if exercise in self.submission.problems:
            raise ExerciseUnavailable(self.submission.problems[exercise])
        self.session(exercise).check_budget()
        violations = self.violations(exercise)
        for name in covers_of(request.node):
            if name in violations:
                raise _Forbidden(violations[name].message(self.session(exercise).locate_line))
        return Student(self.session, exercise, self.course.exercises)

    # ------------------------------------------------------------------ helpers
    session_class = ExerciseSession     # benchmarks/bench_isolation.py swaps in an unisolated one

    def session(self, exercise: str) -> ExerciseSession:
        if exercise not in self.sessions:
            ex = self.course.exercises[exercise]
            module_file = ex.module_file
            watch = {"rules": ex.forbidden, "names": list(ex.names)} if self.check_forbidden else None
            self.sessions[exercise] = session = self.session_class(
                self.zygote, str(self.submission.folder), exercise, module_file, self.limits, self.timeouts,
                watch=watch, budget_end=self.started + self.timeouts.submission)
            came_from = self.submission.found.get(exercise, "")
            if came_from.lower().endswith(".ipynb"):          # tell lines as the notebook's cells
                session.notebook = NotebookModule(came_from.rsplit("/", 1)[-1], module_file,
                                                  (self.submission.folder / module_file).read_text())
        return self.sessions[exercise]

    def _note_forbidden(self, exercise: str, call: ForbiddenCall) -> None:
        """Remember a forbidden call seen at run time against each function it was made in."""
        known = self.violations(exercise)
        for name in call.names:
            known.setdefault(name, _violation(call, name))

    def violations(self, exercise: str) -> dict:
        if not self.check_forbidden:
            return {}
        if exercise not in self._violations:
            path = self.submission.folder / self.course.exercises[exercise].module_file
            ex = self.course.exercises[exercise]
            if path.is_file():
                source, rules = path.read_bytes(), ex.forbidden
                if siblings := sibling_rules(source, path.parent, rules):       # the student's other modules
                    rules = {**rules, "*": [*rules.get("*", []), *siblings]}
                self._violations[exercise] = {
                    name: replace(v, sibling=True) if under(v.used, siblings) else v
                    for name, v in find_forbidden(source, rules, list(ex.names)).items()}
            else:
                self._violations[exercise] = {}
        return self._violations[exercise]

    def _result(self, item, call, report) -> TestResult:
        exercise = exercise_of(item)
        points = float(marker_arg(item, "points", 1))
        visibility = marker_arg(item, "visibility", "visible")
        passed = report.passed and report.when == "call"
        output, internal = ("", "") if passed else map(_feedback_text, self._explain(item, call, report, exercise))
        return TestResult(
            name=test_title(item, self.redact), nodeid=item.nodeid, exercise=exercise,
            score=points if passed else 0.0, max_score=points, status="passed" if passed else "failed",
            output=output, visibility=visibility if visibility in VISIBILITIES else "visible",
            seconds=round(report.duration, 4), internal=internal, covers=tuple(covers_of(item)))

    def _explain(self, item, call, report, exercise) -> tuple[str, str]:
        """(what the student sees, instructor-only detail) for a test that did not pass."""
        if report.skipped:
            return "This test did not run, so it earns no points.", ""
        exc = call.excinfo.value if call.excinfo else None
        session = self.sessions.get(exercise)
        fn = f"`{session.last_call}`" if session and session.last_call else "your code"
        if isinstance(exc, (GradingFailure, WrongResult)):
            text = exc.redacted if self.redact else exc.public
        elif isinstance(exc, _Forbidden):
            text = exc.message
        elif isinstance(exc, ForbiddenCall):
            name = next((n for n in covers_of(item) if n in exc.names), exc.names[0] if exc.names else fn.strip("`"))
            text = _violation(exc, name).message(session.locate_line if session else None)
        elif isinstance(exc, StudentError):
            if exc.missing:
                text = exc.explain_missing()
            elif "NotImplementedError" in exc.type_names:
                text = f"{fn} is not implemented yet (it raises NotImplementedError)."
            elif _signature_mismatch(exc):
                text = (f"{fn} could not be called as the contract says ({exc.message}): give it the contract's "
                        "parameters, with the contract's names (tests call some functions by keyword)")
            elif self.redact:
                where = f"\n  in {exc.function(session.file_shown if session else None)}" if exc.where else ""
                text = (f"{fn} raised {exc.builtin_type()}{where}\n(A hidden test shows no error message, nor the "
                        "line that raised it: they could hold the test's inputs.)")
            else:
                where = f"\n  at {exc.location(session.locate if session else None)}" if exc.location() else ""
                text = f"{fn} raised {exc.type_name}: {exc.message}{where}"
        elif isinstance(exc, (ExerciseUnavailable, CallStopped)):
            text = str(exc)
        elif isinstance(exc, WorkerFailure):
            text = f"While running {fn}: {exc}"
        elif isinstance(exc, (AssertionError, pytest.fail.Exception)):
            text = "The result is wrong." if self.redact else (str(exc) or "The result is wrong.")
        else:
            trace = "".join(traceback.format_exception(exc)) if exc else report.longreprtext
            return ("This test could not run because of a problem in the grader, not in your code; "
                    "your instructor has the details.", trace[-5000:])
        if not self.redact and session is not None:
            printed = session.printed_since(self._output_marks.get(exercise)).strip()
            if printed:
                text += "\nYour code printed:\n" + printed[-1500:]
        return text, ""


_SIGNATURE_MISMATCH = re.compile(
    r"^[\w.<>]+\(\) (got an unexpected keyword argument '\w+'|got multiple values for argument '\w+'|"
    r"missing \d+ required (positional|keyword-only) arguments?: [\w', ]+|"
    r"takes (from )?\d+ (to \d+ )?positional arguments? but \d+ (were|was) given|"
    r"got some positional-only arguments passed as keyword arguments: [\w', ]+)$")


def _signature_mismatch(exc: StudentError) -> bool:
    """Whether the call itself did not fit the function's parameters (a renamed or missing
    parameter): a TypeError raised before any student code ran, whose message Python wrote from
    names alone, so a hidden test may show it."""
    return exc.type_name == "TypeError" and not exc.where and bool(_SIGNATURE_MISMATCH.match(exc.message))


def _violation(call: ForbiddenCall, name: str) -> Violation:
    """A forbidden call seen at run time, as the syntax check would report it against ``name``."""
    return Violation(name, call.used, call.line, None, call.replaced, at_import=call.at_import)


def exercise_of(item) -> str:
    mark = item.get_closest_marker("exercise")
    if mark and mark.args:
        return str(mark.args[0])
    stem = item.path.stem
    return stem[5:] if stem.startswith("test_") else stem


def covers_of(item) -> list[str]:
    return [str(a) for m in item.iter_markers("covers") for a in m.args]


def marker_arg(item, name, default):
    mark = item.get_closest_marker(name)
    return mark.args[0] if mark and mark.args else default


def test_title(item, redact: bool) -> str:
    """The docstring's first line (the test's name if none), plus which case for parametrized tests."""
    doc = (getattr(item, "function", None).__doc__ or "").strip() if hasattr(item, "function") else ""
    title = doc.splitlines()[0].strip() if doc else item.name.split("[")[0].replace("_", " ")
    spec = getattr(item, "callspec", None)
    if spec is not None:
        title += f" (case {getattr(item, '_autograder_case', '?')})" if redact else f" [{spec.id}]"
    return title


def _feedback_text(text: str) -> str:
    """Feedback of one test as plain text (it holds file names and messages a student chose,
    which may carry terminal escapes), at most MAX_OUTPUT characters (a student's odd result or
    printout must not bloat every export)."""
    text = plain_text(text)
    if len(text) <= MAX_OUTPUT:
        return text
    return f"{text[:MAX_OUTPUT]}\n... ({len(text) - MAX_OUTPUT} more characters cut)"
