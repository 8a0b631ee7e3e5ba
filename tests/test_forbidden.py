"""Forbidden calls are found however they are spelled, and only where the contract says."""

from __future__ import annotations

import json

from autograder.forbidden import UNCHECKABLE, find_forbidden
from autograder.notebook import notebook_to_source

RULES = {"*": ["torch.broadcast_shapes", ".expand", "torch.nn.functional.softmax"],
         "unbroadcast": ["torch.autograd", "kw:requires_grad", "set:requires_grad"]}
NAMES = ["broadcast_shape", "broadcast_to", "unbroadcast", "can_broadcast"]


def found(source: str) -> dict:
    return {k: v.used for k, v in find_forbidden(source, RULES, NAMES).items()}


def test_direct_aliased_and_imported_spellings():
    assert found("import torch\ndef broadcast_shape(*s):\n    return torch.broadcast_shapes(*s)") == \
        {"broadcast_shape": "torch.broadcast_shapes"}
    assert "broadcast_shape" in found("import torch as t\ndef broadcast_shape(*s):\n    return t.broadcast_shapes(*s)")
    assert "broadcast_shape" in found("from torch import broadcast_shapes as b\ndef broadcast_shape(*s):\n    return b(*s)")
    assert "broadcast_shape" in found("import torch\nf = torch.broadcast_shapes\ndef broadcast_shape(*s):\n    return f(*s)")
    assert "broadcast_shape" in found("import torch\ndef broadcast_shape(*s):\n    return getattr(torch, 'broadcast_shapes')(*s)")
    assert "broadcast_to" in found("import torch.nn.functional as F\ndef broadcast_to(x, s):\n    return F.softmax(x)")
    assert "broadcast_to" in found("from torch.nn import functional\ndef broadcast_to(x, s):\n    return functional.softmax(x)")


def test_methods_keywords_and_helpers():
    assert found("def broadcast_to(x, s):\n    return x.expand(*s)") == {"broadcast_to": ".expand(...)"}
    assert found("def broadcast_to(x, s):\n    return getattr(x, 'expand')(*s)") == {"broadcast_to": ".expand(...)"}
    helper = "def _h(x):\n    return x.expand(3)\ndef _g(x):\n    return _h(x)\ndef broadcast_to(x, s):\n    return _g(x)"
    violation = find_forbidden(helper, RULES, NAMES)["broadcast_to"]
    assert violation.via == "_h" and violation.line == 2
    assert found("import torch\ndef unbroadcast(g, s):\n    return torch.tensor(1.0, requires_grad=True)") == \
        {"unbroadcast": "requires_grad=..."}
    assert found("import torch\ndef unbroadcast(g, s):\n    torch.autograd.grad(g, g)") == {"unbroadcast": "torch.autograd.grad"}


def test_only_the_names_that_reach_a_use_lose_points():
    src = ("import torch\ndef can_broadcast(*s):\n    return True\n"
           "def broadcast_to(x, s):\n    return torch.autograd.grad(x, x)\n")   # autograd is allowed there
    assert found(src) == {}
    assert found("def broadcast_to(x, s):\n    def inner():\n        return x.expand(2)\n    return inner()") == \
        {"broadcast_to": ".expand(...)"}


def test_a_local_variable_is_not_the_module_level_name_it_shadows():
    """A sanity-check cell left at the bottom of a notebook binds ``out`` at module level with a
    forbidden call; the functions' own local ``out`` is another variable."""
    cell = "import torch\nout = torch.broadcast_shapes((2, 1), (3,))\n"
    assert found(cell + "def broadcast_shape(*s):\n    out = ()\n    for x in s:\n        out = out + tuple(x)\n"
                        "    return out\n") == {}
    assert found(cell + "def broadcast_to(x, s):\n    def inner():\n        return out\n    out = x\n"
                        "    return inner()\n") == {}                          # a closure reads the local
    assert found(cell + "def broadcast_to(x, s):\n    return [out for out in s]\n") == {}
    # ... while every way of reading the module-level name still counts
    assert found(cell + "def broadcast_shape(*s):\n    return out\n") == {"broadcast_shape": "torch.broadcast_shapes"}
    assert found(cell + "def broadcast_shape(*s):\n    global out\n    out = 1\n    return out\n") == \
        {"broadcast_shape": "torch.broadcast_shapes"}
    assert found(cell + "def broadcast_shape(*s, k=out):\n    return k\n") == {"broadcast_shape": "torch.broadcast_shapes"}
    assert found(cell + "def d(f):\n    return f\n@d\ndef can_broadcast(*s):\n    return [lambda: out]\n") == \
        {"can_broadcast": "torch.broadcast_shapes"}
    assert found(cell + "class broadcast_to:\n    def __call__(self):\n        return out\n") == \
        {"broadcast_to": "torch.broadcast_shapes"}


