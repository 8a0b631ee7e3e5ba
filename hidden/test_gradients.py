"""Hidden suite for the ``gradients`` exercise (20 points).

Expected values come from ``reference/gradients.py``, where every gradient is PyTorch's own
autograd. Inputs are float32 and float64, contiguous or not (transposed / sliced), with several
seeds; every call is checked to leave its tensor arguments unchanged. Each function is called
once by the contract's parameter names (keyword arguments) as well.

``numerical_grad`` needs a scalar-valued callable ``f`` that lives in the worker (only data and
worker objects cross the wire): :func:`_remote_method` makes one, the bound method ``a.dist``
(``f(x) = ||x - a||_2``, smooth and nonlinear) or ``a.dot`` (linear, for exact float32 checks).
Contract readings taken here (see CONTRACT.md, "How the contract is read"):
- ``f`` is evaluated at tensors of ``x``'s dtype and shape (what "the gradient of f at x" means);
  float32 values are checked where the central difference is exact (dyadic x, a and h), so any
  honest float32 or float64-accumulating implementation agrees.
- ``square_loss_grad`` on Python floats may return a Python float or a 0-dim tensor; the value is
  checked at float64 precision.
- A wrong tensor dtype for ``targets`` may be a ``TypeError`` or a ``ValueError``; so may a plain list
  where a tensor is expected (anything but those two, e.g. an ``AttributeError``, is wrong).
- ``linear_regression_grads`` with n = 0 is not tested (the mean over no examples is undefined:
  the hand formula gives NaN, autograd gives 0). ``mlp_backward`` with N = 0 is, as a call that
  must not fail: each gradient may be autograd's 0 or NaN.
- At logits around 1e3, tolerances scale with the logits (as for the losses exercise).

Calls to student code are sent without waiting (``*_later``): each check is built first, with the
expected value computed here, and runs when the answer arrives, so a test's calls go to the worker
together.
"""


import pytest
import torch

from autograder.testing import expect_close, expect_equal, expect_raises_later, expect_unchanged, is_close
from reference import gradients as ref

pytestmark = pytest.mark.exercise("gradients")

DTYPES = (torch.float32, torch.float64)
SEEDS = (0, 1, 2)
_RTOL = {torch.float32: 1.3e-6, torch.float64: 1e-7}  # torch.testing.assert_close's defaults


# --------------------------------------------------------------------------- helpers

def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _randn(gen, *shape, dtype=torch.float64):
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float64).to(dtype)


def _strided(t):
    """The same values as ``t`` in a non-contiguous tensor (every other element of a wider one)."""
    if t.dim() == 0:
        return t.clone()
    wide = torch.zeros(*t.shape[:-1], 2 * t.shape[-1] + 1, dtype=t.dtype)
    wide[..., 1::2] = t
    out = wide[..., 1::2]
    assert torch.equal(out, t)
    return out


def _transposed(t):
    """The same values as 2-D ``t``, stored column-major (t.T.contiguous().T)."""
    out = t.T.contiguous().T
    assert torch.equal(out, t)
    return out


def _send(fn, args, call, check_value, names=None, kwargs=None):
    """Send ``fn(*args, **kwargs)`` without waiting. When the answer arrives, check that no tensor
    argument changed (named ``names[i]``, or "argument i+1"; a keyword argument by its keyword),
    then run ``check_value(result)``."""
    kwargs = kwargs or {}

    def check(res):
        for i, a in enumerate(args):
            if isinstance(a, torch.Tensor):
                what = names[i] if names else f"argument {i + 1}"
                expect_unchanged(a, res.args[i], call=call, what=what)
        for k, v in kwargs.items():
            if isinstance(v, torch.Tensor):
                expect_unchanged(v, res.kwargs[k], call=call, what=k)
        check_value(res.value)

    fn.detailed_later(check, *args, **kwargs)


def _arguments(name, names, args, keywords=False):
    """``(args, kwargs, call)`` for calling ``name`` on ``args``: positionally, or (``keywords``)
    by the contract's parameter ``names``, which a student's function must keep."""
    if keywords:
        kwargs = dict(zip(names, args))
        return (), kwargs, (name, (), kwargs)
    return tuple(args), {}, (name, tuple(args))


def _close(want, call, **kwargs):
    """A check: the result is close to ``want`` (``expect_close``); binds its arguments now."""
    return lambda got: expect_close(got, want, call=call, **kwargs)


def _tensors(value, n, call=None):
    """``value`` as a list of ``n`` results (the function returns a tuple or a list)."""
    expect_equal(isinstance(value, (tuple, list)) and len(value), n, call=call,
                 what=f"number of returned gradients (a tuple of {n})")
    return list(value)


def _send_tensors(fn, args, call, wants, whats, kwargs=None):
    """``_send`` for a function returning a tuple of tensors: one ``expect_close`` per element,
    ``wants[i]`` named ``whats[i]``."""
    def check_value(got):
        for g, want, what in zip(_tensors(got, len(wants), call=call), wants, whats):
            expect_close(g, want, call=call, what=what)

    _send(fn, args, call, check_value, kwargs=kwargs)


