"""Forbidden calls spelled at run time, caught while student code runs (the worker's side).

:mod:`autograder.forbidden` reads the student's syntax tree, so it finds every call written out,
however aliased; it cannot see one whose name is made at run time: ``getattr(torch, "soft" +
"max")``, ``eval("torch.softmax")``, ``vars(F)["cross_entropy"]``. Before the student's module is
imported, the worker puts a wrapper in place of each forbidden binding of torch:

- a dotted rule naming a function (``torch.softmax``, ``torch.nn.functional.cross_entropy``):
  that attribute of its module;
- a dotted rule naming a class (``torch.nn.CrossEntropyLoss``): its ``__init__``, and for an
  ``nn.Module`` the methods it defines (``forward``), which compute just the same on an instance
  made without ``__init__`` (``object.__new__``). (An optimizer's ``step`` is left alone: torch
  replaces it itself, for its profiler.);
- a dotted rule naming a public module (``torch.optim``, ``torch.autograd``): the functions and
  classes in it and in its public submodules (``torch.autograd.functional.jacobian``), except
  what students may use: what ``torch``, ``torch.nn``, ``torch.nn.functional`` or the package
  above the module export under the same name (``torch.no_grad`` is ``torch.autograd.no_grad``).
  Private modules (``torch._C``) are left to the syntax check;
- an attribute rule (``.softmax``, ``.expand``): that method of ``torch.Tensor``, and the function
  of that name in ``torch`` and ``torch.nn.functional``.

A wrapper notes a call only while a request runs, not when torch's own code (or the grader's)
calls it by name as part of its work (``torch.distributions`` may call ``F.softmax``), but when
torch's code calls it as a value it was handed (an ``nn.Module`` whose ``forward`` is
``F.cross_entropy``), and only against the contract names whose code is on the stack and which
the rule applies to. ``nn.Module``'s own call machinery is not a caller: calling a module runs
its ``forward`` for whoever called the module. Switching gradients off
(``x.requires_grad_(False)``, ``torch.set_grad_enabled(False)``) is not noted. Keyword and
assignment rules (``kw:requires_grad``, ``set:requires_grad``) stay with the syntax check: using
what they unlock takes a call watched here (``backward``, ``grad``).

Code run from strings or bytes, and looks into frames or the garbage collector, are caught by
Python's audit events (:func:`sys.addaudithook`), however student code reached the function
that raises one (``getattr(print.__self__, name)`` is the builtins module's; ``from pickle import
*`` then ``globals()[name]``): such an event counts when student code raised it itself, or handed
the function to a library that called it (``torch.no_grad()(loads)``), or when a library it called
ran code from a string (a dataclass whose field names hold code, ``SourceLoader.exec_module``),
unpickled, made code objects or called C through ctypes for it. It does not count when a module of
Python's, the venv's or the student's own is imported (not one written at run time, nor a
library's run again by ``importlib.reload``), nor for what such a module does while it is imported;
nor for the code that ``collections.namedtuple``, ``dataclasses`` (fields that are names), typing
(a plain type annotation), ``inspect`` (a default of a built-in's signature: ``sys.maxsize``),
``timeit`` (around a function given), networkx's decorators, sympy's polynomials or
``torch.compile`` writes and runs for itself; nor for a library reading a function's code object
(it runs nothing); nor for compiling without running (``ast.parse``, a string annotation, a
traceback printed; the worker prints the errors Python only prints, such as a failing
``__del__``'s, with the traceback module). Outside a request (at import, in a thread or a
finalizer of the student's, even one whose callable is ``exec`` itself), an event counts against
every contract name, as a loader at import does in the syntax check. A request is watched until
its answer is encoded: encoding may run student code (a tensor subclass's methods, an
exception's ``__str__``).

This runs beside student code, so it is not trusted: a note can only cost the student points. A
student who puts the original back is noted too (every binding is checked after each request).
"""

from __future__ import annotations

