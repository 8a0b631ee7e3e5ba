"""Forbidden calls whose names are made at run time are caught while the student's code runs:
that function scores 0 with a message naming the call, and nothing else changes."""

from __future__ import annotations

import pytest
from conftest import ROOT, submission_with

SOLUTION = {ex: (ROOT / "solutions" / f"{ex}.py").read_text()
            for ex in ("broadcasting", "gradients", "sgd", "losses", "masked_softmax", "attention")}


def with_function(exercise: str, source: str) -> str:
    """The solution of ``exercise`` with ``source`` appended (it replaces a function of it)."""
    return SOLUTION[exercise] + "\n\n" + source


def graded(grader, tmp_path, exercise: str, source: str):
    result = grader.grade_path(submission_with(tmp_path, {exercise: source}))
    return result, [t for t in result.tests if t.exercise == exercise]


def covering(tests, name):
    return [t for t in tests if name in t.covers]


def test_each_exercise_catches_a_call_spelled_at_run_time(grader, full_marks, tmp_path):
    """Names made at run time in a namespace the syntax check cannot tell is torch's (``[torch][0]``;
    ``vars(torch)`` itself it reads as a look into torch's names)."""
    cases = [
        ("broadcasting", "broadcast_shape", "torch.broadcast_shapes",
         "def broadcast_shape(*shapes):\n    tail = 'shapes'\n    return tuple(vars([torch][0])['broadcast_' + tail](*shapes))\n"),
        # torch.broadcast_tensors called by torch's own code, for the student
        ("broadcasting", "broadcast_to", "torch.distributions.utils.broadcast_all",
         "_by_hand = broadcast_to\n"
         "def broadcast_to(x, shape):\n"
         "    target, tail = _by_hand(x, shape).shape, 'all'\n"
         "    return getattr([torch.distributions.utils][0], 'broadcast_' + tail)(x, x.new_empty(target))[0].clone()\n"),
        ("broadcasting", "broadcast_to", "numpy.broadcast_to",
         "import numpy\n"
         "_by_hand = broadcast_to\n"
         "def broadcast_to(x, shape):\n"
         "    target, tail = _by_hand(x, shape).shape, 'to'\n"
         "    return torch.from_numpy(getattr([numpy][0], 'broadcast_' + tail)(x.numpy(), tuple(target)).copy())\n"),
        ("gradients", "relu_backward", "torch.autograd.grad",
         "def relu_backward(dout, x):\n"
         "    part = 'grad'\n"
         "    x = x.detach().clone()\n"
         "    setattr(x, 'requires_' + part, True)\n"
         "    y = torch.relu(x)\n"
         "    return vars([torch][0])['auto' + part].grad(y, x, dout)[0]\n"),
        ("gradients", "tanh_backward", "torch.autograd.functional.vjp",
         "def tanh_backward(dout, x):\n"
         "    part = 'grad'\n"
         "    return vars([torch][0])['auto' + part].functional.vjp(torch.tanh, x, dout)[1]\n"),
        ("sgd", "train_linear_regression", "torch.optim.SGD",
         "def train_linear_regression(X, y, lr=0.03, epochs=3, batch_size=10, generator=None):\n"
         "    w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=True)\n"
         "    b = torch.zeros((), dtype=X.dtype, requires_grad=True)\n"
         "    part = 'tim'\n"
         "    opt = getattr(getattr([torch][0], 'op' + part), 'SGD')([w, b], lr=lr)\n"
         "    for _ in range(epochs):\n"
         "        for xb, yb in minibatches(X, y, batch_size, generator=generator):\n"
         "            opt.zero_grad()\n"
         "            (0.5 * (xb @ w + b - yb) ** 2).mean().backward()\n"
         "            opt.step()\n"
         "    return w.detach(), b.detach()\n"),
        ("attention", "dot_product_attention", "torch.nn.functional.scaled_dot_product_attention",
         "def dot_product_attention(queries, keys, values, valid_lens=None):\n"
         "    part = 'attention'\n"
         "    sdpa = getattr([torch.nn.functional][0], 'scaled_dot_product_' + part)\n"
         "    return sdpa(queries, keys, values), None\n"),
    ]
    for exercise, name, used, source in cases:
        result, tests = graded(grader, tmp_path / used, exercise, with_function(exercise, source))
        caught = covering(tests, name)
        assert caught and all(t.score == 0 for t in caught), (exercise, [t.output for t in caught])
        assert all(f"`{name}` uses `{used}`" in t.output for t in caught), (exercise, caught[0].output)
        scores = result.by_exercise()
        assert all(scores[ex] == full_marks[ex] for ex in scores if ex != exercise), scores


