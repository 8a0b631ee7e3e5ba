"""`autograder release`: the student bundle, made from the course's assignments/ folder.

The bundle holds ``course.toml``, the public tests (``tests/``) and one file per exercise: the
stub itself, or with ``notebooks`` a Jupyter notebook made from it: the module docstring as a
markdown cell, the imports and constants as one code cell, and each top-level function or class
as a code cell of its own (marked as an nbgrader solution cell, ``grade_id`` ``<exercise>-<name>``).
Its code cells, in order, are the stub again, so a notebook is graded exactly like the module.
Nothing of hidden/, solutions/ or reference/ is ever copied.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import nbformat

from autograder.course import COURSE_FILE, Course


class ReleaseError(Exception):
    """The bundle cannot be written."""


def release(course: Course, out: Path, notebooks: bool = False) -> list[Path]:
    """Write the student bundle of ``course`` into ``out`` (a new or empty folder); the files written."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ReleaseError(f"{out} is not an empty folder; give a new one for the bundle")
    try:
        return _write_bundle(course.root / "assignments", course, out, notebooks)
    except OSError as e:
        raise ReleaseError(f"cannot write the bundle: {e}") from None


def _write_bundle(source: Path, course: Course, out: Path, notebooks: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "tests").mkdir()
    written = [out / COURSE_FILE]
    shutil.copyfile(source / COURSE_FILE, written[0])
    for exercise in course.exercises.values():
        stub = (source / exercise.module_file).read_text()
        if notebooks:
            target = out / f"{exercise.id}.ipynb"
            nbformat.write(stub_notebook(stub, exercise.id, exercise.title), target)
        else:
            target = out / exercise.module_file
            target.write_text(stub)
        test = source / "tests" / f"test_{exercise.id}.py"
        shutil.copyfile(test, out / "tests" / test.name)
        written += [target, out / "tests" / test.name]
    return written


def stub_notebook(source: str, exercise: str, title: str) -> nbformat.NotebookNode:
    """A notebook whose code cells, in order, are ``source`` (a stub module) without its docstring."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    doc = ast.get_docstring(tree, clean=True)
    body = tree.body[1:] if doc is not None else list(tree.body)
    starts = [_first_line(lines, stmt) for stmt in body] + [len(lines)]
    if body:
        starts[0] = tree.body[0].end_lineno if doc is not None else 0     # nothing before is lost
    cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n{doc or ''}".rstrip())]
    preamble = []
    for stmt, begin, end in zip(body, starts, starts[1:]):
        text = "".join(lines[begin:end]).strip("\n")
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            preamble.append(text)                    # imports and constants: one cell before the next def
            continue
        if preamble:
            cells.append(nbformat.v4.new_code_cell("\n\n".join(preamble)))
            preamble = []
        cell = nbformat.v4.new_code_cell(text)
        cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                     "grade_id": f"{exercise}-{stmt.name}", "schema_version": 3}
        cells.append(cell)
    if preamble:
        cells.append(nbformat.v4.new_code_cell("\n\n".join(preamble)))
    cells.append(nbformat.v4.new_markdown_cell(
        "Fill in every function above, then run `autograder check` in this folder: the public tests say "
        "what passes and, for what does not, why."))
    book = nbformat.v4.new_notebook(cells=cells)
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return book


def _first_line(lines: list[str], stmt: ast.stmt) -> int:
    """Index of the first line of ``stmt``: its decorators, and the comment lines right above."""
    first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])]) - 1
    while first > 0 and lines[first - 1].lstrip().startswith("#"):
        first -= 1
    return first