import dataclasses
import dis
import inspect
import json
import keyword
import os
import sys
import threading
import traceback
import types
from operator import getitem, is_not

import torch

from autograder.forbidden import INTERNAL_USES, under

LIBRARY = (os.path.dirname(torch.__file__) + os.sep, os.path.dirname(os.path.abspath(__file__)) + os.sep)
ALL = "*"
MAX_NOTES = 16      # per request: the first is reported; a call in a loop is not noted a million times


def watch_plan(rules: dict) -> list[tuple]:
    """``(rule owner, shown name, owner object, attribute, object)`` for each binding an
    exercise's rules (``{"*" | name: [rule, ...]}``) name in this process.

    Finding them reads through torch's modules; the zygote does it once per exercise, so that a
    forked worker only installs the wrappers (reading there would copy every page it touches)."""
    return [(owner, *target) for owner, rule_list in rules.items() for rule in rule_list
            for target in _targets(rule)]


_PLANS: dict[str, list] = {}     # an exercise's forbidden rules (as JSON) -> their watch plan


def cached_plan(rules: dict) -> list[tuple]:
    """:func:`watch_plan` of ``rules``, looked up once per process: in the zygote, for the workers
    it forks; in the grader, to check what a worker reports."""
    key = json.dumps(rules, sort_keys=True)
    if key not in _PLANS:
        _PLANS[key] = watch_plan(rules)
    return _PLANS[key]


