"""Forbidden calls are found however they are spelled, and only where the contract says."""

from __future__ import annotations

from autograder.forbidden import UNCHECKABLE, find_forbidden

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
    }
    for source, used in cases.items():
        assert found(source) == {"broadcast_to": used}, source
    message = find_forbidden("def broadcast_to(x, s):\n    return eval('x')", {}, NAMES)["broadcast_to"].message()
    assert message == ("`broadcast_to` uses `builtins.eval` (line 2): reaching into Python's or the grader's internals "
                       "(closures, frames, a class's bases, code run from strings) is not allowed in any exercise, "
                       "and none needs it")
    assert found("def eval(x):\n    return x\ndef broadcast_to(x, s):\n    return eval(x)") == {}
    assert found("def broadcast_to(x, s):\n    return x.eval().compile") == {}
    assert found("def broadcast_to(x, s):\n    return list(x.modules())") == {}             # nn.Module.modules()
    assert found("def broadcast_to(x, s, compile=False):\n    return compile") == {}