def test_a_call_seen_late_zeroes_the_tests_that_passed_before_it(grader, tmp_path):
    """Only 3-D inputs take the forbidden path; the 2-D cases ran first and passed, and still
    score 0: the function uses a forbidden call, like one found in its source."""
    source = with_function("losses", (
        "def softmax(x, dim=-1):\n"
        "    if x.dim() < 3:\n"
        "        z = x - x.detach().amax(dim=dim, keepdim=True)\n"
        "        return z.exp() / z.exp().sum(dim=dim, keepdim=True)\n"
        "    tail = 'max'\n"
        "    return getattr([torch][0], 'soft' + tail)(x, dim)\n"))
    result, tests = graded(grader, tmp_path, "losses", source)
    caught = covering(tests, "softmax")
    assert caught and all(t.score == 0 and t.status == "failed" for t in caught)
    assert all("`softmax` uses `torch.softmax`" in t.output for t in caught)
    others = [t for t in tests if "softmax" not in t.covers]
    assert others and all(t.status == "passed" for t in others)


def test_a_watched_function_put_back_by_the_student_zeroes_the_exercise(grader, full_marks, tmp_path):
    source = with_function("losses", (
        "_tail, _c = 'max', 'C'\n"
        "setattr(torch, 'soft' + _tail, getattr(getattr([torch][0], '_' + _c), '_VariableFunctions').softmax)\n"
        "def softmax(x, dim=-1):\n"
        "    return getattr([torch][0], 'soft' + _tail)(x, dim)\n"))
    result, tests = graded(grader, tmp_path, "losses", source)
    assert all(t.score == 0 for t in tests)
    assert all(t.output.endswith("your code replaced `torch.softmax`, which this exercise forbids and the grader "
                                 "watches for") for t in tests)
    assert all(t.output.startswith(f"`{t.covers[0]}` earns no points") for t in tests)
    scores = result.by_exercise()
    assert all(scores[ex] == full_marks[ex] for ex in scores if ex != "losses")


def test_calls_torch_makes_for_itself_are_not_counted(grader, full_marks, tmp_path):
    """F.mse_loss broadcasts its inputs with torch.broadcast_tensors (forbidden in broadcasting)
    and torch.no_grad is torch.autograd.no_grad (forbidden in gradients): using them is allowed."""
    broadcasting = with_function("broadcasting", (
        "_shape_of_broadcast = broadcast_shape\n"
        "def broadcast_shape(*shapes):\n"
        "    torch.nn.functional.mse_loss(torch.zeros(2, 1), torch.zeros(2, 1))\n"
        "    return _shape_of_broadcast(*shapes)\n"))
    gradients = with_function("gradients", (
        "_relu_backward = relu_backward\n"
        "def relu_backward(dout, x):\n"
        "    with torch.no_grad():\n"
        "        return _relu_backward(dout, x)\n"))
    result = grader.grade_path(submission_with(tmp_path, {"broadcasting": broadcasting, "gradients": gradients}))
    assert result.by_exercise() == full_marks


def test_student_code_recompiled_under_a_file_name_of_torch_is_caught_at_import(grader, tmp_path):
    """A function whose code object is remade to claim a file in torch's folder (its ``__code__``
    read by a name made at run time, ``type(f)`` for ``types.FunctionType``): reading the code and
    making a code object are audit events, so every function of the module scores 0, with the
    message of a loader at import."""
    source = with_function("losses", (
        "import os\n\n"
        "_tail = 'max'\n_attr = '__co' + 'de__'\n\n"
        "def _impl(x, dim):\n    return vars([torch][0])['soft' + _tail](x, dim)\n\n"
        "_impl = type(_impl)(getattr(_impl, _attr).replace(\n"
        "    co_filename=os.path.join(os.path.dirname(torch.__file__), '_impl.py')), globals())\n\n"
        "def softmax(x, dim=-1):\n    return _impl(x, dim)\n"))
    _, tests = graded(grader, tmp_path, "losses", source)
    assert tests and all(t.score == 0 for t in tests)
    line = source.splitlines().index("_impl = type(_impl)(getattr(_impl, _attr).replace(") + 1
    assert all(f"code outside any function (line {line}) uses `.__code__(...)`; that reaches into Python's internals"
               in t.output for t in covering(tests, "softmax"))