class ForbiddenWatch:
    """The wrappers for one exercise's ``plan`` (:func:`watch_plan`), its contract ``names``,
    and the student's module file (whose frames say which name made a call)."""

    def __init__(self, plan: list[tuple], names, module_file: str):
        self.names = set(names)
        self.module_file = module_file
        self.student_dir = os.path.dirname(module_file) + os.sep
        self.active = False                        # a request runs
        self.loading = False                       # the student's module is being loaded
        self._thread = threading.get_ident()       # the worker's own, that runs requests
        self.noted: list[dict] = []
        self.lasting: list[dict] = []              # noted outside requests: reported with every request
        self._owners: dict[str, set] = {}          # what is watched -> the names its rules apply to
        self._bindings: list[tuple] = []           # (owner object, attribute, wrapper, shown name)
        for owner, shown, target, attr, original in plan:
            self._watch(target, attr, original, shown, owner)
        # the bindings as columns, checked after each request in C loops (map) rather than one by one
        self._columns = tuple(zip(*self._bindings))[:3] or ((), (), ())

    # ------------------------------------------------------------------ installing
    def _watch(self, target, attr: str, original, shown: str, owner: str) -> None:
        called = {attr}                           # the names code calls it by
        if isinstance(original, type):            # a class: watch its construction
            called = {original.__name__, "__init__"}          # Cls(...), super().__init__(...)
            target, attr, original = original, "__init__", _own_init(original)
        for t, a, _, first in self._bindings:     # one binding reached by two rules
            if t is target and a == attr:
                self._owners[first].add(owner)
                return
        wrapper = self._wrapper(original, shown, frozenset(called))
        try:
            setattr(target, attr, wrapper)
        except (AttributeError, TypeError):       # an immutable type: the syntax check covers it
            return
        self._owners.setdefault(shown, set()).add(owner)
        self._bindings.append((target, attr, wrapper, shown))

    def _wrapper(self, original, shown: str, called: frozenset):
        watch = self
        switch = any(original is off for off in _OFF_SWITCHES)

        def watched(*args, **kwargs):
            if watch.active and not (switch and _switched_off(args, kwargs)):
                watch._note(shown, called, _caller(sys._getframe(1)))
            return original(*args, **kwargs)

        watched.__name__ = getattr(original, "__name__", "watched")
        watched.__qualname__ = getattr(original, "__qualname__", watched.__name__)
        watched.__doc__ = getattr(original, "__doc__", None)
        return watched

    # ------------------------------------------------------------------ while a request runs
    def __enter__(self):
        """Watch while a request runs (``with watch: ...``)."""
        self.active = True
        return self

    def __exit__(self, *exc):
        self.active = False
        self._check_bindings()

    def arm(self) -> None:
        """Watch Python's audit events from now on: call before the student's module is loaded,
        and :meth:`loaded` after. Errors Python only prints (a failing ``__del__``, a thread's)
        are printed by the ``traceback`` module from now on: Python's own printing compiles the
        line it shows, an event no Python code asked for."""
        _install_audit_hook()
        sys.unraisablehook, threading.excepthook = _print_unraisable, _print_thread_error
        _ARMED[:] = [self]
        self.loading = True

    def loaded(self) -> None:
        self.loading = False

    def take(self) -> list[dict]:
        """What was noted since the last ``take``, and what was noted outside requests: ``{"used",
        "names", "line"}`` each (and ``"replaced": True`` for a binding the student replaced,
        ``"at_import": True`` for an audit event outside requests: at import, in a thread, ...)."""
        noted, self.noted = self.noted, []
        return self.lasting + noted

    def _note(self, shown: str, called: frozenset, caller) -> None:
        """Note a call of a watched binding by ``caller``'s code, unless that is torch's (or the
        grader's) code calling it by name, as its own implementation does. Torch's code calling
        it as a value it was handed (``nn.Module`` calling a ``forward`` that is
        ``F.cross_entropy``, the worker calling a contract name bound to ``torch.softmax``) is
        the student's call."""
        if (_library_code(caller) and not called.isdisjoint(caller.f_code.co_names)) or len(self.noted) >= MAX_NOTES:
            return                                 # torch's own code, or the grader's; or enough said
        names, line = self._callers(caller)
        owners = self._owners.get(shown, set())
        if ALL not in owners:
            names = [n for n in names if n in owners]
            if not names:
                return                             # forbidden only in functions this call is not in
        self.noted.append({"used": shown, "names": names, "line": line})

    def _callers(self, frame) -> tuple[list[str], int]:
        """The contract names whose code is on the stack from ``frame`` down, innermost first,
        and the innermost line of the student's module there (0 if none)."""
        names, line = [], 0
        while frame is not None:
            code = frame.f_code
            if code.co_filename.startswith(self.student_dir):
                if not line and code.co_filename == self.module_file:
                    line = frame.f_lineno
                head = code.co_qualname.split(".")[0]
                if head in self.names and head not in names:
                    names.append(head)
            frame = frame.f_back
        return names, line

    def audited(self, event: str, args: tuple, used: str, top) -> None:
        """Note an audit ``event`` (a use shown as ``used``) raised while ``top`` was the innermost
        Python frame, if student code is behind it (see the module's docstring). Outside a request
        (at import, in a thread or a finalizer of the student's), it counts against every name;
        once the module is loaded, the worker runs no such code of its own outside requests, so
        an event there counts even when no student frame is on the stack (a thread or a
        finalizer whose callable is ``exec`` itself)."""
        if len(self.noted) + len(self.lasting) >= MAX_NOTES:
            return
        worker_thread = threading.get_ident() == self._thread
        request = self.active and worker_thread
        if not self._student(top):
            chain = []                             # library frames from ``top`` to the student's code
            frame = top
            while frame is not None and not self._student(frame):
                chain.append(frame)
                frame = frame.f_back
            if frame is None and self.loading and worker_thread and self._loads_module(event, args, chain):
                return
            if _imported(event, args, chain, self.student_dir) or _own_use(event, args, chain):
                return
        names, line = self._callers(top)
        if request:
            self.noted.append({"used": used, "names": names, "line": line})
        else:
            self.lasting.append({"used": used, "names": sorted(self.names), "line": line, "at_import": True})

    def _student(self, frame) -> bool:
        return frame.f_code.co_filename.startswith(self.student_dir)

    def _loads_module(self, event: str, args: tuple, chain: list) -> bool:
        """Whether an event with no student frame behind it, while the module is loaded, is the
        grader's own loading of it: compiling the module (or a notebook's cell), reading its
        cached bytecode, running its code. (Anything else then is student code run some other
        way: a finalizer whose callable is ``exec``, fired as the grader's code frees an object.)"""
        if event == "compile":
            return len(args) > 1 and args[1] == self.module_file
        if event == "exec":
            return getattr(args[0], "co_filename", None) == self.module_file
        return event in ("marshal.loads", "marshal.load") and any(
            f.f_code.co_filename.startswith(_FROZEN_IMPORT) for f in chain)

    def _check_bindings(self) -> None:
        """A binding the student replaced is put back, and noted against every name."""
        if self._all_bound():
            return
        for target, attr, wrapper, shown in self._bindings:
            if vars(target).get(attr) is not wrapper:
                setattr(target, attr, wrapper)
                self.noted.append({"used": shown, "names": sorted(self.names), "line": 0, "replaced": True})

    def _all_bound(self) -> bool:
        """Whether every wrapper is still in its owner's namespace (compared by identity)."""
        targets, attrs, wrappers = self._columns
        try:
            return not any(map(is_not, map(getitem, map(vars, targets), attrs), wrappers))
        except (KeyError, TypeError):              # deleted, or no namespace left to look in
            return False


