"""Find forbidden calls in a student module by reading its syntax tree (nothing is executed).

A rule is one of (see ``assignments/course.toml``):

- ``"torch.broadcast_shapes"``: a dotted name and everything under it, however it was imported
  or aliased (``import torch as t``, ``from torch import broadcast_shapes as b``, ``f = t.x``,
  ``getattr(torch, "broadcast_shapes")``);
- ``".expand"``: any attribute of that name (``x.expand``, ``getattr(x, "expand")``), unless the
  module defines a method of that name itself;
- ``"kw:requires_grad"``: a call passing that keyword;
- ``"set:requires_grad"``: an assignment to that attribute (``x.requires_grad = True``,
  ``setattr(x, "requires_grad", ...)``); reading it is no use of it.

A keyword or assignment of the constant ``False`` turns nothing on and does not count. A name
given to ``getattr`` as constant pieces (``"op" + "tim"``, ``"".join(["op", "tim"])``) counts as
the name they make.

Every exercise also forbids reaching into Python's or the grader's internals, which no exercise
needs and which only serve to get around the checks (:data:`INTERNALS`): a function's closure or
code, frames, the garbage collector's object lists, tracing hooks, a class's bases (torch's C
base class of ``Tensor`` holds the tensor methods unwatched), the loaded modules (``sys.modules``,
``importlib.import_module``: the grader's own, in the worker, include the watch), the grader's
own package (``autograder``), the import system's finders (``sys.meta_path``), code run from
strings (``exec``, ``eval``, ``compile``, ``__import__``, and the library routes that run a string
of code: :data:`CODE_FROM_TEXT`, TorchScript's ``torch.jit`` among them), code or objects made
from bytes (:data:`CODE_FROM_BYTES`: unpickling, ``torch.load``, ``numpy.load``: the data names
any object, private ones of torch's included, and may call it; ``marshal``, ``types.CodeType``;
``ctypes``, which calls Python's C API), and dotted paths resolved from strings
(``string.Formatter``, ``logging.config``). Writing a pickle, or naming a function's type, is
none of these. A look by a name made at run
time into a module that holds one of them (``getattr(pickle, s)``; not numpy, whose dtypes honest
code looks up by name) counts as a use of it: the run-time watch does not wrap them.

A use counts against a contract name when its code reaches it: the function or class itself,
and the module-level functions, classes and assignments it refers to, transitively (as Python
scopes names: a local variable is not the module-level name it shadows). A loader
(:data:`LOADERS`: code run from strings or bytes) used by code that runs at import (a
module-level statement, class body, decorator or default, or a helper one of them calls; not
under ``if __name__ == "__main__":``) counts against every name, since what it did is there for
all of them; but not a timer given a function to time (``timeit.timeit(lambda: f(x))``, not a
string of code), nor TorchScript, which cannot change the module's names (:data:`TIMERS`,
:data:`SEPARATE_AT_IMPORT`). A call whose name is made at run time is caught while the code runs, by
:mod:`autograder.forbidden_watch`.
"""

from __future__ import annotations

import ast
import bisect
import functools
import importlib.util
import symtable
import sys
import types
from dataclasses import dataclass
from pathlib import Path

from autograder.syntax import parse_module

UNCHECKABLE = "(code too convoluted to check)"
CODE_FROM_STRINGS = ("exec", "eval", "compile", "__import__")
CODE_FROM_TEXT = (       # library routes that compile or run Python (or TorchScript) source given as a string
    "torch.jit", "code", "codeop", "runpy", "timeit.Timer", "timeit.timeit", "timeit.repeat", "cProfile.run",
    "cProfile.runctx", "cProfile.Profile", "profile.run", "profile.runctx", "profile.Profile", "pdb.run",
    "pdb.runeval", "pdb.runctx", "pdb.Pdb", "bdb", "trace", "doctest", "torch.package",
    "typing.get_type_hints", "typing.ForwardRef", "typing._eval_type", "inspect.get_annotations")
TIMERS = ("timeit.Timer", "timeit.timeit", "timeit.repeat")   # they run a string of code, or a function given
SEPARATE_AT_IMPORT = ("torch.jit",)   # TorchScript compiled at import cannot change the module's names: what it
                                      # makes counts where a function refers to it
CODE_FROM_BYTES = (      # unpickle data that names any object and calls it, or make code from bytes
    "pickle.load", "pickle.loads", "pickle.Unpickler", "pickle._load", "pickle._loads", "pickle._Unpickler",
    "_pickle", "shelve", "multiprocessing.reduction", "torch.load", "numpy.load", "marshal", "types.CodeType",
    "ctypes", "_ctypes")
NAME_RESOLVERS_BY_PATH = ("string.Formatter", "logging.config")   # resolve a dotted path written in a string
LOADERS = [f"builtins.{name}" for name in CODE_FROM_STRINGS] + list(CODE_FROM_TEXT) + list(CODE_FROM_BYTES)
TAMPERS = ["autograder", "sys.meta_path", "sys.path_hooks", "sys.path_importer_cache"]   # the grader's own code, in
                                      # the worker (its watch), and the import system's finders: at import, they
                                      # change what every function runs