def _remote_method(student, a, name):
    """The bound method ``a.<name>`` as an object in the student's worker, passable as ``f``."""
    return getattr(student.tensor(a), name).ref_later()


# --------------------------------------------------------------------------- square_loss_grad

def _number_close(want, call):
    """A check: the result is a Python number (or a 0-dim tensor) close to the float ``want``,
    compared at float64 precision."""
    def check(got):
        if isinstance(got, torch.Tensor):
            expect_equal(tuple(got.shape), (), call=call, what="shape of the result for float inputs")
            got = got.item()
        expect_equal(isinstance(got, (int, float)) and not isinstance(got, bool), True, call=call,
                     what="result is a number")
        expect_close(torch.tensor(float(got), dtype=torch.float64), torch.tensor(want, dtype=torch.float64),
                     call=call)

    return check


@pytest.mark.points(1)
@pytest.mark.covers("square_loss_grad")
def test_square_loss_grad_floats(student):
    """square_loss_grad on plain Python floats gives 2 * x * (x * w - y)"""
    for x, y, w in [(1.5, 2.0, 3.0), (0.1, 0.3, -0.7), (-2.5, 0.2, 0.0), (0.0, 1.0, 2.0), (1e3, -3.1, 0.9),
                    (1e4 + 0.1, 1e4 + 0.101, 1.0)]:  # cancellation: needs float64 precision
        call = ("square_loss_grad", (x, y, w))
        student.gradients.square_loss_grad.later(_number_close(ref.square_loss_grad(x, y, w), call), x, y, w)


@pytest.mark.points(1)
@pytest.mark.covers("square_loss_grad")
def test_square_loss_grad_tensors(student):
    """square_loss_grad on tensors: elementwise, broadcasting, float32 and float64, empty shapes, tensors mixed with floats"""
    for dt in DTYPES:
        for seed in SEEDS:
            g = _gen(seed)
            cases = [
                (_transposed(_randn(g, 3, 4, dtype=dt)), _randn(g, 3, 4, dtype=dt), _strided(_randn(g, 3, 4, dtype=dt))),
                (_randn(g, 3, 1, dtype=dt), _randn(g, 4, dtype=dt), _randn(g, 3, 4, dtype=dt)),
                (_strided(_randn(g, 2, 3, dtype=dt)), 0.5, -1.25),
                (1.5, _randn(g, 5, dtype=dt), _randn(g, 5, dtype=dt)),
                (_randn(g, 2, 1, 3, dtype=dt), _randn(g, 4, 1, dtype=dt), _randn(g, 1, dtype=dt)),
                (_randn(g, dtype=dt), _randn(g, dtype=dt), _randn(g, dtype=dt)),
                (_randn(g, 0, 3, dtype=dt), _randn(g, 3, dtype=dt), _randn(g, 1, 3, dtype=dt)),
                # only 0-dim tensors besides the floats: the result keeps x's dtype (floats turned into
                # float64 tensors would promote it)
                (_randn(g, dtype=dt), 0.5, -1.25),
            ]
            for x, y, w in cases:
                call = ("square_loss_grad", (x, y, w))
                _send(student.gradients.square_loss_grad, (x, y, w), call, _close(ref.square_loss_grad(x, y, w), call))
    # a float64 tensor with Python floats: the floats keep their float64 precision (as float32
    # tensors, 1e4 + 0.1 and 1e4 + 0.101 round apart and x * w - y cancels to the wrong value)
    t = torch.tensor([1.0, 2.0, -0.5], dtype=torch.float64)
    near = torch.tensor([1e4 + 0.101, 1e4 + 0.05, 1e4 + 0.2], dtype=torch.float64)
    for x, y, w in ((t, 1e4 + 0.101, 1e4 + 0.1), (1e4 + 0.1, near, 1.0)):
        call = ("square_loss_grad", (x, y, w))
        _send(student.gradients.square_loss_grad, (x, y, w), call,
              _close(ref.square_loss_grad(x, y, w), call,
                     hint="Python floats are float64 numbers: use them in the formula as they are "
                          "(torch.as_tensor or torch.tensor of a float makes a float32 tensor and rounds it)"))
    g = _gen(8)
    xyw = (_randn(g, 2, 3), _randn(g, 3), _randn(g, 2, 1))
    args, kwargs, call = _arguments("square_loss_grad", ("x", "y", "w"), xyw, keywords=True)
    _send(student.gradients.square_loss_grad, args, call, _close(ref.square_loss_grad(*xyw), call), kwargs=kwargs)


# --------------------------------------------------------------------------- numerical_grad

_NUMGRAD_ARGS = ("f", "x", "h")  # names of numerical_grad's arguments, for expect_unchanged


