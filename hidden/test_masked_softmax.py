"""Hidden suite of the masked_softmax exercise (20 points).

Every expected value comes from `reference/masked_softmax.py` (the book's masked softmax on
PyTorch's own functions); every expected gradient from `torch.autograd.grad` through it.

Readings of the contract taken here (see CONTRACT.md, section 5):
- masked_softmax's valid lengths are tested with whole-number values only (in integer and float
  dtypes): "keys at positions >= valid_len get weight 0" leaves open what a fractional length
  keeps. sequence_mask's contract states its rule (entry j kept where j < valid_len[i]), so
  there fractional float lengths are tested too (2.5 keeps entries 0, 1 and 2). Negative
  lengths are not tested.
- Unmasked scores stay far above -1e6 (|score| <= ~5e4, or float64 scores near -3e5, which tell
  -1e6 from a milder mask value such as -1e5), where "weight 0 past the valid length" and
  "replaced by -1e6 before the softmax" agree exactly. Masked scores may be anything, -inf, inf
  and NaN included: they are replaced, so the output and the gradient stay finite.
- Invalid arguments: X of the wrong rank, valid lengths of a shape other than the ones listed,
  and a non-tensor X. Nothing else (valid lengths given as Python lists, (batch, 1) lengths or
  a 0-dim length are neither required nor forbidden).
- A function through which no gradient reaches X is read as a zero gradient (a row of valid
  length 0 may be built from constants); its values are still compared with the reference's.
"""

import functools

import pytest
import torch

from autograder.testing import expect_answer_or_raises_later, expect_close, expect_raises_later, expect_unchanged
from reference import masked_softmax as ref

pytestmark = pytest.mark.exercise("masked_softmax")

F32, F64 = torch.float32, torch.float64
SEEDS = (0, 1, 2)
FLOAT_IDS = ["float32", "float64"]
LEN_DTYPES = (torch.int64, torch.int32, torch.float32, torch.float64)
NARROW_LEN_DTYPES = (torch.int16, torch.int8, torch.uint8, torch.float16)   # "int or float" includes these
HUGE_LENGTH_HINT = ("a length above the number of positions masks nothing, however large "
                    "(a cast to a narrower integer type such as int32 wraps it around)")
_DEFAULT_RTOL = {F32: 1.3e-6, F64: 1e-7}         # torch.testing.assert_close's defaults
_DEFAULT_ATOL = {F32: 1e-5, F64: 1e-7}


# --------------------------------------------------------------------------- helpers


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _randn(shape, dtype, g, scale=1.0):
    return (torch.randn(shape, generator=g, dtype=F64) * scale).to(dtype)


def _lengths(shape, high, g, dtype=torch.int64, extremes=True):
    """Whole-number lengths in [0, high + 2], with a 0 and an over-long one when there is room."""
    lens = torch.randint(0, high + 3, shape, generator=g)
    flat = lens.view(-1)
    if extremes and flat.numel() >= 2:
        flat[0] = 0
        flat[-1] = high + 2
    return lens.to(dtype)


def _ref_grad(X, valid_lens, grad_output):
    Xr = X.detach().clone().requires_grad_(True)
    out = ref.masked_softmax(Xr, valid_lens)
    (g,) = torch.autograd.grad(out, Xr, grad_output)
    return g


# Every call below is sent without waiting for its answer; its checks run when the answer is
# read (the requests of a test run in the worker in the order sent, the first failure counts).


def _expect_reference_later(fn, ref_fn, name, args, kwargs=None, **tolerances):
    """Send ``fn(*args, **kwargs)``; its answer must be close to ``ref_fn``'s on the same
    arguments (``tolerances``: expect_close's rtol and atol, when not the defaults)."""
    kwargs = kwargs or {}
    fn.later(functools.partial(expect_close, expected=ref_fn(*args, **kwargs), call=(name, args, kwargs),
                               **tolerances), *args, **kwargs)