INTERNALS = [f".{name}" for name in (
    "__closure__", "cell_contents", "__code__", "__globals__", "__builtins__", "f_back", "f_locals",
    "f_globals", "f_code", "f_builtins", "_getframe", "tb_frame", "gi_frame", "cr_frame", "ag_frame",
    "co_filename", "get_referents", "get_referrers", "get_objects", "setprofile", "settrace",
    "_current_frames", "currentframe", "getouterframes", "getinnerframes",
    "__mro__", "__bases__", "__base__", "__subclasses__", "mro", "getmro", "TensorBase", "import_module",
    "__getattribute__", "getattr_static")] + ["sys.modules"] + LOADERS + TAMPERS + list(NAME_RESOLVERS_BY_PATH)
RUN_TIME_NAME = "<a name made at run time>"
LOOKED_INTO_FOR_DTYPES = ("numpy", "torch")   # honest code looks up their dtypes by name (getattr(np, "float64"))
INTERNAL_USES = {f"{rule}(...)" if rule.startswith(".") else rule for rule in INTERNALS}   # as a Violation shows them
MAX_ALIAS_PARTS = 12      # a forbidden name has a handful of parts: longer ones only come from alias cycles
MAX_ALIAS_VALUES = 32     # honest code binds a name to a few dotted values, never dozens
MAX_STAR_IMPORTS = 4      # each makes every bare name a possible use: honest code has one or two


@dataclass(frozen=True)
class Violation:
    name: str          # the contract name that loses its points
    used: str          # what was used, e.g. "torch.broadcast_shapes"
    line: int          # 0 when unknown
    via: str | None    # the helper it was found in, when not the function itself
    replaced: bool = False   # seen at run time: the student put back what the grader watches
    lookup: bool = False     # a look into torch's names by a name made at run time (``getattr(torch, s)``)
    at_import: bool = False  # a loader used by code that runs at import, outside any function
    sibling: bool = False    # a function of the student's other module that reaches a forbidden use

    def message(self, locate=None) -> str:
        """What the student reads; ``locate(line)`` may name the line otherwise (a notebook's cell)."""
        if self.used == UNCHECKABLE:
            return (f"`{self.name}` cannot be checked for forbidden calls: its module is too convoluted to read "
                    "(code nested hundreds deep, a name given dozens of values, or many star imports); "
                    "write it more plainly")
        if self.replaced:
            return (f"`{self.name}` earns no points: your code replaced `{self.used}`, which this exercise "
                    "forbids and the grader watches for")
        place = [f"in helper `{self.via}`"] if self.via else []
        if self.line:
            place.append((locate(self.line) if locate else None) or f"line {self.line}")
        where = f" ({', '.join(place)})" if place else ""
        if self.at_import:
            line = f" ({place[-1]})" if self.line else ""
            runs = (f" calls helper `{self.via}`, which uses `{self.used}`{line}" if self.via
                    else f"{line} uses `{self.used}`")
            does = ("reaches into Python's internals" if self.used.startswith(".") else
                    "changes the grader or how modules are imported" if under(self.used, TAMPERS)
                    else "loads or runs code")
            return (f"`{self.name}` earns no points: code outside any function{runs}"
                    f"; that {does}, and what it does is there for every function, so it counts against "
                    "each: move that code under `if __name__ == \"__main__\":` or delete it")
        if self.sibling:
            return (f"`{self.name}` uses `{self.used}`{where}, from your other module, which uses what this exercise "
                    "forbids: a module is checked under the rules of each exercise whose functions call it")
        if self.lookup:
            return (f"`{self.name}` uses `{self.used}`{where}: a name of torch's made while your code runs "
                    "cannot be checked for forbidden calls in this exercise; write the name out")
        if internal_use(self.used):
            return (f"`{self.name}` uses `{self.used}`{where}: reaching into Python's or the grader's internals "
                    "(closures, frames, a class's bases, code run from strings, unpickling, C calls) is not allowed "
                    "in any exercise, and none needs it")
        if private_torch_name(self.used):
            return (f"`{self.name}` uses `{self.used}`{where}: torch's private internals (names that start with "
                    "_) are off limits in this exercise; use torch's public functions")
        advice = ""
        if self.used.startswith(".") and self.used.endswith(" = ..."):
            advice = ("; if it is an attribute of an object of your own, give it another name: the grader cannot "
                      "tell it from a tensor's")
        elif self.via:
            advice = (f"; a forbidden use anywhere in `{self.via}` counts, even in a part your function never runs: "
                      "keep a check you run by hand out of it, under `if __name__ == \"__main__\":`")
        return (f"`{self.name}` uses `{self.used}`{where}, which this exercise forbids: "
                f"it does the work you are asked to write by hand{advice}")


@dataclass(frozen=True)
class _Use:
    kind: str      # "dotted", "attr", "kw", "set" or "lookup" (text: the torch namespace looked into)
    text: str
    line: int
    bare: str | None = None   # read from a bare name: a builtin, or one a star import may bind...
    since: int = 0            # ...unless the module binds that name itself after this line