def test_turning_requires_grad_on_counts_reading_it_or_turning_it_off_does_not():
    head = "import torch\ndef unbroadcast(g, s):\n"
    for on in ("    g.requires_grad = True\n", "    a, g.requires_grad = 1, True\n", "    g.requires_grad |= True\n",
               "    setattr(g, 'requires_grad', True)\n"):
        assert found(head + on) == {"unbroadcast": ".requires_grad = ..."}, on
    assert found(head + "    torch.zeros(2, requires_grad=True)\n") == {"unbroadcast": "requires_grad=..."}
    for harmless in ("    return g.detach() if g.requires_grad else g\n", "    g.requires_grad = False\n",
                     "    setattr(g, 'requires_grad', False)\n", "    torch.zeros(2, requires_grad=False)\n"):
        assert found(head + harmless) == {}, harmless


def test_a_method_the_student_defines_is_not_the_forbidden_one():
    src = "class Layer:\n    def expand(self, x):\n        return x\ndef broadcast_to(x, s):\n    return Layer().expand(x)"
    assert found(src) == {}


def test_unparseable_source_has_no_violations():
    assert find_forbidden("def broken(:\n", RULES, NAMES) == {}


def test_a_name_given_several_values_stands_for_each_and_cycles_end():
    """Rebinding a name used to loop forever in the grader (each pass flipped it between values)."""
    honest = "import torch\nact = torch.relu\nact = torch.tanh\ndef broadcast_shape(*s):\n    return act(s)"
    assert found(honest) == {}
    hidden = "import torch\nf = torch.relu\nf = torch.broadcast_shapes\ndef broadcast_shape(*s):\n    return f(*s)"
    assert found(hidden) == {"broadcast_shape": "torch.broadcast_shapes"}
    cycle = "import torch as t\nb = a.y\na = b.x\na = t\ndef broadcast_shape(*s):\n    return a.broadcast_shapes(*s)"
    assert found(cycle) == {"broadcast_shape": "torch.broadcast_shapes"}


def test_a_long_alias_chain_in_reverse_order_is_followed_in_one_sweep():
    """A chain written backwards took one pass over the file per link: minutes for a few
    thousand lines, which one student could use to stall a class run."""
    n = 3000
    chain = "\n".join(f"a{i} = a{i + 1}" for i in range(n))
    src = f"import torch\n{chain}\na{n} = torch\ndef broadcast_shape(*s):\n    return a0.broadcast_shapes(*s)"
    assert found(src) == {"broadcast_shape": "torch.broadcast_shapes"}


def test_a_name_given_dozens_of_values_cannot_be_checked_and_scores_zero():
    values = "\n".join(f"f = torch.op{i}" for i in range(40))
    src = f"import torch\n{values}\nf = torch.broadcast_shapes\ndef broadcast_shape(*s):\n    return f(*s)"
    violations = find_forbidden(src, RULES, NAMES)
    assert set(violations) == set(NAMES)
    assert "cannot be checked for forbidden calls" in violations["broadcast_shape"].message()


def test_many_star_imports_cannot_be_checked_and_repeats_count_once():
    """Each star import made every bare name a possible use: thousands of them stalled the scan."""
    body = "def broadcast_shape(*s):\n    return broadcast_shapes(*s)"
    assert found("from torch import *\n" * 2000 + body) == {"broadcast_shape": "torch.broadcast_shapes"}
    many = "".join(f"from m{i} import *\n" for i in range(5))
    assert found(many + body) == {name: UNCHECKABLE for name in NAMES}


def test_a_name_made_of_constant_pieces_is_the_name_it_makes():
    for spelled in ("'broadcast_' + 'shapes'", "''.join(['broadcast', '_shapes'])", "f\"broadcast_{'shapes'}\"",
                    "'_'.join(('broadcast', 'shapes'))"):
        assert found(f"import torch\ndef broadcast_shape(*s):\n    return getattr(torch, {spelled})(*s)") == \
            {"broadcast_shape": "torch.broadcast_shapes"}, spelled
    assert found("def broadcast_to(x, s):\n    return getattr(x, 'exp' + 'and')(*s)") == {"broadcast_to": ".expand(...)"}
    assert found("def unbroadcast(g, s):\n    setattr(g, 'requires_' + 'grad', True)") == \
        {"unbroadcast": ".requires_grad = ..."}
    assert found("def broadcast_to(x, s):\n    n = 'exp'\n    return getattr(x, n + 'and')(*s)") == {}  # left to the watch


