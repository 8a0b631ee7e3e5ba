"""A notebook becomes its code cells in order, without magics, shell lines or nbgrader tests; beside
a stub, the notebook a student worked in is the one graded."""

from __future__ import annotations

import copy
import json
import math
import types
import zipfile

import nbformat
import pytest

from autograder.cells import run_cells
from autograder.notebook import NotebookError, cell_of_line, notebook_to_source, read_notebook
from autograder import submission
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
        nbformat.v4.new_code_cell("%%timeit\nslow()"),                  # not run in the namespace: left out
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
    again = nbformat.v4.new_code_cell("x = 1", metadata=copy.deepcopy(answer.metadata))
    source = notebook_to_source(nb(answer, test, again))
    assert "assert False" not in source and source.count("x = 1") == 2


def test_a_function_defined_in_several_cells_is_the_last_ones_and_a_note_says_so(tmp_path):
    """A student who writes SGD in a new cell and leaves the stub's cell below it is graded on the
    stub, as when the notebook runs top to bottom; the note tells them why."""
    meta = {"nbgrader": {"grade": False, "solution": True, "locked": False, "grade_id": "sgd-minibatches"}}
    mine = nbformat.v4.new_code_cell("def minibatches():\n    return 1\n\nclass SGD:\n    pass")
    scratch = nbformat.v4.new_code_cell("print('trying')\ndef broken(:")
    stub = nbformat.v4.new_code_cell("def minibatches():\n    raise NotImplementedError", metadata=meta)
    copied = nbformat.v4.new_code_cell("def minibatches():\n    return 2", metadata=copy.deepcopy(meta))
    (tmp_path / "sgd.ipynb").write_text(nb(mine, scratch, stub, copied))
    sub = prepare_path(tmp_path / "sgd.ipynb", ["sgd"], tmp_path)
    assert sub.notes == ["sgd.ipynb: minibatches is defined in cells 1, 3 and 4; the notebook runs from top to "
                         "bottom, so the minibatches of cell 4 is graded",
                         "sgd.ipynb: cell 2 has a syntax error, so it was left out; the other cells were run"]



def _cells(*cells) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)})


def _code(source, metadata=None) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {} if metadata is None else metadata,
            "outputs": [], "execution_count": None}


@pytest.mark.parametrize("text", ["{ not json", "[]", '{"cells": 3}', "", _cells(_code(5)),
                                  _cells(_code(["x = 1", 7])), _cells("not a cell", _code("x = 1"))])
def test_invalid_notebooks_raise_a_clear_error(text):
    """Anything else that goes wrong reading a notebook stopped a whole class run."""
    with pytest.raises(NotebookError, match="not a valid notebook"):
        notebook_to_source(text)


def test_odd_nbgrader_metadata_is_tolerated():
    source = notebook_to_source(_cells(_code("x = 1", {"nbgrader": "oops"}), _code("y = 2", {"nbgrader": None})))
    assert "x = 1" in source and "y = 2" in source


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


def test_a_jupyter_duplicate_is_graded_as_a_copy_and_files_not_graded_are_named(tmp_path):
    """Jupyter's Duplicate names a copy ``sgd-Copy1.ipynb``: it is graded as sgd.ipynb, as ``losses
    (1).py`` is as losses.py, each with a note; a file that no exercise takes is named in a note."""
    solution = (ROOT / "solutions" / "sgd.py").read_text()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "sgd-Copy1.ipynb").write_text(nb(nbformat.v4.new_code_cell(solution)))
    (tmp_path / "work" / "losses (1).py").write_text((ROOT / "solutions" / "losses.py").read_text())
    (tmp_path / "work" / "helpers.py").write_text("x = 1\n")
    (tmp_path / "work" / "Untitled.ipynb").write_text(nb(nbformat.v4.new_code_cell("x = 1")))
    (tmp_path / "work" / "README.md").write_text("mine\n")                 # no one's code, nor the public tests:
    (tmp_path / "work" / "tests").mkdir()                                   # not named
    (tmp_path / "work" / "tests" / "test_sgd.py").write_text("")
    sub = prepare_path(tmp_path / "work", ["sgd"], tmp_path, siblings=["losses"])
    assert sub.found == {"sgd": "sgd-Copy1.ipynb"} and (sub.folder / "losses.py").is_file()
    assert sub.notes == ["sgd-Copy1.ipynb was graded as sgd.ipynb; name it so to be sure",
                         "Untitled.ipynb, helpers.py were not graded: only each exercise's own file is (sgd.py or "
                         "sgd.ipynb)"]