class _TooConvoluted(Exception):
    """The module cannot be read for forbidden calls (aliasing beyond the caps)."""


class _Aliases(ast.NodeVisitor):
    """Every import in the file: local name -> the dotted names it may stand for."""

    def __init__(self):
        self.names: dict[str, set[str]] = {}
        self.star_modules: dict[str, int] = {}       # module -> line of its last star import
        self.bound_at: dict[str, list[int]] = {}     # name -> lines of the imports that bind it

    def visit_Import(self, node):
        for a in node.names:
            local = a.asname or a.name.split(".")[0]
            self.names.setdefault(local, set()).add(a.name if a.asname else local)
            self.bound_at.setdefault(local, []).append(node.lineno)

    def visit_ImportFrom(self, node):
        if node.level or not node.module:
            return
        for a in node.names:
            if a.name == "*":
                self.star_modules.pop(node.module, None)
                self.star_modules[node.module] = node.lineno
            else:
                self.names.setdefault(a.asname or a.name, set()).add(f"{node.module}.{a.name}")
                self.bound_at.setdefault(a.asname or a.name, []).append(node.lineno)


def _getattr_call(node, functions=("getattr",)) -> bool:
    """``getattr(x, "name", ...)`` (or another of ``functions``, such as ``hasattr``) with a
    constant name (see :func:`_constant_name`)."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions \
        and len(node.args) >= 2 and _constant_name(node.args[1]) is not None


def _constant_name(node, depth: int = 0) -> str | None:
    """The string an expression makes from constants alone: ``"name"``, ``"na" + "me"``,
    ``"".join(["na", "me"])``, ``f"na{'me'}"``; None for anything else."""
    if depth > 20:
        return None
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _constant_name(node.left, depth + 1), _constant_name(node.right, depth + 1)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.JoinedStr):
        parts = [_constant_name(v.value if isinstance(v, ast.FormattedValue) else v, depth + 1) for v in node.values]
        return "".join(parts) if all(p is not None for p in parts) else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join" \
            and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], (ast.List, ast.Tuple)):
        sep = _constant_name(node.func.value, depth + 1)
        parts = [_constant_name(e, depth + 1) for e in node.args[0].elts]
        return sep.join(parts) if sep is not None and all(p is not None for p in parts) else None
    return None


def _dotted(node, aliases: dict[str, set[str]]) -> list[str]:
    """The dotted names an expression may stand for (``F.softmax`` -> ``torch.nn.functional.softmax``)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    suffix = parts[::-1]
    if _getattr_call(node):
        return [".".join([base, _constant_name(node.args[1])] + suffix) for base in _dotted(node.args[0], aliases)]
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return []
    return [".".join([alias] + suffix) for alias in sorted(aliases[node.id])]


def _base_name(node) -> str | None:
    """The name a dotted expression starts from (``a`` in ``getattr(a.b, "c").d``)."""
    while isinstance(node, ast.Attribute) or _getattr_call(node):
        node = node.value if isinstance(node, ast.Attribute) else node.args[0]
    return node.id if isinstance(node, ast.Name) else None


