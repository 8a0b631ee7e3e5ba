"""How many generated wrong implementations each hidden suite catches (its mutation score).

    python benchmarks/mutation_score.py [EXERCISE ...] [--show-survivors]

Each mutant is the instructor's solution with one small change, the kind mutmut makes: an
operator or comparison swapped, a constant moved, a condition or keyword argument dropped, a
method swapped for its sibling (``sum``/``mean``, ``reshape``/``view``), a statement deleted.
Every mutant is graded by the hidden suite like a submission (isolated workers, one pytest
session per exercise); it is *killed* when it loses points.

A survivor is either a hole in the suite or an equivalent mutant (same behaviour on every input
the contract allows, e.g. a changed error message). Holes worth closing become planted bugs in
``tests/mutants`` (see docs/AUTHORING.md), so the project's tests keep them caught.
"""

from __future__ import annotations

import argparse
import ast
import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common import ROOT

from autograder.client import Timeouts
from autograder.course import instructor_course
from autograder.grading import Grader

BINARY = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div, ast.Add], ast.Div: [ast.Mult, ast.FloorDiv],
          ast.FloorDiv: [ast.Div], ast.Mod: [ast.FloorDiv], ast.Pow: [ast.Mult], ast.MatMult: [ast.Mult]}
COMPARE = {ast.Lt: [ast.LtE, ast.Gt], ast.LtE: [ast.Lt, ast.GtE], ast.Gt: [ast.GtE, ast.Lt],
           ast.GtE: [ast.Gt, ast.LtE], ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq], ast.Is: [ast.IsNot],
           ast.IsNot: [ast.Is], ast.In: [ast.NotIn], ast.NotIn: [ast.In]}
SIBLING_METHODS = {
    "sum": "mean", "mean": "sum", "max": "min", "min": "max", "amax": "amin", "amin": "amax", "exp": "log",
    "log": "exp", "log1p": "log", "expm1": "exp", "unsqueeze": "squeeze", "masked_fill": "masked_fill_",
    "add": "add_", "mul": "mul_", "sub": "sub_", "div": "div_", "zeros_like": "empty_like",
    "reshape": "view", "softmax": "log_softmax", "relu": "sigmoid", "tanh": "sigmoid", "matmul": "mul",
    "bmm": "matmul", "argmax": "argmin", "float": "double", "double": "float", "logsumexp": "amax",
}
DROPPABLE_METHODS = {"clone", "detach", "contiguous", "float", "double", "t", "item", "squeeze", "flatten"}
DELETABLE = (ast.Assign, ast.AugAssign, ast.Expr, ast.If, ast.Raise, ast.For, ast.Return)


@dataclass(frozen=True)
class Mutant:
    line: int
    kind: str
    old: str
    new: str
    source: str


