"""The hidden suites judge right: solutions and the reference get full marks, the stubs get 0,
every planted bug loses points in its own exercise only, and every other correct way of writing
an exercise gets full marks.

All of them are graded as one class (one batch, both cores), then checked student by student.
"""

from __future__ import annotations

import shutil

import pytest

from autograder.batch import grade_class
from autograder.client import Timeouts
from autograder.exports import grade_result
from autograder.gradebook import Gradebook
from autograder.grading import Grader
from conftest import EXERCISES, ROOT

from mutation import correct_variants, planted_bugs

MUTANTS = planted_bugs()
VARIANTS = correct_variants()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, course):
    """student id -> {exercise: (score, max)} for the whole corpus."""
    cls = tmp_path_factory.mktemp("class")
    shutil.copytree(ROOT / "solutions", cls / "solutions")
    shutil.copytree(ROOT / "assignments", cls / "stubs")
    for mutant in MUTANTS:
        folder = cls / f"mutant-{mutant.exercise}-{mutant.name}"
        shutil.copytree(ROOT / "solutions", folder)
        (folder / f"{mutant.exercise}.py").write_text(mutant.source())
    for variant in VARIANTS:
        folder = cls / f"variant-{variant.exercise}-{variant.name}"
        shutil.copytree(ROOT / "solutions", folder)
        (folder / f"{variant.exercise}.py").write_text(variant.source())
    out = tmp_path_factory.mktemp("out")
    summary, _ = grade_class([cls], course, out, jobs=2, timeouts=Timeouts(call=10.0, start=20.0))
    assert summary.failed == []
    with Gradebook(out / "gradebook.sqlite") as gb:
        return {g.student: grade_result(g, EXERCISES).by_exercise() for g in gb.current()}


def full(scores) -> bool:
    return all(s == m and m > 0 for s, m in scores.values())


def test_every_exercise_has_a_suite_of_twenty_points(graded):
    assert set(graded["solutions"]) == set(EXERCISES)
    assert all(m == 20 for _, m in graded["solutions"].values())


def test_solutions_get_full_marks(graded):
    assert full(graded["solutions"]), graded["solutions"]


def test_reference_as_a_submission_gets_full_marks(course):
    """The reference is built on the calls students may not use, so only the numbers are judged."""
    with Grader(course, timeouts=Timeouts(call=10.0, start=20.0), check_forbidden=False) as grader:
        scores = grader.grade_path(ROOT / "reference").by_exercise()
    assert full(scores), scores


def test_reference_loses_points_where_it_uses_forbidden_calls(grader):
    scores = grader.grade_path(ROOT / "reference").by_exercise()
    assert scores["broadcasting"][0] < scores["broadcasting"][1]


def test_stubs_get_zero(graded):
    assert all(s == 0 for s, _ in graded["stubs"].values()), graded["stubs"]


def test_there_are_enough_planted_bugs():
    for ex in EXERCISES:
        assert len(planted_bugs(ex)) >= 4, ex


@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m.exercise}/{m.name}" for m in MUTANTS])
def test_planted_bug_loses_points_in_its_exercise_only(graded, mutant):
    scores = graded[f"mutant-{mutant.exercise}-{mutant.name}"]
    assert scores[mutant.exercise][0] < scores[mutant.exercise][1], f"not caught: {mutant.description}"
    others = {ex: v for ex, v in scores.items() if ex != mutant.exercise}
    assert full(others), f"{mutant.name} changed other exercises: {others}"


@pytest.mark.parametrize("variant", VARIANTS, ids=[f"{v.exercise}/{v.name}" for v in VARIANTS])
def test_correct_variant_gets_full_marks(graded, variant):
    scores = graded[f"variant-{variant.exercise}-{variant.name}"]
    assert full(scores), scores