def _sequence_mask_later(student, X, lens, **kwargs):
    """Send ``sequence_mask(X, lens, **kwargs)``; its answer must match the reference's."""
    _expect_reference_later(student.masked_softmax.sequence_mask, ref.sequence_mask, "sequence_mask",
                            (X, lens), kwargs)


def _masked_softmax_later(student, *args, **tolerances):
    """Send ``masked_softmax(*args)``; its answer must match the reference's."""
    _expect_reference_later(student.masked_softmax.masked_softmax, ref.masked_softmax, "masked_softmax",
                            args, **tolerances)


def _inputs_unchanged_later(fn, ref_fn, name, args, names, kwargs=None):
    """Send ``fn(*args, **kwargs)``; its answer must match the reference's, and every tensor
    argument must come back unchanged (``names[i]`` names argument i in the feedback)."""
    kwargs = kwargs or {}
    originals = tuple(None if a is None else a.clone() for a in args)
    expected = ref_fn(*originals, **kwargs)

    def check(res):
        expect_close(res.value, expected, call=(name, originals, kwargs))
        for i, what in enumerate(names):
            if originals[i] is not None:
                expect_unchanged(originals[i], res.args[i], call=(name, originals), what=what)

    fn.detailed_later(check, *args, **kwargs)


NEGATIVE_LENGTH_HINT = ("a negative length is below every position, so it masks the whole row, as a length of 0 "
                        "does (or refuse it with ValueError); lengths the caller passes are never changed")


def _negative_lengths_later(fn, ref_fn, name, X, lens, **kwargs):
    """Send ``fn(X, lens, **kwargs)`` with some negative lengths: the contract masks every
    position >= a length, so the answer is the reference's (a row masked whole); refusing them
    with ValueError is fine too. The lengths must come back unchanged (a clamp in place)."""
    call, before = (name, (X, lens), kwargs), lens.clone()
    expected = ref_fn(X, before, **kwargs)

    def check(res):
        expect_close(res.value, expected, call=call, hint=NEGATIVE_LENGTH_HINT)
        expect_unchanged(before, res.args[1], call=call, hint=NEGATIVE_LENGTH_HINT,
                         what="valid_len" if name == "sequence_mask" else "valid_lens")

    expect_answer_or_raises_later(ValueError, fn, check, X, lens, call=call, hint=NEGATIVE_LENGTH_HINT, **kwargs)


def _non_finite_where_masked(X, lens):
    """A copy of X (batch, num_queries, num_keys) holding -inf, inf and NaN, in turn, at every key
    position >= its valid length (``lens`` (batch,) or (batch, num_queries)); the rest unchanged."""
    lens = lens[:, None] if lens.dim() == 1 else lens
    masked = (torch.arange(X.shape[-1]) >= lens[..., None]).expand(X.shape)
    junk = torch.tensor([float("-inf"), float("inf"), float("nan")], dtype=X.dtype)
    return torch.where(masked, junk[torch.arange(X.numel()).reshape(X.shape) % 3], X)


def _gradient_later(student, X, lens, grad_out, hint=None):
    """Send masked_softmax(X, lens) with autograd back to X from ``grad_out``; its value and the
    gradient must match the reference's (``hint``: the feedback's hint, when not the default)."""
    call = ("masked_softmax", (X, lens))
    expected, expected_grad = ref.masked_softmax(X, lens), _ref_grad(X, lens, grad_out)

    def check(res):
        expect_close(res.value, expected, call=call, hint=hint)
        got = res.grads[0]
        if got is None:                      # nothing reached X: read as a zero gradient
            got = torch.zeros_like(X)
        expect_close(got, expected_grad, what="gradient w.r.t. X", call=call, hint=hint)

    student.masked_softmax.masked_softmax.with_grad_later(check, X, lens, wrt=(0,), grad_output=grad_out)


# --------------------------------------------------------------------------- sequence_mask (5)