@pytest.mark.points(2)
@pytest.mark.covers("numerical_grad")
def test_numerical_grad_float64(student):
    """numerical_grad matches the central difference in float64, any shape and layout (expanded too), x unchanged even while f runs"""
    for seed in SEEDS:
        g = _gen(seed)
        xs = [
            _randn(g, 5),
            _transposed(_randn(g, 3, 4)),
            _strided(_randn(g, 2, 3, 2)),
            _randn(g),
            _randn(g, 0, 3),
        ]
        for x in xs:
            a = _randn(g, *x.shape) + 0.5
            f = _remote_method(student, a, "dist")
            call = ("numerical_grad", ("f = lambda t: a.dist(t)", x))
            want = ref.numerical_grad(a.dist, x)
            _send(student.gradients.numerical_grad, (f, x), call, _close(want, call), names=_NUMGRAD_ARGS)
    # an expanded x: its elements share memory (stride 0), so writing one element writes its whole row
    x = torch.tensor([[0.5], [-1.0]], dtype=torch.float64).expand(2, 3)
    a = _randn(_gen(8), 2, 3)
    call = ("numerical_grad", ("f = lambda t: a.dist(t)", x))
    _send(student.gradients.numerical_grad, (_remote_method(student, a, "dist"), x), call,
          _close(ref.numerical_grad(a.dist, x), call, hint="perturb a contiguous copy of x, never x itself"),
          names=_NUMGRAD_ARGS)
    # f reads x itself (f = x.dot): the gradient of f at x is x, as long as x stays as it is while f runs
    a = torch.tensor([0.5, -1.25, 2.0, 0.0], dtype=torch.float64)
    same = student.tensor(a)
    call = ("numerical_grad", ("f = lambda t: x.dot(t)", a))
    student.gradients.numerical_grad.later(_close(ref.numerical_grad(a.dot, a), call,
                                                  hint="perturb a copy of x, never x itself: f may read x"),
                                           same.dot.ref_later(), same)
    # a gradient of about 1e39, beyond float32's range (about 3.4e38): finite in float64
    x = _randn(_gen(4), 4)
    a = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64) * 2.0 ** 130
    call = ("numerical_grad", ("f = lambda t: a.dot(t)", x))
    student.gradients.numerical_grad.later(_close(ref.numerical_grad(a.dot, x), call,
                                                  hint="compute the gradient in x's dtype (a float32 buffer "
                                                       "overflows here)"),
                                           _remote_method(student, a, "dot"), x)
    # the contract's parameter names: numerical_grad(f, x, h)
    g = _gen(5)
    x, a = _randn(g, 2, 3), _randn(g, 2, 3) + 0.5
    kwargs = {"f": _remote_method(student, a, "dist"), "x": x, "h": 1e-4}
    call = ("numerical_grad", (), {"f": "lambda t: a.dist(t)", "x": x, "h": 1e-4})
    _send(student.gradients.numerical_grad, (), call, _close(ref.numerical_grad(a.dist, x, h=1e-4), call),
          kwargs=kwargs)


def _expect_h_checked_before_f(student, h):
    """Send numerical_grad(f, x, h) for a step ``h <= 0`` with an ``f`` that counts its calls, and
    check that the ValueError came before the differences were taken ("before any work is done"):
    one call at most, which may check that ``f`` gives a scalar, never the 2 of a difference.

    ``f`` is ``calls.add_`` on a 0-dim worker tensor ``calls`` (0 at first): it returns ``calls``, a
    scalar, and adds its argument to it. ``x`` is 1, so every argument is about 1 and ``calls``,
    rounded, is the number of calls."""
    calls = student.tensor(torch.zeros((), dtype=torch.float64))
    x = torch.tensor(1.0, dtype=torch.float64)
    call = ("numerical_grad", ("f", x, f"h={h}"))
    expect_raises_later(ValueError, student.gradients.numerical_grad, calls.add_.ref_later(), x, h=h, call=call,
                        hint="a step h <= 0 cannot give a gradient: raise ValueError")

    def at_most_one_call(total):
        made = round(total.item())
        expect_equal(made if made > 1 else "at most 1", "at most 1", call=call,
                     what="number of calls of f before the ValueError",
                     hint="check h before the loop: invalid arguments raise before any work is done")

    calls.get_later(at_most_one_call)