def test_reaching_into_internals_is_forbidden_in_every_exercise():
    cases = {
        "def broadcast_to(x, s):\n    return eval('x')": "builtins.eval",
        "def broadcast_to(x, s):\n    exec('y = 1')": "builtins.exec",
        "def broadcast_to(x, s):\n    return compile('1', 'f', 'eval')": "builtins.compile",
        "import sys\ndef broadcast_to(x, s):\n    return sys._getframe(1)": "._getframe(...)",
        "def broadcast_to(x, s):\n    return s.f_back.f_locals": ".f_locals(...)",
        "def broadcast_to(x, s):\n    return s.__closure__[0].cell_contents": ".cell_contents(...)",
        "def broadcast_to(x, s):\n    return getattr(s, '__clo' + 'sure__')": ".__closure__(...)",
        "import gc\ndef broadcast_to(x, s):\n    return gc.get_objects()": ".get_objects(...)",
        "def broadcast_to(x, s):\n    return s.__code__.replace(co_filename='t.py')": ".__code__(...)",
        # torch's C base class of Tensor holds the tensor methods, which the run-time watch cannot wrap
        "import torch\ndef broadcast_to(x, s):\n    return getattr(torch.Tensor.__mro__[1], 'exp' + x)(s)": ".__mro__(...)",
        "def broadcast_to(x, s):\n    return type(x).__base__": ".__base__(...)",
        "import inspect\ndef broadcast_to(x, s):\n    return inspect.getmro(type(x))[1]": ".getmro(...)",
        # the loaded modules hold the grader's own, the run-time watch among them
        "import sys\ndef broadcast_to(x, s):\n    return sys.modules['autograder.forbidden_watch']": "sys.modules",
        "from sys import modules as m\ndef broadcast_to(x, s):\n    return m": "sys.modules",
        "import importlib\ndef broadcast_to(x, s):\n    return importlib.import_module('autograder')": ".import_module(...)",
        # TorchScript source calls torch's ops directly, out of both checks' sight
        "import torch\nK = torch.jit.CompilationUnit('def f(x: Tensor):\\n    return x')\ndef broadcast_to(x, s):\n    return K.f(x)":
            "torch.jit.CompilationUnit",
        "from torch import jit\ndef broadcast_to(x, s):\n    return jit.script(s)(x)": "torch.jit.script",
        "import torch.jit as j\ndef broadcast_to(x, s):\n    return j.trace(s, x)": "torch.jit.trace",
        "import torch\ndef broadcast_to(x, s):\n    return torch.jit._state": "torch.jit._state",
        # unpickled data names any object (torch's private kernels) and may call it (exec)
        "import pickle as p\ndef broadcast_to(x, s):\n    return p.loads(s)(x)": "pickle.loads",
        "import pickle\ndef broadcast_to(x, s):\n    return getattr(pickle, 'lo' + chr(97) + 'ds')(s)":
            "pickle.<a name made at run time>",           # the run-time watch does not wrap pickle: the name counts
        "import pickle\ndef broadcast_to(x, s):\n    return getattr(pickle, 'lo' + 'ads')(s)": "pickle.loads",
        "import pickle\ndef broadcast_to(x, s):\n    return pickle._Unpickler(s).load()": "pickle._Unpickler",
        "import shelve\ndef broadcast_to(x, s):\n    return shelve.open(s)['k']": "shelve.open",
        "from multiprocessing.reduction import ForkingPickler as P\ndef broadcast_to(x, s):\n    return P.loads(s)":
            "multiprocessing.reduction.ForkingPickler.loads",
        "from _pickle import Unpickler\ndef broadcast_to(x, s):\n    return Unpickler(s).load()": "_pickle.Unpickler",
        "import io, torch\ndef broadcast_to(x, s):\n    return torch.load(io.BytesIO(s), weights_only=False)": "torch.load",
        "import io, numpy\ndef broadcast_to(x, s):\n    return numpy.load(io.BytesIO(s), allow_pickle=True)": "numpy.load",
        "import marshal\ndef broadcast_to(x, s):\n    return marshal.loads(s)": "marshal.loads",
        "import types\ndef broadcast_to(x, s):\n    return types.CodeType(*s)": "types.CodeType",
        # library routes that compile or run a string of code
        "import code\ndef broadcast_to(x, s):\n    return code.InteractiveInterpreter({}).runsource(s)":
            "code.InteractiveInterpreter",
        "import codeop\ndef broadcast_to(x, s):\n    return codeop.compile_command(s)": "codeop.compile_command",
        "import runpy\ndef broadcast_to(x, s):\n    return runpy.run_path(s)": "runpy.run_path",
        "import timeit\ndef broadcast_to(x, s):\n    return timeit.Timer(s).timeit(1)": "timeit.Timer",
        "from timeit import repeat\ndef broadcast_to(x, s):\n    return repeat(s)": "timeit.repeat",
        "import cProfile\ndef broadcast_to(x, s):\n    return cProfile.run(s)": "cProfile.run",
        "import profile\ndef broadcast_to(x, s):\n    return profile.Profile().runctx(s, {}, {})": "profile.Profile",
        "import pdb\ndef broadcast_to(x, s):\n    return pdb.runeval(s)": "pdb.runeval",
        "import typing\ndef broadcast_to(x, s):\n    return typing.get_type_hints(s)": "typing.get_type_hints",
        "import inspect\ndef broadcast_to(x, s):\n    return inspect.get_annotations(s, eval_str=True)":
            "inspect.get_annotations",
        # a dotted path in a string resolved to any object (torch's private kernels)
        "import string\ndef broadcast_to(x, s):\n    return string.Formatter().get_field(s, (x,), {})": "string.Formatter",
        "import logging.config\ndef broadcast_to(x, s):\n    return logging.config.BaseConfigurator({}).resolve(s)":
            "logging.config.BaseConfigurator",
        # Python's C API: any object by name, any memory
        "import ctypes\ndef broadcast_to(x, s):\n    return ctypes.pythonapi.PyImport_ImportModule(s)":
            "ctypes.pythonapi.PyImport_ImportModule",
    }
    for source, used in cases.items():
        assert found(source) == {"broadcast_to": used}, source
    message = find_forbidden("def broadcast_to(x, s):\n    return eval('x')", {}, NAMES)["broadcast_to"].message()
    assert message == ("`broadcast_to` uses `builtins.eval` (line 2): reaching into Python's or the grader's internals "
                       "(closures, frames, a class's bases, code run from strings, unpickling, C calls) is not allowed "
                       "in any exercise, and none needs it")
    message = find_forbidden("import torch\ndef broadcast_to(x, s):\n    return torch.jit._state", RULES, NAMES)
    assert "`torch.jit._state` (line 3): reaching into Python's or the grader's internals" in message["broadcast_to"].message()
    assert found("def eval(x):\n    return x\ndef broadcast_to(x, s):\n    return eval(x)") == {}
    assert found("def broadcast_to(x, s):\n    return x.eval().compile") == {}
    assert found("def broadcast_to(x, s):\n    return list(x.modules())") == {}             # nn.Module.modules()
    assert found("def broadcast_to(x, s, compile=False):\n    return compile") == {}
    assert found("import types\ndef broadcast_to(x, s):\n    return types.SimpleNamespace(x=x)") == {}
    assert found("import torch\ndef broadcast_to(x, s):\n    return torch.save(x, s)") == {}
    # writing a pickle runs nothing; a function type names what a function is, it makes none
    assert found("import pickle\ndef broadcast_to(x, s):\n    pickle.dump(x, s)\n    return pickle.dumps(x)") == {}
    assert found("import types\nFn = types.FunctionType\ndef broadcast_to(x: types.LambdaType, s) -> Fn:\n"
                 "    return isinstance(x, types.FunctionType)") == {}
    assert found("import timeit\ndef broadcast_to(x, s):\n    return timeit.default_timer()") == {}