@pytest.mark.points(1)
@pytest.mark.covers("sequence_mask")
def test_sequence_mask_values(student):
    """sequence_mask keeps the entries j < valid_len[i] of each row (fractional float lengths included) and writes `value` (default 0) after them"""
    for seed, dtype in [(s, d) for s in SEEDS for d in (F32, F64)]:
        g = _gen(seed)
        n, maxlen = 3 + seed, 5 + seed
        X = _randn((n, maxlen), dtype, g)
        values = ({}, {"value": -1e6}, {"value": 7.5}, {"value": -3})   # {}: the default, 0.0
        for i, len_dtype in enumerate(LEN_DTYPES):     # every value, every lengths dtype
            lens = _lengths((n,), maxlen, g, len_dtype)
            kwargs = values[(i + seed) % len(values)]
            _sequence_mask_later(student, X, lens, **kwargs)
        if dtype == F64:    # value by position, and every argument by the contract's name
            _expect_reference_later(student.masked_softmax.sequence_mask, ref.sequence_mask,
                                    "sequence_mask", (X, lens, 2.5))
            _expect_reference_later(student.masked_softmax.sequence_mask, ref.sequence_mask,
                                    "sequence_mask", (), {"X": X, "valid_len": lens, "value": 2.5})
    # Float lengths need not be whole numbers: entry j is kept where j < valid_len[i], so a length
    # of 2.5 keeps entries 0, 1 and 2 (truncating it to the integer 2 keeps only 0 and 1).
    X = _randn((4, 5), F64, _gen(6))
    for lens in (torch.tensor([2.5, 0.5, 4.75, 1.25]), torch.tensor([0.25, 3.5, 5.5, 2.0], dtype=F64),
                 torch.tensor([1.5, 3.25, 0.75, 4.5], dtype=torch.float16)):     # float16, "int or float" too
        for x in (X, X.float()):
            _expect_reference_later(student.masked_softmax.sequence_mask, ref.sequence_mask, "sequence_mask",
                                    (x, lens), {"value": -1.0},
                                    hint="keep entry j where j < valid_len[i]: a float length such as 2.5 "
                                         "keeps entries 0, 1 and 2 (do not round or truncate the lengths)")


@pytest.mark.points(1)
@pytest.mark.covers("sequence_mask")
def test_sequence_mask_non_contiguous(student):
    """sequence_mask works on transposed and sliced (non-contiguous) X and valid_len"""
    for seed in SEEDS:
        g = _gen(seed)
        for dtype in (F32, F64):
            base = _randn((6, 4), dtype, g)
            lens_base = _lengths((8,), 6, g)
            cases = [
                (base.T, lens_base[:4]),                     # X (4, 6) transposed
                (base[::2, 1:], lens_base[::2][:3]),          # X (3, 3) sliced, lens strided
                (base.T[:, ::2], lens_base[1::2]),            # X (4, 3), lens (4,) strided
            ]
            for X, lens in cases:
                _sequence_mask_later(student, X, lens, value=-1.5)


@pytest.mark.points(1)
@pytest.mark.covers("sequence_mask")
def test_sequence_mask_new_tensor_inputs_unchanged(student):
    """sequence_mask leaves X and valid_len untouched and returns a new tensor, not X or a view of it"""
    for seed in SEEDS:
        g = _gen(seed)
        X = _randn((4, 5), F32 if seed % 2 else F64, g)
        # lengths of every dtype, some above maxlen (clamped in place, a copy-free .int() or
        # .double() of int32 or float64 lengths would change the caller's)
        for lens in (*(_lengths((4,), 5, g, len_dtype) for len_dtype in LEN_DTYPES),
                     torch.tensor([2.0, 0.0, 5.0, 1.0])):
            _inputs_unchanged_later(student.masked_softmax.sequence_mask, ref.sequence_mask, "sequence_mask",
                                    (X, lens), ("X", "valid_len"), {"value": -9.0})
    # Nothing to mask (every length >= maxlen) is where returning X itself is tempting.
    for X in (torch.arange(12.0).reshape(3, 4), torch.arange(12.0, dtype=F64).reshape(4, 3).T):
        for lens in (torch.tensor([4, 9, 4]), torch.tensor([1, 0, 4])):
            X0 = X.clone()
            x_remote = student.tensor(X)
            out = student.masked_softmax.sequence_mask.new_later(x_remote, lens)
            out.get_later(functools.partial(expect_close, expected=ref.sequence_mask(X0, lens),
                                            call=("sequence_mask", (X0, lens))))
            out.fill_.call_later(12345.0)            # writes into the result, in the worker
            x_remote.get_later(functools.partial(expect_unchanged, X0, call=("sequence_mask", (X0, lens)),
                                                 what="X after writing into the returned tensor"))