@pytest.mark.points(1)
@pytest.mark.covers("numerical_grad")
def test_numerical_grad_float32_and_step(student):
    """numerical_grad keeps float32, uses the step h it is given (1e-5 if none), and raises ValueError for h <= 0 (TypeError for an x that is not a tensor)"""
    # float32, exact: dyadic a, x and h make every difference exact, so the result is a itself
    for seed in SEEDS:
        g = _gen(seed)
        x = _strided(torch.randint(-64, 64, (6,), generator=g).to(torch.float32) / 16)
        a = torch.randint(-64, 64, (6,), generator=g).to(torch.float32) / 8
        f = _remote_method(student, a, "dot")
        for h in (2.0 ** -4, 0.5):
            call = ("numerical_grad", ("f = lambda t: a.dot(t)", x, h))
            want = ref.numerical_grad(a.dot, x, h)
            _send(student.gradients.numerical_grad, (f, x, h), call, _close(want, call), names=_NUMGRAD_ARGS)
    # float64, a large step: the truncation error shows which h was used
    g = _gen(7)
    for h in (0.05, 0.3):
        x = _randn(g, 2, 3)
        a = _randn(g, 2, 3) + 1.0
        f = _remote_method(student, a, "dist")
        call = ("numerical_grad", ("f = lambda t: a.dist(t)", x, f"h={h}"))
        want = ref.numerical_grad(a.dist, x, h=h)
        student.gradients.numerical_grad.later(_close(want, call), f, x, h=h)
    # the default step: x sits 0.5e-5 from the kink of |x - a|, where the central difference depends on
    # the step (about 0.44 with h = 1e-5, 0.70 with 1e-6, 0.24 with 2e-5)
    a_kink = _randn(g, 3)
    x_kink = a_kink + torch.tensor([0.5e-5, 0.0, -0.5e-5], dtype=torch.float64)
    call = ("numerical_grad", ("f = lambda t: a.dist(t)", x_kink))
    student.gradients.numerical_grad.later(_close(ref.numerical_grad(a_kink.dist, x_kink), call,
                                                  hint="the default step is h=1e-5"),
                                           _remote_method(student, a_kink, "dist"), x_kink)
    for h in (0.0, -1e-3):
        expect_raises_later(ValueError, student.gradients.numerical_grad, f, x, h=h,
                            call=("numerical_grad", ("f", x, f"h={h}")),
                            hint="a step h <= 0 cannot give a gradient: raise ValueError")
        _expect_h_checked_before_f(student, h)
    # x must be a tensor: a list is a TypeError (not an AttributeError from x.clone())
    expect_raises_later((TypeError, ValueError), student.gradients.numerical_grad, f, [1.0, 2.0],
                        call=("numerical_grad", ("f", [1.0, 2.0])), hint="x must be a tensor: raise TypeError")


# --------------------------------------------------------------------------- linear_regression_grads

def _check_linear_regression(student, Xywb, keywords=False):
    """Send linear_regression_grads(X, y, w, b) (by the parameter names with ``keywords``); check dw
    and db against autograd's."""
    args, kwargs, call = _arguments("linear_regression_grads", ("X", "y", "w", "b"), Xywb, keywords)
    _send_tensors(student.gradients.linear_regression_grads, args, call, ref.linear_regression_grads(*Xywb),
                  ("dw", "db"), kwargs=kwargs)


@pytest.mark.points(2)
@pytest.mark.covers("linear_regression_grads")
def test_linear_regression_grads(student):
    """linear_regression_grads gives the gradients of the mean half squared error (dw (d,), db 0-dim)"""
    for dt in DTYPES:
        for seed in SEEDS:
            g = _gen(seed)
            for n, d in ((7, 3), (1, 4), (5, 1), (4, 0)):
                X = _transposed(_randn(g, n, d, dtype=dt)) if d else _randn(g, n, d, dtype=dt)
                y = _strided(_randn(g, n, dtype=dt))
                w = _randn(g, d, dtype=dt)
                for b in (0.75, _randn(g, dtype=dt)):
                    _check_linear_regression(student, (X, y, w, b))
    g = _gen(5)
    _check_linear_regression(student, (_randn(g, 4, 3), _randn(g, 4), _randn(g, 3), 0.5), keywords=True)
    # a float b is used in the inputs' dtype: 1e4 + 0.1 rounded to float32 is 4e-4 off, which is
    # all of the small residual left by y = X @ w + b + noise
    X, w = _randn(g, 6, 3, dtype=torch.float64), _randn(g, 3, dtype=torch.float64)
    b = 1e4 + 0.1
    _check_linear_regression(student, (X, X @ w + b + 0.01 * _randn(g, 6, dtype=torch.float64), w, b))


# --------------------------------------------------------------------------- linear_backward

def _check_linear(student, dout, x, W, b, keywords=False):
    """Send linear_backward(dout, x, W, b) (by the parameter names with ``keywords``); check dx, dW
    and db against autograd's."""
    args, kwargs, call = _arguments("linear_backward", ("dout", "x", "W", "b"), (dout, x, W, b), keywords)
    _send_tensors(student.gradients.linear_backward, args, call, ref.linear_backward(dout, x, W, b),
                  ("dx", "dW", "db"), kwargs=kwargs)


@pytest.mark.points(1)
@pytest.mark.covers("linear_backward")
def test_linear_backward_2d(student):
    """linear_backward on a batch x (n, in): dx, dW and db as autograd gives them (a square W too)"""
    for dt in DTYPES:
        for seed in SEEDS:
            g = _gen(seed)
            x = _transposed(_randn(g, 4, 3, dtype=dt))
            W = _transposed(_randn(g, 5, 3, dtype=dt))
            b = _strided(_randn(g, 5, dtype=dt))
            dout = _strided(_randn(g, 4, 5, dtype=dt))
            _check_linear(student, dout, x, W, b)
    g = _gen(4)
    _check_linear(student, _randn(g, 2, 4), _randn(g, 2, 3), _randn(g, 4, 3), _randn(g, 4), keywords=True)
    # a square W (out = in): a dW of the right shape but transposed (x.T @ dout) shows only here
    g = _gen(5)
    _check_linear(student, _randn(g, 4, 3, dtype=torch.float64), _randn(g, 4, 3, dtype=torch.float64),
                  _randn(g, 3, 3, dtype=torch.float64), _randn(g, 3, dtype=torch.float64))


