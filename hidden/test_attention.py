"""Hidden suite for the attention exercise (20 points).

Every expected value comes from ``reference/attention.py`` (the book's masked softmax and
attention built on PyTorch) and every expected gradient from autograd through that reference.

Calls to student code are sent without waiting (``*_later``) and checked when their answers
arrive, in order; a test waits only to make a module (``new``) and to read the attention
weights a forward pass stored (``get``).
"""


import functools

import pytest
import torch

from autograder.testing import (
    expect_answer_or_raises_later,
    expect_close,
    expect_equal,
    expect_raises_later,
    expect_unchanged,
    is_close,
)
from reference import attention as ref

pytestmark = pytest.mark.exercise("attention")

DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]
SEEDS = [0, 1, 2]
VALID_KINDS = ["none", "1d-int", "2d-int", "1d-float", "2d-float"]
LEN_DTYPES = (torch.int64, torch.int32, torch.float32, torch.float64)
# valid_lens are "as in masked_softmax", whose suite takes these dtypes too
NARROW_LEN_DTYPES = (torch.int16, torch.int8, torch.uint8, torch.float16)
ARG_NAMES = ("queries", "keys", "values", "valid_lens")


# --------------------------------------------------------------------------- helpers


def _randn(g, *shape, dtype=torch.float32):
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)


def _qkv(seed, dtype, b=2, nq=3, nk=5, d=4, dv=6, layout="contiguous"):
    """Random queries (b, nq, d), keys (b, nk, d), values (b, nk, dv).

    ``layout="strided"`` gives non-contiguous tensors (transposed and sliced views).
    """
    g = torch.Generator().manual_seed(1000 + seed)
    if layout == "contiguous":
        return _randn(g, b, nq, d, dtype=dtype), _randn(g, b, nk, d, dtype=dtype), \
            _randn(g, b, nk, dv, dtype=dtype)
    q = _randn(g, b, d, nq, dtype=dtype).transpose(1, 2)           # transposed
    k = _randn(g, nk, b, d, dtype=dtype).transpose(0, 1)           # transposed batch axis
    v = _randn(g, b, 2 * nk, dv + 3, dtype=dtype)[:, ::2, 1:dv + 1]  # strided slice
    assert not (q.is_contiguous() or k.is_contiguous() or v.is_contiguous())
    return q, k, v


def _valid_lens(kind, seed, b, nq, nk):
    """Valid lengths between 1 and nk, of the given kind (None, 1-D or 2-D, int or float)."""
    if kind == "none":
        return None
    g = torch.Generator().manual_seed(2000 + seed)
    if kind.startswith("1d"):
        lens = torch.randint(1, nk + 1, (b,), generator=g)
    else:
        lens = torch.randint(1, nk + 1, (b, nq), generator=g)
    if kind.endswith("float"):
        lens = lens.to(torch.float32)
    return lens


def _lens_in_every_dtype(lens):
    """``lens`` in each of LEN_DTYPES, contiguous and as a strided (non-contiguous) view: a
    conversion that makes no copy for one dtype or layout (``.int()`` of int32 lengths, say)
    and then clamps in place shows in that one only."""
    out = []
    for len_dtype in LEN_DTYPES:
        strided = torch.zeros(*lens.shape[:-1], 2 * lens.shape[-1], dtype=len_dtype)[..., ::2]
        strided.copy_(lens)
        out += [lens.to(len_dtype).contiguous(), strided]
    return out


def _lens_huge_and_narrow(lens):
    """Whole-number ``lens`` (0 to 127, a 0 among them) as masked_softmax takes them too: in each
    of NARROW_LEN_DTYPES (a uint8 0 less 1 wraps around to 255), and with its largest entries
    raised to 2**40 (int64) and to 1e10 (float32), far above any num_keys (a cast to int32
    wraps them around)."""
    largest = lens == lens.max()
    return [lens.to(len_dtype) for len_dtype in NARROW_LEN_DTYPES] + [
        torch.where(largest, 2**40, lens), torch.where(largest, 1e10, lens.to(torch.float32))]


def _without_lens_later(obj, ref_mod, queries, keys, values):
    """Send ``obj.forward(queries, keys, values)``, without valid lengths, to a module that was
    called with some before; its output must be the reference's unmasked one."""
    expected = ref_mod(queries, keys, values)
    obj.forward.later(
        lambda out: expect_close(out, expected, what="output of a call without valid_lens after calls with them",
                                 hint="valid_lens=None masks nothing: keep no lengths from an earlier call"),
        queries, keys, values)


def _cancelling_float64_probe():
    """Float64 queries, keys and values (d = 3) on which the output tells a float64 scale
    1/sqrt(d) from a float32 one: two values of 1e4 and about -1.3e5 whose weighted sum cancels,
    so a float32 sqrt(d) (torch.sqrt of a float32 tensor, ~2e-8 off) moves the output by ~4e-4
    and float64 arithmetic by ~1e-11."""
    q = torch.tensor([[[1.0, 1.0, 1.0]]], dtype=torch.float64)
    k = torch.tensor([[[1.5, 1.5, 1.5], [0.0, 0.0, 0.0]]], dtype=torch.float64)
    _, w = ref.dot_product_attention(q, k, torch.zeros(1, 2, 1, dtype=torch.float64))
    return q, k, _cancelling_values(w)


def _cancelling_values(weights):
    """Float64 values (1, 2, 1) of 1e4 and -1e4 * w0 / w1 for attention weights [[[w0, w1]]]: the
    output, their weighted sum, cancels to about 0, so weights off by float32 rounding (~1e-7)
    move it by ~1e-3, far outside float64's tolerance."""
    w = weights.detach()
    return torch.tensor([[[1e4], [-1e4 * (w[0, 0, 0] / w[0, 0, 1]).item()]]], dtype=torch.float64)


def _ref_grads(fn, args, wrt, grad_output, output_index=None, params=None):
    """Gradients through the reference by autograd: (value, grads of args[wrt], {param: grad})."""
    args = list(args)
    for i in wrt:
        args[i] = args[i].detach().clone().requires_grad_(True)
    out = fn(*args)
    if output_index is not None:
        out = out[output_index]
    params = dict(params or {})
    inputs = [args[i] for i in wrt] + list(params.values())
    grads = torch.autograd.grad(out, inputs, grad_output, allow_unused=True)
    arg_grads = grads[:len(wrt)]
    param_grads = dict(zip(params.keys(), grads[len(wrt):]))
    return out.detach(), arg_grads, param_grads


def _randomize(module, seed, scale=0.5):
    """Give a reference module reproducible random weights."""
    g = torch.Generator().manual_seed(3000 + seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * scale)
    return module


def _twin(student, cls_name, args, kwargs, dtype, seed):
    """A reference module with random weights and the student's module holding the same weights.

    Both are in eval mode and of the given dtype. The student's ``state_dict`` keys must equal
    the reference's.
    """
    ref_mod = _randomize(getattr(ref, cls_name)(*args, **kwargs), seed).to(dtype).eval()
    obj = getattr(student.attention, cls_name).new_later(*args, **kwargs)
    # both ways: a module made while the student's default dtype was float64 is made float32 too
    (obj.double if dtype == torch.float64 else obj.float).call_later()
    ref_keys = sorted(ref_mod.state_dict().keys())
    obj.state_dict.later(
        lambda state: expect_equal(
            sorted(state.keys()), ref_keys, what="state_dict() keys",
            hint="name the layers exactly as in the contract (W_q, W_k, W_v, W_o, w_v) "
                 "and give them the bias setting the contract asks for"))
    obj.load_state_dict.call_later(
        {k: v.detach().clone() for k, v in ref_mod.state_dict().items()})
    obj.eval.call_later()
    return ref_mod, obj