@pytest.mark.points(1)
@pytest.mark.covers("sequence_mask")
def test_sequence_mask_dtype_and_edge_cases(student):
    """sequence_mask keeps X's dtype whatever valid_len's dtype, handles empty inputs, -inf values, inf/nan scores, lengths far above maxlen and negative ones"""
    g = _gen(5)
    cases = []
    for dtype in (F32, F64):
        for len_dtype in (*LEN_DTYPES, *NARROW_LEN_DTYPES):
            other = F64 if dtype == F32 else F32
            cases.append((_randn((3, 4), dtype, g), torch.tensor([1, 4, 0]).to(len_dtype), 2.0))
            cases.append((_randn((3, 4), dtype, g), torch.tensor([3, 2, 6]).to(other), -1e6))
        cases += [
            (torch.zeros(0, 4, dtype=dtype), torch.zeros(0, dtype=torch.int64), 0.0),
            (torch.zeros(3, 0, dtype=dtype), torch.tensor([0, 1, 2]), 0.0),
            (torch.zeros(0, 0, dtype=dtype), torch.zeros(0), -1.0),
            (_randn((2, 3), dtype, g), torch.tensor([1, 2]), float("-inf")),
            (torch.tensor([[float("nan"), 1.0, float("inf")], [float("-inf"), float("nan"), 2.0]],
                          dtype=dtype), torch.tensor([1, 0]), -5.0),
            # ... and with the default value 0 (X * mask would keep them: 0 * inf and 0 * nan are NaN)
            (torch.tensor([[1.0, float("inf"), float("nan")], [float("-inf"), 2.0, float("inf")]],
                          dtype=dtype), torch.tensor([1, 2]), 0.0),
        ]
    for X, lens, value in cases:
        _sequence_mask_later(student, X, lens, value=value)
    # positions up to 129, past int8's 127, with lengths of a narrow dtype: positions counted in
    # the lengths' dtype (torch.arange(maxlen, dtype=valid_len.dtype)) wrap around
    X = _randn((3, 130), F32, g)
    for len_dtype in NARROW_LEN_DTYPES:
        _sequence_mask_later(student, X, torch.tensor([2, 100, 127]).to(len_dtype))
    # float64 scores that float32 cannot hold (1e40 would become inf).
    X, lens = torch.tensor([[1e40, 2.0], [-1e40, 1e-3]], dtype=F64), torch.tensor([1, 2])
    _expect_reference_later(student.masked_softmax.sequence_mask, ref.sequence_mask, "sequence_mask", (X, lens),
                            hint="float64 inputs must stay float64 throughout (a float32 copy loses range and precision)")
    # ... and so does `value`: written into a float64 X it is a float64 number (torch.tensor(value)
    # is float32, which turns 1e40 into inf).
    X, lens = _randn((2, 3), F64, g), torch.tensor([1, 3])
    _expect_reference_later(student.masked_softmax.sequence_mask, ref.sequence_mask, "sequence_mask", (X, lens),
                            {"value": -1e40},
                            hint="write `value` in X's dtype (torch.tensor(value) is float32)")
    # Lengths far above maxlen keep the whole row, however large (cast to int32 they wrap around).
    X = _randn((3, 4), F32, g)
    for lens in (torch.tensor([2**40, 1, 4]), torch.tensor([1e10, 0.0, 2.0])):
        _expect_reference_later(student.masked_softmax.sequence_mask, ref.sequence_mask, "sequence_mask", (X, lens),
                                hint=HUGE_LENGTH_HINT)
    # Negative lengths mask the whole row (or are refused), and are not changed.
    for lens in (torch.tensor([-1, 2, -3]), torch.tensor([-0.5, 4.0, -2.0])):
        _negative_lengths_later(student.masked_softmax.sequence_mask, ref.sequence_mask, "sequence_mask", X, lens,
                                value=-1.0)


