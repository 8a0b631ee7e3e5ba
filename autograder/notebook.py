"""Turn a student notebook into module source: its code cells, in order, without magics."""

from __future__ import annotations

import ast
import bisect
import io
import json
import re
import tokenize
import warnings
from dataclasses import dataclass

import nbformat

from autograder.cells import cell_map_line, cell_starts, python_lines
from autograder.syntax import parse_module

MAX_WITHOUT_OUTPUTS = 32 << 20     # a notebook's cells, outputs left out (the file itself: submission.py)
SHELL_PREFIXES = ("%", "!", "?")
NAMESPACE_CELL_MAGICS = ("%%time", "%%capture")     # they run their body in the notebook's namespace
ASSIGNED_MAGIC = re.compile(r"([\w.]+(?:\s*,\s*[\w.]+)*\s*=\s*)[%!]")   # files = !ls, t = %timeit -o f()
HELP_REQUEST = re.compile(r"[\w.]+\?{1,2}")                              # SGD? shows help


class NotebookError(Exception):
    """The file is not a readable notebook."""


def without_outputs(text: str) -> str:
    """A notebook's JSON with the cells' outputs and attachments left out (plots and images are
    not graded, and are most of a large notebook); the text unchanged if it is not a notebook's
    JSON (nbformat then says what is wrong)."""
    try:
        book = json.loads(text)
    except (ValueError, RecursionError):
        return text
    if not isinstance(book, dict):
        return text
    sheets = book.get("worksheets")                      # nbformat 3 keeps its cells in worksheets
    for holder in [book, *(sheets if isinstance(sheets, list) else [])]:
        cells = holder.get("cells") if isinstance(holder, dict) else None
        for cell in cells if isinstance(cells, list) else []:
            if isinstance(cell, dict):
                if "outputs" in cell:
                    cell["outputs"] = []
                cell.pop("attachments", None)
    try:
        return json.dumps(book)
    except RecursionError:
        return text


def is_nbgrader_test_cell(cell) -> bool:
    """nbgrader's autograder-test cells (graded, not a solution) hold the course's own asserts."""
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return isinstance(meta, dict) and bool(meta.get("grade")) and not meta.get("solution")


def _top_level_definitions(tree: ast.Module) -> list[str]:
    """Names of the functions and classes a cell defines at its top level."""
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return list(dict.fromkeys(node.name for node in tree.body if isinstance(node, defs)))


def _without_shell_line(line: str) -> str:
    """A magic, shell or help line (``SGD?``) becomes ``pass`` at the same indentation (blocks stay
    valid); ``%time statement`` becomes the statement, which IPython runs; ``x = !ls`` becomes
    ``x = None``."""
    code = line.lstrip()
    indent = line[: len(line) - len(code)]
    if code.startswith("%time "):
        return indent + code[len("%time "):]
    assigned = ASSIGNED_MAGIC.match(code)
    if assigned:
        return indent + assigned.group(1) + "None"
    return indent + "pass" if code.startswith(SHELL_PREFIXES) or HELP_REQUEST.fullmatch(code.rstrip()) else line


def _logical_line_starts(code: str) -> set[int] | None:
    """Numbers of the lines that start a statement: only there is ``%``, ``!`` or ``?`` IPython's
    (inside brackets, ``!= 0`` and ``% n`` are operators). None if the cell cannot be tokenized."""
    starts, depth, at_start = set(), 0, True
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in (tokenize.NEWLINE, tokenize.NL):
                at_start = depth == 0
            elif tok.type not in (tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT, tokenize.ENDMARKER):
                if at_start:
                    starts.add(tok.start[0])
                at_start = False
                if tok.type == tokenize.OP and tok.string in ("(", "[", "{"):
                    depth += 1
                elif tok.type == tokenize.OP and tok.string in (")", "]", "}"):
                    depth = max(depth - 1, 0)
    except Exception:  # noqa: BLE001 - TokenError, SyntaxError, or worse on hostile text: read it line by line
        return None
    return starts


def _cell_python(source: str) -> tuple[str, ast.Module | None] | None:
    """``(code, its syntax tree or None)``: the Python a code cell runs, each line where it was;
    None for a cell magic whose body is not Python run in the notebook (``%%bash``,
    ``%%timeit``, ``%%writefile``)."""
    lines = python_lines(source)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        if lines[first].split()[0] not in NAMESPACE_CELL_MAGICS:
            return None
        lines[first] = ""
    code = "\n".join(lines)
    tree = parse_module(code)
    if tree is not None:
        return code, tree                 # plain Python, operators at line starts included
    starts = _logical_line_starts(code)
    code = "\n".join(_without_shell_line(line) if starts is None or n in starts else line
                     for n, line in enumerate(lines, 1))
    return code, parse_module(code)