def test_an_internal_used_at_import_counts_against_every_name():
    """A module-level statement that unpickles or runs a string leaves its work for any function
    to use (``builtins.K = torch._C...``); the same at module level for a forbidden torch call
    counts only where reached, and a ``__main__`` block never runs in the grader."""
    every = {name: "pickle.loads" for name in NAMES}
    assert found("import pickle\npickle.loads(b'')\ndef broadcast_to(x, s):\n    return x") == \
        {"broadcast_to": "pickle.loads"}
    assert {k: v.used for k, v in find_forbidden(
        "import pickle\nif True:\n    pickle.loads(b'')\n" + "".join(f"def {n}(x):\n    return x\n" for n in NAMES),
        {}, NAMES).items()} == every
    assert found("import numpy as np\n@np.load\ndef broadcast_to(x, s):\n    return x") == {"broadcast_to": "numpy.load"}
    assert found("exec('import builtins')\ndef broadcast_to(x, s):\n    return x") == {"broadcast_to": "builtins.exec"}
    for honest in ("import torch\nprint(torch.broadcast_shapes((1,), (2,)))\ndef broadcast_to(x, s):\n    return x",
                   "import pickle\nif __name__ == '__main__':\n    pickle.dump(1, open('f', 'wb'))\n"
                   "def broadcast_to(x, s):\n    return x",
                   "def exec(s):\n    return s\nexec('a')\ndef broadcast_to(x, s):\n    return x"):
        assert found(honest) == {}, honest


