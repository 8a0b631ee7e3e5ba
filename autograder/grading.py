"""Grade submissions: run the suites with the grading plugin and collect one result per test."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from autograder import __version__
from autograder.client import Timeouts
from autograder.zygote import Zygote
from autograder.course import Course
from autograder.plugin import GradingPlugin, GradingTask, TestResult
from autograder.sandbox import Limits
from autograder.submission import Submission, SubmissionError, prepare_path
from autograder.text import plain_text


# pytest plugins grading has no use for; some cost seconds per run (a full gc.collect() of the
# torch heap at the end of every session, log capture around every test).
UNUSED_PLUGINS = [arg for name in ("cacheprovider", "terminal", "stepwise", "warnings", "unraisableexception",
                                   "threadexception", "logging", "faulthandler", "doctest", "junitxml",
                                   "pastebin", "legacypath", "tmpdir", "monkeypatch", "recwarn", "setuponly",
                                   "setupplan", "debugging", "nose", "python_path")
                  for arg in ("-p", f"no:{name}")]


class GradingError(Exception):
    """Grading could not happen at all (the course's suites are broken, the machine failed)."""


@dataclass
class GradeResult:
    """The graded submission: per-test results plus what the student should know."""

    tests: list[TestResult]
    exercises: list[str]
    notes: list[str] = field(default_factory=list)
    protections: dict = field(default_factory=dict)
    seconds: float = 0.0
    digest: str = ""
    unstable: list = field(default_factory=list)   # exercises whose results hung on time (timeouts, crashes)
    exercise_notes: dict = field(default_factory=dict)  # exercise -> what grading it found (a notebook's
                                                        # cells that raised or were stopped); in notes too

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 6)

    def by_exercise(self) -> dict[str, tuple[float, float]]:
        out = {ex: [0.0, 0.0] for ex in self.exercises}
        for t in self.tests:
            out.setdefault(t.exercise, [0.0, 0.0])
            out[t.exercise][0] += t.score
            out[t.exercise][1] += t.max_score
        return {ex: (round(s, 6), round(m, 6)) for ex, (s, m) in out.items()}

    def summary(self) -> str:
        lines = [f"Score: {self.score:g} / {self.max_score:g}"]
        for ex, (s, m) in self.by_exercise().items():
            lines.append(f"  {ex}: {s:g} / {m:g}")
        lines += [f"Note: {n}" for n in self.notes]
        off = [f"{k} ({v[5:]})" for k, v in self.protections.items() if str(v).startswith("off")]
        if off:
            lines.append("Protections off on this grading machine: " + "; ".join(off))
        return "\n".join(lines)

    def gradescope(self) -> dict:
        """Gradescope's results.json schema."""
        return {
            "score": self.score, "max_score": self.max_score,
            "output": self.summary(), "visibility": "visible", "stdout_visibility": "hidden",
            "execution_time": round(self.seconds, 3),
            "tests": [t.gradescope() for t in self.tests],
            "extra_data": {"grader_version": __version__, "protections": self.protections,
                           "submission_sha256": self.digest},
        }


def _forget_modules_under(folder: Path) -> None:
    """Drop the modules loaded from ``folder`` (the suites): a suite whose import failed stays
    half-executed in ``sys.modules``, and the next session would grade with it."""
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(folder.resolve()):
            del sys.modules[name]


def make_workdir() -> Path:
    """A folder for prepared submissions and worker scratch: workers may enter their own
    subfolder (mode 711), never list the others."""
    workdir = Path(tempfile.mkdtemp(prefix="autograder-"))
    os.chmod(workdir, 0o711)
    return workdir


