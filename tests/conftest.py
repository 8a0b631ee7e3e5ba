"""Shared fixtures: the course, one grader (one warm zygote) per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.client import Timeouts
from autograder.course import instructor_course
from autograder.grading import Grader

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ["broadcasting", "gradients", "sgd", "losses", "masked_softmax", "attention"]


@pytest.fixture(scope="session")
def course():
    return instructor_course(ROOT)


@pytest.fixture(scope="session")
def grader(course):
    """Short deadlines so hanging submissions cost seconds; correct code needs far less."""
    with Grader(course, timeouts=Timeouts(call=4.0, start=10.0)) as g:
        yield g


@pytest.fixture(scope="session")
def full_marks(grader):
    """Per exercise (score, max) of the instructor's solutions: the bar every other run is held to."""
    result = grader.grade_path(ROOT / "solutions")
    return result.by_exercise()


def submission_with(tmp_path: Path, replacements: dict[str, str | Path]) -> Path:
    """A copy of solutions/ in which each exercise of ``replacements`` is replaced (by a file
    path or by source text)."""
    folder = tmp_path / "submission"
    shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
    for exercise, replacement in replacements.items():
        text = replacement.read_text() if isinstance(replacement, Path) else replacement
        (folder / f"{exercise}.py").write_text(text)
    return folder