@pytest.mark.parametrize("as_zip", [False, True])
def test_a_virtualenv_and_the_public_tests_package_are_not_named_as_files_not_graded(tmp_path, as_zip):
    """A folder holding pyvenv.cfg (whatever its name), anything under site-packages, and the public
    tests' __init__.py and conftest.py are not the student's modules: not read, nor named."""
    work = tmp_path / "work"
    files = {"sgd.py": (ROOT / "solutions" / "sgd.py").read_text(), "helpers.py": "x = 1\n",
             "env/pyvenv.cfg": "home = /usr/bin\n", "env/bin/activate_this.py": "", "env/lib/sgd.py": "",
             "lib/python3.12/site-packages/pkg/mod.py": "", "tests/__init__.py": "", "tests/conftest.py": ""}
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    path = work
    if as_zip:
        path = tmp_path / "work.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for name, text in files.items():
                zf.writestr(f"work/{name}", text)
    sub = prepare_path(path, ["sgd"], tmp_path)
    assert sub.found == {"sgd": "work/sgd.py" if as_zip else "sgd.py"}
    helpers = "work/helpers.py" if as_zip else "helpers.py"
    assert sub.notes == [f"{helpers} was not graded: only each exercise's own file is (sgd.py or sgd.ipynb)"]


def test_outputs_are_left_out_before_the_size_cap_and_a_too_large_notebook_says_how_to_fix_it(tmp_path, monkeypatch):
    """A plot of 40 MB in a cell's output (and an attachment) is not graded and does not count
    against the 32 MiB cap on the cells; a file past the cap on the whole file says to clear the
    outputs; 33 MiB of code is still too large."""
    solution = nbformat.v4.new_code_cell((ROOT / "solutions" / "sgd.py").read_text())
    plot = nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBORw0KGgo" + "A" * (40 << 20)})])
    pasted = nbformat.v4.new_markdown_cell("![a.png](attachment:a.png)", attachments={
        "a.png": {"image/png": "A" * (1 << 20)}})
    for folder, cells in (("plots", [solution, plot, pasted]), ("code", [solution, nbformat.v4.new_code_cell(
            "#" * (33 << 20))])):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "sgd.ipynb").write_text(nb(*cells))
    sub = prepare_path(tmp_path / "plots", ["sgd"], tmp_path)
    assert sub.found == {"sgd": "sgd.ipynb"} and not sub.problems and "class SGD" in (sub.folder / "sgd.py").read_text()
    assert prepare_path(tmp_path / "code", ["sgd"], tmp_path).problems == {
        "sgd": "sgd.ipynb is larger than 32 MiB without its outputs"}
    monkeypatch.setattr(submission, "MAX_NOTEBOOK_BYTES", 40 << 20)
    assert prepare_path(tmp_path / "plots", ["sgd"], tmp_path).problems == {
        "sgd": "sgd.ipynb is larger than 40 MiB: clear its outputs (Kernel > Restart & Clear Output), save it and "
               "submit again"}


def test_each_line_of_the_module_is_told_as_its_cell_and_line():
    source = notebook_to_source(nb(
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("import torch\n%matplotlib inline\nx = 1"),
        nbformat.v4.new_code_cell("%%bash\necho skipped"),
        nbformat.v4.new_code_cell("from __future__ import annotations\ndef f():\n    return y"),
    ))
    lines = source.splitlines()
    assert cell_of_line(source, lines.index("x = 1") + 1) == (2, 3)          # the magic kept its line
    assert cell_of_line(source, lines.index("    return y") + 1) == (4, 3)   # the future import too
    assert cell_of_line(source, 1) is None


def test_a_students_comment_like_a_cell_marker_is_no_cell_boundary(grader, tmp_path):
    """Cells are found by a map the grader writes after the last cell, not by comments in them: a
    student's ``# cell 2`` line neither renumbers the cell that raised nor splits its cell, and the
    lines of a traceback are told in the right cell."""
    code = nbformat.v4.new_code_cell
    solution = (ROOT / "solutions" / "sgd.py").read_text()
    cells = [nbformat.v4.new_markdown_cell("# sgd"), code("import torch"), code(solution), code("# cell 1\nx = 1"),
             code("# cell 2\nx = 2\nraise ValueError('boom')\n# cell 9\ny = 3"),
             code("# notebook cells (cell@first line): 1@1\nz = 4")]
    source = notebook_to_source(nb(*cells))
    lines = source.splitlines()
    assert cell_of_line(source, lines.index("raise ValueError('boom')") + 1) == (5, 3)
    assert cell_of_line(source, lines.index("y = 3") + 1) == (5, 5)
    assert cell_of_line(source, lines.index("z = 4") + 1) == (6, 2)
    (tmp_path / "sgd.ipynb").write_text(nb(*cells))
    result = grader.grade(grader.prepare(tmp_path), ["sgd"])
    assert result.by_exercise() == {"sgd": (20.0, 20.0)}
    assert [note.split(";")[0] for note in result.notes] == ["sgd.ipynb, cell 5 raised ValueError: boom"]