@pytest.mark.points(1)
@pytest.mark.covers("linear_backward")
def test_linear_backward_leading_dims(student):
    """linear_backward with x (..., in): no, one or several leading dims, empty sizes and sizes of 1"""
    for dt in DTYPES:
        g = _gen(3)
        for lead, fin, fout in [((), 3, 2), ((2, 3), 3, 4), ((2, 1, 3), 2, 3), ((0,), 3, 2),
                                ((2, 0), 3, 2), ((4,), 0, 2), ((4,), 3, 0),
                                ((1,), 3, 2), ((4,), 1, 3), ((4,), 2, 1), ((1,), 1, 1)]:   # sizes of 1 kept
            x = _strided(_randn(g, *lead, fin, dtype=dt))
            W = _randn(g, fout, fin, dtype=dt)
            b = _randn(g, fout, dtype=dt)
            dout = _randn(g, *lead, fout, dtype=dt)
            _check_linear(student, dout, x, W, b)
        # leading dims that cannot be merged without a copy (x.view would fail here)
        x = _randn(g, 3, 2, 4, dtype=dt).transpose(0, 1)
        dout = _randn(g, 3, 2, 5, dtype=dt).transpose(0, 1)
        _check_linear(student, dout, x, _randn(g, 5, 4, dtype=dt), _randn(g, 5, dtype=dt))


# --------------------------------------------------------------------------- activations

def _check_activation(student, name, xs_extra):
    """Send ``name(dout, x)`` on random and on ``xs_extra`` inputs; check against autograd's."""
    fn = getattr(student.gradients, name)
    for dt in DTYPES:
        for seed in SEEDS:
            g = _gen(seed)
            xs = [_transposed(_randn(g, 4, 3, dtype=dt) * 3), _strided(_randn(g, 2, 3, 4, dtype=dt)),
                  _randn(g, dtype=dt), _randn(g, 0, 2, dtype=dt),
                  torch.tensor(xs_extra, dtype=dt)]
            for x in xs:
                dout = _randn(g, *x.shape, dtype=dt)
                call = (name, (dout, x))
                _send(fn, (dout, x), call, _close(getattr(ref, name)(dout, x), call))
    # float64 beyond float32: an upstream gradient of 1e40 (above float32's range, about 3.4e38),
    # and 1e6 at |x| of 8 to 10, where 1 - tanh(x) ** 2 (5e-7 to 8e-9) and s * (1 - s) (3e-4 to
    # 5e-5) cancel: float32's rounding of tanh(x) or s moves the result far outside float64's tolerance
    # Then large upstream gradients at |x| of 20 to 30, where the gradient is tiny (sigmoid's 1e-13
    # to 2e-9; tanh's rounds to 0): x clamped to [-20, 20] or [-15, 15] before the sigmoid or tanh
    # (to keep exp from overflowing) gives one orders of magnitude too large
    x = torch.tensor([0.5, -0.5, 8.0, -8.5, 9.0, -9.5, 10.0, 30.0, -25.0, 20.0, -22.0], dtype=torch.float64)
    dout = torch.tensor([1e40, -2e39, 1e6, -1e6, 1e6, 1e6, -1e6, 1e6, -1e6, 1e8, 1e8], dtype=torch.float64)
    call = (name, (dout, x))
    _send(fn, (dout, x), call, _close(getattr(ref, name)(dout, x), call,
                                      hint="compute in the inputs' dtype: float64 inputs need float64 arithmetic"))
    g = _gen(4)
    dout_x = (_randn(g, 2, 3), torch.tensor([[-1.0, 0.5, 2.0], [3.0, -0.25, 0.0]], dtype=torch.float64))
    args, kwargs, call = _arguments(name, ("dout", "x"), dout_x, keywords=True)
    _send(fn, args, call, _close(getattr(ref, name)(*dout_x), call), kwargs=kwargs)


@pytest.mark.points(1)
@pytest.mark.covers("relu_backward")
def test_relu_backward(student):
    """relu_backward passes dout where x > 0 and gives 0 where x <= 0 (x = 0 included)"""
    _check_activation(student, "relu_backward", [-2.0, -0.0, 0.0, 1e-30, 3.0, -1e-30, 0.0, 5.0])


@pytest.mark.points(1)
@pytest.mark.covers("sigmoid_backward")
def test_sigmoid_backward(student):
    """sigmoid_backward is dout * s * (1 - s), finite for very large |x|"""
    _check_activation(student, "sigmoid_backward", [-1e4, -800.0, -100.0, -30.0, 0.0, 30.0, 100.0, 800.0, 1e4])


@pytest.mark.points(1)
@pytest.mark.covers("tanh_backward")
def test_tanh_backward(student):
    """tanh_backward is dout * (1 - tanh(x) ** 2), finite for very large |x|"""
    _check_activation(student, "tanh_backward", [-1e4, -800.0, -100.0, -20.0, 0.0, 20.0, 100.0, 800.0, 1e4])


# --------------------------------------------------------------------------- softmax cross-entropy

