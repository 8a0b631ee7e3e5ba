"""How a notebook's cells are found in the module made from it, and how that module runs.

:mod:`autograder.notebook` (on the trusted side) writes the code cells one after another and, as
the module's last line, a map of the line where each cell starts (:func:`cell_map_line`): a line
of a student's cell, ``# cell 2`` included, can never be taken for a cell boundary. The worker
runs such a module cell by cell, as nbgrader runs a notebook (``allow_errors``): a cell that
raises, or runs past its time (a training demo), is noted and stopped, and the cells after it
still run. This module imports no third-party package, so the worker can use it cheaply.
"""

from __future__ import annotations

import __future__
import ast
import bisect
import re
import signal
import types

from autograder.text import exception_message

CELL_MAP = "# notebook cells (cell@first line): "
CELL_START = re.compile(r"(\d+)@(\d+)")
MAX_CELL_ERRORS = 20
TOO_LONG = "CellTooLong"       # the type named in the note of a cell stopped for its time


class CellTooLong(BaseException):
    """Raised in a cell that runs past its time: a BaseException, so a student's ``except
    Exception`` inside a training loop does not swallow it (the alarm fires again if it is)."""


def _too_long(signum, frame):
    raise CellTooLong


def python_lines(source: str) -> list[str]:
    """The lines of ``source`` as Python numbers them: ``\\n``, ``\\r\\n`` and ``\\r`` end a line, and
    no other character does (``str.splitlines`` also splits on ``\\u2028``, ``\\x0c``, ``\\x1c`` ...,
    which a comment or a string may hold); no line after a final line end."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def cell_map_line(starts: list[tuple[int, int]]) -> str:
    """The last line of a module made from a notebook: ``(cell number, line of the module where
    the cell's code starts)`` for each cell, in order."""
    return CELL_MAP + " ".join(f"{cell}@{line}" for cell, line in starts)


def cell_starts(source: str) -> list[tuple[int, int]]:
    """``(line where a cell starts, cell number)`` in order, read from the map on the module's last
    line (the grader's own: no student line comes after it); [] if there is none."""
    last = source.rstrip("\n").rpartition("\n")[2]
    if not last.startswith(CELL_MAP):
        return []
    return sorted((int(line), int(cell)) for cell, line in CELL_START.findall(last[len(CELL_MAP):]))


def cell_statements(source: str, tree: ast.Module) -> list[tuple[int, list[ast.stmt]]]:
    """``(cell number, its top-level statements)`` in order; statements before the first
    cell (the ``from __future__`` imports moved to the top) are cell 0."""
    markers = cell_starts(source)
    marker_lines = [line for line, _ in markers]
    cells: list[tuple[int, list[ast.stmt]]] = []
    for stmt in tree.body:
        i = bisect.bisect_right(marker_lines, stmt.lineno) - 1
        cell = markers[i][1] if i >= 0 else 0
        if not cells or cells[-1][0] != cell:
            cells.append((cell, []))
        cells[-1][1].append(stmt)
    return cells


def run_cells(module: types.ModuleType, path: str, seconds: float) -> list[dict]:
    """Run the module at ``path`` (made from a notebook) in ``module``'s namespace one cell at a
    time, with the file's own line numbers; returns ``{"cell", "type", "message"}`` for each cell
    that raised, as IPython reports it and goes on (``sys.exit()`` included; KeyboardInterrupt
    still stops the import), and for each cell stopped after running ``seconds`` (type
    :data:`TOO_LONG`). ``get_ipython()`` is there, doing nothing (exported notebooks call it for
    their magics), and so is ``display()`` (IPython's builtin for showing a value). A file that
    does not compile raises SyntaxError, as an import would."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    tree = ast.parse(source, path)
    future = [a.name for stmt in tree.body if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
              for a in stmt.names]
    flags = sum(getattr(__future__, name).compiler_flag for name in future if hasattr(__future__, name))
    errors = []
    module.__dict__.setdefault("get_ipython", _NoIPython)
    module.__dict__.setdefault("display", _no_display)
    previous = signal.signal(signal.SIGALRM, _too_long)
    try:
        for cell, stmts in cell_statements(source, tree):
            try:
                code = compile(ast.Module(body=stmts, type_ignores=[]), path, "exec", flags=flags, dont_inherit=True)
                signal.setitimer(signal.ITIMER_REAL, seconds, 0.1)
                try:
                    exec(code, module.__dict__)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except CellTooLong:
                error = {"cell": cell, "type": TOO_LONG, "message": f"{seconds:g} s"}
            except (Exception, SystemExit) as e:  # noqa: BLE001 - the student's cell failed: noted, the next cells run
                error = {"cell": cell, "type": type(e).__name__, "message": exception_message(e, 300)}
            else:
                continue
            if len(errors) < MAX_CELL_ERRORS:
                errors.append(error)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return errors


def _no_display(*objs, **kwargs) -> None:
    """IPython's ``display()`` outside IPython: nothing is shown."""


class _NoIPython:
    """``get_ipython()`` outside IPython: every magic and shell call does nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None