def test_only_a_loader_used_at_import_counts_against_every_name_and_the_message_says_what_to_do():
    """Code run at import counts against every name only where it loads or runs code (a notebook's
    ``IN_COLAB = "google.colab" in sys.modules`` does neither); a class body and a helper called at
    import run then too. The feedback says where the code is and how to keep the points."""
    colab = "import sys\nIN_COLAB = 'google.colab' in sys.modules\ndef broadcast_to(x, s):\n    return x"
    assert found(colab) == {}
    assert found("import pickle\nclass Boot:\n    K = pickle.loads(b'')\ndef broadcast_to(x, s):\n    return x") == \
        {"broadcast_to": "pickle.loads"}
    helper = "import pickle\ndef boot():\n    return pickle.loads(b'')\nboot()\ndef broadcast_to(x, s):\n    return x"
    assert found(helper) == {"broadcast_to": "pickle.loads"}
    assert find_forbidden(helper, {}, NAMES)["broadcast_to"].message() == (
        "`broadcast_to` earns no points: code outside any function calls helper `boot`, which uses `pickle.loads` "
        "(line 3); that loads or runs code, and what it does is there for every function, so it counts against each: "
        "move that code under `if __name__ == \"__main__\":` or delete it")
    demo = "import torch\nW = torch.load('w.pt')\ndef broadcast_to(x, s):\n    return x"
    assert find_forbidden(demo, {}, NAMES)["broadcast_to"].message() == (
        "`broadcast_to` earns no points: code outside any function (line 2) uses `torch.load`; that loads or runs "
        "code, and what it does is there for every function, so it counts against each: move that code under "
        "`if __name__ == \"__main__\":` or delete it")
    assert found(demo.replace("W = ", "if __name__ == '__main__':\n    W = ")) == {}


def test_a_notebook_that_checks_for_colab_or_writes_a_pickle_keeps_its_points():
    """Notebooks cannot be corpus variants: their module source is scanned here (red team's
    nb_colab and nb_pickle_dump scored 0/20)."""
    cells = ["import sys, pickle\nIN_COLAB = 'google.colab' in sys.modules",
             "def broadcast_to(x, s):\n    return x",
             "with open('out.pkl', 'wb') as f:\n    pickle.dump({'x': 1}, f)"]
    notebook = json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [],
                                      "execution_count": None} for c in cells],
                           "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert found(notebook_to_source(notebook)) == {}


def test_timing_a_function_dtypes_by_name_and_torchscript_at_import_keep_their_points():
    """A demo cell that times a function (not a string of code), looks numpy's dtypes up by name,
    or scripts an unused helper: none of it can change the module's names, so none counts against
    every function (red team: each scored 0/20)."""
    define = "\ndef broadcast_to(x, s):\n    return x\n"
    for honest in ("import timeit" + define + "timeit.timeit(lambda: broadcast_to(1, 2), number=3)",
                   "from timeit import repeat" + define + "repeat(broadcast_to, number=3)",
                   "import timeit" + define + "def bench():\n    return timeit.timeit(lambda: broadcast_to(1, 2))\n"
                   "bench()",
                   "import numpy as np" + define + "kinds = [n for n in ('float32', 'float128') if hasattr(np, n)]",
                   "import numpy as np" + define + "DTYPES = {n: getattr(np, n) for n in ('float32', 'float64')}",
                   "import torch" + define + "@torch.jit.script\ndef unused(x):\n    return x"):
        assert found(honest) == {}, honest
    assert found("import timeit" + define + "timeit.timeit('import builtins', number=1)") == \
        {"broadcast_to": "timeit.timeit"}


