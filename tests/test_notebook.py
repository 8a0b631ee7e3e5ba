"""A notebook becomes its code cells in order, without magics, shell lines or nbgrader tests; beside
a stub, the notebook a student worked in is the one graded."""

from __future__ import annotations

import nbformat
import pytest

from autograder.notebook import NotebookError, notebook_to_source
from autograder.submission import prepare_path
from conftest import ROOT


def nb(*cells) -> str:
    book = nbformat.v4.new_notebook()
    book.cells = list(cells)
    return nbformat.writes(book)


def test_code_cells_in_order_without_magics():
    source = notebook_to_source(nb(
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("%matplotlib inline\nimport math"),
        nbformat.v4.new_code_cell("%%time\nslow()"),
        nbformat.v4.new_code_cell("def f(x):\n    !echo hi\n    return math.sqrt(x)"),
        nbformat.v4.new_code_cell("from __future__ import annotations\ng = f"),
    ))
    assert source.splitlines()[0] == "from __future__ import annotations"
    namespace = {}
    exec(compile(source, "nb", "exec"), namespace)
    assert namespace["g"](9.0) == 3.0 and "slow" not in source


def test_nbgrader_test_cells_are_left_out_and_solution_cells_kept():
    test = nbformat.v4.new_code_cell("assert False")
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 1}
    answer = nbformat.v4.new_code_cell("x = 1")
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False, "grade_id": "a"}
    source = notebook_to_source(nb(answer, test, answer))
    assert "assert False" not in source and source.count("x = 1") == 2


@pytest.mark.parametrize("text", ["{ not json", "[]", '{"cells": 3}', ""])
def test_invalid_notebooks_raise_a_clear_error(text):
    with pytest.raises(NotebookError, match="not a valid notebook"):
        notebook_to_source(text)


def test_the_file_that_implements_more_is_graded_when_a_py_and_a_notebook_stand_for_one_module(tmp_path):
    stub, solution = ((ROOT / d / "sgd.py").read_text() for d in ("assignments", "solutions"))
    for py, notebook, graded in ((stub, solution, "sgd.ipynb"), (solution, stub, "sgd.py"), (stub, stub, "sgd.py")):
        folder = tmp_path / f"sub{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        (folder / "sgd.py").write_text(py)
        (folder / "sgd.ipynb").write_text(nb(nbformat.v4.new_code_cell(notebook)))
        sub = prepare_path(folder, ["sgd"], tmp_path)
        assert sub.found["sgd"] == graded
        graded_source = (sub.folder / "sgd.py").read_text()
        assert ("raise NotImplementedError" in graded_source) == (py == notebook)   # the solution, unless none
        assert any("both sgd.py and sgd.ipynb" in note and f"graded {graded}" in note for note in sub.notes)