def test_a_forbidden_function_handed_to_torch_or_to_the_grader_is_still_the_students_call(grader, full_marks, tmp_path):
    """torch's code calls what it is handed (``nn.Module`` calls its ``forward``), and the worker
    calls a contract name bound straight to a torch function: such calls are the student's, unlike
    torch's own calls of a function by name (``F.mse_loss`` calling ``broadcast_tensors``)."""
    losses = with_function("losses", (
        "_tail = 'max'\n"
        "def softmax(x, dim=-1):\n"
        "    m = torch.nn.Module()\n"
        "    m.forward = vars([torch][0])['soft' + _tail]\n"
        "    return m(x, dim)\n\n"
        "log_softmax = vars([torch][0])['log_soft' + _tail]\n"))
    result, tests = graded(grader, tmp_path, "losses", losses)
    for name, used in (("softmax", "torch.softmax"), ("log_softmax", "torch.log_softmax")):
        caught = covering(tests, name)
        assert caught and all(t.score == 0 and f"uses `{used}`" in t.output for t in caught), name
    scores = result.by_exercise()
    assert all(scores[ex] == full_marks[ex] for ex in scores if ex != "losses")


def test_a_forbidden_module_used_without_its_init_or_through_another_module_is_noted(grader, full_marks, tmp_path):
    """A loss module made with ``object.__new__`` (its ``__init__`` never runs) still computes in
    ``forward``, called directly or through the module's call; ``nn.TransformerEncoderLayer``
    builds an ``nn.MultiheadAttention`` for itself, and calling that is the student's use of it."""
    attrs = ("weight=weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing, "
             "training=False, _parameters={}, _buffers={}, _modules={}, _non_persistent_buffers_set=set(), "
             "_forward_hooks={}, _forward_pre_hooks={}, _backward_hooks={}, _backward_pre_hooks={}, "
             "_forward_hooks_with_kwargs={}, _forward_hooks_always_called={}, _forward_pre_hooks_with_kwargs={}")
    losses = with_function("losses", (
        "import types\n"
        "_name = bytes.fromhex('43726f7373456e74726f70794c6f7373').decode()\n"      # CrossEntropyLoss
        "def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0):\n"
        "    cls = getattr((torch.nn,)[0], _name)\n"
        f"    if reduction == 'sum':\n        return cls.forward(types.SimpleNamespace({attrs}), logits, targets)\n"
        "    module = object.__new__(cls)\n"
        f"    vars(module).update({attrs})\n"
        "    return module(logits, targets)\n"))
    attention = with_function("attention", (
        "def dot_product_attention(queries, keys, values, valid_lens=None):\n"
        "    layer = torch.nn.TransformerEncoderLayer(queries.shape[-1], 1, dtype=queries.dtype)\n"
        "    return layer.self_attn(queries, keys, values)\n"))
    result = grader.grade_path(submission_with(tmp_path, {"losses": losses, "attention": attention}))
    for name, used in (("cross_entropy", "torch.nn.CrossEntropyLoss.forward"),
                       ("dot_product_attention", "torch.nn.MultiheadAttention.forward")):
        caught = covering(result.tests, name)
        assert caught and all(t.score == 0 for t in caught), name
        assert all(f"`{name}` uses `{used}`" in t.output for t in caught if "uses" in t.output), name
    scores = result.by_exercise()
    assert all(scores[ex] == full_marks[ex] for ex in scores if ex not in ("losses", "attention"))


def test_switching_gradients_off_while_the_code_runs_is_allowed(grader, full_marks, tmp_path):
    gradients = with_function("gradients", (
        "_numerical_grad = numerical_grad\n"
        "def numerical_grad(f, x, h=1e-5):\n"
        "    torch.zeros(1).requires_grad_(False)\n"
        "    with torch.set_grad_enabled(False):\n"
        "        return _numerical_grad(f, x, h)\n"))
    result, _ = graded(grader, tmp_path, "gradients", gradients)
    assert result.by_exercise() == full_marks


