"""Public tests for the broadcasting exercise. Run them with `autograder check`.

They check a few typical cases against PyTorch itself; the hidden suite that grades you checks
many more (size-0 dimensions, -1, non-contiguous tensors, error messages, random shapes, ...).
"""

from __future__ import annotations

import pytest
import torch

from autograder.testing import expect_close, expect_equal, expect_raises, expect_unchanged

pytestmark = pytest.mark.exercise("broadcasting")


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_shape")
def test_broadcast_shape_examples(student):
    """broadcast_shape agrees with torch.broadcast_shapes on a few pairs"""
    for shapes in [((2, 1), (3,)), ((8, 1, 6, 1), (7, 1, 5)), ((), (2, 3)), ((5, 4), (1,))]:
        got = student.broadcasting.broadcast_shape(*shapes)
        expect_equal(
            got, tuple(torch.broadcast_shapes(*shapes)), call=("broadcast_shape", shapes),
            hint="line the shapes up from the RIGHT; a missing leading dimension counts as 1; "
                 "return a tuple of ints, not a list",
        )


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_shape")
def test_broadcast_shape_edge_cases(student):
    """broadcast_shape with no shapes, many shapes and size-0 dimensions"""
    for shapes in [(), ((1, 2, 1), (3, 1, 1), (1, 1, 4)), ((0,), (1,)), ((2, 0), (3, 1, 1))]:
        got = student.broadcasting.broadcast_shape(*shapes)
        expect_equal(
            got, tuple(torch.broadcast_shapes(*shapes)), call=("broadcast_shape", shapes),
            hint="no shapes gives (); a size-1 dimension stretches to any size, 0 included, "
                 "so 0 with 1 gives 0 (not max(0, 1) = 1)",
        )


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_shape", "can_broadcast")
def test_incompatible_shapes(student):
    """incompatible shapes: broadcast_shape raises ValueError, can_broadcast returns False"""
    for shapes in [((2,), (3,)), ((2, 3), (3, 2)), ((0,), (2,))]:
        expect_raises(
            ValueError, student.broadcasting.broadcast_shape, *shapes,
            call=("broadcast_shape", shapes),
            hint="raise ValueError (not RuntimeError or AssertionError), naming the dimension",
        )
        expect_equal(
            student.broadcasting.can_broadcast(*shapes), False, call=("can_broadcast", shapes),
            hint="can_broadcast must return False instead of raising",
        )
    expect_equal(
        student.broadcasting.can_broadcast((2, 1), (3,)), True,
        call=("can_broadcast", ((2, 1), (3,))), hint="return a Python bool",
    )


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_to")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_broadcast_to_values(student, dtype):
    """broadcast_to gives the same shape, values and dtype as torch.broadcast_to"""
    gen = torch.Generator().manual_seed(0)
    for src, shape in [((3,), (2, 3)), ((2, 1), (2, 4)), ((1, 3), (4, 2, 3)), ((), (2,))]:
        x = torch.randn(src, generator=gen, dtype=dtype)
        got = student.broadcasting.broadcast_to(x, shape)
        expect_close(
            got, torch.broadcast_to(x, shape), call=("broadcast_to", (x, shape)),
            hint="add the missing leading dimensions as size 1, then repeat along every "
                 "size-1 dimension; keep x's dtype",
        )


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_to")
def test_broadcast_to_transposed_and_minus_one(student):
    """broadcast_to on a transposed tensor and with -1, leaving x unchanged"""
    x = torch.arange(6.0).reshape(2, 3).t()  # shape (3, 2), not contiguous
    for shape in [(4, 3, 2), (4, -1, -1)]:
        before = x.clone()
        res = student.broadcasting.broadcast_to.detailed(x, shape)
        expect_close(
            res.value, torch.broadcast_to(x, shape), call=("broadcast_to", (x, shape)),
            hint="x may be non-contiguous: use reshape rather than view; -1 keeps x's size",
        )
        expect_unchanged(before, res.args[0], call=("broadcast_to", (x, shape)), what="x")


@pytest.mark.points(1)
@pytest.mark.covers("broadcast_to")
def test_broadcast_to_errors(student):
    """broadcast_to raises ValueError where torch.broadcast_to fails"""
    for src, shape in [((3,), (4,)), ((1, 3), (3,)), ((3,), (-1, 3))]:
        x = torch.zeros(src)
        expect_raises(
            ValueError, student.broadcasting.broadcast_to, x, shape,
            call=("broadcast_to", (x, shape)),
            hint="check every dimension (size 1 or equal), that shape has at least x.dim() "
                 "dimensions, and that -1 only appears where x has a dimension",
        )


def _autograd_unbroadcast(grad, shape):
    a = torch.zeros(shape, dtype=grad.dtype, requires_grad=True)
    (g,) = torch.autograd.grad(a.expand(grad.shape), a, grad)
    return g


@pytest.mark.points(1)
@pytest.mark.covers("unbroadcast")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_unbroadcast_matches_autograd(student, dtype):
    """unbroadcast equals the gradient that autograd gives a broadcast input"""
    gen = torch.Generator().manual_seed(1)
    for gshape, shape in [((2, 3), (3,)), ((2, 3), (2, 1)), ((4, 2, 3), (2, 1)), ((2, 3), ())]:
        grad = torch.randn(gshape, generator=gen, dtype=dtype)
        got = student.broadcasting.unbroadcast(grad, shape)
        expect_close(
            got, _autograd_unbroadcast(grad, shape), call=("unbroadcast", (grad, shape)),
            hint="sum over the extra leading dimensions, then over the dimensions where shape "
                 "has 1 with keepdim=True; the result must have exactly `shape` and grad's dtype",
        )


@pytest.mark.points(1)
@pytest.mark.covers("unbroadcast")
def test_unbroadcast_errors(student):
    """unbroadcast raises ValueError when shape does not broadcast to grad's shape"""
    for gshape, shape in [((2, 3), (2,)), ((3,), (1, 3))]:
        grad = torch.ones(gshape)
        expect_raises(
            ValueError, student.broadcasting.unbroadcast, grad, shape,
            call=("unbroadcast", (grad, shape)),
            hint="validate first: shape may not have more dimensions than grad, and each of "
                 "its sizes must be 1 or equal to grad's size in that dimension",
        )
