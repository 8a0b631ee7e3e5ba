"""What suites use: comparisons that explain themselves, and the errors student code produces.

Every ``expect_*`` raises :class:`GradingFailure` with two texts: ``public`` (the input, expected
and received shape and dtype, the largest difference and where, a hint) for public tests and
``redacted`` (the function's name, but no inputs, no expected values and nothing of what the
student's code returned or raised, which can carry its inputs) for hidden ones.
"""

from __future__ import annotations

import math

import torch

from autograder.client import StudentError, WorkerFailure

__all__ = [
    "GradingFailure", "StudentError", "WorkerFailure", "expect_close", "expect_equal", "is_close",
    "expect_raises", "expect_raises_later", "expect_unchanged", "describe",
]


class GradingFailure(AssertionError):
    """A check failed. ``public`` may show inputs and expected values; ``redacted`` may not."""

    def __init__(self, public: str, redacted: str | None = None):
        super().__init__(public)
        self.public = public
        self.redacted = redacted if redacted is not None else public


def _fail(problem: str, *, call=None, hint=None, detail: str = "", redacted_problem: str | None = None):
    """Fail the test. ``problem`` and ``detail`` may show inputs, expected values and what the
    student's code returned; ``redacted_problem`` (if given) replaces ``problem`` for hidden tests,
    which show neither the inputs, nor expected values, nor what came back (student code can
    put its inputs in what it returns)."""
    where = f"{format_call(call)}: " if call else ""
    named = f"`{call[0]}`: " if isinstance(call, tuple) and call else ""   # the function, never its inputs
    tail = f"\nHint: {hint}" if hint else ""
    public = f"{where}{problem}" + (f"\n{detail}" if detail else "") + tail
    redacted = named + (problem if redacted_problem is None else redacted_problem) + tail
    raise GradingFailure(public, redacted)


# --------------------------------------------------------------------------- describing values


ITEMS_SHOWN = 32      # of a long tuple, list or dict in feedback (a shape has at most 32 dimensions)


def describe(v, limit: int = 12) -> str:
    """A short, exact description: small tensors in full, large ones by shape and dtype."""
    if isinstance(v, torch.Tensor):
        head = f"tensor of shape {tuple(v.shape)}, {str(v.dtype).replace('torch.', '')}"
        if v.numel() <= limit:
            values = torch.Tensor.tolist(v.detach())
            return f"{head}: {values}"
        return head
    if isinstance(v, torch.Size):
        return f"torch.Size({list(v)})"
    if isinstance(v, tuple):
        return "(" + _items([describe(x, limit) for x in v[:ITEMS_SHOWN]], len(v)) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, list):
        return "[" + _items([describe(x, limit) for x in v[:ITEMS_SHOWN]], len(v)) + "]"
    if isinstance(v, dict):
        shown = [f"{describe(k, limit)}: {describe(x, limit)}" for k, x in list(v.items())[:ITEMS_SHOWN]]
        return "{" + _items(shown, len(v)) + "}"
    if isinstance(v, torch.Generator):
        return "a torch.Generator"
    if isinstance(v, float):
        return repr(v)
    return repr(v) if len(repr(v)) < 200 else type(v).__name__


def _items(shown: list[str], total: int) -> str:
    """Described items of a sequence, the first few of a long one and how many there are."""
    return ", ".join(shown) + (f", ... ({total} items)" if total > len(shown) else "")