# a pickle naming torch._C._VariableFunctionsClass.softmax (unwatched), as pickle.dumps writes it
SOFTMAX_PICKLE = (b"\x80\x04\x95M\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x07getattr\x94\x93\x94\x8c\x08"
                  b"torch._C\x94\x8c\x17_VariableFunctionsClass\x94\x93\x94\x8c\x07softmax\x94\x86\x94R\x94.")
LOADS = "''.join(map(chr, [108, 111, 97, 100, 115]))"        # "loads", made at run time
EVAL = "''.join(map(chr, [101, 118, 97, 108]))"              # "eval"
# a field name that dataclasses (which does not check it is a name) writes into the text of __eq__
INJECTING_DATACLASS = ("import dataclasses\n"
                       "@dataclasses.dataclass(init=False, repr=False)\n"
                       "class Box:\n"
                       "    'A box.'\n"
                       "    __annotations__ = {'a,)if 0 else torch._C._VariableFunctions.softmax#': int}\n")
MEMORY_LOADER = ("import importlib.abc\nimport importlib.util\n"
                 "class MemoryLoader(importlib.abc.SourceLoader):\n"
                 "    def get_filename(self, fullname):\n"
                 "        return '/nonexistent/kernels.py'\n"
                 "    def get_data(self, path):\n"
                 "        return b'import torch\\nSM = torch._C._VariableFunctions.softmax\\n'\n"
                 "def load_kernels():\n"
                 "    spec = importlib.util.spec_from_loader('kernels', MemoryLoader())\n"
                 "    module = importlib.util.module_from_spec(spec)\n"
                 "    spec.loader.exec_module(module)\n"
                 "    return module\n")


def test_code_run_from_strings_or_bytes_is_caught_however_student_code_reached_it(grader, full_marks, tmp_path):
    """Python's audit events catch a loader that the syntax check cannot see: ``from pickle
    import *`` then ``globals()[name]``; ``eval`` from the builtins module reached as
    ``print.__self__``, and handed to torch's code, which calls it; code written into a
    dataclass's methods through a field name that is no name; source run by importlib's
    ``SourceLoader`` or by ``torch.fx`` (whatever text a CodeGen gives); the garbage collector's
    objects read by torch's code (a student could find the watch there); a string run while the
    worker encodes the answer (a tensor subclass's ``contiguous``). Each got 20/20 before."""
    cases = [
        ("pickle.loads", f"from pickle import *\n_P = {SOFTMAX_PICKLE!r}\n"
                         f"def softmax(x, dim=-1):\n    return globals()[{LOADS}](_P)(x, dim)\n"),
        ("builtins.compile", f"def softmax(x, dim=-1):\n"
                             f"    return getattr(print.__self__, {EVAL})('torch.ops.aten._softmax')(x, dim, False)\n"),
        ("builtins.compile", f"def softmax(x, dim=-1):\n    run = torch.no_grad()(getattr(print.__self__, {EVAL}))\n"
                             "    return run('torch.ops.aten._softmax')(x, dim, False)\n"),
        ("builtins.exec", "def softmax(x, dim=-1):\n" + "".join(f"    {line}\n" for line in INJECTING_DATACLASS.splitlines())
                          + "    return (Box() == Box())(x, dim)\n"),
        ("builtins.compile", f"{MEMORY_LOADER}def softmax(x, dim=-1):\n    return load_kernels().SM(x, dim)\n"),
        ("builtins.exec", "import torch.fx\n"            # torch.fx runs the text a CodeGen of the student's gives
                          "class Gen(torch.fx.graph.CodeGen):\n"
                          "    def _gen_python_code(self, nodes, root_module, namespace, **kwargs):\n"
                          "        return torch.fx.graph.PythonCode('def forward(self, s):\\n    return s\\n', {}, {})\n"
                          "def softmax(x, dim=-1):\n    graph = torch.fx.Graph()\n    graph.set_codegen(Gen())\n"
                          "    torch.fx.GraphModule(torch.nn.Module(), graph)\n"
                          "    return torch.exp(x) / torch.exp(x).sum(dim, keepdim=True)\n"),
        (".get_objects(...)", "import gc\n"                     # gc's objects (the watch among them) read by torch
                              "def softmax(x, dim=-1):\n"
                              "    torch.no_grad()(getattr(gc, 'stcejbo_teg'[::-1]))()\n"
                              "    return torch.exp(x) / torch.exp(x).sum(dim, keepdim=True)\n"),
        ("builtins.compile", "class Late(torch.Tensor):\n"       # runs while the worker encodes the answer
                             "    def contiguous(self, *args, **kwargs):\n"
                             f"        return getattr(print.__self__, {EVAL})('torch.ops.aten._softmax')(*self.late, False)\n"
                             "def softmax(x, dim=-1):\n    out = torch.empty_like(x).as_subclass(Late)\n"
                             "    out.late = (x.detach(), dim)\n    return out\n"),
    ]
    for i, (used, source) in enumerate(cases):
        result, tests = graded(grader, tmp_path / str(i), "losses", with_function("losses", source))
        caught = covering(tests, "softmax")
        assert caught and all(t.score == 0 and f"`softmax` uses `{used}`" in t.output
                              and "reaching into Python's or the grader's internals" in t.output for t in caught), i
        assert all(t.score == t.max_score for t in tests if "softmax" not in t.covers), i
        assert {ex: s for ex, s in result.by_exercise().items() if ex != "losses"} == \
            {ex: s for ex, s in full_marks.items() if ex != "losses"}