@pytest.mark.points(1)
@pytest.mark.covers("sequence_mask")
def test_sequence_mask_invalid_arguments(student):
    """sequence_mask raises ValueError for a wrong shape and TypeError for an X that is not a tensor"""
    X = torch.zeros(3, 4)
    bad_shapes = [
        (torch.zeros(4), torch.tensor([1, 2, 3, 4])),          # X 1-D
        (torch.zeros(3, 4, 2), torch.tensor([1, 2, 3])),       # X 3-D
        (X, torch.tensor([1, 2, 3, 4])),                       # n + 1 lengths
        (X, torch.tensor([1, 2])),                             # n - 1 lengths
        (X, torch.ones(3, 2, dtype=torch.int64)),              # 2-D lengths
        (X, torch.tensor([[1, 2, 3]])),                        # (1, n): n lengths, but 2-D
    ]
    for args in bad_shapes:
        expect_raises_later(ValueError, student.masked_softmax.sequence_mask, *args,
                            call=("sequence_mask", args))
    for args in (([[1.0, 2.0], [3.0, 4.0]], torch.tensor([1, 2])), (3.0, torch.tensor([1]))):
        expect_raises_later(TypeError, student.masked_softmax.sequence_mask, *args,
                            call=("sequence_mask", args))


# --------------------------------------------------------------------------- masked_softmax (15)


@pytest.mark.points(1)
@pytest.mark.covers("masked_softmax")
def test_masked_softmax_without_lengths(student):
    """masked_softmax with valid_lens=None is a plain softmax over the last axis"""
    for seed in SEEDS:
        g = _gen(seed)
        for dtype in (F32, F64):
            X = _randn((2 + seed, 3, 4 + seed), dtype, g, scale=3.0)
            for args in ((X,), (X, None)):
                _masked_softmax_later(student, *args)


@pytest.mark.points(1)
@pytest.mark.covers("masked_softmax")
@pytest.mark.parametrize("dtype", [F32, F64], ids=FLOAT_IDS)
def test_masked_softmax_one_length_per_example(student, dtype):
    """masked_softmax with valid_lens of shape (batch,): every query of an example uses its length"""
    for seed in SEEDS:
        g = _gen(seed)
        batch, nq, nk = 3 + seed, 2 + seed, 5
        X = _randn((batch, nq, nk), dtype, g, scale=2.0)
        for len_dtype in LEN_DTYPES:
            lens = _lengths((batch,), nk, g, len_dtype, extremes=False).clamp(min=1)
            _masked_softmax_later(student, X, lens)
        # every argument by the contract's names
        _expect_reference_later(student.masked_softmax.masked_softmax, ref.masked_softmax, "masked_softmax", (),
                                {"X": X, "valid_lens": lens})


@pytest.mark.points(1)
@pytest.mark.covers("masked_softmax")
@pytest.mark.parametrize("dtype", [F32, F64], ids=FLOAT_IDS)
def test_masked_softmax_one_length_per_query(student, dtype):
    """masked_softmax with valid_lens of shape (batch, num_queries): each query uses its own length"""
    for seed in SEEDS:
        g = _gen(seed)
        batch, nq, nk = 2 + seed, 3, 4 + seed
        X = _randn((batch, nq, nk), dtype, g, scale=2.0)
        for len_dtype in LEN_DTYPES:
            lens = _lengths((batch, nq), nk, g, len_dtype, extremes=False).clamp(min=1)
            _masked_softmax_later(student, X, lens)
        _expect_reference_later(student.masked_softmax.masked_softmax, ref.masked_softmax, "masked_softmax",
                                (X,), {"valid_lens": lens})