def _future_imports_compile(tree: ast.Module) -> bool:
    """Whether a cell's ``from __future__`` imports compile: one naming no feature (a typo) parses,
    but does not compile, and would stop the whole module once moved to its top."""
    future = [stmt for stmt in tree.body if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"]
    try:
        compile(ast.Module(body=future, type_ignores=[]), "<cell>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _without_future_imports(lines: list[str], tree: ast.Module) -> tuple[list[str], list[str]]:
    """``(the cell's lines, its from __future__ import statements)``: each statement whole, however
    many lines it spans (brackets, backslashes), taken out of the lines (which keep their number;
    ``pass`` stands in where another statement shares its line)."""
    lines, moved = list(lines), []
    for stmt in tree.body:
        if not (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"):
            continue
        first, last = stmt.lineno - 1, stmt.end_lineno - 1
        start = len(lines[first].encode()[:stmt.col_offset].decode())       # offsets are in UTF-8 bytes
        end = len(lines[last].encode()[:stmt.end_col_offset].decode())
        before, after = lines[first][:start], lines[last][end:]
        statement = lines[first:last + 1]
        statement[-1] = statement[-1][:end]
        statement[0] = statement[0][start:]
        moved.append("\n".join(statement))
        lines[first:last + 1] = [before + ("pass" + after if after.strip() else "")] + [""] * (last - first)
    return lines, moved


def notebook_to_source(text: str) -> str:
    """The module source of a notebook (see :func:`read_notebook`)."""
    return read_notebook(text)[0]


def read_notebook(text: str) -> tuple[str, list[str]]:
    """``(source, notes)``: the code cells joined in order, IPython magics, shell lines and
    nbgrader test cells left out; and what the student should know about the cells: a function
    or class defined in more than one cell (a copied cell, or a stub cell left below the cell
    the student worked in) is the last cell's, as when the notebook runs from top to bottom; a
    ``%%writefile`` cell's code is not run; a cell with a syntax error is left out, and the
    others still run (the worker runs the module cell by cell, as nbgrader runs a notebook:
    :func:`autograder.cells.run_cells`). Outputs are left out first (:func:`without_outputs`); what
    is left may hold :data:`MAX_WITHOUT_OUTPUTS` characters.

    Each cell's code keeps its own line numbering (a magic or shell line becomes ``pass``), and the
    module's last line maps each cell (numbered as in the notebook, from 1) to the line where it
    starts, so a line of the module can be told as a cell and a line of it (:func:`cell_of_line`);
    no text in a cell can forge that map. ``from __future__`` import statements
    move to the top, where a module needs them (IPython compiles each cell on its own, so a
    notebook may have them in any cell), leaving blank lines behind; a cell whose future import
    names no feature (a typo) is left out as a syntax error.
    """
    text = without_outputs(text)
    if len(text) > MAX_WITHOUT_OUTPUTS:
        raise NotebookError(f"larger than {MAX_WITHOUT_OUTPUTS >> 20} MiB without its outputs")
    try:
        with warnings.catch_warnings():          # duplicated cell ids etc.: tolerated, not news
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
    except Exception as e:  # noqa: BLE001 - nbformat raises many kinds on bad input
        raise NotebookError(f"not a valid notebook ({type(e).__name__}: {str(e)[:200]})") from e
    cells = nb.get("cells", [])
    if not isinstance(cells, list):
        raise NotebookError("not a valid notebook (its cells are not a list)")
    chunks, defined_in, broken, written, future = [], {}, [], [], []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or is_nbgrader_test_cell(cell):
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f"not a valid notebook (the source of cell {number} is not text)")
        python = _cell_python(source)
        if python is None:
            if source.lstrip().startswith("%%writefile"):
                written.append(number)
            continue
        code, tree = python
        if tree is None or not _future_imports_compile(tree):
            broken.append(number)
            continue
        for name in _top_level_definitions(tree):
            defined_in.setdefault(name, []).append(number)
        lines, moved = _without_future_imports(code.split("\n"), tree)
        future += moved
        chunks.append((number, lines))
    body, starts = [], []
    for number, lines in chunks:
        body.append("")                               # a blank line before each cell
        starts.append((number, len(body)))            # the cell's index in body, from 0
        body += lines
    future = "\n".join(dict.fromkeys(future)).split("\n") if future else []
    cell_map = cell_map_line([(number, len(future) + index + 1) for number, index in starts])
    notes = [f"{name} is defined in cells {', '.join(map(str, numbers[:-1]))} and {numbers[-1]}; the notebook "
             f"runs from top to bottom, so the {name} of cell {numbers[-1]} is graded"
             for name, numbers in defined_in.items() if len(numbers) > 1]
    notes += [f"cell {number} has a syntax error, so it was left out; the other cells were run"
              for number in broken]
    notes += [f"cell {number} is a %%writefile cell: the file it writes is not part of what is graded, so its "
              "code was not run; put the code in a plain cell of the notebook" for number in written]
    return "\n".join(future + body + [cell_map]) + "\n", notes


def cell_of_line(source: str, line: int) -> tuple[int, int] | None:
    """(cell number, line within the cell, from 1) of line ``line`` (from 1) of a module made by
    :func:`notebook_to_source`; None for a line before the first cell or past the last one's."""
    starts = cell_starts(source)
    i = bisect.bisect_right([start for start, _ in starts], line) - 1
    if i < 0 or line >= source.count("\n"):                  # the map's own line is no cell's
        return None
    start, cell = starts[i]
    return cell, line - start + 1


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