_MODULE_CALL = {code for code in (getattr(vars(torch.nn.Module).get(name), "__code__", None)
                                  for name in ("_call_impl", "_wrapped_call_impl")) if code is not None}
_OFF_SWITCHES = (torch.Tensor.requires_grad_, torch.set_grad_enabled.__init__)


# --------------------------------------------------------------------------- Python's audit events

AUDITED = {       # an audit event -> the use a note names (as the syntax check shows it: forbidden.INTERNALS)
    "exec": "builtins.exec", "compile": "builtins.compile", "function.__new__": "types.CodeType",
    "pickle.find_class": "pickle.loads", "marshal.loads": "marshal.loads", "marshal.load": "marshal.load",
    "code.__new__": "types.CodeType", "sys._getframe": "._getframe(...)",
    "sys._current_frames": "._current_frames(...)", "gc.get_objects": ".get_objects(...)",
    "gc.get_referrers": ".get_referrers(...)", "gc.get_referents": ".get_referents(...)",
    "sys.settrace": ".settrace(...)", "sys.setprofile": ".setprofile(...)",
}
AUDITED_USES = {*AUDITED.values(), "ctypes", *(u for u in INTERNAL_USES if u.startswith("."))}
_LOOKS_INSIDE = {"sys._getframe", "sys._current_frames", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
                 "sys.settrace", "sys.setprofile", "object.__getattr__"}
_CALLED_AS = {    # the names a library's code calls the function that raises an event by (its own use)
    "exec": {"exec", "eval"}, "compile": {"compile", "exec", "eval"}, "function.__new__": {"FunctionType"},
    "pickle.find_class": {"load", "loads", "Unpickler", "find_class", "audit"},
    "marshal.loads": {"loads"}, "marshal.load": {"load"}, "code.__new__": {"CodeType", "replace"},
    "object.__setattr__": {"__code__", "setattr"},
    "sys._getframe": {"_getframe"}, "sys._current_frames": {"_current_frames"},
    "gc.get_objects": {"get_objects"}, "gc.get_referrers": {"get_referrers"},
    "gc.get_referents": {"get_referents"}, "sys.settrace": {"settrace"}, "sys.setprofile": {"setprofile"},
}
_FROZEN_IMPORT = "<frozen importlib._bootstrap"
_FIELD_NAME = vars(dataclasses.Field)["name"]     # the slot itself, whatever a subclass puts over it
_IMPORT_NAME = dis.opmap["IMPORT_NAME"]
_IMPORTERS = {"__import__", "import_module"}      # a library importing by a module's name
_TRUSTED_FILES = tuple({sys.base_prefix + os.sep, sys.prefix + os.sep, sys.exec_prefix + os.sep, *LIBRARY, "<frozen "})
_TORCH_COMPILER = ("torch._dynamo",)   # torch.compile at work (not torch.fx on its own: its code is any text)
_PLAIN_TYPE_OPS = {"RESUME", "CACHE", "NOP", "LOAD_NAME", "LOAD_GLOBAL", "LOAD_ATTR", "LOAD_CONST", "BINARY_SUBSCR",
                   "BUILD_TUPLE", "BUILD_LIST", "BINARY_OP", "RETURN_VALUE", "PUSH_NULL"}
