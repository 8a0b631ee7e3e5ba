"""Turn a student notebook into module source: its code cells, in order, without magics."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import nbformat

from autograder.text import plain_text

SHELL_PREFIXES = ("%", "!", "?")
CELL_MARKER = "# cell {}"
CELL_LINE = re.compile(r"# cell (\d+)")


class NotebookError(Exception):
    """The file is not a readable notebook."""


def _nbgrader_metadata(cell) -> dict:
    """The cell's nbgrader metadata ({} if it has none, or not as a dict)."""
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def is_nbgrader_test_cell(cell) -> bool:
    """nbgrader's autograder-test cells (graded, not a solution) hold the course's own asserts."""
    meta = _nbgrader_metadata(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def solution_grade_id(cell) -> str | None:
    """The ``grade_id`` of an nbgrader solution cell; None for any other cell."""
    meta = _nbgrader_metadata(cell)
    if meta.get("solution") and isinstance(meta.get("grade_id"), str):
        return plain_text(meta["grade_id"][:100])
    return None


def _without_shell_line(line: str) -> str:
    """A magic or shell line becomes ``pass`` at the same indentation (blocks stay valid)."""
    code = line.lstrip()
    return line[: len(line) - len(code)] + "pass" if code.startswith(SHELL_PREFIXES) else line


def notebook_to_source(text: str) -> str:
    """The module source of a notebook (see :func:`read_notebook`)."""
    return read_notebook(text)[0]


def read_notebook(text: str) -> tuple[str, list[str]]:
    """``(source, notes)``: the code cells joined in order, IPython magics, shell lines and
    nbgrader test cells left out; and what the student should know about the cells (an nbgrader
    solution cell that appears more than once: each copy runs, so the last one's code counts).

    Each cell's code follows a ``# cell N`` line (N counts every cell of the notebook, from 1), and
    keeps its own line numbering (a magic or shell line becomes ``pass``), so a line of the module
    can be told as a cell and a line of it (:func:`cell_of_line`). ``from __future__`` imports
    move to the top, where a module needs them (IPython compiles each cell on its own, so a
    notebook may have them in any cell), leaving a blank line behind.
    """
    try:
        with warnings.catch_warnings():          # duplicated cell ids etc.: tolerated, not news
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
    except Exception as e:  # noqa: BLE001 - nbformat raises many kinds on bad input
        raise NotebookError(f"not a valid notebook ({type(e).__name__}: {str(e)[:200]})") from e
    cells = nb.get("cells", [])
    if not isinstance(cells, list):
        raise NotebookError("not a valid notebook (its cells are not a list)")
    chunks, solution_cells = [], {}
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or is_nbgrader_test_cell(cell):
            continue
        grade_id = solution_grade_id(cell)
        if grade_id is not None:
            solution_cells.setdefault(grade_id, []).append(number)
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f"not a valid notebook (the source of cell {number} is not text)")
        if source.lstrip().startswith("%%"):
            continue
        chunks.append(CELL_MARKER.format(number) + "\n"
                      + "\n".join(_without_shell_line(line) for line in source.splitlines()))
    body = "\n\n".join(chunks).splitlines()
    future = list(dict.fromkeys(line for line in body if line.startswith("from __future__ import")))
    rest = ["" if line.startswith("from __future__ import") else line for line in body]
    notes = [f"the solution cell {grade_id!r} is in the notebook {len(numbers)} times (cells "
             f"{', '.join(map(str, numbers))}); the copies run in order, so cell {numbers[-1]} is what counts"
             for grade_id, numbers in solution_cells.items() if len(numbers) > 1]
    return "\n".join(future + rest) + "\n", notes


def cell_of_line(source: str, line: int) -> tuple[int, int] | None:
    """(cell number, line within the cell) of line ``line`` (from 1) of a module made by
    :func:`notebook_to_source`; None for a line before the first cell."""
    lines = source.splitlines()
    for i in range(min(line, len(lines) + 1) - 2, -1, -1):
        match = CELL_LINE.fullmatch(lines[i])
        if match:
            return int(match.group(1)), line - 1 - i
    return None


@dataclass(frozen=True)
class NotebookModule:
    """A module made by :func:`notebook_to_source`, and how to name its places to the student."""

    notebook: str          # the notebook's file name, as the student knows it
    module_file: str       # the module's file name, as tracebacks give it
    source: str            # the module's source

    def locate(self, file: str, line: int) -> str | None:
        """A line of the module as "notebook, cell N, line M"; None for any other place."""
        cell = cell_of_line(self.source, line) if file == self.module_file else None
        return f"{self.notebook}, cell {cell[0]}, line {cell[1]}" if cell else None