KERNEL_SOURCE = "_SM = torch._C._VariableFunctions.softmax"
AT_IMPORT = {     # what loads the kernel at import, the line the feedback names (the innermost of the module), the use
    "unpickled": (f"from pickle import *\n_P = {SOFTMAX_PICKLE!r}\n_SM = globals()[{LOADS}](_P)\n",
                  f"_SM = globals()[{LOADS}](_P)", "pickle.loads"),
    "dataclass": (f"{INJECTING_DATACLASS}_SM = Box() == Box()\n", "@dataclasses.dataclass(init=False, repr=False)",
                  "builtins.exec"),
    "loader": (f"{MEMORY_LOADER}_SM = load_kernels().SM\n", "    spec.loader.exec_module(module)", "builtins.compile"),
    "written": ("import os, sys, tempfile\n_dir = tempfile.mkdtemp()\n"
                "with open(os.path.join(_dir, 'kernels.py'), 'w') as _f:\n"
                "    _f.write('import torch\\nSM = torch._C._VariableFunctions.softmax\\n')\n"
                "sys.path.insert(0, _dir)\nimport kernels\n_SM = kernels.SM\n", "import kernels", "builtins.exec"),
    "site": ("import importlib, os, site, sys, tempfile\n_root = tempfile.mkdtemp()\n"     # site.py runs a .pth's line
             "_pkgs = os.path.join(_root, 'lib', 'python%d.%d' % sys.version_info[:2], 'site-packages')\n"
             "os.makedirs(_pkgs)\nos.makedirs(os.path.join(_root, 'bin'))\n"
             "open(os.path.join(_root, 'pyvenv.cfg'), 'w').write('include-system-site-packages = false\\n')\n"
             "open(os.path.join(_pkgs, 'k.pth'), 'w').write('import sys; sys.kernel = sys.modules[\"torch\"]._C._VariableFunctions.softmax\\n')\n"
             "_saved = sys.executable, sys.prefix, sys.exec_prefix\nsys.executable = os.path.join(_root, 'bin', 'python')\n"
             "importlib.reload(site)\nsys.executable, sys.prefix, sys.exec_prefix = _saved\n_SM = sys.kernel\n",
             "importlib.reload(site)", "builtins.exec"),
    "field": ("import dataclasses\n_READS = []\n"                 # a field whose name is a name on the first read only
              "class _Name(dataclasses.Field):\n    __slots__ = ()\n    @property\n    def name(self):\n"
              "        _READS.append(1)\n"
              "        return 'x' if len(_READS) == 1 else 'x=(_K.update(k=torch._C._VariableFunctions.softmax)), "
              "*_y, _return_type=None, **_z):#'\n"
              "    @name.setter\n    def name(self, value):\n        pass\n"
              "@dataclasses.dataclass\nclass _Base:\n    x: int = dataclasses.field(init=False, repr=False, compare=False)\n"
              "_Base.__dataclass_fields__['x'].__class__ = _Name\n_K = {}\n"
              "@dataclasses.dataclass  # its methods' text takes the second name\nclass _Child(_Base):\n    'Doc.'\n"
              "_SM = _K['k']\n", "@dataclasses.dataclass  # its methods' text takes the second name", "builtins.exec"),
    "thread": ("import threading\n_b = __builtins__ if isinstance(__builtins__, dict) else vars(__builtins__)\n"
               f"_t = threading.Thread(target=_b['ex' + 'ec'], args=({KERNEL_SOURCE!r}, globals()))\n"
               "_t.start()\n_t.join()\n", None, "builtins.compile"),
}