class Grader:
    """Grades submissions one after another against one course, with one warm zygote."""

    def __init__(self, course: Course, *, exercises: list[str] | None = None, redact: bool = True,
                 limits: Limits | None = None, timeouts: Timeouts | None = None, zygote: Zygote | None = None,
                 check_forbidden: bool = True):
        unknown = set(exercises or []) - set(course.exercises)
        if unknown:
            raise GradingError(f"unknown exercise(s): {', '.join(sorted(unknown))}; "
                               f"the course has {', '.join(course.exercises)}")
        self.course = course
        self.exercises = list(exercises or course.exercises)
        self.redact = redact
        self.check_forbidden = check_forbidden
        self.limits = limits or Limits()
        self.timeouts = timeouts or Timeouts()
        self.zygote = zygote or Zygote()
        self.workdir = make_workdir()
        missing = [ex for ex in self.exercises if not course.suite(ex).is_file()]
        if missing:
            raise GradingError("no suite for " + ", ".join(f"{ex} ({course.suite(ex)})" for ex in missing))
        torch.set_num_threads(1)   # tiny tensors: threads only cost; classes run in parallel processes
        if str(course.root) not in sys.path:
            sys.path.insert(0, str(course.root))   # suites import reference/ from the course root

    def prepare(self, path: Path) -> Submission:
        """The submission at ``path`` in a private folder: this grader's exercises, and the
        course's others that a graded module may import."""
        siblings = [ex for ex in self.course.exercises if ex not in self.exercises]
        return prepare_path(path, self.exercises, self.workdir, siblings)

    def grade_path(self, path: Path) -> GradeResult:
        """Grade the submission at ``path``; an unreadable one gets 0 with the reason."""
        try:
            submission = self.prepare(path)
        except SubmissionError as e:
            submission = Submission(Path(tempfile.mkdtemp(prefix="sub-", dir=self.workdir)),
                                    problems={ex: str(e) for ex in self.exercises}, notes=[str(e)])
        try:
            return self.grade(submission)
        finally:
            shutil.rmtree(submission.folder, ignore_errors=True)

    def grade(self, submission: Submission, exercises: list[str] | None = None) -> GradeResult:
        """Grade ``exercises`` (default: all of this grader's) of a prepared submission."""
        graded = []
        self.grade_each([(submission, exercises)], lambda task, outcome: graded.append(outcome))
        if isinstance(graded[0], Exception):
            raise graded[0]
        return graded[0]

    def grade_each(self, tasks, on_result) -> None:
        """Grade each ``(submission, exercises)`` of ``tasks`` (an iterable read one task at a
        time) in one pytest session, so the suites are collected once for all of them; after
        each, ``on_result(task, outcome)`` gets its GradeResult, or the GradingError that stopped
        it (a broken suite stops every task)."""
        tasks = (GradingTask(sub, list(exercises or self.exercises)) for sub, exercises in tasks)

        def on_done(task, error):
            on_result((task.submission, task.exercises), self._result(plugin, task, error))

        plugin = GradingPlugin(self.course, self.zygote, self.redact, tasks, on_done, self.check_forbidden,
                               self.limits, self.timeouts)
        suites = [str(self.course.suite(ex)) for ex in self.exercises]
        args = [*suites, "-c", os.devnull, "--rootdir", str(self.course.suite_dir), "--noconftest",
                "--import-mode=importlib", "--capture=no", *UNUSED_PLUGINS]
        code = pytest.main(args, plugins=[plugin])
        if code == pytest.ExitCode.INTERRUPTED:     # Ctrl-C: pytest caught it; the caller stops
            raise KeyboardInterrupt
        if plugin.suite_errors:
            _forget_modules_under(self.course.suite_dir)
            error = GradingError("a suite failed to load:\n" + "\n".join(plugin.suite_errors))
        else:
            error = GradingError(f"pytest stopped before grading (exit code {int(code)})")
        for task in tasks:                 # the tasks the session did not reach
            on_result((task.submission, task.exercises), error)

    def _result(self, plugin: GradingPlugin, task: GradingTask,
                error: Exception | None) -> GradeResult | GradingError:
        """What grading ``task`` gave: the result, or why there is none."""
        if error is not None:
            return GradingError(f"grading stopped: {type(error).__name__}: {error}")
        missing = [ex for ex in task.exercises if not any(t.exercise == ex for t in plugin.results)]
        if missing:
            return GradingError(f"no tests ran for {', '.join(missing)}")
        protections = {}
        for s in plugin.sessions.values():
            protections.update(s.protections)
        submission = task.submission
        notes = list(submission.notes)
        notes += [f"{ex}: {msg}" for ex, msg in submission.problems.items() if ex in task.exercises]
        exercise_notes = {ex: list(s.cell_notes) for ex, s in plugin.sessions.items() if s.cell_notes}
        notes += [note for found in exercise_notes.values() for note in found]
        notes = [plain_text(n) for n in notes]          # file names from a zip may carry terminal escapes
        unstable = sorted(ex for ex, s in plugin.sessions.items() if s.failures)
        return GradeResult(plugin.results, task.exercises, notes, protections, time.monotonic() - plugin.started,
                           submission.digest, unstable, exercise_notes)

    def close(self):
        self.zygote.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