@pytest.mark.points(2)
@pytest.mark.covers("masked_softmax")
def test_masked_softmax_zero_and_long_lengths(student):
    """masked_softmax: a valid length of 0 gives a uniform row (1/num_keys), one above num_keys masks nothing, a negative one masks the whole row"""
    for seed in SEEDS[:2]:
        g = _gen(seed)
        for dtype in (F32, F64):
            X = _randn((3, 2, 4), dtype, g, scale=2.0)
            for lens in (torch.tensor([0, 4, 9]), torch.tensor([0.0, 7.0, 2.0]),
                         torch.tensor([[0, 1], [5, 0], [4, 100]]),
                         torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]),
                         _lengths((3, 2), 4, g), _lengths((3,), 4, g)):
                _masked_softmax_later(student, X, lens)
    # Lengths far above num_keys mask nothing, however large (cast to int32 they wrap around).
    X = _randn((3, 2, 4), F64, _gen(11))
    for lens in (torch.tensor([2**40, 0, 3]), torch.tensor([1e10, 2.0, 1e10]),
                 torch.tensor([[2**40, 1], [0, 2**40], [3, 4]])):
        _masked_softmax_later(student, X, lens, hint=HUGE_LENGTH_HINT)
    # Negative lengths: rows masked whole, uniform as for 0 (or refused); the lengths unchanged.
    X = _randn((3, 2, 4), F32, _gen(12))
    for lens in (torch.tensor([-1, 3, -5]), torch.tensor([[-1, 2], [0, -2], [4, -1]]), torch.tensor([-1.5, 2.0, 9.0])):
        _negative_lengths_later(student.masked_softmax.masked_softmax, ref.masked_softmax, "masked_softmax", X, lens)
    # A single example whose only length is 0 (a tensor whose truth value would be False).
    X = _randn((1, 2, 3), F32, _gen(9))
    for lens in (torch.tensor([0]), torch.tensor([[0, 0]])):
        _masked_softmax_later(student, X, lens)
    # One lengths tensor kept in the worker and changed in place between two calls: each call
    # masks by the lengths it holds at that call (nothing is remembered by the tensor's identity).
    X = _randn((3, 2, 4), F32, _gen(10))
    kept = student.tensor(torch.tensor([4, 0, 2]))
    for lens in (torch.tensor([4, 0, 2]), torch.tensor([0, 9, 1])):
        kept.copy_.call_later(lens)
        student.masked_softmax.masked_softmax.later(
            functools.partial(expect_close, expected=ref.masked_softmax(X, lens), call=("masked_softmax", (X, lens)),
                              what="output for valid lengths changed in place since the previous call"),
            X, kept)


@pytest.mark.points(1)
@pytest.mark.covers("masked_softmax")
def test_masked_softmax_non_contiguous(student):
    """masked_softmax works on transposed and sliced (non-contiguous) scores and valid lengths"""
    for seed in SEEDS[:2]:
        g = _gen(seed)
        for dtype in (F32, F64):
            base = _randn((3, 5, 4), dtype, g, scale=2.0)
            lens_1d = _lengths((6,), 5, g)
            lens_2d = _lengths((4, 3), 5, g)                   # .T is (3, 4), non-contiguous
            cases = [
                (base.transpose(1, 2), lens_1d[::2]),          # X (3, 4, 5)
                (base.transpose(1, 2), lens_2d.T),
                (base[:, ::2, 1:], lens_1d[1::2]),             # X (3, 3, 3)
                (base.transpose(0, 2)[:3], _lengths((5, 6), 3, g).T[::2]),  # X (3, 5, 3), lens (3, 5)
                (base.transpose(1, 2), None),
            ]
            for X, lens in cases:
                _masked_softmax_later(student, X, lens)


@pytest.mark.points(1)
@pytest.mark.covers("masked_softmax")
def test_masked_softmax_leaves_inputs_unchanged(student):
    """masked_softmax does not modify X or valid_lens (the book's in-place X[~mask] = value does)"""
    for seed in SEEDS[:2]:
        g = _gen(seed)
        for dtype in (F32, F64):
            X = _randn((2, 3, 4), dtype, g)
            # lengths of every dtype, some above num_keys (clamped in place, a copy-free .int()
            # or .double() of int32 or float64 lengths would change the caller's)
            for lens in (*(_lengths(shape, 4, g, len_dtype) for shape in ((2,), (2, 3)) for len_dtype in LEN_DTYPES),
                         None):
                _inputs_unchanged_later(student.masked_softmax.masked_softmax, ref.masked_softmax,
                                        "masked_softmax", (X, lens), ("X", "valid_lens"))