@pytest.mark.parametrize("route", AT_IMPORT)
def test_a_loader_reached_at_import_zeroes_every_function_of_the_module(grader, tmp_path, route):
    """Unpickled (``from pickle import *``, a name made at run time), written into a dataclass's
    methods (by a field name, or by a field whose name changes after it was checked), run by importlib's ``SourceLoader``, written to a file and imported, written to a
    ``.pth`` file that ``site`` runs when reloaded, or run by a thread whose target is ``exec``
    itself (no student frame on its stack), at import: what it made is there for every
    function, as with a loader the syntax check finds at import."""
    code, marked, used = AT_IMPORT[route]
    source = with_function("losses", f"{code}def softmax(x, dim=-1):\n    return _SM(x, dim)\n")
    _, tests = graded(grader, tmp_path, "losses", source)
    place = f" (line {source.splitlines().index(marked) + 1})" if marked else ""
    assert tests and all(t.score == 0 and f"code outside any function{place} uses `{used}`; that loads "
                         "or runs code" in t.output for t in tests), tests[0].output


def test_a_finalizer_that_runs_a_string_after_a_request_zeroes_every_function(grader, tmp_path):
    """A finalizer whose callable is ``exec`` itself runs once the worker drops the request's
    values, outside the request and with no student frame on the stack: it counts against every
    function (it rebinds ``softmax`` to torch's kernel for later requests)."""
    source = with_function("losses", (
        "import weakref\n_b = __builtins__ if isinstance(__builtins__, dict) else vars(__builtins__)\n"
        "_honest = softmax\n"
        "def softmax(x, dim=-1):\n"
        f"    weakref.finalize(x, _b['ex' + 'ec'], {'softmax = torch._C._VariableFunctions.softmax'!r}, globals())\n"
        "    return _honest(x, dim)\n"))
    _, tests = graded(grader, tmp_path, "losses", source)
    assert sum(t.score for t in covering(tests, "softmax")) == 0
    assert any("code outside any function uses `builtins.compile`" in t.output for t in tests)


def test_student_code_that_imports_the_grader_scores_zero(grader, tmp_path):
    """The grader's own modules, loaded in the worker, hold the watch: importing them to switch
    it off (and then run a string of code) counts against every function."""
    source = with_function("losses", (
        "from autograder import forbidden_watch as _fw\n_fw._IN_HOOK.append('off')\n"
        "_fw.ForbiddenWatch._note = lambda *args: None\n"
        f"def softmax(x, dim=-1):\n    return getattr(print.__self__, {EVAL})('torch.ops.aten._softmax')(x, dim, False)\n"))
    _, tests = graded(grader, tmp_path, "losses", source)
    line = source.splitlines().index("_fw._IN_HOOK.append('off')") + 1
    assert tests and all(t.score == 0 and f"code outside any function (line {line}) uses `autograder.forbidden_watch."
                         "_IN_HOOK.append`; that changes the grader" in t.output for t in tests)


def test_imports_and_the_code_honest_libraries_write_for_themselves_are_not_counted(grader, full_marks, tmp_path):
    """Imports inside a function (mpmath's runs code it writes while it is imported), a named
    tuple, a typed named tuple and a dataclass made at import or while a request runs (they write
    and run code; a dataclass without ``__init__`` parses a signature), string annotations
    (compiled to forward references), a traceback printed or logged (it parses the failing line),
    printing a tensor, and torch making what it needs on first use raise audit events of code
    compiled or run from strings: none is the student's."""
    losses = with_function("losses", (
        "import collections\nimport dataclasses\nimport logging\nimport traceback\nimport typing\n\n"
        "@dataclasses.dataclass\nclass Shifted:\n    values: object\n    dim: int\n\n"
        "Pair = collections.namedtuple('Pair', 'exp total')\n"
        "_softmax = softmax\n\n"
        "def softmax(x, dim=-1):\n"
        "    import fractions\n    from numpy import linalg\n    import mpmath\n"
        "    Local = collections.namedtuple('Local', ['x', 'dim'])\n"
        "    class Typed(typing.NamedTuple):\n        x: 'torch.Tensor'\n"
        "    @dataclasses.dataclass(frozen=True)\n    class Step:\n        x: object\n"
        "    @dataclasses.dataclass(init=False)\n    class Settings:\n        dim: int\n"
        "    try:\n        _check_dim(x, 'no dim')\n    except Exception:\n"
        "        traceback.print_exc()\n        logging.getLogger('demo').warning('checked', exc_info=True)\n"
        "    xs = typing.cast(typing.List['torch.Tensor'], [x])\n"
        "    print(Pair(x, Local(x, dim)), Typed(x), Shifted(x, dim), Step(x), Settings, fractions.Fraction(1, 3))\n"
        "    return _softmax(Step(xs[0]).x, dim)\n"))
    result, _ = graded(grader, tmp_path, "losses", losses)
    assert result.by_exercise() == full_marks