def test_display_does_nothing_as_outside_a_notebook_nothing_is_shown(tmp_path):
    """IPython's builtin ``display()`` is there for a notebook's cells, as ``get_ipython()`` is."""
    module_file = tmp_path / "sgd.py"
    module_file.write_text(notebook_to_source(nb(nbformat.v4.new_code_cell("x = 1\ndisplay(x, raw=True)\ny = 2"))))
    module = types.ModuleType("sgd")
    assert run_cells(module, str(module_file), 5.0) == []
    assert (module.x, module.y) == (1, 2)


def test_feedback_names_the_notebook_cell_of_an_error_a_failed_import_and_a_forbidden_call(grader, tmp_path):
    code = nbformat.v4.new_code_cell
    books = {
        "masked_softmax": [code("import torch"), code("def sequence_mask(X, valid_len, value=0.0):\n"
                                                      "    return X[:, :, 0]")],
        "gradients": [nbformat.v4.new_markdown_cell("setup"), code("x = 1\nimport d2l")],
        "broadcasting": [code("import torch"), code("def broadcast_shape(*shapes):\n"
                                                    "    return tuple(torch.broadcast_shapes(*shapes))")],
    }
    for exercise, cells in books.items():
        (tmp_path / f"{exercise}.ipynb").write_text(nb(*cells))
    result = grader.grade_path(tmp_path)
    outputs = {ex: " ".join(t.output for t in result.tests if t.exercise == ex) for ex in books}
    assert "in masked_softmax.ipynb, in sequence_mask" in outputs["masked_softmax"]     # hidden: not its line
    assert "gradients.ipynb, cell 2 raised ModuleNotFoundError: No module named 'd2l'; the cells after it were " \
           "still run" in " ".join(result.notes)
    assert "`broadcast_shape` uses `torch.broadcast_shapes` (broadcasting.ipynb, cell 2, line 2)" \
        in outputs["broadcasting"]


def test_a_cell_that_fails_costs_only_what_it_defines_as_when_nbgrader_runs_the_notebook(grader, tmp_path):
    """A notebook's setup cell imports d2l (not on the grading machine), a scratch cell has a
    syntax error, a plotting cell raises: the solution's cells still run and get full marks."""
    code = nbformat.v4.new_code_cell
    solution = (ROOT / "solutions" / "sgd.py").read_text()
    cells = [code("from d2l import torch as d2l"), code("def broken(:\n    pass"), code("%%time\n" + solution),
             code("plt.plot(losses)"), code("get_ipython().run_line_magic('load_ext', 'autoreload')\nSGD?\n"
                                            "t = %timeit -o list(minibatches(torch.ones(4, 1), torch.ones(4), 2))"),
             code("import sys\nsys.exit()"), code("print('done')")]
    (tmp_path / "sgd.ipynb").write_text(nb(*cells))
    result = grader.grade(grader.prepare(tmp_path), ["sgd"])
    assert result.by_exercise() == {"sgd": (20.0, 20.0)}
    assert "sgd.ipynb: cell 2 has a syntax error, so it was left out; the other cells were run" in result.notes
    assert any(n.startswith("sgd.ipynb, cell 1 raised ModuleNotFoundError") for n in result.notes)
    assert any(n.startswith("sgd.ipynb, cell 4 raised NameError: name 'plt' is not defined") for n in result.notes)
    assert any(n.startswith("sgd.ipynb, cell 6 raised SystemExit") for n in result.notes)
    assert len(result.notes) == 4


def test_ipython_syntax_only_where_ipython_reads_it():
    """``%``, ``!`` and ``?`` are IPython's at the start of a statement only: inside brackets a line
    may start with an operator (black puts ``!=`` and ``%`` there)."""
    source = notebook_to_source(nb(nbformat.v4.new_code_cell(
        "%matplotlib inline\nok = (3\n      != 2)\nrest = (7\n        % 3)\nfiles = !ls\n%time twice = 2 * rest\nok?")))
    namespace = {}
    exec(compile(source, "nb", "exec"), namespace)
    assert (namespace["ok"], namespace["rest"], namespace["files"], namespace["twice"]) == (True, 1, None, 2)