def _check_ce(student, logits, targets, atol=None, keywords=False):
    """Send softmax_cross_entropy_backward(logits, targets) (by the parameter names with
    ``keywords``); check it against autograd's (with ``atol``, and the default rtol, if given)."""
    args, kwargs, call = _arguments("softmax_cross_entropy_backward", ("logits", "targets"), (logits, targets),
                                    keywords)
    rtol = None if atol is None else _RTOL[logits.dtype]
    want = ref.softmax_cross_entropy_backward(logits, targets)
    _send(student.gradients.softmax_cross_entropy_backward, args, call, _close(want, call, rtol=rtol, atol=atol),
          kwargs=kwargs)


@pytest.mark.points(2)
@pytest.mark.covers("softmax_cross_entropy_backward")
def test_softmax_cross_entropy_backward(student):
    """softmax_cross_entropy_backward gives (softmax(logits) - onehot) / N, as autograd, in a new tensor at each call"""
    for dt in DTYPES:
        for seed in SEEDS:
            g = _gen(seed)
            logits = _transposed(_randn(g, 6, 4, dtype=dt) * 2)
            targets = _strided(torch.randint(0, 4, (6,), generator=g))
            _check_ce(student, logits, targets)
            logits = _randn(g, 3, 7, dtype=dt)
            _check_ce(student, logits, torch.tensor([6, 0, 6]))
        _check_ce(student, _randn(_gen(5), 1, 1, dtype=dt), torch.tensor([0]))
        _check_ce(student, _randn(_gen(5), 2, 3, dtype=dt), torch.tensor([2, 2]))
    _check_ce(student, _randn(_gen(8), 3, 4), torch.tensor([1, 3, 0]), keywords=True)
    # a result kept from one call is still that call's gradient after a second call of the same
    # shape (each call returns a new tensor, not a buffer that the next call overwrites)
    g = _gen(6)
    fn = student.gradients.softmax_cross_entropy_backward
    (l1, t1), (l2, t2) = [(_randn(g, 4, 3), torch.randint(0, 3, (4,), generator=g)) for _ in range(2)]
    first = fn.new_later(l1, t1)
    fn.later(_close(ref.softmax_cross_entropy_backward(l2, t2), ("softmax_cross_entropy_backward", (l2, t2))), l2, t2)
    first.get_later(_close(ref.softmax_cross_entropy_backward(l1, t1), ("softmax_cross_entropy_backward", (l1, t1)),
                           what="result of a first call, read after a second call"))


@pytest.mark.points(1)
@pytest.mark.covers("softmax_cross_entropy_backward")
def test_softmax_cross_entropy_backward_extremes(student):
    """softmax_cross_entropy_backward stays finite for logits near +-1000, and works with N = 0"""
    for dt in DTYPES:
        eps = torch.finfo(dt).eps
        for seed in SEEDS:
            g = _gen(seed)
            for offset in (1000.0, -1000.0):
                logits = _randn(g, 5, 4, dtype=dt) * 5 + offset
                logits[0, 1] = offset + 60.0
                targets = torch.randint(0, 4, (5,), generator=g)
                # the contract: tolerances near huge logits scale with the logits
                atol = 1e-5 if dt == torch.float32 else 1e-7
                atol += 4 * eps * float(logits.abs().max()) / logits.shape[0]
                _check_ce(student, logits, targets, atol=atol)
        # logits 800 apart in one row: exp overflows unless the row's maximum is subtracted first
        logits = torch.tensor([[-400.0, 0.0, 400.0], [1.0, -2.0, 0.5]], dtype=dt)
        _check_ce(student, logits, torch.tensor([0, 2]))
        _check_ce(student, _randn(_gen(0), 0, 5, dtype=dt), torch.zeros(0, dtype=torch.int64))


# --------------------------------------------------------------------------- mlp_backward

def _check_mlp(student, XyWb, keywords=False):
    """Send mlp_backward(X, y, W1, b1, W2, b2) (by the parameter names with ``keywords``); check the
    dict's keys and its four gradients against autograd's (or NaN, for a batch of no examples)."""
    args, kwargs, call = _arguments("mlp_backward", ("X", "y", "W1", "b1", "W2", "b2"), XyWb, keywords)
    want = ref.mlp_backward(*XyWb)
    empty_batch = XyWb[0].shape[0] == 0

    def check_value(got):
        expect_equal(isinstance(got, dict) and sorted(got), sorted(want), call=call,
                     what="keys of the returned dict")
        for k in ("W1", "b1", "W2", "b2"):
            if empty_batch and is_close(got[k], torch.full_like(want[k], float("nan"))):
                continue  # the mean over no examples: NaN (0 / 0) is as honest as autograd's 0
            expect_close(got[k], want[k], call=call, what=f"gradient of {k}")

    _send(student.gradients.mlp_backward, args, call, check_value, kwargs=kwargs)