class _Uses(ast.NodeVisitor):
    """Forbidden-relevant uses inside one definition."""

    def __init__(self, aliases, star_modules):
        self.aliases, self.star_modules = aliases, star_modules
        self.uses: list[_Use] = []
        self._called: set[int] = set()       # the Name nodes that are called (``getattr(...)``)

    def visit_Name(self, node):
        if node.id == "getattr" and id(node) not in self._called:   # getattr handed on: reduce(getattr, ...)
            self.uses.append(_Use("lookup", "getattr (passed on as a value)", node.lineno, node.id))
        if node.id in CODE_FROM_STRINGS:          # the builtin, unless shadowed (see _scan)
            self.uses.append(_Use("dotted", f"builtins.{node.id}", node.lineno, node.id))
        for d in _dotted(node, self.aliases):
            self.uses.append(_Use("dotted", d, node.lineno))
        for m, line in self.star_modules.items() if not node.id.startswith("_") else ():   # never star-bound
            self.uses.append(_Use("dotted", f"{m}.{node.id}", node.lineno, node.id, line))

    def visit_Attribute(self, node):
        self.uses.append(_Use("attr", node.attr, node.lineno))
        for d in _dotted(node, self.aliases):
            self.uses.append(_Use("dotted", d, node.lineno))
        if node.attr == "__dict__":
            self._lookup(node.value, f"{{}}.__dict__", node.lineno)
        self.generic_visit(node)

    def _lookup(self, namespace, shown: str, line: int) -> None:
        """A look into one of torch's modules or classes by a name that only exists at run time;
        into another module that holds a loader (``getattr(pickle, s)`` may be ``pickle.loads``,
        which the run-time watch does not wrap), a use of each name it may be; not into numpy's,
        whose dtypes honest code looks up by name."""
        for d in _dotted(namespace, self.aliases):
            path = _path_objects(d)
            if len(path) == d.count(".") + 1 and _of_torch(path[-1]):
                self.uses.append(_Use("lookup", shown.format(d), line))
                return
            if d not in LOOKED_INTO_FOR_DTYPES and any(rule.startswith(f"{d}.") for rule in LOADERS):
                self.uses.append(_Use("dotted", f"{d}.{RUN_TIME_NAME}", line))

    def visit_Call(self, node):
        if _turns_off_gradients(node):           # x.requires_grad_(False): switching off is no trick
            for part in [getattr(node.func, "value", None), *node.args, *(k.value for k in node.keywords)]:
                if part is not None:
                    self.visit(part)
            return
        self._called.add(id(node.func))
        resolver = next((d for d in _dotted(node.func, self.aliases) if d in NAME_RESOLVERS), None)
        if resolver and not all(_public_path(_constant_name(a)) for a in node.args):
            self.uses.append(_Use("lookup", f"{resolver}(<a name made at run time, or a private one>)", node.lineno))
        if isinstance(node.func, ast.Name) and node.args:
            if node.func.id in ("getattr", "hasattr") and len(node.args) >= 2 and _constant_name(node.args[1]) is None:
                self._lookup(node.args[0], f"{node.func.id}({{}}, <a name made at run time>)", node.lineno)
            elif node.func.id == "vars":
                self._lookup(node.args[0], "vars({})", node.lineno)
        if _called_name(node) == "getmembers" and node.args:
            self._lookup(node.args[0], "inspect.getmembers({})", node.lineno)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "__setattr__" and node.args \
                and (name := _constant_name(node.args[0])) is not None \
                and not (len(node.args) > 1 and _is_false(node.args[1])):      # x.__setattr__("requires_grad", True)
            self.uses.append(_Use("set", name, node.lineno))
        if isinstance(node.func, ast.Attribute) and node.func.attr == "__set__" \
                and isinstance(node.func.value, ast.Attribute) \
                and not (len(node.args) > 1 and _is_false(node.args[1])):      # Tensor.requires_grad.__set__(x, True)
            self.uses.append(_Use("set", node.func.value.attr, node.lineno))
        if _getattr_call(node, ("getattr", "setattr", "hasattr")):
            name = _constant_name(node.args[1])
            self.uses.append(_Use("attr", name, node.lineno))
            for d in _dotted(node, self.aliases):
                self.uses.append(_Use("dotted", d, node.lineno))
            if node.func.id == "setattr" and not (len(node.args) > 2 and _is_false(node.args[2])):
                self.uses.append(_Use("set", name, node.lineno))
        for name, value in _keywords(node):
            if not _is_false(value):
                self.uses.append(_Use("kw", name, node.lineno))
        self.generic_visit(node)

    def visit_MatchClass(self, node):
        """``case torch.Tensor(grad_fn=node)`` reads each keyword's attribute."""
        for name in node.kwd_attrs:
            self.uses.append(_Use("attr", name, node.lineno))
        self.generic_visit(node)

    def visit_Assign(self, node):
        self._set([] if _is_false(node.value) else node.targets)
        if any(isinstance(t, ast.Name) and t.id == "__match_args__" for t in node.targets):
            self._match_args(node.value)
        self.generic_visit(node)

    def _match_args(self, value) -> None:
        """``__match_args__``: the attributes a positional pattern reads, by name."""
        items = value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]
        for item in items:
            name = _constant_name(item)
            self.uses.append(_Use("attr", name, item.lineno) if name is not None
                             else _Use("lookup", "__match_args__ (a name made at run time)", item.lineno))

    def visit_AugAssign(self, node):
        self._set([node.target])
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._set([] if node.value is None or _is_false(node.value) else [node.target])
        self.generic_visit(node)

    def _set(self, targets):
        for target in targets:
            for t in ast.walk(target):            # a, x.requires_grad = ... included
                if isinstance(t, ast.Attribute) and isinstance(t.ctx, ast.Store):
                    self.uses.append(_Use("set", t.attr, t.lineno))


def _is_false(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


NAME_RESOLVERS = ("operator.attrgetter", "operator.methodcaller", "pkgutil.resolve_name", "pydoc.locate")


def _public_path(name: str | None) -> bool:
    """Whether a constant dotted name (``"weight.data"``, ``"torch.nn:Linear"``) has no private part."""
    return name is not None and not any(p.startswith("_") for p in name.replace(":", ".").split("."))


def _keywords(call: ast.Call):
    """(name, value) of each keyword a call passes: written out, or spread from a dict written
    out (``**{"requires_grad": True}``, ``**dict(requires_grad=True)``)."""
    for kw in call.keywords:
        if kw.arg:
            yield kw.arg, kw.value
        elif isinstance(kw.value, ast.Dict):
            yield from ((name, v) for k, v in zip(kw.value.keys, kw.value.values)
                        if k is not None and (name := _constant_name(k)) is not None)
        elif isinstance(kw.value, ast.Call) and _called_name(kw.value) == "dict":
            yield from _keywords(kw.value)


def _turns_off_gradients(call: ast.Call) -> bool:
    """``x.requires_grad_(False)``, ``torch.set_grad_enabled(False)``: one argument, the constant False."""
    arguments = [*call.args, *(k.value for k in call.keywords)]
    return _called_name(call) in ("requires_grad_", "set_grad_enabled") and len(arguments) == 1 \
        and _is_false(arguments[0])


def _of_torch(obj) -> bool:
    """Whether an object is one of torch's modules or classes."""
    home = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None) \
        if isinstance(obj, type) else None
    return isinstance(home, str) and home.split(".")[0] in ("torch", "functorch")


