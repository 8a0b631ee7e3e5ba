"""A course whose suite cannot load stops grading with a traceback the instructor can act on."""

from __future__ import annotations

import shutil
import sys

import pytest

from autograder.client import Timeouts
from autograder.course import instructor_course
from autograder.grading import Grader, GradingError
from conftest import ROOT


def test_a_suite_that_fails_to_load_names_its_file_and_line(tmp_path, grader, monkeypatch):
    monkeypatch.delitem(sys.modules, "test_broadcasting", raising=False)   # suites stay imported between runs
    course_root = tmp_path / "course"
    for part in ("assignments", "hidden", "reference"):
        shutil.copytree(ROOT / part, course_root / part)
    suite = course_root / "hidden" / "test_broadcasting.py"
    suite.write_text(suite.read_text() + "\nundefined_helper()\n")
    course = instructor_course(course_root)
    with Grader(course, exercises=["broadcasting"], timeouts=Timeouts(call=4.0, start=10.0)) as g:
        with pytest.raises(GradingError) as err:
            g.grade_path(ROOT / "solutions")
        outcomes = []
        g.grade_each([(g.prepare(ROOT / "solutions"), None)] * 2, lambda task, outcome: outcomes.append(outcome))
    monkeypatch.undo()
    assert len(outcomes) == 2 and all(isinstance(o, GradingError) for o in outcomes)   # every queued task told
    message = str(err.value)
    assert "a suite failed to load" in message and "test_broadcasting.py" in message
    assert "NameError" in message and "undefined_helper" in message and "line" in message
    assert grader.grade_path(ROOT / "solutions").by_exercise()["broadcasting"] == (20.0, 20.0)  # nothing left behind