def mutants(source: str) -> list[Mutant]:
    """Every single-change mutant of ``source`` that still compiles. Docstrings, error messages
    and f-strings are left alone (changing them changes no behaviour the suites judge)."""
    tree = ast.parse(source)
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    skipped = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            skipped.add(id(body[0]))                                 # a docstring
            skipped.add(id(body[0].value))
        if isinstance(node, (ast.Raise, ast.JoinedStr)):
            skipped.update(id(inner) for inner in ast.walk(node) if inner is not node)
    found = []

    def replace(node, new: str, kind: str):
        start = starts[node.lineno - 1] + node.col_offset
        end = starts[node.end_lineno - 1] + node.end_col_offset
        text = source[:start] + new + source[end:]
        if source[start:end] == new:
            return
        try:
            compile(text, "<mutant>", "exec")
        except SyntaxError:
            return
        found.append(Mutant(node.lineno, kind, source[start:end], new, text))

    def changed(node, **fields) -> str:
        clone = copy.copy(node)
        for name, value in fields.items():
            setattr(clone, name, value)
        return ast.unparse(clone)

    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, (ast.BinOp, ast.AugAssign)):
            for op in BINARY.get(type(node.op), []):
                replace(node, changed(node, op=op()), f"{type(node.op).__name__} -> {op.__name__}")
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            for op in COMPARE.get(type(node.ops[0]), []):
                replace(node, changed(node, ops=[op()]), f"{type(node.ops[0]).__name__} -> {op.__name__}")
        elif isinstance(node, ast.BoolOp):
            other = ast.Or if isinstance(node.op, ast.And) else ast.And
            replace(node, changed(node, op=other()), f"{type(node.op).__name__} -> {other.__name__}")
            for i in range(len(node.values)):
                rest = node.values[:i] + node.values[i + 1:]
                replace(node, ast.unparse(rest[0]) if len(rest) == 1 else changed(node, values=rest),
                        f"condition {i + 1} dropped")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            replace(node, f"({ast.unparse(node.operand)})", f"{type(node.op).__name__} dropped")
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                replace(node, repr(not value), "bool flipped")
            elif isinstance(value, int):
                replace(node, repr(value + 1), "int + 1")
                if value:
                    replace(node, "0", "int -> 0")
            elif isinstance(value, float):
                replace(node, repr(value * 2 if value else 1.0), "float doubled")
                replace(node, repr(value / 10 if value else -1.0), "float / 10")
            elif isinstance(value, str):
                replace(node, repr("XX" + value), "string changed")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                if func.attr in SIBLING_METHODS:
                    sibling = ast.Attribute(value=func.value, attr=SIBLING_METHODS[func.attr], ctx=ast.Load())
                    replace(node, changed(node, func=sibling), f".{func.attr} -> .{sibling.attr}")
                if func.attr in DROPPABLE_METHODS and not node.args and not node.keywords:
                    replace(node, ast.unparse(func.value), f".{func.attr}() dropped")
            for i, keyword in enumerate(node.keywords):
                if keyword.arg is not None:
                    replace(node, changed(node, keywords=node.keywords[:i] + node.keywords[i + 1:]),
                            f"{keyword.arg}= dropped")
            if len(node.args) >= 2:
                replace(node, changed(node, args=node.args[:-1]), "last argument dropped")
        if isinstance(node, DELETABLE) and not (isinstance(node, ast.Return) and node.value is None):
            replace(node, "return None" if isinstance(node, ast.Return) else "pass",
                    f"{type(node).__name__} deleted")
    return found


def score(grader: Grader, exercise: str, workdir: Path) -> list[tuple[Mutant, bool]]:
    """Grade every mutant of ``exercise``'s solution, all in one pytest session; (mutant, killed)."""
    candidates = mutants((ROOT / "solutions" / f"{exercise}.py").read_text())
    submissions = []
    for i, mutant in enumerate(candidates):
        folder = workdir / str(i)
        folder.mkdir()
        (folder / f"{exercise}.py").write_text(mutant.source)
        submissions.append(grader.prepare(folder))
    killed = {}

    def on_result(task, result):
        if isinstance(result, Exception):
            raise result
        earned, possible = result.by_exercise()[exercise]
        killed[task[0].folder] = earned < possible

    grader.grade_each(((submission, [exercise]) for submission in submissions), on_result)
    return [(mutant, killed[submission.folder]) for mutant, submission in zip(candidates, submissions)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("exercises", nargs="*")
    parser.add_argument("--show-survivors", action="store_true")
    args = parser.parse_args()
    course = instructor_course(ROOT)
    exercises = args.exercises or list(course.exercises)
    with tempfile.TemporaryDirectory() as tmp, Grader(course, exercises=exercises,
                                                      timeouts=Timeouts(call=5)) as grader:
        for exercise in exercises:
            workdir = Path(tmp) / exercise
            workdir.mkdir()
            results = score(grader, exercise, workdir)
            survivors = [m for m, killed in results if not killed]
            print(f"{exercise:15} {len(results) - len(survivors):4d} of {len(results):4d} mutants killed "
                  f"({100 * (len(results) - len(survivors)) / max(len(results), 1):.0f}%)", flush=True)
            for m in survivors if args.show_survivors else ():
                print(f"    line {m.line:3d} {m.kind}: {m.old[:70]!r} -> {m.new[:70]!r}")


if __name__ == "__main__":
    main()