def _definitions(tree: ast.Module) -> dict[str, list[ast.AST]]:
    """Module-level names and the statements that define them. A function or class defined again
    later (a notebook's first try, then its final version) is left out when nothing between the
    two could keep hold of it: it is then never what the name stands for."""
    body = list(_module_level(tree.body))
    def_at: dict[str, list[int]] = {}
    for i, stmt in enumerate(body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            def_at.setdefault(stmt.name, []).append(i)
    redefined = {name for name, at in def_at.items() if len(at) > 1}
    held_at: dict[str, list[int]] = {}             # name -> statements that may keep hold of it, in order
    for i, stmt in enumerate(body if redefined else ()):
        for name in _held(stmt) & redefined:
            held_at.setdefault(name, []).append(i)
    replaced = set()
    for name, at in def_at.items():
        for i, j in zip(at, at[1:]):
            held = held_at.get(name, [])
            k = bisect.bisect_right(held, i)
            if not (k < len(held) and held[k] < j) and not any(name in _held(e) for e in _evaluated_at_definition(body[j])):
                replaced.add(i)
    defs: dict[str, list[ast.AST]] = {}
    for i, stmt in enumerate(body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if i not in replaced:
                defs.setdefault(stmt.name, []).append(stmt)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        defs.setdefault(n.id, []).append(stmt)
    return defs


_BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.TryStar, ast.Match)


def _module_level(body: list[ast.stmt]):
    """The statements that run at module level, in order: those inside ``if``, ``try``, ``with``,
    ``for``, ``while`` and ``match`` blocks too (a function defined under ``if True:`` is the
    module's), each block's own expressions (its test, its iterable) before its statements."""
    for stmt in body:
        if not isinstance(stmt, _BLOCKS):
            yield stmt
            continue
        yield from (e for e in (getattr(stmt, "test", None), getattr(stmt, "iter", None), getattr(stmt, "target", None),
                                getattr(stmt, "subject", None), *(i.context_expr for i in getattr(stmt, "items", ())))
                    if e is not None)
        inner = [*getattr(stmt, "body", ()), *(s for h in getattr(stmt, "handlers", ()) for s in h.body),
                 *getattr(stmt, "orelse", ()), *getattr(stmt, "finalbody", ()),
                 *(s for c in getattr(stmt, "cases", ()) for s in c.body)]
        yield from _module_level(inner)


def _run_at_import(body: list[ast.stmt]):
    """What runs when the module is imported, outside the bodies of its functions and classes
    (those run when called, and count where called): statements, block tests, class bodies, and
    what a definition evaluates (decorators, defaults, bases); not an ``if __name__ == "__main__":`` block."""
    for stmt in _module_level([s for s in body if not _main_block(s)]):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from _evaluated_at_definition(stmt)
            if isinstance(stmt, ast.ClassDef):    # a class body runs where the class is defined
                yield from _run_at_import(stmt.body)
        else:
            yield stmt


def _main_block(stmt: ast.stmt) -> bool:
    """``if __name__ == "__main__":``, which never runs in the grader."""
    test = stmt.test if isinstance(stmt, ast.If) else None
    return isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__" \
        and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq) and _constant_name(test.comparators[0]) == "__main__"


def _held(node: ast.AST) -> set[str]:
    """The names ``node`` may keep hold of what they are bound to: read other than by a call
    (``old = f``, ``functools.partial(f)``, ``@wraps(f)``, a ``global`` assignment)."""
    called = {id(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in called}


def _evaluated_at_definition(stmt) -> list[ast.expr]:
    """What runs where a function or class is defined: decorators, defaults, bases, keywords."""
    if isinstance(stmt, ast.ClassDef):
        return [*stmt.decorator_list, *stmt.bases, *(k.value for k in stmt.keywords)]
    return [*stmt.decorator_list, *_defaults(stmt.args)]


def _defaults(args: ast.arguments) -> list[ast.expr]:
    return [*args.defaults, *(d for d in args.kw_defaults if d)]


def _global_reads(source: bytes | str) -> dict[tuple[str, int], set[str]] | None:
    """(name, line) of each module-level function and class -> the module-level names its body
    reads (Python's own scoping, from ``symtable``: a local ``loss`` is not the module's
    ``loss``). None where the compiler refuses the file (it will not import either)."""
    try:
        text = importlib.util.decode_source(source) if isinstance(source, bytes) else source   # BOM, coding line
        top = symtable.symtable(text, "<student>", "exec")
    except (SyntaxError, ValueError, UnicodeDecodeError, LookupError, MemoryError):
        return None

    def reads(table) -> set[str]:
        names = {s.get_name() for s in table.get_symbols() if s.is_referenced() and s.is_global()}
        for child in table.get_children():
            names |= reads(child)
        return names

    return {(t.get_name(), t.get_lineno()): reads(t) for t in top.get_children()
            if t.get_type() in ("function", "class")}


def _refs(stmt: ast.stmt, global_reads) -> set[str]:
    """The bare names a module-level statement reads: of a function or class, those its body
    reads from the module and those evaluated where it is defined (decorators, defaults,
    annotations, base classes); of anything else, every name in it."""
    body_reads = (global_reads or {}).get((getattr(stmt, "name", None), stmt.lineno))
    if body_reads is None or not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    if isinstance(stmt, ast.ClassDef):
        outer = [*stmt.decorator_list, *stmt.bases, *(k.value for k in stmt.keywords)]
    else:
        a = stmt.args
        every = [*a.posonlyargs, *a.args, *a.kwonlyargs, *(x for x in (a.vararg, a.kwarg) if x)]
        outer = [*stmt.decorator_list, *a.defaults, *(d for d in a.kw_defaults if d), *(x for x in [stmt.returns] if x),
                 *(x.annotation for x in every if x.annotation)]
    return body_reads | {n.id for part in outer for n in ast.walk(part) if isinstance(n, ast.Name)}


def _own_attribute_names(nodes: list[ast.AST]) -> set[str]:
    """Attribute names the student's code (``nodes``: every node of its syntax tree) gives its own
    objects: methods and class attributes (dataclass fields included), the fields of a named tuple
    or a dataclass made by a call (``namedtuple("Layer", "forward backward")``, ``field_names=``,
    ``make_dataclass``), a namespace's keywords (``SimpleNamespace(backward=...)``) and attributes
    it assigns (``layer.backward = ...``); none in a module that calls ``super`` with arguments
    (``super(torch.Tensor, x).expand`` reaches torch's method past the run-time watch)."""
    bare_super = {id(n.func) for n in nodes if isinstance(n, ast.Call) and not n.args and not n.keywords}
    if any(isinstance(n, ast.Name) and n.id == "super" and id(n) not in bare_super for n in nodes):
        return set()
    names = set()
    for node in nodes:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(item.name)
                elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                    targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                    names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Call) and _called_name(node) == "SimpleNamespace":
            names |= {k.arg for k in node.keywords if k.arg}
        elif isinstance(node, ast.Call) and _called_name(node) in ("namedtuple", "NamedTuple", "make_dataclass"):
            fields = node.args[1] if len(node.args) > 1 else \
                next((k.value for k in node.keywords if k.arg in ("field_names", "fields")), None)
            if isinstance(fields, (ast.List, ast.Tuple)):
                fields = [e.elts[0] if isinstance(e, ast.Tuple) and e.elts else e for e in fields.elts]
                names |= {n for n in map(_constant_name, fields) if n}
            elif fields is not None and (text := _constant_name(fields)) is not None:
                names |= set(text.replace(",", " ").split())
    return names


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _assigned_aliases(nodes: list[ast.AST], aliases: dict[str, set[str]]) -> None:
    """``f = torch.broadcast_shapes`` anywhere (among ``nodes``, every node of the syntax tree)
    makes ``f`` stand for ``torch.broadcast_shapes`` too (a name given several values stands for
    each), through chains of such assignments in any order. An assignment is looked at again only
    when the name it starts from gains a value, so the time grows with the file, not its square;
    dotted names of more than MAX_ALIAS_PARTS parts are dropped (so cycles like ``a = b.x; b = a.y``
    end), and a name given more than MAX_ALIAS_VALUES values raises _TooConvoluted."""
    by_base: dict[str, list[tuple[str, ast.expr]]] = {}
    for node in nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            base = _base_name(node.value)
            if base is not None:
                by_base.setdefault(base, []).append((node.targets[0].id, node.value))
    work = list(aliases)
    while work:
        for name, value in by_base.get(work.pop(), ()):
            known = aliases.setdefault(name, set())
            gained = {d for d in _dotted(value, aliases) if d.count(".") < MAX_ALIAS_PARTS} - known
            if gained:
                known |= gained
                if len(known) > MAX_ALIAS_VALUES:
                    raise _TooConvoluted(name)
                work.append(name)


@functools.lru_cache(maxsize=4096)
def _path_objects(dotted: str) -> tuple:
    """The objects that a dotted name's prefixes are in this process, as far as they are loaded
    modules and what their namespaces hold: ``torch.nn.functional.torch.optim`` passes through
    ``torch`` and ``torch.optim`` themselves. Read from module namespaces only (nothing is
    imported, no ``__getattr__`` runs), so a module the grader has not loaded ends the path."""
    parts = dotted.split(".")
    obj = sys.modules.get(parts[0])
    if obj is None:
        return ()
    path = [obj]
    for part in parts[1:]:
        if not isinstance(obj, types.ModuleType):
            break
        obj = vars(obj).get(part, sys.modules.get(f"{obj.__name__}.{part}"))
        if obj is None:
            break
        path.append(obj)
    return tuple(path)


def _watched_method(name: str) -> bool:
    """Whether the run-time watch wraps what an attribute rule of that name forbids (never an
    internal)."""
    from autograder.forbidden_watch import watches_attribute     # imports torch: the grader's side only

    return f".{name}" not in INTERNALS and watches_attribute(name)


def under(dotted: str, names) -> bool:
    """Whether a dotted name is one of ``names`` (a set or tuple) or under one: ``torch.jit.script``
    is under ``torch.jit``, ``torch.jitter`` is not."""
    parts = dotted.split(".")
    return any(".".join(parts[:i]) in names for i in range(1, len(parts) + 1))


def internal_use(used: str) -> bool:
    """Whether a use a Violation shows is one of :data:`INTERNALS` (``torch.jit.script``: under one)."""
    if used.endswith(RUN_TIME_NAME):           # any name of a module that holds an internal
        return any(rule.startswith(used.removesuffix(RUN_TIME_NAME)) for rule in INTERNAL_USES)
    return under(used, INTERNAL_USES)


def private_torch_name(dotted: str) -> bool:
    """Whether a dotted name reaches into torch's private parts (``torch._C``, ``torch.nn._x``):
    a part after ``torch`` that starts with ``_`` and is no dunder."""
    parts = dotted.split(".")
    return parts[0] == "torch" and any(p.startswith("_") and not (p.startswith("__") and p.endswith("__"))
                                       for p in parts[1:])


class _RuleSet:
    """The rules that apply to one contract name, indexed for matching a use.

    A dotted rule matches a use whose name starts with it, or whose path reaches the very object
    the rule names, however it got there (``torch.nn.modules.loss.F.cross_entropy`` is
    ``torch.nn.functional.cross_entropy``; ``F.torch.optim`` is ``torch.optim``). An attribute
    rule spares a method or field of the student's own where the run-time watch still sees
    torch's (a tensor method); never an attribute it cannot watch (``.grad_fn``, an internal)."""

    def __init__(self, rules: list[str]):
        self.dotted = {r for r in rules if not r.startswith((".", "kw:", "set:"))}
        self.attrs = {r[1:] for r in rules if r.startswith(".")}
        self.keywords = {r[3:] for r in rules if r.startswith("kw:")}
        self.assigned = {r[4:] for r in rules if r.startswith("set:")}
        self.forbids_torch = not set(rules) <= set(INTERNALS)    # then torch's names must be readable
        self.objects = {}
        for rule in self.dotted:
            path = _path_objects(rule)
            if len(path) == rule.count(".") + 1:
                self.objects[id(path[-1])] = path[-1]        # kept alive, so its id stays its own

    def matches(self, use: _Use, own_names: set[str]) -> bool:
        if use.kind == "dotted":
            module = use.text.removesuffix(RUN_TIME_NAME)
            if module != use.text and any(rule.startswith(module) for rule in self.dotted):
                return True                                     # any name under that module
            parts = use.text.split(".")
            return any(".".join(parts[:i]) in self.dotted for i in range(1, len(parts) + 1)) \
                or any(id(obj) in self.objects for obj in _path_objects(use.text)) \
                or (self.forbids_torch and private_torch_name(use.text))
        if use.kind == "attr":
            return use.text in self.attrs and (use.text not in own_names or not _watched_method(use.text))
        if use.kind == "lookup":
            return self.forbids_torch
        return use.text in (self.keywords if use.kind == "kw" else self.assigned)


def sibling_rules(source: bytes | str, folder: Path, rules: dict[str, list[str]]) -> list[str]:
    """A dotted rule ``sibling.name`` for each top-level function or class of a module beside this
    one (``sibling.py`` in ``folder``, the student's own) that this module imports and whose code
    reaches a use ``rules`` forbid: each module is read alone, so what a sibling does counts where
    this module's functions call it (a private torch name in it included)."""
    tree = parse_module(source)
    if tree is None:
        return []
    nodes = list(ast.walk(tree))
    imported = {a.name.split(".")[0] for n in nodes if isinstance(n, ast.Import) for a in n.names} | {
        n.module.split(".")[0] for n in nodes if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    found = []
    for module in sorted(imported):
        path = folder / f"{module}.py"
        if not path.is_file() or (sibling := parse_module(text := path.read_bytes())) is None:
            continue
        defined = [n.name for n in sibling.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        found += [f"{module}.{name}" for name in sorted(find_forbidden(text, rules, defined))]
    return found


def find_forbidden(source: bytes | str, rules: dict[str, list[str]], names: list[str]) -> dict[str, Violation]:
    """For each contract name whose code reaches a forbidden use, the first such use.

    ``rules`` maps ``"*"`` and contract names to rule lists. A file that does not parse has no
    violations here (it fails to import instead); one that parses but is too convoluted to be
    scanned (deep nesting, a name given dozens of values, many star imports) counts against every name.
    """
    tree = parse_module(source)
    if tree is None:
        return {}
    rules = {**rules, "*": list(rules.get("*", [])) + INTERNALS}
    try:
        return _scan(tree, rules, names, _global_reads(source))
    except (RecursionError, _TooConvoluted):    # parsed, yet beyond what the scan follows: nothing of it
        return {name: Violation(name, UNCHECKABLE, 1, None) for name in names}     # can be vouched for


def _loaded_at_import(tree, nodes, aliases, star_modules, bound_at, scans, refs,
                      own_names) -> tuple[_Use, str | None] | None:
    """The first loader (:data:`LOADERS`: code run from strings, unpickling) or change of the grader
    or of imports (:data:`TAMPERS`) that code run at import uses, itself or in a module-level
    helper it calls (transitively), with that helper."""
    at_import = list(_run_at_import(tree.body))
    loaders = _RuleSet([rule for rule in LOADERS + TAMPERS if rule not in SEPARATE_AT_IMPORT])
    timed_functions = _timed_functions(nodes, aliases, scans.keys())

    def first(uses):
        return next((u for u in sorted(uses, key=lambda u: u.line) if (u.bare is None or u.bare not in bound_at)
                     and u.kind == "dotted" and loaders.matches(u, own_names)
                     and not (u.line in timed_functions and u.text.startswith(TIMERS))), None)

    import_time = _Uses(aliases, star_modules)
    for node in at_import:
        import_time.visit(node)
    if (use := first(import_time.uses)) is not None:
        return use, None
    called = {_base_name(n.func if isinstance(n, ast.Call) else n) for node in at_import for n in ast.walk(node)
              if isinstance(n, ast.Call)} | {_base_name(node) for node in at_import}   # a decorator, a base class
    queue = sorted(called & scans.keys())
    seen = set(queue)
    while queue:
        current = queue.pop(0)
        if (use := first(scans[current].uses)) is not None:
            return use, current
        for ref in sorted(refs[current] & scans.keys() - seen):
            seen.add(ref)
            queue.append(ref)
    return None


def _timed_functions(nodes, aliases, defined) -> set[int]:
    """The lines of calls (among ``nodes``, every node of the syntax tree) of :data:`TIMERS` given a
    function to time (a lambda, or a function the module defines), not a string of code:
    ``timeit.timeit(lambda: softmax(x))`` in a demo cell."""
    lines = set()
    for node in nodes:
        if not isinstance(node, ast.Call) or not any(d in TIMERS for d in _dotted(node.func, aliases)):
            continue
        stmt = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "stmt"), None)
        if isinstance(stmt, ast.Lambda) or (isinstance(stmt, ast.Name) and stmt.id in defined):
            lines.add(node.lineno)
    return lines


def _scan(tree: ast.Module, rules: dict[str, list[str]], names: list[str], global_reads) -> dict[str, Violation]:
    alias_finder = _Aliases()
    alias_finder.visit(tree)
    if len(alias_finder.star_modules) > MAX_STAR_IMPORTS:
        raise _TooConvoluted("star imports")
    aliases = alias_finder.names
    nodes = list(ast.walk(tree))              # walked once, read by the checks below
    _assigned_aliases(nodes, aliases)
    defs = _definitions(tree)
    own_names = _own_attribute_names(nodes)
    bound_at = dict(alias_finder.bound_at)
    for name, stmts in defs.items():
        bound_at.setdefault(name, []).extend(stmt.lineno for stmt in stmts)
    scans: dict[str, _Uses] = {}
    refs: dict[str, set[str]] = {}
    for def_name, stmts in defs.items():
        scan = _Uses(aliases, alias_finder.star_modules)
        for stmt in stmts:
            scan.visit(stmt)
        refs[def_name] = set().union(*(_refs(stmt, global_reads) for stmt in stmts))
        scan.uses = [u for u in scan.uses if u.bare is None or (      # a bare name stands for the builtin or
            u.bare in refs[def_name]                                    # the star import's unless it is a local
            and not any(line > u.since for line in bound_at.get(u.bare, ())))]   # or the module binds it later
        scans[def_name] = scan

    found: dict[str, Violation] = {}
    loaded = _loaded_at_import(tree, nodes, aliases, alias_finder.star_modules, bound_at, scans, refs, own_names)
    if loaded is not None:      # whatever it did is there for every name: it counts against each
        use, via = loaded
        found = {name: Violation(name, use.text, use.line, via, at_import=True) for name in names if name in scans}
    for name in names:
        name_rules = _RuleSet(list(rules.get("*", [])) + list(rules.get(name, [])))
        if name not in scans:
            continue
        seen, queue = {name}, [name]
        while queue and name not in found:
            current = queue.pop(0)
            scan = scans[current]
            for use in sorted(scan.uses, key=lambda u: u.line):
                if name_rules.matches(use, own_names):
                    used = {"dotted": use.text, "attr": f".{use.text}(...)", "kw": f"{use.text}=...",
                            "set": f".{use.text} = ...", "lookup": use.text}[use.kind]
                    found[name] = Violation(name, used, use.line, None if current == name else current,
                                            lookup=use.kind == "lookup")
                    break
            for ref in sorted(refs[current]):
                if ref in scans and ref not in seen:
                    seen.add(ref)
                    queue.append(ref)
    return found
