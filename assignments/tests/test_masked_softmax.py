"""Public tests of the masked_softmax exercise: run them with `autograder check`.

Expected values are computed here with PyTorch directly (the book's recipe: replace the masked
scores by -1e6, then torch.softmax). Passing these does not guarantee full marks: the hidden
suite checks more cases (other dtypes, empty dimensions, gradients, errors, ...).
"""

import pytest
import torch

from autograder.testing import expect_close, expect_raises, expect_unchanged

pytestmark = pytest.mark.exercise("masked_softmax")


def _keep(lengths, size):
    """keep[..., j] is True where j < length."""
    return torch.arange(size) < lengths.unsqueeze(-1)


def _expected_masked_softmax(X, valid_lens):
    if valid_lens is None:
        return torch.softmax(X, dim=-1)
    if valid_lens.dim() == 1:
        valid_lens = valid_lens[:, None].repeat(1, X.shape[1])
    return torch.softmax(torch.where(_keep(valid_lens, X.shape[-1]), X, -1e6), dim=-1)


@pytest.mark.covers("sequence_mask")
def test_sequence_mask_example(student):
    """sequence_mask: the docstring's example"""
    X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    lens = torch.tensor([1, 2])
    expect_close(student.masked_softmax.sequence_mask(X, lens),
                 torch.tensor([[1.0, 0.0, 0.0], [4.0, 5.0, 0.0]]),
                 call=("sequence_mask", (X, lens)),
                 hint="keep X[i, j] where j < valid_len[i]; the default value is 0.0")
    expect_close(student.masked_softmax.sequence_mask(X, torch.tensor([0, 5]), value=-1.0),
                 torch.tensor([[-1.0, -1.0, -1.0], [4.0, 5.0, 6.0]]),
                 call=("sequence_mask", (X, torch.tensor([0, 5])), {"value": -1.0}),
                 hint="a length of 0 masks the whole row; a length above maxlen masks nothing")


@pytest.mark.covers("sequence_mask")
def test_sequence_mask_does_not_modify_X(student):
    """sequence_mask returns a new tensor and leaves X as it was"""
    X = torch.arange(12.0, dtype=torch.float64).reshape(3, 4)
    lens = torch.tensor([2.0, 0.0, 4.0])
    res = student.masked_softmax.sequence_mask.detailed(X, lens, value=-7.0)
    expect_close(res.value, torch.where(_keep(lens, 4), X, -7.0),
                 call=("sequence_mask", (X, lens), {"value": -7.0}),
                 hint="float lengths work like integer ones; the result keeps X's dtype (float64 here)")
    expect_unchanged(X, res.args[0], call=("sequence_mask", (X, lens)), what="X")


@pytest.mark.covers("masked_softmax")
def test_masked_softmax_example(student):
    """masked_softmax: the docstring's examples"""
    X = torch.tensor([[[1.0, 2.0, 3.0]], [[1.0, 1.0, 1.0]]])
    lens = torch.tensor([2, 0])
    expect_close(student.masked_softmax.masked_softmax(X, lens), _expected_masked_softmax(X, lens),
                 call=("masked_softmax", (X, lens)),
                 hint="replace masked scores by -1e6 (do not subtract, do not use -inf): "
                      "a row of valid length 0 must come out uniform")
    X, lens = torch.zeros(1, 2, 4), torch.tensor([[1, 3]])
    expect_close(student.masked_softmax.masked_softmax(X, lens), _expected_masked_softmax(X, lens),
                 call=("masked_softmax", (X, lens)),
                 hint="a (batch, num_queries) valid_lens gives each query its own length")


@pytest.mark.covers("masked_softmax")
def test_masked_softmax_without_lengths(student):
    """masked_softmax with valid_lens=None is a plain softmax over the last axis"""
    X = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0))
    expect_close(student.masked_softmax.masked_softmax(X), torch.softmax(X, dim=-1),
                 call=("masked_softmax", (X,)), hint="the softmax runs over the keys: dim=-1")


@pytest.mark.covers("masked_softmax")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_masked_softmax_per_example_lengths(student, dtype):
    """masked_softmax with one length per example applies it to every query of that example"""
    X = torch.randn(3, 2, 5, generator=torch.Generator().manual_seed(1), dtype=dtype)
    lens = torch.tensor([2, 5, 1])
    expect_close(student.masked_softmax.masked_softmax(X, lens), _expected_masked_softmax(X, lens),
                 call=("masked_softmax", (X, lens)),
                 hint="lengths [a, b] of a batch with 2 queries mean [[a, a], [b, b]] per query "
                      "(repeat_interleave, not repeat); keep X's dtype")


@pytest.mark.covers("masked_softmax")
def test_masked_softmax_non_contiguous_and_unchanged(student):
    """masked_softmax works on a transposed X and leaves it unchanged"""
    X = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(2)).transpose(1, 2)  # (2, 3, 4)
    lens = torch.tensor([[1, 4, 0], [2, 3, 9]])
    X0 = X.clone()
    res = student.masked_softmax.masked_softmax.detailed(X, lens)
    expect_close(res.value, _expected_masked_softmax(X0, lens), call=("masked_softmax", (X0, lens)),
                 hint="use .reshape, not .view (X may be non-contiguous)")
    expect_unchanged(X0, res.args[0], call=("masked_softmax", (X0, lens)), what="X",
                     hint="mask a copy (torch.where or masked_fill), not X itself")


@pytest.mark.covers("masked_softmax")
def test_masked_softmax_large_scores(student):
    """masked_softmax does not overflow on large scores"""
    X = torch.tensor([[[500.0, 100.0, -300.0], [90.0, 95.0, 1000.0]]])
    lens = torch.tensor([[3, 2]])
    expect_close(student.masked_softmax.masked_softmax(X, lens), _expected_masked_softmax(X, lens),
                 call=("masked_softmax", (X, lens)),
                 hint="exp(500) overflows float32: use torch.softmax, or subtract the row maximum first")


@pytest.mark.covers("masked_softmax")
def test_masked_softmax_gradient(student):
    """gradients flow from masked_softmax back to X"""
    X = torch.randn(2, 2, 3, generator=torch.Generator().manual_seed(3))
    lens = torch.tensor([2, 3])
    grad_out = torch.randn(2, 2, 3, generator=torch.Generator().manual_seed(4))
    res = student.masked_softmax.masked_softmax.with_grad(X, lens, wrt=(0,), grad_output=grad_out)
    leaf = X.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(_expected_masked_softmax(leaf, lens), leaf, grad_out)
    got = res.grads[0] if res.grads[0] is not None else torch.zeros_like(X)
    expect_close(got, expected, call=("masked_softmax", (X, lens)), what="gradient w.r.t. X",
                 hint="build the result from X with tensor operations; do not detach or go through .item()/numpy")


@pytest.mark.covers("sequence_mask", "masked_softmax")
def test_invalid_arguments(student):
    """wrong shapes raise ValueError"""
    args = (torch.zeros(2, 3), torch.tensor([1, 2, 3]))
    expect_raises(ValueError, student.masked_softmax.sequence_mask, *args,
                  call=("sequence_mask", args), hint="valid_len must have shape (n,)")
    args = (torch.zeros(2, 3, 4), torch.tensor([1, 2, 3]))
    expect_raises(ValueError, student.masked_softmax.masked_softmax, *args,
                  call=("masked_softmax", args),
                  hint="valid_lens must have shape (batch,) or (batch, num_queries): check before any work")
