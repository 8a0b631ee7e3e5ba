"""Hidden suite of the broadcasting exercise: 20 points.

broadcast_shape 7, can_broadcast 2, broadcast_to 6, unbroadcast 5. Expected values come from
``reference/broadcasting.py`` (torch.broadcast_shapes, torch.broadcast_to and autograd).
"""

from __future__ import annotations

import re

import pytest
import torch

from autograder.testing import (
    GradingFailure,
    expect_close,
    expect_equal,
    expect_raises,
    expect_raises_later,
    expect_unchanged,
)
from reference import broadcasting as ref

pytestmark = pytest.mark.exercise("broadcasting")

DTYPES = (torch.float32, torch.float64)
SEEDS = (0, 1, 2, 3)
F64_HINT = "float64 inputs must stay float64 throughout (a float32 copy or accumulator loses range and precision)"


# ---------------------------------------------------------------------------------------------
# helpers (trusted side only)

def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randint(gen: torch.Generator, low: int, high: int) -> int:
    """An int in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def _random_target(gen: torch.Generator, max_ndim: int = 4) -> tuple[int, ...]:
    return tuple(_randint(gen, 1, 4) for _ in range(_randint(gen, 0, max_ndim)))


def _random_source(gen: torch.Generator, target: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts to ``target``: a suffix of it with some sizes set to 1."""
    n = _randint(gen, 0, len(target))
    tail = target[len(target) - n:]
    return tuple(1 if _randint(gen, 0, 2) == 0 else s for s in tail)


def _randn(shape, dtype, gen) -> torch.Tensor:
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)


# The student's calls are sent without waiting (one round trip per test, not one per call); each
# check runs when its answer arrives, in the order the calls were sent.

def _equal_later(fn, expected, *args, call, hint=None):
    """``expect_equal(fn(*args), expected, call=call)``, checked when the answer arrives."""
    fn.later(lambda got: expect_equal(got, expected, call=call, hint=hint), *args)


def _close_later(fn, expected, *args, call, hint=None, **kwargs):
    """``expect_close(fn(*args, **kwargs), expected, call=call)``, checked when the answer arrives."""
    fn.later(lambda got: expect_close(got, expected, call=call, hint=hint), *args, **kwargs)


def _equal_and_unchanged_later(fn, expected, *shapes, call):
    """``fn(*shapes)`` equals ``expected`` and leaves every shape (a list can change) as it was."""
    def check(res):
        expect_equal(res.value, expected, call=call)
        for i, shape in enumerate(shapes):
            expect_unchanged(shape, res.args[i], call=call, what=f"shape at position {i + 1}")

    fn.detailed_later(check, *shapes)


def _close_and_unchanged_later(fn, expected, x, shape, *, call, what):
    """``fn(x, shape)`` is close to ``expected`` and leaves ``x`` (named ``what``) and ``shape``
    (a list can change) unchanged."""
    before = x.clone()

    def check(res):
        expect_close(res.value, expected, call=call)
        expect_unchanged(before, res.args[0], call=call, what=what)
        expect_unchanged(shape, res.args[1], call=call, what="shape")

    fn.detailed_later(check, x, shape)


# ---------------------------------------------------------------------------------------------
# broadcast_shape: 7 points