@pytest.mark.points(2)
@pytest.mark.covers("mlp_backward")
def test_mlp_backward(student):
    """mlp_backward returns the four gradients {W1, b1, W2, b2} of the two-layer network, output logits near 1000 and rows of very different logits too, whatever classes the labels name, for an empty batch and for sizes of 1"""
    for dt in DTYPES:
        for seed in SEEDS:
            g = _gen(seed)
            n, d, h, c = 8, 3, 5, 4
            X = _transposed(_randn(g, n, d, dtype=dt))
            y = _strided(torch.randint(0, c, (n,), generator=g))
            W1 = _randn(g, h, d, dtype=dt)
            b1 = _randn(g, h, dtype=dt)
            W1[0] = 0.0  # hidden unit 0 has pre-activation exactly 0: relu's gradient there is 0
            b1[0] = 0.0
            W2 = _transposed(_randn(g, c, h, dtype=dt))
            b2 = _strided(_randn(g, c, dtype=dt))
            _check_mlp(student, (X, y, W1, b1, W2, b2))
        g = _gen(9)  # a single class is allowed (every gradient is then 0)
        _check_mlp(student, (_randn(g, 4, 3, dtype=dt), torch.zeros(4, dtype=torch.int64), _randn(g, 2, 3, dtype=dt),
                             _randn(g, 2, dtype=dt), _randn(g, 1, 2, dtype=dt), _randn(g, 1, dtype=dt)))
    # output logits near 1000 (a large b2): exp overflows unless each row's maximum is subtracted first
    g = _gen(11)
    _check_mlp(student, (_randn(g, 6, 3), torch.randint(0, 4, (6,), generator=g), _randn(g, 5, 3), _randn(g, 5),
                         _randn(g, 4, 5), _randn(g, 4) + 1000.0))
    # one example whose logits are about 1000 above the others' (each row is shifted by its own
    # maximum, not the batch's), and labels that never name the last class (C comes from W2)
    g = _gen(12)
    X = _randn(g, 5, 3)
    X[0] *= 500
    _check_mlp(student, (X, torch.tensor([0, 1, 0, 2, 1]), _randn(g, 6, 3), _randn(g, 6), _randn(g, 4, 6),
                         _randn(g, 4)))
    g = _gen(13)
    _check_mlp(student, (_randn(g, 4, 3), torch.tensor([2, 0, 1, 2]), _randn(g, 5, 3), _randn(g, 5),
                         _randn(g, 3, 5), _randn(g, 3)), keywords=True)
    # every size the same (n = d = H = C = 4): a gradient transposed, or summed over the wrong axis,
    # keeps its shape here and shows only in its values
    g = _gen(14)
    _check_mlp(student, (_randn(g, 4, 4), torch.tensor([3, 0, 1, 1]), _randn(g, 4, 4), _randn(g, 4),
                         _randn(g, 4, 4), _randn(g, 4)))
    # a batch of no examples: y is empty, so there is no class index to check
    _check_mlp(student, (_randn(g, 0, 3), torch.zeros(0, dtype=torch.int64), _randn(g, 5, 3), _randn(g, 5),
                         _randn(g, 3, 5), _randn(g, 3)))
    # sizes of 1: one example, one input feature, one hidden unit (a .squeeze() loses that axis)
    for n, d, h in ((1, 3, 4), (4, 1, 3), (3, 3, 1), (1, 1, 1)):
        _check_mlp(student, (_randn(g, n, d), torch.randint(0, 2, (n,), generator=g), _randn(g, h, d) + 0.5,
                             _randn(g, h) + 0.5, _randn(g, 2, h), _randn(g, 2)))


# --------------------------------------------------------------------------- invalid arguments

@pytest.mark.points(1)
@pytest.mark.covers("square_loss_grad", "relu_backward", "sigmoid_backward", "tanh_backward")
def test_elementwise_shape_errors(student):
    """square_loss_grad and the activation backwards raise ValueError for shapes that do not fit (TypeError for a non-tensor)"""
    gr = student.gradients
    r = lambda *s: torch.ones(*s)  # noqa: E731
    expect_raises_later(ValueError, gr.square_loss_grad, r(3), r(4), r(3),
                        call=("square_loss_grad", (r(3), r(4), r(3))))
    expect_raises_later(ValueError, gr.square_loss_grad, r(2, 3), 1.0, r(2),
                        call=("square_loss_grad", (r(2, 3), 1.0, r(2))))
    # y and w must broadcast together too (x * w - y), whatever x is
    for args in [(r(1), r(2), r(3)), (1.5, r(2), r(3))]:
        expect_raises_later(ValueError, gr.square_loss_grad, *args, call=("square_loss_grad", args))
    for name in ("relu_backward", "sigmoid_backward", "tanh_backward"):
        expect_raises_later(ValueError, getattr(gr, name), r(3, 4), r(4, 3), call=(name, (r(3, 4), r(4, 3))))
        expect_raises_later(ValueError, getattr(gr, name), r(1, 3), r(2, 3), call=(name, (r(1, 3), r(2, 3))))
        # a list for dout or x: a TypeError saying so, not an AttributeError from .shape
        for args in [([1.0, 2.0], r(2)), (r(2), [1.0, 2.0])]:
            expect_raises_later((TypeError, ValueError), getattr(gr, name), *args, call=(name, args),
                                hint="dout and x must be tensors: raise TypeError")