_WRITERS = (("collections", "namedtuple"),                # code written from names they check,
            ("networkx.utils.decorators", "compile"),     # from a signature's names
            ("sympy.polys.monomials", "_build"))           # and from numbers (sympy.simplify)
_ARMED: list = []          # the watch of this worker, once it watches
_IN_HOOK: list = []        # a hook running: what it calls raises events too (sys._getframe)
_INSTALLED: list = []


def _on_audit(event: str, args: tuple) -> None:
    """Python's audit hook (:func:`_install_audit_hook`): hand an event of interest to the watch."""
    if not _ARMED or _IN_HOOK:
        return
    used = _use_of(event, args)
    if used is None:
        return
    _IN_HOOK.append(event)
    try:
        top = sys._getframe(1)
        if top.f_code is not _TRACEBACK_CODES:     # the worker's own look at an error: no student code runs
            _ARMED[0].audited(event, args, used, top)
    finally:
        _IN_HOOK.clear()


def traceback_codes(tb) -> list[tuple]:
    """``(code, line)`` of each frame of the traceback ``tb``, outermost first: how the worker
    reads where an error of a request was raised. Reading a frame of a traceback is an audit event
    that the watch would examine, stack and all, for each frame; these reads (fields of C objects,
    which run no student code) are the worker's own and are not examined."""
    codes = []
    while tb is not None:
        codes.append((tb.tb_frame.f_code, tb.tb_lineno))
        tb = tb.tb_next
    return codes


_TRACEBACK_CODES = traceback_codes.__code__


def _install_audit_hook() -> None:
    """Put :func:`_on_audit` in place, once per process (a hook cannot be taken out again; it
    does nothing until a watch runs)."""
    if _on_audit not in _INSTALLED:
        sys.addaudithook(_on_audit)
        _INSTALLED.append(_on_audit)


def _print_unraisable(error) -> None:
    """:data:`sys.unraisablehook`: what Python's own prints, written by the traceback module."""
    try:
        where = f"{error.err_msg or 'Exception ignored in'}: {error.object!r}" if error.object is not None \
            else (error.err_msg or "Exception ignored")
        sys.stderr.write(where + "\n" + "".join(traceback.format_exception(
            error.exc_type, error.exc_value, error.exc_traceback)))
    except Exception:  # noqa: BLE001 - an object whose repr fails, a closed stderr: nothing to print
        pass


def _print_thread_error(error) -> None:
    """:data:`threading.excepthook`: what Python's own prints, written by the traceback module."""
    if error.exc_type is SystemExit:
        return
    try:
        name = error.thread.name if error.thread is not None else threading.get_ident()
        sys.stderr.write(f"Exception in thread {name}:\n" + "".join(traceback.format_exception(
            error.exc_type, error.exc_value, error.exc_traceback)))
    except Exception:  # noqa: BLE001 - as above
        pass


def _use_of(event: str, args: tuple) -> str | None:
    """The use an audit event shows, or None for one that is not watched."""
    if event in ("object.__getattr__", "object.__setattr__"):
        name = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
        if event == "object.__setattr__" and name != "__code__":
            return None
        return f".{name}(...)" if f".{name}(...)" in INTERNAL_USES else None
    if event.startswith("ctypes."):
        return "ctypes"
    return AUDITED.get(event)