PAIRS = [
    ((2, 1), (3,)),
    ((3,), (2, 1)),
    ((5, 4), (1,)),
    ((5, 4), (4,)),
    ((1,), (5, 4)),
    ((2, 3), (2, 3)),
    ((4, 1, 3), (2, 1)),
    ((8, 1, 6, 1), (7, 1, 5)),
    ((1, 1), (1,)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((1,), ()),
    ((), ()),
]


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_shape")
def test_broadcast_shape_pairs(student):
    """broadcast_shape of two shapes matches torch.broadcast_shapes"""
    for shapes in PAIRS:
        _equal_later(student.broadcasting.broadcast_shape, ref.broadcast_shape(*shapes), *shapes,
                     call=("broadcast_shape", shapes))
    # sizes above 256, which Python does not keep as one object each: `is` / `is not` tell equal
    # sizes apart there (a size compared with `is not` clashes with itself)
    for shapes in (((1000,), (1000,)), ((300, 1), (1, 300)), ((2, 512), (512,))):
        _equal_later(student.broadcasting.broadcast_shape, ref.broadcast_shape(*shapes), *shapes,
                     call=("broadcast_shape", shapes), hint="compare sizes with == and !=, never with is")


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_shape")
def test_broadcast_shape_many_shapes_and_none(student):
    """broadcast_shape of three or more shapes, of one shape, and of no shapes at all (gives ())"""
    cases = [
        (),
        ((),),
        ((6,),),
        ((2, 1, 3),),
        ((1, 2, 1), (3, 1, 1), (1, 1, 4)),
        ((2, 1), (1, 3), (1,), ()),
        ((1,), (1, 1), (1, 1, 1)),
        ((5, 1, 1), (1, 4, 1), (1, 1, 3), (5, 4, 3)),
    ]
    for seed in SEEDS:
        gen = _gen(seed)
        target = _random_target(gen)
        cases.append(tuple(_random_source(gen, target) for _ in range(_randint(gen, 3, 5))))
    for shapes in cases:
        _equal_later(student.broadcasting.broadcast_shape, ref.broadcast_shape(*shapes), *shapes,
                     call=("broadcast_shape", shapes))


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_shape")
def test_broadcast_shape_accepts_lists_and_sizes(student):
    """broadcast_shape takes tuples, lists and torch.Size, returns a tuple of ints, and leaves the lists as they were"""
    cases = [
        ([2, 1], [3]),
        (torch.Size([4, 1, 3]), (2, 1)),
        ([5, 4], torch.Size([1])),
        (torch.Size([]), [3], (2, 1)),
        ([4, 1],),                      # a single list still comes back as a tuple
    ]
    for shapes in cases:
        # expect_equal also checks that the result is a tuple (not a list) of ints.
        _equal_and_unchanged_later(student.broadcasting.broadcast_shape, ref.broadcast_shape(*shapes), *shapes,
                                   call=("broadcast_shape", shapes))


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_shape")
def test_broadcast_shape_zero_sizes(student):
    """broadcast_shape with size-0 dimensions: 0 with 1 gives 0, 0 with 0 gives 0"""
    cases = [
        ((0,), (1,)),
        ((1,), (0,)),
        ((0,), (0,)),
        ((2, 0), (3, 1, 1)),
        ((0, 1), (5,)),
        ((1, 0, 1), (0, 1), (3,)),
        ((0,), ()),
    ]
    for shapes in cases:
        _equal_later(student.broadcasting.broadcast_shape, ref.broadcast_shape(*shapes), *shapes,
                     call=("broadcast_shape", shapes))


INCOMPATIBLE = [
    ((2,), (3,)),
    ((2, 3), (3, 2)),
    ((4, 3), (4,)),
    ((1, 2, 3), (2, 2, 1), (5, 1, 1)),
    ((2, 1), (1, 3), (4, 1)),
    ((0,), (2,)),
    ((2,), (0,)),
    ((3, 0), (3, 1), (2,)),
]


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_shape")
def test_broadcast_shape_incompatible_raises(student):
    """broadcast_shape raises ValueError for shapes that do not broadcast (0 with 2 included)"""
    for shapes in INCOMPATIBLE:
        expect_raises_later(ValueError, student.broadcasting.broadcast_shape, *shapes,
                            call=("broadcast_shape", shapes))


# Sizes 6..9 so that a dimension index (0, 1, 2, 3, -2, -3) is not mistaken for a size.
CLASH = ((7, 8, 9), (6, 9))
# The clashing dimension of CLASH, however it is counted: -2 (from the right), 1 (from the left
# in the result or in the first shape, or 0-based from the right), 2 (1-based from the right), 0
# (in the second shape). A number only counts when it is tied to a dimension word ("dimension
# -2", "dim=1", "axis -2", "the 2nd dimension from the right"), so "-1" is not a 1, and neither
# "the 2 shapes" nor "2 dimensions" names a dimension.
_RIGHT_DIMENSIONS = {-2, 0, 1, 2}
# CLASH with a shortest shape last: the clash and its honest names stay those of CLASH, but counting
# in the last shape (which has no such dimension) names another one, -1.
CLASH_LAST = CLASH + ((9,),)
# A clash in the leftmost dimension of the result when the first shape is the shortest (it has
# no such dimension, so counting in the first shape names another one, -2): -3 (from the right),
# 0 (from the left in the result or in the shapes that clash), 1 (1-based from the left), 2
# (0-based from the right), 3 (1-based from the right).
CLASH_LEFT = ((9,), (7, 8, 9), (6, 1, 9))
# CLASH with a size 0 where it has 8 (0 only broadcasts with 1 and 0): the same dimension clashes.
CLASH_ZERO = ((7, 0, 9), (6, 9))
_LEFT_DIMENSIONS = {-3, 0, 1, 2, 3}
_DIM_WORD = r"(?:dim\w*|ax(?:is|es)|index|pos(?:ition)?|achse|eje)"   # dimensione, dimensión: other languages
_NUMBER = r"([-\u2212]?\d+)(?!\d|\.\d)"       # "dimension -2." ends a sentence; 2.0 is no dimension
_NAMED_DIMENSION = re.compile(
    rf"\b{_DIM_WORD}\s*(?:(?:number|no\.?|nr\.?)\s*)?(?:[:=#(\['\"\u2018\u201c]\s*)?{_NUMBER}"   # dimension -2, dim=1, axis (2)
    rf"|(?<![\w.\-\u2212])(\d+)(?:st|nd|rd|th)[- ]+{_DIM_WORD}\b"     # the 2nd dimension (not "2 dimensions")
    rf"|(?<![\w.\-\u2212])([-\u2212]\d+)[- ]+{_DIM_WORD}\b"          # the -2 axis
    rf"|\bshape\s*\[\s*{_NUMBER}\s*\]|\bsize\s*\(\s*{_NUMBER}\s*\)"   # shape[-2], size(-2)
    rf"|\u7b2c\s*{_NUMBER}\s*[\u7ef4\u7dad\u8f74\u8ef8]",               # 第 -2 维
    re.IGNORECASE)
_LAST = r"(?:to[- ]+|from[- ]+(?:the[- ]+)?)?last"
_DIMENSION_WORDS = re.compile(
    rf"\b(?:second|2nd)[- ]+(?:{_LAST}|from[- ]+(?:the[- ]+)?(?:right|end|back)|dim(?:ension)?|axis)\b"
    r"|\bpenultimate\b|\bnext[- ]+to[- ]+last\b|\blast[- ]+but[- ]+one\b", re.IGNORECASE)
_LEFT_DIMENSION_WORDS = re.compile(
    rf"\b(?:third|3rd)[- ]+(?:{_LAST}|from[- ]+(?:the[- ]+)?(?:right|end|back))\b"
    r"|\b(?:first|leading|leftmost)[- ]+(?:dim(?:ension)?|axis)\b", re.IGNORECASE)


def _names_clashing_dimension(message: str, numbers=_RIGHT_DIMENSIONS, words=_DIMENSION_WORDS) -> bool:
    """Whether ``message`` names the clashing dimension: one of ``numbers`` tied to a dimension
    word, or ``words`` (such as "second to last" for CLASH)."""
    if words.search(message):
        return True
    for m in _NAMED_DIMENSION.finditer(message):
        number = next(g for g in m.groups() if g is not None).replace("\u2212", "-")
        if int(number) in numbers:
            return True
    return False


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_shape")
def test_broadcast_shape_error_names_dimension(student):
    """broadcast_shape's ValueError message names the dimension that clashes (shapes of different lengths too)"""
    def checker(shapes, numbers, words, problem):
        def check(err):
            """``err`` (the student's exception, None if the call returned) is a ValueError,
            checked as expect_raises does, whose message names the dimension."""
            with expect_raises(ValueError, call=("broadcast_shape", shapes)):
                if err is not None:
                    raise err
            # Any honest way of naming the clashing dimension is accepted (see _RIGHT_DIMENSIONS
            # and _LEFT_DIMENSIONS), or words such as "second to last"; another dimension is not.
            if not _names_clashing_dimension(err.message or "", numbers, words):
                raise GradingFailure(problem)
        return check

    student.broadcasting.broadcast_shape.error_later(
        checker(CLASH, _RIGHT_DIMENSIONS, _DIMENSION_WORDS,
                "the ValueError message should say which dimension clashes (e.g. 'dimension -2')"),
        *CLASH)
    student.broadcasting.broadcast_shape.error_later(
        checker(CLASH_LEFT, _LEFT_DIMENSIONS, _LEFT_DIMENSION_WORDS,
                "when the first shape is shorter than the others, the ValueError message should still "
                "name the dimension that clashes (e.g. 'dimension -3', counted from the right; an index "
                "counted in the first shape names another dimension)"),
        *CLASH_LEFT)
    student.broadcasting.broadcast_shape.error_later(
        checker(CLASH_LAST, _RIGHT_DIMENSIONS, _DIMENSION_WORDS,
                "when the last shape is shorter than the others, the ValueError message should still "
                "name the dimension that clashes (e.g. 'dimension -2', counted from the right; an index "
                "counted in the last shape names another dimension)"),
        *CLASH_LAST)
    student.broadcasting.broadcast_shape.error_later(
        checker(CLASH_ZERO, _RIGHT_DIMENSIONS, _DIMENSION_WORDS,
                "a size 0 that clashes is named like any other: the ValueError message should say which "
                "dimension clashes (e.g. 'dimension -2')"),
        *CLASH_ZERO)


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_shape")
def test_broadcast_shape_invalid_sizes(student):
    """broadcast_shape rejects negative sizes (ValueError) and non-integer sizes (TypeError)"""
    for shapes in [((-1,), (3,)), ((2, -3), (2, 1)), ((2, 3), (-2, 1, 1)), ((-1,), (1,)), ((4, -1),)]:
        expect_raises_later(ValueError, student.broadcasting.broadcast_shape, *shapes,
                            call=("broadcast_shape", shapes))
    for shapes in [((2.0,), (2,)), ((2, 3), (1, 1.5))]:
        expect_raises_later(TypeError, student.broadcasting.broadcast_shape, *shapes,
                            call=("broadcast_shape", shapes))


# ---------------------------------------------------------------------------------------------
# can_broadcast: 2 points

@pytest.mark.points(1)
@pytest.mark.covers("can_broadcast")
def test_can_broadcast_cases(student):
    """can_broadcast returns True or False (a bool) exactly when broadcast_shape would succeed, and leaves list shapes as they are"""
    cases = PAIRS + INCOMPATIBLE + [
        (),
        ((0,), (1,)),
        ((0,), (0,)),
        ((1, 2, 1), (3, 1, 1), (1, 1, 4)),
        ([2, 1], torch.Size([3])),
        ([3], (2, 1)),                  # a list shorter than the other shape: left as it is
        ((-1,), (1,)),                  # a negative size: broadcast_shape raises ValueError
        ((4, -1),),                     # ... in a single shape,
        ((-1,), ()),                    # ... against an empty shape,
        ((3,), (-2, 3)),                # ... in a dimension the other shape lacks
        ((2.0,), (2,)),                 # a float size: broadcast_shape raises TypeError
    ]
    for shapes in cases:
        # expect_equal also checks that the result is a bool (not 0/1 or a tensor).
        _equal_and_unchanged_later(student.broadcasting.can_broadcast, ref.can_broadcast(*shapes), *shapes,
                                   call=("can_broadcast", shapes))


@pytest.mark.points(1)
@pytest.mark.covers("can_broadcast")
def test_can_broadcast_random(student):
    """can_broadcast agrees with torch.broadcast_shapes on random shapes, compatible or not"""
    for seed in range(12):
        gen = _gen(100 + seed)
        shapes = [tuple(_randint(gen, 1, 3) for _ in range(_randint(gen, 0, 3)))
                  for _ in range(_randint(gen, 2, 3))]
        _equal_later(student.broadcasting.can_broadcast, ref.can_broadcast(*shapes), *shapes,
                     call=("can_broadcast", shapes))


# ---------------------------------------------------------------------------------------------
# broadcast_to: 6 points

BROADCAST_TO = [
    ((3,), (2, 3)),
    ((2, 1), (2, 4)),
    ((1, 3), (4, 2, 3)),
    ((3, 1, 2), (2, 3, 4, 2)),
    ((1,), (1,)),
    ((2, 3), (2, 3)),
    ((1, 1), (3, 2)),
]


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_to")
def test_broadcast_to_values(student):
    """broadcast_to gives the shape, values and dtype of torch.broadcast_to (float32, float64; tuple, list or torch.Size shape)"""
    pairs = list(BROADCAST_TO)
    for seed in SEEDS:
        gen = _gen(seed)
        target = _random_target(gen)
        pairs.append((_random_source(gen, target), target))
    gen = _gen(7)
    for dtype in DTYPES:
        for src, shape in pairs:
            x = _randn(src, dtype, gen)
            _close_later(student.broadcasting.broadcast_to, ref.broadcast_to(x, shape), x, shape,
                         call=("broadcast_to", (x, shape)))
    x = _randn((2, 1), torch.float32, gen)
    for shape in ([3, 2, 4], torch.Size([2, 5])):
        _close_and_unchanged_later(student.broadcasting.broadcast_to, ref.broadcast_to(x, shape), x, shape,
                                   call=("broadcast_to", (x, shape)), what="x")
    # float64 values that float32 cannot hold (1e40 would become inf).
    big = torch.tensor([[1e40], [-2.5]], dtype=torch.float64)
    _close_later(student.broadcasting.broadcast_to, ref.broadcast_to(big, (3, 2, 2)), big, (3, 2, 2),
                 call=("broadcast_to", (big, (3, 2, 2))), hint=F64_HINT)
    # The contract's parameter names: broadcast_to(x, shape).
    _close_later(student.broadcasting.broadcast_to, ref.broadcast_to(x, (3, 2, 2)), x=x, shape=(3, 2, 2),
                 call=("broadcast_to", (), {"x": x, "shape": (3, 2, 2)}))


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_to")
def test_broadcast_to_noncontiguous_and_unchanged(student):
    """broadcast_to works on transposed and sliced tensors and leaves its input untouched (a 0-dim one too)"""
    gen = _gen(11)
    cases = [
        (_randn((4, 3), torch.float32, gen).t(), (2, 3, 4)),
        (_randn((3, 8), torch.float64, gen)[:, ::2], (2, 3, 4)),
        (_randn((1, 6), torch.float32, gen)[:, ::2], (5, 3)),
        (_randn((3, 4, 1), torch.float64, gen).transpose(0, 1), (2, 4, 3, 5)),
        (_randn((2, 5), torch.float32, gen)[1, 1:4], (2, 3)),
        (_randn((), torch.float64, gen), (2, 3)),           # 0-dim: its shape stays ()
    ]
    for x, shape in cases:
        _close_and_unchanged_later(student.broadcasting.broadcast_to, ref.broadcast_to(x, shape),
                                   x, shape, call=("broadcast_to", (x, shape)), what="x")


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_to")
def test_broadcast_to_minus_one(student):
    """broadcast_to accepts -1 for an existing dimension (keeps its size), as torch.broadcast_to, and leaves a list shape as it was"""
    gen = _gen(12)
    cases = [
        ((3,), (-1,)),
        ((3,), (2, -1)),
        ((2, 1), (-1, 4)),
        ((2, 1), (3, -1, -1)),
        ((1,), (4, -1)),
        ((0, 1), (2, -1, 3)),
    ]
    for src, shape in cases:
        x = _randn(src, torch.float64, gen)
        _close_later(student.broadcasting.broadcast_to, ref.broadcast_to(x, shape), x, shape,
                     call=("broadcast_to", (x, shape)))
    # the same as lists: the caller's list keeps its -1s
    for src, shape in cases[1:4]:
        x = _randn(src, torch.float64, gen)
        _close_and_unchanged_later(student.broadcasting.broadcast_to, ref.broadcast_to(x, shape), x, list(shape),
                                   call=("broadcast_to", (x, list(shape))), what="x")


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_to")
def test_broadcast_to_zero_sizes_and_scalars(student):
    """broadcast_to with size-0 dimensions and with 0-dim (scalar) tensors"""
    gen = _gen(13)
    cases = [
        ((1,), (0,)),
        ((0,), (0,)),
        ((0,), (3, 0)),
        ((1, 3), (0, 3)),
        ((2, 1), (2, 0)),
        ((), ()),
        ((), (2, 3)),
        ((), (0,)),
        ((1,), (2, 1)),
    ]
    for dtype in DTYPES:
        for src, shape in cases:
            x = _randn(src, dtype, gen)
            _close_later(student.broadcasting.broadcast_to, ref.broadcast_to(x, shape), x, shape,
                         call=("broadcast_to", (x, shape)))


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_to")
def test_broadcast_to_incompatible_raises(student):
    """broadcast_to raises ValueError where torch.broadcast_to fails (size clash, a size other than 1 to 0, -1 in a new dim), and TypeError for a float size or an x that is not a tensor"""
    cases = [
        ((3,), (4,)),
        ((3,), (1,)),
        ((2, 3), (3, 3)),
        ((2, 1), (4, 3, 2)),
        ((0,), (1,)),
        ((0,), (2,)),
        ((3,), (-1, 3)),
        ((3,), (-2, 3)),
        ((1, 3), (2, -2)),
        ((1, 3), (-2, 3)),        # a negative size where x has size 1 (repeat would take it)
        # a size that divides the target size is still a clash: broadcasting never tiles
        ((2,), (4,)),
        ((1, 2), (3, 4)),
        # a size other than 1 cannot become 0 either (only a size-1 or size-0 dimension can)
        ((3,), (0,)),
        ((2, 3), (2, 0)),
        ((2,), (3, 0)),
        ((2, 1), (0, 1)),
        # a 0-dim x has no dimension for -1 to keep, and takes no negative size either
        ((), (-1,)),
        ((), (2, -2)),
    ]
    for src, shape in cases:
        x = torch.zeros(src)
        expect_raises_later(ValueError, student.broadcasting.broadcast_to, x, shape,
                            call=("broadcast_to", (x, shape)))
    # a wrong type: TypeError (ValueError accepted too), not a silent int() or torch.as_tensor
    x = torch.ones(3)
    expect_raises_later((TypeError, ValueError), student.broadcasting.broadcast_to, x, (2.0, 3),
                        call=("broadcast_to", (x, (2.0, 3))),
                        hint="a shape holds ints: raise TypeError for a float size such as 2.0")
    expect_raises_later((TypeError, ValueError), student.broadcasting.broadcast_to, [1.0, 2.0], (2, 2),
                        call=("broadcast_to", ([1.0, 2.0], (2, 2))),
                        hint="x must be a tensor: raise TypeError for a list")


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_to")
def test_broadcast_to_fewer_dimensions_raises(student):
    """broadcast_to raises ValueError when the target shape has fewer dimensions than x"""
    cases = [
        ((1, 3), (3,)),
        ((1, 1), (1,)),
        ((3,), ()),
        ((1,), ()),
        ((2, 1, 4), (1, 4)),
    ]
    for src, shape in cases:
        x = torch.ones(src)
        expect_raises_later(ValueError, student.broadcasting.broadcast_to, x, shape,
                            call=("broadcast_to", (x, shape)))


# ---------------------------------------------------------------------------------------------
# unbroadcast: 5 points

UNBROADCAST = [
    ((2, 3), (3,)),
    ((2, 3), (1, 3)),
    ((2, 3), (2, 1)),
    ((2, 3), (1,)),
    ((2, 3), ()),
    ((2, 3), (2, 3)),
    ((4, 2, 3), (2, 1)),
    ((4, 2, 3), (4, 1, 3)),
    ((2, 3, 4, 5), (3, 1, 1)),
    ((2, 3, 4, 5), (1, 1, 1, 1)),
    ((1, 3), (1,)),
    ((1, 1), (1, 1)),
    ((), ()),
]


@pytest.mark.points(1)
@pytest.mark.covers("unbroadcast")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_unbroadcast_matches_autograd(student, dtype):
    """unbroadcast equals the gradient autograd gives an input that was broadcast (same dtype)"""
    pairs = list(UNBROADCAST)
    for seed in SEEDS:
        gen = _gen(20 + seed)
        target = _random_target(gen)
        pairs.append((target, _random_source(gen, target)))
    gen = _gen(27)
    for gshape, shape in pairs:
        grad = _randn(gshape, dtype, gen)
        _close_later(student.broadcasting.unbroadcast, ref.unbroadcast(grad, shape), grad, shape,
                     call=("unbroadcast", (grad, shape)))
    if dtype == torch.float64:
        # Sums that cancel (1e8 + 1 - 1e8) and a value float32 cannot hold: float64 all the way.
        grad = torch.tensor([[1e8, 1e40], [1.0, 2.0], [-1e8, 3.0]], dtype=dtype)
        _close_later(student.broadcasting.unbroadcast, ref.unbroadcast(grad, (2,)), grad, (2,),
                     call=("unbroadcast", (grad, (2,))), hint=F64_HINT)


@pytest.mark.points(1)
@pytest.mark.covers("unbroadcast")
def test_unbroadcast_noncontiguous_and_unchanged(student):
    """unbroadcast works on transposed and sliced gradients and leaves them (and a list shape) untouched"""
    gen = _gen(31)
    cases = [
        (_randn((3, 4), torch.float32, gen).t(), (3,)),
        (_randn((3, 4), torch.float64, gen).t(), (4, 1)),
        (_randn((5, 3, 4), torch.float32, gen).transpose(0, 2), (1, 3, 5)),
        (_randn((4, 6, 3), torch.float64, gen)[:, ::2, :], (4, 1, 3)),
        (_randn((2, 3, 4), torch.float32, gen).permute(2, 0, 1), (3,)),
        (_randn((6, 5), torch.float64, gen)[1:5:2, ::2], ()),
        (_randn((4, 2, 3), torch.float64, gen), [1, 3]),     # a list shorter than grad: left as it is
    ]
    for grad, shape in cases:
        _close_and_unchanged_later(student.broadcasting.unbroadcast, ref.unbroadcast(grad, shape),
                                   grad, shape, call=("unbroadcast", (grad, shape)), what="grad")


@pytest.mark.points(1)
@pytest.mark.covers("unbroadcast")
def test_unbroadcast_zero_sizes(student):
    """unbroadcast with size-0 dimensions (an empty sum is 0), list / torch.Size shapes, keyword arguments and sizes above 256"""
    gen = _gen(32)
    cases = [
        ((0,), (1,)),
        ((0,), (0,)),
        ((0,), ()),
        ((3, 0), (0,)),
        ((0, 3), (1, 3)),
        ((0, 3), (3,)),
        ((2, 0, 3), (2, 1, 1)),
        ((2, 3), [1, 3]),
        ((2, 3), torch.Size([2, 1])),
    ]
    for dtype in DTYPES:
        for gshape, shape in cases:
            grad = _randn(gshape, dtype, gen)
            _close_later(student.broadcasting.unbroadcast, ref.unbroadcast(grad, shape), grad,
                         shape, call=("unbroadcast", (grad, shape)))
    # sizes above 256 (which `is` would tell apart from equal ones)
    grad = _randn((2, 300), torch.float64, gen)
    _close_later(student.broadcasting.unbroadcast, ref.unbroadcast(grad, (300,)), grad, (300,),
                 call=("unbroadcast", (grad, (300,))), hint="compare sizes with == and !=, never with is")
    # The contract's parameter names: unbroadcast(grad, shape).
    grad = _randn((4, 2, 3), torch.float64, gen)
    _close_later(student.broadcasting.unbroadcast, ref.unbroadcast(grad, (2, 1)), grad=grad, shape=(2, 1),
                 call=("unbroadcast", (), {"grad": grad, "shape": (2, 1)}))


@pytest.mark.points(1)
@pytest.mark.covers("unbroadcast")
def test_unbroadcast_incompatible_raises(student):
    """unbroadcast raises ValueError when shape does not broadcast to grad's shape (TypeError for a float size)"""
    cases = [
        ((2, 3), (2,)),
        ((2, 3), (3, 3)),
        ((2, 3), (4,)),
        ((2, 3), (1, 2, 3)),
        ((3,), (1, 3)),
        ((), (1,)),
        ((0,), (2,)),
        ((2, 3), (2, 0)),
        ((4, 2, 3), (3, 1, 1)),
        # -1 is not a size here (unlike broadcast_to's "keep"): the result must have shape `shape`
        ((2, 3), (-1, 3)),
        ((3,), (-1,)),
    ]
    for gshape, shape in cases:
        grad = torch.ones(gshape)
        expect_raises_later(ValueError, student.broadcasting.unbroadcast, grad, shape,
                            call=("unbroadcast", (grad, shape)))
    # broadcasting goes one way only, from shape to grad's shape: a size 1 in grad does not take
    # shape's 2 (or 0), as a symmetric can_broadcast(shape, grad.shape) check would let through
    for gshape, shape in (((1, 3), (2, 3)), ((1,), (0,)), ((1, 0), (3, 0))):
        grad = torch.ones(gshape)
        expect_raises_later(ValueError, student.broadcasting.unbroadcast, grad, shape,
                            call=("unbroadcast", (grad, shape)),
                            hint="shape must broadcast to grad's shape: each of its sizes is 1 or "
                                 "equal to grad's size there (grad's size 1 does not fit shape's 2)")
    # a float size is a wrong type: TypeError (ValueError accepted too), not a silent int()
    grad = torch.ones(2, 3)
    expect_raises_later((TypeError, ValueError), student.broadcasting.unbroadcast, grad, (1.0, 3),
                        call=("unbroadcast", (grad, (1.0, 3))),
                        hint="a shape holds ints: raise TypeError for a float size such as 1.0")
