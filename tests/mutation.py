"""Planted bugs and correct variants, near-copies of the instructor's solution stored as diffs.

``tests/mutants/<exercise>/<name>.diff`` starts with ``#`` lines saying what the bug is, then a
unified diff of ``solutions/<exercise>.py``. :func:`planted_bugs` lists them; ``Mutant.source()``
is the buggy module, rebuilt by applying the diff (it fails loudly if the solution has moved on
so far that a hunk no longer applies).

``tests/variants/<exercise>/`` holds correct ways to write an exercise: a whole module
(``<name>.py``), or a diff of the solution in the same form (``<name>.diff``) for one that
differs from it in a few lines. :func:`correct_variants` lists both.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class Mutant:
    """A planted bug or a correct variant of ``exercise``'s solution."""

    exercise: str
    name: str
    path: Path

    @property
    def description(self) -> str:
        return " ".join(line[1:].strip() for line in self.path.read_text().splitlines() if line.startswith("#"))

    def source(self) -> str:
        if self.path.suffix == ".py":             # a correct variant written out whole
            return self.path.read_text()
        solution = (ROOT / "solutions" / f"{self.exercise}.py").read_text()
        return apply_diff(solution, self.path.read_text())


def planted_bugs(exercise: str | None = None) -> list[Mutant]:
    return _edits("mutants", exercise, ("*.diff",))


def correct_variants(exercise: str | None = None) -> list[Mutant]:
    return _edits("variants", exercise, ("*.py", "*.diff"))


def _edits(folder: str, exercise: str | None, patterns) -> list[Mutant]:
    paths = [p for pattern in patterns for p in (ROOT / "tests" / folder).glob(f"{exercise or '*'}/{pattern}")]
    return [Mutant(p.parent.name, p.stem, p) for p in sorted(paths)]


def make_diff(solution: str, mutant: str, exercise: str, description: str) -> str:
    header = "".join(f"# {line}\n" for line in description.splitlines() if line.strip())
    body = difflib.unified_diff(solution.splitlines(keepends=True), mutant.splitlines(keepends=True),
                                f"a/solutions/{exercise}.py", f"b/solutions/{exercise}.py", n=2)
    return header + "".join(body)


def apply_diff(source: str, diff: str) -> str:
    """Apply a unified diff whose hunks match ``source`` exactly (no fuzz)."""
    lines = source.splitlines(keepends=True)
    out, pos = [], 0
    diff_lines = diff.splitlines(keepends=True)
    i = 0
    while i < len(diff_lines):
        m = HUNK.match(diff_lines[i])
        i += 1
        if not m:
            continue
        start = int(m.group(1)) - (0 if m.group(2) == "0" else 1)
        old, new = [], []
        while i < len(diff_lines) and not diff_lines[i].startswith("@@"):
            tag, text = diff_lines[i][:1], diff_lines[i][1:]
            if tag in (" ", "-"):
                old.append(text)
            if tag in (" ", "+"):
                new.append(text)
            if tag == "\\":                     # "\ No newline at end of file"
                (new if diff_lines[i - 1].startswith("+") else old)[-1] = \
                    (new if diff_lines[i - 1].startswith("+") else old)[-1].rstrip("\n")
            i += 1
        if lines[start:start + len(old)] != old:
            raise ValueError(f"a hunk at line {start + 1} no longer matches the solution")
        out += lines[pos:start] + new
        pos = start + len(old)
    return "".join(out + lines[pos:])


if __name__ == "__main__":
    import sys

    args = [a for a in sys.argv[1:] if a != "--variant"]
    if len(args) != 4:
        raise SystemExit("usage: python tests/mutation.py [--variant] EXERCISE NAME MODULE_FILE DESCRIPTION")
    exercise, name, buggy, description = args
    solution = (ROOT / "solutions" / f"{exercise}.py").read_text()
    folder = "variants" if "--variant" in sys.argv else "mutants"
    target = ROOT / "tests" / folder / exercise / f"{name}.diff"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(make_diff(solution, Path(buggy).read_text(), exercise, description))
    print(f"wrote {target}")