def test_a_cell_that_runs_too_long_is_stopped_and_the_cells_after_it_still_run(grader, tmp_path, monkeypatch):
    """A training demo that would outlast the import deadline (one that swallows every Exception
    in its loop included) is stopped after the cell's time: the solution's cell below it still
    runs, for full marks, and a note says which cell was stopped and why. The result hung on
    time (it may differ under another load), so a class run neither caches nor keeps it as final."""
    monkeypatch.setattr(grader.timeouts, "cell", 1.0)
    code = nbformat.v4.new_code_cell
    solution = (ROOT / "solutions" / "sgd.py").read_text()
    demo = "import time\nfor epoch in range(10 ** 9):\n    try:\n        time.sleep(0.01)\n    except Exception:\n        pass"
    cells = [code("import torch"), code("while True:\n    pass"), code(demo), code(solution)]
    (tmp_path / "sgd.ipynb").write_text(nb(*cells))
    result = grader.grade(grader.prepare(tmp_path), ["sgd"])
    assert result.by_exercise() == {"sgd": (20.0, 20.0)} and result.unstable == ["sgd"]
    for cell in (2, 3):
        assert f"sgd.ipynb, cell {cell} ran for more than 1 s and was stopped (a long training run or demo belongs " \
               "outside the graded notebook); the cells after it were still run" in " ".join(result.notes)


def test_a_writefile_cell_is_not_run_and_a_note_says_so():
    source, notes = read_notebook(nb(nbformat.v4.new_code_cell("%%writefile sgd.py\nclass SGD:\n    pass"),
                                     nbformat.v4.new_code_cell("from sgd import *")))
    assert "class SGD" not in source
    assert notes == ["cell 1 is a %%writefile cell: the file it writes is not part of what is graded, so its code was "
                     "not run; put the code in a plain cell of the notebook"]


@pytest.mark.parametrize("odd", ["\u2028", "\u2029", "\x0c", "\x0b", "\x1c", "\x85"])
def test_lines_are_counted_as_python_counts_them(odd):
    """A comment or docstring may hold a character ``str.splitlines`` ends a line at and Python does
    not: the cell still runs, and each line is told where it is."""
    source, notes = read_notebook(nb(
        nbformat.v4.new_code_cell(f"import math  # see{odd}below"),
        nbformat.v4.new_code_cell(f'def f():\n    """Root.{odd}Of nine."""\n    raise ValueError\ng = math.sqrt(9.0)'),
    ))
    namespace = {}
    exec(compile(source, "nb", "exec"), namespace)
    assert notes == [] and namespace["g"] == 3.0
    with pytest.raises(ValueError) as raised:
        namespace["f"]()
    assert cell_of_line(source, raised.traceback[-1].lineno + 1) == (2, 3)


def test_a_from_future_import_moves_whole_and_only_as_a_statement():
    """Bracketed and continued future imports move whole; text in a string that reads like one stays
    where it is; a future import beside other code keeps that code in its cell."""
    source, notes = read_notebook(nb(
        nbformat.v4.new_code_cell('text = """Notes.\nfrom __future__ import annotations\n"""\nimport math'),
        nbformat.v4.new_code_cell("from __future__ import (\n    annotations,\n)\ndef f(x: Undefined):\n    return x"),
        nbformat.v4.new_code_cell("from __future__ import \\\n    generator_stop; g = f(math.pi)\n# end"),
    ))
    namespace = {}
    exec(compile(source, "nb", "exec"), namespace)
    assert notes == [] and namespace["g"] == math.pi and namespace["text"] == "Notes.\nfrom __future__ import annotations\n"
    lines = source.split("\n")
    assert lines[:4] == ["from __future__ import (", "    annotations,", ")", "from __future__ import \\"]
    assert cell_of_line(source, lines.index("    return x") + 1) == (2, 5)
    assert cell_of_line(source, lines.index("# end") + 1) == (3, 3)


def test_a_mistyped_future_feature_is_named_as_its_cells_syntax_error():
    """A future import naming no feature fails its own cell, as in IPython, not the whole module; one
    below other code in its cell still moves to the top."""
    source, notes = read_notebook(nb(
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("from __future__ import nested_scopez\nprint(1)"),
        nbformat.v4.new_code_cell("y = 2\nfrom __future__ import annotations"),
    ))
    assert notes == ["cell 2 has a syntax error, so it was left out; the other cells were run"]
    namespace = {}
    exec(compile(source, "nb", "exec"), namespace)
    assert (namespace["x"], namespace["y"]) == (1, 2)