@pytest.mark.points(1)
@pytest.mark.covers("linear_regression_grads", "linear_backward", "mlp_backward")
def test_linear_shape_errors(student):
    """linear_regression_grads, linear_backward and mlp_backward raise ValueError for bad shapes or class indices (TypeError for a non-tensor)"""
    gr = student.gradients
    r = lambda *s: torch.ones(*s)  # noqa: E731
    for args in [(r(5, 3), r(5), r(4), 0.0), (r(5, 3), r(4), r(3), 0.0), (r(5), r(5), r(1), 0.0),
                 (r(5, 3), r(5), r(3), r(2)), (r(5, 3), r(5, 1), r(3), 0.0), (r(5, 3), r(5), r(3, 1), 0.0),
                 (r(5, 3), r(5), r(3), r(1))]:  # b of shape (1,) is not 0-dim, though b.item() would take it
        expect_raises_later(ValueError, gr.linear_regression_grads, *args, call=("linear_regression_grads", args))
    for args in [(r(4, 5), r(4, 3), r(5, 2), r(5)), (r(4, 6), r(4, 3), r(5, 3), r(5)),
                 (r(4, 5), r(4, 3), r(5, 3), r(4)), (r(3, 5), r(4, 3), r(5, 3), r(5)),
                 (r(5), r(()), r(5, 3), r(5)), (r(4, 5), r(4, 3), r(5, 3), r(5, 1)),
                 (r(4, 5), r(4, 3), r(1, 5, 3), r(5)),  # a 3-D W: W.shape[-2:] would take it, dx would broadcast
                 # dout's leading dims must be x's (2, 3), not any that hold as many rows
                 (r(3, 2, 5), r(2, 3, 4), r(5, 4), r(5)), (r(6, 5), r(2, 3, 4), r(5, 4), r(5))]:
        expect_raises_later(ValueError, gr.linear_backward, *args, call=("linear_backward", args))
    y = torch.zeros(8, dtype=torch.int64)
    for args in [(r(8, 3), y, r(5, 4), r(5), r(4, 5), r(4)), (r(8, 3), y, r(5, 3), r(5), r(4, 6), r(4)),
                 (r(8, 3), y, r(5, 3), r(5), r(4, 5), r(3)), (r(8, 3), y[:7], r(5, 3), r(5), r(4, 5), r(4)),
                 (r(8, 3), y, r(5, 3), r(1), r(4, 5), r(4))]:
        expect_raises_later(ValueError, gr.mlp_backward, *args, call=("mlp_backward", args))
    for bad in (4, -1):  # class indices must lie in [0, C) with C = 4
        args = (r(8, 3), torch.tensor([0, 1, 2, 3, bad, 0, 1, 2]), r(5, 3), r(5), r(4, 5), r(4))
        expect_raises_later(ValueError, gr.mlp_backward, *args, call=("mlp_backward", args),
                            hint="y must hold class indices in [0, C)")
    # float class "indices" (as softmax_cross_entropy_backward's targets): y.long() would truncate 0.7 to 0
    args = (r(8, 3), torch.tensor([0.0, 1.0, 2.0, 3.0, 0.7, 0.0, 1.0, 2.0]), r(5, 3), r(5), r(4, 5), r(4))
    expect_raises_later((TypeError, ValueError), gr.mlp_backward, *args, call=("mlp_backward", args),
                        hint="y must be int64 class indices")
    # a list where a tensor belongs: a TypeError saying so, not an AttributeError from .dim() or .shape
    rows = [[1.0, 2.0, 3.0]] * 4
    for name, args in [("linear_regression_grads", (rows, r(4), r(3), 0.0)),
                       ("linear_backward", (r(4, 5), rows, r(5, 3), r(5))),
                       ("mlp_backward", (rows, y[:4], r(5, 3), r(5), r(4, 5), r(4)))]:
        expect_raises_later((TypeError, ValueError), getattr(gr, name), *args, call=(name, args),
                            hint="the arguments must be tensors: raise TypeError")


@pytest.mark.points(1)
@pytest.mark.covers("softmax_cross_entropy_backward")
def test_softmax_cross_entropy_backward_errors(student):
    """softmax_cross_entropy_backward rejects bad targets and logits that are not (N, C)"""
    fn = student.gradients.softmax_cross_entropy_backward
    logits = torch.zeros(4, 3)
    for targets in (torch.tensor([0, 1, 2]), torch.tensor([0, 1, 3, 1]), torch.tensor([[0, 1, 2, 1]]),
                    torch.tensor([0, -1, 2, 1])):
        expect_raises_later(ValueError, fn, logits, targets,
                            call=("softmax_cross_entropy_backward", (logits, targets)))
    expect_raises_later(ValueError, fn, torch.zeros(3), torch.tensor([0]),
                        call=("softmax_cross_entropy_backward", (torch.zeros(3), torch.tensor([0]))))
    rows = [[0.0, 0.0, 0.0]] * 4  # logits as a list: a TypeError, not an AttributeError
    expect_raises_later((TypeError, ValueError), fn, rows, torch.tensor([0, 1, 2, 1]),
                        call=("softmax_cross_entropy_backward", (rows, torch.tensor([0, 1, 2, 1]))),
                        hint="logits must be a tensor: raise TypeError")
    bad = torch.tensor([0.0, 1.0, 2.0, 1.0])
    expect_raises_later((TypeError, ValueError), fn, logits, bad,
                        call=("softmax_cross_entropy_backward", (logits, bad)),
                        hint="targets must be int64 class indices")
