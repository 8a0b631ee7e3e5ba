"""Turn a student notebook into module source: its code cells, in order, without magics."""

from __future__ import annotations

import warnings

import nbformat

SHELL_PREFIXES = ("%", "!", "?")


class NotebookError(Exception):
    """The file is not a readable notebook."""


def is_nbgrader_test_cell(cell) -> bool:
    """nbgrader's autograder-test cells (graded, not a solution) hold the course's own asserts."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def _without_shell_line(line: str) -> str:
    """A magic or shell line becomes ``pass`` at the same indentation (blocks stay valid)."""
    code = line.lstrip()
    return line[: len(line) - len(code)] + "pass" if code.startswith(SHELL_PREFIXES) else line


def notebook_to_source(text: str) -> str:
    """Code cells joined in order; IPython magics, shell lines and nbgrader test cells left out.

    ``from __future__`` imports move to the top, where a module needs them (IPython compiles
    each cell on its own, so a notebook may have them in any cell).
    """
    try:
        with warnings.catch_warnings():          # duplicated cell ids etc.: tolerated, not news
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
    except Exception as e:  # noqa: BLE001 - nbformat raises many kinds on bad input
        raise NotebookError(f"not a valid notebook ({type(e).__name__}: {str(e)[:200]})") from e
    chunks = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code" or is_nbgrader_test_cell(cell):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        if source.lstrip().startswith("%%"):
            continue
        chunks.append("\n".join(_without_shell_line(line) for line in source.splitlines()))
    body = "\n\n".join(chunks).splitlines()
    future = list(dict.fromkeys(line for line in body if line.startswith("from __future__ import")))
    rest = [line for line in body if not line.startswith("from __future__ import")]
    return "\n".join(future + rest) + "\n"
