"""The course: which exercises exist, where their suites live, what each may not call."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

COURSE_FILE = "course.toml"


class CourseError(Exception):
    """The course folder is missing or malformed."""


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    names: tuple[str, ...]
    forbidden: dict = field(hash=False, compare=False)

    @property
    def module_file(self) -> str:
        return f"{self.id}.py"


@dataclass(frozen=True)
class Course:
    root: Path                       # holds assignments/, hidden/, reference/ (or a student bundle)
    exercises: dict = field(hash=False)
    suite_dir: Path                  # hidden/ for grading, tests/ of a student bundle for check

    def suite(self, exercise: str) -> Path:
        return self.suite_dir / f"test_{exercise}.py"


def read_exercises(course_file: Path) -> dict[str, Exercise]:
    try:
        data = tomllib.loads(course_file.read_text())
        raw = data["exercises"]
        return {eid: Exercise(eid, str(e.get("title", eid)), tuple(e["names"]), dict(e.get("forbidden", {})))
                for eid, e in raw.items()}
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError) as e:
        raise CourseError(f"cannot read {course_file}: {e}") from e


def instructor_course(root: str | os.PathLike | None = None) -> Course:
    """The instructor's course: explicit root, else $AUTOGRADER_COURSE, else the current folder if
    it is a course, else the checkout this package was installed from."""
    candidates = [root] if root else [os.environ.get("AUTOGRADER_COURSE"), os.getcwd(),
                                      Path(__file__).resolve().parent.parent]
    for c in candidates:
        if c and (Path(c) / "assignments" / COURSE_FILE).is_file() and (Path(c) / "hidden").is_dir():
            r = Path(c).resolve()
            return Course(r, read_exercises(r / "assignments" / COURSE_FILE), r / "hidden")
    if root:
        raise CourseError(f"--course {root} is not a course: a course holds assignments/course.toml and hidden/")
    raise CourseError("no course found: run from the course folder, pass --course DIR or set AUTOGRADER_COURSE "
                      "(a course holds assignments/course.toml and hidden/)")


def student_bundle(folder: str | os.PathLike) -> Course:
    """A student's copy of assignments/: course.toml and public tests in tests/."""
    r = Path(folder).resolve()
    if not r.is_dir():
        raise CourseError(f"{folder} is not a folder: give your copy of the assignments folder (or run "
                          "`autograder check` inside it)" if r.exists() else f"{folder} does not exist")
    if not (r / COURSE_FILE).is_file():
        raise CourseError(f"{r} has no {COURSE_FILE}: run `autograder check` in your copy of the assignments folder")
    return Course(r, read_exercises(r / COURSE_FILE), r / "tests")