@pytest.mark.points(1)
@pytest.mark.covers("masked_softmax")
def test_masked_softmax_keeps_dtype(student):
    """masked_softmax returns X's dtype, whatever the dtype of valid_lens"""
    g = _gen(3)
    for dtype in (F32, F64):
        X = _randn((2, 3, 5), dtype, g)
        for len_dtype in (*LEN_DTYPES, *NARROW_LEN_DTYPES):
            for lens in (torch.tensor([2, 5]), torch.tensor([[1, 0, 6], [3, 2, 5]])):
                lens = lens.to(len_dtype)
                _masked_softmax_later(student, X, lens)


@pytest.mark.points(1)
@pytest.mark.covers("masked_softmax")
def test_masked_softmax_large_scores(student):
    """masked_softmax stays finite and accurate for large scores (hundreds to tens of thousands, float32 included, and near -3e5), and for masked scores that are -inf, inf or NaN (replaced by -1e6 like any other)"""
    for seed in SEEDS[:2]:
        g = _gen(seed)
        for dtype in (F32, F64):
            for scale in (100.0, 1e3, 1e4):
                X = _randn((2, 3, 6), dtype, g, scale=scale)
                # CONTRACT.md: near logits of 1e4, allowed formulas (x - logsumexp(x), ...) round
                # the scores themselves, so the relative tolerance scales with the largest score.
                rtol = max(_DEFAULT_RTOL[dtype], 4 * torch.finfo(dtype).eps * X.abs().max().item())
                for lens in (None, torch.tensor([[1, 2, 3], [6, 2, 9]]) if seed else torch.tensor([4, 6])):
                    _masked_softmax_later(student, X, lens, rtol=rtol, atol=_DEFAULT_ATOL[dtype])
    # Scores near -3e5 are still far above -1e6, so padding keys keep weight 0: a milder mask
    # value (-1e4, -1e5) would give them the weight instead.
    X = _randn((2, 3, 6), F64, _gen(4)) - 3e5
    rtol = max(_DEFAULT_RTOL[F64], 4 * torch.finfo(F64).eps * X.abs().max().item())
    for lens in (torch.tensor([2, 5]), torch.tensor([[1, 3, 6], [0, 4, 2]])):
        _masked_softmax_later(student, X, lens, rtol=rtol, atol=_DEFAULT_ATOL[F64])
    # Masked scores are replaced, whatever they hold: -inf, inf and NaN there change nothing (an
    # arithmetic mask such as X * keep - 1e6 * (1 - keep) turns the whole row into NaN: 0 * inf).
    g = _gen(8)
    for dtype in (F32, F64):
        for lens in (torch.tensor([3, 0]), torch.tensor([[2, 0, 5], [1, 4, 3]])):
            X = _non_finite_where_masked(_randn((2, 3, 5), dtype, g, scale=2.0), lens)
            _expect_reference_later(student.masked_softmax.masked_softmax, ref.masked_softmax, "masked_softmax",
                                    (X, lens), hint="replace the masked scores by -1e6 (torch.where or "
                                                    "masked_fill) rather than mixing them in arithmetically: "
                                                    "0 * inf and 0 * nan are NaN")


