"""`autograder release`: the student bundle holds what a student needs and nothing hidden, and its
notebooks are graded exactly like the modules they were made from."""

from __future__ import annotations

import ast
import subprocess
import sys

import nbformat
import pytest

from autograder.notebook import notebook_to_source
from autograder.release import ReleaseError, release, stub_notebook
from conftest import EXERCISES, ROOT


def test_the_bundle_is_the_stubs_public_tests_and_course_file_and_nothing_else(course, tmp_path):
    out = tmp_path / "bundle"
    written = release(course, out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted(["course.toml"] + [f"{ex}.py" for ex in EXERCISES]
                           + [f"tests/test_{ex}.py" for ex in EXERCISES])
    assert sorted(written) == sorted(out / f for f in files)
    for f in files:
        assert (out / f).read_bytes() == (ROOT / "assignments" / f).read_bytes()
    with pytest.raises(ReleaseError, match="not an empty folder"):
        release(course, out)


def test_each_notebook_is_its_stub_cell_by_cell_with_nbgrader_ids(course, tmp_path):
    release(course, tmp_path / "bundle", notebooks=True)
    for ex, exercise in course.exercises.items():
        assert not (tmp_path / "bundle" / f"{ex}.py").exists()
        book = nbformat.read(tmp_path / "bundle" / f"{ex}.ipynb", as_version=4)
        nbformat.validate(book)
        assert book.cells[0].cell_type == "markdown" and exercise.title in book.cells[0].source
        stub = ast.parse((ROOT / "assignments" / f"{ex}.py").read_text())
        stub.body = stub.body[1:]                                 # the docstring became markdown
        assert ast.dump(ast.parse(notebook_to_source(nbformat.writes(book)))) == ast.dump(stub)
        ids = {c.metadata["nbgrader"]["grade_id"] for c in book.cells if "nbgrader" in c.metadata}
        assert {f"{ex}-{name}" for name in exercise.names} <= ids


def test_a_notebook_filled_in_gets_the_marks_of_the_module(grader, tmp_path):
    for kind, folder in (("stub", "assignments"), ("solution", "solutions")):
        source = (ROOT / folder / "masked_softmax.py").read_text()
        sub = tmp_path / kind
        sub.mkdir()
        nbformat.write(stub_notebook(source, "masked_softmax", "Masked softmax"), sub / "masked_softmax.ipynb")
        score, possible = grader.grade_path(sub).by_exercise()["masked_softmax"]
        assert score == (possible if kind == "solution" else 0), kind


def test_release_then_check_from_the_command_line(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                              cwd=ROOT, timeout=600)

    proc = run("release", "--out", str(tmp_path / "b"), "--notebooks")
    assert proc.returncode == 0 and "notebooks" in proc.stdout, proc.stderr
    proc = run("check", str(tmp_path / "b"), "--only", "masked_softmax")
    assert proc.returncode == 1 and "not implemented yet" in proc.stdout
    proc = run("release", "--out", str(tmp_path / "b"))
    assert proc.returncode == 2 and "not an empty folder" in proc.stderr