def _expect_grads(got, exp_grads, exp_param_grads=None, names=("queries", "keys", "values")):
    for name, g_got, g_exp in zip(names, got.grads, exp_grads):
        if g_exp is None:            # no gradient flows (e.g. from the weights to the values)
            if g_got is None:
                continue
            g_exp = torch.zeros_like(g_got)
        expect_close(g_got, g_exp, what=f"gradient w.r.t. {name}")
    if exp_param_grads is not None:
        expect_equal(sorted(got.param_grads.keys()), sorted(exp_param_grads.keys()),
                     what="names of the parameters with gradients")
        for name, g_exp in exp_param_grads.items():
            expect_close(got.param_grads[name], g_exp, what=f"gradient w.r.t. parameter {name}")


def _expect_args_unchanged(names, before, after):
    """Each tensor argument (named by ``names``, in order) holds the same values after the call."""
    for name, b, a in zip(names, before, after):
        expect_unchanged(b, a, what=name)


class _FixedDropout(torch.nn.Module):
    """A dropout whose mask is known: multiplies each weight by ``scale`` (0 or 1/(1-p)). Put in
    place of a reference module's dropout, it replays a training-mode pass of the student's."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, weights):
        return weights * self.scale


def _close(expected, what):
    """A check (for ``later``) that the value is close to ``expected``."""
    return lambda value: expect_close(value, expected, what=what)


def _detailed_later(fn, check, args, by_name):
    """Send ``fn.detailed(*args)`` (queries, keys, values[, valid_lens]); with ``by_name`` every
    argument goes by the contract's name (``queries=``, ...). ``check`` receives the result, its
    ``args`` holding all the arguments in order either way."""
    if not by_name:
        fn.detailed_later(check, *args)
        return

    def in_order(res):
        res.args = [res.kwargs[name] for name in ARG_NAMES[:len(args)]]
        check(res)

    fn.detailed_later(in_order, **dict(zip(ARG_NAMES, args)))


def _dpa_later(student, args, expected=None, *, weights="attention weights", output="output",
               unchanged=False, by_name=False):
    """Send ``dot_product_attention(*args)`` (with ``by_name``, every argument by the contract's
    name). When the answer arrives its (output, weights) are compared with ``expected`` (default:
    the reference's) and, if ``unchanged``, the inputs are checked to be left unmodified."""
    exp_out, exp_w = ref.dot_product_attention(*args) if expected is None else expected

    def check(res):
        out, w = res.value
        expect_close(w, exp_w, what=weights)
        expect_close(out, exp_out, what=output)
        if unchanged:
            _expect_args_unchanged(ARG_NAMES, args, res.args)

    _detailed_later(student.attention.dot_product_attention, check, args, by_name)


def _dpa_answer_or_raises_later(student, args, hint):
    """Send ``dot_product_attention(*args)``, whose args the contract lets it refuse: it raises
    ValueError, or its (output, weights) are the reference's."""
    exp_out, exp_w = ref.dot_product_attention(*args)
    call = ("dot_product_attention", args)

    def check(res):
        out, w = res.value
        expect_close(w, exp_w, what="attention weights", call=call, hint=hint)
        expect_close(out, exp_out, what="output", call=call, hint=hint)

    expect_answer_or_raises_later(ValueError, student.attention.dot_product_attention, check, *args, call=call,
                                  hint=hint)


def _grads_later(fn, ref_fn, args, grad_out, output_index=None, params=False):
    """Send ``fn.with_grad(*args)`` w.r.t. queries, keys and values (and the module's
    parameters if ``params``); when the answer arrives, compare the value and the gradients
    with autograd through ``ref_fn``."""
    value, grads, pgrads = _ref_grads(ref_fn, args, (0, 1, 2), grad_out, output_index=output_index,
                                      params=dict(ref_fn.named_parameters()) if params else None)

    def check(got):
        out = got.value if output_index is None else got.value[output_index]
        expect_close(out, value, what="weights" if output_index == 1 else "output")
        _expect_grads(got, grads, pgrads if params else None)

    fn.with_grad_later(check, *args, wrt=(0, 1, 2), grad_output=grad_out,
                       output_index=output_index, params=params)


def _transpose_later(student, name, x, heads, by_name=False):
    """Send ``name(x, heads)`` (transpose_qkv or transpose_output; with ``by_name``, as
    ``name(X=x, num_heads=heads)``, the contract's names); when the answer arrives, compare it
    with the reference's and check that ``x`` was left unmodified."""
    expected = getattr(ref, name)(x, heads)

    def check(res):
        expect_close(res.value, expected, what=f"{name} output")
        expect_unchanged(x, res.kwargs["X"] if by_name else res.args[0], what="X")

    if by_name:
        getattr(student.attention, name).detailed_later(check, X=x, num_heads=heads)
    else:
        getattr(student.attention, name).detailed_later(check, x, heads)


def _forward_later(obj, args, expected, by_name=False):
    """Send ``obj.forward(*args)`` (with ``by_name``, every argument by the contract's name); when
    the answer arrives, compare it with ``expected`` and check that no tensor argument was
    modified."""
    def check(res):
        expect_close(res.value, expected, what="output")
        _expect_args_unchanged(ARG_NAMES, args, res.args)

    _detailed_later(obj.forward, check, args, by_name)


def _forward_and_weights_later(obj, args, attr, exp, exp_weights, *, out_what, weights_what, arg_names=(),
                               by_name=False, heads_in_any_order=False):
    """Send ``obj.forward.detailed(*args)`` (with ``by_name``, every argument by the contract's
    name), then read ``attr`` (the attention weights the forward pass stored); when both answers
    are in, compare them with ``exp`` and ``exp_weights`` and check the arguments named
    ``arg_names`` were left unchanged. ``heads_in_any_order``: the weights' (nq, nk) matrices may
    be stacked in another order than the reference's."""
    results = []
    _detailed_later(obj.forward, results.append, args, by_name)
    exp_weights = exp_weights.detach().clone()       # the reference module overwrites its own

    def check(weights):
        res = results[0]
        expect_close(res.value, exp, what=out_what)
        if heads_in_any_order:
            weights = _in_order_of(weights, exp_weights)
        expect_close(weights, exp_weights, what=weights_what)
        if arg_names:
            _expect_args_unchanged(arg_names, args, res.args)

    attr.get_later(check)


def _weights_kept_per_module_later(student, cls_name, args, inputs, dtype):
    """Two ``cls_name(*args)`` modules with the same weights, run in turn, each on its own
    arguments of ``inputs`` (two tuples); then each one's ``attention_weights`` must be those of
    its own forward pass (kept by the module, not shared by every instance)."""
    twins = [_twin(student, cls_name, args, {}, dtype, 0) for _ in inputs]
    for (_, obj), call_args in zip(twins, inputs):
        obj.forward.call_later(*call_args)
    for which, (ref_mod, obj), call_args in zip(("first", "second"), twins, inputs):
        ref_mod(*call_args)
        obj.attention_weights.get_later(_close(
            ref_mod.attention_weights.detach().clone(),
            f"attention_weights of the {which} of two {cls_name} modules, each run on inputs of its own"))


def _in_order_of(got, exp):
    """``got`` (n, nq, nk) with its n matrices put in the order of ``exp``'s, if each matrix of
    ``exp`` has a match of its own in ``got`` (a multi-head forward pass may stack its heads head
    by head rather than example by example, as the book does); else ``got`` as it is."""
    if type(got) is not torch.Tensor or got.shape != exp.shape or got.dtype != exp.dtype:
        return got
    order, unused = [], list(range(len(got)))
    for e in exp:
        match = next((i for i in unused if is_close(got[i], e)), None)
        if match is None:
            return got
        order.append(match)
        unused.remove(match)
    return got[order]


# --------------------------------------------------------------------------- dot_product_attention


@pytest.mark.points(1)
@pytest.mark.covers("dot_product_attention")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_dot_product_attention_matches_book(student, dtype):
    """dot_product_attention: output and weights (no mask, 1-D and 2-D valid lengths, int and float)"""
    for seed in SEEDS[:2]:
        for kind in VALID_KINDS:
            q, k, v = _qkv(seed, dtype, b=2, nq=3, nk=5, d=4, dv=6)
            # the second seed passes every argument by the contract's names
            _dpa_later(student, (q, k, v, _valid_lens(kind, seed, 2, 3, 5)), by_name=seed == 1)
    # called with three arguments only: valid_lens defaults to None
    _dpa_later(student, (q, k, v), weights="attention weights without valid_lens",
               output="output without valid_lens")
    # a batch of one and single queries: squeezing the lengths (e.g. to accept (batch, 1) ones)
    # leaves a 0-dim tensor for a batch of one
    for b, nq, lens in ((1, 3, torch.tensor([2])), (1, 3, torch.tensor([[1, 4, 2]])),
                        (2, 1, torch.tensor([[3], [1]])), (1, 1, torch.tensor([3.0]))):
        _dpa_later(student, _qkv(2, dtype, b=b, nq=nq, nk=4, d=3, dv=2) + (lens,))
    # valid lengths of every integer and floating dtype, whatever the queries' dtype: the results
    # keep the queries' dtype (a mask made in the lengths' dtype turns float32 into float64)
    q, k, v = _qkv(3, dtype, b=2, nq=3, nk=5, d=4, dv=6)
    for len_dtype in (torch.int32, torch.float64):     # int64 and float32 lengths are above
        for lens in (torch.tensor([3, 9]), torch.tensor([[0, 4, 7], [2, 5, 1]])):
            _dpa_later(student, (q, k, v, lens.to(len_dtype)),
                       weights=f"attention weights for {len_dtype} valid lengths",
                       output=f"output for {len_dtype} valid lengths")


@pytest.mark.points(1)
@pytest.mark.covers("dot_product_attention")
def test_dot_product_attention_noncontiguous_inputs_unchanged(student):
    """dot_product_attention: non-contiguous inputs work and are left unmodified, valid lengths of every dtype included"""
    for dtype in DTYPES:
        for seed in SEEDS[:2]:
            q, k, v = _qkv(seed, dtype, b=3, nq=4, nk=5, d=3, dv=2, layout="strided")
            lens_2d = torch.tensor([[1, 5, 3], [4, 5, 3], [2, 5, 1], [5, 5, 2]]).t()  # transposed
            # every lengths dtype, contiguous and strided, some above nk = 5: left unmodified as
            # well (not clamped in place)
            for lens in (lens_2d, *_lens_in_every_dtype(torch.tensor([7, 5, 4])),
                         *_lens_in_every_dtype(lens_2d)):
                _dpa_later(student, (q, k, v, lens), unchanged=True)


@pytest.mark.points(1)
@pytest.mark.covers("dot_product_attention")
def test_dot_product_attention_mask_edges(student):
    """dot_product_attention: valid length 0 gives uniform weights, lengths >= num_keys mask nothing (however large), lengths of narrow dtypes (int16, int8, uint8, float16) work as in masked_softmax, negative ones mask every key"""
    for dtype in DTYPES:
        q, k, v = _qkv(5, dtype, b=3, nq=2, nk=4, d=5, dv=3)
        cases = [
            torch.tensor([0, 4, 2]),                      # a whole example masked
            torch.tensor([0.0, 100.0, 4.0]),              # float lengths, one far above nk
            torch.tensor([[0, 1], [4, 0], [7, 3]]),       # per query, zeros and above nk
            torch.tensor([[1.0, 0.0], [2.0, 50.0], [4.0, 4.0]]),
        ]
        for lens in cases:
            _dpa_later(student, (q, k, v, lens))
        for lens in (*_lens_huge_and_narrow(cases[0]), *_lens_huge_and_narrow(cases[2])):
            _dpa_later(student, (q, k, v, lens))
        # a valid length of 0 for every example: uniform weights, output = mean of the values
        _dpa_later(student, (q, k, v, torch.zeros(3, dtype=torch.int64)),
                   (v.mean(dim=1, keepdim=True).expand(3, 2, 3).contiguous(),
                    torch.full((3, 2, 4), 0.25, dtype=dtype)),
                   weights="uniform attention weights")
        # negative lengths mask every key, as 0 does (or are refused with ValueError)
        lens = torch.tensor([-1, 4, -3])
        _dpa_answer_or_raises_later(student, (q, k, v, lens),
                                    hint="a negative length is below every key position, so it masks them all, "
                                         "as a length of 0 does (or refuse it with ValueError)")
    # one lengths tensor kept in the worker and changed in place between two calls: each call
    # masks by the lengths it holds at that call (nothing is remembered by the tensor's identity)
    kept = student.tensor(torch.tensor([0, 4, 2]))
    for lens in (torch.tensor([0, 4, 2]), torch.tensor([3, 1, 0])):
        kept.copy_.call_later(lens)
        exp_out, exp_w = ref.dot_product_attention(q, k, v, lens)

        def check(res, exp_out=exp_out, exp_w=exp_w):
            what = " for valid lengths changed in place since the previous call"
            expect_close(res[1], exp_w, what="attention weights" + what)
            expect_close(res[0], exp_out, what="output" + what)

        student.attention.dot_product_attention.later(check, q, k, v, kept)


@pytest.mark.points(1)
@pytest.mark.covers("dot_product_attention")
def test_dot_product_attention_large_scores(student):
    """dot_product_attention: stays finite and exact for very large scores (stable softmax) and for scores near -3e5 (masked keys still weigh 0), and float64 inputs are computed in float64 throughout"""
    g = torch.Generator().manual_seed(7)
    # integer-valued queries and keys with d = 4: every score is an exact multiple of 0.5,
    # hundreds to thousands in magnitude
    q = torch.randint(-40, 41, (2, 3, 4), generator=g).double() * 5
    k = torch.randint(-40, 41, (2, 6, 4), generator=g).double()
    v = torch.randn(2, 6, 3, generator=g, dtype=torch.float64)
    for dtype in DTYPES:
        for lens in (None, torch.tensor([3, 6]), torch.tensor([[0, 6, 2], [5, 1, 0]])):
            _dpa_later(student, (q.to(dtype), k.to(dtype), v.to(dtype), lens))
    # float64 scores near -3e5 (d = 64), still far above the book's -1e6, and higher on the later
    # keys (-3e5 - 0.6 * key on keys 0 to 2, -3e5 + 1000 and + 2000 on keys 3 and 4): the masked
    # keys keep weight 0, where a milder mask value (-1e5), the mask put on Q @ K^T before the
    # scale 1/sqrt(d) (-1e6 / 8) or a softmax over every key, masked afterwards (the kept weights
    # underflow to 0 next to the masked keys'), would not
    q = torch.full((2, 2, 64), 300.0, dtype=torch.float64)
    k = (-125.0 + torch.tensor([0.0, -2.5e-4, -5e-4, 1000 / 2400, 2000 / 2400], dtype=torch.float64))
    k = k[None, :, None].expand(2, 5, 64).contiguous()
    v = torch.randn(2, 5, 3, generator=g, dtype=torch.float64)
    for lens in (torch.tensor([3, 1]), torch.tensor([[2, 5], [4, 1]])):
        _dpa_later(student, (q, k, v, lens))
    # float64 stays float64 throughout, the scale 1/sqrt(d) included
    _dpa_later(student, _cancelling_float64_probe(),
               output="float64 output of values that cancel (scale sqrt(d) in float64)")


@pytest.mark.points(1)
@pytest.mark.covers("dot_product_attention")
def test_dot_product_attention_gradients(student):
    """dot_product_attention: gradients w.r.t. queries, keys and values match autograd"""
    for dtype in DTYPES:
        for seed, lens in ((0, None), (1, torch.tensor([2, 0])),
                           (2, torch.tensor([[1, 5, 3], [4, 0, 2]]))):
            q, k, v = _qkv(seed, dtype, b=2, nq=3, nk=5, d=4, dv=3)
            g = torch.Generator().manual_seed(4000 + seed)
            for index, shape in ((0, (2, 3, 3)), (1, (2, 3, 5))):
                _grads_later(student.attention.dot_product_attention, ref.dot_product_attention,
                             (q, k, v, lens), _randn(g, *shape, dtype=dtype), output_index=index)


@pytest.mark.points(1)
@pytest.mark.covers("dot_product_attention")
def test_dot_product_attention_empty(student):
    """dot_product_attention: empty batch or no queries give empty results of the right shape"""
    for dtype in DTYPES:
        for b, nq, lens in ((0, 3, None), (0, 3, torch.zeros(0, dtype=torch.int64)),
                            (2, 0, None), (2, 0, torch.tensor([1, 3])),
                            (2, 0, torch.zeros(2, 0, dtype=torch.int64))):
            q, k, v = _qkv(0, dtype, b=b, nq=nq, nk=3, d=2, dv=4)
            _dpa_later(student, (q, k, v, lens))


# --------------------------------------------------------------------------- DotProductAttention


@pytest.mark.points(1)
@pytest.mark.covers("DotProductAttention")
def test_dot_product_attention_module(student):
    """DotProductAttention: eval-mode output, attention_weights (each module its own) and gradients match the book, with queries of another size on the same module, valid lengths of every dtype (a later call without them masks nothing) and float64 computed in float64 throughout"""
    for dtype in DTYPES:
        ref_mod, obj = _twin(student, "DotProductAttention", (0.5,), {}, dtype, 0)
        for seed, kind in zip(SEEDS, ("none", "1d-int", "2d-float")):
            q, k, v = _qkv(seed, dtype, b=2, nq=3, nk=4, d=5, dv=2,
                           layout="strided" if seed == 1 else "contiguous")
            vl = _valid_lens(kind, seed, 2, 3, 4)
            args = (q, k, v) if vl is None else (q, k, v, vl)   # valid_lens defaults to None
            exp = ref_mod(*args)
            # the last case passes every argument by the contract's names
            _forward_and_weights_later(obj, args, obj.attention_weights, exp, ref_mod.attention_weights,
                                       out_what="output in eval mode", weights_what="attention_weights",
                                       arg_names=ARG_NAMES[:3], by_name=seed == 2)
        grad_out = _randn(torch.Generator().manual_seed(9), 2, 3, 2, dtype=dtype)
        lens = torch.tensor([[1, 4, 2], [3, 0, 4]])
        _grads_later(obj.forward, ref_mod, (q, k, v, lens), grad_out)
        # the same module, now with queries and keys of size d = 2 (not 5): the scale 1/sqrt(d)
        # follows the queries of each call; lengths above nk = 4 mask nothing, and the valid
        # lengths, like every input, are left unmodified ("Inputs are never modified in place")
        q2, k2, v2 = _qkv(5, dtype, b=2, nq=3, nk=4, d=2, dv=2)
        lens2_values = torch.tensor([[1, 9, 2], [6, 0, 4]])
        for lens2 in (*_lens_in_every_dtype(lens2_values), *_lens_huge_and_narrow(lens2_values)):
            exp2 = ref_mod(q2, k2, v2, lens2)

            def second_call(res, exp2=exp2, args=(q2, k2, v2, lens2)):
                expect_close(res.value, exp2, what="output of a second call with queries and keys of another "
                                                   "size (d = 2 after d = 5)")
                _expect_args_unchanged(ARG_NAMES, args, res.args)

            obj.forward.detailed_later(second_call, q2, k2, v2, lens2)
        _without_lens_later(obj, ref_mod, q2, k2, v2)
    # float64 stays float64 in forward too, the scale 1/sqrt(d) included (the probe of
    # test_dot_product_attention_large_scores)
    q, k, v = _cancelling_float64_probe()
    obj = student.attention.DotProductAttention.new_later(dropout=0.5)    # the contract's parameter name
    obj.eval.call_later()
    obj.forward.later(_close(ref.DotProductAttention(0.5).eval()(q, k, v),
                             "float64 output of values that cancel (scale sqrt(d) in float64)"), q, k, v)
    # a fresh module (training mode) without dropout is deterministic too
    q, k, v = _qkv(4, torch.float32)
    obj = student.attention.DotProductAttention.new_later()
    obj.forward.later(_close(ref.DotProductAttention()(q, k, v),
                             "output of DotProductAttention() (dropout 0)"), q, k, v)
    # each module keeps its own attention_weights
    _weights_kept_per_module_later(student, "DotProductAttention", (), (
        _qkv(7, torch.float32, nk=4) + (torch.tensor([1, 3]),),
        _qkv(8, torch.float32, nk=4) + (torch.tensor([[4, 2, 0], [3, 3, 1]]),)), torch.float32)


@pytest.mark.points(1)
@pytest.mark.covers("DotProductAttention", "AdditiveAttention")
@pytest.mark.parametrize("cls_name", ["DotProductAttention", "AdditiveAttention"])
def test_dropout_acts_on_weights_in_training_mode(student, cls_name):
    """Dropout: in training mode each attention weight is zeroed with probability p or scaled by 1/(1-p), on a draw of its own at every call, and gradients flow through it; eval mode, and the default dropout of 0, have none"""
    # p is not 0.5, so that reading p as the keep probability, or scaling by 1/p, shows
    p, b, nq, nk, d = 0.2, 3, 4, 5, 3
    args = (p,) if cls_name == "DotProductAttention" else (d, d, 6, p)
    dtype = torch.float32
    ref_mod, obj = _twin(student, cls_name, args, {}, dtype, 1)
    # a second module, made without a dropout argument, before the first one is used: each
    # module keeps its own dropout (none is shared between instances)
    default_args = () if cls_name == "DotProductAttention" else (d, d, 6)
    ref_default, obj_default = _twin(student, cls_name, default_args, {}, dtype, 2)
    q, k, _ = _qkv(3, dtype, b=b, nq=nq, nk=nk, d=d, dv=1)
    # values [I | 1]: output[..., :nk] is the (dropped-out) weight matrix, output[..., nk] its row sum
    eye = torch.eye(nk, dtype=dtype).expand(b, nk, nk)
    v = torch.cat([eye, torch.ones(b, nk, 1, dtype=dtype)], dim=-1)
    lens = torch.tensor([5, 3, 4])
    # without a dropout argument the module has none (dropout=0.0): training mode changes nothing
    obj_default.train.call_later()
    obj_default.forward.later(_close(ref_default(q, k, v, lens), f"training-mode output of {cls_name}{default_args} "
                                                                 "(no dropout argument: the default dropout is 0)"), q, k, v, lens)
    exp_w = ref_mod(q, k, v, lens)[..., :nk]                   # eval mode: the weights
    # eval mode: no dropout at all
    obj.forward.later(_close(ref_mod(q, k, v, lens), "output in eval mode"), q, k, v, lens)
    obj.train.call_later()
    draws, counts = 3, []        # counts: (kept, dropped) of each training-mode draw so far

    def kept_and_dropped(out, exp_w, when="", hint="in training mode apply dropout to the attention "
                                                   "weights before multiplying by the values"):
        """Checks one training-mode output (with eval-mode weights ``exp_w``): each weight is 0
        or scaled by 1/(1-p). Returns how many weights above 1e-3 were kept and dropped."""
        expect_equal(tuple(out.shape), (b, nq, nk + 1), what="output shape" + when)
        expect_equal(out.dtype, dtype, what="output dtype" + when)
        w = out[..., :nk]
        scaled = exp_w / (1 - p)
        kept = torch.isclose(w, scaled, rtol=1.3e-6, atol=1e-5)
        dropped = torch.isclose(w, torch.zeros_like(w), rtol=0, atol=1e-5)
        expect_equal(bool((kept | dropped).all()), True,
                     what="dropout pattern (each weight either 0 or scaled by 1/(1-p))" + when, hint=hint)
        # the dropout acts on the weights, not on the output: the last column is the row sum
        # of the dropped-out weights
        expect_close(out[..., nk], w.sum(-1), what="output computed from the dropped-out weights" + when)
        big = exp_w > 1e-3
        return int((kept & ~dropped & big).sum()), int((dropped & ~kept & big).sum())

    def check(out):
        """One training-mode output; after the last draw, some weights must have been kept
        and some dropped, about a fraction p of them dropped."""
        counts.append(kept_and_dropped(out, exp_w))
        if len(counts) == draws:
            kept_total, dropped_total = (sum(c) for c in zip(*counts))
            expect_equal(kept_total > 0 and dropped_total > 0, True,
                         what="training-mode dropout (some weights dropped, some kept)")
            # 144 weights above 1e-3 over the draws, each kept with probability 1 - p = 0.8:
            # fewer than half kept is 9 standard deviations off (p read as the keep probability)
            expect_equal(kept_total > (kept_total + dropped_total) / 2, True,
                         what="fraction of weights kept by training-mode dropout (about 1 - p)",
                         hint="dropout zeroes each weight with probability p and keeps it with "
                              "probability 1 - p")

    for _ in range(draws):
        obj.forward.later(check, q, k, v, lens)

    # without valid_lens (no mask) dropout acts all the same: each weight 0 or scaled by 1/(1-p)
    # (weights left as they are, not scaled, fail whatever the draw)
    obj.forward.later(functools.partial(
        kept_and_dropped, exp_w=ref_mod(q, k, v)[..., :nk], when=" without valid_lens",
        hint="in training mode apply dropout to the attention weights, with or without valid_lens, "
             "before multiplying by the values"), q, k, v)

    # Each weight is dropped on a draw of its own, as nn.Dropout does, and every call draws anew.
    # Without valid lengths every weight is positive, so with values I (4 examples, 6 queries,
    # 8 keys) the output's zeros are the dropped weights. By chance, a per-weight mask drops each
    # of the 24 rows whole or not at all, below 1e-18 ((0.8 ** 8 + 0.2 ** 8) ** 24); drops each key
    # of each example in all 6 of its rows or in none (a mask shared by an example's queries),
    # about 2.5e-19 ((0.8 ** 6 + 0.2 ** 6) ** 32); gives the 4 examples one mask, below 1e-18; and
    # repeats itself on the next call, below 1e-30.
    nb, nr, nc = 4, 6, 8
    q_many, k_many, _ = _qkv(6, dtype, b=nb, nq=nr, nk=nc, d=d, dv=1)
    masks = []

    def dropped_one_by_one(out):
        expect_equal(tuple(out.shape), (nb, nr, nc), what="training-mode output shape")
        dropped = out == 0
        masks.append(dropped)
        rows = dropped.reshape(nb * nr, nc)
        for mixed, where in (((rows.any(1) & ~rows.all(1)).any(), "within a row (each row dropped whole or not at all)"),
                             ((dropped.any(1) & ~dropped.all(1)).any(),
                              "down a column of one example (each key dropped in all of an example's rows or in none)"),
                             ((dropped != dropped[:1]).any(), "between examples (every example has the same mask)")):
            expect_equal(bool(mixed), True, what=f"training-mode dropout pattern {where}",
                         hint="like nn.Dropout(p), zero each attention weight on its own random draw: a mask "
                              "of the weights' full shape")
        if len(masks) == 2:
            expect_equal(torch.equal(*masks), False,
                         what="dropout mask of the second training-mode call (the same as the first call's)",
                         hint="draw a new mask at every call (do not reseed the random generator in forward)")

    for _ in range(2):
        obj.forward.later(dropped_one_by_one, q_many, k_many, torch.eye(nc, dtype=dtype).repeat(nb, 1, 1))

    # p = 1 drops every weight, as nn.Dropout(1.0) does: the output is 0 (not NaN, from 0 / (1 - p))
    one_args = (1.0,) if cls_name == "DotProductAttention" else (d, d, 6, 1.0)
    ref_one, obj_one = _twin(student, cls_name, one_args, {}, dtype, 3)
    obj_one.train.call_later()
    obj_one.forward.later(_close(ref_one.train()(q, k, v, lens), f"training-mode output of {cls_name} with "
                                                                 "dropout=1.0 (every weight dropped)"), q, k, v, lens)

    # Training mode is for training: backward runs through the dropped-out weights (a dropout done
    # in place on the softmax's output breaks autograd, one done without autograd cuts the
    # gradient). The mask is read from the output; the expected output and gradients are the
    # reference's with that mask in place of its dropout.
    grad_out = _randn(torch.Generator().manual_seed(12), b, nq, nk + 1, dtype=dtype)

    def replayed(got):
        expect_equal(tuple(got.value.shape), (b, nq, nk + 1), what="training-mode output shape")
        expect_equal(got.value.dtype, dtype, what="training-mode output dtype")
        w = got.value[..., :nk]
        pattern = torch.isclose(w, exp_w / (1 - p), rtol=1.3e-6, atol=1e-5) | \
            torch.isclose(w, torch.zeros_like(w), rtol=0, atol=1e-5)
        expect_equal(bool(pattern.all()), True,
                     what="dropout pattern (each weight either 0 or scaled by 1/(1-p))")
        dropout, ref_mod.dropout = ref_mod.dropout, _FixedDropout(
            torch.where(w > exp_w / (2 * (1 - p)), 1 / (1 - p), 0.0).to(dtype))
        try:
            value, grads, pgrads = _ref_grads(ref_mod, (q, k, v, lens), (0, 1, 2), grad_out,
                                              params=dict(ref_mod.named_parameters()))
        finally:
            ref_mod.dropout = dropout
        expect_close(got.value, value, what="training-mode output")
        _expect_grads(got, grads, pgrads)

    obj.forward.with_grad_later(replayed, q, k, v, lens, wrt=(0, 1, 2), grad_output=grad_out, params=True)


# --------------------------------------------------------------------------- AdditiveAttention


@pytest.mark.points(1)
@pytest.mark.covers("AdditiveAttention")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_additive_attention_matches_book(student, dtype):
    """AdditiveAttention: layers as in the contract, output and attention_weights (each module its own) match the book, valid lengths of every dtype included (a later call without them masks nothing), an empty batch and no queries too (float32)"""
    key_size, query_size, num_hiddens = 3, 5, 7
    # made with every argument by the contract's names
    ref_mod, obj = _twin(student, "AdditiveAttention", (), {"key_size": key_size, "query_size": query_size,
                                                           "num_hiddens": num_hiddens, "dropout": 0.3}, dtype, 2)
    for seed, (b, nq, nk), kind, layout in (
            (0, (2, 3, 4), "none", "contiguous"),
            (1, (2, 3, 4), "1d-int", "strided"),
            (2, (3, 1, 5), "2d-int", "contiguous"),      # one query
            (3, (1, 4, 2), "1d-float", "strided"),       # batch of one
            (4, (1, 1, 1), "2d-float", "contiguous")):
        g = torch.Generator().manual_seed(5000 + seed)
        q = _randn(g, b, nq, query_size, dtype=dtype)
        k = _randn(g, b, nk, key_size, dtype=dtype)
        v = _randn(g, b, nk, 4, dtype=dtype)
        if layout == "strided":
            q = q.transpose(0, 1).contiguous().transpose(0, 1)
            k = _randn(g, b, key_size, nk, dtype=dtype).transpose(1, 2)
            v = _randn(g, b, nk, 8, dtype=dtype)[..., ::2]
        vl = _valid_lens(kind, seed, b, nq, nk)
        if seed == 2:
            vl[0] += nk      # a length above nk: masks nothing, and must be left unmodified
        args = (q, k, v) if vl is None else (q, k, v, vl)
        exp = ref_mod(*args)
        # the last case passes every argument by the contract's names
        _forward_and_weights_later(obj, args, obj.attention_weights, exp, ref_mod.attention_weights,
                                   out_what="output", weights_what="attention_weights", arg_names=ARG_NAMES,
                                   by_name=seed == 4)
    # valid lengths of every dtype, contiguous and strided, some above nk = 4: left unmodified
    g = torch.Generator().manual_seed(5050)
    q, k = _randn(g, 2, 3, query_size, dtype=dtype), _randn(g, 2, 4, key_size, dtype=dtype)
    v = _randn(g, 2, 4, 4, dtype=dtype)
    lens_values = torch.tensor([[1, 6, 0], [4, 9, 2]])
    for lens in (*_lens_in_every_dtype(lens_values), *_lens_huge_and_narrow(lens_values)):
        _forward_later(obj, (q, k, v, lens), ref_mod(q, k, v, lens))
    _without_lens_later(obj, ref_mod, q, k, v)
    if dtype == torch.float32:
        # an empty batch, and no queries: empty results of the right shape, as dot_product_attention's
        # (in one of the two dtypes: it costs one point, as there)
        g = torch.Generator().manual_seed(5300)
        for b, nq, vl in ((0, 3, None), (0, 3, torch.zeros(0, dtype=torch.int64)), (2, 0, torch.tensor([1, 3]))):
            args = (_randn(g, b, nq, query_size, dtype=dtype), _randn(g, b, 4, key_size, dtype=dtype),
                    _randn(g, b, 4, 2, dtype=dtype)) + ((vl,) if vl is not None else ())
            _forward_later(obj, args, ref_mod(*args))
    if dtype == torch.float64:
        # float64 stays float64 throughout, the tanh features included: one query, two keys and
        # values that cancel (as in the probe of test_dot_product_attention_large_scores)
        g = torch.Generator().manual_seed(5100)
        q, k = _randn(g, 1, 1, query_size, dtype=dtype), _randn(g, 1, 2, key_size, dtype=dtype)
        ref_mod(q, k, torch.zeros(1, 2, 1, dtype=dtype))
        v = _cancelling_values(ref_mod.attention_weights)
        obj.forward.later(_close(ref_mod(q, k, v), "float64 output of values that cancel (tanh features "
                                                   "computed in float64)"), q, k, v)
    # each module keeps its own attention_weights
    g = torch.Generator().manual_seed(5200)
    inputs = [(_randn(g, 2, 3, query_size, dtype=dtype), _randn(g, 2, 4, key_size, dtype=dtype),
               _randn(g, 2, 4, 2, dtype=dtype), lens) for lens in (torch.tensor([1, 3]), torch.tensor([4, 2]))]
    _weights_kept_per_module_later(student, "AdditiveAttention", (key_size, query_size, num_hiddens), inputs, dtype)


@pytest.mark.points(1)
@pytest.mark.covers("AdditiveAttention")
def test_additive_attention_gradients(student):
    """AdditiveAttention: gradients w.r.t. inputs and W_q, W_k, w_v match autograd, valid lengths of 0 (uniform weights) included"""
    for dtype in DTYPES:
        ref_mod, obj = _twin(student, "AdditiveAttention", (2, 3, 5), {}, dtype, 3)
        g = torch.Generator().manual_seed(6000)
        q, k, v = _randn(g, 2, 3, 3, dtype=dtype), _randn(g, 2, 4, 2, dtype=dtype), \
            _randn(g, 2, 4, 3, dtype=dtype)
        lens = torch.tensor([2, 4])
        grad_out = _randn(g, 2, 3, 3, dtype=dtype)
        _grads_later(obj.forward, ref_mod, (q, k, v, lens), grad_out, params=True)
        # per-query lengths of 0 (uniform weights, as the book's -1e6 mask gives) and above nk
        _grads_later(obj.forward, ref_mod, (q, k, v, torch.tensor([[0, 2, 1], [4, 0, 9]])), grad_out,
                     params=True)


# --------------------------------------------------------------------------- transpose_qkv / output


@pytest.mark.points(1)
@pytest.mark.covers("transpose_qkv", "transpose_output")
def test_transpose_qkv_and_output(student):
    """transpose_qkv / transpose_output: heads split as in the book, and back again"""
    for dtype in DTYPES:
        g = torch.Generator().manual_seed(11)
        for (b, n, h, heads) in ((2, 3, 8, 2), (3, 1, 6, 3), (1, 4, 5, 5), (2, 2, 4, 1)):
            X = _randn(g, b, n, h, dtype=dtype)
            Xt = _randn(g, h, n, b, dtype=dtype).permute(2, 1, 0)     # non-contiguous
            for x in (X, Xt):
                _transpose_later(student, "transpose_qkv", x, heads)
            Y = _randn(g, b * heads, n, h // heads, dtype=dtype)
            Yt = _randn(g, h // heads, n, b * heads, dtype=dtype).permute(2, 1, 0)
            for y in (Y, Yt):
                _transpose_later(student, "transpose_output", y, heads)
            student.attention.transpose_output.later(
                _close(X, "transpose_output(transpose_qkv(X)) == X"),
                ref.transpose_qkv(X, heads), heads)
        # every argument by the contract's names
        _transpose_later(student, "transpose_qkv", _randn(g, 2, 3, 6, dtype=dtype), 3, by_name=True)
        _transpose_later(student, "transpose_output", _randn(g, 6, 3, 2, dtype=dtype), 3, by_name=True)


@pytest.mark.points(1)
@pytest.mark.covers("transpose_qkv", "transpose_output")
def test_transpose_rejects_indivisible_sizes(student):
    """transpose_qkv / transpose_output: sizes not divisible by num_heads raise ValueError"""
    expect_raises_later(ValueError, student.attention.transpose_qkv, torch.zeros(2, 3, 6), 4)
    expect_raises_later(ValueError, student.attention.transpose_qkv, torch.zeros(1, 2, 5), 2)
    expect_raises_later(ValueError, student.attention.transpose_output, torch.zeros(5, 3, 2), 2)


# --------------------------------------------------------------------------- MultiHeadAttention


@pytest.mark.points(1)
@pytest.mark.covers("MultiHeadAttention")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_multihead_attention_matches_book(student, dtype):
    """MultiHeadAttention: layers as in the contract (dropout and bias by keyword or by position); output matches the book, with and without bias, for a batch of one too, float64 computed in float64 throughout; its dropout acts on the attention weights in training mode"""
    key_size, query_size, value_size = 3, 5, 4
    for seed, (num_hiddens, heads, bias) in enumerate(((8, 2, False), (12, 4, True),
                                                       (6, 1, False), (6, 6, True))):
        sizes = (key_size, query_size, value_size, num_hiddens, heads)
        # the first two by keyword, the last two with dropout and bias in the contract's order,
        # by position (the last one's dropout is checked in training mode below)
        init_args, init_kwargs = ((sizes, {"dropout": 0.25, "bias": bias}) if seed < 2
                                  else (sizes + (0.25, bias), {}))
        ref_mod, obj = _twin(student, "MultiHeadAttention", init_args, init_kwargs, dtype, seed)
        for s, kind in enumerate(("none", "1d-int", "2d-float")):
            b, nq, nk = (2, 3, 4) if s % 2 == 0 else (3, 2, 5)
            g = torch.Generator().manual_seed(7000 + 10 * seed + s)
            q = _randn(g, b, query_size, nq, dtype=dtype).transpose(1, 2)   # non-contiguous
            k = _randn(g, b, nk, key_size, dtype=dtype)
            v = _randn(g, b, nk, 2 * value_size, dtype=dtype)[..., value_size:]
            vl = _valid_lens(kind, seed + s, b, nq, nk)
            args = (q, k, v) if vl is None else (q, k, v, vl)
            _forward_later(obj, args, ref_mod(*args), by_name=s == 2 and seed % 2 == 1)
        # a batch of one example, with one query too: nothing of the lengths may be squeezed away
        g = torch.Generator().manual_seed(7050 + seed)
        for nq, lens in ((2, torch.tensor([2])), (2, torch.tensor([[1, 3]])), (1, torch.tensor([[2]]))):
            one = (_randn(g, 1, nq, query_size, dtype=dtype), _randn(g, 1, 3, key_size, dtype=dtype),
                   _randn(g, 1, 3, value_size, dtype=dtype), lens)
            _forward_later(obj, one, ref_mod(*one))
    if dtype == torch.float64:
        # float64 stays float64 throughout, the heads' scale 1/sqrt(d) included: one head of
        # size 3, every layer the identity, on the probe of test_dot_product_attention_large_scores
        q, k, v = _cancelling_float64_probe()
        v = torch.cat([v, torch.zeros(1, 2, 2, dtype=dtype)], dim=-1)
        probe_ref, probe = _twin(student, "MultiHeadAttention", (3, 3, 3, 3, 1), {}, dtype, 9)
        identities = {name: torch.eye(3, dtype=dtype) for name in probe_ref.state_dict()}
        probe_ref.load_state_dict(identities)
        probe.load_state_dict.call_later(identities)
        probe.forward.later(_close(probe_ref(q, k, v), "float64 output of MultiHeadAttention(3, 3, 3, 3, 1) with "
                                                       "identity layers on values that cancel (scale in float64)"),
                            q, k, v)
    # the last module, MultiHeadAttention(..., 6, 6, 0.25, True), has dropout 0.25 (passed on to
    # its attention): in training mode about a quarter of its 90 nonzero attention weights are
    # dropped, so the output is neither the eval-mode one (all kept: probability 0.75 ** 90,
    # about 6e-12) nor W_o's bias alone (all dropped, as dropout 1 does: 0.25 ** 90)
    eval_out = ref_mod(*args)
    all_dropped = ref_mod.W_o.bias.detach().expand_as(eval_out)
    obj.train.call_later()

    def dropped_out(out):
        expect_equal(tuple(out.shape), tuple(eval_out.shape), what="training-mode output shape")
        expect_equal(bool(torch.allclose(out, eval_out)), False,
                     what="training-mode output of MultiHeadAttention(..., dropout=0.25) (it equals "
                          "the eval-mode one: no dropout)",
                     hint="pass dropout on to the DotProductAttention: it drops attention weights "
                          "in training mode")
        expect_equal(bool(torch.allclose(out, all_dropped)), False,
                     what="training-mode output of MultiHeadAttention(3, 5, 4, 6, 6, 0.25, True) (every "
                          "attention weight dropped, as dropout 1 does)",
                     hint="take the parameters in the contract's order: (..., num_heads, dropout=0.0, "
                          "bias=False)")

    obj.forward.later(dropped_out, *args)

    # ... on the attention weights, not on the output: with W_v = W_o = identity and values of
    # ones, each head's block of the output is the sum of that head's dropped-out weights, the
    # same number in all its units. Dropout on the output zeroes single units instead (24 blocks
    # of 3 units all left constant by chance: probability (0.75 ** 3 + 0.25 ** 3) ** 24 < 1e-8).
    nh, heads = 6, 2
    ref_mod, obj = _twin(student, "MultiHeadAttention", (3, 3, nh, nh, heads), {"dropout": 0.25}, dtype, 8)
    eye = torch.eye(nh, dtype=dtype)
    identities = {k: eye if k in ("W_v.weight", "W_o.weight") else w.detach().clone()
                  for k, w in ref_mod.state_dict().items()}
    ref_mod.load_state_dict(identities)
    obj.load_state_dict.call_later(identities)
    obj.train.call_later()
    g = torch.Generator().manual_seed(7100)
    q, k = _randn(g, 3, 4, 3, dtype=dtype), _randn(g, 3, 5, 3, dtype=dtype)

    def blocks_constant(out):
        expect_equal(tuple(out.shape), (3, 4, nh), what="training-mode output shape")
        blocks = out.reshape(3, 4, heads, nh // heads)
        expect_close(blocks, blocks[..., :1].expand_as(blocks).contiguous(),
                     what="training-mode output of MultiHeadAttention(3, 3, 6, 6, 2, dropout=0.25) with "
                          "W_v = W_o = I and values of ones (each head's units must be equal: dropout "
                          "acts on the attention weights, not on the output)",
                     hint="pass dropout on to the DotProductAttention and drop nothing else")

    obj.forward.later(blocks_constant, q, k, torch.ones(3, 5, nh, dtype=dtype), torch.tensor([5, 2, 4]))

    # ... each weight either dropped (0) or scaled by 1/(1-p), and backward runs through the
    # dropped-out weights (to the queries, keys and W_q, W_k too). With 3 keys and values [I | I],
    # each head's block of the output is that head's dropped-out weight matrix; the expected output
    # and gradients are the reference's with that mask in place of its dropout.
    p, nk = 0.25, nh // heads
    k, v = _randn(g, 3, nk, 3, dtype=dtype), torch.eye(nk, dtype=dtype).repeat(3, 1, heads)
    lens = torch.tensor([3, 2, 3])
    ref_mod(q, k, v, lens)
    exp_w = ref_mod.attention.attention_weights.detach().clone()      # (3 * heads, 4, nk), eval mode
    grad_out = _randn(g, 3, 4, nh, dtype=dtype)

    def replayed(got):
        expect_equal(tuple(got.value.shape), (3, 4, nh), what="training-mode output shape")
        # (batch, nq, heads * nk) -> (batch * heads, nq, nk), as the heads' weights are stacked
        w = got.value.reshape(3, 4, heads, nk).transpose(1, 2).reshape(3 * heads, 4, nk)
        pattern = torch.isclose(w, exp_w / (1 - p), rtol=1.3e-6, atol=1e-5) | \
            torch.isclose(w, torch.zeros_like(w), rtol=0, atol=1e-5)
        expect_equal(bool(pattern.all()), True,
                     what="dropout pattern of MultiHeadAttention(3, 3, 6, 6, 2, dropout=0.25)'s attention "
                          "weights in training mode (each weight either 0 or scaled by 1/(1-p))",
                     hint="pass dropout on to the DotProductAttention: like nn.Dropout(p), it zeroes each "
                          "weight with probability p and scales the ones it keeps by 1/(1-p)")
        expect_equal(got.grads[0] is not None, True,
                     what="training-mode backward (no gradient reached the queries)",
                     hint="backward must run through the dropped-out attention weights: apply dropout "
                          "with autograd (not under torch.no_grad() nor on .detach()ed weights)")
        dropout, ref_mod.attention.dropout = ref_mod.attention.dropout, _FixedDropout(
            torch.where(w > exp_w / (2 * (1 - p)), 1 / (1 - p), 0.0).to(dtype))
        try:
            value, grads, pgrads = _ref_grads(ref_mod, (q, k, v, lens), (0, 1, 2), grad_out,
                                              params=dict(ref_mod.named_parameters()))
        finally:
            ref_mod.attention.dropout = dropout
        expect_close(got.value, value, what="training-mode output")
        _expect_grads(got, grads, pgrads)

    obj.forward.with_grad_later(replayed, q, k, v, lens, wrt=(0, 1, 2), grad_output=grad_out, params=True)


@pytest.mark.points(1)
@pytest.mark.covers("MultiHeadAttention")
def test_multihead_attention_per_head_weights(student):
    """MultiHeadAttention: self.attention keeps one weight matrix per head; valid lengths of every dtype apply to every head, and a later call without them masks nothing; each module keeps its own number of heads; the default dropout is 0"""
    for dtype in DTYPES:
        ref_mod, obj = _twin(student, "MultiHeadAttention", (4, 4, 4, 6, 3), {}, dtype, 5)
        # a second module with 2 heads, made before the first is used: each module keeps its own
        # num_heads (checked on both below)
        ref_two_heads, two_heads = _twin(student, "MultiHeadAttention", (4, 4, 4, 6, 2), {}, dtype, 5)
        g = torch.Generator().manual_seed(8000)
        q, k, v = _randn(g, 2, 3, 4, dtype=dtype), _randn(g, 2, 5, 4, dtype=dtype), \
            _randn(g, 2, 5, 4, dtype=dtype)
        # lengths above nk = 5 mask nothing; the valid lengths, of every dtype, are left unmodified
        per_query = torch.tensor([[1, 3, 0], [8, 4, 2]])
        for lens in (torch.tensor([2, 5]), *_lens_in_every_dtype(per_query), *_lens_huge_and_narrow(per_query),
                     *_lens_in_every_dtype(torch.tensor([9, 3]))):
            exp = ref_mod(q, k, v, lens)
            _forward_and_weights_later(obj, (q, k, v, lens), obj.attention.attention_weights, exp,
                                       ref_mod.attention.attention_weights, out_what="output",
                                       weights_what="self.attention.attention_weights (batch * num_heads, nq, nk)",
                                       arg_names=ARG_NAMES, heads_in_any_order=True)
        _without_lens_later(obj, ref_mod, q, k, v)
        obj.train.call_later()   # made without a dropout argument: dropout 0, training mode changes nothing
        obj.forward.later(_close(ref_mod(q, k, v, lens), "training-mode output of MultiHeadAttention(4, 4, 4, 6, 3) "
                                                         "(no dropout argument: the default dropout is 0)"),
                          q, k, v, lens)
        two_heads.forward.later(_close(ref_two_heads(q, k, v, lens), "output of MultiHeadAttention(4, 4, 4, 6, 2), "
                                                                   "made after one with 3 heads"), q, k, v, lens)


@pytest.mark.points(1)
@pytest.mark.covers("MultiHeadAttention")
def test_multihead_attention_gradients(student):
    """MultiHeadAttention: gradients w.r.t. inputs and every weight and bias match autograd"""
    for dtype in DTYPES:
        # made with every argument by the contract's names
        ref_mod, obj = _twin(student, "MultiHeadAttention", (),
                             {"key_size": 3, "query_size": 2, "value_size": 4, "num_hiddens": 6,
                              "num_heads": 2, "dropout": 0.1, "bias": True}, dtype, 6)
        g = torch.Generator().manual_seed(9000)
        q, k, v = _randn(g, 2, 3, 2, dtype=dtype), _randn(g, 2, 4, 3, dtype=dtype), \
            _randn(g, 2, 4, 4, dtype=dtype)
        lens = torch.tensor([[3, 1, 4], [2, 0, 4]])
        grad_out = _randn(g, 2, 3, 6, dtype=dtype)
        _grads_later(obj.forward, ref_mod, (q, k, v, lens), grad_out, params=True)


@pytest.mark.points(1)
@pytest.mark.covers("MultiHeadAttention")
def test_multihead_attention_rejects_indivisible_heads(student):
    """MultiHeadAttention: num_hiddens not divisible by num_heads raises ValueError"""
    expect_raises_later(ValueError, student.attention.MultiHeadAttention, 4, 4, 4, 10, 4)
    expect_raises_later(ValueError, student.attention.MultiHeadAttention, 3, 3, 3, 7, 2,
                        dropout=0.1, bias=True)
    # a divisible size is accepted
    student.attention.MultiHeadAttention.call_later(4, 4, 4, 12, 4)