def _imported(event: str, args: tuple, chain: list, student_dir: str) -> bool:
    """Whether library frames ``chain`` (innermost first) raised an event while importing a module:
    an ``import`` statement, or a library importing by name (``importlib.import_module``, torch's
    C code), of a module among Python's, the venv's, torch's, the grader's or the student's files
    (not one written at run time, nor source a loader object hands over:
    ``SourceLoader.exec_module``), or ``importlib.reload`` of a student's module (another module
    run again may read what the student changed: ``site`` runs the ``.pth`` files of the prefix it
    finds). What a library's module does while it is imported is its own business."""
    frozen = [i for i, f in enumerate(chain) if f.f_code.co_filename.startswith(_FROZEN_IMPORT)]
    if not frozen:
        return False
    first = last = frozen[-1]                      # the outermost run of importlib's frames
    while first > 0 and chain[first - 1].f_code.co_filename.startswith(_FROZEN_IMPORT):
        first -= 1
    by_library = last + 1 < len(chain)            # else the student's code imports
    importer = chain[last + 1] if by_library else chain[-1].f_back
    if importer is None:
        return False
    if by_library and _in_module(importer, ("importlib",)) and importer.f_code.co_name == "reload":
        trusted = (student_dir,)                   # a module run again, after its inputs may have changed
    elif importer.f_code.co_code[importer.f_lasti] == _IMPORT_NAME or (by_library and (
            not _IMPORTERS.isdisjoint(importer.f_code.co_names) or _in_module(importer, ("importlib",))
            or _library_code(importer))):          # torch's C code importing by name
        trusted = (student_dir, *_TRUSTED_FILES)
    else:
        return False
    if first > 0:                                  # code of the imported module runs: where does it come from
        return chain[first - 1].f_code.co_filename.startswith(trusted)
    if event == "exec":
        source = getattr(args[0], "co_filename", "")
        return isinstance(source, str) and source.startswith(trusted)
    return event in ("compile", "marshal.loads", "marshal.load")


def _own_use(event: str, args: tuple, chain: list) -> bool:
    """Whether library code (the frames ``chain``, innermost first) raised an event for work of
    its own, not for the student: the innermost calls the function that raised it by name (not
    one handed to it), and it is a look inside (``inspect.currentframe``), a compile for no run
    (``ast.parse``, a type annotation's forward reference), code that a named tuple, a dataclass
    with fields that are names, or typing (a plain type annotation) writes and runs, or torch's
    compiler at work (``torch.compile``: code objects, generated code), torch using ctypes, torch's
    profiler looking at stacks, or the code networkx's decorators and sympy's polynomials write
    from names and numbers. A library reading a function's ``__code__`` (networkx, the profiler)
    is never the student's: a code object runs nothing, and running one raises an event."""
    top = chain[0]
    if event.startswith("ctypes."):
        return _library_code(top)
    if event == "object.__getattr__" and args[1] == "__code__":
        return True                                # a code object runs nothing (running one is an event)
    if event in _LOOKS_INSIDE and _in_module(top, ("torch.profiler", "torch.autograd.profiler")):
        return True                                # its C code sets a profile function, for stacks
    called_as = {args[1], "getattr", "hasattr"} if event == "object.__getattr__" else _CALLED_AS.get(event, set())
    if called_as.isdisjoint(top.f_code.co_names):
        return False                               # it called what it was handed
    if event in _LOOKS_INSIDE or event in ("compile", "object.__setattr__"):
        return True                                # (a library swapping a function's code: networkx's lazy compile)
    if any(_in_module(f, _TORCH_COMPILER) for f in chain):
        return True
    if event != "exec":
        return False
    if _in_module(top, ("dataclasses",)):
        return _dataclass_fields_are_names(chain)
    if _in_module(top, ("typing",)) or (_in_module(top, ("inspect",)) and top.f_code.co_name == "wrap_value"):
        return _plain_type(args[0])                # an annotation; a default in a signature (sys.maxsize)
    if _in_module(top, ("timeit",)):
        return _timer_given_functions(top)
    return any(_in_module(top, (module,)) and top.f_code.co_name == function for module, function in _WRITERS)