def test_libraries_that_write_code_from_names_and_numbers_are_not_counted(grader, full_marks, tmp_path):
    """networkx's decorators write their wrappers' code (and swap a function's ``__code__``) on
    first use; ``sympy.simplify`` writes code for polynomials: a gradients student checking a
    derivative with sympy at import, in a notebook's demo cell; ``help`` of a named tuple or of
    ``torch.Size`` evaluates ``sys.maxsize``, a default of the built-in ``index``."""
    gradients = with_function("gradients", (
        "import inspect\nimport networkx as nx\nimport sympy as sp\n"
        "_signature = inspect.signature(torch.Size.index)\n"
        "_path = nx.shortest_path(nx.path_graph(4), 0, 3)\n"
        "_s = sp.symbols('s')\n_derivative = sp.simplify(sp.exp(_s) / (1 + sp.exp(_s)))\n"))
    result, _ = graded(grader, tmp_path, "gradients", gradients)
    assert result.by_exercise() == full_marks


def test_timers_private_annotations_and_profiler_marks_of_honest_code_are_not_counted(grader, full_marks, tmp_path):
    """``timeit`` given a function writes and runs code of its own; singledispatch evaluates
    string annotations (``from __future__ import annotations``) naming the module's private
    classes; ``torch.profiler.record_function`` is ``torch.autograd.profiler``'s, but no gradient;
    the profiler's stacks (``with_stack=True``, PyTorch's tutorial) make torch import modules and
    read code objects from its C code."""
    masked_softmax = ("from __future__ import annotations\n" + SOLUTION["masked_softmax"] + (
        "\nimport functools\nimport timeit\n"
        "class _Lengths(tuple):\n    pass\n"
        "@functools.singledispatch\ndef _describe(v):\n    return 'value'\n"
        "@_describe.register\ndef _(v: _Lengths):\n    return 'lengths'\n"
        "_X = torch.randn(2, 3, 4)\n"
        "_seconds = timeit.timeit(lambda: masked_softmax(_X, torch.tensor([1, 2])), number=2)\n"
        "_best = min(timeit.repeat(lambda: masked_softmax(_X), number=1, repeat=2))\n"))
    gradients = with_function("gradients", (
        "_relu_backward = relu_backward\n"
        "def relu_backward(dout, x):\n    with torch.profiler.record_function('relu_backward'):\n"
        "        return _relu_backward(dout, x)\n"))
    sgd = with_function("sgd", (
        "with torch.profiler.profile(with_stack=True) as _prof:\n"
        "    train_linear_regression(torch.randn(20, 3), torch.randn(20), epochs=1)\n"
        "_table = _prof.key_averages().table(row_limit=3)\n"))
    result = grader.grade_path(submission_with(tmp_path, {"masked_softmax": masked_softmax, "gradients": gradients,
                                                          "sgd": sgd}))
    assert result.by_exercise() == full_marks


def test_errors_python_only_prints_are_not_code_run_from_strings(grader, full_marks, tmp_path):
    """A ``__del__`` that fails on a half-made object (its ``__init__`` refused the arguments),
    at import and in a request, and a demo thread that dies: Python prints each ("Exception
    ignored in"), and its own printing compiles the line it shows."""
    sgd = with_function("sgd", (
        "class SGD(SGD):\n"
        "    def __del__(self):\n        self.momentum_buffers.clear()\n"
        "try:\n    SGD([torch.zeros(2)], lr=-1.0)\nexcept ValueError as e:\n    print('as expected:', e)\n"
        "import threading\n"
        "def _demo():\n    raise RuntimeError('a demo thread that fails')\n"
        "_t = threading.Thread(target=_demo)\n_t.start()\n_t.join()\n"))
    result, _ = graded(grader, tmp_path, "sgd", sgd)
    assert result.by_exercise() == full_marks