def test_a_module_reached_through_another_is_that_module():
    """``F.torch`` is ``torch`` itself, and ``torch.nn.modules.loss.F`` is ``F``: a forbidden name
    reached through another module's namespace is still that name."""
    rules = {"*": ["torch.optim", "torch._C", "torch.nn.functional.softmax"]}
    cases = {
        "import torch.nn.functional as _F\ndef f(ps):\n    return _F.torch.optim._functional.sgd(ps)":
            "torch.nn.functional.torch.optim._functional.sgd",
        "from torch.nn import functional\ndef f(s):\n    return functional.torch._C._infer_size(s, s)":
            "torch.nn.functional.torch._C._infer_size",
        "import torch\ndef f(x):\n    return torch.nn.modules.activation.F.softmax(x, 0)":
            "torch.nn.modules.activation.F.softmax",
    }
    for source, used in cases.items():
        assert {k: v.used for k, v in find_forbidden(source, rules, ["f"]).items()} == {"f": used}, source
    assert find_forbidden("import torch\ndef f(x):\n    return torch.nn.functional.relu(x)", rules, ["f"]) == {}


def test_a_look_into_torch_by_a_name_made_at_run_time_counts_where_torch_is_forbidden():
    """``getattr(torch.nn, name)`` with a name built while the code runs, ``vars(torch)``,
    ``torch.__dict__``: what they reach cannot be read from the source, so they count, in an
    exercise that forbids anything of torch's; the student's own objects are not torch's."""
    cases = {
        "import torch\ndef broadcast_to(x, s):\n    return getattr(torch.nn, bytes([65]).decode())":
            "getattr(torch.nn, <a name made at run time>)",
        "import torch as t\ndef broadcast_to(x, s):\n    return vars(t)['x']": "vars(torch)",
        "import torch\ndef broadcast_to(x, s):\n    return torch.Tensor.__dict__": "torch.Tensor.__dict__",
        "import inspect, torch\ndef broadcast_to(x, s):\n    return inspect.getmembers(torch)": "inspect.getmembers(torch)",
    }
    for source, used in cases.items():
        assert found(source) == {"broadcast_to": used}, source
        assert find_forbidden(source, {"*": []}, NAMES) == {}, source      # nothing of torch's is forbidden
    message = find_forbidden(next(iter(cases)), RULES, NAMES)["broadcast_to"].message()
    assert message == ("`broadcast_to` uses `getattr(torch.nn, <a name made at run time>)` (line 3): a name of torch's "
                       "made while your code runs cannot be checked for forbidden calls in this exercise; write the "
                       "name out")
    # what the standard library resolves at run time: getattr handed on, attrgetter and its kin
    # with a name made at run time or a private one
    for source, used in {
            "import functools, torch\ndef broadcast_to(x, s):\n    return functools.reduce(getattr, s, torch)":
                "getattr (passed on as a value)",
            "import operator, torch\ndef broadcast_to(x, s):\n    return operator.attrgetter(s)(torch)":
                "operator.attrgetter(<a name made at run time, or a private one>)",
            "from operator import attrgetter\ndef broadcast_to(x, s):\n    return attrgetter('_C._nn')(x)":
                "operator.attrgetter(<a name made at run time, or a private one>)",
            "import pkgutil\ndef broadcast_to(x, s):\n    return pkgutil.resolve_name(s)":
                "pkgutil.resolve_name(<a name made at run time, or a private one>)"}.items():
        assert found(source) == {"broadcast_to": used}, source
    assert found("import operator\ndef broadcast_to(x, s):\n    return sorted(s, key=operator.attrgetter('size'))") == {}
    for honest in ("def broadcast_to(x, s, name='a'):\n    return getattr(x, name)",
                   "import torch\ndef broadcast_to(x, s):\n    return getattr(torch, 'float32')",
                   "def broadcast_to(x, s):\n    return vars(s)"):
        assert found(honest) == {}, honest


def test_a_star_import_does_not_claim_the_modules_own_names_or_locals():
    star = "from torch.nn.functional import *\n"
    own = "def softmax(x):\n    return x\ndef broadcast_to(x, s):\n    return softmax(x)\n"
    assert found(star + own) == {}
    assert found(star + "def broadcast_to(x, softmax):\n    return softmax(x)\n") == {}
    assert found(star + "def broadcast_to(x, s):\n    softmax = s\n    return softmax\n") == {}
    # ... while the star import's own names still count, and so does one bound before it
    assert found(star + "def broadcast_to(x, s):\n    return softmax(x)\n") == \
        {"broadcast_to": "torch.nn.functional.softmax"}
    assert found("def softmax(x):\n    return x\n" + star + "def broadcast_to(x, s):\n    return softmax(x)\n") == \
        {"broadcast_to": "torch.nn.functional.softmax"}
    # a star import binds no name that starts with _ (a module without __all__ keeps them)
    assert found(star + "def _softmax(x):\n    return x\ndef broadcast_to(x, s):\n    return _softmax(x)\n") == {}