def _in_module(frame, modules: tuple) -> bool:
    """Whether a frame runs the code of one of ``modules`` (or a submodule), in that module's own
    namespace (not student code compiled under its file name)."""
    name = frame.f_globals.get("__name__")
    if not (isinstance(name, str) and under(name, modules)):
        return False
    module = sys.modules.get(name)
    return getattr(module, "__dict__", None) is frame.f_globals \
        and getattr(module, "__file__", None) == frame.f_code.co_filename


def _dataclass_fields_are_names(chain: list) -> bool:
    """Whether the class ``dataclasses`` is writing methods for has fields that are all names
    (a field named ``"a=__import__('os')"`` would put code into the methods' text)."""
    for frame in chain:
        if frame.f_code.co_name == "_process_class" and _in_module(frame, ("dataclasses",)):
            fields = frame.f_locals.get("fields")
            return isinstance(fields, dict) and all(
                type(field) is dataclasses.Field and _FIELD_NAME.__get__(field) == name     # not a subclass whose
                and type(name) is str and name.isidentifier() and not keyword.iskeyword(name)   # name changes
                for name, field in fields.items())
    return False


def _plain_type(code) -> bool:
    """Whether a code object typing evaluates is a plain type annotation: names, attributes,
    subscripts, constants and ``|``; no call, no dunder, no private attribute (``torch._C``; a
    private name of the student's module, ``_Lengths``, is fine)."""
    if not isinstance(code, types.CodeType):
        return False
    for op in dis.get_instructions(code):
        if op.opname not in _PLAIN_TYPE_OPS or (isinstance(op.argval, str) and op.argval.startswith(
                "_" if op.opname == "LOAD_ATTR" else "__")):
            return False
    return True


def _timer_given_functions(top) -> bool:
    """Whether ``timeit.Timer`` runs the code it writes around a function given to time (its own
    template), not around a string of code."""
    names = top.f_locals                            # a function given is put in local_ns, and called by name
    functions = names.get("local_ns") if isinstance(names.get("local_ns"), dict) else {}
    return top.f_code.co_name == "__init__" and names.get("stmt") == "_stmt()" and callable(functions.get("_stmt")) \
        and (names.get("setup") == "pass" or (names.get("setup") == "_setup()" and callable(functions.get("_setup"))))


def _caller(frame):
    """The frame that called a watched function, past ``nn.Module``'s call machinery."""
    while frame is not None and frame.f_code in _MODULE_CALL:
        frame = frame.f_back
    return frame


def _switched_off(args, kwargs) -> bool:
    """``(self, False)``: a tensor's ``requires_grad_`` or ``set_grad_enabled``'s ``__init__``
    called to switch gradients off."""
    values = [*args[1:], *kwargs.values()]
    return len(values) == 1 and values[0] is False


def _library_code(frame) -> bool:
    """Whether a frame runs torch's code or the grader's: a file in their folders, run in the
    namespace of the module loaded from that file (student code compiled under such a file name
    runs in a namespace of its own)."""
    code = frame.f_code
    if not code.co_filename.startswith(LIBRARY):
        return False
    module = sys.modules.get(frame.f_globals.get("__name__"))
    return getattr(module, "__dict__", None) is frame.f_globals \
        and getattr(module, "__file__", None) == code.co_filename


