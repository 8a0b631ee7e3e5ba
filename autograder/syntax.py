"""Parse untrusted Python source on the trusted side, where a crash would stop the grader."""

from __future__ import annotations

import ast


def parse_module(source: bytes | str) -> ast.Module | None:
    """The syntax tree of ``source``, or None if it does not parse: a syntax error, a null byte, or
    code nested deeply enough to exhaust the parser (which raises RecursionError or MemoryError,
    not SyntaxError: one hostile file must not stop a class run)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