def format_call(call) -> str:
    """``("fn", (a, b), {"k": v})`` -> ``fn(a, b, k=v)`` with values described."""
    if isinstance(call, str):
        return call
    name, args, *rest = call
    kwargs = rest[0] if rest else {}
    if not isinstance(args, tuple):
        args = (args,)
    parts = [describe(a, limit=8) for a in args] + [f"{k}={describe(v, limit=8)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _kind(v) -> str:
    if isinstance(v, torch.Tensor):
        return f"a tensor of shape {tuple(v.shape)} and dtype {str(v.dtype).replace('torch.', '')}"
    return f"a {type(v).__name__}"


# --------------------------------------------------------------------------- checks


def expect_close(actual, expected, *, rtol=None, atol=None, call=None, hint=None, what="output"):
    """``actual`` equals ``expected`` within tolerance, with exactly its type, shape and dtype."""
    if not isinstance(expected, torch.Tensor):
        return _expect_close_number(actual, expected, rtol=rtol, atol=atol, call=call, hint=hint, what=what)
    if type(actual) is not torch.Tensor:
        _fail(f"the {what} should be a tensor, but it is {_kind(actual)}", call=call, hint=hint)
    if actual.shape != expected.shape:
        _fail(f"the {what} has the wrong shape: expected {tuple(expected.shape)}, got {tuple(actual.shape)}",
              call=call, hint=hint, redacted_problem=f"the {what} has the wrong shape")
    if actual.dtype != expected.dtype:
        _fail(f"the {what} has the wrong dtype: expected {str(expected.dtype).replace('torch.', '')}, "
              f"got {str(actual.dtype).replace('torch.', '')}", call=call,
              hint=hint or "results keep the dtype of the inputs; avoid mixing in float64 constants or tensors")
    rtol, atol = _tolerances(expected.dtype, rtol, atol)
    if _close(actual, expected, rtol, atol):
        return
    a, e = actual.double(), expected.double()
    finite_a, finite_e = torch.isfinite(a), torch.isfinite(e)
    nonfinite_off = ~(finite_a & finite_e) & ~((a == e) | (torch.isnan(a) & torch.isnan(e)))
    if bool(nonfinite_off.any()):
        idx = _first_index(nonfinite_off)
        _fail(f"the {what} has NaN or infinite values where the expected values do not (or the reverse)",
              call=call, hint=hint or "look for overflow (exp of large numbers) or division by zero",
              detail=f"at index {idx}: expected {e[idx].item()!r}, got {a[idx].item()!r}")
    diff = torch.where(finite_e & finite_a, (a - e).abs(), torch.zeros_like(a))
    bad = diff > atol + rtol * e.abs().nan_to_num(0)
    n_bad, n = int(bad.sum()), bad.numel()
    worst = _first_index(diff == diff.max())
    relative = f", relative {diff[worst].item() / abs(e[worst].item()):.3g}" if e[worst].item() else ""
    _fail(f"{n_bad} of {n} values of the {what} are off (largest difference {diff.max().item():.3g}"
          f"{relative})", call=call, hint=hint,
          detail=f"at index {worst}: expected {e[worst].item()!r}, got {a[worst].item()!r}",
          redacted_problem=f"{n_bad} of {n} values of the {what} are off")


def is_close(actual, expected, *, rtol=None, atol=None) -> bool:
    """Whether :func:`expect_close` takes ``actual`` for ``expected`` (for a suite choosing among
    several right answers)."""
    try:
        expect_close(actual, expected, rtol=rtol, atol=atol)
    except GradingFailure:
        return False
    return True


def _close(actual: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> bool:
    """``torch.testing.assert_close``'s test (same shape and dtype already checked): NaN matches
    NaN, infinities match by sign, other values ``|a - e| <= atol + rtol * |e|``."""
    if torch.equal(actual, expected):                # often, and 30x cheaper than isclose
        return True
    with torch.no_grad():
        if not (expected.is_floating_point() or expected.is_complex()):
            if rtol == 0 and atol == 0:
                return False
            actual, expected = actual.double(), expected.double()
        return bool(torch.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True).all())


def _tolerances(dtype, rtol, atol):
    defaults = {torch.float16: (1e-3, 1e-5), torch.bfloat16: (1.6e-2, 1e-5), torch.float32: (1.3e-6, 1e-5),
                torch.float64: (1e-7, 1e-7)}
    r, a = defaults.get(dtype, (0.0, 0.0))
    return (r if rtol is None else rtol), (a if atol is None else atol)


def _first_index(mask: torch.Tensor):
    if mask.dim() == 0:
        return ()
    nz = mask.nonzero()
    return tuple(int(i) for i in nz[0]) if len(nz) else (0,) * mask.dim()


def _expect_close_number(actual, expected, *, rtol, atol, call, hint, what):
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        _fail(f"the {what} should be a number, but it is {_kind(actual)}", call=call, hint=hint,
              redacted_problem=f"the {what} should be a number")
    rt, at = (1.3e-6 if rtol is None else rtol), (1e-5 if atol is None else atol)
    if math.isnan(expected) and math.isnan(actual):
        return
    if not math.isclose(actual, expected, rel_tol=rt, abs_tol=at):
        _fail(f"the {what} is off by {abs(actual - expected):.3g}", call=call, hint=hint,
              detail=f"expected {expected!r}, got {actual!r}", redacted_problem=f"the {what} is wrong")


def expect_equal(actual, expected, *, call=None, hint=None, what="result"):
    """Exact equality for non-tensor results; a tuple (or torch.Size) must come back as one."""
    if isinstance(expected, tuple):
        ok = isinstance(actual, tuple) and len(actual) == len(expected) and all(
            type(x) is type(y) or (isinstance(x, int) and isinstance(y, int) and not isinstance(x, bool))
            for x, y in zip(actual, expected)) and tuple(actual) == tuple(expected)
        if not ok and not isinstance(actual, tuple):
            _fail(f"the {what} should be a tuple, but it is {_kind(actual)}", call=call, hint=hint,
                  detail=f"got {describe(actual)}", redacted_problem=f"the {what} should be a tuple")
    elif isinstance(expected, bool):
        ok = isinstance(actual, bool) and actual == expected
        if not isinstance(actual, bool):
            _fail(f"the {what} should be a bool (True or False), but it is {_kind(actual)}", call=call, hint=hint,
                  redacted_problem=f"the {what} should be a bool (True or False)")
    else:
        ok = type(actual) is type(expected) and actual == expected
    if not ok:
        _fail(f"the {what} is wrong", call=call, hint=hint,
              detail=f"expected {describe(expected)}, got {describe(actual)}")


def _check_raised(types, exc, call, hint) -> bool:
    """Whether ``exc`` (None: the call returned) is the expected error; fails the test if it is
    a StudentError of other types. False (let it propagate) for any other exception, and for an
    error of an earlier call sent without waiting, which surfaced here."""
    names = " or ".join(t.__name__ for t in types)
    if exc is None:
        _fail(f"expected {names}, but the call returned normally", call=call,
              hint=hint or "check the arguments before doing any work")
    if isinstance(exc, StudentError) and not exc.deferred:
        if exc.missing:
            _fail(exc.explain_missing(), call=call)
        if any(t.__name__ in exc.type_names for t in types):
            if not exc.message.strip():
                _fail(f"it raised {exc.builtin_type()} without a message", call=call,
                      hint="say in the message what was wrong, e.g. "
                           "raise ValueError(f\"x must be 2-D, got shape {tuple(x.shape)}\")")
            return True
        if "NotImplementedError" in exc.type_names:
            _fail("not implemented yet (it raises NotImplementedError)", call=call)
        _fail(f"expected {names}, but it raised {exc.type_name}: {exc.message}", call=call, hint=hint,
              redacted_problem=f"expected {names}, but it raised {exc.builtin_type()}")
    return False


class _Raises:
    def __init__(self, types, call, hint):
        self.types, self.call, self.hint = types, call, hint

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return _check_raised(self.types, exc, self.call, self.hint)


def expect_raises(exc_type, fn=None, *args, call=None, hint=None, **kwargs):
    """The remote call raises ``exc_type`` (a type or tuple of types), or a subclass of it.

    ``expect_raises(ValueError, student.E.fn, x)`` or ``with expect_raises(ValueError): ...``.
    """
    types = exc_type if isinstance(exc_type, tuple) else (exc_type,)
    ctx = _Raises(types, call, hint)
    if fn is None:
        return ctx
    with ctx:
        fn(*args, **kwargs)
    return None


def expect_raises_later(exc_type, fn, *args, call=None, hint=None, **kwargs):
    """``expect_raises(exc_type, fn, *args)`` without waiting for the answer: checked when it
    arrives, in order with the test's other requests (see ``Remote.error_later``)."""
    types = exc_type if isinstance(exc_type, tuple) else (exc_type,)
    fn.error_later(lambda exc: _check_raised(types, exc, call, hint), *args, **kwargs)


def expect_answer_or_raises_later(exc_type, fn, check_answer, *args, call=None, hint=None, **kwargs):
    """``fn(*args, **kwargs)`` raises ``exc_type`` (a type or tuple of types, or a subclass), or
    returns, and then ``check_answer(result)`` passes (``result`` a CallResult, as
    ``fn.detailed``); checked when the answer arrives (see ``Remote.detailed_or_error_later``).
    For inputs the contract lets a function refuse."""
    types = exc_type if isinstance(exc_type, tuple) else (exc_type,)

    def check(result, error):
        if error is not None:
            _check_raised(types, error, call, hint)
        else:
            check_answer(result)

    fn.detailed_or_error_later(check, *args, **kwargs)


def expect_unchanged(before, after, *, call=None, what="input", hint=None):
    """A tensor argument holds the same values after the call as before it; a list (or tuple)
    argument holds the same numbers and tensors (the worker sends both back as lists)."""
    if isinstance(before, torch.Tensor) and not isinstance(after, torch.Tensor):
        return
    if not _unchanged(before, after):
        _fail(f"the {what} was modified in place", call=call,
              hint=hint or ("inputs must not change: compute a new tensor (avoid in-place ops like +=, "
                            "masked_fill_, x[...] = on the argument)" if isinstance(before, torch.Tensor) else
                            "inputs must not change: work on a copy of a list (list(shape)), not on the list itself"))


def _unchanged(before, after) -> bool:
    """Whether ``after`` (an argument as the worker sent it back after the call) still equals
    ``before``: tensors by their values, lists and tuples item by item, numbers by value; anything
    else is not sent back, and counts as unchanged."""
    if isinstance(before, torch.Tensor):
        return isinstance(after, torch.Tensor) and after.shape == before.shape and after.dtype == before.dtype and (
            torch.equal(after, before) or (after.is_floating_point() and bool(     # NaN where NaN was
                ((after == before) | (torch.isnan(after) & torch.isnan(before))).all())))
    if isinstance(before, (list, tuple)):
        return isinstance(after, list) and len(after) == len(before) and all(map(_unchanged, before, after))
    if type(before) in (bool, int, float):
        return type(after) is type(before) and (after == before or (after != after and before != before))
    return True