def _targets(rule: str):
    """``(shown name, owner, attribute, object)`` for each binding a rule names in this process."""
    if rule.startswith(("kw:", "set:")):
        return
    if rule.startswith("."):
        yield from _attribute_targets(rule[1:])
        return
    parts = rule.split(".")
    parent, obj = None, sys.modules.get(parts[0])
    for part in parts[1:]:
        if obj is None:
            return
        parent, obj = obj, _attribute(obj, part)
    if isinstance(obj, types.ModuleType):
        if not any(p.startswith("_") for p in parts) and parent is not None:
            yield from _module_targets(rule, obj, parent)   # private modules: the syntax check alone
    elif parent is not None and _watchable(obj):
        yield rule, parent, parts[-1], obj
        yield from _method_targets(rule, obj)


def _attribute_targets(name: str):
    """What an attribute rule ``.name`` wraps: that method of ``torch.Tensor``, and the function of
    that name in ``torch`` and ``torch.nn.functional``."""
    for shown, owner in ((f".{name}(...)", torch.Tensor), (f"torch.{name}", torch),
                         (f"torch.nn.functional.{name}", torch.nn.functional)):
        value = _attribute(owner, name)
        if inspect.isroutine(value):
            yield shown, owner, name, value


def watches_attribute(name: str) -> bool:
    """Whether an attribute rule ``.name`` has anything to wrap (see _attribute_targets)."""
    return next(_attribute_targets(name), None) is not None


def _module_targets(rule: str, module, above, depth: int = 0):
    """The functions and classes of torch's public ``module`` (its own, or what it re-exports
    from torch) and of its public submodules (their own only), except what students may use:
    what ``torch``, ``torch.nn``, ``torch.nn.functional`` or the package ``above`` the rule's
    module export under the same name (``torch.no_grad``, ``torch.nn.Softplus``)."""
    for name, value in sorted(vars(module).items()):
        if name.startswith("_"):
            continue
        if isinstance(value, types.ModuleType):
            if value.__name__ == f"{module.__name__}.{name}" and depth < 2:
                yield from _module_targets(f"{rule}.{name}", value, above, depth + 1)
            continue
        defined_in = str(getattr(value, "__module__", ""))
        home = module.__name__ if depth else "torch"
        if (_watchable(value) and not (isinstance(value, type) and issubclass(value, type))
                and (defined_in == home or defined_in.startswith(home + "."))
                and all(_attribute(public, name) is not value for public in _public_namespaces(above))):
            yield f"{rule}.{name}", module, name, value
            yield from _method_targets(f"{rule}.{name}", value)


def _method_targets(rule: str, cls):
    """The functions a forbidden ``nn.Module`` class defines besides ``__init__``."""
    if isinstance(cls, type) and issubclass(cls, torch.nn.Module):
        for name, value in sorted(vars(cls).items()):
            if name != "__init__" and inspect.isfunction(value):
                yield f"{rule}.{name}", cls, name, value


def _public_namespaces(above):
    return (torch, torch.nn, torch.nn.functional, torch.profiler, above)


def _attribute(owner, name):
    """``owner.name``, or None; a module's own namespace only (no lazy import of a submodule)."""
    if isinstance(owner, types.ModuleType):
        return vars(owner).get(name)
    return getattr(owner, name, None)


def _own_init(cls):
    """``cls.__init__`` as ``cls`` defines it, or one that does what the inherited one did: hand
    on to the next class of the instance's MRO (a mixin's cooperative chain stays whole), and
    where that is ``object.__init__``, call it without the arguments that a ``__new__`` took (a
    named tuple's; torch makes one each time it prints a tensor)."""
    if "__init__" in vars(cls):
        return vars(cls)["__init__"]

    def __init__(self, *args, **kwargs):
        mro = type(self).__mro__
        if next(k for k in mro[mro.index(cls) + 1:] if "__init__" in vars(k)) is not object:
            super(cls, self).__init__(*args, **kwargs)
        elif (args or kwargs) and type(self).__new__ is object.__new__:
            raise TypeError(f"{type(self).__name__}() takes no arguments")

    return __init__


def _watchable(value) -> bool:
    return isinstance(value, type) or inspect.isroutine(value)