def test_a_look_into_a_traceback_is_the_students_and_the_workers_own_is_not(grader, tmp_path):
    """A function that reads a frame of a traceback (by a name made at run time) is noted; the
    worker reads the frames of every error a request raises, to say where it was raised, and that
    look is its own: the module's other functions, which raise the errors the tests expect, keep
    full marks."""
    source = ("def softmax(x, dim=-1):\n    try:\n        raise ValueError('a look inside')\n"
              "    except ValueError as e:\n        getattr(e.__traceback__, 'emarf_bt'[::-1])\n"
              "    return torch.exp(x) / torch.exp(x).sum(dim, keepdim=True)\n")
    result, tests = graded(grader, tmp_path, "losses", with_function("losses", source))
    caught = covering(tests, "softmax")
    assert caught and all(t.score == 0 and "`softmax` uses `.tb_frame(...)`" in t.output for t in caught)
    assert all(t.score == t.max_score for t in tests if "softmax" not in t.covers)
    assert any("rejects_invalid" in t.nodeid for t in tests if "softmax" not in t.covers)


def test_a_finalizer_fired_by_the_notebook_runner_zeroes_every_function(grader, tmp_path):
    """A notebook cell raises an error holding an object whose finalizer is ``exec`` itself: the
    grader's cell runner frees it while the module loads, with no student frame on the stack."""
    import nbformat

    cell = ("import weakref\n_b = __builtins__ if isinstance(__builtins__, dict) else vars(__builtins__)\n"
            "class _Holder:\n    pass\n"
            "def _armed():\n    h = _Holder()\n"
            f"    weakref.finalize(h, _b['ex' + 'ec'], {'softmax = torch._C._VariableFunctions.softmax'!r}, globals())\n"
            "    return h\n"
            "raise ValueError(_armed())\n")
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SOLUTION["losses"]),
                                           nbformat.v4.new_code_cell(cell)])
    folder = tmp_path / "sub"
    folder.mkdir()
    nbformat.write(book, folder / "losses.ipynb")
    result = grader.grade_path(folder)
    tests = [t for t in result.tests if t.exercise == "losses"]
    assert tests and all(t.score == 0 and "code outside any function uses `builtins.compile`" in t.output for t in tests)


def test_a_sibling_module_is_checked_under_the_rules_of_the_exercise_that_calls_it(grader, full_marks, tmp_path):
    """losses' ``softmax`` calls a helper of the student's own ``masked_softmax.py`` that uses
    torch's private kernel (allowed nowhere in losses, unseen at run time, and masked_softmax's
    own functions do not reach it): 20/20 before. Helpers of that module that use nothing losses
    forbids stay allowed, as attention importing ``masked_softmax`` does."""
    masked_softmax = SOLUTION["masked_softmax"] + (
        "\n\ndef row_weights(x, dim):\n    return torch._C._VariableFunctions.softmax(x, dim)\n\n"
        "def copy_rows(x):\n    return x.clone()\n")
    losses = with_function("losses", "import masked_softmax\n_honest = softmax\n_honest_log = log_softmax\n"
                                     "def softmax(x, dim=-1):\n    return masked_softmax.row_weights(x, dim)\n"
                                     "def log_softmax(x, dim=-1):\n    return _honest_log(masked_softmax.copy_rows(x), dim)\n")
    attention = with_function("attention", "from masked_softmax import masked_softmax, copy_rows\n")
    result = grader.grade_path(submission_with(tmp_path, {"masked_softmax": masked_softmax, "losses": losses,
                                                          "attention": attention}))
    caught = covering(result.tests, "softmax")
    line = losses.splitlines().index("    return masked_softmax.row_weights(x, dim)") + 1
    assert caught and all(t.score == 0 and f"`softmax` uses `masked_softmax.row_weights` (line {line}), from your "
                          "other module" in t.output for t in caught)
    assert all(t.score == t.max_score for t in result.tests if t.exercise == "losses" and "softmax" not in t.covers)
    scores = result.by_exercise()
    assert all(scores[ex] == full_marks[ex] for ex in scores if ex != "losses")