def test_a_function_defined_again_later_is_judged_by_its_last_definition():
    """A notebook's first try (a check against torch in one cell), then the final version: the
    first is what the name stands for only if something kept hold of it in between."""
    first = "import torch\ndef broadcast_shape(*s):\n    return torch.broadcast_shapes(*s)\n"
    final = "def broadcast_shape(*s):\n    return max(s, key=len)\n"
    assert found(first + "print(broadcast_shape((2, 1), (3,)))\n" + final) == {}
    for kept in ("old = broadcast_shape\n", "import functools\np = functools.partial(broadcast_shape)\n"):
        assert found(first + kept + final.replace("max(s, key=len)", "old(*s)")) == \
            {"broadcast_shape": "torch.broadcast_shapes"}, kept
    assert found(first + "import functools\n@functools.wraps(broadcast_shape)\n" + final) == \
        {"broadcast_shape": "torch.broadcast_shapes"}


def test_an_attribute_the_student_gives_its_own_objects_is_not_the_forbidden_one_but_an_internal_is():
    rules = {"*": [".backward"]}
    for own in ("from collections import namedtuple\nLayer = namedtuple('Layer', 'forward backward')\n",
                "from typing import NamedTuple\nLayer = NamedTuple('Layer', [('forward', int), ('backward', int)])\n",
                "from dataclasses import dataclass\n@dataclass\nclass Layer:\n    backward: object = None\n",
                "def make(layer, f):\n    layer.backward = f\n",
                # red team, false failures: a namespace's keywords, fields by keyword, a dataclass made by a call
                "import types\ndef make(f, b):\n    return types.SimpleNamespace(forward=f, backward=b)\n",
                "from collections import namedtuple\nLayer = namedtuple('Layer', field_names=['forward', 'backward'])\n",
                "import dataclasses\nLayer = dataclasses.make_dataclass('Layer', [('forward', object), 'backward'])\n"):
        assert find_forbidden(own + "def f(layer, d):\n    return layer.backward(d)\n", rules, ["f"]) == {}, own
    assert set(find_forbidden("def f(x):\n    return x.backward()\n", rules, ["f"])) == {"f"}
    # an attribute the run-time watch cannot wrap is never spared: y.grad_fn(dout) computes gradients
    grad_fn = {"*": [".grad_fn"]}
    assert set(find_forbidden("def make(t):\n    t.grad_fn = None\ndef f(y, d):\n    return y.grad_fn(d)\n",
                              grad_fn, ["f"])) == {"f"}
    assert found("class A:\n    def f_back(self):\n        return 0\n"
                 "def broadcast_to(x, s):\n    return s.f_back") == {"broadcast_to": ".f_back(...)"}


def test_routes_to_a_forbidden_attribute_the_red_team_found_count():
    """``super(torch.Tensor, x).expand`` (torch's own method, past the run-time watch) counts even
    where the student has an attribute of that name; a class pattern, or a ``__match_args__``,
    reads attributes by name; ``x.__setattr__("requires_grad", True)`` and
    ``torch.Tensor.requires_grad.__set__(x, True)`` set one."""
    own = "import types\nns = types.SimpleNamespace(expand=None)\n"
    assert find_forbidden(own + "def f(x):\n    return ns.expand\n", RULES, ["f"]) == {}
    assert set(find_forbidden(own + "import torch\ndef f(x):\n    return super(torch.Tensor, x).expand(2, 3)\n",
                              RULES, ["f"])) == {"f"}
    grad_fn = {"*": [".grad_fn"]}
    assert set(find_forbidden("import torch\ndef f(y):\n    match y:\n        case torch.Tensor(grad_fn=node):\n"
                              "            return node\n", grad_fn, ["f"])) == {"f"}
    matched = ("import torch\nclass R(torch.Tensor):\n    __match_args__ = ({},)\ndef f(y):\n    match y:\n"
               "        case R(node):\n            return node\n")
    assert set(find_forbidden(matched.format("'grad' + '_fn'"), grad_fn, ["f"])) == {"f"}
    assert find_forbidden(matched.format("'data'"), grad_fn, ["f"]) == {}
    assert set(find_forbidden(matched.format("''.join(reversed('nf_dag'))"), {"*": ["torch.autograd"]}, ["f"])) \
        == {"f"}
    rules = {"*": ["set:requires_grad"]}
    for trick in ("x.__setattr__('requires_grad', True)", "torch.Tensor.requires_grad.__set__(x, True)"):
        assert set(find_forbidden(f"import torch\ndef f(x):\n    {trick}\n", rules, ["f"])) == {"f"}, trick
    assert find_forbidden("def f(x):\n    x.__setattr__('requires_grad', False)\n", rules, ["f"]) == {}