@pytest.mark.points(1)
@pytest.mark.covers("masked_softmax")
@pytest.mark.parametrize("dtype", [F32, F64], ids=FLOAT_IDS)
def test_masked_softmax_gradients(student, dtype):
    """Gradients flow from masked_softmax back to X as through the book's masked softmax (0 at masked keys, even where the masked scores are -inf, inf or NaN)"""
    for seed in SEEDS:
        g = _gen(seed)
        X = _randn((3, 2, 5), dtype, g, scale=2.0)
        for lens in (None, torch.tensor([0, 3, 7]), torch.tensor([[2, 0], [5, 1], [4, 3]]),
                     torch.tensor([1.0, 2.0, 5.0])):
            _gradient_later(student, X, lens, _randn(X.shape, dtype, g))
    # non-finite scores at masked positions: the output and the gradient stay finite
    g = _gen(7)
    for lens in (torch.tensor([2, 0, 4]), torch.tensor([[3, 0], [1, 5], [4, 2]])):
        X = _non_finite_where_masked(_randn((3, 2, 5), dtype, g, scale=2.0), lens)
        _gradient_later(student, X, lens, _randn(X.shape, dtype, g),
                        hint="replace the masked scores by -1e6 (torch.where or masked_fill): then no "
                             "gradient flows to them, whatever they hold (-inf, inf and NaN included)")


@pytest.mark.points(1)
@pytest.mark.covers("masked_softmax")
def test_masked_softmax_empty_dimensions(student):
    """masked_softmax handles a batch, query or key dimension of size 0"""
    cases = []
    for dtype in (F32, F64):
        cases += [
            (torch.zeros(0, 3, 4, dtype=dtype), torch.zeros(0, dtype=torch.int64)),
            (torch.zeros(0, 3, 4, dtype=dtype), torch.zeros(0, 3)),
            (torch.zeros(2, 0, 4, dtype=dtype), torch.tensor([1, 3])),
            (torch.zeros(2, 0, 4, dtype=dtype), torch.zeros(2, 0, dtype=torch.int64)),
            (torch.zeros(2, 3, 0, dtype=dtype), torch.tensor([0, 2])),
            (torch.zeros(2, 3, 0, dtype=dtype), torch.tensor([[0, 1, 0], [0, 0, 0]])),
            (torch.zeros(2, 3, 0, dtype=dtype), None),
            (torch.zeros(0, 0, 0, dtype=dtype), torch.zeros(0)),
        ]
    for X, lens in cases:
        _masked_softmax_later(student, X, lens)


@pytest.mark.points(1)
@pytest.mark.covers("masked_softmax")
def test_masked_softmax_invalid_arguments(student):
    """masked_softmax raises ValueError for wrong shapes and TypeError for an X that is not a tensor"""
    X = torch.zeros(2, 3, 4)
    bad_shapes = [
        (torch.zeros(3, 4), torch.tensor([1, 2, 3])),          # X 2-D, with lengths
        (torch.zeros(3, 4), None),                             # X 2-D, without
        (torch.zeros(2, 3, 4, 1), torch.tensor([1, 2])),       # X 4-D
        (X, torch.tensor([1, 2, 3])),                          # batch + 1 lengths
        (X, torch.tensor([1, 2, 3, 4, 5, 6])),                 # batch * num_queries, flat
        (X, torch.ones(2, 4, dtype=torch.int64)),              # (batch, num_queries + 1)
        (X, torch.ones(3, 3, dtype=torch.int64)),              # (batch + 1, num_queries)
        (X, torch.ones(3, 2, dtype=torch.int64)),              # (num_queries, batch): transposed
        (X, torch.ones(2, 3, 1, dtype=torch.int64)),           # 3-D lengths
        (X, torch.tensor([2])),                                # one length for a batch of 2
        (X, torch.tensor([2.0])),                              # the same, float
        (X, torch.ones(1, 3, dtype=torch.int64)),              # (1, num_queries) for a batch of 2
        (X, torch.tensor([[1, 2]])),                           # (1, batch): batch lengths, but 2-D
        (X, torch.ones(2, 1, 1, dtype=torch.int64)),           # (batch, 1, 1): batch lengths, but 3-D
    ]
    for args in bad_shapes:
        expect_raises_later(ValueError, student.masked_softmax.masked_softmax, *args,
                            call=("masked_softmax", args))
    for args in (([[[1.0, 2.0]]], None), ([[[1.0, 2.0]]], torch.tensor([1])), (3.0, torch.tensor([1]))):
        expect_raises_later(TypeError, student.masked_softmax.masked_softmax, *args,
                            call=("masked_softmax", args))