def test_a_use_in_code_that_never_runs_or_on_an_own_flag_says_how_to_fix_it():
    """A forbidden use in a helper class's method no function calls counts (Python calls methods
    by protocol: dict(obj) calls keys), and so does an own flag named requires_grad; each message
    says what to do (red team: both looked like false failures)."""
    checks = ("import torch.nn.functional as F\nclass _Checks:\n    def reduction(self, r):\n        return r\n"
              "    def against(self, x, t):\n        return F.cross_entropy(x, t)\n_c = _Checks()\n"
              "def cross_entropy(x, t, reduction='mean'):\n    return _c.reduction(reduction)\n")
    found = find_forbidden(checks, {"*": ["torch.nn.functional.cross_entropy"]}, ["cross_entropy"])
    assert found["cross_entropy"].message().endswith(
        "a forbidden use anywhere in `_Checks` counts, even in a part your function never runs: keep a check you "
        "run by hand out of it, under `if __name__ == \"__main__\":`")
    flag = "class Dense:\n    def __init__(self, flag):\n        self.requires_grad = flag\ndef f():\n    return Dense(1)\n"
    assert find_forbidden(flag, {"*": ["set:requires_grad"]}, ["f"])["f"].message().endswith(
        "if it is an attribute of an object of your own, give it another name: the grader cannot tell it from a "
        "tensor's")


def test_switching_gradients_off_is_no_requires_grad_trick():
    head = "import torch\ndef unbroadcast(g, s):\n"
    rules = {"*": ["torch.set_grad_enabled", ".requires_grad_", "kw:requires_grad"]}
    for off in ("    with torch.set_grad_enabled(False):\n        return g\n", "    return g.requires_grad_(False)\n",
                "    return g.detach().requires_grad_(requires_grad=False)\n"):
        assert find_forbidden(head + off, rules, NAMES) == {}, off
    for on in ("    with torch.set_grad_enabled(True):\n        return g\n", "    return g.requires_grad_()\n",
               "    return g.requires_grad_(True)\n", "    return g.detach().requires_grad_(g.requires_grad)\n"):
        assert set(find_forbidden(head + on, rules, NAMES)) == {"unbroadcast"}, on


def test_private_parts_of_torch_blocks_and_spread_keywords_count():
    """What the run-time watch cannot wrap is read in the source: torch's private names written
    out (where anything of torch's is forbidden), a function defined inside a module-level
    block, keywords spread from a dict written out."""
    # torch.ops.aten under a public name (torch.fx.experimental.proxy_tensor.aten) is torch.ops.aten
    aten = {"*": ["torch.ops", "torch.ops.aten"]}
    assert set(find_forbidden("from torch.fx.experimental.proxy_tensor import aten\n"
                              "def f(x):\n    return aten.softmax(x, 0)\n", aten, ["f"])) == {"f"}
    private = "import torch\ndef broadcast_to(x, s):\n    return torch._VF.broadcast_tensors(x)\n"
    assert found(private) == {"broadcast_to": "torch._VF.broadcast_tensors"}
    assert "torch's private internals" in find_forbidden(private, RULES, NAMES)["broadcast_to"].message()
    assert find_forbidden(private, {"*": []}, NAMES) == {}
    assert found("import torch\ndef broadcast_to(x, s):\n    return torch.__version__\n") == {}
    for block in ("if True:\n", "try:\n", "with open('f') as f:\n", "for _ in [1]:\n"):
        src = "import torch\n" + block + "    def broadcast_to(x, s):\n        return torch.broadcast_shapes(s)\n"
        if block == "try:\n":
            src += "except Exception:\n    pass\n"
        assert found(src) == {"broadcast_to": "torch.broadcast_shapes"}, block
    for spread in ("**{'requires_grad': True}", "**dict(requires_grad=True)"):
        assert found(f"import torch\ndef unbroadcast(g, s):\n    return torch.ones(2, {spread})\n") == \
            {"unbroadcast": "requires_grad=..."}, spread
    assert found("def broadcast_to(x, s):\n    return object.__getattribute__(x, 'y')\n") == \
        {"broadcast_to": ".__getattribute__(...)"}


def test_an_own_method_named_like_a_watched_torch_function_is_spared():
    rules = {"*": [".scaled_dot_product_attention"]}
    src = ("class Attention:\n    def scaled_dot_product_attention(self, q):\n        return q\n"
           "    def forward(self, q):\n        return self.scaled_dot_product_attention(q)\n")
    assert find_forbidden(src, rules, ["Attention"]) == {}
